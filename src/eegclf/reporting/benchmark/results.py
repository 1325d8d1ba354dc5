"""build_benchmark_report: results.csv, timings.csv, results.md and figures of a benchmark folder, from its fold
files only."""

from __future__ import annotations

from pathlib import Path

from eegclf.benchmark.folder import BenchmarkFolder
from eegclf.errors import DataError
from eegclf.storage.fileio import atomic_write_csv, atomic_write_text
from eegclf.reporting.benchmark.figures import per_subject_figure, scatter_figure
from eegclf.reporting.benchmark.provenance import provenance_markdown
from eegclf.reporting.benchmark.tables import (
    CSV_COLUMNS,
    TIMING_COLUMNS,
    _header,
    csv_rows,
    results_body,
    results_markdown,
    summarize,
)


def build_benchmark_report(out_dir) -> Path:
    """Write the report of the benchmark in ``out_dir``; return the path of results.md. Byte-identical when
    run again on the same folder (nothing is retrained)."""
    out_dir = Path(out_dir)
    folder = BenchmarkFolder(out_dir)
    spec = folder.read_spec()
    records = folder.read_folds()
    if not records:
        raise DataError(f"{out_dir} holds no finished fold yet: run the benchmark first")
    atomic_write_csv(out_dir / "results.csv", CSV_COLUMNS, csv_rows(records))
    atomic_write_csv(out_dir / "timings.csv", TIMING_COLUMNS, csv_rows(records, TIMING_COLUMNS))
    if spec.get("calibration_trials"):
        return atomic_write_text(out_dir / "results.md", _curve_report(out_dir, spec, records))
    sm = summarize(spec, records)
    fig_dir = out_dir / "figures"
    figures = [per_subject_figure(sm, fig_dir / "per_subject.png")]
    if sm.reference is not None:
        figures += [scatter_figure(sm, p, fig_dir / f"scatter_{p}.png") for p in sm.pipelines]
    md = results_markdown(spec, records, [f.relative_to(out_dir).as_posix() for f in figures])
    md += "\n".join(["", *provenance_markdown(spec, records)])
    return atomic_write_text(out_dir / "results.md", md)


def _curve_report(out_dir: Path, spec: dict, records: list[dict]) -> str:
    """results.md of a calibration curve: the curve (table, figure), then the full report of each N."""
    from eegclf.reporting.benchmark.curve import by_count, curve_figure, curve_table, curve_text, missing_note

    curve = curve_figure(spec, records, out_dir / "figures" / "calibration_curve.png")
    lines = [*_header(spec, records), "## Calibration curve", "", curve_text(spec), "", *curve_table(spec, records),
             "", f"![{curve.relative_to(out_dir).as_posix()}]({curve.relative_to(out_dir).as_posix()})", ""]
    for n, rs in by_count(spec, records).items():
        lines += [f"## N = {n} calibration trials", ""]
        if not rs:
            lines += ["No fold finished yet.", ""]
            continue
        sm = summarize(spec, rs)
        fig_dir = out_dir / "figures" / f"n{n}"
        figures = [per_subject_figure(sm, fig_dir / "per_subject.png")]
        if sm.reference is not None:
            figures += [scatter_figure(sm, p, fig_dir / f"scatter_{p}.png") for p in sm.pipelines]
        lines += [*missing_note(spec, rs), *results_body(spec, rs, [f.relative_to(out_dir).as_posix() for f in figures])]
    return "\n".join(lines)
