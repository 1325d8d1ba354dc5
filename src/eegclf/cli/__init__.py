"""The ``eegclf`` command line. It only parses arguments and calls the library.

Each sub-command lives in its own module with ``add_parser(subparsers)``; errors of the user's input
(:class:`~eegclf.errors.EEGClfError`, unreadable or unwritable files) print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys

from eegclf import __version__
from eegclf.errors import EEGClfError

COMMANDS = ["train", "evaluate", "compare", "report", "data", "export", "stream", "tune"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="eegclf",
        description="Train, evaluate and compare deep networks (EEGNet, DeepConvNet, ...) for "
        "motor-imagery EEG classification.",
        epilog="Data root: --data-dir, else $EEGCLF_DATA, else ~/eegclf_data. "
        "Run 'eegclf COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"eegclf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"eegclf.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"eegclf.cli.{name}":
                continue  # command not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EEGClfError as exc:
        print(f"eegclf: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `eegclf data info synthetic | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("eegclf: interrupted" + getattr(args, "interrupt_hint", ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"eegclf: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - last resort: one line, never a traceback
        if os.environ.get("EEGCLF_DEBUG"):
            raise
        print(f"eegclf: internal error: {type(exc).__name__}: {exc} (set EEGCLF_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return 1
