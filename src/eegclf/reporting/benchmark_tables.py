"""A benchmark's numbers: per-subject scores, the summary over subjects with intervals, and paired tests
against the best classical pipeline. Fixed precision and fixed orders: the same folder gives the same text."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eegclf.benchmark.scores import SCORES
from eegclf.models import get_model
from eegclf.reporting.collect import display_name as pipeline_name
from eegclf.reporting.stats import (
    ALPHA,
    bootstrap_ci,
    chance_level,
    holm,
    mean_std,
    wilcoxon_p,
)

CSV_COLUMNS = ["pipeline", "chosen", "subject", "fold", "seed", "n_train", "n_adapt", "n_test",
               "accuracy", "roc_auc", "kappa", "inner_acc", "seconds"]


def _classical(name: str) -> bool:
    try:
        return not get_model(name).is_deep
    except ValueError:
        return False


@dataclass
class Summary:
    """Everything the tables and figures show, computed once from the fold records."""

    pipelines: list[str]
    subjects: list[str]
    per_subject: dict  # pipeline -> subject -> {accuracy, roc_auc, kappa, n_test}
    chance: dict  # subject -> binomial 95 % chance level for its test trials
    best_classical: str | None
    best_how: str
    comparisons: dict  # pipeline -> (mean difference, p, Holm p)


def _fmt(x: float, digits: int = 3) -> str:
    return "–" if not math.isfinite(x) else f"{round(x, digits) + 0.0:.{digits}f}"


def summarize(spec: dict, records: list[dict]) -> Summary:
    pipelines = [p for p in spec["pipelines"] if any(r["pipeline"] == p for r in records)]
    subjects = sorted({r["subject"] for r in records})
    per_subject: dict = {p: {} for p in pipelines}
    n_test: dict = {}
    n_classes = max((r["n_classes"] for r in records), default=2)
    for p in pipelines:
        for s in subjects:
            rs = [r for r in records if r["pipeline"] == p and r["subject"] == s]
            if rs:
                per_subject[p][s] = {k: float(np.mean([r[k] for r in rs])) for k in SCORES}
                per_subject[p][s]["n_test"] = sum(r["n_test"] for r in rs)
                n_test[s] = per_subject[p][s]["n_test"]
    chance = {s: chance_level(n, n_classes) for s, n in n_test.items()}
    classical = [p for p in pipelines if _classical(p)]
    inner = {p: [v for r in records if r["pipeline"] == p for v in r.get("inner_acc", {}).values()] for p in classical}
    if classical and all(inner[p] for p in classical):
        best = max(classical, key=lambda p: np.mean(inner[p]))
        how = (f"the classical pipeline with the best inner cross-validation accuracy on the training folds "
               f"(of {', '.join(pipeline_name(p) for p in classical)}); no test fold was used to choose it")
    elif classical:
        best = max(classical, key=lambda p: mean_std([v["accuracy"] for v in per_subject[p].values()])[0])
        how = f"best of {len(classical)} classical pipelines on these test folds (optimistic)"
    else:
        best, how = None, "no classical pipeline in this benchmark"
    comparisons = {}
    if best is not None:
        others = [p for p in pipelines if p != best]
        diffs, ps = [], []
        for p in others:
            common = [s for s in subjects if s in per_subject[p] and s in per_subject[best]]
            a = [per_subject[p][s]["accuracy"] for s in common]
            b = [per_subject[best][s]["accuracy"] for s in common]
            diffs.append(float(np.mean(np.subtract(a, b))) if common else math.nan)
            ps.append(wilcoxon_p(a, b))
        comparisons = {p: (d, pv, hp) for p, d, pv, hp in zip(others, diffs, ps, holm(ps))}
    return Summary(pipelines, subjects, per_subject, chance, best, how, comparisons)


def csv_rows(records: list[dict]) -> list[list[str]]:
    rows = []
    for r in records:
        inner = r.get("inner_acc") or {}
        values = dict(r, inner_acc=";".join(f"{k}={v:.4f}" for k, v in sorted(inner.items())))
        rows.append([_fmt(values[c], 4) if isinstance(values[c], float) else str(values[c]) for c in CSV_COLUMNS])
    return rows


def _subject_table(sm: Summary) -> list[str]:
    head = "| subject | " + " | ".join(pipeline_name(p) for p in sm.pipelines) + " | chance (95 %) |"
    lines = [head, "|" + "---|" * (len(sm.pipelines) + 2)]
    for s in sm.subjects:
        cells = [_fmt(sm.per_subject[p][s]["accuracy"]) if s in sm.per_subject[p] else "–" for p in sm.pipelines]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {_fmt(sm.chance.get(s, math.nan))} |")
    return lines


def _summary_table(sm: Summary) -> list[str]:
    lines = ["| pipeline | accuracy mean ± std | 95 % CI (bootstrap over subjects) | ROC-AUC | kappa | "
             "subjects above chance | vs best classical | p (Wilcoxon) | p (Holm) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p in sm.pipelines:
        rows = sm.per_subject[p]
        acc = [v["accuracy"] for v in rows.values()]
        m, sd = mean_std(acc)
        lo, hi = bootstrap_ci(acc)
        auc, kappa = mean_std([v["roc_auc"] for v in rows.values()])[0], mean_std([v["kappa"] for v in rows.values()])[0]
        above = sum(1 for s, v in rows.items() if v["accuracy"] > sm.chance.get(s, math.inf))
        if p == sm.best_classical:
            vs, pv, hp = "(best classical)", "", ""
        elif p in sm.comparisons:
            d, raw, adj = sm.comparisons[p]
            vs, pv, hp = f"{d:+.3f}", _fmt(raw), _fmt(adj)
        else:
            vs = pv = hp = "–"
        lines.append(f"| {pipeline_name(p)} | {_fmt(m)} ± {_fmt(sd)} | [{_fmt(lo)}, {_fmt(hi)}] | {_fmt(auc)} | "
                     f"{_fmt(kappa)} | {above}/{len(rows)} | {vs} | {pv} | {hp} |")
    return lines


def _auto_notes(records: list[dict]) -> list[str]:
    autos = [r for r in records if r["pipeline"] == "auto"]
    if not autos:
        return []
    counts: dict = {}
    for r in autos:
        counts[r["chosen"]] = counts.get(r["chosen"], 0) + 1
    chosen = ", ".join(f"{pipeline_name(k)} in {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return ["", f"`auto` chose, by inner cross-validation on each training part only: {chosen} of {len(autos)} folds."]


def _init_notes(spec: dict) -> list[str]:
    inits = spec.get("init") or []
    if not inits:
        return []
    lines = ["", "`finetune` and `pretrained` start from the pre-trained network of (each subject is tested "
             "with the first that never saw it):"]
    for r in inits:
        lines.append(f"- `{r['path']}`: {r['model']}, alignment {r['alignment']}, pre-trained on "
                     f"{', '.join(r['subjects_seen'] or []) or 'unrecorded subjects'}")
    return lines


def results_markdown(spec: dict, records: list[dict], figures: list[str]) -> str:
    sm = summarize(spec, records)
    seconds = sum(r["seconds"] for r in records)
    opts = ", ".join(f"{k}={v}" for k, v in sorted(spec["dataset_options"].items()))
    lines = [f"# Benchmark: {spec['dataset']}, protocol {spec['protocol']}", "",
             f"Made by: `{spec['command']}`" if spec.get("command") else "Made by: `eegclf.benchmark.run_benchmark`",
             "", f"Data options: {opts or 'defaults'}. {len(sm.subjects)} subjects, {len(records)} folds, "
             f"{seconds / 60:.1f} min of fitting in total (summed over folds).", "",
             "Accuracy per subject (mean over that subject's folds); chance is the binomial 95 % bound for its "
             "number of test trials:", "", *_subject_table(sm), "",
             "Summary over subjects:", "", *_summary_table(sm), "",
             f"Best classical pipeline: **{pipeline_name(sm.best_classical) if sm.best_classical else '–'}**, "
             f"{sm.best_how}. Every other pipeline is compared with it, paired over subjects (two-sided Wilcoxon "
             f"signed-rank test on per-subject accuracy, Holm-corrected over the comparisons, α = {ALPHA}). "
             "With a dozen subjects these tests have little power: a large p means these subjects cannot tell "
             "the pipelines apart, not that they are equal.", *_auto_notes(records), *_init_notes(spec), ""]
    for f in figures:
        lines += [f"![{f}]({f})", ""]
    return "\n".join(lines)
