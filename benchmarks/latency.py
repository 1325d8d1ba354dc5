"""Single-trial latency and batch throughput of EEGNet and DeepConvNet on one CPU thread.

Run: ``nice python benchmarks/latency.py`` (``--quick`` for a short run). Both models at the study's shape
(2 channels x 750 samples, 2 classes) go through the real export path (checkpoint -> ``eegclf.export``) and are
timed side by side in every runtime, all on one thread (``torch.set_num_threads(1)``, ONNX Runtime
``intra_op_num_threads=1``):

- eager: the checkpoint's model + softmax in PyTorch, under ``no_grad`` and under ``inference_mode``, and with
  every BatchNorm folded into the convolution before it;
- torchscript: the exported file as saved, and the same after ``torch.jit.freeze`` + ``optimize_for_inference``;
- onnxruntime: the exported file at graph optimisation levels basic and all, and with pre-bound input/output
  buffers (I/O binding) at level all;
- stream: what ``eegclf stream`` runs per decision, its :class:`~eegclf.streaming.decoder.Decoder` (copy the
  window into its input buffer, then the model), once per ``--runtime`` choice (torch, onnx). The stream's rate
  is the model's here, so no window is resampled. Single trials only (a decoder takes one window).

64 channels: EEGNet at the ``deep`` preset's window (64 channels x 513 samples at 128 Hz) through the stream's
decoder in its default runtime, once on the fast path (``--fast-path auto``: the exported graph computes the
first blocks spatial-first) and once on the reference graph (``--fast-path off``), side by side, with their
ratio (``eegnet_64ch_fast_path_speedup``).

``--checkpoint CKPT`` times only that checkpoint (a shipped network's name works; an ensemble is one file) at
its own input shape through the stream's decoder in its default runtime; its last line is
``checkpoint_single_trial_p99_ms: X.XXX``.

Single trial: one trial ``(1, 1, 2, 750)`` per call; p50/p99 of wall-clock time per call, and p99 of the
thread's CPU time (the compute alone: a call preempted by another process shows in wall time, not in CPU
time). Throughput: trials per second in batches of ``--batch``. Above the last line it names the fastest
runtime for EEGNet by p99, for comparison. The last line is ``eegnet_single_trial_p99_ms: X.XXX``: the
wall-clock p99 of EEGNet in the runtime that ``eegclf stream`` uses by default (its ``--runtime`` default,
read from the command's own parser), through the stream's decoder.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without install

from eegclf.storage.checkpoint import load_checkpoint, package_versions, save_checkpoint  # noqa: E402
from eegclf.errors import ConfigError  # noqa: E402
from eegclf.export import ProbabilityModel, export_checkpoint  # noqa: E402
from eegclf.models import create_model  # noqa: E402
from eegclf.models.standardize import Standardized  # noqa: E402
from eegclf.streaming.decoder import resolve_runtime  # noqa: E402

STREAM_RUNTIMES = ("torch", "onnx")  # what "auto", stream's default, resolves to
from eegclf.streaming.decoder import Decoder  # noqa: E402

N_CHANS, N_TIMES, N_CLASSES, SFREQ = 2, 750, 2, 250.0
MODELS = ("eegnet", "deepconvnet")


def make_checkpoint(name: str, folder: Path, seed: int = 0, n_chans: int = N_CHANS, n_times: int = N_TIMES,
                    sfreq: float = SFREQ) -> Path:
    """A checkpoint of ``name`` at the study's shape (or ``n_chans`` x ``n_times``) with realistic statistics
    (untrained weights: the timing does not depend on the values, but BatchNorm statistics are set away from
    their defaults)."""
    torch.manual_seed(seed)
    net = create_model(name, n_chans, n_times, N_CLASSES)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    mean, std = torch.linspace(-2e-6, 2e-6, n_chans), torch.linspace(1.5e-5, 2.5e-5, n_chans)
    model = Standardized(net, mean, std).eval()
    meta = {"model": name, "model_config": net.config, "activation": net.config["activation"],
            "dataset": "latency-benchmark", "dataset_options": {}, "n_chans": n_chans, "n_times": n_times,
            "sfreq": sfreq,
            "ch_names": ["C3", "C4"] if n_chans == 2 else [f"E{i}" for i in range(n_chans)],
            "class_names": ["left", "right"],
            "normalization": {"kind": "per-channel z-score", "mean": mean.tolist(), "std": std.tolist()},
            "versions": package_versions()}
    return save_checkpoint(folder / f"{name}.safetensors", model, meta)


def fold_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``module`` (eval) where each BatchNorm2d that directly follows a Conv2d in an ``nn.Sequential``
    is folded into that convolution's weight and bias (and replaced by Identity)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    module = copy.deepcopy(module).eval()
    for seq in [m for m in module.modules() if isinstance(m, torch.nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = torch.nn.Identity()
    return module


def torch_runner(module, mode: str):
    ctx = torch.inference_mode if mode == "inference_mode" else torch.no_grad

    def run(x: np.ndarray):
        with ctx():
            return module(torch.from_numpy(x))
    return run


def ort_runner(path: Path, level: str, binding: bool = False):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                     "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name_in, name_out = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    if not binding:
        return lambda x: sess.run([name_out], {name_in: x})[0]
    cache: dict = {}

    def run(x: np.ndarray):  # buffers bound once per input shape; x is copied into the bound input
        if x.shape not in cache:
            xin = ort.OrtValue.ortvalue_from_numpy(np.empty_like(x))
            out = ort.OrtValue.ortvalue_from_numpy(np.empty((x.shape[0], N_CLASSES), np.float32))
            io = sess.io_binding()
            io.bind_ortvalue_input(name_in, xin)
            io.bind_ortvalue_output(name_out, out)
            cache[x.shape] = (io, xin, out)
        io, xin, out = cache[x.shape]
        xin.update_inplace(x)
        sess.run_with_iobinding(io)
        return out.numpy()
    return run


def runtimes(ckpt: Path, folder: Path) -> dict:
    """{label: callable(x float32 (n, 1, C, T)) -> probabilities}, every one built from the same checkpoint."""
    model, _ = load_checkpoint(ckpt)
    eager = ProbabilityModel(model).eval()
    onnx_path, _ = export_checkpoint(ckpt, folder / f"{ckpt.stem}.onnx", "onnx")
    ts_path, _ = export_checkpoint(ckpt, folder / f"{ckpt.stem}.pt", "torchscript")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(str(ts_path)).eval()
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(str(ts_path)).eval()))
    out = {
        "eager no_grad": torch_runner(eager, "no_grad"),
        "eager inference_mode": torch_runner(eager, "inference_mode"),
        "eager BN folded": torch_runner(fold_batchnorm(eager), "inference_mode"),
        "torchscript": torch_runner(scripted, "inference_mode"),
        "torchscript frozen+opt": torch_runner(frozen, "inference_mode"),
    }
    try:
        out["onnxruntime basic"] = ort_runner(onnx_path, "basic")
        out["onnxruntime all"] = ort_runner(onnx_path, "all")
        out["onnxruntime all+iobind"] = ort_runner(onnx_path, "all", binding=True)
    except ImportError:
        print("onnxruntime is not installed: its rows are left out", file=sys.stderr)
    # every runtime must give the same answer before it is timed
    x = np.random.default_rng(0).normal(0, 2e-5, (8, 1, N_CHANS, N_TIMES)).astype(np.float32)
    want = torch_runner(eager, "inference_mode")(x).numpy()
    for label, run in out.items():
        got = np.asarray(run(x))
        if not np.allclose(got, want, atol=1e-5, rtol=0):
            raise SystemExit(f"{label} disagrees with eager PyTorch (max |diff| {np.abs(got - want).max():.2e})")
    return out


def stream_default_runtime() -> str:
    """The ``--runtime`` that ``eegclf stream`` uses when none is given, from the command's own parser."""
    from eegclf.cli.stream import add_parser

    sub = argparse.ArgumentParser().add_subparsers()
    add_parser(sub)
    return sub.choices["stream"].get_default("runtime")


