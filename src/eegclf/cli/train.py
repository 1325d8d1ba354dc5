"""``eegclf train``: one model, one activation, one seed."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from eegclf.storage.rundir import BEST, HISTORY, LAST, SUMMARY
from eegclf.cli.common import import_in_background, prepare_run_dir
from eegclf.cli.flags import add_allow_seen, add_config_args, config_from_args, given_values


def run(args: argparse.Namespace) -> int:
    from eegclf.models import canonical_activation, canonical_name, get_model
    from eegclf.storage.rundir import RunDir
    from eegclf.storage.tempfiles import clear_dead_temp_files
    from eegclf.training.loop import run_training
    from eegclf.transfer import Init, calibration_config, resume_init, run_finetuning

    progress = False if args.quiet else None
    if args.finetune_layers is not None and not args.init:
        from eegclf.errors import ConfigError

        raise ConfigError(f"finetune_layers={args.finetune_layers} chooses what fine-tuning trains: it goes with "
                          "init=CKPT (a resumed run trains the layers it started with)",
                          param=("finetune_layers", "init"))
    if args.resume:
        run_dir = Path(args.resume)
        folder = RunDir(run_dir)
        config = folder.read_config()
        clear_dead_temp_files(run_dir)  # a complete run too: an export into it may have been killed
        if folder.is_complete():
            print(f"{run_dir} is complete already; nothing to resume")
            return 0
        resume = folder.has_state()
        init = resume_init(run_dir)  # a train --init run resumes from the network it started from
    elif args.init:
        init = Init.from_checkpoint(args.init)
        # the checkpoint's data set and input options and the fine-tuning recipe, unless the user said otherwise
        config = calibration_config(init, given_values(args))
        run_dir = Path(config.out or "runs/finetuned")
        config = replace(config, out=str(run_dir))
        prepare_run_dir(run_dir, args.overwrite)
    else:
        config = config_from_args(args)
        model = canonical_name(config.model)
        run_dir = Path(config.out or f"runs/{model}-{canonical_activation(model, config.activation)}-seed{config.seed}")
        config = replace(config, model=model, out=str(run_dir))
        prepare_run_dir(run_dir, args.overwrite)
        resume = False
    args.interrupt_hint = f"; the last completed epoch is saved: eegclf train --resume {run_dir}"
    if get_model(config.model).is_deep:
        import_in_background()  # the optimiser's imports, while the trials load
    if args.resume and init is not None:
        summary = run_finetuning(init, config, run_dir, progress=progress, resume=resume, allow_seen=args.allow_seen)
    elif args.init and not args.resume:
        summary = run_finetuning(init, config, run_dir, progress=progress, allow_seen=args.allow_seen,
                                 layers=args.finetune_layers or "all")
    else:
        summary = run_training(config, run_dir, progress=progress, resume=resume)
    print(json.dumps({k: summary[k] for k in ("model", "activation", "selected_epoch", "test_acc_val_selected",
                                              "test_acc_last", "test_acc_lab_best_epoch")}))
    if summary.get("seen_in_training"):  # --allow-seen: the numbers above are not those of a new person
        from eegclf.data.seen import note

        print(f"test accuracy {summary['test_acc_last']:.4f}{note(summary['seen_in_training'])}")
    print(f"run saved in {run_dir} (checkpoints {BEST} and {LAST}, {HISTORY}, {SUMMARY})")
    return 0


def add_parser(sub) -> None:
    from eegclf.adaptation import FINETUNE_LAYERS
    from eegclf.transfer import FINETUNE_RECIPE

    p = sub.add_parser(
        "train", help="train one model",
        description="Train one model with one activation and seed. The checkpoint is chosen on validation "
        "data carved from the training set; the test set is only measured.",
        epilog="example: eegclf train --model EEGNet --act leaky_relu --dataset synthetic --epochs 300 "
        "--out runs/eegnet",
    )
    add_config_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last completed epoch")
    p.add_argument("--init", metavar="CKPT",
                   help="calibrate a pre-trained network (eegclf pretrain) on this data: start from CKPT's "
                   "weights and train every layer with the fine-tuning recipe ("
                   + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in FINETUNE_RECIPE.items())
                   + "; no validation part: the last epoch) unless flags say otherwise. The data set and its "
                   "task, channels, window, band, reference and rate are CKPT's unless flags say otherwise: "
                   "give the new user's --subjects. With an aligned CKPT the user's alignment is fitted on the "
                   "training trials and carried in the new checkpoint. A CKPT whose channels, rate, window, band, "
                   "reference or classes differ from the data, or that saw a tested subject, is refused")
    p.add_argument("--finetune-layers", choices=FINETUNE_LAYERS,
                   help="with --init: the layers fine-tuning trains. all (default): every layer; last: only the "
                   "final classification layer, on the features of the pre-trained network whose BatchNorm "
                   "statistics are re-estimated on the training trials (unlabelled, as benchmark's adabn) and "
                   "then kept, with every other weight, frozen")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_allow_seen(p)
    p.set_defaults(func=run)
