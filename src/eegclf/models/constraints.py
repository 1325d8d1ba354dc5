"""Max-norm weight constraints (Keras ``max_norm``).

After each optimiser step, every output unit's weight vector (dim 0 of a Conv2d or Linear weight) is
rescaled so that its L2 norm is at most ``bound``. Models declare their bounds with
:meth:`~eegclf.models.base.DeepModel.add_max_norm`; the trainer calls ``model.apply_constraints()`` once after
every ``optimizer.step()``.
"""

from __future__ import annotations

import torch


def max_norm_(weight: torch.Tensor, bound: float) -> torch.Tensor:
    """In place: rescale each slice ``weight[i]`` to L2 norm <= ``bound``; returns ``weight``."""
    with torch.no_grad():
        weight.copy_(torch.renorm(weight, p=2, dim=0, maxnorm=bound))
    return weight
