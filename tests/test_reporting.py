"""build_report on fake study folders: tables, their reproducibility, the spread notes and the figures."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from eegclf.errors import DataError
from eegclf.reporting import build_report
from eegclf.reporting.collect import display_name
from eegclf.reporting.filter_responses import responses_db
from eegclf.reporting.stats import compare_paired, mean_std

HIST_COLS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# per-activation offset of the fake accuracies: elu is clearly best, leaky_relu close to relu
OFFSET = {"relu": 0.0, "leaky_relu": 0.005, "elu": 0.12, "-": -0.1}


def write_run(runs_dir: Path, model: str, act: str, seed: int, epochs: int, rng) -> dict:
    """A fake run folder: history.csv with noisy rising curves, and the summary.json training would write."""
    d = runs_dir / f"{model}-{act}-seed{seed}"
    d.mkdir(parents=True)
    e = np.arange(1, epochs + 1)
    base = 0.6 + OFFSET[act]
    train = np.minimum(0.99, base + 0.3 * (1 - np.exp(-e / 4)) + rng.normal(0, 0.01, epochs))
    test = base + 0.15 * (1 - np.exp(-e / 4)) + rng.normal(0, 0.03, epochs)
    val = test + rng.normal(0, 0.02, epochs)
    hist = np.round(np.stack([e, 1 - train, train, 1 - val, val, 1 - test, test], 1), 6)
    with open(d / "history.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HIST_COLS)
        w.writerows([[int(r[0]), *r[1:]] for r in hist])
    sel, lab = int(np.argmax(hist[:, 4])), int(np.argmax(hist[:, 6]))
    summary = {
        "model": model, "activation": act, "dataset": "synthetic", "seed": seed, "epochs": epochs,
        "n_params": 1234, "selected_epoch": sel + 1, "val_acc_selected": hist[sel, 4],
        "test_acc_val_selected": hist[sel, 6], "test_loss_val_selected": hist[sel, 5],
        "test_acc_last": hist[-1, 6], "test_loss_last": hist[-1, 5], "lab_best_epoch": lab + 1,
        "test_acc_lab_best_epoch": hist[lab, 6], "seconds": 0.5, "versions": {"eegclf": "test"},
        "metric_notes": {"test_acc_val_selected": "honest"},
    }
    (d / "summary.json").write_text(json.dumps(summary))
    return summary


def make_study(out: Path, models=("eegnet", "deepconvnet"), acts=("relu", "leaky_relu", "elu"),
               seeds=(0, 1, 2), epochs=8, classical=()) -> dict:
    """A fake study folder; returns (model, act) -> list of summaries."""
    rng = np.random.default_rng(7)
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(
        {"models": list(models) + list(classical), "activations": list(acts), "seeds": list(seeds)}))
    summaries = {}
    for m in models:
        for a in acts:
            summaries[(m, a)] = [write_run(out / "runs", m, a, s, epochs, rng) for s in seeds]
    for m in classical:
        summaries[(m, "-")] = [write_run(out / "runs", m, "-", s, 1, rng) for s in seeds]
    return summaries


def table_rows(md: str) -> list[list[str]]:
    """The data rows of the first markdown table, as cell lists."""
    rows = [line for line in md.splitlines() if line.startswith("|")]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    summaries = make_study(out, classical=("csp_lda",))
    report = build_report(out)
    return out, summaries, report


def test_results_csv_has_one_row_per_run_in_stable_order(study):
    out, summaries, _ = study
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(len(v) for v in summaries.values()) == 21
    keys = [(r["model"], r["activation"], int(r["seed"])) for r in rows]
    expected = [(m, a, s["seed"]) for (m, a), ss in summaries.items() for s in ss]
    assert keys == expected  # study.json order of models and activations, then seed
    first = summaries[("eegnet", "relu")][0]
    assert float(rows[0]["test_acc_val_selected"]) == first["test_acc_val_selected"]
    assert rows[0]["run"] == "eegnet-relu-seed0"


def test_results_md_rows_values_and_best_mark(study):
    out, summaries, _ = study
    md = (out / "results.md").read_text()
    rows = table_rows(md)
    assert len(rows) == 7  # 2 models x 3 activations + one classical row
    assert "lab's metric: epoch chosen on test, optimistic" in md
    for (model, act), ss in summaries.items():
        row = next(r for r in rows if r[0] == display_name(model)
                   and r[1].replace("*", "").replace(" (best)", "") == act)
        vs = [s["test_acc_val_selected"] for s in ss]
        mean, std = 100 * np.mean(vs), 100 * np.std(vs, ddof=1)
        assert row[2].strip("*") == f"{mean:.1f} ± {std:.1f}"
        last = [s["test_acc_last"] for s in ss]
        assert row[3] == f"{100 * np.mean(last):.1f} ± {100 * np.std(last, ddof=1):.1f}"
        lab = [s["test_acc_lab_best_epoch"] for s in ss]  # mean ± std over seeds, as the spec asks (not max)
        assert row[4] == f"{100 * np.mean(lab):.1f} ± {100 * np.std(lab, ddof=1):.1f}"
        assert row[5] == "3"
    best = [(r[0], r[1]) for r in rows if "(best)" in r[1]]
    assert best == [("EEGNet", "**elu** (best)"), ("DeepConvNet", "**elu** (best)")]
    assert [r[1] for r in rows if r[0] == "CSP+LDA"] == ["-"]


def test_spread_note_uses_paired_test(study):
    out, _, _ = study
    md = (out / "results.md").read_text()
    note = md.split("Differences and seed-to-seed spread", 1)[1]
    # elu is 12 points ahead in the fake data: beyond the spread; leaky_relu is not the best
    assert re.search(r"\*\*EEGNet\*\* \(best: elu\): vs relu: \+1\d\.\d points, larger than the seed-to-seed "
                     r"spread \(paired t-test over 3 seeds, p", note)
    assert "vs leaky_relu" in note
    assert "CSP+LDA**: no activation to compare" in note
    assert "ttest_rel" in note


def test_results_md_is_byte_identical_when_rebuilt(study, tmp_path):
    out, _, _ = study
    before = (out / "results.md").read_bytes()
    csv_before = (out / "results.csv").read_bytes()
    (out / "results.md").unlink()
    build_report(out)
    assert (out / "results.md").read_bytes() == before
    assert (out / "results.csv").read_bytes() == csv_before


def test_figures_exist_and_report_links_them(study):
    out, _, report = study
    names = {"accuracy_eegnet.png", "accuracy_deepconvnet.png", "loss_eegnet.png", "loss_deepconvnet.png",
             "test_accuracy.png"}
    for name in names:
        data = (out / "figures" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
    text = report.read_text()
    assert report == out / "report.md"
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert names <= {Path(link).name for link in links}
    assert all((out / link).is_file() for link in links)  # relative links resolve
    assert "| Model | Activation |" in text and "**Protocol.**" in text
    # no checkpoints in the fake runs: the filter figure is skipped with a note, not an error
    assert "filter responses are not shown" in text


def test_one_seed_says_it_cannot_tell(tmp_path):
    make_study(tmp_path, models=("eegnet",), acts=("relu", "elu"), seeds=(0,), epochs=3)
    build_report(tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert len(table_rows(md)) == 2
    assert "± n/a" in md
    assert "one seed cannot tell" in md


def test_unfinished_runs_are_ignored_and_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no finished runs"):
        build_report(tmp_path)
    make_study(tmp_path, models=("eegnet",), acts=("relu", "elu"), seeds=(0, 1), epochs=3)
    (tmp_path / "runs" / "eegnet-elu-seed1" / "summary.json").unlink()  # an interrupted run
    build_report(tmp_path)
    with open(tmp_path / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 3
    rows = table_rows((tmp_path / "results.md").read_text())
    assert [r[5] for r in rows] == ["2", "1"]


def test_paired_comparison_verdicts():
    best = {0: 0.80, 1: 0.90, 2: 0.85}
    assert compare_paired(best, {0: 0.50, 1: 0.61, 2: 0.55}).verdict == "beyond"
    within = compare_paired(best, {0: 0.82, 1: 0.86, 2: 0.86})
    assert within.verdict == "within" and within.p > 0.05 and within.n == 3
    assert compare_paired(best, dict(best)).verdict == "identical"
    assert compare_paired(best, {s: v - 0.1 for s, v in best.items()}).verdict == "constant"
    one = compare_paired({0: 0.8}, {0: 0.7, 1: 0.6})
    assert one.verdict == "one_seed" and one.n == 1 and one.diff == pytest.approx(0.1)
    m, s = mean_std([0.5, float("nan")])
    assert m == 0.5 and np.isnan(s)
    assert mean_std([0.5, 0.7]) == pytest.approx((0.6, np.std([0.5, 0.7], ddof=1)))


def test_frequency_response_of_known_filters():
    sfreq, k = 125.0, 51
    t = np.arange(k) / sfreq
    bandpass = np.sin(2 * np.pi * 10.0 * t) * np.hanning(k)  # a 10 Hz wavelet
    lowpass = np.ones(k) / k  # moving average
    freqs, mags = responses_db(np.stack([bandpass, lowpass]), sfreq)
    assert freqs[0] == 0 and freqs[-1] < sfreq / 2
    assert abs(freqs[np.argmax(mags[0])] - 10.0) < 1.0
    assert freqs[np.argmax(mags[1])] == 0.0
    assert mags.max() == pytest.approx(0.0) and mags.min() >= -40.0


def test_filter_figure_from_eegnet_checkpoints(tmp_path):
    import torch

    from eegclf.storage.checkpoint import save_checkpoint
    from eegclf.models import create_model
    from eegclf.models.standardize import Standardized

    make_study(tmp_path, models=("eegnet",), acts=("relu", "elu"), seeds=(0, 1), epochs=3)
    torch.manual_seed(0)
    for act in ("relu", "elu"):
        net = create_model("eegnet", 2, 250, 2, activation=act)
        model = Standardized(net, torch.zeros(2), torch.ones(2))
        meta = {"model": net.model_name, "model_config": net.config, "sfreq": 125.0}
        save_checkpoint(tmp_path / "runs" / f"eegnet-{act}-seed0" / "best.safetensors", model, meta)
    report = build_report(tmp_path)
    data = (tmp_path / "figures" / "filters_eegnet.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert "figures/filters_eegnet.png" in report.read_text()


# ---- benchmark report statistics (issue 24: best classical per fold, chance counts, exact Wilcoxon, interval) ----

def _fold(pipeline, subject, fold, correct, n, inner=None, n_classes=2):
    """A fake benchmark fold record: what runner.run_fold writes, less the indices and predictions."""
    return {"pipeline": pipeline, "chosen": pipeline, "subject": subject, "fold": fold, "key": f"{subject}-f{fold}",
            "seed": fold, "n_train": 30, "n_adapt": 0, "n_test": n, "n_classes": n_classes, "accuracy": correct / n,
            "roc_auc": 0.5, "kappa": 0.0, "inner_acc": {} if inner is None else {pipeline: inner}, "seconds": 0.1}


def _spec(pipelines, protocol="run-split"):
    return {"dataset": "synthetic", "dataset_options": {}, "protocol": protocol, "pipelines": list(pipelines)}


def _summary_row(md: str, name: str) -> list[str]:
    lines = md.split("Summary over subjects", 1)[1].splitlines()
    return next([c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith(f"| {name} |"))


def _brute_wilcoxon(diffs) -> float:
    """Two-sided exact signed-rank p by enumerating every sign flip (zeros dropped, mid-ranks for ties)."""
    from itertools import product

    from scipy.stats import rankdata

    d = [x for x in diffs if x != 0]
    ranks = rankdata([abs(x) for x in d])
    mean = ranks.sum() / 2
    observed = abs(sum(r for r, x in zip(ranks, d) if x > 0) - mean)
    hits = sum(abs(sum(r for r, s in zip(ranks, signs) if s) - mean) >= observed - 1e-9
               for signs in product((0, 1), repeat=len(d)))
    return hits / 2 ** len(d)


def test_best_classical_is_chosen_per_fold_by_that_folds_inner_score():
    """Point 1: each outer fold takes the classical pipeline its own inner CV preferred; no other fold's inner
    score (whose training part holds this fold's test trials) can change that choice."""
    from eegclf.reporting.benchmark.tables import results_markdown, summarize

    rng = np.random.default_rng(3)
    subjects = [f"S{i:02d}" for i in range(1, 9)]
    correct = {(p, s): int(rng.integers(5, 15)) for p in ("csp_lda", "ts_lr", "eegnet") for s in subjects}

    def records(inner):
        return [_fold(p, s, 0, correct[(p, s)], 15, inner.get((p, s))) for p in ("eegnet", "csp_lda", "ts_lr")
                for s in subjects]

    inner = {(p, s): float(rng.uniform(0.5, 0.9)) for p in ("csp_lda", "ts_lr") for s in subjects}
    # a tie up to float noise (1.4 / 3 summed in two orders): the first listed (csp_lda) wins
    inner[("csp_lda", "S01")], inner[("ts_lr", "S01")] = 0.4666666666666666, 0.46666666666666673
    spec = _spec(["eegnet", "csp_lda", "ts_lr"])
    sm = summarize(spec, records(inner))
    BEST = "best classical (per fold)"
    assert sm.per_subject[BEST] and sm.rows[-1] == BEST and sm.reference == BEST
    picked = {s: "csp_lda" if round(inner[("csp_lda", s)], 9) >= round(inner[("ts_lr", s)], 9) else "ts_lr"
              for s in subjects}
    assert picked["S01"] == "csp_lda"
    for s in subjects:
        assert sm.per_subject[BEST][s]["correct"] == correct[(picked[s], s)]
    assert sm.picks == {p: sum(v == p for v in picked.values()) for p in ("csp_lda", "ts_lr")}
    assert set(sm.comparisons) == {"eegnet", "csp_lda", "ts_lr"}  # every pipeline against the per-fold row
    # the other folds' inner scores swing to one side: S01's choice and accuracy stay
    for p in ("csp_lda", "ts_lr"):
        swung = {k: (0.99 if k[0] == p else 0.01) if k[1] != "S01" else v for k, v in inner.items()}
        assert summarize(spec, records(swung)).per_subject[BEST]["S01"] == sm.per_subject[BEST]["S01"]
    md = results_markdown(spec, records(inner), [])
    assert _summary_row(md, BEST)[6] == "(reference)"
    assert "that fold's training part alone" in md and "never a test trial" in md
    # without inner scores there is no honest choice: no reference row and no tests (never the test folds)
    bare = summarize(spec, records({}))
    assert bare.reference is None and not bare.comparisons and "no paired tests" in bare.best_how


def test_cross_subject_finetune_report_says_which_inner_score_chose():
    from eegclf.reporting.benchmark.tables import results_markdown

    spec = _spec(["csp_lda", "ts_lr"], "cross-subject-finetune")
    recs = [_fold(p, s, 0, 9, 15, 0.6) for p in ("csp_lda", "ts_lr") for s in ("S01", "S02")]
    assert "fitted on the other subjects alone" in results_markdown(spec, recs, [])
    refit = [dict(r, inner_on="train+adapt") for r in recs]
    assert "inner cross-validation is of the pipeline as refit" in results_markdown(spec, refit, [])


def test_subjects_reaching_the_chance_level_count_as_above_chance():
    """Point 2: the chance level is the smallest k/n with P(X >= k) <= 0.05, so k correct is significant."""
    from scipy.stats import binom

    from eegclf.reporting.benchmark.tables import results_markdown, summarize

    spec = _spec(["csp_lda", "ts_lr"])
    recs = [_fold("csp_lda", s, 0, k, 15, 0.7) for s, k in (("S1", 12), ("S2", 11), ("S3", 15), ("S4", 12))]
    recs += [_fold("ts_lr", s, 0, 8, 15, 0.6) for s in ("S1", "S2", "S3", "S4")]
    md = results_markdown(spec, recs, [])
    assert binom.sf(11, 15, 0.5) < 0.02  # 12 of 15 correct: p = 0.018
    assert _summary_row(md, "CSP+LDA")[5] == "3/4"  # 12, 15 and 12 of 15 reach 0.800; 11 does not
    assert _summary_row(md, "TS+LR")[5] == "0/4"
    assert summarize(spec, recs).chance["S1"] == 0.8
    from eegclf.reporting.stats import chance_count, chance_level

    for n in (9, 15, 45, 60):
        for c in (2, 4):
            k = chance_count(n, c)
            assert binom.sf(k - 1, n, 1 / c) <= 0.05 < binom.sf(k - 2, n, 1 / c)
            assert chance_level(n, c) == k / n


def test_wilcoxon_is_exact_and_blind_to_float_noise():
    """Point 3: per-subject accuracy from counts (exact fractions), zero differences dropped, mid-ranks for
    ties, the exact sign-flip distribution: the same folds give the same p on any scipy."""
    import warnings
    from fractions import Fraction

    from scipy.stats import wilcoxon

    from eegclf.reporting.benchmark.tables import summarize

    # within-subject, 5 folds of 9 trials: EEGNet equals the reference on S1-S4 in total, but in another fold
    # order, so a float mean of fold accuracies differs from the reference's by 1e-16
    same = [((7, 6, 8, 5, 7), (7, 6, 5, 8, 7)), ((3, 3, 9, 9, 9), (7, 6, 8, 5, 7)),
            ((7, 6, 5, 8, 7), (7, 6, 8, 5, 7)), ((7, 6, 8, 5, 7), (3, 3, 9, 9, 9))]
    moved = [((5, 5, 5, 5, 5), (7, 6, 8, 5, 7)), ((6, 6, 6, 6, 6), (7, 6, 8, 5, 7)),
             ((8, 8, 8, 8, 8), (7, 6, 8, 5, 7)), ((4, 4, 4, 4, 4), (6, 6, 6, 6, 6)),
             ((9, 9, 8, 8, 8), (7, 6, 8, 5, 7))]
    recs = []
    for i, (net, ref) in enumerate(same + moved):
        s = f"S{i + 1}"
        if i < len(same):  # equal in total, unequal as float means
            assert sum(net) == sum(ref) and np.mean([k / 9 for k in net]) != np.mean([k / 9 for k in ref])
        recs += [_fold("eegnet", s, f, k, 9) for f, k in enumerate(net)]
        recs += [_fold("ts_lr", s, f, k, 9, 0.8) for f, k in enumerate(ref)]
        recs += [_fold("csp_lda", s, f, 4, 9, 0.6) for f in range(5)]
    sm = summarize(_spec(["eegnet", "ts_lr", "csp_lda"], "within-subject"), recs)
    exact = [sum(net) - sum(ref) for net, ref in same + moved]  # in 1/45 units, from the integer counts
    same_acc = sm.per_subject["eegnet"]["S1"]["accuracy"] == sm.per_subject["ts_lr"]["S1"]["accuracy"]
    assert sm.comparisons["eegnet"][1] == pytest.approx(_brute_wilcoxon(exact), abs=1e-12)
    assert sm.comparisons["eegnet"][0] == pytest.approx(sum(exact) / 45 / 9)
    assert same_acc
    from eegclf.reporting.stats import wilcoxon_p

    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is silenced, nothing warns
        for _ in range(10):  # ties and zeros: the enumeration; no ties: scipy's exact distribution agrees
            a, b = rng.integers(5, 15, 10), rng.integers(5, 15, 10)
            fa, fb = [Fraction(int(x), 15) for x in a], [Fraction(int(x), 15) for x in b]
            assert wilcoxon_p(fa, fb) == pytest.approx(_brute_wilcoxon(list(a - b)), abs=1e-12)
            x, y = rng.normal(size=9), rng.normal(size=9)
            assert wilcoxon_p(x, y) == pytest.approx(wilcoxon(x, y, method="exact").pvalue, abs=1e-12)
    assert np.isnan(wilcoxon_p([Fraction(1, 3)] * 3, [Fraction(1, 3)] * 3))


def test_subject_interval_covers_95_percent_of_simulated_12_subject_sets():
    """Point 4: 2,000 sets of 12 subjects (true accuracy ~ Beta with mean 0.65 and sd 0.15, 15 test trials
    each): the 95 % interval the report prints must hold the population mean in 93-97 % of them (a
    percentile bootstrap holds it in about 91 %)."""
    from eegclf.reporting.benchmark.tables import results_markdown

    rng = np.random.default_rng(24)
    mean, sd = 0.65, 0.15
    k = mean * (1 - mean) / sd**2 - 1
    counts = rng.binomial(15, rng.beta(mean * k, (1 - mean) * k, size=(2000, 12)))
    covered = []
    for c in counts:
        recs = [_fold("eegnet", f"S{i:02d}", 0, int(x), 15) for i, x in enumerate(c)]
        lo, hi = (float(v) for v in _summary_row(results_markdown(_spec(["eegnet"]), recs, []), "EEGNet")[2]
                  .strip("[]").split(","))
        covered.append(lo <= mean <= hi)
    assert 0.93 <= np.mean(covered) <= 0.97


def test_p_values_below_a_thousandth_print_as_less_than_not_zero():
    """Issue 34, defect 3: a p-value under 0.001 prints as ``< 0.001`` in every report, never ``0.000``."""
    from eegclf.reporting.benchmark.tables import results_markdown
    from eegclf.reporting.stats import format_p
    from eegclf.reporting.tables import _p

    subjects = [f"S{i:02d}" for i in range(1, 13)]  # 12 subjects, all better: exact two-sided p = 2 / 2**12
    recs = [_fold("eegnet", s, 0, 10 + i % 5, 15) for i, s in enumerate(subjects)]
    recs += [_fold("csp_lda", s, 0, 5 + i % 3, 15, 0.6) for i, s in enumerate(subjects)]
    row = _summary_row(results_markdown(_spec(["eegnet", "csp_lda"]), recs, []), "EEGNet")
    assert row[7] == "< 0.001" and row[8] == "< 0.001", row  # p (Wilcoxon), p (Holm)
    assert [format_p(p) for p in (0.0004, 0.001, 0.0123, 1.0, float("nan"))] == ["< 0.001", "0.001", "0.012",
                                                                                  "1.000", "–"]
    assert _p(0.0004) == "p < 0.001" and _p(0.25) == "p = 0.250"
