"""Learning-curve and bar-chart figures as PNG files (matplotlib, no pyplot, no global backend change).

Every figure has a title, labelled axes and a legend, and is sized to stay legible at the width
GitHub shows images in a markdown file (~800 px).
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from eegclf.storage.fileio import atomic_write_bytes
from eegclf.reporting.collect import NO_ACTIVATION, Run, display_name, group_runs
from eegclf.reporting.stats import mean_std

STYLE = {
    "font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "legend.fontsize": 10.5,
    "xtick.labelsize": 11, "ytick.labelsize": 11, "figure.titlesize": 14, "axes.grid": True,
    "grid.alpha": 0.3, "savefig.dpi": 120,
}
KNOWN_COLORS = {"relu": "#1f77b4", "leaky_relu": "#ff7f0e", "elu": "#2ca02c", "gelu": "#9467bd",
                "silu": "#8c564b", NO_ACTIVATION: "#7f7f7f"}
SPARE_COLORS = ["#d62728", "#e377c2", "#17becf", "#bcbd22"]


def activation_color(act: str, order: list[str]) -> str:
    """A fixed colour per activation, so every figure uses the same one."""
    if act in KNOWN_COLORS:
        return KNOWN_COLORS[act]
    others = [a for a in order if a not in KNOWN_COLORS]
    return SPARE_COLORS[others.index(act) % len(SPARE_COLORS)] if act in others else "#000000"


def save_png(fig: Figure, path: Path) -> Path:
    """Render ``fig`` to PNG and write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return atomic_write_bytes(path, buf.getvalue())


def seed_curves(runs: list[Run], column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Epochs, mean and std over seeds of one history column, over the epochs all seeds have.

    Returns (epochs (E,), mean (E,), std (E,)) with std = 0 for a single seed, or None without data.
    """
    series = [r.history[column] for r in runs if column in r.history and "epoch" in r.history]
    if not series:
        return None
    n = min(len(s) for s in series)
    stack = np.stack([s[:n] for s in series])
    epochs = next(r.history["epoch"][:n] for r in runs if column in r.history and "epoch" in r.history)
    std = stack.std(axis=0, ddof=1) if len(series) >= 2 else np.zeros(n)
    return epochs, stack.mean(axis=0), std


MARKERS = ["o", "s", "^", "D", "v", "P", "X"]


def _plot_band(ax, curve, color, label, linestyle="-", scale=1.0, index=0, n_curves=1):
    """Mean line with a ±1 std band. Each activation (``index`` of ``n_curves``) gets its own marker, at
    staggered epochs, and earlier ones are drawn wider underneath later ones, so curves that coincide
    (ReLU and LeakyReLU often do) stay visible."""
    epochs, mean, std = curve
    step = max(1, len(epochs) // 12)
    start = (index * step) // max(1, n_curves) if step > 1 else 0
    under = max(0, n_curves - 1 - index)  # how many curves are drawn on top of this one
    ax.plot(epochs, scale * mean, color=color, linestyle=linestyle, linewidth=1.8 + 1.0 * under, label=label,
            marker=MARKERS[index % len(MARKERS)], markersize=5 + 2.2 * under, markevery=(start, step),
            markerfacecolor="white" if linestyle != "-" else color)
    if np.any(std > 0):
        ax.fill_between(epochs, scale * (mean - std), scale * (mean + std), color=color, alpha=0.15, linewidth=0)


def _model_groups(runs: list[Run], model: str) -> dict[str, list[Run]]:
    return {a: rs for (m, a), rs in group_runs(runs).items() if m == model}


def _n_seeds_text(groups: dict[str, list[Run]]) -> str:
    n = sorted({len(rs) for rs in groups.values()})
    return f"{'/'.join(map(str, n))} seed{'s' if n != [1] else ''}"


def accuracy_figure(runs: list[Run], model: str, path: Path) -> Path:
    """The study's comparison figure: train (dashed) and test (solid) accuracy per epoch, per activation."""
    groups = _model_groups(runs, model)
    order = list(groups)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(8, 5.6), layout="constrained")
        ax = fig.subplots()
        for i, (act, rs) in enumerate(groups.items()):
            color = activation_color(act, order)
            for column, style, part in (("train_acc", "--", "train"), ("test_acc", "-", "test")):
                curve = seed_curves(rs, column)
                if curve is not None:
                    _plot_band(ax, curve, color, f"{act} {part}", style, scale=100, index=i, n_curves=len(order))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{display_name(model)}: train and test accuracy per epoch\n"
                     f"(mean over {_n_seeds_text(groups)}, band = ±1 std)")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=min(3, len(order)),
                   title="activation and data (dashed, open markers = train; solid = test)")
        return save_png(fig, path)


