"""One window in, class probabilities out: the model of a checkpoint applied to the newest stretch of signal."""

from __future__ import annotations

import math
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from scipy import signal

from eegclf.errors import ConfigError
from eegclf.export import INPUT_NAME, OUTPUT_NAME, ProbabilityModel, export_model
from eegclf.models.fused_ensemble import fused_or_same

RUNTIMES = ("auto", "torch", "onnx")


def resolve_runtime(runtime: str) -> str:
    """``auto`` is ``onnx`` where onnxruntime is installed (about 3x lower latency: benchmarks/latency.py),
    else ``torch``; the others are themselves."""
    if runtime == "auto":
        import importlib.util

        return "onnx" if importlib.util.find_spec("onnxruntime") is not None else "torch"
    return runtime


class Decoder:
    """Classifies windows of ``window_samples`` samples at the stream's rate.

    When the stream's rate differs from the model's (``meta["sfreq"]``, e.g. a model trained on data resampled
    to 128 Hz), each window is resampled on its own (polyphase, :func:`scipy.signal.resample_poly`) to the
    model's ``n_times``; offline, the loader resampled the whole recording, so the window edges differ slightly.

    For the lowest latency run torch on one thread (``torch.set_num_threads(1)``, as ``eegclf stream`` does):
    on a loaded machine, intra-op threads of such small convolutions wait on each other.

    Args:
        model: the checkpoint's :class:`~eegclf.models.standardize.Standardized` network (normalisation inside).
        meta: the checkpoint's metadata (``n_times``, ``sfreq``).
        stream_sfreq: the stream's sampling rate in Hz.
        runtime: ``"torch"`` (eager PyTorch, inference mode), ``"onnx"`` (the model exported to ONNX in a
            temporary folder, checked against PyTorch, run by ONNX Runtime on one thread: lower latency), or
            ``"auto"`` (the default: onnx where onnxruntime is installed, else torch).
    """

    def __init__(self, model: torch.nn.Module, meta: dict, stream_sfreq: float, runtime: str = "auto"):
        if runtime not in RUNTIMES:
            raise ConfigError(f"runtime={runtime!r} is invalid: expected one of {', '.join(RUNTIMES)}",
                              param="runtime")
        self.runtime = resolve_runtime(runtime)
        self.n_times = int(meta["n_times"])
        ratio = Fraction(float(meta["sfreq"]) / float(stream_sfreq)).limit_denominator(1000)
        self.up, self.down = ratio.numerator, ratio.denominator
        self.resamples = self.up != self.down
        # samples of the stream that cover one model window
        self.window_samples = (int(math.ceil(self.n_times * self.down / self.up)) if self.resamples
                               else self.n_times)
        n_chans = int(meta["n_chans"])
        self._x = np.zeros((1, 1, n_chans, self.n_times), dtype=np.float32)  # reused input buffer
        self._predict = self._torch(model) if self.runtime == "torch" else self._onnx(model, meta)
        for _ in range(3):  # the first calls allocate and pick kernels: not the stream's first decisions
            self._predict()

    def _torch(self, model):
        wrapped, x = ProbabilityModel(fused_or_same(model)).eval(), torch.from_numpy(self._x)

        def predict() -> np.ndarray:
            with torch.inference_mode():
                return wrapped(x)[0].numpy().copy()
        return predict

    def _onnx(self, model, meta):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("runtime=onnx needs onnxruntime: pip install 'eegclf[export]'",
                              param="runtime") from None
        with tempfile.TemporaryDirectory() as tmp:
            path, _ = export_model(model, meta, Path(tmp) / "model.onnx", "onnx")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(path.read_bytes(), opts, providers=["CPUExecutionProvider"])
        feed, outs = {INPUT_NAME: self._x}, [OUTPUT_NAME]
        return lambda: sess.run(outs, feed)[0][0]

    def describe(self) -> str:
        where = "PyTorch eager" if self.runtime == "torch" else "ONNX Runtime (1 thread)"
        if self.resamples:
            return (f"{where}; each {self.window_samples}-sample window resampled by {self.up}/{self.down} to "
                    f"{self.n_times} samples (polyphase, per window)")
        return f"{where}; no resampling (stream rate = model rate)"

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """``window`` (n_chans, window_samples), oldest first -> probabilities (n_classes,) float32."""
        if self.resamples:
            window = signal.resample_poly(window, self.up, self.down, axis=1)[:, -self.n_times:]
        np.copyto(self._x[0, 0, :, self.n_times - window.shape[1]:], window)
        return self._predict()
