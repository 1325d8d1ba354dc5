"""Models by name: the deep networks (PyTorch) and the classical baselines, all behind one registry.

Deep models (input ``(batch, 1, n_chans, n_times)``, output logits ``(batch, n_outputs)``):

================== ==================================================== ===========================
name               class                                                aliases
================== ==================================================== ===========================
``eegnet``         :class:`EEGNet` (the study's variant, the default)   EEGNet
``eegnet_8_2``     :class:`EEGNet82` (Lawhern et al. 2018)              EEGNet-8,2, eegnet82
``deepconvnet``    :class:`DeepConvNet` (the study's variant)           DeepConvNet
``shallowconvnet`` :class:`ShallowConvNet` (Schirrmeister et al. 2017)  ShallowConvNet, shallowfbcspnet
================== ==================================================== ===========================

Every deep model takes ``(n_chans, n_times, n_outputs=2, *, activation, activation_kwargs=None, dropout,
max_norm, ...)``, has ``apply_constraints()``, ``model_name`` and ``config``; ``create_model(m.model_name,
**m.config)`` rebuilds it. Classical models come from :mod:`eegclf.models.classical`. What eegclf knows
about each model (kind, display name, default activation, exportable) is its :class:`ModelEntry` in
:mod:`eegclf.models.registry`: ``get_model(name)``.
"""

from __future__ import annotations

from eegclf.models.activations import ACTIVATIONS, list_activations, resolve_activation
from eegclf.models.base import DeepModel
from eegclf.models.classical import CLASSICAL_MODELS
from eegclf.models.constraints import max_norm_
from eegclf.models.deepconvnet import DeepConvNet
from eegclf.models.eegnet import EEGNet
from eegclf.models.eegnet_8_2 import EEGNet82
from eegclf.models.registry import DEEP_MODELS, NO_ACTIVATION, ModelEntry, get_model, list_models
from eegclf.models.shallow import ShallowConvNet


def canonical_name(name: str) -> str:
    """The registry key of ``name`` (e.g. ``"EEGNet-8,2"`` -> ``"eegnet_8_2"``); ConfigError when unknown."""
    return get_model(name).name


def is_classical(name: str) -> bool:
    """True when ``name`` is a classical baseline; False for deep models and unknown names."""
    try:
        return not get_model(name).is_deep
    except ValueError:
        return False


def create_model(name: str, n_chans: int, n_times: int, n_outputs: int = 2, **kwargs):
    """Build the model registered as ``name`` (case-insensitive) for inputs ``(batch, 1, n_chans, n_times)``.

    ``kwargs`` go to the model's constructor (see each class). Unknown names, and options a model does not
    take, raise :class:`~eegclf.errors.ConfigError` (a ValueError) listing what is valid.
    """
    return get_model(name).build(n_chans, n_times, n_outputs, **kwargs)


def canonical_activation(model: str, activation: str | None) -> str:
    """The recorded activation name of ``activation`` for ``model`` (its default when None; ``-`` when the
    model takes no activation), e.g. ``("ShallowConvNet", "Square") -> "square"``."""
    return get_model(model).activation_name(activation)


__all__ = [
    "ACTIVATIONS", "CLASSICAL_MODELS", "DEEP_MODELS", "NO_ACTIVATION", "DeepConvNet", "DeepModel", "EEGNet",
    "EEGNet82", "ModelEntry", "ShallowConvNet", "canonical_activation", "canonical_name", "create_model",
    "get_model", "list_activations", "list_models", "max_norm_", "resolve_activation",
]
