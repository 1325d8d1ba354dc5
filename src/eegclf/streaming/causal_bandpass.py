"""Causal band-pass filtering with state, so a signal filtered chunk by chunk equals the signal filtered whole."""

from __future__ import annotations

import numpy as np
from scipy import signal

from eegclf.errors import ConfigError


class OnlineBandpass:
    """A Butterworth IIR filter (second-order sections) applied sample by sample across chunks.

    ``l_freq`` only: high-pass; ``h_freq`` only: low-pass; both: band-pass; neither: pass-through. It is causal
    (it only looks back), so it delays and phase-shifts the signal, unlike the zero-phase offline filters of
    the loaders; the state starts at the steady state of the first sample to avoid a start-up transient.

    Args:
        n_chans: channels (rows of every chunk).
        sfreq: sampling rate in Hz.
        l_freq, h_freq: edges in Hz (None for no edge).
        order: Butterworth order per edge (4 by default).
    """

    def __init__(self, n_chans: int, sfreq: float, l_freq: float | None, h_freq: float | None, order: int = 4):
        nyq = sfreq / 2.0
        for name, f in (("l_freq", l_freq), ("h_freq", h_freq)):
            if f is not None and not (0 < f < nyq):
                raise ConfigError(f"{name}={f} Hz is invalid for a stream at {sfreq:g} Hz: expected 0 < f < {nyq:g}")
        if l_freq is not None and h_freq is not None and not l_freq < h_freq:
            raise ConfigError(f"band-pass {l_freq}-{h_freq} Hz is invalid: expected l_freq < h_freq")
        self.l_freq, self.h_freq, self.order = l_freq, h_freq, int(order)
        if l_freq is not None and h_freq is not None:
            self.sos = signal.butter(order, [l_freq, h_freq], btype="bandpass", fs=sfreq, output="sos")
        elif l_freq is not None:
            self.sos = signal.butter(order, l_freq, btype="highpass", fs=sfreq, output="sos")
        elif h_freq is not None:
            self.sos = signal.butter(order, h_freq, btype="lowpass", fs=sfreq, output="sos")
        else:
            self.sos = None
        self.n_chans = int(n_chans)
        self._zi = None

    @property
    def active(self) -> bool:
        return self.sos is not None

    def describe(self) -> str:
        if not self.active:
            return "no band-pass"
        band = {(True, True): f"band-pass {self.l_freq:g}-{self.h_freq:g} Hz",
                (True, False): f"high-pass {self.l_freq:g} Hz",
                (False, True): f"low-pass {self.h_freq:g} Hz"}[(self.l_freq is not None, self.h_freq is not None)]
        return f"causal Butterworth {band} (order {self.order}, IIR with state)"

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        """Filter ``chunk`` (n_chans, n) and return the filtered chunk, same shape, float32."""
        if self.sos is None or chunk.shape[1] == 0:
            return np.asarray(chunk, dtype=np.float32)
        x = np.asarray(chunk, dtype=np.float64)
        if self._zi is None:
            # steady state for a constant input equal to the first sample of each channel
            base = signal.sosfilt_zi(self.sos)  # (n_sections, 2)
            self._zi = base[:, None, :] * x[None, :, 0, None]  # (n_sections, n_chans, 2)
        y, self._zi = signal.sosfilt(self.sos, x, axis=1, zi=self._zi)
        return y.astype(np.float32)
