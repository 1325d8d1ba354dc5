"""The one owner of channel names: what a name means, where the electrode sits, and how a recording's channels
meet a network's.

- Names are matched case-insensitively, as 10-05 names (MNE's ``standard_1005`` montage), with EDF dot padding
  removed (EEGMMIDB's ``"Fc5."``, ``"Cz.."``) and the old 10-20 aliases T3/T4/T5/T6 read as T7/T8/P7/P8.
- Positions come from the ``standard_1005`` montage, or from the recording's own digitisation where it has one
  (``positions``: name -> (x, y, z) in MNE's head frame, metres).
- :func:`match_channels` matches a recording's channels to a network's by name: the row of the recording for
  each network channel, the recording's extras (dropped) and the network's channels the recording lacks
  (missing: interpolated). :meth:`ChannelMatch.matrix` is the linear map recording -> network: a selection for
  the channels present, MNE's spherical-spline interpolation (``interpolate_bads``) for the missing ones.

Refused, with a :class:`~eegclf.errors.DataError` naming the channels and what was expected:

- a recording channel that is none of the network's channels and no known electrode (a typo, ``"EEG 1"``);
- a name that appears twice once matched (``C3`` and ``c3``, ``T3`` and ``T7``);
- a network channel that is missing and has no known position (it cannot be interpolated);
- too small an overlap: fewer than :data:`MIN_PRESENT` of the network's channels present (all of them for a
  network of fewer channels). Three is the least that carries a left/right motor-imagery contrast (C3, Cz,
  C4), and a spherical spline from fewer points is no interpolation but a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from eegclf.errors import DataError

MONTAGE = "standard_1005"  # MNE 1.13 renames it colin27_1005 (the same positions): see _montage()
ALIASES = {"t3": "t7", "t4": "t8", "t5": "p7", "t6": "p8"}  # the 10-20 names the 10-10 system renamed
MIN_PRESENT = 3


def standard_channel_name(name: str) -> str:
    """``"Fc5."`` -> ``"FC5"``, ``"Cz.."`` -> ``"Cz"``: EDF dot padding removed, 10-10 capitalisation.

    The same renaming as ``mne.datasets.eegbci.standardize`` (which the eegmmidb loader applies), so that
    streamed channels carry the names recorded in checkpoints.
    """
    name = name.strip().strip(".").upper()
    if name.endswith("Z"):
        name = name[:-1] + "z"
    if name.startswith("FP"):
        name = "Fp" + name[2:]
    return name


def channel_key(name: str) -> str:
    """What a name is matched by: lower case, no dot padding, aliases resolved (``"T3"`` -> ``"t7"``)."""
    key = standard_channel_name(str(name)).lower()
    return ALIASES.get(key, key)


def _montage():
    """MNE's ``standard_1005`` montage, under the name the installed MNE gives it."""
    import mne

    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else MONTAGE
    return mne.channels.make_standard_montage(name)


@lru_cache(maxsize=1)
def _standard() -> dict:
    """key -> (the montage's spelling, position in MNE's head frame) for every ``standard_1005`` electrode."""
    import mne

    montage = _montage()
    info = mne.create_info(montage.ch_names, 100.0, "eeg")
    info.set_montage(montage)
    return {name.lower(): (name, np.array(ch["loc"][:3], dtype=float)) for name, ch in zip(montage.ch_names,
                                                                                         info["chs"])}


def is_known(name: str) -> bool:
    """Whether ``name`` is a 10-05 electrode (after aliases and dot padding)."""
    return channel_key(name) in _standard()


def canonical_name(name: str) -> str:
    """The montage's spelling of ``name`` (``"fc5."`` -> ``"FC5"``, ``"T3"`` -> ``"T7"``); a name the montage
    does not know is returned with dot padding removed only."""
    key = channel_key(name)
    known = _standard().get(key)
    return known[0] if known else str(name).strip().strip(".")


