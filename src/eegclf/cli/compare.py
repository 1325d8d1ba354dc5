"""``eegclf compare`` and ``eegclf report``: the whole study grid, and its report from saved runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from eegclf.cli.common import add_dataset_args
from eegclf.cli.train import add_run_args, config_from_args


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def run_compare(args: argparse.Namespace) -> int:
    from eegclf.study import run_study

    base = config_from_args(args)
    seeds = list(range(args.seeds)) if args.seed_list is None else [int(s) for s in _names(args.seed_list)]
    out = Path(args.out)
    args.interrupt_hint = f"; finished runs are kept: run the same command again to complete {out}"
    report = run_study(base, _names(args.models), _names(args.acts), seeds, out, jobs=args.jobs,
                       progress=False if args.quiet else None)
    print(f"report: {report}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from eegclf.reporting import build_report

    print(f"report: {build_report(Path(args.dir))}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare", help="run the study grid (models x activations x seeds) and write the report",
        description="Train every model x activation x seed in parallel processes, then write results.csv, "
        "results.md (honest validation-selected and last-epoch test accuracy, mean +- std over seeds, and "
        "the lab's optimistic best-epoch metric, labelled), figures and report.md. Finished runs are "
        "skipped when the command runs again.",
        epilog="example: eegclf compare --dataset synthetic --epochs 100 --seeds 3 --out study",
    )
    p.add_argument("--models", default="EEGNet,DeepConvNet", help="comma-separated (default EEGNet,DeepConvNet)")
    p.add_argument("--acts", default="relu,leaky_relu,elu", help="comma-separated (default relu,leaky_relu,elu)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds 0..N-1 (default 3)")
    p.add_argument("--seed-list", help="explicit comma-separated seeds instead of --seeds")
    p.add_argument("--jobs", type=int, help="parallel runs (default: one per core); threads are divided")
    p.add_argument("--out", required=True, help="study folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_dataset_args(p)
    add_run_args(p, with_model=False)
    p.set_defaults(func=run_compare)

    r = sub.add_parser("report", help="rebuild tables, figures and report.md of a study folder",
                       description="Rebuild results.csv, results.md, figures and report.md from the saved "
                       "histories and summaries of a compare folder, without retraining.")
    r.add_argument("dir", help="a folder written by eegclf compare")
    r.set_defaults(func=run_report)
