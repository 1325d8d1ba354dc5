"""``eegclf tune``: one worker of a hyper-parameter search; ``--finalize``: retrain the best, write the report."""

from __future__ import annotations

import argparse

from eegclf.cli.common import add_dataset_args
from eegclf.cli.train import add_run_args, config_from_args
from eegclf.errors import ConfigError


def _range(kind):
    def parse(text: str) -> tuple:
        parts = text.split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            return tuple(kind(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected LOW:HIGH, got {text!r}") from None
    return parse


def _list(kind):
    def parse(text: str) -> tuple:
        try:
            items = tuple(kind(t.strip()) for t in text.split(",") if t.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
        if not items:
            raise argparse.ArgumentTypeError("expected at least one value")
        return items
    return parse


def search_space(args: argparse.Namespace):
    """The space from the range flags; a training flag given (--lr, --epochs, ...) fixes that parameter."""
    from eegclf.tuning import SearchSpace

    ranges = {"lr": args.lr_range, "weight_decay": args.weight_decay_range, "dropout": args.dropout_range,
              "batch_size": args.batch_sizes, "activation": args.acts, "epochs": args.epochs_range}
    space = SearchSpace(**{k: v for k, v in ranges.items() if v is not None})
    return space.fix(lr=args.lr, weight_decay=args.weight_decay, dropout=args.dropout,
                     batch_size=args.batch_size, epochs=args.epochs).validate()


def run(args: argparse.Namespace) -> int:
    from eegclf.tuning import finalize_study, tune

    progress = False if args.quiet else None
    if args.finalize:
        report = finalize_study(args.out, args.storage, args.study, seeds=args.seeds, jobs=args.jobs,
                                data_dir=args.data_dir, threads=args.threads, progress=progress)
        print(f"report: {report}")
        return 0
    if args.trials is None:
        raise ConfigError("--trials N is required to search (or --finalize to report on a finished study)")
    base = config_from_args(args)
    if args.model:
        base.model = args.model
    if args.seed is not None:
        base.seed = args.seed
    args.interrupt_hint = ("; finished trials are kept in the study: run the same command again to continue it "
                           "(the interrupted trial counts as failed)")
    outcome = tune(base, search_space(args), args.trials, args.out, storage=args.storage, study_name=args.study,
                   timeout=args.timeout, finalize=not args.no_finalize, seeds=args.seeds, jobs=args.jobs,
                   heartbeat=args.heartbeat, retries=args.retries, pruner=args.pruner, progress=progress)
    if outcome.report:
        print(f"report: {outcome.report}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tune", help="search training settings with Optuna (one worker; start more to share the study)",
        description="Search learning rate, weight decay, dropout, batch size, activation and epochs with "
        "Optuna. The objective is the best validation accuracy over the epochs (validation carved from the "
        "training part); the test part is never shown to the search. Trials report validation accuracy "
        "every epoch and poor ones are pruned. Every process started with the same --storage and --study "
        "joins the same study, on this machine or on others; together they finish exactly --trials trials. "
        "At the end one worker retrains the best setting over --seeds seeds (as eegclf compare does), "
        "measures test accuracy once and writes OUT/tune_report.md.",
        epilog="examples: eegclf tune --model EEGNet --dataset synthetic --trials 40 --out tune | "
        "eegclf tune --model EEGNet --trials 40 --storage postgresql://eegclf:secret@db-host:5432/eegclf "
        "--study eegnet-s1 --out tune  (run it on each machine) | "
        "eegclf tune --finalize --storage postgresql://... --study eegnet-s1 --out tune",
    )
    p.add_argument("--model", help="deep model to tune (default eegnet)")
    p.add_argument("--trials", type=int, help="finished (complete + pruned) trials the study needs in all, over all its workers")
    p.add_argument("--storage", help="Optuna storage URL shared by the workers (default sqlite:///OUT/tune.db); "
                   "postgresql://USER:PASSWORD@HOST:PORT/DB for several machines")
    p.add_argument("--study", help="study name (default MODEL-DATASET, e.g. eegnet-synthetic)")
    p.add_argument("--timeout", type=float, help="seconds after which this worker starts no new trial")
    p.add_argument("--out", default="tune", help="folder for tune.db, the report and the final runs (default tune)")
    p.add_argument("--finalize", action="store_true",
                   help="run no trials: retrain the study's best setting over --seeds seeds and write the report")
    p.add_argument("--no-finalize", action="store_true", help="do not finalize when the study is finished")
    p.add_argument("--seeds", type=int, default=3, help="seeds of the final retraining (default 3)")
    p.add_argument("--jobs", type=int, help="parallel runs of the final retraining (default: one per core)")
    p.add_argument("--seed", type=int, help="training seed of every trial; it also fixes the "
                   "validation split, so all trials are compared on the same trials (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar in the final retraining")
    s = p.add_argument_group("search space (a training flag such as --lr or --epochs fixes that parameter)")
    s.add_argument("--lr-range", type=_range(float), metavar="LOW:HIGH", help="log scale (default 1e-4:1e-2)")
    s.add_argument("--weight-decay-range", type=_range(float), metavar="LOW:HIGH", help="log scale (default 1e-6:1e-2)")
    s.add_argument("--dropout-range", type=_range(float), metavar="LOW:HIGH", help="default 0:0.6")
    s.add_argument("--batch-sizes", type=_list(int), metavar="B,B,...", help="default 16,32,64,128")
    s.add_argument("--acts", type=_list(str), metavar="ACT,ACT,...", help="activations (default relu,leaky_relu,elu)")
    s.add_argument("--epochs-range", type=_range(int), metavar="LOW:HIGH", help="default 10:100")
    s.add_argument("--pruner", choices=["median", "halving", "none"], default="median",
                   help="median (default), halving (asynchronous successive halving) or none")
    w = p.add_argument_group("workers")
    w.add_argument("--heartbeat", type=int, default=20, help="seconds between a running trial's heartbeats; a "
                   "trial silent for twice as long (its worker died) is failed and queued again (default 20)")
    w.add_argument("--retries", type=int, default=1, help="how often a trial whose worker died is queued again (default 1)")
    add_dataset_args(p)
    add_run_args(p, with_model=False)
    p.set_defaults(func=run)
