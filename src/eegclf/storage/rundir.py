"""The run folder: the one module that knows its layout, and writes and reads every file in it.

A run folder (one model, one activation, one seed) holds::

    config.json         the resolved RunConfig, written first
    history.csv         one row per epoch (HISTORY_COLUMNS)
    best.safetensors    the checkpoint chosen on validation (the last epoch when there is no validation part)
    last.safetensors    the checkpoint of the last epoch
    state.safetensors   the resumable training state (weights, optimiser, RNGs), written last every epoch
    summary.json        written once training finished: its presence marks the run complete

Everything else (training, study, reporting, tuning, benchmark, CLI, tests) goes through :class:`RunDir`
and the constants here; no other module spells these file names. The checkpoints and the training state
are written and read by :mod:`eegclf.storage.checkpoint` and :mod:`eegclf.storage.train_state` at the paths
RunDir gives (``checkpoint_path(kind)``, ``state_path``): the run folder imports neither.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np

from eegclf.errors import CheckpointError, ConfigError, DataError
from eegclf.storage.fileio import atomic_write_csv, atomic_write_json

CONFIG = "config.json"
HISTORY = "history.csv"
SUMMARY = "summary.json"
BEST = "best.safetensors"
LAST = "last.safetensors"
STATE = "state.safetensors"
PRETRAINED = "pretrained.safetensors"  # written by eegclf pretrain: the last epoch plus the subjects it saw
INIT = "init.json"  # a train --init run: the checkpoint it started from (path, sha256), so that it can resume
CHECKPOINTS = {"best": BEST, "last": LAST, "pretrained": PRETRAINED}

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"]


def _fmt(v: float) -> str:
    return f"{v:.6f}"


def _to_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class RunDir:
    """One run folder at ``path`` (it need not exist yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:  # for the odd extra file a caller keeps beside the run
        return self.path / name

    # ---- paths and state questions ----
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY

    @property
    def state_path(self) -> Path:
        return self.path / STATE

    def checkpoint_path(self, kind: str = "best") -> Path:
        """``kind``: "best" (validation-selected), "last" or "pretrained"."""
        if kind not in CHECKPOINTS:
            raise ConfigError(f"kind={kind!r} is invalid: expected one of {', '.join(CHECKPOINTS)}")
        return self.path / CHECKPOINTS[kind]

    def is_complete(self) -> bool:
        """True once training finished (the summary is written last)."""
        return self.summary_path.is_file()

    def has_state(self) -> bool:
        """True when at least one epoch completed, so ``--resume`` can continue."""
        return self.state_path.is_file()

    def has_checkpoint(self) -> bool:
        return any(self.checkpoint_path(k).is_file() for k in CHECKPOINTS)

    def create(self) -> "RunDir":
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def remove(self) -> None:
        """Delete the folder (or a file in its place), e.g. an unfinished run that restarts from scratch."""
        if self.path.is_dir():
            shutil.rmtree(self.path)
        elif self.path.exists():
            self.path.unlink()

    # ---- config ----
    def write_config(self, config_dict: dict) -> None:
        atomic_write_json(self.config_path, config_dict)

    def read_config_dict(self) -> dict:
        if not self.config_path.is_file():
            raise ConfigError(f"{self.path} is not a run folder: {self.config_path} is missing")
        try:
            return json.loads(self.config_path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{self.config_path} is not valid JSON ({exc})") from None

    def read_config(self):
        """The run's :class:`~eegclf.config.RunConfig`."""
        from eegclf.config import RunConfig

        return RunConfig.from_dict(self.read_config_dict())

    # ---- the starting network of a fine-tuning run ----
    def write_init(self, record: dict) -> None:
        atomic_write_json(self.path / INIT, record)

    def read_init(self) -> dict | None:
        """The record of the checkpoint a ``train --init`` run started from; None for a run from scratch."""
        path = self.path / INIT
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc})") from None

    # ---- history ----
    def write_history(self, history: list[dict]) -> None:
        rows = [[r["epoch"]] + [_fmt(r[c]) for c in HISTORY_COLUMNS[1:]] for r in history]
        atomic_write_csv(self.history_path, HISTORY_COLUMNS, rows)

    def read_history(self) -> list[dict]:
        """The history as written, one dict per epoch; CheckpointError when missing or corrupt."""
        path = self.history_path
        try:
            with open(path, newline="") as f:
                rows = [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
                        for row in csv.DictReader(f)]
        except FileNotFoundError:
            raise CheckpointError(f"{path} does not exist") from None
        except (ValueError, TypeError, csv.Error) as exc:
            raise CheckpointError(f"{path} is corrupt ({exc})") from None
        if any(set(r) != set(HISTORY_COLUMNS) for r in rows):
            raise CheckpointError(f"{path} is corrupt: expected the columns {','.join(HISTORY_COLUMNS)}")
        return rows

    def history_columns(self) -> dict[str, np.ndarray]:
        """The history for figures: column -> float array sorted by epoch; empty cells are NaN, and a
        missing or empty file gives ``{}`` (a report still shows the run's summary)."""
        if not self.history_path.is_file():
            return {}
        with open(self.history_path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            return {}
        cols = {k: np.array([_to_float(r.get(k)) for r in rows]) for k in rows[0] if k is not None}
        if "epoch" in cols:
            order = np.argsort(cols["epoch"], kind="stable")
            cols = {k: v[order] for k, v in cols.items()}
        return cols

    # ---- summary ----
    def write_summary(self, summary: dict) -> None:
        atomic_write_json(self.summary_path, summary)

    def read_summary(self) -> dict:
        path = self.summary_path
        try:
            summary = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(f"{path} does not exist: the run has not finished") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path} is not valid JSON ({exc}); delete the run folder and run it again") from None
        if not isinstance(summary, dict):
            raise DataError(f"{path}: expected a run summary (a JSON object)")
        return summary


def completed_runs(runs_dir: str | Path) -> list[RunDir]:
    """The complete run folders directly below ``runs_dir``, sorted by name."""
    return [RunDir(p.parent) for p in sorted(Path(runs_dir).glob(f"*/{SUMMARY}"))]
