"""The benchmark report, from a benchmark folder's fold files only: ``tables`` (the results tables), ``figures``,
``curve`` (the calibration curve), ``provenance`` (its Provenance block) and ``results`` (results.csv, results.md
and the figures, :func:`build_benchmark_report`)."""

from eegclf.reporting.benchmark.results import build_benchmark_report

__all__ = ["build_benchmark_report"]
