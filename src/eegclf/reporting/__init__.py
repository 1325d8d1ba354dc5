"""Reporting: tables, figures and markdown from finished study or benchmark folders, never retraining.

Study: ``collect`` reads the runs, ``stats`` does mean/std, paired tests, Holm, t intervals, chance levels and
the exact Wilcoxon test, ``tables`` writes the two tables, ``figures`` the learning curves and bar chart, ``filter_responses`` EEGNet's
filter responses, and ``study_report`` ties them together in :func:`build_report`. Benchmark: the package
``reporting.benchmark`` (``tables``, ``figures``, ``curve``, ``provenance``, ``results``: :func:`build_benchmark_report`).
"""

from eegclf.reporting.study_report import build_report

__all__ = ["build_report"]
