"""``eegclf train``: one model, one activation, one seed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from eegclf.cli.common import add_dataset_args, dataset_options
from eegclf.config import RunConfig, read_config_file
from eegclf.errors import ConfigError

# CLI flags that map 1:1 onto RunConfig fields (flag -> field); unset flags keep file/defaults.
RUN_FLAGS = {
    "model": "model", "act": "activation", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
    "weight_decay": "weight_decay", "optimizer": "optimizer", "seed": "seed", "val_fraction": "val_fraction",
    "device": "device", "dropout": "dropout", "threads": "threads", "out": "out",
}


def add_run_args(p: argparse.ArgumentParser, with_model: bool = True) -> None:
    """Training hyper-parameters shared by train and compare."""
    g = p.add_argument_group("training")
    if with_model:
        g.add_argument("--model", help="eegnet (study variant, default), deepconvnet, eegnet_8_2, "
                       "shallowconvnet, csp_lda, ts_lr; case-insensitive")
        g.add_argument("--act", "--activation", dest="act",
                       help="relu, leaky_relu, elu (default), gelu or silu")
        g.add_argument("--seed", type=int, help="one seed for python, numpy and torch (default 0)")
    g.add_argument("--epochs", type=int, help="training epochs (default 300)")
    g.add_argument("--batch-size", type=int, help="mini-batch size (default 64)")
    g.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    g.add_argument("--weight-decay", type=float, help="weight decay (default 0)")
    g.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], help="optimiser (default adam)")
    g.add_argument("--val-fraction", type=float,
                   help="fraction of the training set held out for model selection, stratified per "
                   "subject and class (default 0.2)")
    g.add_argument("--dropout", type=float, help="dropout probability (default: the model's, 0.25 for EEGNet)")
    g.add_argument("--no-max-norm", action="store_true", help="switch off the spec's max-norm constraints")
    g.add_argument("--bn-recalibrate", action="store_true",
                   help="re-estimate BatchNorm statistics on the training trials after every epoch "
                        "(helps with few dozen trials, where an epoch is a few steps)")
    g.add_argument("--bf16", choices=["auto", "on", "off"],
                   help="bf16 autocast in the training pass (default auto: on where the CPU/GPU computes bf16 "
                        "natively, e.g. AVX-512 BF16/AMX; evaluation is always fp32)")
    g.add_argument("--device", help="auto (CUDA when present, default), cpu or cuda")
    g.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    g.add_argument("--config", help="a TOML, YAML or JSON file with the same keys; flags override it")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Defaults < config file < command line."""
    values: dict = {}
    if getattr(args, "config", None):
        values.update(read_config_file(args.config))
        if not isinstance(values.get("dataset_options", {}), dict):
            raise ConfigError(f"config file {args.config}: dataset_options must be a table of loader options, "
                              f"found {values['dataset_options']!r}")
        values = RunConfig.from_dict(values).to_dict()  # validates key names early
    for flag, field in RUN_FLAGS.items():
        v = getattr(args, flag, None)
        if v is not None:
            values[field] = v
    if getattr(args, "no_max_norm", False):
        values["max_norm"] = False
    if getattr(args, "bn_recalibrate", False):
        values["bn_recalibrate"] = True
    if getattr(args, "bf16", None):
        values["bf16"] = {"auto": None, "on": True, "off": False}[args.bf16]
    if getattr(args, "dataset", None):
        values["dataset"] = args.dataset
    if getattr(args, "data_dir", None):
        values["data_dir"] = args.data_dir
    opts = dataset_options(args)
    if opts:
        values["dataset_options"] = {**values.get("dataset_options", {}), **opts}
    return RunConfig.from_dict(values).validate()


def _prepare_run_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"--out {out} already holds a run; use --resume {out} to continue it, "
                              "--overwrite to replace it, or another --out")
        import shutil

        shutil.rmtree(out)


def run(args: argparse.Namespace) -> int:
    from eegclf.models import canonical_name
    from eegclf.training import load_run_config, run_training

    progress = False if args.quiet else None
    if args.resume:
        run_dir = Path(args.resume)
        config = load_run_config(run_dir)
        if (run_dir / "summary.json").is_file():
            print(f"{run_dir} is complete already; nothing to resume")
            return 0
        resume = (run_dir / "state.safetensors").is_file()
    else:
        config = config_from_args(args)
        config.model = canonical_name(config.model)
        run_dir = Path(config.out or f"runs/{config.model}-{config.activation}-seed{config.seed}")
        config.out = str(run_dir)
        _prepare_run_dir(run_dir, args.overwrite)
        resume = False
    args.interrupt_hint = f"; the last completed epoch is saved: eegclf train --resume {run_dir}"
    summary = run_training(config, run_dir, progress=progress, resume=resume)
    print(json.dumps({k: summary[k] for k in ("model", "activation", "selected_epoch", "test_acc_val_selected",
                                              "test_acc_last", "test_acc_lab_best_epoch")}))
    print(f"run saved in {run_dir} (best.safetensors, last.safetensors, history.csv, summary.json)")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train one model",
        description="Train one model with one activation and seed. The checkpoint is chosen on validation "
        "data carved from the training set; the test set is only measured.",
        epilog="example: eegclf train --model EEGNet --act leaky_relu --dataset synthetic --epochs 300 --out runs/eegnet",
    )
    add_dataset_args(p, dataset_default=None)
    add_run_args(p)
    p.add_argument("--out", help="run folder (default runs/MODEL-ACT-seedSEED)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last completed epoch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
