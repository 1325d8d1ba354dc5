"""Human-readable facts about a loaded data set, for ``eegclf data info``."""

from __future__ import annotations

import numpy as np

from eegclf.data.base import EEGDataset, Split


def _count_table(dataset: EEGDataset) -> list[str]:
    """Rows: per split and subject, the trial count of each class, then per-split and overall totals."""
    names = dataset.class_names
    header = ["split", "subject", *names, "total"]
    rows = []

    def row(part, subject, y):
        counts = [int(np.sum(y == k)) for k in range(len(names))]
        rows.append([part, subject, *map(str, counts), str(len(y))])

    for part, split in (("train", dataset.train), ("test", dataset.test)):
        subjects = list(dict.fromkeys(split.subjects.tolist()))
        for s in subjects:
            row(part, s, split.y[split.subjects == s])
        row(part, "all", split.y)
    row("both", "all", np.concatenate([dataset.train.y, dataset.test.y]))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  " + "  ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return [fmt(header), *(fmt(r) for r in rows)]


def _runs(split: Split) -> str:
    runs = sorted(set(split.runs.tolist()))
    return "unknown" if runs == [-1] or not runs else ", ".join(map(str, runs))


def _verification(ver) -> list[str]:
    if not ver or not ver.get("checked"):
        return ["verification: not checked (verify=false)"]
    status = "all files match the original study's genuine files" if ver.get("all_ok") else "MISMATCH"
    lines = [f"verification (git blob ids): {status}"]
    for name, f in ver.get("files", {}).items():
        mark = "ok" if f["ok"] else f"DIFFERS (found {f['blob']}, expected {f['expected']})"
        lines.append(f"  {name}: {mark}")
    return lines


def format_info(dataset: EEGDataset) -> str:
    """Shape, class counts per split and subject, sampling rate, channels, NaN count, bci3b verification."""
    d = dataset
    opts = ", ".join(f"{k}={v}" for k, v in d.options.items())
    n_times = d.n_times
    lines = [
        f"data set: {d.name}",
        f"options: {opts or '(defaults)'}",
        f"shape (trials, 1, channels, time): train {tuple(d.train.X.shape)}, test {tuple(d.test.X.shape)}",
        f"sampling rate: {d.sfreq:g} Hz; {n_times} samples per trial ({n_times / d.sfreq:.2f} s)",
        f"channels ({d.n_chans}): {', '.join(d.ch_names)}",
        f"classes ({d.n_classes}): " + ", ".join(f"{k}={n}" for k, n in enumerate(d.class_names)),
        "trials per class:",
        *_count_table(d),
    ]
    if _runs(d.train) != "unknown" or _runs(d.test) != "unknown":
        lines.append(f"runs: train {_runs(d.train)}; test {_runs(d.test)}")
    n_nans = d.info.get("n_nans")
    if n_nans is not None:
        per = d.info.get("n_nans_per_split")
        detail = f" (train {per['train']}, test {per['test']})" if per else ""
        filled = " ; filled with the training per-channel mean" if n_nans else ""
        lines.append(f"NaN samples in the raw data: {n_nans}{detail}{filled}")
    if "verification" in d.info:
        lines.extend(_verification(d.info["verification"]))
    return "\n".join(lines)
