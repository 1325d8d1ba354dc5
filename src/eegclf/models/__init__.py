"""The model registry: deep networks (PyTorch) and classical baselines, created by name.

Deep models (input ``(batch, 1, n_chans, n_times)``, output logits ``(batch, n_outputs)``):

================== ==================================================== ===========================
name               class                                                aliases
================== ==================================================== ===========================
``eegnet``         :class:`EEGNet` (the study's variant, the default)   EEGNet
``eegnet_8_2``     :class:`EEGNet82` (Lawhern et al. 2018)              EEGNet-8,2, eegnet82
``deepconvnet``    :class:`DeepConvNet` (the study's variant)           DeepConvNet
``shallowconvnet`` :class:`ShallowConvNet` (Schirrmeister et al. 2017)  ShallowConvNet, shallowfbcspnet
================== ==================================================== ===========================

Names are case-insensitive; ``-``, ``_``, ``,`` and spaces are ignored when matching. Every deep model takes
``(n_chans, n_times, n_outputs=2, *, activation, activation_kwargs=None, dropout, max_norm=True, ...)``,
has ``apply_constraints()``, ``model_name`` and ``config``; ``create_model(m.model_name, **m.config)``
rebuilds it. Classical models come from :mod:`eegclf.models.classical`.
"""

from __future__ import annotations

import inspect
import re

from eegclf.errors import ConfigError
from eegclf.models.activations import ACTIVATIONS, list_activations, resolve_activation
from eegclf.models.classical import CLASSICAL_MODELS
from eegclf.models.constraints import DeepModel, max_norm_
from eegclf.models.deepconvnet import DeepConvNet
from eegclf.models.eegnet import EEGNet
from eegclf.models.eegnet_8_2 import EEGNet82
from eegclf.models.shallow import ShallowConvNet

DEEP_MODELS: dict[str, type[DeepModel]] = {
    cls.model_name: cls for cls in (EEGNet, EEGNet82, DeepConvNet, ShallowConvNet)
}

_ALIASES = {"shallowfbcspnet": "shallowconvnet"}


def _compact(name: str) -> str:
    return re.sub(r"[\s_\-,]", "", name.lower())


def _valid_names() -> str:
    return ", ".join(list_models())


def canonical_name(name: str) -> str:
    """The registry key of ``name`` (e.g. ``"EEGNet-8,2"`` -> ``"eegnet_8_2"``); ConfigError when unknown."""
    if isinstance(name, str):
        table = {_compact(k): k for k in (*DEEP_MODELS, *CLASSICAL_MODELS)}
        table.update(_ALIASES)
        key = table.get(_compact(name))
        if key is not None:
            return key
    raise ConfigError(f"unknown model {name!r}; valid names: {_valid_names()}")


def list_models(kind: str | None = None) -> list[str]:
    """Sorted registry names: all (``kind=None``), ``"deep"`` or ``"classical"``."""
    if kind is None:
        return sorted({*DEEP_MODELS, *CLASSICAL_MODELS})
    if kind == "deep":
        return sorted(DEEP_MODELS)
    if kind == "classical":
        return sorted(CLASSICAL_MODELS)
    raise ConfigError(f"list_models: kind={kind!r} is invalid: expected None, 'deep' or 'classical'")


def is_classical(name: str) -> bool:
    """True when ``name`` is a classical baseline; False for deep models and unknown names."""
    try:
        return canonical_name(name) in CLASSICAL_MODELS
    except ConfigError:
        return False


def create_model(name: str, n_chans: int, n_times: int, n_outputs: int = 2, **kwargs):
    """Build the model registered as ``name`` (case-insensitive) for inputs ``(batch, 1, n_chans, n_times)``.

    ``kwargs`` go to the model's constructor (see each class). Unknown names, and options a model does not
    take, raise :class:`~eegclf.errors.ConfigError` (a ValueError) listing what is valid.
    """
    key = canonical_name(name)
    cls = DEEP_MODELS.get(key) or CLASSICAL_MODELS[key]
    try:
        inspect.signature(cls).bind(n_chans, n_times, n_outputs, **kwargs)
    except TypeError as exc:
        params = [p for p in inspect.signature(cls).parameters if p not in ("n_chans", "n_times", "n_outputs")]
        raise ConfigError(f"model {key!r}: {exc}; its options are: {', '.join(params)}") from None
    return cls(n_chans, n_times, n_outputs, **kwargs)


__all__ = [
    "ACTIVATIONS", "CLASSICAL_MODELS", "DEEP_MODELS", "DeepConvNet", "DeepModel", "EEGNet", "EEGNet82",
    "ShallowConvNet", "canonical_name", "create_model", "is_classical", "list_activations", "list_models",
    "max_norm_", "resolve_activation",
]
