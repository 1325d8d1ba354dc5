"""``eegclf cache info`` and ``eegclf cache clear``: the on-disk cache of loaded trials (:mod:`eegclf.data.cache`)."""

from __future__ import annotations

import argparse


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _where() -> str:
    import os

    from eegclf.data.cache import CACHE_ENV, cache_root

    return f"{cache_root()} ({'from $' + CACHE_ENV if os.environ.get(CACHE_ENV) else 'the default; set $' + CACHE_ENV + ' to move it'})"


def run_info(args: argparse.Namespace) -> int:
    from eegclf.data.cache import NO_CACHE_ENV, info

    facts = info()
    print(f"location: {_where()}")
    print(f"status: {'on' if facts['enabled'] else 'off ($' + NO_CACHE_ENV + ' is set)'}")
    print(f"entries: {facts['entries']} ({_size(facts['bytes'])} with the {facts['sources']} remembered "
          "recording hashes)")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    from eegclf.data.cache import clear

    done = clear()
    print(f"removed {done['files']} files ({_size(done['bytes'])}) from {done['root']}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "cache", help="the on-disk cache of loaded trials: where it is, what it holds, clear it",
        description="Recordings read through MNE (eegmmidb, files) are kept as their preprocessed trials, one "
        "entry per file and set of options, so that loading them again reads arrays instead. "
        "The cache folder is $EEGCLF_CACHE, else $XDG_CACHE_HOME/eegclf, else ~/.cache/eegclf; "
        "--no-cache on a command (or EEGCLF_NO_CACHE=1) loads without it.",
    )
    csub = p.add_subparsers(dest="cache_command", metavar="SUBCOMMAND", required=True)
    info = csub.add_parser("info", help="the cache's location, number of entries and size",
                           description="Print the cache's location, number of entries and size.")
    info.set_defaults(func=run_info)
    clear = csub.add_parser("clear", help="delete every entry", description="Delete every entry of the cache "
                            "(only the files the cache wrote: other files in the folder are kept).")
    clear.set_defaults(func=run_clear)