def stream_runtimes(ckpt: Path) -> dict:
    """{label: callable(x (1, 1, C, T)) -> probabilities}: the stream's decoder in each of its runtimes, checked
    against eager PyTorch on single windows before timing."""
    out = {}
    for runtime in STREAM_RUNTIMES:
        model, meta = load_checkpoint(ckpt)
        try:
            decoder = Decoder(model, meta, stream_sfreq=meta["sfreq"], runtime=runtime)
        except ConfigError as e:  # onnxruntime missing
            print(f"stream --runtime {runtime} left out: {e}", file=sys.stderr)
            continue
        out[f"stream --runtime {runtime}"] = lambda x, d=decoder: d(x[0, 0])
    eager = ProbabilityModel(load_checkpoint(ckpt)[0]).eval()
    rng = np.random.default_rng(3)
    for _ in range(4):
        x = rng.normal(0, 2e-5, (1, 1, N_CHANS, N_TIMES)).astype(np.float32)
        with torch.inference_mode():
            want = eager(torch.from_numpy(x))[0].numpy()
        for label, run in out.items():
            got = np.asarray(run(x))
            if not np.allclose(got, want, atol=1e-5, rtol=0):
                raise SystemExit(f"{label} disagrees with eager PyTorch (max |diff| {np.abs(got - want).max():.2e})")
    return out


