"""build_report: the tables, figures and report.md of a study folder, from saved files only."""

from __future__ import annotations

import sys
from pathlib import Path

from eegclf.errors import EEGClfError
from eegclf.storage.fileio import atomic_write_csv, atomic_write_text
from eegclf.reporting.collect import Run, display_name, load_runs, models_in
from eegclf.reporting.figures import accuracy_bars, accuracy_figure, loss_figure
from eegclf.models import get_model
from eegclf.reporting.filter_responses import filter_figure
from eegclf.storage.rundir import RunDir
from eegclf.reporting.tables import CSV_COLUMNS, csv_rows, results_markdown


def _val_fraction(runs: list[Run]) -> float | None:
    try:
        return float(RunDir(runs[0].path).read_config_dict()["val_fraction"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _protocol(runs: list[Run]) -> str:
    vf = _val_fraction(runs)
    held = f"{vf:.0%} of the training data" if vf is not None else "part of the training data"
    return (
        "**Protocol.** Every (model, activation) setting is trained once per seed. Each run holds out "
        f"{held} as a validation set (stratified, per subject where subjects are known), keeps the "
        "checkpoint of the epoch with the best validation accuracy, and measures the test set at that "
        "epoch: this *validation-selected* test accuracy is the headline number. The last-epoch test "
        "accuracy is shown beside it; the original study's best-epoch test accuracy (the epoch chosen on the "
        "test set itself) is shown only as a labelled, optimistic reference. Nothing here was retrained "
        "to build the report: it is read from each run's saved summary and history."
    )


def _has_temporal_kernels(model: str) -> bool:
    try:
        return get_model(model).temporal_kernels is not None
    except ValueError:
        return False


def _image(path: Path, out_dir: Path, alt: str) -> str:
    return f"![{alt}]({path.relative_to(out_dir).as_posix()})"


def build_report(out_dir) -> Path:
    """Write results.csv, results.md, figures/*.png and report.md into ``out_dir``; return report.md's path.

    Reads each complete run folder's summary and history (and, for EEGNet's filter figure, the
    runs' checkpoints); never retrains. results.md is byte-identical on every call for the same runs.
    Raises DataError when ``out_dir`` holds no finished run.
    """
    out_dir = Path(out_dir)
    runs = load_runs(out_dir)
    atomic_write_csv(out_dir / "results.csv", CSV_COLUMNS, csv_rows(runs))
    atomic_write_text(out_dir / "results.md", results_markdown(runs))

    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    md = [f"# eegclf study: {', '.join(dict.fromkeys(str(r.summary.get('dataset', '?')) for r in runs))}",
          "", _protocol(runs), "", results_markdown(runs, heading_level=2).rstrip("\n"), "",
          "Per-run numbers: [results.csv](results.csv). Each run's config, per-epoch history and "
          "checkpoints are in `runs/<model>-<activation>-seed<seed>/`.", ""]

    curve_models = [m for m in models_in(runs) if any(r.n_epochs >= 2 for r in runs if r.model == m)]
    if curve_models:
        md += ["## Accuracy per epoch", "",
               "The original study's comparison figure, one per model: train (dashed) and test (solid) accuracy "
               "per epoch for each activation, mean over seeds with a ±1 std band. Test accuracy is only "
               "watched here, never used to choose anything.", ""]
        for m in curve_models:
            p = accuracy_figure(runs, m, fig_dir / f"accuracy_{m}.png")
            md += [f"### {display_name(m)}", "", _image(p, out_dir, f"{display_name(m)} accuracy per epoch"), ""]
        md += ["## Loss per epoch", "", "Cross-entropy on the training, validation and test parts.", ""]
        for m in curve_models:
            p = loss_figure(runs, m, fig_dir / f"loss_{m}.png")
            md += [f"### {display_name(m)}", "", _image(p, out_dir, f"{display_name(m)} loss per epoch"), ""]

    p = accuracy_bars(runs, fig_dir / "test_accuracy.png")
    md += ["## Test accuracy of every setting", "",
           "Validation-selected test accuracy, mean ± std over seeds; the dots are the single seeds.", "",
           _image(p, out_dir, "test accuracy per model and activation"), ""]

    for m in [m for m in models_in(runs) if _has_temporal_kernels(m)]:
        md += [f"## What {display_name(m)} listens to", ""]
        try:
            p = filter_figure(runs, m, fig_dir / f"filters_{m}.png")
        except (EEGClfError, ValueError, KeyError, OSError, ImportError) as exc:
            print(f"eegclf report: skipped the {display_name(m)} filter figure: {exc}", file=sys.stderr)
            p = None
        if p is None:
            md += ["(No readable checkpoint was found, so the filter responses are not shown.)", ""]
            continue
        md += ["Magnitude response of each first-layer temporal filter (an FIR filter at the data's sampling "
               "rate), from the validation-selected checkpoint of each activation's first seed: one row per "
               "filter, sorted by its peak frequency (white dots), colour in dB relative to the filter's own "
               "peak (a BatchNorm follows this layer, so only the shape matters). The vertical lines mark the "
               "mu (8–13 Hz) and beta (15–30 Hz) bands, where motor imagery changes the EEG.", "",
               _image(p, out_dir, f"{display_name(m)} first-layer filter responses"), ""]

    report = out_dir / "report.md"
    atomic_write_text(report, "\n".join(md).rstrip("\n") + "\n")
    return report
