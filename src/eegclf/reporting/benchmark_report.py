"""build_benchmark_report: results.csv, results.md and figures of a benchmark folder, from its fold files only."""

from __future__ import annotations

from pathlib import Path

from eegclf.benchmark.folder import BenchmarkFolder
from eegclf.errors import DataError
from eegclf.fileio import atomic_write_csv, atomic_write_text
from eegclf.reporting.benchmark_figures import per_subject_figure, scatter_figure
from eegclf.reporting.benchmark_provenance import provenance_markdown
from eegclf.reporting.benchmark_tables import (
    CSV_COLUMNS,
    csv_rows,
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
    sm = summarize(spec, records)
    fig_dir = out_dir / "figures"
    figures = [per_subject_figure(sm, fig_dir / "per_subject.png")]
    if sm.reference is not None:
        figures += [scatter_figure(sm, p, fig_dir / f"scatter_{p}.png") for p in sm.pipelines]
    md = results_markdown(spec, records, [f.relative_to(out_dir).as_posix() for f in figures])
    md += "\n".join(["", *provenance_markdown(spec, records)])
    return atomic_write_text(out_dir / "results.md", md)
