"""Where continuous EEG comes from: the :class:`Source` interface, file replay (EDF) and an LSL inlet.

A source delivers the signal in chunks of shape ``(n_chans, n)`` float32, channels in ``ch_names`` order,
sampled at ``sfreq`` Hz, in the order recorded. Time in the recording is the count of samples delivered divided
by ``sfreq`` (the nominal rate): the consumer counts, the source only delivers.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from eegclf.data.channels import standard_channel_name  # noqa: F401 - re-exported: its old home
from eegclf.errors import DataError


@dataclass(frozen=True)
class Event:
    """An annotation of the recording: ``onset`` and ``duration`` in seconds from its first sample."""

    onset: float
    duration: float
    description: str


class Source(ABC):
    """A continuous multichannel signal, delivered chunk by chunk.

    Attributes:
        sfreq: nominal sampling rate in Hz.
        ch_names: channel names, in the row order of every chunk.
        units: what one unit of the delivered values is (``"V"`` for MNE-read files).
    """

    sfreq: float
    ch_names: list[str]
    units: str = "V"

    @abstractmethod
    def chunks(self) -> Iterator[np.ndarray]:
        """Yield chunks ``(n_chans, n)`` float32 as they become available; returns when the source ends."""

    def events(self) -> list[Event]:
        """Annotations (cues) of the recording, when the source knows them; live sources return ``[]``."""
        return []

    def close(self) -> None:
        """Release what the source holds (files, network inlets)."""

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FileReplaySource(Source):
    """Replays an EDF recording as if it were live.

    Reads the whole file through MNE (volts), then yields ``chunk_ms`` chunks. With ``speed`` 1.0 a chunk is
    delivered when its last sample would have been recorded (real time); ``speed`` 10 is ten times faster;
    ``speed`` 0 (or inf) delivers as fast as the consumer takes them. Annotations of the file (EDF+ TAL channel)
    become :meth:`events`.

    Args:
        path: an ``.edf`` (or ``.bdf``) file.
        speed: replay speed relative to real time; 0 or inf for as fast as possible.
        chunk_ms: length of each delivered chunk in milliseconds (at least one sample).
    """

    def __init__(self, path, speed: float = 1.0, chunk_ms: float = 50.0):
        path = Path(path)
        if not path.is_file():
            raise DataError(f"source={path} does not exist or is not a file", param="source")
        if not (speed >= 0):
            raise DataError(f"speed={speed} is invalid: expected a number >= 0 (0 = as fast as possible)",
                            param="speed")
        if not (chunk_ms > 0):
            raise DataError(f"chunk_ms={chunk_ms} is invalid: expected a number > 0", param="chunk_ms")
        import mne

        readers = {".edf": mne.io.read_raw_edf, ".bdf": mne.io.read_raw_bdf}
        reader = readers.get(path.suffix.lower())
        if reader is None:
            raise DataError(f"source={path}: expected an .edf or .bdf recording", param="source")
        try:
            raw = reader(path, preload=True, verbose="error")
        except Exception as exc:  # noqa: BLE001 - MNE raises many types for bad files
            raise DataError(f"source={path} could not be read as {path.suffix[1:].upper()}: {exc}",
                            param="source") from None
        from eegclf.data.fingerprint import raw_fingerprint

        self.fingerprint = raw_fingerprint(raw)  # the recording's, as the data loaders take it (eegclf.data.seen)
        raw.pick("eeg")
        self.path = path
        self.sfreq = float(raw.info["sfreq"])
        self.ch_names = [standard_channel_name(c) for c in raw.ch_names]
        self.units = "V"
        self.speed = float(speed)
        self.chunk_samples = max(1, int(round(chunk_ms * self.sfreq / 1000.0)))
        self._data = raw.get_data().astype(np.float32)
        ann = raw.annotations
        self._events = [Event(float(o), float(d), str(s)) for o, d, s in zip(ann.onset, ann.duration, ann.description)]

    @property
    def n_samples(self) -> int:
        return self._data.shape[1]

    def events(self) -> list[Event]:
        return list(self._events)

    def chunks(self) -> Iterator[np.ndarray]:
        realtime = 0 < self.speed < float("inf")
        start = time.perf_counter()
        for i in range(0, self.n_samples, self.chunk_samples):
            stop = min(i + self.chunk_samples, self.n_samples)
            if realtime:  # a chunk exists once its last sample has been "recorded"
                wait = start + stop / self.sfreq / self.speed - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            yield self._data[:, i:stop]


class LSLSource(Source):
    """An LSL (Lab Streaming Layer) inlet, through pylsl.

    Resolves the stream named ``name``, reads its channel labels from the stream description
    (``desc/channels/channel/label``) and its nominal rate, and yields chunks as they arrive. The source ends
    when the outlet goes away, after ``idle_timeout`` seconds without data, or after ``max_seconds`` of
    signal. Values are multiplied by ``scale`` (e.g. 1e-6 for a stream in microvolts, since eegclf's loaders
    give volts). Samples lost on the network are not detected: time is counted in delivered samples.
    """

    def __init__(self, name: str, resolve_timeout: float = 10.0, idle_timeout: float = 5.0,
                 max_seconds: float | None = None, scale: float = 1.0):
        try:
            import pylsl
        except ImportError:  # the optional 'stream' extra
            raise DataError("reading an LSL stream needs pylsl: pip install 'eegclf[stream]'") from None
        self._pylsl = pylsl
        found = pylsl.resolve_byprop("name", name, minimum=1, timeout=resolve_timeout)
        if not found:
            raise DataError(f"no LSL stream named {name!r} was found within {resolve_timeout:g} s")
        inlet = pylsl.StreamInlet(found[0], max_buflen=60, recover=False)
        info = inlet.info(timeout=resolve_timeout)
        self.sfreq = float(info.nominal_srate())
        if not self.sfreq > 0:
            inlet.close_stream()
            raise DataError(f"LSL stream {name!r} has an irregular rate; a regularly sampled EEG stream is needed")
        n = info.channel_count()
        labels, ch = [], info.desc().child("channels").child("channel")
        while not ch.empty() and len(labels) < n:
            labels.append(standard_channel_name(ch.child_value("label")))
            ch = ch.next_sibling()
        self.ch_names = labels if len(labels) == n and all(labels) else [f"ch{i + 1}" for i in range(n)]
        self.units = "V" if scale == 1.0 else f"{scale:g} x stream units"
        self.name, self.scale = name, float(scale)
        self.idle_timeout, self.max_seconds = float(idle_timeout), max_seconds
        inlet.open_stream(timeout=resolve_timeout)  # subscribe now: samples pushed from here on are kept
        self._inlet = inlet

    def chunks(self) -> Iterator[np.ndarray]:
        lost = self._pylsl.util.LostError
        limit = None if self.max_seconds is None else int(round(self.max_seconds * self.sfreq))
        delivered, last_data = 0, time.monotonic()
        while limit is None or delivered < limit:
            try:
                samples, _ = self._inlet.pull_chunk(timeout=0.1, max_samples=4096, min_samples=1, as_numpy=True)
            except lost:
                return  # the outlet is gone: the stream has ended
            if samples is None or len(samples) == 0:
                if time.monotonic() - last_data > self.idle_timeout:
                    return
                continue
            last_data = time.monotonic()
            chunk = np.asarray(samples, dtype=np.float32).T
            if limit is not None:
                chunk = chunk[:, : limit - delivered]
            delivered += chunk.shape[1]
            yield chunk * np.float32(self.scale) if self.scale != 1.0 else chunk

    def close(self) -> None:
        inlet, self._inlet = getattr(self, "_inlet", None), None
        if inlet is not None:
            inlet.close_stream()
