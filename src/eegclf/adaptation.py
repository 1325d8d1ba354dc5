"""The fine-tuning choices beyond the recipe (:func:`eegclf.transfer.finetune` applies them; the unlabelled
adaptation AdaBN is :func:`eegclf.transfer.adabn`).

- :data:`FINETUNE_LAYERS`: what fine-tuning trains. ``all``: every layer (the recipe). ``last``: only the final
  classification layer (``classify``); the rest is :func:`eegclf.transfer.adabn`'s network, frozen, its
  BatchNorm statistics those of the person's calibration trials and fixed while the last layer trains (so
  that it learns on the features it will see).
- :class:`Mix`: multi-domain fine-tuning (Kostas & Rudzicz 2020): every fine-tuning step adds to its batch of
  the person's trials as many trials of the people the network was pre-trained on, drawn from a fixed random
  sample of them (:func:`mix_sample`, drawn by the seed), and the loss weights the person's trials by
  ``weight``, the others by 1. Each domain keeps its own input normalisation: the pool's trials are normalised
  by the pre-training pool's statistics (stored in the checkpoint), the person's by their own.

May import what :mod:`eegclf.transfer` may (it imports this module, not the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eegclf.data.base import Split
from eegclf.errors import ConfigError

FINETUNE_LAYERS = ("all", "last")
# the parameter-name prefixes of the layers each choice trains (None: all); every deep model of the registry
# ends with its linear classifier ``classify``
_TRAINABLE = {"all": None, "last": ("classify.",)}
# pool trials a multi-domain fine-tuning draws its steps from: a fixed random sample, so that memory stays
# small (64 channels x 4 s at 128 Hz: 130 kB a trial) and the draw is reproducible by the seed
MIX_SAMPLE = 512


def check_layers(layers: str) -> str:
    if layers not in FINETUNE_LAYERS:
        raise ConfigError(f"finetune_layers={layers!r} is invalid: expected one of {', '.join(FINETUNE_LAYERS)}",
                          param="finetune_layers")
    return layers


def trainable(layers: str) -> tuple[str, ...] | None:
    """The parameter-name prefixes fine-tuning trains for ``layers`` (None: every layer)."""
    return _TRAINABLE[check_layers(layers)]


def check_mix(weight) -> float:
    """``weight`` as a multi-domain weight: a finite number >= 0 (0: no mixing)."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not np.isfinite(weight) or weight < 0:
        raise ConfigError(f"finetune_mix={weight!r} is invalid: expected a number >= 0 (0: fine-tune on the "
                          "person's trials alone)", param="finetune_mix")
    return float(weight)


@dataclass(frozen=True)
class Mix:
    """Multi-domain fine-tuning: ``pool`` (trials of the people the network saw, loaded as its pre-training
    loaded them, in the network's channels) and the person's trials' ``weight`` in the loss."""

    pool: Split
    weight: float


_POOLS: dict = {}


def pool_trials(init, data_dir=None) -> Split:
    """Every trial of the people ``init`` was pre-trained on, loaded with the checkpoint's own data set and
    options (once per process). ConfigError when the checkpoint does not say how, or is aligned (its pool
    would need each person's alignment)."""
    from eegclf.data import load_dataset
    from eegclf.data.splits import pooled

    if init.alignment != "none":
        raise ConfigError(f"{init.source} expects {init.alignment}-aligned input: multi-domain fine-tuning mixes "
                          "in its pre-training trials unaligned, so it takes unaligned networks only",
                          param="finetune_mix")
    if not init.dataset or not init.data_options.get("subjects") or init.mean is None:
        raise ConfigError(f"{init.source} does not record the data set, subjects and normalisation it was "
                          "pre-trained with, which multi-domain fine-tuning mixes in", param="finetune_mix")
    options = {k: v for k, v in init.data_options.items() if k != "data_dir"}
    key = (init.path or init.source, str(data_dir), repr(sorted(options.items())))
    if key not in _POOLS:
        _POOLS.clear()  # one network's pool per process
        _POOLS[key] = pooled(load_dataset(init.dataset, data_dir=data_dir or init.data_options.get("data_dir"),
                                          **options))
    return _POOLS[key]


def mix_sample(mix: Mix, init, calibration: Split, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``(X, y, weight)`` for :attr:`eegclf.training.loop.FitOptions.mix`: a random sample of up to
    :data:`MIX_SAMPLE` of ``mix.pool``'s trials drawn by ``seed``, expressed so that the fine-tuned model's
    normalisation (the person's, from ``calibration``, the trials it trains on, in the network's channels)
    turns them into what the network saw in pre-training: ``(x - pool mean) / pool std``."""
    from eegclf.models.standardize import channel_stats

    pool = mix.pool
    if pool.X.shape[2:] != calibration.X.shape[2:]:
        raise ConfigError(f"the pre-training trials ({pool.X.shape[2]} channels x {pool.X.shape[3]} samples) do "
                          f"not have the shape of the person's ({calibration.X.shape[2]} x {calibration.X.shape[3]}): "
                          "multi-domain fine-tuning needs the network's own channels and window", param="finetune_mix")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(pool), size=min(MIX_SAMPLE, len(pool)), replace=False))
    mean, std = (np.asarray(v, dtype=np.float64).reshape(1, 1, -1, 1) for v in channel_stats(calibration.X))
    pool_mean, pool_std = (np.asarray(v, dtype=np.float64).reshape(1, 1, -1, 1) for v in (init.mean, init.std))
    X = ((pool.X[pick] - pool_mean) / pool_std * std + mean).astype(np.float32)
    return X, pool.y[pick], mix.weight


__all__ = ["FINETUNE_LAYERS", "check_layers", "trainable", "check_mix", "Mix", "pool_trials",
           "mix_sample", "MIX_SAMPLE"]
