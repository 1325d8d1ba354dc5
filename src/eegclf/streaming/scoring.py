"""Which streamed windows lie inside a cued trial, and with which label: the ground truth of a replay."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eegclf.streaming.sources import Event


@dataclass(frozen=True)
class Trial:
    """A cued trial in samples of the stream: ``[start, stop)``, with its class index."""

    start: int
    stop: int
    label: int


def cued_trials(events: list[Event], event_classes: dict[str, int], sfreq: float) -> list[Trial]:
    """The events whose description is in ``event_classes`` (e.g. ``{"T1": 0, "T2": 1}``), in samples.

    A trial covers the samples ``round(onset * sfreq)`` up to ``round((onset + duration) * sfreq)`` (exclusive).
    """
    trials = [Trial(int(round(e.onset * sfreq)), int(round((e.onset + e.duration) * sfreq)),
                    event_classes[e.description]) for e in events if e.description in event_classes]
    return sorted(trials, key=lambda t: t.start)


class TrialLookup:
    """The label of a window given the sample just after its end, or None when it is not inside one trial."""

    def __init__(self, trials: list[Trial], window: int):
        self.trials, self.window = trials, int(window)
        self._starts = np.array([t.start for t in trials], dtype=np.int64)

    def label(self, end: int) -> int | None:
        """Class of the trial containing the samples ``[end - window, end)`` whole, else None."""
        i = int(np.searchsorted(self._starts, end - self.window, side="right")) - 1
        if i < 0:
            return None
        t = self.trials[i]
        return t.label if t.start <= end - self.window and end <= t.stop else None


def percentile(values, q: float) -> float:
    """The ``q``-th percentile (numpy's linear method), NaN for no values."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else math.nan
