"""What a benchmark's numbers depend on beyond its settings: recorded in ``benchmark.json`` and in every fold
record, compared when a benchmark folder is resumed (:meth:`eegclf.benchmark.folder.BenchmarkFolder.prepare`
refuses any difference, naming it), and shown by ``eegclf report``.

``collect`` gives one key per fact (add a fact with one line there):

- ``pool``: sha256 of the trial pool, i.e. every trial's samples, label, subject, session and run, with the
  sampling rate, channel and class names. Other files, another MNE that filters differently or other loader
  options give other trials; another copy of the same files in another ``data_dir`` gives the same pool;
- ``packages``: the versions of eegclf, Python, torch, numpy, MNE, scikit-learn, pyriemann, safetensors;
- ``device``: where the deep pipelines train (``cpu``, ``cuda (NVIDIA H200)``);
- ``bf16``: whether their training pass runs in bf16 autocast (``RunConfig.bf16`` resolved on that device);
- ``fast_path``: the setting of the deep models' exact fast paths (:mod:`eegclf.models.fast_paths`; the
  paths agree to float rounding, not to the byte).

The pre-trained ``--init`` checkpoints are fingerprinted by :func:`file_sha256` (the spec's ``init`` records,
and each transfer fold's ``init``: the checkpoint its subject was tested with).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from eegclf.config import RunConfig
from eegclf.data.base import EEGDataset, Split
from eegclf.storage.fileio import file_sha256  # noqa: F401  (re-exported: the benchmark's checkpoint fingerprints)


def pool_fingerprint(template: EEGDataset, pool: Split) -> str:
    """sha256 of every pooled trial (samples, label, subject, session, run) and of what describes them."""
    h = hashlib.sha256()
    h.update(json.dumps({"shape": list(pool.X.shape), "sfreq": template.sfreq, "ch_names": list(template.ch_names),
                         "class_names": list(template.class_names)}, sort_keys=True).encode())
    for a in (pool.X, pool.y, pool.runs):
        if a.size:
            h.update(memoryview(np.ascontiguousarray(a)).cast("B"))
    for names in (pool.subjects, pool.sessions):
        h.update("\0".join(names.tolist()).encode())
    return h.hexdigest()


def _device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def collect(config: RunConfig, pool: str) -> dict:
    """The provenance of a benchmark run here, now, with the recipe ``config`` on the trial pool whose
    :func:`pool_fingerprint` is ``pool``."""
    from eegclf.storage.checkpoint import package_versions
    from eegclf.training.loop import bf16_default, resolve_device

    device = resolve_device(config.device)
    return {
        "pool": pool,
        "packages": package_versions(),
        "device": _device_name(device),
        "bf16": bool(bf16_default(device) if config.bf16 is None else config.bf16),
        "fast_path": config.fast_path,
    }


def differences(old, new, where: str = "", says: tuple[str, str] = ("was", "now")) -> list[str]:
    """Each place where ``new`` differs from ``old`` (dicts and lists followed), as ``key.sub (was X, now Y)``
    (``says``: the words before the old and the new value)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            out += differences(old.get(k, _MISSING), new.get(k, _MISSING), f"{where}.{k}" if where else str(k), says)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{where}[{i}]", says)]
    if old == new:
        return []
    return [f"{where} ({says[0]} {_short(old)}, {says[1]} {_short(new)})"]


class _Missing:
    def __repr__(self) -> str:
        return "missing"


_MISSING = _Missing()


def _short(value) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def init_of_fold(spec: dict, inits: tuple, chosen) -> dict:
    """The ``init`` entry of a transfer fold's record: path and sha256 of the checkpoint ``chosen`` (one of
    ``inits``, loaded from the spec's ``init`` records in order)."""
    record = spec["init"][next(i for i, init in enumerate(inits) if init is chosen)]
    return {"path": record["path"], "sha256": record["sha256"]}


def check_init_file(record: dict) -> None:
    """CheckpointError when the checkpoint at ``record["path"]`` is no longer the one the spec recorded."""
    from eegclf.errors import CheckpointError

    now = file_sha256(record["path"]) if Path(record["path"]).is_file() else "missing"
    if now != record.get("sha256"):
        raise CheckpointError(f"checkpoint {record['path']} changed since this benchmark recorded it (sha256 "
                              f"was {_short(record.get('sha256'))}, now {_short(now)}): use another out folder")
