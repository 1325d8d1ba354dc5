"""``eegclf compare``: the whole study grid (models x activations x seeds), then its report."""

from __future__ import annotations

import argparse
from pathlib import Path

from eegclf.cli.common import split_names
from eegclf.cli.flags import add_config_args, config_from_args


def run(args: argparse.Namespace) -> int:
    from eegclf.reporting import build_report
    from eegclf.study import run_study

    base = config_from_args(args)
    seeds = list(range(args.seeds)) if args.seed_list is None else [int(s) for s in split_names(args.seed_list)]
    out = Path(args.out)
    args.interrupt_hint = f"; finished runs are kept: run the same command again to complete {out}"
    report = run_study(base, split_names(args.models), split_names(args.acts), seeds, out, jobs=args.jobs,
                       progress=False if args.quiet else None, report=build_report)
    print(f"report: {report}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare", help="run the study grid (models x activations x seeds) and write the report",
        description="Train every model x activation x seed in parallel processes, then write results.csv, "
        "results.md (honest validation-selected and last-epoch test accuracy, mean +- std over seeds, and "
        "the original study's optimistic best-epoch metric, labelled), figures and report.md. Finished runs "
        "are skipped when the command runs again.",
        epilog="example: eegclf compare --dataset synthetic --epochs 100 --seeds 3 --out study",
    )
    p.add_argument("--models", default="EEGNet,DeepConvNet", help="comma-separated (default %(default)s)")
    p.add_argument("--acts", default="relu,leaky_relu,elu", help="comma-separated (default %(default)s)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds 0..N-1 (default %(default)s)")
    p.add_argument("--seed-list", help="explicit comma-separated seeds instead of --seeds")
    p.add_argument("--jobs", type=int, help="parallel runs (default: one per core); threads are divided")
    p.add_argument("--out", required=True, help="study folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_args(p, skip=("model", "activation", "seed", "out"))
    p.set_defaults(func=run)
