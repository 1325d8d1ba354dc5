"""The two tables: results.csv (one row per run) and results.md (one row per (model, activation)).

All formatting is fixed-precision and all orders come from :func:`load_runs`, so the same folder
always gives byte-identical files.
"""

from __future__ import annotations

import math

from eegclf.reporting.collect import NO_ACTIVATION, Run, display_name, group_runs, models_in
from eegclf.reporting.stats import ALPHA, compare_paired, format_p, holm, mean_std

CSV_COLUMNS = [
    "run", "model", "activation", "seed", "dataset", "epochs", "n_params", "selected_epoch",
    "val_acc_selected", "test_acc_val_selected", "test_loss_val_selected", "test_acc_last", "test_loss_last",
    "lab_best_epoch", "test_acc_lab_best_epoch", "seconds",
]
VAL_SEL = "test_acc_val_selected"
VAL_ACC = "val_acc_selected"  # what the best activation is chosen on
LAB_NOTE = "lab's metric: epoch chosen on test, optimistic"


def csv_rows(runs: list[Run]) -> list[list[str]]:
    """One row per run, in CSV_COLUMNS order (run folder, then the summary's scalar values)."""
    rows = []
    for r in runs:
        values = dict(r.summary, run=r.name, model=r.model, activation=r.activation, seed=r.seed)
        rows.append(["" if values.get(c) is None else str(values[c]) for c in CSV_COLUMNS])
    return rows


