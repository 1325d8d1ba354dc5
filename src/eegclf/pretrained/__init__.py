"""Pre-trained networks that ship with eegclf, usable by name wherever a checkpoint path is taken.

``catalogue.json`` beside this file lists each network: its file (in this folder, installed with the
package), the sha256 of that file, what data it was trained on, and the exact command that rebuilds it byte
for byte. Everything else (channels, rate, window, classes, the people it saw, its recipe) is read from the
checkpoint's own metadata, so nothing is said twice. :func:`resolve` turns a name into the file; a path that
exists always wins over a name. May import: errors only (``eegclf pretrained list`` describes a network).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from eegclf.errors import CheckpointError

CATALOGUE_FILE = "catalogue.json"


def catalogue() -> dict[str, dict]:
    """``{name: entry}`` of the shipped networks (entry keys: file, sha256, data, command, built_file: the file
    the command writes; seen, seen_sha256: see :func:`shipped_records`)."""
    text = resources.files(__name__).joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def names() -> list[str]:
    return sorted(catalogue())


def path_of(name: str) -> Path:
    """The installed file of the shipped network ``name``; CheckpointError when the name or file is unknown."""
    entries = catalogue()
    if name not in entries:
        raise CheckpointError(f"no shipped network is named {name!r}; shipped: {', '.join(sorted(entries)) or 'none'}")
    path = Path(str(resources.files(__name__).joinpath(entries[name]["file"])))
    if not path.is_file():
        raise CheckpointError(f"the shipped network {name!r} is listed but its file {path} is missing: "
                              f"reinstall eegclf, or rebuild it with: {entries[name]['command']}")
    return path


def resolve(path_or_name) -> Path:
    """``path_or_name`` as a checkpoint path: an existing path as it is, else a shipped network's file when it
    is one's name, else the path as given (so that the caller's "does not exist" error names it)."""
    path = Path(path_or_name)
    if path.exists() or str(path_or_name) not in catalogue():
        return path
    return path_of(str(path_or_name))


__all__ = ["catalogue", "names", "path_of", "resolve"]
