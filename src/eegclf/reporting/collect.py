"""Reading a study folder: every finished run's summary and history, in a stable order.

A study folder looks like ``OUT/study.json`` plus ``OUT/runs/{model}-{activation}-seed{seed}/``, each a run
folder (:mod:`eegclf.storage.rundir`). Only complete runs are read; nothing is retrained.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eegclf.errors import DataError
from eegclf.models import NO_ACTIVATION, get_model
from eegclf.storage.rundir import RunDir, completed_runs

# order used when study.json does not say (the original study's order first)
DEFAULT_ACTIVATION_ORDER = ["relu", "leaky_relu", "elu", "gelu", "silu"]


def display_name(model: str) -> str:
    """The name users know (``eegnet`` -> ``EEGNet``); unknown names are returned unchanged."""
    try:
        return get_model(model).display_name
    except ValueError:
        return model


@dataclass
class Run:
    """One finished run.

    history: column name -> 1-D float array over epochs (sorted by epoch); empty when the run has no history.
    """

    name: str
    path: Path
    model: str
    activation: str
    seed: int
    summary: dict
    history: dict[str, np.ndarray] = field(default_factory=dict)

    def metric(self, key: str) -> float:
        """A summary metric as float (NaN when missing or not a number)."""
        return to_float(self.summary.get(key))

    @property
    def n_epochs(self) -> int:
        return len(self.history.get("epoch", ()))


def to_float(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v


def read_study_spec(out_dir: Path) -> dict:
    """OUT/study.json as a dict ({} when absent)."""
    path = Path(out_dir) / "study.json"
    if not path.is_file():
        return {}
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc})") from None
    return spec if isinstance(spec, dict) else {}


def _normalise_activation(model: str, activation) -> str:
    if activation in (None, "", NO_ACTIVATION):
        return NO_ACTIVATION
    try:
        takes_activation = get_model(model).takes_activation
    except ValueError:  # a model this version does not know: keep what the run recorded
        takes_activation = True
    return str(activation) if takes_activation else NO_ACTIVATION


def _read_run(run: RunDir) -> Run:
    summary = run.read_summary()
    if "model" not in summary or "seed" not in summary:
        raise DataError(f"{run.summary_path}: expected a run summary with at least 'model' and 'seed' keys")
    model = str(summary["model"]).lower()
    return Run(
        name=run.path.name,
        path=run.path,
        model=model,
        activation=_normalise_activation(model, summary.get("activation")),
        seed=int(summary["seed"]),
        summary=summary,
        history=run.history_columns(),
    )


def _rank(order: list[str], value: str) -> tuple:
    return (0, order.index(value), "") if value in order else (1, 0, value)


def load_runs(out_dir) -> list[Run]:
    """All finished runs under OUT/runs, sorted by (model, activation, seed).

    Models and activations follow the order in study.json when present (else alphabetical models and
    the original study's activation order), so the result is the same on every call.
    """
    out_dir = Path(out_dir)
    runs_dir = out_dir / "runs"
    runs = [_read_run(r) for r in completed_runs(runs_dir)]
    if not runs:
        raise DataError(f"no finished runs in {runs_dir} (expected one complete run folder per run)")
    spec = read_study_spec(out_dir)
    model_order = [str(m).lower() for m in spec.get("models", [])]
    act_order = [str(a) for a in spec.get("activations", [])] + DEFAULT_ACTIVATION_ORDER
    runs.sort(key=lambda r: (_rank(model_order, r.model), _rank(act_order, r.activation), r.seed, r.name))
    return runs


def group_runs(runs: list[Run]) -> dict[tuple[str, str], list[Run]]:
    """(model, activation) -> its runs, keeping the order of ``runs`` (insertion-ordered dict)."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.model, r.activation), []).append(r)
    return groups


def models_in(runs: list[Run]) -> list[str]:
    """The distinct models in the order they appear."""
    return list(dict.fromkeys(r.model for r in runs))
