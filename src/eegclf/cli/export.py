"""``eegclf export``: a checkpoint's deep model as ONNX or TorchScript, with its metadata beside it."""

from __future__ import annotations

import argparse

from eegclf.cli.flags import add_field_arg

from eegclf.config import FAST_PATH_AUTO
from eegclf.storage.rundir import BEST, LAST
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from eegclf.export import export_checkpoint, fmt_suffix

    out = args.out or Path(args.checkpoint).with_suffix(f".{fmt_suffix(args.format)}")
    model_path, meta_path = export_checkpoint(args.checkpoint, out, args.format,
                                              fast_path=args.fast_path or FAST_PATH_AUTO, channels=args.channels)
    print(f"exported {args.format} model to {model_path} (metadata: {meta_path})")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="export a checkpoint to ONNX or TorchScript",
        description="Write the checkpoint's network, with its input normalisation and a softmax, as a model "
        "that takes raw trials (batch, 1, channels, samples) float32 and returns class probabilities "
        "(batch, classes); the batch axis is dynamic. The metadata (channel names, sampling rate, window "
        "length, class names, eegclf version, input/output names) goes beside it as OUT.json. The export is "
        "checked against eegclf's own output before it is written. Classical models cannot be exported.",
        epilog=f"example: eegclf export --checkpoint runs/eegnet/{BEST} --format onnx --out eegnet.onnx",
    )
    p.add_argument("--checkpoint", required=True, help=f"a checkpoint file, e.g. a run folder's {BEST} or {LAST}")
    p.add_argument("--format", required=True, choices=["onnx", "torchscript"], type=str.lower,
                   help="onnx (ONNX Runtime and others) or torchscript (torch.jit.load, LibTorch)")
    p.add_argument("--channels", metavar="NAMES|FILE",
                   help="the channels your device gives, in its order (comma-separated, or a file with one name per "
                   "line): the export takes them instead of the checkpoint's; matched by name, extras dropped, "
                   "missing ones interpolated (MNE spherical spline, fixed in the model; docs/your-cap.md)")
    p.add_argument("--out", help="model file to write (default: the checkpoint's name with .onnx or .pt)")
    add_field_arg(p, "fast_path", help="export the graph of the exact cheaper order (auto) or of the reference "
                  "modules (off)")
    p.set_defaults(func=run)
