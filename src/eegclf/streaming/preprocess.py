"""The training data's preprocessing, redone causally on a stream: reference, channel selection, band-pass.

What the eegmmidb loader did offline (recorded in the checkpoint's ``dataset_options``) and what is done here:

============================ ============================================= =====================================
offline (loader)             online (this module)                          same?
============================ ============================================= =====================================
average reference (all EEG)  mean over all stream channels, per sample     yes (instantaneous)
pick ``ch_names``            ``ch_names`` matched by name (data.channels)  yes; missing ones interpolated
zero-phase FIR band-pass     causal Butterworth IIR band-pass with state   no: same band, but delay/phase shift
resample (whole recording)   per window in :class:`~.decoder.Decoder`      nearly (window edges differ)
============================ ============================================= =====================================
"""

from __future__ import annotations

import numpy as np

from eegclf.data.channels import match_channels
from eegclf.streaming.causal_bandpass import OnlineBandpass


class OnlinePreprocessor:
    """Stream chunks ``(n_stream_chans, n)`` -> the model's channels ``(len(meta["ch_names"]), n)`` float32.

    Args:
        stream_ch_names: channel names of the stream, in row order.
        sfreq: the stream's sampling rate in Hz.
        meta: checkpoint metadata (``ch_names``, ``dataset_options`` with ``reference``, ``l_freq``, ``h_freq``).
    """

    def __init__(self, stream_ch_names: list[str], sfreq: float, meta: dict):
        opts = meta.get("dataset_options") or {}
        # the model's channels matched by name: reordered, extras dropped, missing ones interpolated
        self.match = match_channels(list(stream_ch_names), list(meta["ch_names"]), what="the stream")
        self.n_chans = len(self.match.network)
        self.picks = self.matrix = None
        if self.match.missing:
            self.matrix = self.match.matrix().astype(np.float32)
        else:
            self.picks = np.asarray(self.match.rows, dtype=np.intp)
        self.average_reference = opts.get("reference") == "average"
        l_freq = opts.get("l_freq") or None  # 0 Hz means no high-pass
        h_freq = opts.get("h_freq")
        self.bandpass = OnlineBandpass(self.n_chans, sfreq, l_freq, h_freq)

    def describe(self) -> list[str]:
        ref = "average reference over all stream channels" if self.average_reference else "no re-referencing"
        band = self.bandpass.describe()
        if self.bandpass.active:
            band += " (the training data were filtered zero-phase offline: same band, different phase)"
        note = self.match.note()
        return [ref, band] + ([note] if note else [])

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        if self.average_reference:
            chunk = chunk - chunk.mean(axis=0, keepdims=True)
        chunk = chunk[self.picks] if self.matrix is None else self.matrix @ chunk
        return self.bandpass(chunk)
