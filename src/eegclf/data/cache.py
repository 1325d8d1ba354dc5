"""On-disk cache of what a loader computed from one recording file, so that a warm load reads arrays and never
opens the recording with MNE (reading, referencing, filtering and resampling 56 people's EDF files takes
minutes; reading their trials back takes seconds).

Where: ``$EEGCLF_CACHE``, else ``$XDG_CACHE_HOME/eegclf``, else ``~/.cache/eegclf``. Off for a process (and
the worker processes it starts, which inherit the environment) when ``$EEGCLF_NO_CACHE`` is 1/true/yes/on:
the command line's ``--no-cache`` sets it for its command.

Key of an entry: the sha256 of a JSON text holding the entry's kind (e.g. ``eegmmidb-run``), the recording's
sha256, every option the caller says shapes the result, the versions of mne, numpy, scipy and eegclf, and a
sha256 of the source of eegclf's data code (``eegclf/data/*.py`` and ``eegclf/streaming/sources.py``, whose
channel-name cleaning the ``files`` loader uses), so that any edit of that code starts afresh.

Hashing every recording on every load would cost about a second per 400 MB, so a recording's sha256 is kept
per (resolved path, size, modification and change times in ns, inode) under ``sources/``. So a file rewritten in
place with the same size within one tick of the file system's clock (a few ms), or whose times were set back,
would be taken for the old one; a copy, a download or a replacement changes the times or the inode.

An entry is ``trials/KK/KEY.json`` (the caller's facts, plus the shape, dtype and sha256 of the array) and,
when there is an array, ``trials/KK/KEY.npy`` (read with ``allow_pickle=False``: nothing in the cache runs
code). Both are written atomically, the array first: an entry exists once its JSON does. A read checks the
array's shape, dtype and sha256 against the JSON; an entry that fails (cut off, bytes changed) is rebuilt
from the recording, and one line on stderr says so.

A cache folder that cannot be written gives one line on stderr (once per process) and the load goes on
without storing entries; entries already there are still read (a read-only shared cache works).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from eegclf.storage.fileio import atomic_write_bytes, atomic_write_json, file_sha256
from eegclf.storage.tempfiles import clear_dead_temp_files, writer_alive

CACHE_ENV = "EEGCLF_CACHE"
NO_CACHE_ENV = "EEGCLF_NO_CACHE"
FORMAT = 1  # of the entries; bump when their layout changes
VERSIONED = ("mne", "numpy", "scipy")  # the packages whose code computes the trials

_TRUE = {"1", "true", "yes", "on"}
_ENTRY = re.compile(r"^[0-9a-f]{64}\.(npy|json)$")
_TMP = re.compile(r"^\.[0-9a-f]{64}\.(npy|json)\..*\.tmp$")  # what fileio leaves if killed mid-write
_REPORTED: set[str] = set()  # folders this process already said it cannot write


def cache_root() -> Path:
    """The cache folder: ``$EEGCLF_CACHE``, else ``$XDG_CACHE_HOME/eegclf``, else ``~/.cache/eegclf``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "eegclf"