def single_trial(run, n: int, warmup: int, n_chans: int = N_CHANS, n_times: int = N_TIMES) -> dict:
    x = np.random.default_rng(1).normal(0, 2e-5, (1, 1, n_chans, n_times)).astype(np.float32)
    for _ in range(warmup):
        run(x)
    wall, cpu = np.empty(n), np.empty(n)
    for i in range(n):
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        run(x)
        c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
        wall[i], cpu[i] = t1 - t0, c1 - c0
    return {"p50": np.percentile(wall, 50) / 1e6, "p99": np.percentile(wall, 99) / 1e6,
            "cpu_p99": np.percentile(cpu, 99) / 1e6}


def throughput(run, batch: int, seconds: float) -> float:
    x = np.random.default_rng(2).normal(0, 2e-5, (batch, 1, N_CHANS, N_TIMES)).astype(np.float32)
    run(x)
    done, t0 = 0, time.perf_counter()
    while True:
        run(x)
        done += batch
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return done / elapsed


WIDE = (64, 513, 128.0)  # the deep preset's window


def wide_eegnet(args, folder: Path) -> dict:
    """EEGNet at 64 x 513 through the stream's decoder in its default runtime: {fast_path: timings}."""
    ckpt = make_checkpoint("eegnet", folder, n_chans=WIDE[0], n_times=WIDE[1], sfreq=WIDE[2])
    runtime = resolve_runtime(stream_default_runtime())
    decoders, out = {}, {}
    for fast_path in ("auto", "off"):
        model, meta = load_checkpoint(ckpt, fast_path=fast_path)
        decoders[fast_path] = (Decoder(model, meta, stream_sfreq=meta["sfreq"], runtime=runtime),
                               model.net.path_for(False))
    x = np.random.default_rng(4).normal(0, 2e-5, (WIDE[0], WIDE[1])).astype(np.float32)
    a, b = decoders["auto"][0](x), decoders["off"][0](x)
    if not np.allclose(a, b, atol=1e-5, rtol=0):
        raise SystemExit(f"64-channel EEGNet: the fast and reference graphs disagree ({np.abs(a - b).max():.2e})")
    order = ["auto", "off"]
    for rep in range(2):  # interleaved, twice, against load drift; the better of the two per path
        for fast_path in order if rep == 0 else order[::-1]:
            decoder, path = decoders[fast_path]
            r = single_trial(lambda t, d=decoder: d(t[0, 0]), max(200, args.n // 6), args.warmup // 3, *WIDE[:2])
            if fast_path not in out or r["p99"] < out[fast_path]["p99"]:
                out[fast_path] = dict(r, path=path, runtime=runtime)
    return out


def checkpoint_latency(args) -> int:
    """``--checkpoint``: that checkpoint (a shipped network's name works, an ensemble too) at its own input shape,
    single trials through ``eegclf stream``'s decoder in its default runtime, after a check against eager
    PyTorch; the last line is ``checkpoint_single_trial_p99_ms: X.XXX``."""
    from eegclf.pretrained import resolve

    ckpt = resolve(args.checkpoint)
    runtime = resolve_runtime(stream_default_runtime())
    model, meta = load_checkpoint(ckpt)
    decoder = Decoder(model, meta, stream_sfreq=meta["sfreq"], runtime=runtime)
    n_chans, n_times = len(meta["ch_names"]), int(meta["n_times"])
    x = np.random.default_rng(5).normal(0, 2e-5, (n_chans, n_times)).astype(np.float32)
    with torch.inference_mode():
        want = ProbabilityModel(load_checkpoint(ckpt)[0]).eval()(torch.from_numpy(x)[None, None])[0].numpy()
    if not np.allclose(decoder(x), want, atol=1e-5, rtol=0):
        raise SystemExit(f"stream --runtime {runtime} disagrees with eager PyTorch on {ckpt}")
    members = (meta.get("ensemble") or {}).get("k", 1)
    r = single_trial(lambda t: decoder(t[0, 0]), args.n, args.warmup, n_chans, n_times)
    print(f"# {ckpt}: {members} network(s), input ({n_chans}, {n_times}); eegclf stream's decoder, "
          f"--runtime {runtime}, 1 thread; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"p50 {r['p50']:.3f} ms, p99 {r['p99']:.3f} ms, cpu p99 {r['cpu_p99']:.3f} ms")
    print(f"checkpoint_single_trial_p99_ms: {r['p99']:.3f}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=3000, help="timed single-trial calls per runtime (EEGNet; "
                   "DeepConvNet uses a third)")
    p.add_argument("--warmup", type=int, default=300, help="untimed calls before timing")
    p.add_argument("--batch", type=int, default=256, help="batch size of the throughput test")
    p.add_argument("--seconds", type=float, default=1.0, help="duration of each throughput test")
    p.add_argument("--quick", action="store_true", help="n=500, warmup=50, 0.3 s throughput (a smoke run)")
    p.add_argument("--checkpoint", help="time only this checkpoint or shipped network (e.g. an ensemble) at its "
                   "own input shape, through stream's decoder in its default runtime")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.warmup, args.seconds = 500, 50, 0.3
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.set_flush_denormal(True)
    if args.checkpoint:
        return checkpoint_latency(args)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; torch {torch.__version__}, 1 thread; "
          f"input (1, 1, {N_CHANS}, {N_TIMES}) float32")
    header = f"{'model':<12} {'runtime':<24} {'p50 ms':>8} {'p99 ms':>8} {'cpu p99 ms':>10} {'batch trials/s':>15}"
    print(header)
    print("-" * len(header))
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            n = args.n if name == "eegnet" else max(100, args.n // 3)
            ckpt = make_checkpoint(name, Path(tmp))
            batched = runtimes(ckpt, Path(tmp))
            for label, run in [*batched.items(), *stream_runtimes(ckpt).items()]:
                r = single_trial(run, n, args.warmup)
                r["tput"] = throughput(run, args.batch, args.seconds) if label in batched else None
                results[(name, label)] = r
                tput = "-" if r["tput"] is None else f"{r['tput']:.0f}"
                print(f"{name:<12} {label:<24} {r['p50']:>8.3f} {r['p99']:>8.3f} {r['cpu_p99']:>10.3f} "
                      f"{tput:>15}", flush=True)
        wide = wide_eegnet(args, Path(tmp))
    print(f"\n# EEGNet at 64 x {WIDE[1]} ({WIDE[2]:g} Hz, the deep preset's window), eegclf stream's decoder, "
          f"--runtime {wide['auto']['runtime']}:")
    for fast_path, r in wide.items():
        print(f"{'eegnet 64ch':<12} {'--fast-path ' + fast_path + ' (' + r['path'] + ')':<34} {r['p50']:>8.3f} "
              f"{r['p99']:>8.3f} {r['cpu_p99']:>10.3f}")
    print(f"eegnet_64ch_p99_ms: {wide['auto']['p99']:.3f} (reference graph {wide['off']['p99']:.3f})")
    print(f"eegnet_64ch_fast_path_speedup: {wide['off']['p99'] / wide['auto']['p99']:.2f}")
    best_label, best = min(((lab, r) for (m, lab), r in results.items() if m == "eegnet"), key=lambda t: t[1]["p99"])
    asked = stream_default_runtime()
    default = f"stream --runtime {resolve_runtime(asked)}"
    print(f"# fastest EEGNet runtime by p99: {best_label} ({best['p99']:.3f} ms); not necessarily stream's default")
    print(f"# eegclf stream's default runtime: --runtime {asked}, here {default} "
          f"(EEGNet p50 {results[('eegnet', default)]['p50']:.3f} ms)")
    print(f"eegnet_single_trial_p99_ms: {results[('eegnet', default)]['p99']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
