"""The run configuration: one dataclass, readable from TOML/YAML/JSON, overridden by the command line."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from eegclf.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd")
# RunConfig.fast_path, the one place of the mode names: "auto" computes the first layers in the exact order that
# costs least (eegclf.models.fast_paths), "off" runs the modules as defined. Everything else imports them.
FAST_PATH_AUTO = "auto"
FAST_PATH_OFF = "off"
FAST_PATH_MODES = (FAST_PATH_AUTO, FAST_PATH_OFF)
AUGMENTATIONS = ("shift", "scale", "chdrop", "capsubset")  # RunConfig.augment; eegclf.training.augment applies them


def _field(default, help: str, **cli):
    """A RunConfig field with its one-line ``help`` and how the command line offers it.

    The metadata is read by :mod:`eegclf.cli.flags`, which makes every field a flag: ``help`` (required)
    says what the value is, and the flag's help adds the field's default. Optional keys: ``flags`` (the
    option strings when not ``--field-name``), ``none`` (what a None default means, e.g. "the model's"),
    ``choices`` (allowed values, or a {text: value} table), ``switch`` (the value a flag without argument
    sets), ``names`` ("module:function" listing the valid names), ``group`` and ``metavar``.
    """
    meta = {"help": help, **cli}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta)
    return field(default=default, metadata=meta)


def parse_augment(text: str | None) -> tuple[str, ...]:
    """``"shift,scale"`` -> ``("shift", "scale")``; ``None``, ``""`` or ``"none"`` -> ``()`` (no augmentation);
    ConfigError (naming ``augment``) for unknown names."""
    if text is None or not str(text).strip() or str(text).strip().lower() == "none":
        return ()
    names = tuple(dict.fromkeys(t.strip().lower() for t in str(text).split(",") if t.strip()))
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ConfigError(f"augment={text!r} is invalid: unknown {', '.join(unknown)}; valid: "
                          f"{', '.join(AUGMENTATIONS)} (comma-separated)", param="augment")
    return names


_DATA = "data set"


@dataclass
class RunConfig:
    """Everything that defines one training run. Saved in the run folder (:mod:`eegclf.storage.rundir`).

    Validated when created (and by :func:`dataclasses.replace`): a RunConfig that exists is a valid one.
    """

    model: str = _field("eegnet", "model to train, case-insensitive", names="eegclf.models:list_models")
    activation: str | None = _field(None, "activation of the deep models (or a module:Class path)",
                             flags=("--act", "--activation"), none="the model's",
                             names="eegclf.models:list_activations")
    dataset: str = _field("synthetic", "data set", group=_DATA, names="eegclf.data:list_datasets")
    dataset_options: dict = _field({}, "loader options as a JSON table, e.g. '{\"n_train\": 96}'; the loader "
                                   "flags below override its keys", group=_DATA)
    data_dir: str | None = _field(None, "data root holding one folder per data set", group=_DATA,
                                  none="$EEGCLF_DATA, else ~/eegclf_data", metavar="DIR")
    epochs: int = _field(300, "training epochs")
    batch_size: int = _field(64, "mini-batch size")
    lr: float = _field(1e-3, "learning rate")
    weight_decay: float = _field(0.0, "weight decay")
    optimizer: str = _field("adam", "optimiser", choices=OPTIMIZERS)
    seed: int = _field(0, "one seed for python, numpy and torch; it also draws the validation split")
    val_fraction: float = _field(0.2, "fraction of the training set held out for model selection, "
                                 "stratified per subject and class; 0 trains on every training trial and "
                                 "keeps the last epoch")
    device: str = _field("auto", "auto (CUDA when present), cpu, cuda or cuda:N")
    dropout: float | None = _field(None, "dropout probability", none="the model's")
    max_norm: bool | None = _field(None, "max-norm weight constraints, where the model has them (on for "
                                   "DeepConvNet, EEGNet-8,2 and ShallowConvNet, off for the study's EEGNet); "
                                   "the flag switches them off", flags=("--no-max-norm",), switch=False,
                                   none="the model's")
    model_kwargs: dict = _field({}, "further model options as a JSON table, e.g. '{\"F1\": 8}'")
    threads: int | None = _field(None, "torch intra-op threads", none="torch's choice")
    # bf16 autocast in the training pass (evaluation stays fp32). None (default): on where the hardware
    # computes bf16 natively (AVX-512 BF16/AMX CPUs, CUDA); test accuracy stays within the seed spread of
    # fp32 (benchmarks/train_speed.py). Grouped convolutions stay fp32 (eegclf.models.fast_modules.Fp32GroupedConv2d).
    bf16: bool | None = _field(None, "bf16 autocast in the training pass; evaluation is always fp32",
                               choices={"auto": None, "on": True, "off": False},
                               none="auto, on where the CPU/GPU computes bf16 natively, e.g. AVX-512 BF16/AMX")
    # The exact reorderings of eegclf.models.fast_paths (EEGNet spatial-first, DeepConvNet/ShallowConvNet merged
    # first convolution): "auto" takes them where they cost less than the reference modules (at 64 channels 4-7x
    # less per step); "off" runs the modules as defined. Same parameters and checkpoints either way; the two
    # paths agree to float rounding, not to the byte.
    fast_path: str = _field(FAST_PATH_AUTO, "compute the first layers in the exact order that costs least (auto) or as "
                            "the reference modules do (off); both give the same model up to float rounding",
                            choices=FAST_PATH_MODES)
    # Re-estimate BatchNorm running statistics on the training part after every epoch, before measuring.
    # With a few dozen trials an epoch is 2-3 optimiser steps and the running averages trail far behind
    # the weights (see eegclf.training.batchnorm); off by default, as the study trained.
    bn_recalibrate: bool = _field(False, "re-estimate BatchNorm statistics on the training trials after every "
                                  "epoch: it helps with a few dozen trials, where an epoch is a few steps",
                                  switch=True)
    augment: str | None = _field(None, "augment the training trials, comma-separated: shift (time shifts), "
                                 "scale (amplitude), chdrop (channel dropout), capsubset (half the trials restricted "
                                 "to a common cap and interpolated back), or none; see eegclf.training.augment",
                                 none="none", metavar="NAMES")
    out: str | None = _field(None, "run folder", none="runs/MODEL-ACT-seedSEED", metavar="DIR")

    def __post_init__(self):
        self.validate()

    def validate(self) -> "RunConfig":
        """ConfigError naming the first invalid field (as ``name=value``); returns self."""
        def bad(name, value, expected):
            raise ConfigError(f"{name}={value!r} is invalid: expected {expected}")

        def is_int(v) -> bool:
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def is_num(v) -> bool:  # a finite real number (bools, NaN and inf are not)
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)

        if not isinstance(self.epochs, int) or isinstance(self.epochs, bool) or self.epochs < 1:
            bad("epochs", self.epochs, "an integer >= 1")
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            bad("batch_size", self.batch_size, "an integer >= 1")
        if not (is_num(self.lr) and self.lr > 0):
            bad("lr", self.lr, "a finite number > 0")
        if not (is_num(self.weight_decay) and self.weight_decay >= 0):
            bad("weight_decay", self.weight_decay, "a finite number >= 0")
        if not (is_num(self.val_fraction) and 0.0 <= self.val_fraction < 1.0):
            bad("val_fraction", self.val_fraction, "a number in [0, 1): 0 trains on every training trial, keeping the last epoch")
        if self.dropout is not None and not (is_num(self.dropout) and 0.0 <= self.dropout < 1.0):
            bad("dropout", self.dropout, "a number in [0, 1)")
        if not (is_int(self.seed) and self.seed >= 0):
            bad("seed", self.seed, "an integer >= 0")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", self.optimizer, f"one of {', '.join(OPTIMIZERS)}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            bad("device", self.device, "auto, cpu, cuda or cuda:N")
        if self.threads is not None and not (is_int(self.threads) and self.threads >= 1):
            bad("threads", self.threads, "an integer >= 1")
        if self.max_norm is not None and not isinstance(self.max_norm, bool):
            bad("max_norm", self.max_norm, "true, false, or null (the model's default)")
        if self.fast_path not in FAST_PATH_MODES:
            bad("fast_path", self.fast_path, f"one of {', '.join(FAST_PATH_MODES)}")
        if not isinstance(self.bn_recalibrate, bool):
            bad("bn_recalibrate", self.bn_recalibrate, "true or false")
        if self.bf16 is not None and not isinstance(self.bf16, bool):
            bad("bf16", self.bf16, "true, false, or null (automatic: on where the hardware computes bf16)")
        if self.augment is not None:
            if not isinstance(self.augment, str):
                bad("augment", self.augment, "comma-separated names of augmentations (text)")
            parse_augment(self.augment)
        for name in ("dataset_options", "model_kwargs"):
            if not isinstance(getattr(self, name), dict):
                bad(name, getattr(self, name), "a table of keys and values")
        if not isinstance(self.dataset, str):
            bad("dataset", self.dataset, "a data set name such as synthetic, bci3b or eegmmidb")
        for name in ("data_dir", "out"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                bad(name, getattr(self, name), "a path (text)")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def normalize_keys(cls, d: dict) -> dict:
        """``d`` with its keys as field names (``-`` -> ``_``, ``act`` -> ``activation``); ConfigError for
        unknown keys. The values are not checked: that happens when the RunConfig is made."""
        if not isinstance(d, dict):
            raise ConfigError(f"a run configuration must be a table of keys, found {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        norm = {str(k).replace("-", "_"): v for k, v in d.items()}
        # "act" is the study's spelling of the activation option
        if "act" in norm:
            norm["activation"] = norm.pop("act")
        unknown = sorted(set(norm) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; valid keys: {sorted(known)}")
        return norm

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        return cls(**cls.normalize_keys(d))


def read_config_file(path: str | Path) -> dict:
    """Read a TOML, YAML or JSON config file into a dict of RunConfig keys."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
        if suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"config file {path}: expected a .toml, .yaml, .yml or .json file")
    except ConfigError:
        raise
    except Exception as exc:  # undecodable bytes, or parse errors of any of the three formats
        raise ConfigError(f"config file {path} could not be parsed: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a table of keys, found {type(data).__name__}")
    return data
