"""The base class every deep model shares, its argument checks and the length arithmetic.

:class:`DeepModel` owns the preamble all deep models have in common: checking ``(n_chans, n_times,
n_outputs)``, the activation, dropout, max-norm switch and the model's own integer options, and recording
them in ``config`` so that ``create_model(model.model_name, **model.config)`` rebuilds the model. The
length arithmetic sizes each model's flatten layer from ``(n_chans, n_times)``.
"""

import numbers
from typing import Callable

import torch
from torch import nn

from eegclf.errors import ConfigError
from eegclf.models.activations import resolve_activation
from eegclf.models.constraints import max_norm_
from eegclf.models.fast_paths import FAST_PATH_AUTO, FAST_PATH_MODES, REFERENCE


class DeepModel(nn.Module):
    """Base of the deep models: input ``(batch, 1, n_chans, n_times)`` float, output logits ``(batch, n_outputs)``.

    Subclasses set ``model_name`` (the registry key), ``default_dropout`` and, where they have model-specific
    activation names, ``extra_activations``; their ``__init__`` calls ``super().__init__`` with the shared
    arguments and their own integer options, then reads everything back from ``self.config`` and makes each
    activation site with :meth:`make_activation`.

    Attributes:
        model_name: the registry key (``create_model(model.model_name, **model.config)`` rebuilds the model).
        config: JSON-serialisable constructor keyword arguments, including n_chans, n_times, n_outputs.
    """

    model_name: str = ""
    default_dropout: float = 0.5
    extra_activations: dict | None = None
    fast_path_name: str = ""  # the model's exact reordering (:mod:`eegclf.models.fast_paths`), if it has one
    fast_path: str = FAST_PATH_AUTO  # use it where it costs less; FAST_PATH_OFF: the reference modules, as defined
    __jit_unused_properties__ = ["compute_path"]  # torch.jit.script compiles properties otherwise

    def __init__(self, n_chans, n_times, n_outputs, *, activation, activation_kwargs, dropout, max_norm,
                 **int_options) -> None:
        super().__init__()
        label = type(self).__name__
        self._activation = resolve_activation(activation, activation_kwargs, self.extra_activations)
        self.config: dict = {
            "n_chans": check_int(label, "n_chans", n_chans),
            "n_times": check_int(label, "n_times", n_times),
            "n_outputs": check_int(label, "n_outputs", n_outputs),
            "activation": self._activation.name,
            "activation_kwargs": dict(self._activation.kwargs),
            "dropout": check_dropout(label, dropout, self.default_dropout),
            "max_norm": check_bool(label, "max_norm", max_norm),
        }
        self.config.update({name: check_int(label, name, v) for name, v in int_options.items()})
        self._max_norm_bounds: dict[str, float] = {}

    def set_fast_path(self, mode: str) -> "DeepModel":
        """``"auto"`` (the cheaper of the two exact orders) or ``"off"`` (the reference modules). Not part of
        the state dict: a checkpoint made on either path loads and runs on the other."""
        if mode not in FAST_PATH_MODES:
            raise ConfigError(f"fast_path={mode!r} is invalid: expected one of {', '.join(FAST_PATH_MODES)}",
                              param="fast_path")
        self.fast_path = mode
        return self

    def fast_path_cheaper(self, training: bool) -> bool:
        """Whether the model's fast path costs less than the reference at its shape, in a training step
        (``training``) or an inference pass."""
        return False

    @torch.jit.unused  # torch.jit.script compiles the reference path only (the forwards check is_scripting)
    def uses_fast_path(self) -> bool:
        """Whether this forward pass (in the module's current train/eval mode) takes the fast path."""
        return self.path_for(self.training) != REFERENCE

    def path_for(self, training: bool) -> str:
        """The path a training step (``training``) or an inference pass takes: the fast path's name, or
        ``"reference"`` (``fast_path="off"``, no fast path, or not cheaper at this shape)."""
        if self.fast_path == FAST_PATH_AUTO and self.fast_path_name and self.fast_path_cheaper(training):
            return self.fast_path_name
        return REFERENCE

    @property
    def compute_path(self) -> str:
        """The path that trains this model (what run folders and checkpoints record)."""
        return self.path_for(True)

    def make_activation(self) -> nn.Module:
        """A new activation module (each activation site has its own instance)."""
        return self._activation.make()

    def flat_length(self, final_len: Callable[[int], int]) -> int:
        """``final_len(n_times)``: the time steps left before the flatten layer (ConfigError when < 1)."""
        return check_length(type(self).__name__, self.config["n_times"], final_len)

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
