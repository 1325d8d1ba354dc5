"""The one safetensors reader for checkpoints and training state (never unpickles).

Below :mod:`eegclf.storage.checkpoint` and :mod:`eegclf.storage.train_state`, which both read through it, so
that neither imports the run folder for it.
"""

from __future__ import annotations

import json


def read_metadata(data: bytes, key: str):
    """``metadata[key]`` of a safetensors file's bytes parsed as JSON, or None when the key is absent, without
    reading (or importing anything for) its tensors. json's errors on a corrupt header."""
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    text = (header.get("__metadata__") or {}).get(key)
    return None if text is None else json.loads(text)


def read_safetensors(data: bytes, key: str) -> tuple[dict, object]:
    """The one safetensors reader for checkpoints and training state: ``(tensors, metadata[key] parsed as
    JSON)``, with None when the key is absent. Raises safetensors' or json's errors on a corrupt file; the
    caller says which file it was. Never unpickles."""
    from safetensors.torch import load as st_load

    tensors = st_load(data)
    return tensors, read_metadata(data, key)
