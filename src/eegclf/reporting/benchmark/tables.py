"""A benchmark's numbers: per-subject scores, the summary over subjects with intervals, and paired tests
against the best classical pipeline chosen per outer fold. Fixed precision and fixed orders: the same folder
gives the same text, and exact arithmetic (correct-trial counts, fractions) keeps float noise and the
installed scipy out of the counts and p-values."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from eegclf.benchmark.pipelines import INNER_WITH_ADAPT
from eegclf.benchmark.scores import SCORES
from eegclf.errors import DataError
from eegclf.models import get_model
from eegclf.reporting.collect import display_name as pipeline_name
from eegclf.reporting.stats import (
    ALPHA,
    WILCOXON_METHOD,
    chance_count,
    chance_level,
    format_p,
    holm,
    mean_std,
    t_interval,
    wilcoxon_p,
)

# results.csv holds what a fold computed, so the same command gives the same bytes wherever it runs (local
# processes or a Dask cluster); how long each fold took is in timings.csv
CSV_COLUMNS = ["pipeline", "chosen", "subject", "fold", "seed", "n_train", "n_adapt", "n_test",
               "accuracy", "roc_auc", "kappa", "inner_acc", "calibration_trials"]
TIMING_COLUMNS = ["pipeline", "subject", "fold", "calibration_trials", "seconds"]
BEST = "best classical (per fold)"  # the reference row: per outer fold, the classical pipeline its inner CV chose


def _classical(name: str) -> bool:
    try:
        return not get_model(name).is_deep
    except ValueError:
        return False


@dataclass
class Summary:
    """Everything the tables and figures show, computed once from the fold records.

    rows: the pipelines, then :data:`BEST` when it could be formed; per_subject: row -> subject ->
    {accuracy (float), exact (Fraction: correct / test trials over the subject's folds), correct, n_test,
    roc_auc, kappa (means over folds)}; chance: subject -> binomial 95 % chance level of its test trials,
    chance_k: the same as a count of correct trials (reaching it counts as above chance);
    reference: :data:`BEST` or None; comparisons: pipeline -> (mean difference, p, Holm p) against it;
    picks: classical pipeline -> number of outer folds in which it was the best classical one."""

    pipelines: list[str]
    subjects: list[str]
    per_subject: dict
    chance: dict
    chance_k: dict
    reference: str | None
    best_how: str
    comparisons: dict
    picks: dict = field(default_factory=dict)
    rows: list[str] = field(default_factory=list)


def _fmt(x: float, digits: int = 3) -> str:
    return "–" if not math.isfinite(x) else f"{round(x, digits) + 0.0:.{digits}f}"


def _correct(r: dict) -> int:
    """A fold's number of correctly predicted test trials (its accuracy is that count / n_test)."""
    k = round(r["accuracy"] * r["n_test"])
    if abs(r["accuracy"] * r["n_test"] - k) > 1e-6:
        raise DataError(f"fold {r['pipeline']}/{r.get('key', r['subject'])}: accuracy {r['accuracy']} is not a "
                        f"whole number of its {r['n_test']} test trials")
    return k


def _per_subject(records: list[dict]) -> dict:
    """subject -> scores, from one row's fold records: accuracy from summed counts, the others averaged."""
    out: dict = {}
    for s in sorted({r["subject"] for r in records}):
        rs = [r for r in records if r["subject"] == s]
        correct, n = sum(_correct(r) for r in rs), sum(r["n_test"] for r in rs)
        exact = Fraction(correct, n)
        out[s] = {"accuracy": float(exact), "exact": exact, "correct": correct, "n_test": n,
                  **{k: float(np.mean([r[k] for r in rs])) for k in SCORES if k != "accuracy"}}
    return out


def _best_per_fold(spec: dict, classical: list[str], records: list[dict]) -> tuple[list[dict], dict, str]:
    """The fold records of :data:`BEST`, the picks, and how they were chosen (or [] and why not)."""
    names = ", ".join(pipeline_name(p) for p in classical)
    if not classical:
        if any(_classical(p) for p in spec.get("pipelines", [])):
            return [], {}, ("no classical pipeline has a finished fold here (with no calibration trial they have "
                            "nothing to train on), so no reference row and no paired tests")
        return [], {}, "no classical pipeline in this benchmark, so no reference row and no paired tests"
    folds: dict = {}
    for r in records:
        if r["pipeline"] in classical:
            # a subject group's sessions share their fold index: the session tells them apart
            folds.setdefault((r["subject"], r.get("session") or "", r["fold"]), {})[r["pipeline"]] = r
    complete = {k: v for k, v in folds.items() if len(v) == len(classical)}
    if not complete:
        return [], {}, f"not formed: no fold is finished by every classical pipeline ({names}) yet; no paired tests"
    if any(p not in r.get("inner_acc", {}) for v in complete.values() for p, r in v.items()):
        return [], {}, (f"not formed: some folds of {names} hold no inner cross-validation score, so no "
                        "pipeline can be chosen without test folds; no paired tests")
    chosen, picks = [], {p: 0 for p in classical}
    for key in sorted(complete):
        by = complete[key]
        # scores equal to 9 decimals tie (float noise decides nothing); max keeps the first listed of tied ones
        best = max(classical, key=lambda p: round(by[p]["inner_acc"][p], 9))
        picks[best] += 1
        chosen.append(dict(by[best], pipeline=BEST, chosen=best))
    how = (f"in each outer fold, the classical pipeline (of {names}) with the best 3-fold inner cross-validation "
           "accuracy on that fold's training part alone; its test predictions on that fold form the row. "
           "Only the training folds of that outer fold decide, never a test trial (scores equal to 9 decimals "
           "tie; ties go to the first listed)")
    if spec.get("protocol") == "cross-subject-finetune":
        on = [r.get("inner_on") for v in complete.values() for r in v.values()]
        if all(o == INNER_WITH_ADAPT for o in on):
            how += ("; under cross-subject-finetune the inner cross-validation is of the pipeline as refit: every "
                    "inner fit pools the other subjects with two thirds of the calibration trials and is scored "
                    "on the remaining third")
        elif any("calibration_trials" in r for v in complete.values() for r in v.values()):
            how += ("; under cross-subject-finetune the inner cross-validation is of the pipeline as refit (the "
                    "other subjects with two thirds of the calibration trials, scored on the remaining third) "
                    f"where the calibration trials hold at least 3 of each class, else ({on.count('train')} of "
                    f"{len(on)} fold scores) of the other subjects alone")
        else:
            how += ("; these cross-subject-finetune folds were run before the inner score pooled the calibration "
                    "trials in, so it measures the pipeline fitted on the other subjects alone")
    if len(complete) < len(folds):
        how += f"; {len(folds) - len(complete)} folds not finished by every classical pipeline are left out of it"
    return chosen, picks, how


def summarize(spec: dict, records: list[dict]) -> Summary:
    pipelines = [p for p in spec["pipelines"] if any(r["pipeline"] == p for r in records)]
    subjects = sorted({r["subject"] for r in records})
    per_subject = {p: _per_subject([r for r in records if r["pipeline"] == p]) for p in pipelines}
    n_test = {s: v["n_test"] for p in pipelines for s, v in per_subject[p].items()}
    n_classes = max((r["n_classes"] for r in records), default=2)
    chance = {s: chance_level(n, n_classes) for s, n in n_test.items()}
    chance_k = {s: chance_count(n, n_classes) for s, n in n_test.items()}
    classical = [p for p in pipelines if _classical(p)]
    best_records, picks, how = _best_per_fold(spec, classical, records)
    rows, reference, comparisons = list(pipelines), None, {}
    if best_records:
        reference = BEST
        rows.append(BEST)
        per_subject[BEST] = _per_subject(best_records)
        diffs, ps = [], []
        for p in pipelines:
            common = [s for s in subjects if s in per_subject[p] and s in per_subject[BEST]]
            a = [per_subject[p][s]["exact"] for s in common]
            b = [per_subject[BEST][s]["exact"] for s in common]
            diffs.append(float(sum(x - y for x, y in zip(a, b)) / len(common)) if common else math.nan)
            ps.append(wilcoxon_p(a, b))
        comparisons = {p: (d, pv, hp) for p, d, pv, hp in zip(pipelines, diffs, ps, holm(ps))}
    return Summary(pipelines, subjects, per_subject, chance, chance_k, reference, how, comparisons, picks, rows)


def csv_rows(records: list[dict], columns: list[str] = CSV_COLUMNS) -> list[list[str]]:
    rows = []
    for r in records:
        inner = r.get("inner_acc") or {}
        values = dict(r, inner_acc=";".join(f"{k}={v:.4f}" for k, v in sorted(inner.items())))
        values.setdefault("calibration_trials", "")  # empty: every calibration trial (no curve)
        rows.append([_fmt(values[c], 4) if isinstance(values[c], float) else str(values[c]) for c in columns])
    return rows


def _subject_table(sm: Summary) -> list[str]:
    head = "| subject | " + " | ".join(pipeline_name(p) for p in sm.rows) + " | chance (95 %) |"
    lines = [head, "|" + "---|" * (len(sm.rows) + 2)]
    for s in sm.subjects:
        cells = [_fmt(sm.per_subject[p][s]["accuracy"]) if s in sm.per_subject[p] else "–" for p in sm.rows]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {_fmt(sm.chance.get(s, math.nan))} |")
    return lines


def above_chance(sm: Summary, row: str) -> tuple[int, int]:
    """(subjects whose correct test trials reach their chance count, subjects) of ``row``."""
    scores = sm.per_subject[row]
    return sum(1 for s, v in scores.items() if v["correct"] >= sm.chance_k.get(s, math.inf)), len(scores)


def _summary_table(sm: Summary) -> list[str]:
    lines = ["| pipeline | accuracy mean ± std | 95 % CI (t, over subjects) | ROC-AUC | kappa | "
             f"subjects above chance | vs {BEST} | p (Wilcoxon) | p (Holm) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p in sm.rows:
        rows = sm.per_subject[p]
        acc = [v["accuracy"] for v in rows.values()]
        m, sd = mean_std(acc)
        lo, hi = t_interval(acc)
        lo, hi = max(lo, 0.0), min(hi, 1.0)  # accuracy is bounded: clipping only widens coverage
        auc, kappa = mean_std([v["roc_auc"] for v in rows.values()])[0], mean_std([v["kappa"] for v in rows.values()])[0]
        above, n = above_chance(sm, p)
        if p == sm.reference:
            vs, pv, hp = "(reference)", "", ""
        elif p in sm.comparisons:
            d, raw, adj = sm.comparisons[p]
            vs, pv, hp = f"{d:+.3f}", format_p(raw), format_p(adj)
        else:
            vs = pv = hp = "–"
        lines.append(f"| {pipeline_name(p)} | {_fmt(m)} ± {_fmt(sd)} | [{_fmt(lo)}, {_fmt(hi)}] | {_fmt(auc)} | "
                     f"{_fmt(kappa)} | {above}/{n} | {vs} | {pv} | {hp} |")
    return lines


def _pick_notes(sm: Summary) -> list[str]:
    if not sm.picks:
        return []
    total = sum(sm.picks.values())
    chosen = ", ".join(f"{pipeline_name(k)} in {v}" for k, v in sorted(sm.picks.items(), key=lambda kv: (-kv[1], kv[0]))
                       if v)
    return ["", f"`{BEST}` chose: {chosen} of {total} folds."]


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
    lines = ["", "The transfer pipelines (`zero-shot`: nothing of the person; `pretrained-renorm`: its unlabelled "
             "calibration trials re-estimate the normalisation; `adabn`: they re-estimate the normalisation and "
             "every BatchNorm layer's statistics; `finetune`: its labelled calibration trials train "
             f"{_finetune_how(spec.get('recipe') or {})}) start from the pre-trained network of (each subject is "
             "tested with the first that never saw it):"]
    for r in inits:
        lines.append(f"- `{r['path']}`: {r['model']}, alignment {r['alignment']}, pre-trained on "
                     f"{', '.join(r['subjects_seen'] or []) or 'unrecorded subjects'}")
    return lines


def _finetune_how(recipe: dict) -> str:
    """What ``finetune`` trained and on what, as the recipe records it (eegclf.adaptation)."""
    how = ("the final classification layer, on the features of adabn's network" if recipe.get("finetune_layers") ==
           "last" else "the network")
    if recipe.get("finetune_mix"):
        how += (f", each step mixing in as many trials of the pre-training people, the person's weighted "
                f"{recipe['finetune_mix']:g} against 1")
    return how


def _header(spec: dict, records: list[dict]) -> list[str]:
    seconds = sum(r["seconds"] for r in records)
    opts = ", ".join(f"{k}={v}" for k, v in sorted(spec["dataset_options"].items()))
    n_subjects = len({r["subject"] for r in records})
    return [f"# Benchmark: {spec['dataset']}, protocol {spec['protocol']}", "",
            f"Made by: `{spec['command']}`" if spec.get("command") else "Made by: `eegclf.benchmark.run_benchmark`",
            "", f"Data options: {opts or 'defaults'}. {n_subjects} subjects, {len(records)} folds, "
            f"{seconds / 60:.1f} min of fitting in total (summed over folds).", "", *_subject_fold_notes(spec)]


def _subject_fold_notes(spec: dict) -> list[str]:
    sf = spec.get("subject_folds")
    if not sf or not sf.get("groups"):
        return []
    groups = "; ".join(f"fold {i}: {', '.join(g)}" for i, g in enumerate(sf["groups"]))
    return [f"Subject folds: {sf['k']} groups of whole people (shuffled with seed {sf['seed']}); each person is "
            f"tested by what was trained on the other groups only. {groups}.", ""]


def results_markdown(spec: dict, records: list[dict], figures: list[str]) -> str:
    return "\n".join([*_header(spec, records), *results_body(spec, records, figures)])


def results_body(spec: dict, records: list[dict], figures: list[str]) -> list[str]:
    """The report of ``records`` after its header: per-subject table, summary, tests, notes, figures."""
    sm = summarize(spec, records)
    lines = ["Accuracy per subject: correct test trials / test trials over that subject's folds (exact "
             "fractions); chance is the binomial 95 % level for its number of test trials, the smallest accuracy that a "
             "random guesser reaches or beats with probability ≤ 0.05. A subject counts as above chance when it reaches "
             "that level.", "", *_subject_table(sm), "",
             "Summary over subjects (mean ± sample std; 95 % CI: Student-t interval of the mean over subjects, clipped to [0, 1]):", "",
             *_summary_table(sm), "",
             f"Best classical pipeline, per fold (row **{BEST}**): {sm.best_how}. "
             + (f"Every pipeline is compared with that row, paired over subjects ({WILCOXON_METHOD}; "
                f"Holm-corrected over the comparisons, α = {ALPHA}). With a dozen subjects these tests have little "
                "power: a large p means these subjects cannot tell the pipelines apart, not that they are equal."
                if sm.reference else ""), *_pick_notes(sm), *_auto_notes(records), *_init_notes(spec), ""]
    for f in figures:
        lines += [f"![{f}]({f})", ""]
    return lines
