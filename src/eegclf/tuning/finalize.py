"""Finalizing a study: retrain the best setting over seeds, measure test accuracy once, write the report.

Layout of a tuning folder::

    OUT/tune.db                 the default SQLite storage (absent when another storage URL is given)
    OUT/final/                  an ``eegclf compare`` folder: the best setting retrained over seeds
    OUT/figures/tune_history.png  validation accuracy per trial and best so far
    OUT/tune_result.json        best params, trial counts, final test accuracy (machine-readable)
    OUT/tune_report.md          the report
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections import Counter
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from eegclf.config import RunConfig
from eegclf.errors import ConfigError
from eegclf.storage.fileio import atomic_write_json, atomic_write_text
from eegclf.storage.tempfiles import clear_dead_temp_files
from eegclf.reporting.collect import display_name
from eegclf.storage.rundir import RunDir
from eegclf.reporting.figures import STYLE, save_png
from eegclf.reporting.stats import mean_std
from eegclf.tuning.space import PARAMS, SearchSpace, apply_params


def history_figure(trials, path: Path) -> Path:
    """Validation accuracy of each finished trial (pruned ones: their last reported value) and the best
    completed value so far, against the trial number. ``trials``: optuna FrozenTrials."""
    import matplotlib

    done = sorted((t for t in trials if t.state.name in ("COMPLETE", "PRUNED") and t.value is not None),
                  key=lambda t: t.number)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7.5, 4.2))
        ax = fig.add_subplot()
        for state, style in (("COMPLETE", dict(marker="o", color="#1f77b4", linestyle="none")),
                             ("PRUNED", dict(marker="x", color="#7f7f7f", linestyle="none"))):
            pts = [(t.number, 100 * t.value) for t in done if t.state.name == state]
            if pts:
                what = "complete" if state == "COMPLETE" else "pruned, at its last epoch"
                ax.plot(*zip(*pts), label=f"{what} ({len(pts)})", **style)
        best, xs, ys = -math.inf, [], []
        for t in done:
            if t.state.name == "COMPLETE":
                best = max(best, t.value)
            if best > -math.inf:
                xs.append(t.number)
                ys.append(100 * best)
        if xs:
            ax.step(xs, ys, where="post", color="#d62728", linewidth=2, label="best so far")
        ax.set_xlabel("trial number")
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title("Tuning history: validation accuracy per trial")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if done:
            ax.legend(loc="best")
        fig.tight_layout()
        return save_png(fig, path)


def importances(study) -> tuple[dict[str, float], str | None]:
    """Optuna's fANOVA importances of the searched parameters over completed trials, or ({}, reason)."""
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return {}, f"needs at least 2 completed trials (the study has {len(complete)})"
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator)), None
    except (RuntimeError, ValueError) as exc:  # e.g. no parameter varies across the completed trials
        return {}, str(exc).splitlines()[0].rstrip(".")


def _prepare_final_dir(final_dir: Path, marker: dict) -> None:
    """Keep a previous retraining of the same setting (its finished runs are reused); replace any other."""
    path = final_dir / "tune_best.json"
    if final_dir.exists():
        try:
            same = json.loads(path.read_text()) == marker
        except (OSError, json.JSONDecodeError):
            same = False
        if not same:
            print(f"tune: replacing {final_dir} (it held the retraining of another setting)", file=sys.stderr)
            shutil.rmtree(final_dir)
    atomic_write_json(path, marker)


def retrain_best(best_config: RunConfig, trial_number: int, final_dir: Path, seeds: int,
                 jobs: int | None, progress: bool | None) -> list[dict]:
    """Train ``best_config`` with seeds 0..seeds-1 through the compare machinery; returns the summaries."""
    from eegclf.reporting import build_report
    from eegclf.study import run_name, run_study

    if seeds < 1:
        raise ConfigError(f"seeds={seeds} is invalid: expected a number of seeds >= 1", param="seeds")
    marker = {"trial": trial_number, "config": {**best_config.to_dict(), "data_dir": None, "threads": None}}
    _prepare_final_dir(final_dir, marker)
    run_study(best_config, [best_config.model], [best_config.activation], seeds, final_dir, jobs=jobs,
              progress=progress, report=build_report)
    runs = final_dir / "runs"
    return [RunDir(runs / run_name(best_config.model, best_config.activation, s)).read_summary() for s in range(seeds)]


def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.2f}"


