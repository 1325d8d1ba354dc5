"""Checkpoints: safetensors weights plus JSON metadata in the same file. Loading never unpickles.

Layout of a checkpoint file:
- tensors ``model.*`` (the :class:`Standardized` network's state dict, normalisation included) for
  deep models, or ``clf.*`` (``get_state()`` arrays) for classical models;
- header metadata key ``eegclf``: JSON with everything needed to rebuild and evaluate the model
  (model name and constructor args, data shape, sampling rate, channel and class names, data set,
  epoch, metrics, seed, config, package versions).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save as st_save

from eegclf.config import FAST_PATH_AUTO
from eegclf.errors import CheckpointError
from eegclf.storage.fileio import atomic_write_bytes
from eegclf.storage.safetensors_io import read_safetensors

FORMAT = "eegclf-checkpoint/1"
PICKLE_SUFFIXES = {".pth", ".pt", ".pkl", ".pickle", ".ckpt", ".bin"}


def package_versions() -> dict:
    """Versions of the packages a result depends on (read from metadata: importing mne costs seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    from eegclf._version import __version__

    versions = {"eegclf": __version__, "python": platform.python_version(),
                "torch": torch.__version__, "numpy": np.__version__}
    for dist in ("mne", "scikit-learn", "pyriemann", "safetensors"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return versions


def save_checkpoint(path, model, meta: dict) -> Path:
    """Write ``model`` (a Standardized deep net, an :class:`~eegclf.models.ensemble.Ensemble` of them, whose
    ``meta`` then says so: :mod:`eegclf.storage.ensembles`, or a classical model) with ``meta`` atomically."""
    if isinstance(model, torch.nn.Module):
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    else:  # a classical model: its fitted state is a few numpy arrays
        tensors = {f"clf.{k}": torch.as_tensor(np.ascontiguousarray(v)) for k, v in model.get_state().items()}
    return write_checkpoint(path, tensors, meta)


def write_checkpoint(path, tensors: dict, meta: dict) -> Path:
    """Write checkpoint tensors and metadata atomically (the one writer of checkpoint files)."""
    meta = dict(meta, format=FORMAT)
    data = st_save(tensors, metadata={"eegclf": json.dumps(meta, sort_keys=True)})
    return atomic_write_bytes(path, data)


def _refuse_pickle(path: Path, data: bytes) -> None:
    """Refuse PyTorch/pickle files by name, or by content once safetensors parsing failed."""
    looks_pickle = data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05") or data[:2] == b"PK"
    if path.suffix.lower() in PICKLE_SUFFIXES or looks_pickle:
        raise CheckpointError(
            f"{path}: refused, this looks like a PyTorch/pickle file, and loading pickles can run "
            "arbitrary code; eegclf reads only its own .safetensors checkpoints"
        )


def read_checkpoint(path) -> tuple[dict, dict]:
    """Read tensors and metadata without building a model. Never unpickles. ``path`` may also be the name
    of a network that ships with eegclf (``eegclf pretrained list``); an existing path wins over a name."""
    from eegclf.pretrained import resolve

    path = resolve(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        _refuse_pickle(path, b"")
    data = path.read_bytes()
    if not data:
        raise CheckpointError(f"checkpoint {path} is empty")
    try:
        tensors, meta = read_safetensors(data, "eegclf")
    except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError, json.JSONDecodeError) as exc:
        _refuse_pickle(path, data)
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not an eegclf checkpoint (no eegclf metadata)")
    return tensors, meta


def load_checkpoint(path, fast_path: str = FAST_PATH_AUTO):
    """Rebuild the model from a checkpoint file alone. Returns ``(model, meta)``; model in eval mode.

    ``fast_path``: ``"auto"`` (the cheaper exact order, :mod:`eegclf.models.fast_paths`) or ``"off"``; either
    path runs any checkpoint, whichever path trained it.

    Deep models come back as :class:`~eegclf.models.standardize.Standardized` (normalisation inside),
    classical models as their estimator with the fitted state restored, ensembles
    (:mod:`eegclf.storage.ensembles`) as an :class:`~eegclf.models.ensemble.Ensemble` of their members.
    """
    from eegclf.models.ensemble import Ensemble
    from eegclf.storage.ensembles import is_ensemble, member_meta, member_tensors

    tensors, meta = read_checkpoint(path)
    if not is_ensemble(meta):
        return _rebuild(path, tensors, meta, fast_path), meta
    try:
        k = int(meta["ensemble"]["k"])
        parts = member_tensors(tensors, k)
        members = [_rebuild(path, parts[i], member_meta(meta, i), fast_path) for i in range(k)]
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CheckpointError(f"checkpoint {path} cannot rebuild its ensemble: {exc}") from None
    return Ensemble(members).eval(), meta


def _rebuild(path, tensors: dict, meta: dict, fast_path: str):
    """The model of one network's tensors and metadata (a single checkpoint's, or an ensemble member's)."""
    from eegclf.models import get_model
    from eegclf.models.standardize import Standardized

    if meta.get("alignment", "none") != "none" and "model.spatial" not in tensors:
        # a pre-trained network whose input is each person's own aligned trials: on raw trials it is wrong
        raise CheckpointError(f"checkpoint {path} is pre-trained on {meta['alignment']}-aligned trials and "
                              "carries no user's alignment yet: calibrate it on the user's data first "
                              f"(eegclf train --init {path} ...), then use that run's checkpoint")
    try:
        cfg = dict(meta["model_config"])
        name = meta["model"]
        n_chans, n_times, n_outputs = cfg.pop("n_chans"), cfg.pop("n_times"), cfg.pop("n_outputs")
        if ":" in str(cfg.get("activation", "")):
            # a "module:Class" activation would be imported and called: code named by the file itself
            raise CheckpointError(f"checkpoint {path} names the custom activation {cfg['activation']!r}; "
                                  "only built-in activations are loaded from files")
        entry = get_model(name)
        net = entry.build(n_chans, n_times, n_outputs, **cfg)
        if entry.is_deep:
            net.set_fast_path(fast_path)
        else:
            net.set_state({k[4:]: v.numpy() for k, v in tensors.items() if k.startswith("clf.")})
            return net
        spatial = torch.eye(n_chans) if "model.spatial" in tensors else None  # an aligned model
        # a model calibrated on a user's own channels: its map from them to the network's (shape from the file)
        channel_map = torch.zeros(tensors["model.channel_map"].shape) if "model.channel_map" in tensors else None
        model = Standardized(net, torch.zeros(n_chans), torch.ones(n_chans), spatial, channel_map)
        state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        model.load_state_dict(state, strict=True)
    except CheckpointError:
        raise
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} cannot rebuild its model: {exc}") from None
    return model.eval()


def combine_checkpoints(paths, out, extra: dict | None = None) -> Path:
    """One ensemble checkpoint ``out`` (written atomically) of the single-network checkpoints ``paths``, in
    that order (:mod:`eegclf.storage.ensembles`); ``extra``: metadata added at the top (e.g. how the ensemble was made)."""
    from eegclf.pretrained import resolve
    from eegclf.storage.ensembles import combine_tensors, ensemble_meta
    from eegclf.storage.fileio import file_sha256

    paths = [resolve(p) for p in paths]
    read = [read_checkpoint(p) for p in paths]
    meta = ensemble_meta([m for _, m in read], [str(p) for p in paths], [file_sha256(p) for p in paths])
    return write_checkpoint(out, combine_tensors([t for t, _ in read]), {**meta, **(extra or {})})
