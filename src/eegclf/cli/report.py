"""``eegclf report``: rebuild the report of a study or benchmark folder from its saved results."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from eegclf.benchmark.folder import is_benchmark
    from eegclf.reporting import build_report
    from eegclf.reporting.benchmark.results import build_benchmark_report

    folder = Path(args.dir)
    print(f"report: {build_benchmark_report(folder) if is_benchmark(folder) else build_report(folder)}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="rebuild tables, figures and report of a study or benchmark folder",
                       description="Rebuild results.csv, results.md, figures (and report.md for a study) from "
                       "the saved runs of a compare folder or the saved folds of a benchmark folder, without "
                       "retraining. The same folder gives byte-identical files.")
    p.add_argument("dir", help="a folder written by eegclf compare or eegclf benchmark")
    p.set_defaults(func=run)
