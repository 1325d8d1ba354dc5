"""The model registry: one entry per model holding every fact the rest of eegclf asks about a model.

Every dispatch on a model (deep or classical? takes an activation? exportable? which name to show?) asks
its :class:`ModelEntry`; no other module keeps a table of model facts. Names are case-insensitive, and
``-``, ``_``, ``,`` and spaces are ignored when matching (``EEGNet-8,2`` is ``eegnet_8_2``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from eegclf.errors import ConfigError
from eegclf.models.activations import compact_name, resolve_activation
from eegclf.models.classical import CLASSICAL_MODELS
from eegclf.models.deepconvnet import DeepConvNet
from eegclf.models.eegnet import EEGNet
from eegclf.models.eegnet_8_2 import EEGNet82
from eegclf.models.shallow import ShallowConvNet

DEEP = "deep"
CLASSICAL = "classical"
NO_ACTIVATION = "-"  # the activation recorded for models that take none (run names, tables)


@dataclass(frozen=True)
class ModelEntry:
    """What eegclf knows about one model.

    name: the registry key. display_name: the name users know (``EEGNet-8,2``). kind: ``"deep"`` (a torch
    module trained by the loop) or ``"classical"`` (fitted once, numpy state). default_activation: the
    activation used when none is asked for; None when the model takes no activation. extra_activations:
    activation names only this model accepts. exportable: ONNX/TorchScript export and streaming work.
    temporal_kernels: the parameter holding the first temporal convolution's kernels (F, 1, 1, K), for the
    report's filter-response figure; None where the model has no such layer.
    """

    name: str
    display_name: str
    kind: str
    factory: type
    aliases: tuple[str, ...] = ()
    default_activation: str | None = None
    extra_activations: dict = field(default_factory=dict)
    exportable: bool = False
    temporal_kernels: str | None = None

    @property
    def is_deep(self) -> bool:
        return self.kind == DEEP

    @property
    def takes_activation(self) -> bool:
        return self.default_activation is not None

    def activation_name(self, activation: str | None) -> str:
        """The recorded name of ``activation`` for this model (its default when None; ``-`` when it takes none)."""
        if not self.takes_activation:
            return NO_ACTIVATION
        return resolve_activation(activation or self.default_activation, extra=self.extra_activations).name

    def build(self, n_chans: int, n_times: int, n_outputs: int = 2, **kwargs):
        """The model for inputs ``(batch, 1, n_chans, n_times)``; options a model does not take are a ConfigError."""
        try:
            inspect.signature(self.factory).bind(n_chans, n_times, n_outputs, **kwargs)
        except TypeError as exc:
            params = [p for p in inspect.signature(self.factory).parameters if p not in ("n_chans", "n_times", "n_outputs")]
            raise ConfigError(f"model {self.name!r}: {exc}; its options are: {', '.join(params)}") from None
        return self.factory(n_chans, n_times, n_outputs, **kwargs)


def _deep(cls, display_name: str, aliases=(), default_activation="elu", temporal_kernels=None) -> ModelEntry:
    return ModelEntry(cls.model_name, display_name, DEEP, cls, tuple(aliases), default_activation,
                      dict(cls.extra_activations or {}), exportable=True, temporal_kernels=temporal_kernels)


def _classical(cls, display_name: str, name: str | None = None) -> ModelEntry:
    return ModelEntry(name or cls.model_name, display_name, CLASSICAL, cls)


REGISTRY: dict[str, ModelEntry] = {e.name: e for e in (
    _deep(EEGNet, "EEGNet", temporal_kernels="firstconv.0.weight"),
    _deep(EEGNet82, "EEGNet-8,2", aliases=("eegnet82",), temporal_kernels="firstconv.1.weight"),
    _deep(DeepConvNet, "DeepConvNet"),
    # the paper's square/log nonlinearity is the default: any other activation replaces the square
    _deep(ShallowConvNet, "ShallowConvNet", aliases=("shallowfbcspnet",), default_activation="square"),
    _classical(CLASSICAL_MODELS["csp_lda"], "CSP+LDA"),
    _classical(CLASSICAL_MODELS["ts_lr"], "TS+LR"),
    _classical(CLASSICAL_MODELS["ts_svm"], "TS+SVM"),
    _classical(CLASSICAL_MODELS["fgmdm"], "FgMDM"),
)}

# name -> class views of the registry (the catalogue of classes, e.g. for tests looping over deep models)
DEEP_MODELS = {name: e.factory for name, e in REGISTRY.items() if e.is_deep}


def _entries() -> dict[str, ModelEntry]:
    """The registry plus any estimator a user added to ``CLASSICAL_MODELS`` at run time (no facts of its own:
    it is classical, takes no activation and cannot be exported)."""
    extra = {k: _classical(cls, k, name=k) for k, cls in CLASSICAL_MODELS.items() if k not in REGISTRY}
    return {**REGISTRY, **extra}


def get_model(name: str) -> ModelEntry:
    """The entry of ``name`` (case-insensitive, aliases allowed); ConfigError listing the valid names."""
    entries = _entries()
    if isinstance(name, str):
        table = {compact_name(alias): e for e in entries.values() for alias in (e.name, *e.aliases)}
        entry = table.get(compact_name(name))
        if entry is not None:
            return entry
    raise ConfigError(f"unknown model {name!r}; valid names: {', '.join(sorted(entries))}")


def list_models(kind: str | None = None) -> list[str]:
    """Sorted registry names: all (``kind=None``), ``"deep"`` or ``"classical"``."""
    if kind not in (None, DEEP, CLASSICAL):
        raise ConfigError(f"kind={kind!r} is invalid: expected None, 'deep' or 'classical'")
    return sorted(n for n, e in _entries().items() if kind is None or e.kind == kind)
