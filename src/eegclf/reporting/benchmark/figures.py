"""A benchmark's figures: accuracy per subject with the chance band, and each pipeline against the reference
row, the best classical pipeline chosen per fold (MOABB-style scatter, one dot per subject)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from eegclf.reporting.benchmark.tables import Summary
from eegclf.reporting.collect import display_name as pipeline_name
from eegclf.reporting.figures import STYLE, save_png

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def per_subject_figure(sm: Summary, path: Path) -> Path:
    """Dots: each pipeline's accuracy per subject; grey band: below that subject's binomial chance level."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(max(7.0, 0.7 * len(sm.subjects) + 3), 4.6), layout="constrained")
        ax = fig.subplots()
        x = np.arange(len(sm.subjects))
        chance = np.array([sm.chance.get(s, np.nan) for s in sm.subjects])
        ax.bar(x, chance, width=0.9, color="#dddddd", label="chance (binomial 95 %)", zorder=0)
        width = 0.8 / max(1, len(sm.rows))
        for i, p in enumerate(sm.rows):
            ys = [sm.per_subject[p].get(s, {}).get("accuracy", np.nan) for s in sm.subjects]
            ax.plot(x - 0.4 + width * (i + 0.5), ys, "o", color=COLORS[i % len(COLORS)], label=pipeline_name(p))
        ax.set_xticks(x, sm.subjects, rotation=45 if len(sm.subjects) > 8 else 0)
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("subject")
        ax.set_ylabel("test accuracy")
        ax.set_title("Accuracy per subject (grey: not distinguishable from chance)")
        ax.legend(loc="lower right", ncols=2, framealpha=0.9)
        return save_png(fig, path)


def scatter_figure(sm: Summary, pipeline: str, path: Path) -> Path:
    """``pipeline`` (y) against the reference row (x), one dot per subject, with the diagonal."""
    best = sm.reference
    common = [s for s in sm.subjects if s in sm.per_subject[pipeline] and s in sm.per_subject[best]]
    xs = [sm.per_subject[best][s]["accuracy"] for s in common]
    ys = [sm.per_subject[pipeline][s]["accuracy"] for s in common]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(5.2, 5.2), layout="constrained")
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], "--", color="#7f7f7f", linewidth=1)
        ax.plot(xs, ys, "o", color="#1f77b4")
        for s, x0, y0 in zip(common, xs, ys):
            ax.annotate(s, (x0, y0), textcoords="offset points", xytext=(4, 3), fontsize=8)
        above = sum(y > x for x, y in zip(xs, ys))
        ax.set_xlim(0.2, 1.02)
        ax.set_ylim(0.2, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel(f"{pipeline_name(best)} accuracy")
        ax.set_ylabel(f"{pipeline_name(pipeline)} accuracy")
        ax.set_title(f"{pipeline_name(pipeline)} vs {pipeline_name(best)}\n"
                     f"above the diagonal: {above} of {len(common)} subjects")
        return save_png(fig, path)
