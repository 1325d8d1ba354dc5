"""``eegclf report``: rebuild the report of a study folder from its saved runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from eegclf.reporting import build_report

    print(f"report: {build_report(Path(args.dir))}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="rebuild tables, figures and report.md of a study folder",
                       description="Rebuild results.csv, results.md, figures and report.md from the saved "
                       "histories and summaries of a compare folder, without retraining.")
    p.add_argument("dir", help="a folder written by eegclf compare")
    p.set_defaults(func=run)
