"""The temporary files of eegclf's atomic writes: how they are named, and clearing those of dead writers.

Every atomic write (:mod:`eegclf.storage.fileio`, and :mod:`eegclf.export`'s model files) first writes
``.NAME.HOST.PID-START.RANDOM.tmp`` beside its target, then renames it over ``NAME``. A process killed between
the two leaves that file behind; nothing else ever removes it. So resuming or starting a run calls
:func:`clear_dead_temp_files` on the run's own folder, which removes the files whose writer is gone:

- the name says which process wrote it: the host, the pid and the pid's start time (Linux: clock ticks after
  boot, from /proc; elsewhere absent), so a pid reused by another process does not keep a dead file alive;
- a file of this host whose process is gone (or a zombie) is removed; one whose process lives is left alone
  (another worker of a study or search may be writing it right now);
- a file of another host (a shared folder) cannot be checked, nor can one of the old name pattern
  ``.NAME.RANDOM.tmp`` that eegclf wrote before it put the writer in the name: those are removed only when
  untouched for :data:`STALE_SECONDS`. An atomic write takes seconds; the slowest (an ONNX export with its
  verification) well under a minute, so an hour-old temp file has no writer left.

Only names of these patterns are touched, never anything else in the folder.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
import time
from pathlib import Path

STALE_SECONDS = 3600.0  # a temp file whose writer cannot be checked is dead once untouched this long

_NEW = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]{1,32})\.(?P<pid>\d+)(?:-(?P<start>\d+))?\.[a-z0-9_]+\.tmp$")
_OLD = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")  # tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0])[:32] or "host"


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time)`` of ``pid`` from /proc (Linux), or None where /proc does not say."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (command) ": the command may hold spaces
    return fields[0], fields[19]  # state (field 3), starttime (field 22)


def _writer_token() -> str:
    pid = os.getpid()
    stat = _proc_stat(pid)
    return f"{_host()}.{pid}" + (f"-{stat[1]}" if stat else "")


def make_temp(path: Path) -> tuple[int, str]:
    """``(fd, name)`` of a new temp file beside ``path``, named after this process (see the module)."""
    return tempfile.mkstemp(prefix=f".{path.name}.{_writer_token()}.", suffix=".tmp", dir=path.parent)


def _pid_alive(pid: int, start: str | None) -> bool:
    stat = _proc_stat(pid)
    if stat is not None:
        return stat[0] != "Z" and (start is None or stat[1] == start)  # a zombie writes nothing
    try:  # no /proc here (or it hides other users' processes): ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return True  # cannot tell: leave the file alone
    return True


def is_dead_temp(path: Path, now: float | None = None) -> bool:
    """True when ``path`` is one of eegclf's temp files and no live process is writing it."""
    m = _NEW.match(path.name)
    if m is not None and m["host"] == _host():
        return not _pid_alive(int(m["pid"]), m["start"])
    if m is None and _OLD.match(path.name) is None:
        return False
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except OSError:
        return False
    return age > STALE_SECONDS


def writer_alive(path: Path) -> bool:
    """True when ``path`` is a temp file of ours that a live process of this host is writing right now."""
    m = _NEW.match(Path(path).name)
    return m is not None and m["host"] == _host() and _pid_alive(int(m["pid"]), m["start"])


def clear_dead_temp_files(folder, depth: int = 0, names=None, say: bool = True) -> list[Path]:
    """Remove the temp files of dead writers in ``folder`` and its subfolders down to ``depth`` levels (0: the
    folder alone; links are not followed); return them. ``names``: only the temp files of these target names.
    ``say``: print one line naming the removed files on stderr when there were any."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for root, dirs, files in os.walk(folder):
        if len(Path(root).relative_to(folder).parts) >= depth:
            dirs.clear()  # a run's own folder tree only, never deeper (a mistyped --out must cost nothing)
        for name in sorted(files):
            path = Path(root) / name
            if not name.endswith(".tmp") or not is_dead_temp(path):
                continue
            if names is not None and target_name(name) not in names:
                continue
            try:
                if not path.is_symlink() and path.is_file():
                    path.unlink()
                    removed.append(path)
            except OSError:
                continue  # another process cleared it first, or the folder is read-only (a shared cache)
    if removed and say:
        print(describe_removed(removed, folder), file=sys.stderr)
    return removed


def target_name(temp_name: str) -> str | None:
    """The name of the file a temp file of ours was to become; None for other names."""
    m = _NEW.match(temp_name) or _OLD.match(temp_name)
    return None if m is None else m["name"]


def describe_removed(removed: list[Path], folder: Path) -> str:
    names = ", ".join(str(p.relative_to(folder)) for p in removed)
    n = len(removed)
    whose = "dead writers" if n > 1 else "a dead writer"
    return f"removed {n} temporary file{'s' if n > 1 else ''} left by {whose} in {folder}: {names}"