def enabled() -> bool:
    """False when ``$EEGCLF_NO_CACHE`` is set to 1/true/yes/on."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() not in _TRUE


@contextmanager
def disabled():
    """No cache inside the block, in this process and in the processes it starts (through the environment)."""
    before = os.environ.get(NO_CACHE_ENV)
    os.environ[NO_CACHE_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(NO_CACHE_ENV, None)
        else:
            os.environ[NO_CACHE_ENV] = before


def _say(text: str) -> None:
    print(f"eegclf: cache: {text}", file=sys.stderr, flush=True)


def _short(exc: OSError) -> str:
    """"Permission denied", without the path the message names anyway."""
    return exc.strerror or " ".join(str(exc).split()) or type(exc).__name__


def _write(root: Path, write: Callable[[], object]) -> bool:
    """Run ``write``; on an OSError say once per folder that the cache cannot be written, and go on."""
    try:
        write()
        return True
    except OSError as exc:
        if str(root) not in _REPORTED:
            _REPORTED.add(str(root))
            _say(f"cannot write the cache folder {root} ({_short(exc)}); loading without storing trials "
                 f"(set {CACHE_ENV} to a writable folder, or turn the cache off: --no-cache or {NO_CACHE_ENV}=1)")
        return False


# ------------------------------------------------------------------------------------------------ the key

@functools.cache
def versions() -> dict:
    """The versions of the packages that shape cached trials, read from their metadata (no import of mne)."""
    from importlib.metadata import PackageNotFoundError, version

    from eegclf._version import __version__

    out = {}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    out["eegclf"] = __version__
    return out


@functools.cache
def code_sha256() -> str:
    """sha256 of the source of eegclf's data code: the modules of this package and the channel-name cleaning."""
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py")) + [p for p in [here.parent / "streaming" / "sources.py"] if p.is_file()]
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def source_sha256(path: str | os.PathLike) -> str:
    """The recording's sha256, hashed once per (resolved path, size, modification time) and remembered."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
             "inode": st.st_ino}
    root = cache_root()
    memo = root / "sources" / (hashlib.sha256(str(path).encode()).hexdigest() + ".json")
    try:
        known = json.loads(memo.read_text())
        if {k: known.get(k) for k in stamp} == stamp and isinstance(known.get("sha256"), str):
            return known["sha256"]
    except (OSError, ValueError):
        pass  # not remembered yet, or a cut-off memo: hash again
    sha = file_sha256(path)
    _write(root, lambda: atomic_write_json(memo, {**stamp, "sha256": sha}))
    return sha


def entry_key(kind: str, source: str | os.PathLike, options: dict) -> str:
    text = json.dumps({"format": FORMAT, "kind": kind, "source_sha256": source_sha256(source),
                       "options": options, "versions": versions(), "code": code_sha256()},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- entries

class _Broken(Exception):
    """An entry that exists but cannot be trusted; the message says why."""


def _paths(root: Path, key: str) -> tuple[Path, Path]:
    folder = root / "trials" / key[:2]
    return folder / f"{key}.json", folder / f"{key}.npy"


def _array_sha256(X: np.ndarray) -> str:
    h = hashlib.sha256()
    if X.size:
        h.update(memoryview(np.ascontiguousarray(X)).cast("B"))
    return h.hexdigest()


def _read(root: Path, key: str):
    """(array or None, facts) of the entry; None when there is none; _Broken when it is damaged."""
    meta_path, npy_path = _paths(root, key)
    try:
        text = meta_path.read_text()
    except (FileNotFoundError, NotADirectoryError):  # no entry (or a cache "folder" that is a file)
        return None
    except OSError as exc:
        raise _Broken(f"unreadable ({_short(exc)})") from None
    try:
        meta = json.loads(text)
        facts, array = meta["facts"], meta["array"]
        if meta["key"] != key:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise _Broken("damaged (their metadata is not the JSON eegclf wrote)") from None
    if array is None:
        return None, facts
    try:
        X = np.load(npy_path, allow_pickle=False)
    except FileNotFoundError:
        raise _Broken("incomplete (the array file is missing)") from None
    except (OSError, ValueError, EOFError) as exc:  # a cut-off file fails numpy's size check
        raise _Broken(f"truncated or unreadable ({' '.join(str(exc).split()) or type(exc).__name__})") from None
    if list(X.shape) != array["shape"] or str(X.dtype) != array["dtype"]:
        raise _Broken(f"damaged (array {X.dtype} {list(X.shape)}, expected {array['dtype']} {array['shape']})")
    if _array_sha256(X) != array["sha256"]:
        raise _Broken("corrupt (the array's sha256 differs from the one stored with it)")
    return X, facts


def _store(root: Path, key: str, X: np.ndarray | None, facts: dict, describe: dict) -> None:
    meta_path, npy_path = _paths(root, key)
    array = None
    if X is not None:
        import io

        buf = io.BytesIO()
        np.save(buf, X, allow_pickle=False)
        if not _write(root, lambda: atomic_write_bytes(npy_path, buf.getbuffer())):
            return
        array = {"shape": list(X.shape), "dtype": str(X.dtype), "sha256": _array_sha256(X)}
    _write(root, lambda: atomic_write_json(meta_path, {"key": key, "array": array, "facts": facts, **describe}))


@functools.cache
def _clear_dead_writes(root: str) -> None:
    """Once per process and folder: remove the temp files of processes killed while storing an entry (the
    entries of live processes, e.g. a benchmark's other workers, are kept: :mod:`eegclf.storage.tempfiles`)."""
    clear_dead_temp_files(Path(root) / "trials", depth=1)
    clear_dead_temp_files(Path(root) / "sources")


def load_or_build(kind: str, source: str | os.PathLike, options: dict,
                  build: Callable[[], tuple[np.ndarray | None, dict]]) -> tuple[np.ndarray | None, dict]:
    """``build()``'s (array or None, JSON-able facts) for recording ``source``, from the cache when an entry of
    (``kind``, the recording's bytes, ``options``, versions, code) is there, else built and stored.

    ``options`` must hold everything besides the recording's bytes that changes what ``build`` returns.
    Facts go through JSON: tuples come back as lists; floats, ints and strings come back as they were.
    """
    if not enabled():
        return build()
    root = cache_root()
    _clear_dead_writes(str(root))
    key = entry_key(kind, source, options)
    try:
        found = _read(root, key)
    except _Broken as exc:
        _say(f"the cached trials of {source} were {exc}; rebuilt them from the recording "
             f"({_paths(root, key)[0].with_suffix('')})")
        found = None
    if found is not None:
        return found
    X, facts = build()
    _store(root, key, X, facts, {"kind": kind, "source": str(source), "options": options, "versions": versions()})
    return X, facts


# ---------------------------------------------------------------------------------------------- info, clear

def _entry_files(root: Path):
    for sub in ("trials", "sources"):
        folder = root / sub
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file() and (_ENTRY.match(path.name) or _TMP.match(path.name)):
                    yield sub, path


def info() -> dict:
    """Where the cache is and what it holds: {root, enabled, entries, sources, bytes}."""
    root = cache_root()
    entries = sources = size = 0
    for sub, path in _entry_files(root):
        size += path.stat().st_size
        if path.suffix == ".json" and _ENTRY.match(path.name):
            entries += sub == "trials"
            sources += sub == "sources"
    return {"root": str(root), "enabled": enabled(), "entries": entries, "sources": sources, "bytes": size}


def clear() -> dict:
    """Delete the cache's entries and remembered hashes (only files named as this module names them, so that
    a ``$EEGCLF_CACHE`` pointing at a folder with other files loses none of them); {root, files, bytes}."""
    root = cache_root()
    files = size = 0
    for _, path in list(_entry_files(root)):
        if _TMP.match(path.name) and writer_alive(path):
            continue  # another process is storing this entry right now: its rename would fail
        size += path.stat().st_size
        path.unlink()
        files += 1
    for sub in ("trials", "sources"):  # the folders left empty, deepest first
        folder = root / sub
        if folder.is_dir():
            for d in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                if not any(d.iterdir()):
                    d.rmdir()
            if not any(folder.iterdir()):
                folder.rmdir()
    return {"root": str(root), "files": files, "bytes": size}
