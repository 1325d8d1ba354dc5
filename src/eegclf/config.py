"""The run configuration: one dataclass, readable from TOML/YAML/JSON, overridden by the command line."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from eegclf.errors import ConfigError


@dataclass
class RunConfig:
    """Everything that defines one training run. Saved as ``RUN_DIR/config.json``."""

    model: str = "eegnet"
    activation: str | None = None  # None: the model's own default (elu; ShallowConvNet: square)
    dataset: str = "synthetic"
    dataset_options: dict = field(default_factory=dict)
    data_dir: str | None = None
    epochs: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    seed: int = 0
    val_fraction: float = 0.2  # 0: no validation part, the last epoch is the checkpoint
    device: str = "auto"
    dropout: float | None = None  # None: the model's default
    max_norm: bool | None = None  # max-norm constraints on/off; None: the model's own default
    model_kwargs: dict = field(default_factory=dict)
    threads: int | None = None  # torch intra-op threads; None leaves torch's default
    # bf16 autocast in the training pass (evaluation stays fp32). None (default): on where the hardware
    # computes bf16 natively (AVX-512 BF16/AMX CPUs, CUDA); test accuracy stays within the seed spread of
    # fp32 (benchmarks/train_speed.py). Grouped convolutions stay fp32 (see training.Fp32GroupedConv2d).
    bf16: bool | None = None
    # Re-estimate BatchNorm running statistics on the training part after every epoch, before measuring.
    # With a few dozen trials an epoch is 2-3 optimiser steps and the running averages trail far behind
    # the weights (see eegclf.batchnorm); off by default, as the study trained.
    bn_recalibrate: bool = False
    out: str | None = None

    def validate(self) -> "RunConfig":
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
        if self.optimizer not in ("adam", "adamw", "sgd"):
            bad("optimizer", self.optimizer, "one of adam, adamw, sgd")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            bad("device", self.device, "auto, cpu, cuda or cuda:N")
        if self.threads is not None and not (is_int(self.threads) and self.threads >= 1):
            bad("threads", self.threads, "an integer >= 1")
        if self.max_norm is not None and not isinstance(self.max_norm, bool):
            bad("max_norm", self.max_norm, "true, false, or null (the model's default)")
        if not isinstance(self.bn_recalibrate, bool):
            bad("bn_recalibrate", self.bn_recalibrate, "true or false")
        if self.bf16 is not None and not isinstance(self.bf16, bool):
            bad("bf16", self.bf16, "true, false, or null (automatic: on where the hardware computes bf16)")
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
    def from_dict(cls, d: dict) -> "RunConfig":
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
        return cls(**norm)


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
