"""What several commands share: how help shows a default, and the data loaders' options as flags.

The loader flags come from each loader module (:func:`eegclf.data.loader_module`): its ``DEFAULTS`` give the
options, their defaults and types, ``OPTION_HELP`` the help, ``OPTION_TYPES`` the types of None defaults and
``FLAG_NAMES`` the flags that are not ``--option-name``. An option several loaders share is one flag whose
help names each loader with its default. A flag not given leaves the option to the loader's default.
"""

from __future__ import annotations

import argparse
import functools
import json
from dataclasses import dataclass


def split_names(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: a comma-separated flag value."""
    return [t.strip() for t in text.split(",") if t.strip()]


def show_default(value, none: str = "none") -> str:
    """``(default 300)``; for None, what it means: ``(default: the model's)``."""
    if value is None:
        return f"(default: {none})"
    if isinstance(value, bool):
        text = "on" if value else "off"
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (list, tuple)):
        text = ",".join(map(str, value))
    elif isinstance(value, dict):
        return f"(default: {json.dumps(value) if value else 'none'})"
    else:
        text = str(value)
    return f"(default {text})"


@dataclass(frozen=True)
class LoaderFlag:
    flag: str  # e.g. --n-train
    option: str  # the loader option it sets
    type: object  # argparse type; None for a switch (a flag without argument that sets ``const``)
    const: object
    help: str  # "eegmmidb: ... (default 0); files: ... (default -0.5)"


def _flag_type(default, declared):
    """argparse type of a loader option: declared, else from its default; None for an on/off switch."""
    if declared is not None:
        return declared
    if isinstance(default, bool):
        return None
    if isinstance(default, list):
        return str  # the one list option there is (eegmmidb subjects: "1,2" or "1-12") is parsed by its loader
    return type(default)


@functools.cache
def loader_flags() -> tuple[LoaderFlag, ...]:
    from eegclf.data import list_datasets, loader_module

    found: dict[str, dict] = {}  # flag -> what it sets, and the help of each loader that has it
    for name in list_datasets():
        module = loader_module(name)
        for option, default in module.DEFAULTS.items():
            flag = getattr(module, "FLAG_NAMES", {}).get(option, "--" + option.replace("_", "-"))
            kind = _flag_type(default, getattr(module, "OPTION_TYPES", {}).get(option))
            const = (not default) if kind is None else None
            entry = found.setdefault(flag, {"option": option, "type": kind, "const": const, "help": []})
            if (entry["option"], entry["type"]) != (option, kind):
                raise TypeError(f"flag {flag}: data set {name} gives it another option or type than the others")
            entry["help"].append(f"{name}: {module.OPTION_HELP[option]} {show_default(default)}")
    return tuple(LoaderFlag(flag, e["option"], e["type"], e["const"], "; ".join(e["help"]))
                 for flag, e in found.items())


def _dest(flag: str) -> str:
    return "loader_" + flag.lstrip("-").replace("-", "_")  # apart from the RunConfig fields (--seed, ...)


def add_loader_args(group) -> None:
    """The flags of every loader option, in ``group`` (a parser or argument group), and ``--no-cache``."""
    from eegclf.data.cache import CACHE_ENV

    # not a loader option: it does not change the trials, so it stays out of what runs record
    # (checkpoints' and benchmarks' dataset_options); eegclf.cli.main applies it to the whole command
    group.add_argument("--no-cache", dest="no_cache", action="store_true", default=None,
                       help=f"load recordings without the trial cache: neither read nor write it (cache folder: "
                            f"${CACHE_ENV}, else ~/.cache/eegclf; see 'eegclf cache info')")
    for f in loader_flags():
        text = f.help.replace("%", "%%")
        if f.type is None:
            group.add_argument(f.flag, dest=_dest(f.flag), action="store_const", const=f.const, default=None,
                               help=text)
        else:
            group.add_argument(f.flag, dest=_dest(f.flag), type=f.type, default=None, help=text,
                               metavar=f.option.upper())


def dataset_options(args: argparse.Namespace) -> dict:
    """The loader options the user gave (unset flags are left to the loader's defaults)."""
    opts = {}
    for f in loader_flags():
        value = getattr(args, _dest(f.flag), None)
        if value is not None:
            opts[f.option] = value
    return opts


def prepare_run_dir(out, overwrite: bool, resumable: bool = True) -> None:
    """Refuse an --out that is a file, or a non-empty folder unless --overwrite (then empty it)."""
    from pathlib import Path

    from eegclf.errors import ConfigError
    from eegclf.storage.tempfiles import clear_dead_temp_files

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    clear_dead_temp_files(out)  # a run killed in its first write left only that: the folder is empty then
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            resume = f"use --resume {out} to continue it, " if resumable else "use "
            raise ConfigError(f"--out {out} already holds a run; {resume}--overwrite to replace it, or another --out")
        import shutil

        shutil.rmtree(out)


# torch.optim imports TorchDynamo the first time an optimiser is made (its methods are wrapped to be skipped by
# torch.compile): 1-2 s of every training command on a 2-core CPU, spent while nothing else runs
OPTIMIZER_IMPORTS = ("torch.optim", "torch._dynamo")


def import_in_background(modules=OPTIMIZER_IMPORTS):
    """Import ``modules`` in a background thread, so that a training command's imports overlap its data loading
    (numpy and file reads, which release the interpreter lock); the trainer then finds them imported. Call it
    after the arguments are checked, before the loading. Python's per-module import locks make a module the
    main thread needs meanwhile wait for the thread's import to finish, not import twice. Returns the thread."""
    import importlib
    import threading

    def run():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the main thread's own import will meet and report it
                return

    thread = threading.Thread(target=run, name="eegclf-imports", daemon=True)
    thread.start()
    return thread
