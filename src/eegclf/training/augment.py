"""Data augmentation for the training pass: random time shifts, amplitude scaling and channel dropout.

Each is applied per trial to a training batch of raw trials (batch, 1, C, T) before the model sees it; the
validation and test parts are never augmented. The randomness comes from a generator seeded by
``(seed, epoch)`` at the start of every epoch, so a run is reproducible, a resumed run draws exactly what the
uninterrupted one drew, and a run without augmentation draws nothing at all.

- ``shift``: move each trial by up to 1/16 of its length either way (0.25 s of a 4 s window), the gap
  filled with zeros: a cue-locked window does not fix where in it a person's imagery starts;
- ``scale``: multiply each trial by a factor drawn from [0.9, 1.1]: amplitudes differ between sessions
  and people;
- ``chdrop``: set each channel of each trial to zero with probability 0.1: electrodes fail and people's
  informative electrodes differ.
"""

from __future__ import annotations

import torch

from eegclf.config import AUGMENTATIONS, parse_augment  # the names belong to the configuration

SHIFT_FRACTION = 1 / 16
SCALE_RANGE = (0.9, 1.1)
CHANNEL_DROP = 0.1


class Augmenter:
    """Applies the named augmentations to training batches; call :meth:`start_epoch` before each epoch."""

    def __init__(self, names, seed: int):
        self.names = parse_augment(",".join(names)) if not isinstance(names, str) else parse_augment(names)
        self.seed = int(seed)
        self.gen = torch.Generator()

    def start_epoch(self, epoch: int) -> None:
        self.gen.manual_seed(self.seed * 1_000_003 + epoch)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, _, n_chans, n_times = x.shape
        if "shift" in self.names:
            m = max(1, int(n_times * SHIFT_FRACTION))
            shifts = torch.randint(-m, m + 1, (n,), generator=self.gen).tolist()
            padded = torch.nn.functional.pad(x, (m, m))
            x = torch.stack([padded[i, ..., m - s : m - s + n_times] for i, s in enumerate(shifts)])
        if "scale" in self.names:
            lo, hi = SCALE_RANGE
            x = x * (lo + (hi - lo) * torch.rand((n, 1, 1, 1), generator=self.gen)).to(x.device, x.dtype)
        if "chdrop" in self.names:
            keep = (torch.rand((n, 1, n_chans, 1), generator=self.gen) >= CHANNEL_DROP).to(x.device, x.dtype)
            x = x * keep
        return x

__all__ = ["AUGMENTATIONS", "Augmenter", "parse_augment"]
