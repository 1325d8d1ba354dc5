"""``eegclf benchmark``: pipelines under a named protocol on one or more subjects, with intervals and tests."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import replace

from eegclf.cli.common import split_names
from eegclf.cli.flags import add_config_args, config_from_args


def run(args: argparse.Namespace) -> int:
    from eegclf.benchmark import make_spec, run_benchmark
    from eegclf.reporting.benchmark import build_benchmark_report
    from eegclf.benchmark.presets import DEFAULT_PRESET, preset
    from eegclf.transfer import Init

    inits = split_names(args.init) if args.init else []
    first = Init.from_checkpoint(inits[0]) if inits else None
    dataset = args.dataset or (first.dataset if first and first.dataset else "eegmmidb")
    preset_data, preset_recipe = preset(args.preset or DEFAULT_PRESET, dataset)
    if first is not None:  # the pre-trained network's input options win over a preset the user did not name
        inherited = first.input_options(dataset)
        preset_data = {**preset_data, **inherited} if args.preset is None else {**inherited, **preset_data}
    for name, value in preset_recipe.items():  # the preset fills what the user did not give
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    config = config_from_args(args)
    options = {**preset_data, **config.dataset_options}
    config = replace(config, dataset=dataset, dataset_options=options)
    models = split_names(args.models)
    candidates = split_names(args.auto_candidates) if args.auto_candidates else [m for m in models if m.lower() != "auto"]
    spec = make_spec(dataset, options, args.protocol, models, config, seed=args.seed,
                     finetune_epochs=args.finetune_epochs, finetune_lr=args.finetune_lr,
                     finetune_layers=args.finetune_layers, finetune_mix=args.finetune_mix,
                     auto_candidates=tuple(candidates) if any(m.lower() == "auto" for m in models) else (),
                     data_dir=config.data_dir, command=shlex.join(["eegclf", *args.argv]),
                     init=tuple(inits),
                     subject_folds=args.subject_folds,
                     calibration_trials=_counts(args.calibration_trials) if args.calibration_trials else ())
    args.interrupt_hint = f"; finished folds are kept: run the same command again to complete {args.out}"
    report = run_benchmark(spec, args.out, jobs=args.jobs, progress=False if args.quiet else None,
                           scheduler=args.scheduler, report=build_benchmark_report)
    print(f"report: {report}")
    return 0


def _counts(text: str) -> tuple:
    from eegclf.errors import ConfigError

    try:
        return tuple(int(v) for v in split_names(text))
    except ValueError:
        raise ConfigError(f"calibration_trials={text!r} is invalid: expected comma-separated integers >= 0 "
                          "(e.g. 0,10,20,30)", param="calibration_trials") from None


def add_parser(sub) -> None:
    from eegclf.benchmark.presets import PRESETS
    from eegclf.benchmark.protocols import PROTOCOLS
    from eegclf.adaptation import FINETUNE_LAYERS, MIX_SAMPLE
    from eegclf.transfer import FINETUNE_RECIPE

    p = sub.add_parser(
        "benchmark", help="evaluate pipelines under a protocol on several subjects (per-subject scores, "
        "intervals, tests)",
        description="Evaluate pipelines (deep models, classical baselines, or 'auto', which chooses among "
        "candidates by inner cross-validation on each training part) under a named protocol. Nothing is "
        "chosen on a test fold: deep models train on their whole training part and keep the last epoch. "
        "Writes results.csv (one row per fold), timings.csv (each fold's seconds), results.md (per-subject "
        "table, mean +- std, 95 % t interval over subjects, exact Wilcoxon tests against the best classical "
        "pipeline chosen per fold by its inner cross-validation, Holm-corrected) and figures. Finished folds are skipped when the command runs again.",
        epilog="example: eegclf benchmark --dataset eegmmidb --task imagery_lr --subjects 1-12 "
        "--protocol within-subject --models eegnet,shallowconvnet,csp_lda,ts_lr --out bench/lr-within",
    )
    p.add_argument("--protocol", required=True, choices=PROTOCOLS,
                   help="within-subject: stratified 5-fold CV per subject and session; run-split: per subject "
                   "and session, test on the run the loader holds out (else the session's last run) and train "
                   "on that session's other runs; cross-subject: leave one subject out; "
                   "cross-subject-finetune: leave one subject out, then adapt on its run-split training runs and "
                   "test on its run-split test run (both cross-subject protocols: --subject-folds K for K groups "
                   "of people)")
    p.add_argument("--subject-folds", type=int, metavar="K",
                   help="cross-subject protocols: cut the people into K groups (shuffled by --seed, recorded in "
                   "benchmark.json) and test each group with what was trained on the others: K trainings instead "
                   "of one per person (default: leave one subject out)")
    p.add_argument("--calibration-trials", metavar="N[,N]",
                   help="calibration curve (run-split, cross-subject-finetune): run every fold once per N with "
                   "only the first N trials of the person's calibration runs, in recording order, the same for "
                   "every pipeline; results.md gets accuracy against N and a section per N, figures/ a curve. "
                   "N=0: finetune, adabn and pretrained-renorm are zero-shot; pipelines trained on the person alone "
                   "cannot run (–). Refused before anything runs: N below the number of classes, N=0 where no "
                   "pipeline given can run, and under run-split an N whose first trials hold too few of a class "
                   "(classical and auto: 3 of each, for their inner 3-fold cross-validation; deep: 1 of each)")
    p.add_argument("--models", default="eegnet,shallowconvnet,csp_lda,ts_lr",
                   help="comma-separated pipelines: registry models, auto, and with --init the transfer "
                   "pipelines, named for what they use of the tested person: zero-shot (nothing: the "
                   "pre-training pool's normalisation and BatchNorm statistics), pretrained-renorm (its unlabelled "
                   "calibration trials re-estimate the normalisation; 'pretrained' is its old name), adabn (they "
                   "re-estimate the normalisation and every BatchNorm layer's statistics) and finetune "
                   "(its labelled calibration trials train the network) (default %(default)s)")
    p.add_argument("--init", metavar="CKPT[,CKPT]",
                   help="pre-trained checkpoint(s) from 'eegclf pretrain' for the transfer pipelines (zero-shot, pretrained-renorm, adabn, finetune); each subject "
                   "is tested with the first that never saw it, and one that saw every checkpoint is refused. "
                   "The data set and its task, channels, window, band, reference and rate are the first "
                   "checkpoint's unless flags (or a --preset given) say otherwise; the fine-tuning recipe is "
                   "train --init's (" + ", ".join(f"{k} {v}" for k, v in FINETUNE_RECIPE.items()
                                                 if k not in ("epochs", "lr")) + ")")
    p.add_argument("--auto-candidates", help="what auto chooses among (default: the other --models)")
    p.add_argument("--preset", choices=list(PRESETS),
                   help="data window/band and deep training recipe; flags override it (default deep: "
                   "64 channels, average reference, 4-38 Hz, 0-4 s at 128 Hz, AdamW, batch 16, 150 epochs, "
                   "BatchNorm re-estimation; moabb: MOABB's LeftRightImagery, 8-32 Hz, 0-3 s at the native rate)")
    p.add_argument("--seed", type=int, default=0, help="seed of fold i is SEED + i (default %(default)s)")
    p.add_argument("--finetune-epochs", type=int, default=FINETUNE_RECIPE["epochs"],
                   help="finetune and cross-subject-finetune: epochs on the calibration trials (default %(default)s)")
    p.add_argument("--finetune-lr", type=float, default=FINETUNE_RECIPE["lr"],
                   help="finetune and cross-subject-finetune: learning rate on the calibration trials "
                   "(default %(default)s)")
    p.add_argument("--finetune-layers", choices=FINETUNE_LAYERS, default="all",
                   help="finetune from --init: the layers it trains. all: every layer; last: only the final "
                   "classification layer, on the features of adabn's network (BatchNorm statistics re-estimated "
                   "on the calibration trials, then frozen with every other weight) (default %(default)s)")
    p.add_argument("--finetune-mix", type=float, default=0.0, metavar="W",
                   help="finetune from --init: multi-domain fine-tuning. Every step adds to its batch of the "
                   "person's calibration trials as many trials of the people the network was pre-trained on "
                   f"(from a fixed random sample of {MIX_SAMPLE}, drawn by the fold's seed; loaded as the "
                   "checkpoint's pre-training loaded them, from --data-dir), the loss weighting the person's "
                   "trials by W and the others by 1; 0: the person's trials alone (default %(default)s)")
    p.add_argument("--jobs", type=int, help="parallel folds (default: one per core); threads are divided")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run the folds on the workers of this running Dask scheduler instead of local processes "
                   "(pip install 'eegclf[dask]'). Every worker needs the data (--data-dir, else its "
                   "$EEGCLF_DATA) and the same package versions and device as this machine, which writes the "
                   "results; see docs/scaling-out.md")
    p.add_argument("--out", required=True, help="benchmark folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_args(p, skip=("model", "seed", "out", "val_fraction", "threads"))
    p.set_defaults(func=run)
