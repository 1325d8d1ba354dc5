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
  informative electrodes differ;
- ``capsubset``: with probability 1/2, a trial is restricted to one of the common caps of
  :data:`SUBSET_CAPS` (drawn uniformly among those whose channels the trials have), re-referenced to the
  average over the cap's channels and the other channels filled back by MNE's spherical-spline interpolation:
  exactly what a network meets when a user with that cap gives it their recording (a network that expects
  fewer channels than it has). The matrices are fixed per cap and computed once per process.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from eegclf.config import AUGMENTATIONS, parse_augment  # the names belong to the configuration
from eegclf.errors import ConfigError

SHIFT_FRACTION = 1 / 16
SCALE_RANGE = (0.9, 1.1)
CHANNEL_DROP = 0.1
SUBSET_PROBABILITY = 0.5
# the caps users record with that eegclf's shipped networks serve: the 21 motor-strip channels, 8 around the
# motor cortex, and C3, Cz, C4 (docs/your-cap.md)
SUBSET_CAPS = (
    ("FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
     "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6"),
    ("FC3", "FC4", "C3", "Cz", "C4", "CP3", "CPz", "CP4"),
    ("C3", "Cz", "C4"),
)


@lru_cache(maxsize=None)
def subset_matrices(ch_names: tuple[str, ...]) -> np.ndarray:
    """(n_caps, C, C) float32: for each cap of :data:`SUBSET_CAPS` fully among ``ch_names`` (and smaller than
    them), the map from a trial to that trial as the cap would record it (its channels re-referenced to their
    average), interpolated back to ``ch_names``. ConfigError when no cap fits."""
    from eegclf.data.channels import channel_key, interpolation_matrix

    keys = [channel_key(n) for n in ch_names]
    out = []
    for cap in SUBSET_CAPS:
        want = {channel_key(c) for c in cap}
        if not want <= set(keys) or len(want) >= len(keys):
            continue
        good = [i for i, k in enumerate(keys) if k in want]
        bads = [n for n, k in zip(ch_names, keys) if k not in want]
        interp = interpolation_matrix(list(ch_names), bads)  # (C, n_good), good rows the identity
        reref = np.zeros((len(good), len(keys)))
        for row, i in enumerate(good):
            reref[row, good] = -1.0 / len(good)
            reref[row, i] += 1.0
        out.append(interp @ reref)
    if not out:
        raise ConfigError("augment=capsubset needs trials that hold one of the caps "
                          + "; ".join(",".join(c) for c in SUBSET_CAPS) + f" and more; got {len(keys)} channels",
                          param="augment")
    return np.stack(out).astype(np.float32)


class Augmenter:
    """Applies the named augmentations to training batches; call :meth:`start_epoch` before each epoch."""

    def __init__(self, names, seed: int, ch_names=None):
        self.names = parse_augment(",".join(names)) if not isinstance(names, str) else parse_augment(names)
        self.seed = int(seed)
        self.gen = torch.Generator()
        self.subsets = None
        if "capsubset" in self.names:
            if ch_names is None:
                raise ConfigError("augment=capsubset needs the trials' channel names", param="augment")
            self.subsets = torch.from_numpy(subset_matrices(tuple(ch_names)))

    def start_epoch(self, epoch: int) -> None:
        self.gen.manual_seed(self.seed * 1_000_003 + epoch)

    def __call__(self, x: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """The augmented batch ``x[index]`` (all of ``x`` when ``index`` is None), (n, 1, C, T) -> same shape.

        With ``index`` the batch's trials are read from ``x`` as they are written, not gathered into a batch first
        (what the shifts write is the whole batch anyway); the result is the same."""
        if index is not None and (self.subsets is not None or "shift" not in self.names):
            x, index = x[index], None  # these read the batch as a whole
        n = len(x) if index is None else len(index)
        _, _, n_chans, n_times = x.shape
        picked = None
        if self.subsets is not None:  # first: the other augmentations act on what the cap recorded
            if self.subsets.shape[-1] != n_chans:
                raise ConfigError(f"augment=capsubset: the trials have {n_chans} channels, the channel names "
                                  f"{self.subsets.shape[-1]}", param="augment")
            pick = torch.rand(n, generator=self.gen) < SUBSET_PROBABILITY
            which = torch.randint(0, len(self.subsets), (n,), generator=self.gen)
            eye = torch.eye(n_chans).expand(n, n_chans, n_chans)
            maps = torch.where(pick[:, None, None], self.subsets[which], eye).to(x.device, x.dtype)
            x = torch.matmul(maps[:, None], x)
            picked = pick
        # draw everything first, in the order the augmentations are listed, then apply them in one pass
        shifts = factor = None
        if "shift" in self.names:
            m = max(1, int(n_times * SHIFT_FRACTION))
            shifts = torch.randint(-m, m + 1, (n,), generator=self.gen).tolist()
        if "scale" in self.names:
            lo, hi = SCALE_RANGE
            factor = (lo + (hi - lo) * torch.rand((n, 1, 1, 1), generator=self.gen)).to(x.device, x.dtype)
        if "chdrop" in self.names:
            keep = torch.rand((n, 1, n_chans, 1), generator=self.gen) >= CHANNEL_DROP
            if picked is not None:  # a cap's trial has its own channel set already; its filled channels stay
                keep = keep | picked[:, None, None, None]
            keep = keep.to(x.device, x.dtype)
            factor = keep if factor is None else factor * keep  # keep is 0 or 1: the same as two products
        if shifts is None:
            return x if factor is None else x * factor
        # each trial moved by its shift (the gap zero) and multiplied by its factor, written once
        out = x.new_empty((n, *x.shape[1:]))
        rows = range(n) if index is None else index.tolist()
        for i, (row, s) in enumerate(zip(rows, shifts)):
            src, dst = slice(max(0, -s), n_times - max(0, s)), slice(max(0, s), n_times - max(0, -s))
            if s > 0:
                out[i, ..., :s].zero_()
            elif s < 0:
                out[i, ..., n_times + s:].zero_()
            if factor is None:
                out[i, ..., dst] = x[row, ..., src]
            else:
                torch.mul(x[row, ..., src], factor[i], out=out[i, ..., dst])
        return out


__all__ = ["AUGMENTATIONS", "Augmenter", "parse_augment"]
