"""A benchmark's calibration curve (``--calibration-trials``): accuracy on the test run against N, the number
of the person's calibration trials used, per pipeline (and for the best classical pipeline chosen per fold), as
a table and a figure; each N also gets the full per-subject report (:func:`results_body`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from eegclf.reporting.benchmark.tables import BEST, _fmt, summarize
from eegclf.reporting.collect import display_name as pipeline_name
from eegclf.reporting.figures import STYLE, save_png
from eegclf.reporting.stats import mean_std, t_interval

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def by_count(spec: dict, records: list[dict]) -> dict:
    """N -> the fold records run with the first N calibration trials, for every N of the spec (in order)."""
    return {n: [r for r in records if r.get("calibration_trials") == n] for n in spec["calibration_trials"]}


def curve_points(spec: dict, records: list[dict]) -> tuple[list[str], dict]:
    """(rows, row -> N -> (mean, lo, hi, subjects)) of accuracy over subjects; rows: the pipelines, then
    :data:`BEST` when it could be formed at some N. A row without records at N has no point there."""
    points: dict = {}
    rows: list[str] = []
    for n, rs in by_count(spec, records).items():
        if not rs:
            continue
        sm = summarize(spec, rs)
        for row in sm.rows:
            acc = [v["accuracy"] for v in sm.per_subject[row].values()]
            lo, hi = t_interval(acc)
            points.setdefault(row, {})[n] = (mean_std(acc)[0], max(lo, 0.0), min(hi, 1.0), len(acc))
    for p in spec["pipelines"]:
        if p in points:
            rows.append(p)
    if BEST in points:
        rows.append(BEST)
    return rows, points


def curve_table(spec: dict, records: list[dict]) -> list[str]:
    rows, points = curve_points(spec, records)
    counts = spec["calibration_trials"]
    lines = ["| pipeline | " + " | ".join(f"N = {n}" for n in counts) + " |", "|" + "---|" * (len(counts) + 1)]
    for row in rows:
        cells = []
        for n in counts:
            if n in points[row]:
                m, lo, hi, k = points[row][n]
                cells.append(f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}] ({k})")
            else:
                cells.append("–")
        lines.append(f"| {pipeline_name(row)} | " + " | ".join(cells) + " |")
    return lines


def curve_text(spec: dict) -> str:
    where = ("the person's runs but the last" if spec["protocol"] == "run-split" else
             "the person's calibration runs (all runs but the last)")
    zero = ("a pipeline trained on the person alone cannot train on none (–)" if spec["protocol"] == "run-split"
            else "classical pipelines and the deep networks are then the models trained on the other people alone")
    return (f"Calibration curve: accuracy on the test run (mean over subjects [95 % t interval] (subjects)) "
            f"against N, the number of calibration trials used: the first N trials of {where}, in recording "
            "order, the same trials for every pipeline. N = 0: no calibration trial, so `finetune`, `adabn` and "
            f"`pretrained-renorm` are `zero-shot`; {zero}. Each N has its own per-subject report below.")


def curve_figure(spec: dict, records: list[dict], path: Path) -> Path:
    """Mean accuracy over subjects against N, one line per pipeline, with its 95 % t interval as error bars."""
    rows, points = curve_points(spec, records)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7.0, 4.6), layout="constrained")
        ax = fig.subplots()
        for i, row in enumerate(rows):
            ns = sorted(points[row])
            m = np.array([points[row][n][0] for n in ns])
            lo = np.array([points[row][n][1] for n in ns])
            hi = np.array([points[row][n][2] for n in ns])
            ok = np.isfinite(lo) & np.isfinite(hi)
            err = np.vstack([np.where(ok, m - lo, 0.0), np.where(ok, hi - m, 0.0)])
            ax.errorbar(np.array(ns) + 0.3 * (i - (len(rows) - 1) / 2), m, yerr=err, marker="o", capsize=3,
                        color=COLORS[i % len(COLORS)], label=pipeline_name(row),
                        linestyle="--" if row == BEST else "-")
        ax.set_xticks(spec["calibration_trials"])
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("calibration trials N (the first N of the calibration runs)")
        ax.set_ylabel("test accuracy (mean over subjects)")
        ax.set_title("Calibration curve")
        if rows:
            ax.legend(loc="lower right", framealpha=0.9)
        return save_png(fig, path)


def missing_note(spec: dict, records: list[dict]) -> list[str]:
    """A line naming the pipelines that have no fold at this N (they cannot run on it)."""
    missing = [p for p in spec["pipelines"] if not any(r["pipeline"] == p for r in records)]
    if not missing:
        return []
    return [f"Not run at this N: {', '.join(pipeline_name(p) for p in missing)} (trained on the person's own "
            "trials alone, or not finished yet): shown as –.", ""]


__all__ = ["by_count", "curve_points", "curve_table", "curve_text", "curve_figure", "missing_note"]
