"""Activation functions by name, plus the two fixed nonlinearities of ShallowConvNet (square, safe log).

Model-specific names (ShallowConvNet's ``square``) are declared by the model, not listed here.

Names are case-insensitive and underscores are optional (``LeakyReLU``, ``leaky_relu`` and ``leakyrelu``
are the same). Settings go in ``activation_kwargs``:

========== ============== ====================================
name       module         settable ``activation_kwargs``
========== ============== ====================================
relu       nn.ReLU        (none)
leaky_relu nn.LeakyReLU   ``negative_slope`` (default 0.01)
elu        nn.ELU         ``alpha`` (default 1.0)
gelu       nn.GELU        ``approximate`` ("none" or "tanh")
silu       nn.SiLU        (none)
========== ============== ====================================

An ``nn.Module`` subclass may be given instead of a name; it is called with ``activation_kwargs``. Its
recorded name is the registry name when it is one of the classes above, else ``"package.module:ClassName"``
(importable again, so a model's ``config`` still rebuilds it). Every call to :meth:`ActivationSpec.make`
returns a new module, so each activation site of a network has its own instance.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field

import torch
from torch import nn

from eegclf.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}

# keyword arguments a named activation accepts (anything else is a ConfigError)
_ALLOWED_KWARGS: dict[str, frozenset[str]] = {
    "relu": frozenset(),
    "leaky_relu": frozenset({"negative_slope"}),
    "elu": frozenset({"alpha"}),
    "gelu": frozenset({"approximate"}),
    "silu": frozenset(),
}


class Square(nn.Module):
    """Elementwise ``x * x`` (ShallowConvNet's nonlinearity before pooling). Any shape in, same shape out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


class SafeLog(nn.Module):
    """Elementwise ``log(max(x, eps))`` (ShallowConvNet's nonlinearity after pooling); finite for x <= 0."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.clamp(x, min=self.eps))

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


def list_activations() -> list[str]:
    """The activation names every deep model accepts, sorted."""
    return sorted(ACTIVATIONS)


def compact_name(name: str) -> str:
    """A name reduced for matching: lower case, without ``_``, ``-``, ``,`` and spaces (models and activations)."""
    return re.sub(r"[\s_\-,]", "", name.lower())


@dataclass(frozen=True)
class ActivationSpec:
    """A resolved activation: its recorded ``name``, module class and keyword arguments."""

    name: str
    cls: type[nn.Module]
    kwargs: dict = field(default_factory=dict)

    def make(self) -> nn.Module:
        """A new module instance (never shared between sites)."""
        try:
            return self.cls(**self.kwargs)
        except TypeError as exc:
            raise ConfigError(
                f"activation {self.name!r} does not accept activation_kwargs={self.kwargs!r}: {exc}"
            ) from None


def _import_class(path: str) -> type[nn.Module]:
    module_name, _, qualname = path.partition(":")
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"activation {path!r} could not be imported") from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise ConfigError(f"activation {path!r} is not an nn.Module class")
    return obj


def resolve_activation(activation, activation_kwargs: dict | None = None,
                       extra: dict[str, type[nn.Module]] | None = None) -> ActivationSpec:
    """Turn a name or ``nn.Module`` class (plus its kwargs) into an :class:`ActivationSpec`.

    ``extra`` adds model-specific names (ShallowConvNet adds ``square``). Unknown names raise
    :class:`~eegclf.errors.ConfigError` (a ValueError) listing the valid names.
    """
    table = dict(ACTIVATIONS)
    table.update(extra or {})
    kwargs = dict(activation_kwargs or {})
    if not all(isinstance(k, str) for k in kwargs):
        raise ConfigError(f"activation_kwargs keys must be strings, got {list(kwargs)!r}")

    if isinstance(activation, type) and issubclass(activation, nn.Module):
        names = [n for n, c in table.items() if c is activation]
        name = names[0] if names else f"{activation.__module__}:{activation.__qualname__}"
        spec = ActivationSpec(name, activation, kwargs)
        spec.make()  # fail now, not at the first forward pass
        return spec
    if isinstance(activation, nn.Module):
        raise ConfigError(
            f"activation {activation!r} is a module instance; pass its class or name "
            "(each activation site needs its own instance)"
        )
    if not isinstance(activation, str):
        raise ConfigError(f"activation must be a name or an nn.Module class, got {activation!r}")
    if ":" in activation:
        return resolve_activation(_import_class(activation), kwargs, extra)

    by_compact = {compact_name(n): n for n in table}
    name = by_compact.get(compact_name(activation))
    if name is None:
        raise ConfigError(
            f"unknown activation {activation!r}; valid names: {', '.join(sorted(table))}"
        )
    allowed = _ALLOWED_KWARGS.get(name)
    if allowed is not None:
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise ConfigError(
                f"activation {name!r} does not take {', '.join(unknown)}; "
                f"it takes: {', '.join(sorted(allowed)) or 'no options'}"
            )
    spec = ActivationSpec(name, table[name], kwargs)
    spec.make()
    return spec
