"""The ``eegclf`` command line. It only parses arguments and calls the library.

Each sub-command lives in its own module with ``add_parser(subparsers)``; errors of the user's input
(:class:`~eegclf.errors.EEGClfError`, unreadable or unwritable files) print one line and exit non-zero.
The library names parameters in its messages (``trials=0 is invalid``); :func:`main` says them as the
flags that set them (``--trials 0 is invalid``), from the parser it built.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import re
import sys

from eegclf import __version__
from eegclf.allocator import keep_freed_memory
from eegclf.errors import EEGClfError

COMMANDS = ["train", "evaluate", "compare", "benchmark", "pretrain", "pretrained", "report", "data", "export", "stream", "tune", "cache"]  # modules of eegclf.cli

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
        importlib.import_module(f"eegclf.cli.{name}").add_parser(sub)
    return parser


def flags_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """{dest: its flag} of the command that ``args`` ran (e.g. ``{"trials": "--trials", "activation": "--act"}``)."""
    flags: dict[str, str] = {}
    for action in parser._actions:  # argparse has no public listing of a parser's arguments
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None))
            if chosen is not None:
                flags.update(flags_of(chosen, args))
        elif action.option_strings:
            flags.setdefault(action.dest, action.option_strings[0])
    return flags


def in_flags(exc: Exception, flags: dict[str, str]) -> str:
    """The message of ``exc`` with each ``param=`` it names (``exc.params``) said as its flag: ``--param ``."""
    text = str(exc)
    for param in getattr(exc, "params", ()):
        if param in flags:
            text = re.sub(rf"(?<![\w-]){re.escape(param)}=", lambda _m, f=flags[param]: f + " ", text)
    return text


def _cache_setting(args: argparse.Namespace):
    """``--no-cache``: the trial cache off for the command and the worker processes it starts."""
    if getattr(args, "no_cache", None):
        from eegclf.data.cache import disabled

        return disabled()
    return contextlib.nullcontext()


def _family_member(args) -> None:
    """``--init``/``--checkpoint`` naming a shipped family, with ``--channels`` (else ``--cap``) of exactly a cap
    that a member serves: that member, said in one line (eegclf.caps). The recording is then taken as made with
    that cap (``--cap``, unless given): average-referenced over those channels alone, as the member was
    measured, and not over channels the data has beyond them."""
    # the data options' flags are stored as loader_<option> (export's own --channels as channels)
    channels = next((getattr(args, a) for a in ("channels", "loader_channels", "loader_cap")
                     if getattr(args, a, None)), None)
    if not channels:
        return
    from eegclf.caps import member_for

    for attr in ("init", "checkpoint"):
        value = getattr(args, attr, None)
        if not isinstance(value, str) or not value:
            continue
        chosen = []
        for part in value.split(","):  # benchmark --init A,B
            member, note = member_for(part, channels)
            if note:
                if hasattr(args, "loader_cap") and not args.loader_cap:
                    args.loader_cap = channels
                    note += f"; the recording taken as made with that cap (--cap {channels})"
                print(f"eegclf: note: {note}", file=sys.stderr)
            chosen.append(str(member))
        setattr(args, attr, ",".join(chosen))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what the user typed, for reports that cite it
    keep_freed_memory()  # training steps free and reallocate blocks of megabytes: keep them (eegclf.allocator)
    try:
        with _cache_setting(args):
            _family_member(args)
            return int(args.func(args) or 0)
    except EEGClfError as exc:
        print(f"eegclf: error: {one_line(in_flags(exc, flags_of(parser, args)))}", file=sys.stderr)
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
