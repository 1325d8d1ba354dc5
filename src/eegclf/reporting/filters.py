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

from eegclf.reporting.collect import Run, display_name, group_runs
from eegclf.reporting.figures import STYLE, save_png

BANDS = (("mu 8–13 Hz", 8.0, 13.0, "#ffd92f"), ("beta 15–30 Hz", 15.0, 30.0, "#a6d854"))
FLOOR_DB = -40.0


def is_eegnet(model: str) -> bool:
    return model.startswith("eegnet")


def temporal_kernels(checkpoint: Path) -> tuple[np.ndarray, float]:
    """The first conv's kernels (F, K) and the sampling rate (Hz) from a checkpoint file.

    Raises CheckpointError (via load_checkpoint) for unreadable files, ValueError when the first
    convolution is not a bank of 1-D temporal kernels.
    """
    import torch

    from eegclf.checkpoint import load_checkpoint

    model, meta = load_checkpoint(checkpoint)
    conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    if conv is None:
        raise ValueError(f"{checkpoint}: the model has no Conv2d layer")
    w = conv.weight.detach().cpu().numpy()
    if w.ndim != 4 or w.shape[1] != 1 or w.shape[2] != 1:
        raise ValueError(f"{checkpoint}: first Conv2d weight has shape {w.shape}, expected (F, 1, 1, K)")
    return w[:, 0, 0, :].astype(np.float64), float(meta["sfreq"])


def responses_db(kernels: np.ndarray, sfreq: float, n_freqs: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (n_freqs,) in Hz and magnitudes (F, n_freqs) in dB relative to each filter's peak."""
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
            if (r.path / "best.safetensors").is_file() or (r.path / "last.safetensors").is_file():
                chosen[act] = r
                break
    return chosen


def filter_figure(runs: list[Run], model: str, path: Path) -> Path | None:
    """One panel per activation: every first-layer filter's response, mu and beta bands shaded.

    Uses the validation-selected checkpoint (best.safetensors) of each activation's lowest seed.
    Returns None when no run of ``model`` has a checkpoint.
    """
    chosen = pick_runs(runs, model)
    if not chosen:
        return None
    panels = []
    for act, r in chosen.items():
        ckpt = r.path / "best.safetensors"
        if not ckpt.is_file():
            ckpt = r.path / "last.safetensors"
        kernels, sfreq = temporal_kernels(ckpt)
        panels.append((act, r.seed, sfreq, *responses_db(kernels, sfreq), len(kernels), kernels.shape[1]))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(4.4 * len(panels) + 0.6, 4.9), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True, squeeze=False)[0])
        for ax, (act, seed, sfreq, freqs, mags, n_filters, k) in zip(axes, panels):
            for name, lo, hi, color in BANDS:
                ax.axvspan(lo, hi, color=color, alpha=0.35, linewidth=0, label=name)
            for i, mag in enumerate(mags):
                ax.plot(freqs, mag, color="#4a6fa5", alpha=0.45, linewidth=1,
                        label=f"one filter ({n_filters} filters, {k} taps)" if i == 0 else None)
            ax.plot(freqs, np.median(mags, axis=0), color="black", linewidth=2.2, label="median over filters")
            ax.set_xlim(0, sfreq / 2)
            ax.set_ylim(FLOOR_DB, 3)
            ax.set_title(f"{act} (seed {seed})")
            ax.set_xlabel("frequency (Hz)")
        axes[0].set_ylabel("magnitude (dB re. each filter's peak)")
        fig.suptitle(f"{display_name(model)}: frequency responses of the first-layer temporal filters")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4)
        return save_png(fig, path)