def parse_names(value) -> list[str]:
    """A list of channel names from a list, a comma-separated string, or a file (one name per line or comma
    separated; ``#`` starts a comment)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value)
    path = Path(text).expanduser()
    if "," not in text and path.is_file():
        text = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())
    return [n.strip() for part in text.splitlines() for n in part.split(",") if n.strip()]


def recording_positions(info) -> dict | None:
    """The recording's own digitised electrode positions (name -> head-frame xyz), None when it has none
    (no montage, or only the zero/NaN placeholders EDF files give)."""
    pos = {}
    for ch in info["chs"]:
        loc = np.asarray(ch["loc"][:3], dtype=float)
        if np.all(np.isfinite(loc)) and np.any(loc != 0):
            pos[ch["ch_name"]] = loc
    return pos or None


def _short(names, n: int = 8) -> str:
    names = list(names)
    return ", ".join(names[:n]) + (f", ... ({len(names)} in all)" if len(names) > n else "")


def _check_unique(names, what: str) -> list[str]:
    keys = [channel_key(n) for n in names]
    seen: dict[str, str] = {}
    for name, key in zip(names, keys):
        if key in seen:
            raise DataError(f"{what} names channel {seen[key]!r} twice (also as {name!r}); "
                            "expected each electrode once")
        seen[key] = name
    return keys


@dataclass(frozen=True)
class ChannelMatch:
    """How a recording's channels meet a network's (see :func:`match_channels`)."""

    recording: tuple[str, ...]
    network: tuple[str, ...]
    rows: tuple  # for each network channel, its row in the recording, or None when the recording lacks it
    dropped: tuple[str, ...]  # recording channels the network does not take
    missing: tuple[str, ...]  # network channels the recording lacks: interpolated
    positions: dict | None = None

    @property
    def identity(self) -> bool:
        """The recording gives exactly the network's channels in the network's order."""
        return not self.dropped and not self.missing and list(self.rows) == list(range(len(self.network)))

    def note(self) -> str | None:
        """One line saying what is dropped, interpolated or reordered; None when nothing is."""
        parts = []
        if self.dropped:
            parts.append(f"{len(self.dropped)} channel(s) the network does not take are dropped: "
                         f"{_short(self.dropped)}")
        if self.missing:
            parts.append(f"{len(self.missing)} of the network's {len(self.network)} channels are interpolated "
                         f"(MNE spherical spline) from the {len(self.network) - len(self.missing)} present: "
                         f"{_short(self.missing)}")
        if not parts and not self.identity:
            parts.append("channels reordered by name into the network's order")
        return "; ".join(parts) or None

    def matrix(self) -> np.ndarray:
        """(n_network, n_recording) float64: network signals = matrix @ recording signals."""
        M = np.zeros((len(self.network), len(self.recording)))
        for j, r in enumerate(self.rows):
            if r is not None:
                M[j, r] = 1.0
        if self.missing:
            names = [self.network[j] for j, r in enumerate(self.rows)
                     if r is None or _position(self.network[j], self.recording[r], self.positions) is not None]
            own = {self.network[j]: self.recording[r] for j, r in enumerate(self.rows) if r is not None}
            pos = None if not self.positions else {n: _position(n, own.get(n), self.positions) for n in names}
            W = interpolation_matrix(names, list(self.missing), pos)
            good = [n for n in names if n not in set(self.missing)]
            row_of = {n: self.rows[self.network.index(n)] for n in good}
            for i, name in enumerate(names):
                if name in set(self.missing):
                    M[self.network.index(name), [row_of[g] for g in good]] = W[i]
        return M


def _position(network_name: str, recording_name: str | None, positions: dict | None):
    """The recording's digitised position of the channel where it has one, else the standard montage's."""
    if positions and recording_name is not None and recording_name in positions:
        return np.asarray(positions[recording_name], dtype=float)
    known = _standard().get(channel_key(network_name))
    return None if known is None else known[1]


def match_channels(recording, network, positions: dict | None = None, what: str = "the recording",
                   min_present: int = MIN_PRESENT) -> ChannelMatch:
    """Match ``recording``'s channel names to ``network``'s by name (see the module's rules); DataError when
    refused. ``positions``: the recording's digitised positions by its channel names, if any."""
    recording, network = [str(c) for c in recording], [str(c) for c in network]
    rec_keys = _check_unique(recording, what)
    net_keys = _check_unique(network, "the network")
    row = {k: i for i, k in enumerate(rec_keys)}
    net_set = set(net_keys)
    unknown = [n for n, k in zip(recording, rec_keys)
               if k not in net_set and k not in _standard() and not (positions and n in positions)]
    if unknown:
        raise DataError(f"{what} has channel(s) {_short(unknown)} that match none of the network's channels "
                        f"({_short(network)}) and are no 10-05 electrode name: rename them (10-05 names; T3/T4/T5/"
                        "T6 and EEGMMIDB's dotted names are understood) or leave them out")
    rows = tuple(row.get(k) for k in net_keys)
    present = sum(r is not None for r in rows)
    need = min(min_present, len(network))
    if present < need:
        raise DataError(f"{what} has {present} of the network's {len(network)} channels "
                        f"({_short([n for n, r in zip(network, rows) if r is not None]) or 'none'}); at least "
                        f"{need} are needed to decode (it lacks {_short([n for n, r in zip(network, rows) if r is None])})")
    missing = tuple(n for n, r in zip(network, rows) if r is None)
    nowhere = [n for n in missing if _position(n, None, None) is None]
    if nowhere:
        raise DataError(f"{what} lacks the network's channel(s) {_short(nowhere)}, which have no known position "
                        "and so cannot be interpolated; expected a recording with them")
    dropped = tuple(n for n, k in zip(recording, rec_keys) if k not in net_set)
    return ChannelMatch(tuple(recording), tuple(network), rows, dropped, missing, positions)


def interpolation_matrix(names, bads, positions: dict | None = None) -> np.ndarray:
    """MNE's spherical-spline interpolation of the channels ``bads`` from the others of ``names`` as a matrix
    (n_names, n_good): the output of ``interpolate_bads(reset_bads=True)`` on a Raw of ``names`` whose data
    is the identity basis over the good channels. ``positions`` (name -> head-frame xyz) defaults to the
    ``standard_1005`` montage; rows of good channels are the identity."""
    import mne

    names = [canonical_name(n) for n in names]
    bads = [canonical_name(b) for b in bads]
    good = [n for n in names if n not in bads]
    info = mne.create_info(names, 100.0, "eeg")
    if positions is None:
        info.set_montage(_montage(), match_case=False, verbose="error")
    else:
        pos = {canonical_name(k): np.asarray(v, dtype=float) for k, v in positions.items()}
        info.set_montage(mne.channels.make_dig_montage(ch_pos={n: pos[n] for n in names}, coord_frame="head"),
                         verbose="error")
    data = np.zeros((len(names), len(good)))
    for k, name in enumerate(good):
        data[names.index(name), k] = 1.0
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.info["bads"] = list(bads)
    raw.interpolate_bads(reset_bads=True, verbose="error")
    return raw.get_data()


def apply_matrix(M: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``M`` (C_out, C_in) applied to every trial of X (n, 1, C_in, T) -> (n, 1, C_out, T) float32."""
    return np.matmul(np.asarray(M, dtype=np.float32), np.asarray(X, dtype=np.float32))


def restrict_to_cap(dataset, cap, reference=None):
    """``dataset`` as if recorded with the cap ``cap`` (channel names): channels matched by name, the cap's
    channels the recordings lack interpolated from the others, the rest dropped; re-referenced to the average
    over the cap's channels when ``reference == "average"`` (as a recording made with that cap would be)."""
    from dataclasses import replace

    names = [canonical_name(c) for c in parse_names(cap)]
    if not names:
        raise DataError("cap= is empty: expected channel names, e.g. Fp1,Fp2,C3,C4", param="cap")
    match = match_channels(dataset.ch_names, names, (dataset.info or {}).get("ch_pos"), what=f"{dataset.name}")
    M = match.matrix()
    if reference == "average":
        M = (np.eye(len(names)) - 1.0 / len(names)) @ M
    parts = {}
    for part in ("train", "test"):
        s = getattr(dataset, part)
        parts[part] = replace(s, X=apply_matrix(M, s.X))
    info = dict(dataset.info or {}, cap={"channels": names, "interpolated": list(match.missing),
                                         "dropped": list(match.dropped)})
    return replace(dataset, ch_names=names, info=info, **parts)
