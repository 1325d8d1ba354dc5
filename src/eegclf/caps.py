"""Which shipped network serves a cap: the members of a shipped family, each pre-trained on one cap's channels.

A shipped network may have family members in ``pretrained/catalogue.json`` (entries with ``"family": NAME``).
A member serves the caps its entry lists (``"caps"``: lists of channel names), else exactly its own channels
(a network pre-trained on one cap, ``eegclf pretrain --cap``). Asked for the family's name with data of exactly
a cap a member serves (matched by name, as :mod:`eegclf.data.channels` matches them: case, aliases and dot
padding do not matter, nor order), a command uses that member: on those channels it measured better than the
family's own network with the missing channels interpolated (docs/your-cap.md). Any other set of channels
meets the family's own network, which interpolates what is missing.
"""

from __future__ import annotations

from eegclf.data.channels import channel_key, parse_names


def _channels(name: str) -> tuple[str, ...]:
    """The channels the shipped network ``name`` takes (from its checkpoint's metadata, read without torch)."""
    from eegclf.pretrained import path_of
    from eegclf.storage.safetensors_io import read_metadata

    meta = read_metadata(path_of(name).read_bytes(), "eegclf")
    return tuple(meta.get("network_ch_names") or meta["ch_names"])


def _member_names(name: str) -> list[str]:
    from eegclf.pretrained import catalogue

    return [m for m, e in sorted(catalogue().items()) if e.get("family") == name]


def members(name: str) -> dict[str, tuple[str, ...]]:
    """``{member name: its channels}`` of the shipped family ``name`` (empty for a network without one)."""
    return {m: _channels(m) for m in _member_names(name)}


def caps_served(member: str) -> list[tuple[str, ...]]:
    """The caps (channel lists) the shipped family member ``member`` serves: its entry's ``caps``, else its own
    channels."""
    from eegclf.pretrained import catalogue

    listed = catalogue().get(member, {}).get("caps")
    return [tuple(c) for c in listed] if listed else [_channels(member)]


def family_of(name: str) -> str | None:
    """The family a shipped member belongs to, or None."""
    from eegclf.pretrained import catalogue

    return catalogue().get(name, {}).get("family")


def member_for(name, channels) -> tuple[str, str | None]:
    """``(checkpoint, note)``: for ``name`` (a path or a shipped network's name) and the channels the data will
    have (names, a comma-separated string or a channels file), the family member pre-trained on exactly those
    channels with a one-line note saying so; otherwise ``(name, None)``. A path that exists always wins."""
    from pathlib import Path

    from eegclf.pretrained import catalogue

    wanted = parse_names(channels)
    if not wanted or not isinstance(name, (str, Path)) or Path(name).exists() or str(name) not in catalogue():
        return name, None
    keys = {channel_key(c) for c in wanted}
    for member in _member_names(str(name)):
        for cap in caps_served(member):
            if {channel_key(c) for c in cap} == keys and len(cap) == len(wanted):
                return member, (f"{name}: these {len(cap)} channels are a cap that {member} serves, the shipped "
                                f"network that measured best on them; using it (docs/your-cap.md)")
    return name, None


__all__ = ["caps_served", "family_of", "member_for", "members"]
