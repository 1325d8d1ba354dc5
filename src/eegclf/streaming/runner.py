"""The streaming loop: source -> preprocessing -> ring buffer -> a decision every step -> report.

Timing conventions (all in samples of the stream, shown in seconds of the recording):

- the first decision is made once the buffer holds one window (``window`` samples), then one every ``step``
  samples: decision ``j`` classifies the samples ``[end - window, end)`` with ``end = window + j * step``, and
  its timestamp is ``end / sfreq`` (the end of the window); a stream of ``N`` samples gives
  ``(N - window) // step + 1`` decisions (none when ``N < window``);
- a decision's processing time runs from the moment the runner starts on the samples that complete its window
  (they have arrived) to the probabilities being ready: preprocessing of those samples plus the model;
- a window is scored when its whole span lies inside one cued trial (``[onset, onset + duration)`` of a T1/T2
  annotation for eegmmidb); its true class is that trial's.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from eegclf.errors import ConfigError
from eegclf.streaming.decoder import Decoder
from eegclf.streaming.preprocess import OnlinePreprocessor
from eegclf.streaming.ring_buffer import RingBuffer
from eegclf.streaming.scoring import TrialLookup, cued_trials, percentile
from eegclf.streaming.sources import Source


@dataclass
class Decision:
    """One classification of the newest window."""

    time: float  # s in the recording: end of the window
    end_sample: int  # samples of the stream up to the end of the window
    index: int  # predicted class index
    label: str  # predicted class name
    probability: float  # its probability
    probabilities: list  # all classes, in class order
    latency_ms: float  # processing time of this decision
    truth: int | None  # class of the cued trial holding the whole window, else None


@dataclass
class StreamReport:
    """What a stream came to: decisions, accuracy over the scored windows, decision latency."""

    decisions: int
    scored: int
    correct: int
    accuracy: float  # correct / scored; NaN when no window was scored
    latency_mean_ms: float
    latency_p99_ms: float
    samples: int
    sfreq: float
    window: int
    step: int
    wall_seconds: float
    processing: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        acc = "n/a (no window lay inside a cued trial)" if not self.scored else \
            f"{self.accuracy:.4f} ({self.correct}/{self.scored} windows inside a cued trial)"
        return [
            f"stream: {self.samples / self.sfreq:.3f} s of signal at {self.sfreq:g} Hz in {self.wall_seconds:.2f} s; "
            f"window {self.window} samples, step {self.step} samples",
            f"decisions: {self.decisions}",
            f"accuracy: {acc}",
            f"decision latency: mean {self.latency_mean_ms:.3f} ms, p99 {self.latency_p99_ms:.3f} ms",
        ]


def event_classes(meta: dict) -> dict[str, int]:
    """Annotation description -> class index for the checkpoint's data set."""
    if meta.get("dataset") == "eegmmidb":
        return {"T1": 0, "T2": 1}  # the loader's labelling of the cues
    pairs = (meta.get("dataset_options") or {}).get("events")
    if meta.get("dataset") == "files" and pairs:  # the files loader's EVENT=CLASS pairs
        names = list(meta.get("class_names", []))
        return {str(k): names.index(v) for k, v in pairs if v in names}
    return {name: i for i, name in enumerate(meta.get("class_names", []))}


class StreamRunner:
    """Classifies a :class:`Source` with a checkpoint's model every ``step_ms`` milliseconds.

    Args:
        source: where the signal comes from.
        model, meta: what :func:`eegclf.storage.checkpoint.load_checkpoint` returned (a deep model).
        step_ms: time between decisions (rounded to whole samples, at least one).
        runtime: ``"auto"``, ``"torch"`` or ``"onnx"`` (see :class:`Decoder`).
    """

    def __init__(self, source: Source, model, meta: dict, step_ms: float = 100.0, runtime: str = "auto"):
        if not (step_ms > 0):
            raise ConfigError(f"step_ms={step_ms} is invalid: expected a number > 0", param="step_ms")
        self.source, self.meta = source, meta
        self.sfreq = float(source.sfreq)
        self.class_names = list(meta["class_names"])
        self.preprocess = OnlinePreprocessor(source.ch_names, self.sfreq, meta)
        self.decoder = Decoder(model, meta, self.sfreq, runtime=runtime)
        self.window = self.decoder.window_samples
        self.step = max(1, int(round(step_ms * self.sfreq / 1000.0)))
        self.buffer = RingBuffer(self.preprocess.n_chans, self.window)
        self.trials = cued_trials(source.events(), event_classes(meta), self.sfreq)
        self.lookup = TrialLookup(self.trials, self.window)

    def describe(self) -> list[str]:
        return [*self.preprocess.describe(), self.decoder.describe()]

    def run(self, on_decision: Callable[[Decision], None] | None = None) -> StreamReport:
        """Consume the source to its end, calling ``on_decision`` for each decision; return the report."""
        latencies: list[float] = []
        scored = correct = 0
        next_end = self.window
        t_start = time.perf_counter()
        for chunk in self.source.chunks():
            i, n = 0, chunk.shape[1]
            while i < n:
                t0 = time.perf_counter()
                take = min(n - i, next_end - self.buffer.n_seen)
                self.buffer.push(self.preprocess(chunk[:, i:i + take]))
                i += take
                if self.buffer.n_seen < next_end:
                    continue
                probs = self.decoder(self.buffer.latest())
                latency = (time.perf_counter() - t0) * 1000.0
                k = int(np.argmax(probs))
                truth = self.lookup.label(next_end)
                if truth is not None:
                    scored += 1
                    correct += int(k == truth)
                latencies.append(latency)
                if on_decision is not None:
                    on_decision(Decision(next_end / self.sfreq, next_end, k, self.class_names[k], float(probs[k]),
                                         [float(p) for p in probs], latency, truth))
                next_end += self.step
        return StreamReport(
            decisions=len(latencies), scored=scored, correct=correct,
            accuracy=correct / scored if scored else math.nan,
            latency_mean_ms=float(np.mean(latencies)) if latencies else math.nan,
            latency_p99_ms=percentile(latencies, 99), samples=self.buffer.n_seen, sfreq=self.sfreq,
            window=self.window, step=self.step, wall_seconds=time.perf_counter() - t_start,
            processing=self.describe())
