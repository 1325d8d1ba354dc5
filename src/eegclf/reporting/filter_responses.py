"""What EEGNet listens to: frequency responses of its first-layer temporal filters.

The first ``nn.Conv2d`` of an EEGNet holds F temporal kernels of shape (1, 1, K) (weight (F, 1, 1, K)).
Each kernel is an FIR filter at the data's sampling rate; its magnitude response (``scipy.signal.freqz``)
shows which frequencies the network passes on. A BatchNorm follows the convolution and rescales every
filter's output, so each response is drawn relative to its own peak (0 dB).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from eegclf.reporting.collect import Run, display_name, group_runs
from eegclf.reporting.figures import STYLE, save_png
from eegclf.storage.rundir import RunDir

BANDS = (("mu band 8–13 Hz", 8.0, 13.0, "#4dd0e1"), ("beta band 15–30 Hz", 15.0, 30.0, "#76ff03"))
FLOOR_DB = -40.0


def temporal_kernels(checkpoint: Path) -> tuple[np.ndarray, float, int | None]:
    """The first conv's kernels (F, K), the sampling rate (Hz) and the checkpoint's epoch.

    Raises CheckpointError (via load_checkpoint) for unreadable files, ValueError when the first
    convolution is not a bank of 1-D temporal kernels.
    """
    import torch

    from eegclf.storage.checkpoint import load_checkpoint

    model, meta = load_checkpoint(checkpoint)
    conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    if conv is None:
        raise ValueError(f"{checkpoint}: the model has no Conv2d layer")
    w = conv.weight.detach().cpu().numpy()
    if w.ndim != 4 or w.shape[1] != 1 or w.shape[2] != 1:
        raise ValueError(f"{checkpoint}: first Conv2d weight has shape {w.shape}, expected (F, 1, 1, K)")
    return w[:, 0, 0, :].astype(np.float64), float(meta["sfreq"]), meta.get("epoch")


def responses_db(kernels: np.ndarray, sfreq: float, n_freqs: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (n_freqs,) in Hz and magnitudes (F, n_freqs) in dB relative to each filter's peak,
    floored at FLOOR_DB."""
    from scipy.signal import freqz

    mags = []
    for k in kernels:
        freqs, h = freqz(k, worN=n_freqs, fs=sfreq)
        mag = np.abs(h)
        mags.append(20 * np.log10(np.maximum(mag / max(mag.max(), 1e-30), 1e-12)))
    return freqs, np.maximum(np.array(mags), FLOOR_DB)


def pick_runs(runs: list[Run], model: str) -> dict[str, Run]:
    """activation -> the run of its lowest seed that has a checkpoint (best, else last)."""
    chosen = {}
    for (m, act), rs in group_runs(runs).items():
        if m != model:
            continue
        for r in sorted(rs, key=lambda r: r.seed):
            if RunDir(r.path).has_checkpoint():
                chosen[act] = r
                break
    return chosen


def filter_figure(runs: list[Run], model: str, path: Path) -> Path | None:
    """One heat map per activation: rows are the first-layer filters (sorted by peak frequency), columns
    frequency, colour the magnitude in dB re. each filter's peak; white dots mark the peaks, dashed lines
    the mu and beta bands.

    Uses the validation-selected checkpoint of each activation's lowest seed (the last one if it has none).
    Returns None when no run of ``model`` has a checkpoint.
    """
    chosen = pick_runs(runs, model)
    if not chosen:
        return None
    panels = []
    for act, r in chosen.items():
        run = RunDir(r.path)
        ckpt = run.checkpoint_path("best")
        if not ckpt.is_file():
            ckpt = run.checkpoint_path("last")
        kernels, sfreq, epoch = temporal_kernels(ckpt)
        freqs, mags = responses_db(kernels, sfreq)
        peaks = freqs[np.argmax(mags, axis=1)]
        order = np.argsort(peaks, kind="stable")
        panels.append((act, r.seed, epoch, sfreq, freqs, mags[order], peaks[order], kernels.shape[1]))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(9, 1.2 + 2.6 * len(panels)), layout="constrained")
        axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0])
        for ax, (act, seed, epoch, sfreq, freqs, mags, peaks, k) in zip(axes, panels):
            n = len(mags)
            image = ax.imshow(mags, aspect="auto", origin="lower", cmap="magma", vmin=FLOOR_DB, vmax=0,
                              extent=(freqs[0], freqs[-1], 0.5, n + 0.5), interpolation="nearest")
            ax.scatter(peaks, np.arange(1, n + 1), s=12, color="white", edgecolors="black", linewidths=0.5,
                       label="peak of each filter")
            for (name, lo, hi, color), style in zip(BANDS, ("--", ":")):
                for i, edge in enumerate((lo, hi)):
                    ax.axvline(edge, color=color, linestyle=style, linewidth=1.8, label=name if i == 0 else None)
            at = f", epoch {epoch}" if epoch is not None else ""
            ax.set_title(f"{act} (seed {seed}{at}): {n} filters of {k} taps", loc="left")
            ax.set_ylabel("filter\n(by peak freq.)")
            ax.set_xlim(0, sfreq / 2)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
            ax.grid(False)
        axes[-1].set_xlabel("frequency (Hz)")
        fig.colorbar(image, ax=list(axes), label="magnitude (dB re. filter's peak)", shrink=0.9)
        fig.suptitle(f"{display_name(model)}: frequency responses of the first-layer temporal filters")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3)
        return save_png(fig, path)
