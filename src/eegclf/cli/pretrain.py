"""``eegclf pretrain``: one network trained on many people, to be calibrated on a new user (``train --init``)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from eegclf.cli.common import import_in_background, prepare_run_dir
from eegclf.cli.flags import add_config_args, config_from_args, show_command_defaults


def run(args: argparse.Namespace) -> int:
    from eegclf.benchmark.presets import preset
    from eegclf.data import dataset_defaults, load_dataset, loader_module
    from eegclf.transfer import PRETRAIN_DEFAULTS, pretrain

    if args.ensemble < 1:  # before anything is loaded or written
        from eegclf.errors import ConfigError

        raise ConfigError(f"ensemble={args.ensemble} is invalid: expected an integer >= 1 (networks to average)",
                          param="ensemble")
    if not args.out:
        from eegclf.errors import ConfigError

        raise ConfigError("out= is required: the folder to write the pre-trained checkpoint into", param="out")
    # the recommended recipe fills what the user did not give
    config = config_from_args(args, defaults={**PRETRAIN_DEFAULTS, "dataset": "eegmmidb"})
    dataset = config.dataset
    preset_data, _ = preset(args.preset, dataset)
    options = {**preset_data, **config.dataset_options}
    native = getattr(loader_module(dataset), "NATIVE_SFREQ", None)
    if options.get("resample") is None and native and "resample" in dataset_defaults(dataset):
        options["resample"] = native  # subjects recorded at other rates (EEGMMIDB's S088) pool at the usual one
    out = Path(args.out)
    config = replace(config, dataset=dataset, dataset_options=options, out=str(out), val_fraction=0.0)
    prepare_run_dir(out, args.overwrite, resumable=False)
    import_in_background()  # the optimiser's imports, while the trials load
    data = load_dataset(dataset, data_dir=config.data_dir, **options)
    args.interrupt_hint = f"; nothing usable is left in {out}: run the command again with --overwrite"
    path = pretrain(config, data, out, alignment=args.alignment, progress=False if args.quiet else None,
                    ensemble=args.ensemble)
    what = (f"an ensemble of {args.ensemble} {config.model} networks (seeds {config.seed}-"
            f"{config.seed + args.ensemble - 1})" if args.ensemble > 1 else config.model)
    print(f"pre-trained {what} on {len(set(data.train.subjects) | set(data.test.subjects))} subjects "
          f"({len(data.train) + len(data.test)} trials, alignment {args.alignment}): {path}")
    print(f"calibrate it on a new user: eegclf train --init {path} --subjects ... --out RUN")
    return 0


def add_parser(sub) -> None:
    from eegclf.benchmark.presets import PRESETS
    from eegclf.transfer import ALIGNMENTS, DEFAULT_ALIGNMENT, PRETRAIN_DEFAULTS

    recipe = ", ".join(f"{k} {v}" for k, v in PRETRAIN_DEFAULTS.items())
    p = sub.add_parser(
        "pretrain", help="train one network on many subjects, to calibrate on a new user later",
        description="Train one network on every trial of the listed subjects (no validation or test part: "
        "nothing is chosen) and write OUT/pretrained.safetensors, a self-describing checkpoint that also "
        "records the subjects it saw (eegclf benchmark refuses to test them) and the alignment it expects. "
        f"Recommended recipe, used where no flag says otherwise: {recipe}; data window and band of the "
        "benchmark's deep preset; no alignment, augmentation on (chosen on the design group S001-S012 by cross-subject validation: "
        "benchmarks/transfer_recipe.py). "
        "Calibrate the result on a new user with 'eegclf train --init OUT/pretrained.safetensors'.",
        epilog="example: eegclf pretrain --dataset eegmmidb --task imagery_lr --subjects 1-12 --out PRE",
    )
    p.add_argument("--alignment", choices=ALIGNMENTS, default=DEFAULT_ALIGNMENT,
                   help="none: the trials as loaded; euclidean: whiten each subject's trials by its own mean "
                   "covariance (shrunk) before training, and each new user's by their calibration trials "
                   "(default %(default)s)")
    p.add_argument("--preset", default="deep", choices=list(PRESETS),
                   help="data window and band (default %(default)s: 64 channels, average reference, 4-38 Hz, "
                   "0-4 s at 128 Hz); data flags override it. Whatever the preset, the trials are resampled to "
                   "one rate (the data set's native one where nothing else says), so that subjects recorded at "
                   "other rates (EEGMMIDB's S088) pool")
    p.add_argument("--ensemble", type=int, default=1, metavar="K",
                   help="train K networks with seeds SEED, SEED+1, ..., SEED+K-1 (same data and recipe, one after "
                   "another, each in OUT/members/seedS) and write them as one ensemble checkpoint, whose output "
                   "averages their softmax probabilities (default %(default)s: one network; the selection on the "
                   "design people chose 5, shipped as eegmmidb-lr-ens5, against 3 by 0.002 and one network by 0.034 "
                   "of its score, at 5 times the training time)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_args(p, skip=("val_fraction",), help={"out": "the run folder to write (required)"})
    show_command_defaults(p, {**PRETRAIN_DEFAULTS, "dataset": "eegmmidb"}, "the recommended pre-training recipe")
    p.set_defaults(func=run)
