"""A fixed-size ring buffer of multichannel samples whose latest window is always one contiguous view."""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """The last ``capacity`` samples of ``n_chans`` channels.

    Every sample is stored twice (at ``i`` and ``i + capacity`` of a ``(n_chans, 2 * capacity)`` array), so
    :meth:`latest` returns the window, oldest sample first, as a view without copying or re-ordering.

    Args:
        n_chans: channels (rows).
        capacity: samples kept (columns of the window).
        dtype: storage type (float32 by default, the models' input type).
    """

    def __init__(self, n_chans: int, capacity: int, dtype=np.float32):
        if int(n_chans) < 1 or int(capacity) < 1:
            raise ValueError(f"RingBuffer needs n_chans >= 1 and capacity >= 1, got {n_chans}, {capacity}")
        self.n_chans, self.capacity = int(n_chans), int(capacity)
        self._data = np.zeros((self.n_chans, 2 * self.capacity), dtype=dtype)
        self._pos = 0  # where the next sample goes, in [0, capacity)
        self.n_seen = 0  # samples pushed since creation

    @property
    def full(self) -> bool:
        """True once ``capacity`` samples have been pushed."""
        return self.n_seen >= self.capacity

    def push(self, chunk: np.ndarray) -> None:
        """Append samples ``chunk`` of shape ``(n_chans, n)`` (any n >= 0; only the last capacity are kept)."""
        chunk = np.asarray(chunk)
        if chunk.ndim != 2 or chunk.shape[0] != self.n_chans:
            raise ValueError(f"RingBuffer.push: expected shape ({self.n_chans}, n), got {chunk.shape}")
        n = chunk.shape[1]
        self.n_seen += n
        if n >= self.capacity:
            chunk, n = chunk[:, -self.capacity:], self.capacity
        cap, pos = self.capacity, self._pos
        first = min(n, cap - pos)  # up to the end of the first copy, then wrap around
        for start, part in ((pos, chunk[:, :first]), (0, chunk[:, first:])):
            m = part.shape[1]
            if m:
                self._data[:, start:start + m] = part
                self._data[:, start + cap:start + cap + m] = part
        self._pos = (pos + n) % cap

    def latest(self) -> np.ndarray:
        """The last ``capacity`` samples, shape ``(n_chans, capacity)``, oldest first (a read-only view).

        Before the buffer is full, the missing oldest samples are zeros.
        """
        view = self._data[:, self._pos:self._pos + self.capacity]
        view.flags.writeable = False
        return view
