"""``eegclf tune``: one worker of a hyper-parameter search; ``--finalize``: retrain the best, write the report."""

from __future__ import annotations

import argparse

from eegclf.cli.flags import add_config_args, config_from_args
from eegclf.errors import ConfigError
from eegclf.tuning.space import SearchSpace


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


# the search space's flags: flag, SearchSpace field, metavar (LOW:HIGH: a range), type of the values, help
SPACE_FLAGS = (
    ("--lr-range", "lr", "LOW:HIGH", float, "learning rate, log scale"),
    ("--weight-decay-range", "weight_decay", "LOW:HIGH", float, "weight decay, log scale"),
    ("--dropout-range", "dropout", "LOW:HIGH", float, "dropout probability"),
    ("--batch-sizes", "batch_size", "B,B,...", int, "batch sizes"),
    ("--acts", "activation", "ACT,ACT,...", str, "activations"),
    ("--epochs-range", "epochs", "LOW:HIGH", int, "epochs"),
)


def search_space(args: argparse.Namespace) -> SearchSpace:
    """The space from the range flags; a training flag given (--lr, --epochs, ...) fixes that parameter."""
    ranges = {name: getattr(args, f"space_{name}") for _, name, *_ in SPACE_FLAGS}
    space = SearchSpace(**{k: v for k, v in ranges.items() if v is not None})
    return space.fix(lr=args.lr, weight_decay=args.weight_decay, dropout=args.dropout,
                     batch_size=args.batch_size, epochs=args.epochs).validate()


def _add_space_args(p: argparse.ArgumentParser) -> None:
    s = p.add_argument_group("search space (a training flag such as --lr or --epochs fixes that parameter)")
    defaults = SearchSpace()
    for flag, name, metavar, kind, text in SPACE_FLAGS:
        sep, parse = (":", _range(kind)) if metavar == "LOW:HIGH" else (",", _list(kind))
        default = sep.join(f"{v:g}" if isinstance(v, float) else str(v) for v in getattr(defaults, name))
        s.add_argument(flag, dest=f"space_{name}", type=parse, metavar=metavar, help=f"{text} (default {default})")


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
    p.add_argument("--trials", type=int, help="finished (complete + pruned) trials the study needs in all, over all "
                   "its workers")
    p.add_argument("--storage", help="Optuna storage URL shared by the workers (default sqlite:///OUT/tune.db); "
                   "postgresql://USER:PASSWORD@HOST:PORT/DB for several machines")
    p.add_argument("--study", help="study name (default MODEL-DATASET, e.g. eegnet-synthetic)")
    p.add_argument("--timeout", type=float, help="seconds after which this worker starts no new trial")
    p.add_argument("--out", default="tune", help="folder for tune.db, the report and the final runs "
                   "(default %(default)s)")
    p.add_argument("--finalize", action="store_true",
                   help="run no trials: retrain the study's best setting over --seeds seeds and write the report")
    p.add_argument("--no-finalize", action="store_true", help="do not finalize when the study is finished")
    p.add_argument("--seeds", type=int, default=3, help="seeds of the final retraining (default %(default)s)")
    p.add_argument("--jobs", type=int, help="parallel runs of the final retraining (default: one per core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar in the final retraining")
    _add_space_args(p)
    s = p.add_argument_group("search")
    s.add_argument("--pruner", choices=["median", "halving", "none"], default="median",
                   help="median, halving (asynchronous successive halving) or none (default %(default)s)")
    w = p.add_argument_group("workers")
    w.add_argument("--heartbeat", type=int, default=20, help="seconds between a running trial's heartbeats; a "
                   "trial silent for twice as long (its worker died) is failed and queued again "
                   "(default %(default)s)")
    w.add_argument("--retries", type=int, default=1,
                   help="how often a trial whose worker died is queued again (default %(default)s)")
    add_config_args(p, skip=("activation", "out"), help={
        "model": "deep model to tune",
        "seed": "training seed of every trial; it also fixes the validation split, so all trials are compared "
                "on the same trials"})
    p.set_defaults(func=run)
