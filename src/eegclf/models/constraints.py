"""Max-norm weight constraints and the base class every deep model shares.

Max-norm (Keras ``max_norm``): after each optimiser step, every output unit's weight vector (dim 0 of a
Conv2d or Linear weight) is rescaled so that its L2 norm is at most ``bound``. The trainer calls
``model.apply_constraints()`` once after every ``optimizer.step()``.

:class:`DeepModel` also holds what rebuilds a model (``model_name``, ``config``), the checks on constructor
arguments, and the length arithmetic that sizes each model's flatten layer from ``(n_chans, n_times)``.
"""

from __future__ import annotations

import numbers
from typing import Callable

import torch
from torch import nn

from eegclf.errors import ConfigError
from eegclf.models.activations import ActivationSpec, resolve_activation


def max_norm_(weight: torch.Tensor, bound: float) -> torch.Tensor:
    """In place: rescale each slice ``weight[i]`` to L2 norm <= ``bound``; returns ``weight``."""
    with torch.no_grad():
        weight.copy_(torch.renorm(weight, p=2, dim=0, maxnorm=bound))
    return weight


class DeepModel(nn.Module):
    """Base of the deep models: input ``(batch, 1, n_chans, n_times)`` float, output logits ``(batch, n_outputs)``.

    Attributes:
        model_name: the registry key (``create_model(model.model_name, **model.config)`` rebuilds the model).
        config: JSON-serialisable constructor keyword arguments, including n_chans, n_times, n_outputs.
    """

    model_name: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.config: dict = {}
        self._max_norm_bounds: dict[str, float] = {}

    def _int_options(self, **values) -> tuple[int, ...]:
        """Check each ``name=value`` as an integer >= 1, record them in ``self.config``, return them in order."""
        label = type(self).__name__
        checked = {name: check_int(label, name, v) for name, v in values.items()}
        self.config.update(checked)
        return tuple(checked.values())

    def _setup(self, n_chans, n_times, n_outputs, activation, activation_kwargs, dropout,
               default_dropout: float, max_norm, extra_activations=None) -> ActivationSpec:
        """Check the shared arguments, fill ``self.config`` with them, return the resolved activation."""
        label = type(self).__name__
        spec = resolve_activation(activation, activation_kwargs, extra_activations)
        self.config = {
            "n_chans": check_int(label, "n_chans", n_chans),
            "n_times": check_int(label, "n_times", n_times),
            "n_outputs": check_int(label, "n_outputs", n_outputs),
            "activation": spec.name,
            "activation_kwargs": dict(spec.kwargs),
            "dropout": check_dropout(label, dropout, default_dropout),
            "max_norm": check_bool(label, "max_norm", max_norm),
        }
        return spec

    def add_max_norm(self, param_name: str, bound: float) -> None:
        """Constrain parameter ``param_name`` (e.g. ``"classify.0.weight"``) to per-unit norm <= bound."""
        self.get_parameter(param_name)  # fails loudly on a typo
        self._max_norm_bounds[param_name] = float(bound)

    def constraint_bounds(self) -> dict[str, float]:
        """``{parameter name: max-norm bound}``; empty when the model has none or ``max_norm=False``."""
        return dict(self._max_norm_bounds)

    def apply_constraints(self) -> None:
        """Apply every max-norm constraint (no-op where there are none). Call after each optimiser step."""
        for name, bound in self._max_norm_bounds.items():
            max_norm_(self.get_parameter(name), bound)


# ---- argument checks (each raises ConfigError naming the model, the argument and what was expected) ----

def check_int(model: str, name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ConfigError(f"{model}: {name}={value!r} is invalid: expected an integer >= {minimum}")
    return int(value)


def check_dropout(model: str, value, default: float) -> float:
    """``value`` as a dropout probability in [0, 1); ``None`` gives ``default``."""
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{model}: dropout={value!r} is invalid: expected a number in [0, 1)")
    return float(value)


def check_bool(model: str, name: str, value) -> bool:
    """``value`` as a bool (only True/False accepted)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{model}: {name}={value!r} is invalid: expected true or false")
    return value


# ---- length arithmetic (PyTorch's formula, dilation 1) ----

def out_len(length: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a conv or pool along one axis."""
    return (length + 2 * padding - kernel) // stride + 1


def min_length(final_len: Callable[[int], int], limit: int = 1 << 24) -> int:
    """The smallest input length whose ``final_len`` is >= 1 (``final_len`` must be non-decreasing)."""
    lo, hi = 1, 1
    while final_len(hi) < 1:
        if hi >= limit:
            raise ConfigError(f"no input length up to {limit} samples fits these layer sizes")
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        if final_len(mid) >= 1:
            hi = mid
        else:
            lo = mid + 1
    return lo


def check_length(model: str, n_times: int, final_len: Callable[[int], int]) -> int:
    """``final_len(n_times)``, or a ConfigError naming the minimum n_times when that is below 1."""
    length = final_len(n_times)
    if length < 1:
        raise ConfigError(
            f"{model}: n_times={n_times} is too short for these layer sizes; "
            f"it needs n_times >= {min_length(final_len)}"
        )
    return length
