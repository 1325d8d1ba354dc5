"""Any continuous recording MNE reads (EDF/BDF, GDF, FIF, BrainVision .vhdr, EEGLAB .set), named by globs.

Options: ``train_files`` / ``test_files`` (globs; comma-separated text or a list; relative ones resolve
against the current directory and the matched files are recorded with absolute paths, so a checkpoint
reloads the same files from anywhere), ``events`` (``"T1=left,T2=right"`` or ``"769=left,770=right"``:
annotation descriptions, or stim-channel codes, mapped to class names; the class order is the order of
first appearance), ``subject_from`` (a regex searched in each file name, then in its whole path; its group
``subject`` (else the first group) names the subject, a group ``run`` (else a second group) the run;
without it each file is its own subject), and the window/filter options the eegmmidb loader has.

Per file, in the eegmmidb loader's order: read (volts), remove EDF dot padding from channel names
(``"Fc5."`` -> ``"FC5"``), keep the channels every file has, optional average reference (projection over
those EEG channels, applied), pick the channels, optional FIR band-pass, resampling to the common rate,
then epochs ``[tmin, tmax]`` (inclusive, no baseline) around the events. X float32 (n, 1, C, T) in volts.
The header and trials of each EDF/BDF/GDF file are kept in the on-disk cache (:mod:`eegclf.data.cache`): a
warm load does not open them. Formats spread over several files (.vhdr, .set, split FIF) are not cached.

Alignment across files: with ``channels="all"`` the EEG channels common to all files are used (in the first
file's order); named channels must exist in every file. Files at different rates are resampled to the
lowest rate (or to ``resample``). What cannot be made to agree is refused with a message naming the file.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import numpy as np

from eegclf.data.base import EPOCH_DEFAULTS, EEGDataset, Split, run_key
from eegclf.data.channels import channel_key, recording_positions
from eegclf.errors import DataError

DEFAULTS = {
    "train_files": None,
    "test_files": None,
    "events": None,
    "subject_from": None,
    "channels": "all",
    **EPOCH_DEFAULTS,
}

OPTION_HELP = {
    "train_files": "recordings for training: globs, comma-separated (e.g. 'data/S*R0[48].edf'); "
                   "relative ones start from the current folder",
    "test_files": "recordings for the test part, globs as for --train-files",
    "events": "event -> class, e.g. T1=left,T2=right (annotation descriptions) or 769=left,770=right "
              "(stim-channel codes)",
    "subject_from": "regex on the file name whose group names the subject, e.g. 'S(\\d+)R' "
                    "(a group 'run' or a second group names the run); none: one subject per file",
    "channels": "comma-separated channel names or 'all'",
    "tmin": "window start in s relative to the event",
    "tmax": "window end in s relative to the event, inclusive",
    "l_freq": "band-pass low edge in Hz",
    "h_freq": "band-pass high edge in Hz",
    "resample": "resampling rate in Hz",
    "reference": "'average' for an average reference over the common EEG channels",
    "cap": "the recordings as if made with this cap (channel names, or a file of them): the cap's channels "
           "they lack are interpolated, the others dropped, an average reference (if asked) taken over the cap "
           "(see docs, your cap)",
}

FORMATS = "EDF/BDF, GDF, FIF, BrainVision .vhdr or EEGLAB .set"


# ----------------------------------------------------------------------------------------------- options

def _as_list(value) -> list[str]:
    if isinstance(value, (str, os.PathLike)):
        return [s.strip() for s in str(value).split(",") if s.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


def expand_globs(option: str, patterns, cwd: Path | None = None) -> list[str]:
    """Absolute paths of the files the globs match, in glob order (sorted per glob), without repeats.

    An item naming an existing file is taken as it is (so recorded absolute paths with ``[`` still work).
    """
    flag = "--" + option.replace("_", "-")
    if patterns is None or not _as_list(patterns):
        raise DataError(f"data set 'files' needs {flag}: one or more globs such as 'recordings/*.edf'")
    cwd = Path.cwd() if cwd is None else cwd
    out: list[str] = []
    for pattern in _as_list(patterns):
        path = Path(pattern).expanduser()
        path = path if path.is_absolute() else cwd / path
        if path.is_file():
            found = [str(path)]
        else:
            found = sorted(p for p in glob.glob(str(path), recursive=True) if os.path.isfile(p))
        if not found:
            raise DataError(f"{flag} {pattern!r} matches no file (looked from {cwd})")
        out.extend(os.path.abspath(p) for p in found)
    return list(dict.fromkeys(out))


def absolute_globs(text: str, cwd: Path | None = None) -> str:
    """Comma-separated globs with relative ones made absolute against ``cwd`` (default: the current folder),
    so a run's recorded options (its saved config, ``--resume``) name the same files from anywhere."""
    cwd = Path.cwd() if cwd is None else cwd
    out = []
    for pattern in _as_list(text):
        path = Path(pattern).expanduser()
        out.append(os.path.abspath(path if path.is_absolute() else cwd / path))
    return ",".join(out)


def parse_events(events) -> list[tuple[str, str]]:
    """``"T1=left,T2=right"`` / ``{"T1": "left"}`` / ``[["T1", "left"]]`` -> ``[("T1", "left"), ...]``."""
    if events is None:
        raise DataError("data set 'files' needs --events: event -> class pairs such as T1=left,T2=right")
    if isinstance(events, dict):
        pairs = [(str(k), str(v)) for k, v in events.items()]
    elif isinstance(events, str):
        pairs = []
        for item in (s for s in events.split(",") if s.strip()):
            if "=" not in item:
                raise DataError(f"--events item {item.strip()!r} is not EVENT=CLASS (e.g. T1=left,T2=right)")
            key, name = item.rsplit("=", 1)
            pairs.append((key.strip(), name.strip()))
    else:
        try:
            pairs = [(str(k), str(v)) for k, v in events]
        except (TypeError, ValueError):
            raise DataError(f"events must be EVENT=CLASS pairs such as T1=left,T2=right; got {events!r}") from None
    bad = [f"{k}={v}" for k, v in pairs if not k or not v]
    if bad:
        raise DataError(f"--events item(s) {bad} need an event and a class name (e.g. T1=left)")
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise DataError(f"--events names event(s) {repeated} more than once")
    if len({v for _, v in pairs}) < 2:
        raise DataError(f"--events must map to at least two class names; got {', '.join(f'{k}={v}' for k, v in pairs)}")
    return pairs


def _subject_regex(pattern):
    if pattern is None:
        return None
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise DataError(f"--subject-from {pattern!r} is not a valid regular expression ({e})") from None
    if rx.groups < 1:
        raise DataError(f"--subject-from {pattern!r} needs a group that captures the subject, e.g. 'S(\\d+)R'")
    return rx


def _subject_and_run(rx, path: str) -> tuple[str, int | None]:
    if rx is None:
        return Path(path).stem, None
    m = rx.search(Path(path).name) or rx.search(Path(path).as_posix())
    if m is None:
        raise DataError(f"--subject-from {rx.pattern!r} does not match the file {path}")
    names = rx.groupindex
    subject = m.group("subject") if "subject" in names else m.group(1)
    run_group = "run" if "run" in names else (2 if rx.groups >= 2 and "subject" not in names else None)
    run = m.group(run_group) if run_group is not None else None
    if subject is None or subject == "":
        raise DataError(f"--subject-from {rx.pattern!r} captured no subject in {path}")
    if run is not None:
        try:
            run = int(run)
        except ValueError:
            raise DataError(f"--subject-from {rx.pattern!r}: the run group captured {run!r} in {path}; "
                            "expected an integer") from None
    return subject, run


def _check_options(channels, tmin, tmax, l_freq, h_freq, resample, reference) -> dict:
    tmin, tmax = float(tmin), float(tmax)
    if tmax <= tmin:
        raise DataError(f"files window must have tmax > tmin; got tmin={tmin}, tmax={tmax}")
    l_freq = None if l_freq is None else float(l_freq)
    h_freq = None if h_freq is None else float(h_freq)
    for name, f in (("l_freq", l_freq), ("h_freq", h_freq)):
        if f is not None and f < 0:
            raise DataError(f"files {name} must be >= 0 Hz; got {f}")
    if l_freq is not None and h_freq is not None and not l_freq < h_freq:
        raise DataError(f"files band-pass needs l_freq < h_freq; got {l_freq}, {h_freq}")
    resample = None if resample is None else float(resample)
    if resample is not None and resample <= 0:
        raise DataError(f"files resample must be a positive rate in Hz; got {resample}")
    if reference not in (None, "average"):
        raise DataError(f"files reference must be 'average' or unset; got {reference!r}")
    if isinstance(channels, str):
        channels = "all" if channels.strip().lower() == "all" else [c for c in channels.replace(" ", "").split(",") if c]
    else:
        channels = [str(c) for c in channels]
    if not channels:
        raise DataError("files channels must be 'all' or a non-empty list such as C3,Cz,C4")
    return dict(channels=channels, tmin=tmin, tmax=tmax, l_freq=l_freq, h_freq=h_freq, resample=resample,
                reference=reference)


# ----------------------------------------------------------------------------------------------- reading

def clean_name(name: str) -> str:
    """Channel name without EDF dot padding; padded names get 10-10 capitalisation (``"Fc5."`` -> ``"FC5"``),
    as ``mne.datasets.eegbci.standardize`` does."""
    name = name.strip()
    if name.endswith("."):
        from eegclf.data.channels import standard_channel_name

        return standard_channel_name(name)
    return name


def read_raw(path: str, preload: bool):
    """An MNE Raw of the file with cleaned channel names; DataError when MNE cannot read it."""
    import mne

    p = Path(path)
    if p.suffix.lower() == ".edf":
        from eegclf.data.eegmmidb import check_edf_size

        try:
            check_edf_size(p)
        except DataError:
            raise DataError(f"file {path} is truncated: it is shorter than its EDF header promises; "
                            "copy it again") from None
    try:
        raw = mne.io.read_raw(p, preload=preload, verbose="error")
    except Exception as e:  # noqa: BLE001 - MNE raises many types for unreadable files
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise DataError(f"file {path} could not be read by MNE ({type(e).__name__}: {first}); expected a "
                        f"continuous recording: {FORMATS}") from None
    rename = {c: clean_name(c) for c in raw.ch_names if clean_name(c) != c}
    if rename:
        if len(set(map(clean_name, raw.ch_names))) < len(raw.ch_names):
            raise DataError(f"file {path}: channel names {raw.ch_names} repeat once EDF dot padding is removed")
        raw.rename_channels(rename, verbose="error")
    return raw


# formats whose recording is the one file named (a BrainVision .vhdr or EEGLAB .set names its data file, a FIF
# may be split): only those are cached, because the cache's key hashes the named file alone
CACHED_SUFFIXES = (".edf", ".bdf", ".gdf")


def _cached(kind: str, path: str, options: dict, build):
    from eegclf.data.cache import load_or_build

    if Path(path).suffix.lower() not in CACHED_SUFFIXES:
        return build()
    return load_or_build(kind, path, options, build)


def _header(path: str) -> dict:
    """The file's rate, channels (all, EEG, non-stim) and length; from the on-disk cache when it is there."""
    return _cached("files-header", path, {}, lambda: (None, _read_header(path)))[1]


def _read_header(path: str) -> dict:
    raw = read_raw(path, preload=False)
    types = raw.get_channel_types()
    return {"sfreq": float(raw.info["sfreq"]), "names": list(raw.ch_names),
            "eeg": [c for c, t in zip(raw.ch_names, types) if t == "eeg"],
            "data": [c for c, t in zip(raw.ch_names, types) if t != "stim"],
            "seconds": raw.n_times / raw.info["sfreq"],
            # the electrodes' digitised positions, when the file has them: interpolation uses them
            "ch_pos": {k: [float(x) for x in v] for k, v in (recording_positions(raw.info) or {}).items()}}


def _common_channels(headers: dict[str, dict], wanted) -> tuple[list[str], list[str], dict]:
    """(the common EEG channels, the channels to pick, channels left out per file)."""
    first = next(iter(headers.values()))
    lower_sets = {p: {channel_key(c) for c in h["eeg"]} for p, h in headers.items()}
    common = [c for c in first["eeg"] if all(channel_key(c) in s for s in lower_sets.values())]
    left_out = {p: [c for c in h["eeg"] if channel_key(c) not in {channel_key(x) for x in common}]
                for p, h in headers.items()}
    left_out = {p: v for p, v in left_out.items() if v}
    if wanted == "all":
        if not common:
            listing = "; ".join(f"{p}: {', '.join(h['eeg']) or 'none'}" for p, h in headers.items())
            raise DataError(f"the files share no EEG channel, so they cannot be aligned by name ({listing}); "
                            "name the channels with --channels")
        return common, common, left_out
    for path, h in headers.items():
        have = {channel_key(c) for c in h["data"]}
        missing = [c for c in wanted if channel_key(c) not in have]
        if missing:
            raise DataError(f"file {path} has no channel(s) {missing}; it has: {', '.join(h['data'])}")
    lookup = {channel_key(c): c for c in first["data"]}
    return common, [lookup[channel_key(c)] for c in wanted], left_out


def _target_rate(headers: dict[str, dict], resample, h_freq) -> float:
    rates = {p: h["sfreq"] for p, h in headers.items()}
    lowest_path = min(rates, key=rates.get)
    lowest = rates[lowest_path]
    target = lowest if resample is None else resample
    if len(set(rates.values())) > 1 and target > lowest and not (h_freq is not None and h_freq < lowest / 2):
        raise DataError(
            f"the files have different sampling rates ({', '.join(sorted({f'{r:g} Hz' for r in rates.values()}))}); "
            f"resampling to {target:g} Hz would leave {lowest_path} ({lowest:g} Hz) without the band above "
            f"{lowest / 2:g} Hz that the others hold; use --resample {lowest:g} or lower, or --h-freq below "
            f"{lowest / 2:g}"
        )
    return float(target)


def _event_annotations(raw, path: str, keys: list[str]) -> None:
    """Make every event key an annotation of ``raw``: from the annotations, else from stim-channel codes."""
    import mne

    present = set(raw.annotations.description)
    if all(k in present for k in keys):
        return
    codes: list[int] = []
    stim = [c for c, t in zip(raw.ch_names, raw.get_channel_types()) if t == "stim"]
    events = np.zeros((0, 3), dtype=int)
    if stim:
        try:
            events = mne.find_events(raw, stim_channel=stim, shortest_event=1, initial_event=True,
                                     verbose="error")
        except Exception:  # noqa: BLE001 - odd stim channels: fall through to the error below
            events = np.zeros((0, 3), dtype=int)
        codes = sorted(set(events[:, 2].tolist()))
    code_names = {str(c) for c in codes}
    if all(k in present or k in code_names for k in keys) and any(k not in present for k in keys):
        use = [k for k in keys if k not in present]
        sel = np.isin(events[:, 2], [int(k) for k in use])
        if sel.any():
            ann = mne.annotations_from_events(events[sel], raw.info["sfreq"],
                                              event_desc={int(k): k for k in use},
                                              first_samp=raw.first_samp, orig_time=raw.annotations.orig_time,
                                              verbose="error")
            raw.set_annotations(raw.annotations + ann, verbose="error")
        return
    missing = [k for k in keys if k not in present and k not in code_names]
    names = sorted(present)
    have = f"its annotation descriptions are: {', '.join(map(repr, names)) if names else 'none'}"
    if stim:
        have += f"; its stim channel codes are: {', '.join(map(str, codes)) if codes else 'none'}"
    raise DataError(f"file {path} has no event {', '.join(map(repr, missing))} (from --events); {have}")


def _trials_of_file(path: str, opts: dict, keep: list[str], picks: list[str], sfreq: float,
                    pairs: list[tuple[str, str]], class_names: list[str]):
    """One file's trials: X (n, C, T) float64 volts, y (n,), channel names, rate, NaN count, trials dropped,
    and the fingerprint of the raw recording (:mod:`eegclf.data.fingerprint`; None when it has none)."""
    import mne

    from eegclf.data.fingerprint import raw_fingerprint

    raw = read_raw(path, preload=True)
    print_ = raw_fingerprint(raw)  # of the recording as read, before any preprocessing
    keys = [k for k, _ in pairs]
    _event_annotations(raw, path, keys)
    lookup = {channel_key(c): c for c in raw.ch_names}
    keep_here = list(dict.fromkeys(lookup[channel_key(c)] for c in [*keep, *picks]))
    raw.pick(keep_here)
    n_nans = int(np.isnan(raw.get_data()).sum())
    if opts["reference"] == "average":
        raw.set_eeg_reference("average", projection=True, verbose="error")
        raw.apply_proj(verbose="error")
    raw.pick([lookup[channel_key(c)] for c in picks])
    if opts["l_freq"] is not None or opts["h_freq"] is not None:
        raw.filter(opts["l_freq"], opts["h_freq"], fir_design="firwin",
                   skip_by_annotation="edge", verbose="error")
    if sfreq != raw.info["sfreq"]:
        raw.resample(sfreq, verbose="error")
    codes = {name: i + 1 for i, name in enumerate(class_names)}
    event_id = {k: codes[name] for k, name in pairs}
    events, _ = mne.events_from_annotations(raw, event_id=event_id, verbose="error")
    epochs = mne.Epochs(raw, events, event_id={name: codes[name] for name in class_names
                                              if codes[name] in set(events[:, 2].tolist())},
                        tmin=opts["tmin"], tmax=opts["tmax"], baseline=None, preload=True, proj=False,
                        verbose="error")
    if len(epochs) == 0:
        raise DataError(f"file {path}: no trial fits the window tmin={opts['tmin']} s, tmax={opts['tmax']} s "
                        f"around its {len(events)} events (the recording is {raw.times[-1]:.1f} s long)")
    X = epochs.get_data(copy=True)
    y = epochs.events[:, 2].astype(np.int64) - 1
    return X, y, list(epochs.ch_names), float(epochs.info["sfreq"]), n_nans, len(events) - len(epochs), print_


def _cached_trials(path: str, opts: dict, keep: list[str], picks: list[str], sfreq: float,
                   pairs: list[tuple[str, str]], class_names: list[str]):
    """``_trials_of_file`` with X as float32 (the loader's dtype), from the on-disk cache when it holds the file."""
    def build():
        X, y, names, sf, nn, nd, print_ = _trials_of_file(path, opts, keep, picks, sfreq, pairs, class_names)
        return X.astype(np.float32), {"y": y.tolist(), "ch_names": names, "sfreq": sf, "n_nans": nn, "dropped": nd,
                                      "fingerprint": print_}

    # everything _trials_of_file is given shapes its result
    key = {**opts, "keep": keep, "picks": picks, "sfreq": sfreq, "pairs": [list(p) for p in pairs],
           "class_names": class_names}
    X, facts = _cached("files-trials", path, key, build)
    return (X, np.asarray(facts["y"], dtype=np.int64), list(facts["ch_names"]), float(facts["sfreq"]),
            int(facts["n_nans"]), int(facts["dropped"]), facts["fingerprint"])


def load_files(data_dir=None, *, train_files, test_files, events, subject_from, channels, tmin, tmax,
               l_freq, h_freq, resample, reference) -> EEGDataset:
    """Load the trials of the train and test recordings (``data_dir`` is not used: files are named by globs)."""
    opts = _check_options(channels, tmin, tmax, l_freq, h_freq, resample, reference)
    pairs = parse_events(events)
    class_names = list(dict.fromkeys(name for _, name in pairs))
    rx = _subject_regex(subject_from)
    files = {"train": expand_globs("train_files", train_files), "test": expand_globs("test_files", test_files)}
    both = sorted(set(files["train"]) & set(files["test"]))
    if both:
        raise DataError(f"file(s) {both} are in both --train-files and --test-files; a file can be in one part only")
    where = {p: _subject_and_run(rx, p) for part in ("train", "test") for p in files[part]}

    headers = {p: _header(p) for part in ("train", "test") for p in files[part]}
    common, picks, left_out = _common_channels(headers, opts["channels"])
    sfreq = _target_rate(headers, opts["resample"], opts["h_freq"])
    natives = sorted({h["sfreq"] for h in headers.values()})
    if opts["h_freq"] is not None and opts["h_freq"] >= natives[0] / 2:
        raise DataError(f"files h_freq {opts['h_freq']:g} Hz is not below the Nyquist frequency "
                        f"({natives[0] / 2:g} Hz) of the {natives[0]:g} Hz recordings")
    keep = common if opts["reference"] == "average" else []

    parts: dict[str, list[Split]] = {"train": [], "test": []}
    ch_names, n_times, n_nans, dropped = None, None, 0, 0
    run_counter: dict[str, int] = {}
    recordings: dict[str, str] = {}
    for part in ("train", "test"):
        for path in files[part]:
            X, y, names, sf, nn, nd, print_ = _cached_trials(path, opts, keep, picks, sfreq, pairs, class_names)
            if ch_names is not None and ([channel_key(n) for n in names], X.shape[-1]) != (
                    [channel_key(n) for n in ch_names], n_times):
                raise DataError(f"file {path} gives channels {names} with {X.shape[-1]} samples per trial, "
                                f"but the files before it gave {ch_names} with {n_times}; use --channels and "
                                "--resample to make them agree")
            ch_names, n_times, n_nans, dropped = ch_names or names, X.shape[-1], n_nans + nn, dropped + nd
            subject, run = where[path]
            if run is None:
                run_counter[subject] = run_counter.get(subject, 0) + 1
                run = run_counter[subject] if rx is not None else -1
            if print_ is not None:
                recordings[run_key(subject, "", run)] = print_
            parts[part].append(Split(X[:, None], y, np.full(len(y), subject),
                                     np.full(len(y), run, dtype=np.int64)))

    joined = {}
    for part, splits in parts.items():
        out = Split.concat_all(splits)
        absent = [name for k, name in enumerate(class_names) if not np.any(out.y == k)]
        if absent:
            keys = [k for k, n in pairs if n in absent]
            raise DataError(f"the {part} files have no trials of class(es) {absent} (events {keys}) inside the "
                            f"window tmin={opts['tmin']} s, tmax={opts['tmax']} s: {', '.join(files[part])}")
        joined[part] = out

    options = {
        "train_files": files["train"], "test_files": files["test"], "events": [list(p) for p in pairs],
        "subject_from": subject_from, **opts,
    }
    info = {"n_nans": n_nans, "n_trials_outside_recording": dropped, "native_sfreq": natives,
            "channels_left_out": left_out, "files": files}
    first = next(iter(headers.values()))["ch_pos"]
    if first and all(c in first for c in ch_names):
        info["ch_pos"] = {c: first[c] for c in ch_names}
    return EEGDataset("files", joined["train"], joined["test"], sfreq, ch_names, class_names, options, info,
                      recordings)


# argparse types of the options whose default is None (the CLI makes the flags from DEFAULTS and these)
OPTION_TYPES = {"train_files": absolute_globs, "test_files": absolute_globs, "events": str, "subject_from": str,
                "l_freq": float, "h_freq": float, "resample": float, "reference": str, "cap": str}
