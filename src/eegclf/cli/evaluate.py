"""``eegclf eval``: rebuild a model from its checkpoint alone and measure it on the test set."""

from __future__ import annotations

import argparse
import sys

from eegclf.cli.common import add_loader_args, dataset_options
from eegclf.cli.flags import add_allow_seen, add_field_arg
from eegclf.config import FAST_PATH_AUTO
from eegclf.storage.rundir import BEST, LAST


def run(args: argparse.Namespace) -> int:
    from eegclf.data.channels import apply_matrix
    from eegclf.evaluation import check_request, loss_and_accuracy
    from eegclf.models import get_model
    from eegclf.data.seen import Seen, check, note
    from eegclf.storage.checkpoint import load_checkpoint
    from eegclf.transfer import check_checkpoint_fits, checkpoint_dataset

    model, meta = load_checkpoint(args.checkpoint, fast_path=args.fast_path or FAST_PATH_AUTO)
    # The study's habit is to repeat --model/--act at eval time: accept them, but never silently differ.
    check_request(meta, args.checkpoint, model=args.model, activation=args.activation)
    dataset = checkpoint_dataset(meta, args.dataset, args.data_dir, dataset_options(args))
    notes, channel_map = check_checkpoint_fits(meta, dataset, args.checkpoint)
    # never a person it was trained on, found by id or by the recordings themselves (eegclf.data.seen)
    seen = check(Seen.from_meta(meta), f"checkpoint {args.checkpoint}", dataset, dataset.test,
                 allow=args.allow_seen, calibrated_ok=True)
    for note_ in notes:
        print(f"eegclf: note: {note_}", file=sys.stderr)
    from eegclf.models.ensemble import members_of

    nets = members_of(model) if get_model(meta["model"]).is_deep else None
    if nets is not None and len(nets) > 1:
        print(f"an ensemble of {len(nets)} networks (seeds {', '.join(map(str, meta['ensemble']['seeds']))}), "
              "their softmax probabilities averaged; the first:")
    print(nets[0].net if nets is not None else model)  # the network, without its normalisation
    # channels are matched by name: the data's, reordered (and interpolated where missing) into the network's
    X = dataset.test.X if channel_map is None else apply_matrix(channel_map, dataset.test.X)
    loss, acc = loss_and_accuracy(model, X, dataset.test.y)
    print(f"Test Loss: {loss:.4f}, Test Accuracy: {acc:.4f}{note(seen)}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "eval", help="evaluate a checkpoint on the test set",
        description="Rebuild the model from a .safetensors checkpoint alone and print the module listing "
        "and 'Test Loss: ..., Test Accuracy: ...' as the study does. The data set recorded in the "
        "checkpoint is used unless --dataset is given; either way with the checkpoint's data options (window, band, "
        "reference, rate, classes) unless a flag says otherwise, and a flag that contradicts the network is refused. "
        "Channels are matched by name: reordered into the network's order, extras dropped, missing ones "
        "interpolated (docs/your-cap.md). Pickle files (.pth) are refused: they can run code.",
        epilog=f"example: eegclf eval --checkpoint runs/eegnet/{BEST}",
    )
    p.add_argument("--checkpoint", required=True, help=f"a checkpoint file, e.g. a run folder's {BEST} or {LAST}")
    for name in ("model", "activation"):
        add_field_arg(p, name, help="optional; must match the checkpoint (the study's habit)", default="")
    add_field_arg(p, "fast_path")
    add_allow_seen(p)
    g = p.add_argument_group("data set")
    add_field_arg(g, "dataset", default="(default: the checkpoint's)")
    add_field_arg(g, "data_dir", default="(default: the checkpoint's, else $EEGCLF_DATA, else ~/eegclf_data)")
    add_loader_args(g)
    p.set_defaults(func=run)
