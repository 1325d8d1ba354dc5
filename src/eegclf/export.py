"""Export a trained deep model to ONNX or TorchScript, for use outside eegclf.

The exported graph is ``softmax(Standardized(net)(x))`` (an ensemble checkpoint: one graph of every member,
whose output is the mean of the members' softmax probabilities, :mod:`eegclf.models.ensemble`):

- input  ``"eeg"``: raw trials, float32, shape ``(batch, 1, n_chans, n_times)``, in the units and channel order
  the model was trained on (``ch_names``, ``sfreq`` in the metadata); the batch axis is dynamic;
- output ``"probabilities"``: float32, shape ``(batch, n_classes)``, columns in ``class_names`` order.

The per-channel normalisation is inside the graph, so no preprocessing step can be forgotten. The metadata lies
beside the model as ``OUT.json`` (``model.onnx`` -> ``model.onnx.json``) and is also embedded in the file (ONNX
``metadata_props["eegclf"]``, TorchScript extra file ``eegclf.json``).

Every export is checked before it is published: the saved file is loaded again and its probabilities are
compared with eegclf's own on trials drawn from the normalisation statistics. Nothing half-written is left:
the model goes to a temporary file in the target folder and is renamed into place only after the check.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from eegclf.config import FAST_PATH_AUTO
from eegclf.errors import CheckpointError, ConfigError, EEGClfError
from eegclf.storage.fileio import atomic_write_json
from eegclf.storage.tempfiles import clear_dead_temp_files, make_temp

FORMATS = ("onnx", "torchscript")
EXPORT_FORMAT = "eegclf-export/1"
INPUT_NAME = "eeg"
OUTPUT_NAME = "probabilities"
ONNX_OPSET = 17
VERIFY_ATOL = 1e-5


class ProbabilityModel(nn.Module):
    """``softmax(model(x), dim=1)``: raw trials ``(batch, 1, C, T)`` -> class probabilities ``(batch, n_classes)``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=1)


def metadata_path(out) -> Path:
    """Where the metadata of the model file ``out`` goes: ``OUT.json``."""
    return Path(str(out) + ".json")


def export_metadata(meta: dict, fmt: str, out: Path, checkpoint: Path | None = None,
                    compute_path: str | None = None) -> dict:
    """The JSON written beside an export: what a user needs to feed the model and read its output, and
    ``compute_path``: which exact order of the first layers the exported graph computes."""
    from eegclf._version import __version__

    n_chans, n_times, classes = int(meta["n_chans"]), int(meta["n_times"]), list(meta["class_names"])
    norm = dict(meta.get("normalization") or {})
    norm["applied"] = "inside the exported model: feed raw trials"
    return {
        "format": EXPORT_FORMAT,
        "model_format": fmt,
        "model_file": out.name,
        "model": meta["model"],
        "model_config": meta.get("model_config", {}),
        "activation": meta.get("activation", "-"),
        "eegclf_version": __version__,
        "torch_version": torch.__version__,
        "onnx_opset": ONNX_OPSET if fmt == "onnx" else None,
        "input": {"name": INPUT_NAME, "dtype": "float32", "shape": ["batch", 1, n_chans, n_times],
                  "description": "raw trials (channels in ch_names order, n_times samples at sfreq Hz)"},
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": ["batch", len(classes)],
                   "description": "softmax class probabilities, columns in class_names order"},
        "ch_names": list(meta["ch_names"]),
        "sfreq": float(meta["sfreq"]),
        "n_chans": n_chans,
        "n_times": n_times,
        "window_seconds": n_times / float(meta["sfreq"]),
        "class_names": classes,
        "normalization": norm,
        "dataset": meta.get("dataset"),
        "dataset_options": meta.get("dataset_options", {}),
        "epoch": meta.get("epoch"),
        "compute_path": compute_path,
        # an ensemble: how many networks the graph averages, and their seeds
        "ensemble": ({"k": meta["ensemble"]["k"], "seeds": meta["ensemble"].get("seeds")}
                     if isinstance(meta.get("ensemble"), dict) else None),
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "checkpoint_sha256": None if checkpoint is None else hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
    }


