"""An ensemble of k networks as one model: the average of the members' softmax probabilities.

Each member is a full :class:`~eegclf.models.standardize.Standardized` model (its own input normalisation,
alignment and channel map), so members pre-trained with different seeds keep what each learnt. Every consumer
of a model (evaluation, export, streaming, the estimator) applies a softmax to the model's output, so the
ensemble returns ``log(mean_i softmax(member_i(x)))``: its softmax is the members' mean probability, and its
argmax the ensemble's decision. One member: that member's own output, untouched, so an ensemble of one predicts
exactly as its member does.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Ensemble(nn.Module):
    """``members``: :class:`Standardized` models taking the same input (channels, window) with the same classes.

    Input (batch, 1, n_inputs, n_times) raw trials; output (batch, n_classes), log of the mean probabilities
    (the logits of the averaged prediction). ``state_dict`` keys are ``members.{i}.{member's key}``."""

    def __init__(self, members):
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.members) == 1:
            return self.members[0](x)
        # log-sum-exp of log-probabilities: the log of the summed probabilities without underflow
        logp = torch.stack([torch.log_softmax(m(x), dim=1) for m in self.members])
        return torch.logsumexp(logp, dim=0) - math.log(len(self.members))

    def apply_constraints(self) -> None:
        for m in self.members:
            m.apply_constraints()


def members_of(model) -> list:
    """The :class:`Standardized` models of ``model``: an ensemble's members, or ``[model]``."""
    return list(model.members) if isinstance(model, Ensemble) else [model]


__all__ = ["Ensemble", "members_of"]
