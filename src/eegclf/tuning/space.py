"""The search space: which training settings a trial draws, and how a trial's draw becomes a RunConfig.

Every parameter is either searched (a range or a list of choices) or fixed (a range of one value, e.g.
when the user gave ``--lr 1e-3``): a fixed parameter is still recorded in each trial's params, and
Optuna's importance evaluators leave single-valued parameters out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from eegclf.config import RunConfig
from eegclf.errors import ConfigError

# the names of the searched parameters, in the order trials draw them (they are RunConfig fields)
PARAMS = ("lr", "weight_decay", "dropout", "batch_size", "activation", "epochs")


@dataclass(frozen=True)
class SearchSpace:
    """Ranges (low, high) are inclusive; lr and weight_decay are drawn on a log scale."""

    lr: tuple[float, float] = (1e-4, 1e-2)
    weight_decay: tuple[float, float] = (1e-6, 1e-2)
    dropout: tuple[float, float] = (0.0, 0.6)
    batch_size: tuple[int, ...] = (16, 32, 64, 128)
    activation: tuple[str, ...] = ("relu", "leaky_relu", "elu")
    epochs: tuple[int, int] = (10, 100)

    def validate(self) -> "SearchSpace":
        from eegclf.models.activations import resolve_activation

        def bad(name, value, expected):
            raise ConfigError(f"search space {name}={value!r} is invalid: expected {expected}")

        for name, lo_min in (("lr", 0.0), ("weight_decay", 0.0)):
            lo, hi = getattr(self, name)
            if not (lo > lo_min and hi >= lo):
                bad(name, (lo, hi), "0 < low <= high (it is drawn on a log scale)")
        lo, hi = self.dropout
        if not (0.0 <= lo <= hi < 1.0):
            bad("dropout", (lo, hi), "0 <= low <= high < 1")
        lo, hi = self.epochs
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            bad("epochs", (lo, hi), "integers 1 <= low <= high")
        if not self.batch_size or any(not isinstance(b, int) or b < 1 for b in self.batch_size):
            bad("batch_size", self.batch_size, "one or more integers >= 1")
        if not self.activation:
            bad("activation", self.activation, "one or more activation names")
        for a in self.activation:
            resolve_activation(a)  # ConfigError naming the valid ones
        return self

    def suggest(self, trial) -> dict:
        """Draw one setting from ``trial`` (an optuna Trial); returns {param: value} for PARAMS."""
        return {
            "lr": trial.suggest_float("lr", *self.lr, log=True),
            "weight_decay": trial.suggest_float("weight_decay", *self.weight_decay, log=True),
            "dropout": trial.suggest_float("dropout", *self.dropout),
            "batch_size": trial.suggest_categorical("batch_size", list(self.batch_size)),
            "activation": trial.suggest_categorical("activation", list(self.activation)),
            "epochs": trial.suggest_int("epochs", *self.epochs),
        }

    def fix(self, **values) -> "SearchSpace":
        """A copy in which each given parameter (not None) takes exactly that value."""
        changes = {}
        for name, v in values.items():
            if v is None:
                continue
            if name not in PARAMS:
                raise ConfigError(f"unknown search parameter {name!r}; valid: {', '.join(PARAMS)}")
            changes[name] = (v,) if name in ("batch_size", "activation") else (v, v)
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "SearchSpace":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown search space key(s) {unknown}; valid: {sorted(known)}")
        return cls(**{k: tuple(v) for k, v in d.items()}).validate()

    def describe(self) -> list[tuple[str, str]]:
        """(param, human-readable range) rows for the report."""
        rows = []
        for name in PARAMS:
            v = getattr(self, name)
            if name in ("batch_size", "activation"):
                rows.append((name, ", ".join(map(str, v)) if len(v) > 1 else f"fixed: {v[0]}"))
            elif v[0] == v[1]:
                rows.append((name, f"fixed: {v[0]:g}"))
            else:
                scale = " (log)" if name in ("lr", "weight_decay") else ""
                rows.append((name, f"{v[0]:g} .. {v[1]:g}{scale}"))
        return rows


def apply_params(base: RunConfig, params: dict) -> RunConfig:
    """``base`` with a trial's params (a subset of PARAMS) put in (validated, as every RunConfig made)."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ConfigError(f"trial params {unknown} are not search parameters ({', '.join(PARAMS)})")
    return replace(base, **params)
