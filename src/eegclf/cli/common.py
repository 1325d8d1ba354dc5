"""Options shared by several commands: the data set and its loader options."""

from __future__ import annotations

import argparse

from eegclf.data import files, moabb_sets


def _int_list(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


# (flag, loader option name, type, help). None = not given = the loader's default.
DATASET_FLAGS = [
    ("--subjects", "subjects", _int_list, "eegmmidb/moabb: subject numbers, e.g. 1 or 1,2,3 (default 1)"),
    ("--task", "task", str, "eegmmidb: imagery_lr (runs 4,8,12; default), imagery_hf (6,10,14), "
     "movement_lr (3,7,11) or movement_hf (5,9,13)"),
    ("--channels", "channels", str, "eegmmidb/files/moabb: comma-separated channel names or 'all' "
     "(default: eegmmidb C3,Cz,C4; files: the EEG channels all files share; moabb: the paradigm's)"),
    ("--tmin", "tmin", float, "eegmmidb/files/moabb: window start in s relative to the cue (default 0; moabb: "
     "to the start of the data set's task interval)"),
    ("--tmax", "tmax", float, "eegmmidb/files/moabb: window end in s relative to the cue, inclusive (default 4; "
     "moabb: the end of the task interval)"),
    ("--l-freq", "l_freq", float, "eegmmidb/files/moabb: band-pass low edge in Hz (default none; moabb: the "
     "paradigm's fmin, 8)"),
    ("--h-freq", "h_freq", float, "eegmmidb/files/moabb: band-pass high edge in Hz (default none; moabb: the "
     "paradigm's fmax, 32)"),
    ("--resample", "resample", float, "eegmmidb/files/moabb: resampling rate in Hz (default: the native rate; "
     "files: the lowest rate when the files differ)"),
    ("--reference", "reference", str, "eegmmidb/files: 'average' for an average reference (default none)"),
    ("--train-files", "train_files", files.absolute_globs, files.OPTION_HELP["train_files"]),
    ("--test-files", "test_files", files.absolute_globs, files.OPTION_HELP["test_files"]),
    ("--events", "events", str, files.OPTION_HELP["events"]),
    ("--subject-from", "subject_from", str, files.OPTION_HELP["subject_from"]),
    ("--moabb-dataset", "moabb_dataset", str, moabb_sets.OPTION_HELP["moabb_dataset"]),
    ("--moabb-args", "dataset_args", str, moabb_sets.OPTION_HELP["dataset_args"]),
    ("--paradigm", "paradigm", str, moabb_sets.OPTION_HELP["paradigm"]),
    ("--test-run", "test_run", int, "eegmmidb: run held out as test (default: the task's last run)"),
    ("--data-seed", "seed", int, "synthetic: seed of the generated data (default 0)"),
    ("--difficulty", "difficulty", float, "synthetic: 0 (easiest) to 1 (chance level); default 0.4"),
    ("--n-train", "n_train", int, "synthetic: training trials (default 1080)"),
    ("--n-test", "n_test", int, "synthetic: test trials (default 1080)"),
    ("--no-verify", "verify", None, "bci3b: skip the check of the files' git blob ids"),
]


def add_dataset_args(p: argparse.ArgumentParser, dataset_default: str | None = "synthetic",
                     with_name: bool = True) -> None:
    g = p.add_argument_group("data set")
    if with_name:
        g.add_argument("--dataset", default=dataset_default,
                       help="synthetic (generated, no download), bci3b (the lab's npz files), eegmmidb "
                       "(PhysioNet, read through MNE), files (your own recordings: --train-files, --test-files, "
                       "--events) or moabb (MOABB's data sets: --moabb-dataset, --paradigm; needs "
                       f"pip install 'eegclf[moabb]'); default {dataset_default or 'synthetic'}")
    g.add_argument("--data-dir", default=None,
                   help="data root holding one folder per data set (default $EEGCLF_DATA, else ~/eegclf_data)")
    for flag, _, typ, help_text in DATASET_FLAGS:
        if typ is None:  # an on/off switch that turns a loader default off
            g.add_argument(flag, action="store_const", const=False, default=None, help=help_text)
        else:
            g.add_argument(flag, type=typ, default=None, help=help_text)


def dataset_options(args: argparse.Namespace) -> dict:
    """The loader options the user gave (unset flags are left to the loader's defaults)."""
    opts = {}
    for flag, name, _, _ in DATASET_FLAGS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            opts[name] = value
    return opts

