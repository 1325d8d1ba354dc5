"""``eegclf data info``: what a data set holds."""

from __future__ import annotations

import argparse

from eegclf.cli.common import add_loader_args, dataset_options
from eegclf.cli.flags import add_field_arg


def run_info(args: argparse.Namespace) -> int:
    from eegclf.data import load_dataset
    from eegclf.data.info import format_info

    dataset = load_dataset(args.name, data_dir=args.data_dir, **dataset_options(args))
    print(format_info(dataset))
    return 0


def add_parser(sub) -> None:
    from eegclf.data import list_datasets

    p = sub.add_parser("data", help="inspect data sets", description="Inspect data sets.")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    info = dsub.add_parser(
        "info", help="shape, classes per split and subject, sampling rate, channels, NaNs",
        description="Print the shape, the classes with their counts per split and per subject, the "
        "sampling rate, the channel names, the number of NaNs and (bci3b) the file verification.",
        epilog="example: EEGCLF_DATA=../shared/data eegclf data info eegmmidb --subjects 1 --task imagery_lr",
    )
    info.add_argument("name", help=f"the data set: one of {', '.join(list_datasets())}")
    g = info.add_argument_group("data set")
    add_field_arg(g, "data_dir")
    add_loader_args(g)
    info.set_defaults(func=run_info)
