"""``eegclf stream``: classify a continuous recording (EDF replay) or a live LSL stream, window by window."""

from __future__ import annotations

import argparse

from eegclf.cli.flags import add_allow_seen, add_field_arg

from eegclf.config import FAST_PATH_AUTO
from eegclf.storage.rundir import BEST
import csv
import sys


def _decision_line(d, class_names) -> str:
    truth = "" if d.truth is None else f"  [cued: {class_names[d.truth]}]"
    return f"t={d.time:9.3f} s  {d.label:<12} p={d.probability:.3f}  {d.latency_ms:7.3f} ms{truth}"


def _open_source(args):
    from eegclf.streaming.sources import FileReplaySource, LSLSource

    if args.lsl:
        return LSLSource(args.lsl, resolve_timeout=args.resolve_timeout, idle_timeout=args.idle_timeout,
                         max_seconds=args.max_seconds, scale=args.lsl_scale)
    return FileReplaySource(args.source, speed=args.speed, chunk_ms=args.chunk_ms)


def _seen_recording(meta: dict, source, args) -> list[str]:
    """The id under which the replayed recording was trained on (by its fingerprint: eegclf.data.seen), as a list;
    refused (one line) unless --allow-seen. Empty for a recording the network did not see, and for LSL."""
    from eegclf.errors import CheckpointError
    from eegclf.data.seen import HOW_TO_ALLOW, Seen

    fp = getattr(source, "fingerprint", None)
    who = [q for q, fps in Seen.from_meta(meta).recordings.items() if fp is not None and fp in fps]
    if who and not args.allow_seen:
        raise CheckpointError(f"checkpoint {args.checkpoint} was trained on the recording {args.source} (as "
                              f"{who[0]}), so its accuracy on it would not be that of a new person ({HOW_TO_ALLOW})")
    return who[:1]


def run(args: argparse.Namespace) -> int:
    import torch

    from eegclf.storage.checkpoint import load_checkpoint
    from eegclf.errors import CheckpointError, ConfigError
    from eegclf.models import get_model
    from eegclf.progress import is_interactive
    from eegclf.streaming.runner import StreamRunner

    if args.threads < 1:
        raise ConfigError(f"--threads {args.threads} is invalid: expected an integer >= 1")
    torch.set_num_threads(args.threads)
    model, meta = load_checkpoint(args.checkpoint, fast_path=args.fast_path or FAST_PATH_AUTO)
    if not get_model(meta["model"]).exportable:
        raise CheckpointError(f"checkpoint {args.checkpoint} holds the classical model {meta['model']!r}; "
                              "streaming needs a deep model")
    class_names = list(meta["class_names"])
    log_file = writer = bar = None
    with _open_source(args) as source:
        seen = _seen_recording(meta, source, args)
        runner = StreamRunner(source, model, meta, step_ms=args.step_ms, runtime=args.runtime)
        where = f"LSL stream {args.lsl!r}" if args.lsl else str(args.source)
        ensemble = meta.get("ensemble")
        net = (f"an ensemble of {ensemble['k']} {meta['model']} networks (probabilities averaged)"
               if isinstance(ensemble, dict) else meta["model"])
        print(f"streaming {where} ({len(source.ch_names)} channels, {source.sfreq:g} Hz) through {net} "
              f"on {', '.join(meta['ch_names'])}; window {runner.window} samples, step {runner.step} samples")
        for line in runner.describe():
            print(f"  processing: {line}")
        if args.quiet and is_interactive():
            from tqdm.auto import tqdm

            bar = tqdm(desc="stream", unit="s", bar_format="{desc}: {n:.1f} s of signal [{elapsed}]")

        def on_decision(d):
            if writer is not None:
                writer.writerow([f"{d.time:.6f}", d.end_sample, d.index, d.label, f"{d.probability:.6f}",
                                 *(f"{p:.6f}" for p in d.probabilities), f"{d.latency_ms:.4f}",
                                 "" if d.truth is None else d.truth])
                log_file.flush()
            if not args.quiet:
                print(_decision_line(d, class_names), flush=True)
            elif bar is not None:
                bar.n = d.time
                bar.refresh()

        try:
            if args.log:
                log_file = open(args.log, "w", newline="")
                writer = csv.writer(log_file, lineterminator="\n")
                writer.writerow(["time_s", "end_sample", "class_index", "class", "probability",
                                 *(f"p_{c}" for c in class_names), "latency_ms", "true_class_index"])
            report = runner.run(on_decision)
        finally:
            if log_file is not None:
                log_file.close()
            if bar is not None:
                bar.close()
    from eegclf.data.seen import note

    for line in report.lines():
        print(line + (note(seen) if seen and line.startswith("accuracy:") else ""))
    if args.log:
        print(f"decisions logged to {args.log}")
    sys.stdout.flush()
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "stream", help="classify a continuous recording or an LSL stream in real time",
        description="Replay an EDF recording at real time (or --speed times faster) or read a live LSL "
        "stream; keep the last window of the checkpoint's length in a ring buffer and classify it every "
        "--step-ms. Each decision is printed (and logged with --log) with its time in the recording, class, "
        "probability and processing time. At the end: the accuracy over the windows that lie wholly inside "
        "a cued trial of the file's annotations (T1/T2 for eegmmidb), the number of decisions, and the mean "
        "and p99 decision latency. The checkpoint's channels are picked, its average reference and "
        "band-pass are redone causally (Butterworth IIR), and windows are resampled when the rates differ.",
        epilog=f"example: eegclf stream --checkpoint runs/eegnet/{BEST} "
        "--source $EEGCLF_DATA/eegmmidb/S001/S001R12.edf --speed 10 --log decisions.csv",
    )
    p.add_argument("--checkpoint", required=True, help="a deep model's .safetensors checkpoint")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--source", help="an EDF (or BDF) recording to replay")
    src.add_argument("--lsl", metavar="STREAM_NAME", help="read the LSL stream of this name instead (pylsl)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="replay speed: 1 = real time (default), 10 = ten times faster, 0 = as fast as possible")
    p.add_argument("--step-ms", type=float, default=100.0, help="time between decisions in ms (default 100)")
    p.add_argument("--chunk-ms", type=float, default=50.0,
                   help="replay: samples delivered per chunk, in ms (default 50)")
    p.add_argument("--runtime", choices=["auto", "torch", "onnx"], default="auto",
                   help="auto (default: onnx where onnxruntime is installed, else torch), torch, or onnx (ONNX "
                   "Runtime, the model exported and checked against PyTorch: about 3x lower latency)")
    add_field_arg(p, "fast_path", help="the network's exact cheaper order (auto) or its reference modules (off), "
                  "in both runtimes")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: lowest latency)")
    add_allow_seen(p)
    p.add_argument("--log", metavar="FILE.csv", help="write every decision to this CSV file")
    p.add_argument("--quiet", action="store_true",
                   help="do not print each decision (a progress line shows on a terminal instead)")
    lsl = p.add_argument_group("LSL")
    lsl.add_argument("--lsl-scale", type=float, default=1.0,
                     help="multiply the stream's values by this to get volts (1e-6 for a stream in µV)")
    lsl.add_argument("--resolve-timeout", type=float, default=10.0, help="seconds to wait for the stream")
    lsl.add_argument("--idle-timeout", type=float, default=5.0,
                     help="end when no sample arrives for this many seconds (default 5)")
    lsl.add_argument("--max-seconds", type=float, help="end after this many seconds of signal")
    p.set_defaults(func=run)