def probe_trials(model: nn.Module, n: int = 4, seed: int = 0) -> torch.Tensor:
    """``n`` random trials ``(n, 1, C, T)`` at the scale of the training data (from the model's mean/std; an
    ensemble's first member's: its members take the same input)."""
    from eegclf.models.ensemble import members_of

    model = members_of(model)[0]
    gen = torch.Generator().manual_seed(seed)
    channel_map = getattr(model, "channel_map", None)
    if channel_map is not None:  # the model takes the user's channels: drawn at the network's average scale
        shape = (n, 1, channel_map.shape[1], int(model.net.config["n_times"]))
        return model.mean.mean() + model.std.mean() * torch.randn(shape, generator=gen)
    shape = (n, *model.mean.shape[1:3], int(model.net.config["n_times"]))
    return model.mean + model.std * torch.randn(shape, generator=gen)


def with_input_channels(model, meta: dict, channels) -> tuple:
    """``(model, meta)`` taking ``channels`` (names, in the order the user's device gives them) instead of the
    model's own: matched by name (:mod:`eegclf.data.channels`), reordered, extras dropped, missing ones
    interpolated, as a fixed matrix inside the model (``Standardized.channel_map``; each member's, for an
    ensemble). The model is changed in place. The note on what is dropped or interpolated is returned third
    (None when nothing is)."""
    from eegclf.data.channels import match_channels, parse_names
    from eegclf.models.ensemble import members_of

    names = parse_names(channels)
    match = match_channels(names, list(meta["ch_names"]), what="channels=")
    M = torch.as_tensor(match.matrix(), dtype=torch.float32)
    for member in members_of(model):
        old = getattr(member, "channel_map", None)
        member.channel_map = M if old is None else old @ M  # a buffer: it travels in the exported graph
    meta = dict(meta, ch_names=names, n_chans=len(names),
                network_ch_names=list(meta.get("network_ch_names") or meta["ch_names"]))
    return model, meta, match.note()


def _temp_path(out: Path) -> Path:
    fd, tmp = make_temp(out)  # named after this process, so that a resume can tell when its writer died
    os.close(fd)
    return Path(tmp)


def _write_onnx(wrapped: nn.Module, example: torch.Tensor, tmp: Path, meta_json: str) -> None:
    try:
        import onnx
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'eegclf[export]'") from None

    kwargs = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=ONNX_OPSET,
                  dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' deprecation and constant-folding notes
        try:  # the TorchScript-based exporter: fast and exact for these convolutional nets
            torch.onnx.export(wrapped, (example,), str(tmp), dynamo=False, **kwargs)
        except Exception:  # e.g. a future torch without it: the torch.export-based exporter
            program = torch.onnx.export(
                wrapped, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                opset_version=max(ONNX_OPSET, 18), dynamo=True,
                dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
            program.save(str(tmp))
    proto = onnx.load(str(tmp))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "eegclf", meta_json
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))