def loss_figure(runs: list[Run], model: str, path: Path) -> Path:
    """Loss per epoch in three panels (train, validation, test), one curve per activation."""
    groups = _model_groups(runs, model)
    order = list(groups)
    panels = (("train_loss", "training"), ("val_loss", "validation"), ("test_loss", "test"))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(12, 4.8), layout="constrained")
        axes = fig.subplots(1, 3, sharey=True)
        for ax, (column, label) in zip(axes, panels):
            for i, (act, rs) in enumerate(groups.items()):
                curve = seed_curves(rs, column)
                if curve is not None:
                    _plot_band(ax, curve, activation_color(act, order), act, index=i, n_curves=len(order))
            ax.set_title(f"{label} loss")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0].set_ylabel("cross-entropy loss")
        fig.suptitle(f"{display_name(model)}: loss per epoch (mean over {_n_seeds_text(groups)}, band = ±1 std)")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(order),
                   title="activation")
        return save_png(fig, path)


def accuracy_bars(runs: list[Run], path: Path, metric: str = "test_acc_val_selected") -> Path:
    """Bar chart of test accuracy at the validation-selected epoch: mean ± std over seeds, seeds as dots.

    Bars are grouped by model (group names on a second axis below the activation names).
    """
    groups = group_runs(runs)
    acts = list(dict.fromkeys(a for (_, a) in groups))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(max(7.0, 1.1 * len(groups) + 2.5), 5.8), layout="constrained")
        ax = fig.subplots()
        x, ticks, labels, centers, prev_model = 0.0, [], [], {}, None
        for (model, act), rs in groups.items():
            if prev_model is not None and model != prev_model:
                x += 0.6  # gap between models
            values = [r.metric(metric) for r in rs]
            mean, std = mean_std(values)
            has_std = bool(np.isfinite(std))
            ax.bar(x, 100 * mean, width=0.8, color=activation_color(act, acts), alpha=0.85,
                   yerr=100 * std if has_std else None, capsize=5, ecolor="black")
            ax.scatter(np.full(len(values), x), 100 * np.asarray(values), color="black", s=14, zorder=3)
            ax.annotate(f"{100 * mean:.1f}", (x, 100 * (mean + (std if has_std else 0))),
                        xytext=(0, 4), textcoords="offset points", ha="center", va="bottom", fontsize=10)
            ticks.append(x)
            labels.append("(none)" if act == NO_ACTIVATION else act)
            centers.setdefault(model, []).append(x)
            prev_model = model
            x += 1.0
        ax.set_xticks(ticks, labels)
        groups_axis = ax.secondary_xaxis(location=0)
        groups_axis.set_xticks([float(np.mean(v)) for v in centers.values()],
                               [display_name(m) for m in centers], fontweight="bold")
        groups_axis.tick_params(length=0, pad=24)
        groups_axis.spines["bottom"].set_visible(False)
        groups_axis.set_xlabel("activation, grouped by model")
        ax.set_ylim(0, 105)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("Test accuracy at the validation-selected epoch\n(bars: mean over seeds, whiskers: ±1 std)")
        ax.grid(axis="x", visible=False)
        handles = [Line2D([], [], marker="o", color="black", linestyle="none", markersize=4),
                   Line2D([], [], marker="_", color="black", linestyle="none", markersize=12)]
        fig.legend(handles, ["one seed", "±1 std over seeds"], loc="outside lower center", ncol=2)
        return save_png(fig, path)