def _param_cell(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def write_report(study, out_dir: Path, base: RunConfig, space: SearchSpace, storage_text: str,
                 summaries: list[dict], final_dir: Path) -> Path:
    """Write figures/tune_history.png, tune_result.json and tune_report.md into ``out_dir``."""
    trials = study.get_trials(deepcopy=False)
    counts = Counter(t.state.name for t in trials)
    surplus = sum(1 for t in trials if t.user_attrs.get("surplus"))
    best = study.best_trial
    fig = history_figure(trials, out_dir / "figures" / "tune_history.png")
    imp, imp_reason = importances(study)
    tests = [s["test_acc_val_selected"] for s in summaries]
    mean, std = mean_std(tests)
    workers = Counter(t.user_attrs.get("worker", "?") for t in trials if t.state.name in ("COMPLETE", "PRUNED"))
    result = {
        "study": study.study_name, "storage": storage_text,
        "trials": {"finished": counts["COMPLETE"] + counts["PRUNED"], **{k: counts[k] for k in sorted(counts)}},
        "surplus": surplus, "workers": dict(workers),
        "best_trial": best.number, "best_val_acc": best.value, "best_params": best.params,
        "importances": imp, "importances_note": imp_reason,
        "final": {"seeds": [s["seed"] for s in summaries], "test_acc_val_selected": tests,
                  "mean": mean, "std": std, "folder": str(final_dir)},
    }
    atomic_write_json(out_dir / "tune_result.json", result)

    lines = [
        f"# Hyper-parameter search: {display_name(base.model)} on {base.dataset}",
        "",
        f"Study `{study.study_name}` in `{storage_text}`. Objective: the best **validation** accuracy over the "
        f"epochs (validation = {base.val_fraction:.0%} of the training part, stratified per subject and class, "
        f"split seed {base.seed}); the test part is never shown to the search. Pruning on the validation "
        "accuracy reported after every epoch.",
        "",
        f"Trials: {result['trials']['finished']} finished ({counts['COMPLETE']} complete, {counts['PRUNED']} pruned)"
        + (f", {counts['FAIL'] - surplus} failed" if counts["FAIL"] - surplus else "")
        + (f", {surplus} surplus (closed unrun when workers raced for the last trials)" if surplus else "")
        + (f", {counts['RUNNING']} still running" if counts["RUNNING"] else "")
        + f"; by {len(workers)} worker process(es).",
        "",
        "## Best setting",
        "",
        f"Trial {best.number}: validation accuracy {_pct(best.value)} %.",
        "",
        "| parameter | searched | best |",
        "|---|---|---|",
        *[f"| {name} | {rng} | {_param_cell(best.params.get(name, '-'))} |" for name, rng in space.describe()],
        "",
        "## Test accuracy of the best setting (measured once)",
        "",
        f"Retrained with {len(summaries)} seed(s) through `eegclf compare` in `{final_dir.name}/` "
        f"(its own report: `{final_dir.name}/report.md`); test accuracy of the validation-selected epoch:",
        "",
        f"**{_pct(mean)} ± {_pct(std)} %** (mean ± sample std over seeds)" if len(tests) > 1
        else f"**{_pct(mean)} %** (one seed: no spread)",
        "",
        "| seed | validation acc (%) | test acc (%) | selected epoch |",
        "|---|---|---|---|",
        *[f"| {s['seed']} | {_pct(s['val_acc_selected'])} | {_pct(s['test_acc_val_selected'])} | "
          f"{s['selected_epoch']} |" for s in summaries],
        "",
        "## Trial history",
        "",
        f"![validation accuracy per trial and best so far]({fig.relative_to(out_dir).as_posix()})",
        "",
        "## Parameter importances",
        "",
    ]
    if imp:
        lines += ["fANOVA over the completed trials (Optuna); they sum to 1.", "",
                  "| parameter | importance |", "|---|---|",
                  *[f"| {k} | {v:.3f} |" for k, v in imp.items()]]
    else:
        lines.append(f"Not available: {imp_reason}.")
    lines += ["", "## Trials", "", "| trial | state | validation acc (%) | " + " | ".join(PARAMS) + " | worker |",
              "|---|---|---|" + "---|" * len(PARAMS) + "---|"]
    for t in sorted(trials, key=lambda t: t.number):
        if t.user_attrs.get("surplus"):
            continue
        cells = " | ".join(_param_cell(t.params[p]) if p in t.params else "-" for p in PARAMS)
        lines.append(f"| {t.number} | {t.state.name.lower()} | {_pct(t.value)} | {cells} | "
                     f"{t.user_attrs.get('worker', '-')} |")
    path = out_dir / "tune_report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def finalize(study, out_dir: Path, base: RunConfig, space: SearchSpace, storage_text: str, seeds: int = 3,
             jobs: int | None = None, progress: bool | None = None) -> Path:
    """Retrain the study's best trial over ``seeds`` seeds in OUT/final and write OUT/tune_report.md."""
    if not any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
        raise ConfigError(f"study {study.study_name!r} in {storage_text} has no completed trial yet: "
                          "nothing to finalize")
    out_dir = Path(out_dir)
    clear_dead_temp_files(out_dir, depth=3)  # a killed finalize's; out/final/runs/NAME/ included
    best = study.best_trial
    config = apply_params(base, {k: v for k, v in best.params.items() if k in PARAMS})
    final_dir = out_dir / "final"
    print(f"tune: retraining the best setting (trial {best.number}) with {seeds} seed(s) in {final_dir}",
          file=sys.stderr, flush=True)
    summaries = retrain_best(config, best.number, final_dir, seeds, jobs, progress)
    return write_report(study, out_dir, base, space, storage_text, summaries, final_dir)