def _write_torchscript(wrapped: nn.Module, example: torch.Tensor, tmp: Path, meta_json: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notes
        traced = torch.jit.trace(wrapped, (example,), check_trace=False)
        torch.jit.save(traced, str(tmp), _extra_files={"eegclf.json": meta_json})


def run_exported(path: Path, fmt: str, x: np.ndarray) -> np.ndarray:
    """Probabilities of the exported model file for trials ``x`` (n, 1, C, T) float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if fmt == "onnx":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(path))
    with torch.inference_mode():
        return module(torch.from_numpy(x)).numpy()


def _verify(tmp: Path, fmt: str, wrapped: nn.Module, x: torch.Tensor) -> None:
    if fmt == "onnx":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return  # checked structurally by onnx.checker; no runtime to compare with
    with torch.inference_mode():
        want = wrapped(x).numpy()
    got = run_exported(tmp, fmt, x.numpy())
    if got.shape != want.shape or not np.allclose(got, want, rtol=0, atol=VERIFY_ATOL):
        err = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("nan")
        raise CheckpointError(f"the {fmt} export differs from eegclf's own output (max |diff| {err:.2e} > "
                              f"{VERIFY_ATOL:g}, shapes {got.shape} vs {want.shape})")


def export_checkpoint(checkpoint, out, fmt: str, *, verify: bool = True, fast_path: str = FAST_PATH_AUTO,
                      channels=None) -> tuple[Path, Path]:
    """Export the deep model in ``checkpoint`` to ``out`` as ``fmt`` (``"onnx"`` or ``"torchscript"``).

    ``fast_path``: ``"auto"`` exports the graph of the cheaper exact order where the model has one (at 64
    channels the spatial-first or merged first layers); ``"off"`` the reference modules' graph.
    ``channels``: the user's channel names (a list, comma-separated, or a file): the export then takes them,
    in that order (:func:`with_input_channels`); the note on what is dropped or interpolated goes to stderr.

    Returns ``(model_path, metadata_path)``. Raises :class:`CheckpointError` for classical models, unreadable
    checkpoints and any failed or non-equivalent export; :class:`ConfigError` for a bad ``fmt`` or ``out``.
    """
    from eegclf.models import get_model
    from eegclf.pretrained import resolve
    from eegclf.storage.checkpoint import load_checkpoint

    fmt = _check_format(fmt)
    checkpoint = resolve(checkpoint)  # a path, or the name of a shipped network
    model, meta = load_checkpoint(checkpoint, fast_path=fast_path)
    if channels is not None and get_model(meta.get("model", "")).exportable:
        import sys

        model, meta, note = with_input_channels(model, meta, channels)
        if note:
            print(f"eegclf: note: {note}", file=sys.stderr)
    return export_model(model, meta, out, fmt, checkpoint=checkpoint, verify=verify)


def export_model(model, meta: dict, out, fmt: str, *, checkpoint: Path | None = None,
                 verify: bool = True) -> tuple[Path, Path]:
    """Export ``model`` (as :func:`~eegclf.storage.checkpoint.load_checkpoint` returns it, with its ``meta``).

    Same contract as :func:`export_checkpoint`; ``checkpoint`` is only recorded in the metadata.
    """
    from eegclf.models import get_model

    fmt = _check_format(fmt)
    out = Path(out)
    source = f"checkpoint {checkpoint}" if checkpoint is not None else f"model {meta.get('model')!r}"
    if out.is_dir():
        raise ConfigError(f"out={out} is a folder; expected a file name such as model.{fmt_suffix(fmt)}",
                          param="out")
    if not get_model(meta.get("model", "")).exportable:
        raise CheckpointError(f"{source} holds the classical model {meta.get('model')!r}, which cannot be "
                              f"exported to {fmt}; only deep models (eegnet, deepconvnet, ...) can")
    from eegclf.models.ensemble import members_of
    from eegclf.models.fused_ensemble import fusable, fused_or_same

    reference = ProbabilityModel(model).eval()  # an ensemble: the members' probabilities averaged
    # an ensemble of EEGNets: one graph of a k-times wider network (about k times fewer operators to run),
    # checked against the members run one by one
    wrapped = ProbabilityModel(fused_or_same(model)).eval()
    path = members_of(model)[0].net.path_for(False)
    if fusable(model):
        path = f"spatial-first, {len(members_of(model))} networks fused into one"
    info = export_metadata(meta, fmt, out, checkpoint, compute_path=path)
    meta_json = json.dumps(info, sort_keys=True)
    example = probe_trials(model, n=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    # an export of the same file killed before: its temp files only (the folder may be anybody's)
    clear_dead_temp_files(out.parent, names={out.name, metadata_path(out).name})
    tmp = _temp_path(out)
    try:
        try:
            (_write_onnx if fmt == "onnx" else _write_torchscript)(wrapped, example, tmp, meta_json)
        except EEGClfError:
            raise
        except Exception as exc:  # noqa: BLE001 - any exporter failure is reported on one line
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CheckpointError(f"{source} ({meta.get('model')}) could not be exported to {fmt}: "
                                  f"{type(exc).__name__}: {msg}") from None
        if verify:
            _verify(tmp, fmt, reference, probe_trials(model, n=4, seed=1))
        _publishable(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        meta_file = atomic_write_json(metadata_path(out), info)
        _publishable(meta_file)
    except BaseException:
        out.unlink(missing_ok=True)  # a model without its metadata would be half an export
        raise
    return out, meta_file


def _check_format(fmt) -> str:
    fmt = str(fmt).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is invalid: expected one of {', '.join(FORMATS)}", param="format")
    return fmt


def _publishable(path: Path) -> None:
    """Temporary files are created private (0600); a published export gets the usual umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def fmt_suffix(fmt: str) -> str:
    return {"onnx": "onnx", "torchscript": "pt"}.get(fmt, fmt)


__all__ = ["FORMATS", "INPUT_NAME", "OUTPUT_NAME", "ProbabilityModel", "export_checkpoint", "export_model",
           "metadata_path", "probe_trials", "run_exported", "with_input_channels"]
