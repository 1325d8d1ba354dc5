"""The ``eegclf`` command line. It only parses arguments and calls the library.

Each sub-command lives in its own module with ``add_parser(subparsers)``; errors of the user's input
(:class:`~eegclf.errors.EEGClfError`, unreadable or unwritable files) print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from eegclf import __version__
from eegclf.errors import EEGClfError

COMMANDS = ["train", "evaluate", "compare", "report", "data", "export", "stream", "tune"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def one_line(text) -> str:
    """A message on one line: a parser's multi-line text (YAML, MNE) would break the one-line contract."""
    return " ".join(str(text).split())


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (plus where to find help), exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = OneLineParser(
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
        print(f"eegclf: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `eegclf data info synthetic | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("eegclf: interrupted" + getattr(args, "interrupt_hint", ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # a full disk mid-run: say how to resume
        hint = getattr(args, "interrupt_hint", "") if full else ""
        print(f"eegclf: error:{where}: {one_line(exc.strerror or exc)}{hint}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - last resort: one line, never a traceback
        if os.environ.get("EEGCLF_DEBUG"):
            raise
        print(f"eegclf: internal error: {type(exc).__name__}: {one_line(exc)} (set EEGCLF_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return 1
