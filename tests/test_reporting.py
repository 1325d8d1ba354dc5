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

    from eegclf.checkpoint import save_checkpoint
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