def _pct(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{round(100 * x, 1) + 0.0:.1f}"


def _mean_std_cell(values: list[float]) -> str:
    m, s = mean_std(values)
    if not math.isfinite(m):
        return "–"
    return f"{_pct(m)} ± {_pct(s) if math.isfinite(s) else 'n/a'}"


def _points(diff: float) -> str:
    return f"{round(100 * diff, 1) + 0.0:+.1f} points"


def _p(p: float) -> str:
    text = format_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def best_activations(runs: list[Run]) -> dict[str, set[str]]:
    """model -> its best activation(s) by mean **validation** accuracy of the selected epoch (ties: all of them).

    Chosen on validation data, never on the test numbers the table then reports and tests. Only models
    with two or more activations get an entry.
    """
    best: dict[str, set[str]] = {}
    for model in models_in(runs):
        means = {a: mean_std([r.metric(VAL_ACC) for r in rs])[0]
                 for (m, a), rs in group_runs(runs).items() if m == model and a != NO_ACTIVATION}
        means = {a: v for a, v in means.items() if math.isfinite(v)}
        if len(means) >= 2:
            top = max(means.values())
            best[model] = {a for a, v in means.items() if v == top}
    return best


def _describe(runs: list[Run]) -> str:
    datasets = ", ".join(f"`{d}`" for d in dict.fromkeys(str(r.summary.get("dataset", "?")) for r in runs))
    seeds = sorted({r.seed for r in runs})
    deep_epochs = sorted({int(r.metric("epochs")) for r in runs
                          if r.activation != NO_ACTIVATION and math.isfinite(r.metric("epochs"))})
    n_settings = len(group_runs(runs))
    text = f"{len(runs)} runs ({n_settings} settings; seeds {', '.join(map(str, seeds))}) on {datasets}"
    if deep_epochs:
        text += f"; {'/'.join(map(str, deep_epochs))} epochs per run"
    if any(r.activation == NO_ACTIVATION for r in runs):
        text += " (classical models are fit once, activation `-`)"
    return text + ". Accuracies in %, mean ± sample std over seeds."


def results_table(runs: list[Run]) -> list[str]:
    """The markdown table: one row per (model, activation), best activation of each model in bold."""
    best = best_activations(runs)
    lines = [
        "| Model | Activation | Test acc., val-selected epoch | Test acc., last epoch "
        f"| Best-epoch test acc. ({LAB_NOTE}) | Seeds |",
        "|:--|:--|--:|--:|--:|--:|",
    ]
    for (model, act), rs in group_runs(runs).items():
        val_sel = _mean_std_cell([r.metric(VAL_SEL) for r in rs])
        is_best = act in best.get(model, ())
        act_cell = f"**{act}** (best)" if is_best else act
        if is_best:
            val_sel = f"**{val_sel}**"
        lines.append(
            f"| {display_name(model)} | {act_cell} | {val_sel} | "
            f"{_mean_std_cell([r.metric('test_acc_last') for r in rs])} | "
            f"{_mean_std_cell([r.metric('test_acc_lab_best_epoch') for r in rs])} | {len(rs)} |"
        )
    return lines


def spread_notes(runs: list[Run]) -> list[str]:
    """One bullet per model: is the best activation's lead over each other one beyond seed-to-seed spread?"""
    groups = group_runs(runs)
    best = best_activations(runs)
    lines = []
    for model in models_in(runs):
        if model not in best:
            acts = [a for (m, a) in groups if m == model]
            why = "no activation to compare" if acts == [NO_ACTIVATION] else "only one activation"
            lines.append(f"- **{display_name(model)}**: {why}.")
            continue
        top = sorted(best[model], key=lambda a: [a2 for (m, a2) in groups if m == model].index(a))[0]
        top_acc = {r.seed: r.metric(VAL_SEL) for r in groups[(model, top)]}
        parts = []
        others = [(act, rs) for (m, act), rs in groups.items() if m == model and act not in (top, NO_ACTIVATION)]
        comparisons = [compare_paired(top_acc, {r.seed: r.metric(VAL_SEL) for r in rs}) for _, rs in others]
        adjusted = holm([c.p for c in comparisons])  # one family of tests per model
        for (act, _), c, p_holm in zip(others, comparisons, adjusted):
            if c.verdict == "one_seed":
                parts.append(f"vs {act}: {_points(c.diff) if c.n else 'no common seed'}, "
                             "one seed cannot tell whether this exceeds the seed-to-seed spread")
            elif c.verdict == "identical":
                parts.append(f"vs {act}: identical in all {c.n} seeds")
            elif c.verdict == "constant":
                parts.append(f"vs {act}: {_points(c.diff)} in every one of {c.n} seeds (no spread to test against)")
            else:
                where = "larger than" if p_holm < ALPHA else "within"
                parts.append(f"vs {act}: {_points(c.diff)}, {where} the seed-to-seed spread "
                             f"(paired t-test over {c.n} seeds, {_p(c.p)}, Holm-adjusted {_p(p_holm)})")
        lines.append(f"- **{display_name(model)}** (best: {top}): " + "; ".join(parts) + ".")
    lines += [
        "",
        "The best activation is the one with the highest mean validation accuracy (never the test numbers). "
        "Differences are in validation-selected test accuracy, best activation minus the other, paired by seed "
        f"(`scipy.stats.ttest_rel`, two-sided, α = {ALPHA}), Holm-corrected over each model's comparisons. "
        "With few seeds the test has little power: "
        "\"within the spread\" means these runs cannot tell the settings apart, not that they are equal.",
    ]
    return lines


def results_markdown(runs: list[Run], heading_level: int = 1) -> str:
    """results.md: a heading, one sentence on what was run, the table, and the spread notes."""
    h = "#" * heading_level
    datasets = ", ".join(dict.fromkeys(str(r.summary.get("dataset", "?")) for r in runs))
    lines = [f"{h} Results: {datasets}", "", _describe(runs), "", *results_table(runs), "",
             "The best activation of each model (by mean validation accuracy) is in bold. "
             "The best-epoch column is what the original study reported (there, the maximum of single runs; here "
             "mean ± std over seeds, as for the other columns): it picks the epoch on the test set itself, so it "
             "is optimistic and not comparable with the other two.", "",
             f"{h}# Differences and seed-to-seed spread", "", *spread_notes(runs)]
    return "\n".join(lines) + "\n"
