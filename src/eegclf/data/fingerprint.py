"""A recording's fingerprint: who it is, whatever route loads it and however it is preprocessed.

A checkpoint records the fingerprints of the runs it was trained on, so that the very same recordings are
known again when they come back under another name (EEGMMIDB's ``S001R04.edf`` loaded by the ``files`` loader
as ``files:S001R04``, or through MOABB's ``PhysionetMI``) and a network is not scored on people it saw.

The fingerprint is taken from the raw recording before any preprocessing, so that band, reference, window,
resampling and channel choice do not change it:

- one channel, the first of :data:`PRIORITY` that the recording has (by canonical name: case, EDF dot padding
  and the old aliases T3/T4/T5/T6 do not matter), else the first by name; a channel that hardly moves in the
  stretch (a flat or disconnected one) is passed over for the next;
- the first :data:`N_SAMPLES` samples at the recording's native rate;
- only the sign of each sample-to-sample difference (-1, 0, +1), which is the same in volts or microvolts,
  in float32 or float64;
- hashed with the channel's name and the rounded rate.

Two recordings share a fingerprint only if they rise and fall together sample by sample for the whole stretch,
which distinct EEG recordings never do. A recording too short or too flat for that gets none (``None``), and is
then known by its subject id alone.
"""

from __future__ import annotations

import hashlib

import numpy as np

N_SAMPLES = 2048  # 12.8 s at EEGMMIDB's 160 Hz
MIN_MOVING = 0.5  # share of non-zero differences a channel needs in the stretch to be used
MIN_SAMPLES = 256  # a shorter recording gets no fingerprint
PRIORITY = ("C3", "C4", "CZ", "FC3", "FC4", "CP3", "CP4", "FZ", "PZ", "FP1", "FP2", "O1", "O2")
ALIASES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}
VERSION = "v1"  # in the hash: a change of recipe never matches fingerprints of the old one


def canonical(name: str) -> str:
    """``"Fc5."`` / ``"FC5"`` / ``"fc5"`` -> ``"FC5"``; ``"T3"`` -> ``"T7"``."""
    name = str(name).strip().rstrip(".").upper()
    return ALIASES.get(name, name)


def _order(names: list[str]) -> list[int]:
    """Indices of the channels to try, in order: :data:`PRIORITY` first, then the others by canonical name."""
    canon = [canonical(c) for c in names]
    first = [canon.index(c) for c in PRIORITY if c in canon]
    rest = sorted((i for i in range(len(canon)) if i not in first), key=lambda i: canon[i])
    return first + rest


def fingerprint(data, ch_names, sfreq: float) -> str | None:
    """The fingerprint of a continuous recording ``data`` (channels, samples) with channel names ``ch_names``
    at ``sfreq`` Hz (any unit, any float type); None when it is too short or every channel too flat."""
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] < MIN_SAMPLES + 1 or len(ch_names) != data.shape[0]:
        return None
    for i in _order(list(ch_names)):
        d = np.diff(data[i, : N_SAMPLES + 1].astype(np.float64))
        signs = (d > 0).astype(np.int8) - (d < 0).astype(np.int8)  # NaN compares false: 0
        if np.count_nonzero(signs) < MIN_MOVING * len(signs):
            continue
        head = f"{VERSION}|{canonical(ch_names[i])}|{int(round(float(sfreq)))}|".encode()
        return hashlib.sha256(head + signs.tobytes()).hexdigest()[:20]
    return None


def raw_fingerprint(raw) -> str | None:
    """The fingerprint of an MNE Raw as read from its file (before any preprocessing); stim channels are
    passed over. Reads only the stretch it needs."""
    types = raw.get_channel_types()
    picks = [i for i, t in enumerate(types) if t != "stim"]
    if not picks:
        return None
    stop = min(raw.n_times, N_SAMPLES + 1)
    data = raw.get_data(picks=picks, start=0, stop=stop)
    return fingerprint(data, [raw.ch_names[i] for i in picks], raw.info["sfreq"])


__all__ = ["fingerprint", "raw_fingerprint", "canonical", "N_SAMPLES", "PRIORITY"]
