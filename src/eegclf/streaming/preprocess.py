"""The training data's preprocessing, redone causally on a stream: reference, channel selection, band-pass.

What the eegmmidb loader did offline (recorded in the checkpoint's ``dataset_options``) and what is done here:

============================ ============================================= =====================================
offline (loader)             online (this module)                          same?
============================ ============================================= =====================================
average reference (all EEG)  mean over all stream channels, per sample     yes (instantaneous)
pick ``ch_names``            pick ``ch_names`` (case-insensitive)          yes
zero-phase FIR band-pass     causal Butterworth IIR band-pass with state   no: same band, but delay/phase shift
resample (whole recording)   per window in :class:`~.decoder.Decoder`      nearly (window edges differ)
============================ ============================================= =====================================
"""

from __future__ import annotations

import numpy as np

from eegclf.errors import DataError
from eegclf.streaming.causal_bandpass import OnlineBandpass
from eegclf.streaming.sources import standard_channel_name


def match_channels(available: list[str], wanted: list[str]) -> list[int]:
    """Row indices of ``wanted`` in ``available`` (case-insensitive, EDF dot padding ignored)."""
    lookup: dict[str, int] = {}
    for i, name in enumerate(available):
        lookup.setdefault(standard_channel_name(name).lower(), i)
    missing = [c for c in wanted if standard_channel_name(c).lower() not in lookup]
    if missing:
        raise DataError(f"the stream lacks the model's channel(s) {missing}; it has: {', '.join(available)}")
    return [lookup[standard_channel_name(c).lower()] for c in wanted]


class OnlinePreprocessor:
    """Stream chunks ``(n_stream_chans, n)`` -> the model's channels ``(len(meta["ch_names"]), n)`` float32.

    Args:
        stream_ch_names: channel names of the stream, in row order.
        sfreq: the stream's sampling rate in Hz.
        meta: checkpoint metadata (``ch_names``, ``dataset_options`` with ``reference``, ``l_freq``, ``h_freq``).
    """

    def __init__(self, stream_ch_names: list[str], sfreq: float, meta: dict):
        opts = meta.get("dataset_options") or {}
        self.picks = np.asarray(match_channels(list(stream_ch_names), list(meta["ch_names"])), dtype=np.intp)
        self.average_reference = opts.get("reference") == "average"
        l_freq = opts.get("l_freq") or None  # 0 Hz means no high-pass
        h_freq = opts.get("h_freq")
        self.bandpass = OnlineBandpass(len(self.picks), sfreq, l_freq, h_freq)

    def describe(self) -> list[str]:
        ref = "average reference over all stream channels" if self.average_reference else "no re-referencing"
        band = self.bandpass.describe()
        if self.bandpass.active:
            band += " (the training data were filtered zero-phase offline: same band, different phase)"
        return [ref, band]

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        if self.average_reference:
            chunk = chunk - chunk.mean(axis=0, keepdims=True)
        return self.bandpass(chunk[self.picks])
