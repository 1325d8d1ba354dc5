"""``eegclf eval``: rebuild a model from its checkpoint alone and measure it on the test set."""

from __future__ import annotations

import argparse
import sys

from eegclf.cli.common import add_dataset_args, dataset_options
from eegclf.errors import CheckpointError


def run(args: argparse.Namespace) -> int:
    from eegclf.checkpoint import load_checkpoint
    from eegclf.data import load_dataset
    from eegclf.evaluation import loss_and_accuracy
    from eegclf.models import canonical_name
    from eegclf.models.activations import Square, resolve_activation

    def canonical_activation(name: str) -> str:
        return resolve_activation(name, extra={"square": Square}).name

    model, meta = load_checkpoint(args.checkpoint)
    # The study's habit is to repeat --model/--act at eval time: accept them, but never silently differ.
    if args.model and canonical_name(args.model) != meta["model"]:
        raise CheckpointError(f"--model {args.model} contradicts the checkpoint {args.checkpoint}, "
                              f"which holds {meta['model']}")
    if args.act and canonical_activation(args.act) != meta["activation"]:
        raise CheckpointError(f"--act {args.act} contradicts the checkpoint {args.checkpoint}, "
                              f"which was trained with {meta['activation']}")
    if args.dataset:
        name, options = args.dataset, dataset_options(args)
    else:
        name, options = meta["dataset"], {**meta["dataset_options"], **dataset_options(args)}
    recorded_dir = options.pop("data_dir", None) or meta.get("config", {}).get("data_dir")
    data_dir = args.data_dir or recorded_dir
    dataset = load_dataset(name, data_dir=data_dir, **options)
    got, want = (dataset.n_chans, dataset.n_times), (meta["n_chans"], meta["n_times"])
    if got != want:
        raise CheckpointError(f"checkpoint {args.checkpoint} was made for data of shape (channels, time) = "
                              f"{want}, but {name} gives {got}")
    if dataset.n_classes != len(meta["class_names"]):
        raise CheckpointError(f"checkpoint {args.checkpoint} has {len(meta['class_names'])} classes, "
                              f"{name} has {dataset.n_classes}")
    if meta.get("test_fingerprint") not in (None, dataset.test.fingerprint()):
        print(f"eegclf: note: these test trials differ from the ones {args.checkpoint} was measured on "
              "(other data set options or loader version)", file=sys.stderr)
    print(model.net if hasattr(model, "net") else model)
    loss, acc = loss_and_accuracy(model, dataset.test.X, dataset.test.y)
    print(f"Test Loss: {loss:.4f}, Test Accuracy: {acc:.4f}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "eval", help="evaluate a checkpoint on the test set",
        description="Rebuild the model from a .safetensors checkpoint alone and print the module listing "
        "and 'Test Loss: ..., Test Accuracy: ...' as the study does. The data set recorded in the "
        "checkpoint is used unless --dataset is given. Pickle files (.pth) are refused: they can run code.",
        epilog="example: eegclf eval --checkpoint runs/eegnet/best.safetensors",
    )
    p.add_argument("--checkpoint", required=True, help="a best.safetensors or last.safetensors file")
    p.add_argument("--model", help="optional; must match the checkpoint (the study's habit)")
    p.add_argument("--act", "--activation", dest="act", help="optional; must match the checkpoint")
    add_dataset_args(p, dataset_default=None)
    p.set_defaults(func=run)
