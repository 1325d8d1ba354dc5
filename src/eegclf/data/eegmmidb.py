"""PhysioNet EEG Motor Movement/Imagery (EEGMMIDB), read through MNE.

Local files in PhysioNet's layout ``ROOT/eegmmidb/S001/S001R04.edf`` are used first; missing ones are
fetched with ``mne.datasets.eegbci.load_data`` into ``ROOT/eegmmidb`` (MNE's own sub-folders).

Per run: read EDF (volts), standardise channel names, optional average reference (projection, applied),
pick channels, optional FIR band-pass on the continuous signal, optional resampling, then epochs around the
T1/T2 cues (T1 -> class 0, T2 -> class 1; window [tmin, tmax] inclusive, no baseline).
Default split: train = the task's earlier runs, test = its last run (``test_run``).
Each run's trials are kept in the on-disk cache (:mod:`eegclf.data.cache`): a warm load does not open the EDF.
X float32 (n, 1, n_chans, n_times) in volts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eegclf.data.base import EPOCH_DEFAULTS, EEGDataset, Split, data_root, run_key
from eegclf.errors import DataError

TASKS = {
    "imagery_lr": ((4, 8, 12), ["left_fist", "right_fist"]),
    "imagery_hf": ((6, 10, 14), ["both_fists", "both_feet"]),
    "movement_lr": ((3, 7, 11), ["left_fist", "right_fist"]),
    "movement_hf": ((5, 9, 13), ["both_fists", "both_feet"]),
}
DEFAULT_CHANNELS = ["C3", "Cz", "C4"]
NATIVE_SFREQ = 160.0  # of all but three subjects: S088, S092 and S100 were recorded at 128 Hz

DEFAULTS = {
    "subjects": [1],
    "task": "imagery_lr",
    "channels": "C3,Cz,C4",
    **EPOCH_DEFAULTS,
    "test_run": None,
}
# one line per option for the command line's help (which adds the default); the types of the options
# whose default (None) does not tell
OPTION_HELP = {
    "subjects": "subject numbers, e.g. 1, 1,2,3 or 1-12",
    "task": "imagery_lr (runs 4,8,12), imagery_hf (6,10,14), movement_lr (3,7,11) or movement_hf (5,9,13)",
    "channels": "comma-separated channel names, or 'all'",
    "tmin": "window start in s relative to the cue",
    "tmax": "window end in s relative to the cue, inclusive",
    "l_freq": "band-pass low edge in Hz",
    "h_freq": "band-pass high edge in Hz",
    "resample": "resampling rate in Hz; none keeps each recording's own rate (160 Hz, but 128 Hz for S088, "
                "S092 and S100: those cannot be pooled with others without it)",
    "reference": "'average' for an average reference",
    "test_run": "run held out as test; none: the task's last run",
    "cap": "the recordings as if made with this cap (channel names, or a file of them): the cap's channels "
           "they lack are interpolated, the others dropped, an average reference (if asked) taken over the cap "
           "(see docs, your cap)",
}
OPTION_TYPES = {"l_freq": float, "h_freq": float, "resample": float, "reference": str, "test_run": int, "cap": str}


def parse_subjects(subjects) -> list[int]:
    """1 / "1,2" / "1-3,7" / [1, 2] -> [1, 2]; each in 1..109, no repeats."""
    if isinstance(subjects, str):
        items = []
        for part in (s for s in subjects.replace(" ", "").split(",") if s):
            first, dash, last = part.partition("-")
            if dash and first.isdigit() and last.isdigit() and int(first) <= int(last):
                items += list(range(int(first), int(last) + 1))
            else:
                items.append(part)
    elif isinstance(subjects, (int, np.integer)):
        items = [subjects]
    else:
        items = list(subjects)
    try:
        out = [int(s) for s in items]
    except (TypeError, ValueError):
        raise DataError(f"eegmmidb subjects must be integers 1-109 (e.g. 1,2,3 or 1-12); got {subjects!r}") from None
    bad = [s for s in out if not 1 <= s <= 109]
    if not out or bad or len(set(out)) != len(out):
        raise DataError(f"eegmmidb subjects must be distinct integers 1-109; got {subjects!r}")
    return out


def parse_channels(channels):
    """"all" -> "all"; "C3,Cz,C4" or a list -> list of names."""
    if isinstance(channels, str):
        if channels.strip().lower() == "all":
            return "all"
        channels = [c for c in channels.replace(" ", "").split(",") if c]
    channels = [str(c) for c in channels]
    if not channels:
        raise DataError("eegmmidb channels must be 'all' or a non-empty list such as C3,Cz,C4")
    return channels


def edf_path(root: Path, subject: int, run: int) -> Path:
    """Where the file lies in PhysioNet's layout below ROOT/eegmmidb."""
    return root / "eegmmidb" / f"S{subject:03d}" / f"S{subject:03d}R{run:02d}.edf"


def find_or_fetch(root: Path, subject: int, run: int) -> Path:
    """The local EDF file, downloading it through MNE when it is missing; DataError if that fails."""
    local = edf_path(root, subject, run)
    if local.is_file():
        return local
    mne_copy = (root / "eegmmidb" / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"
                / f"S{subject:03d}" / local.name)
    if mne_copy.is_file():
        return mne_copy
    import logging

    import mne

    try:  # pooch's "Downloading..."/"Failed, retrying" lines would precede the one-line error
        from pooch import get_logger  # its own logger object, not registered with logging.getLogger
        pooch_log = get_logger()
    except ImportError:
        pooch_log = logging.getLogger("pooch")
    level = pooch_log.level
    pooch_log.setLevel(logging.ERROR)  # verbose="error" quiets MNE's own messages the same way
    # MNE makes the folders of its copy before it downloads: a failed download must not leave them behind
    made = [d for d in (mne_copy.parent, *mne_copy.parent.parents) if not d.exists()]
    try:
        paths = mne.datasets.eegbci.load_data(subject, [run], path=str(root / "eegmmidb"),
                                              update_path=False, verbose="error")
        path = Path(paths[0])
    except Exception as e:
        _remove_empty(made)
        raise DataError(
            f"eegmmidb file missing: {local}, and downloading it with mne.datasets.eegbci.load_data failed "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); put PhysioNet's file there "
            f"or connect to the internet"
        ) from None
    finally:
        pooch_log.setLevel(level)
    if not path.is_file():
        raise DataError(f"eegmmidb file missing: {local} (MNE's download gave no file)")
    return path


def _remove_empty(folders: list[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty: only what a failed call created, and never
    a file (another process may be downloading into the same folder)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def _resolve_channels(available: list[str], wanted) -> list[str]:
    if wanted == "all":
        return list(available)
    from eegclf.data.channels import channel_key

    lookup = {channel_key(c): c for c in available}  # by name: any case, dot padding, T3/T4/T5/T6 aliases
    missing = [c for c in wanted if channel_key(c) not in lookup]
    if missing:
        raise DataError(
            f"eegmmidb channel(s) {missing} not found; available: {', '.join(available)}"
        )
    return [lookup[channel_key(c)] for c in wanted]


def check_edf_size(path: Path) -> None:
    """DataError when an EDF file is shorter than its header promises (a cut-off download or copy).

    MNE would silently read what is there, giving fewer trials than the recording holds. The size is
    header bytes + records x (sum of samples per record) x 2 bytes; unreadable headers are left to MNE.
    """
    with open(path, "rb") as f:
        head = f.read(256)
        try:
            n_header, n_records, n_signals = int(head[184:192]), int(head[236:244]), int(head[252:256])
        except ValueError:
            return
        if len(head) < 256 or n_records < 1 or n_signals < 1:
            return  # -1 records (unknown length) is allowed by EDF; broken headers are MNE's to report
        f.seek(256 + n_signals * 216)  # the "samples per record" field of each signal
        field = f.read(8 * n_signals)
    try:
        samples = sum(int(field[8 * i : 8 * i + 8]) for i in range(n_signals))
    except ValueError:
        return
    expected, size = n_header + n_records * samples * 2, path.stat().st_size
    if size < expected:
        raise DataError(f"eegmmidb file {path} is truncated: its header promises {n_records} records "
                        f"({expected} bytes) but the file has {size} bytes; fetch it again from PhysioNet")


def _epochs_of_run(path: Path, opts: dict):
    """One run's trials: X (n, C, T) float64 volts, y (n,), channel names, sfreq, raw NaN count, and the
    fingerprint of the raw recording (:mod:`eegclf.data.fingerprint`; None when it has none)."""
    import mne

    from eegclf.data.fingerprint import raw_fingerprint

    check_edf_size(path)
    try:
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    except Exception as e:
        raise DataError(f"eegmmidb file {path} could not be read as EDF ({type(e).__name__}: {e})") from None
    mne.datasets.eegbci.standardize(raw)
    print_ = raw_fingerprint(raw)  # of the recording as read, before any preprocessing
    n_nans = int(np.isnan(raw.get_data()).sum())
    if opts["reference"] == "average":
        raw.set_eeg_reference("average", projection=True, verbose="error")
        raw.apply_proj(verbose="error")
    picks = _resolve_channels(raw.ch_names, opts["channels"])
    raw.pick(picks)
    if opts["l_freq"] is not None or opts["h_freq"] is not None:
        raw.filter(opts["l_freq"], opts["h_freq"], fir_design="firwin",
                   skip_by_annotation="edge", verbose="error")
    if opts["resample"] is not None and float(opts["resample"]) != raw.info["sfreq"]:
        raw.resample(float(opts["resample"]), verbose="error")
    present = set(raw.annotations.description)
    event_id = {k: v for k, v in (("T1", 1), ("T2", 2)) if k in present}
    if not event_id:
        raise DataError(f"eegmmidb file {path} holds no T1/T2 cue annotations")
    events, _ = mne.events_from_annotations(raw, event_id=event_id, verbose="error")
    epochs = mne.Epochs(raw, events, event_id=event_id, tmin=opts["tmin"], tmax=opts["tmax"],
                        baseline=None, preload=True, proj=False, verbose="error")
    if len(epochs) == 0:
        raise DataError(f"eegmmidb file {path}: no trial fits the window tmin={opts['tmin']} s, "
                        f"tmax={opts['tmax']} s around its {len(events)} cues (the recording is "
                        f"{raw.times[-1]:.1f} s long)")
    X = epochs.get_data(copy=True)
    y = epochs.events[:, 2].astype(np.int64) - 1
    return X, y, list(epochs.ch_names), float(epochs.info["sfreq"]), n_nans, print_


# the options _epochs_of_run reads: with the recording's bytes they decide its trials (the cache's key)
RUN_OPTIONS = ("channels", "tmin", "tmax", "l_freq", "h_freq", "resample", "reference")


def _run_trials(path: Path, opts: dict):
    """``_epochs_of_run`` with X as float32 (the loader's dtype), from the on-disk cache when it holds the run."""
    from eegclf.data.cache import load_or_build

    def build():
        X, y, names, sf, nn, print_ = _epochs_of_run(path, opts)
        return X.astype(np.float32), {"y": y.tolist(), "ch_names": names, "sfreq": sf, "n_nans": nn,
                                      "fingerprint": print_}

    X, facts = load_or_build("eegmmidb-run", path, {k: opts[k] for k in RUN_OPTIONS}, build)
    return X, np.asarray(facts["y"], dtype=np.int64), list(facts["ch_names"]), float(facts["sfreq"]), \
        int(facts["n_nans"]), facts["fingerprint"]


def _check_options(task, tmin, tmax, l_freq, h_freq, resample, reference, test_run):
    if task not in TASKS:
        raise DataError(f"eegmmidb task {task!r} unknown; valid: {', '.join(TASKS)}")
    runs = TASKS[task][0]
    tmin, tmax = float(tmin), float(tmax)
    if tmax <= tmin:
        raise DataError(f"eegmmidb window must have tmax > tmin; got tmin={tmin}, tmax={tmax}")
    l_freq = None if l_freq is None else float(l_freq)
    h_freq = None if h_freq is None else float(h_freq)
    if l_freq is not None and h_freq is not None and not 0 <= l_freq < h_freq:
        raise DataError(f"eegmmidb band-pass needs 0 <= l_freq < h_freq; got {l_freq}, {h_freq}")
    resample = None if resample is None else float(resample)
    if resample is not None and resample <= 0:
        raise DataError(f"eegmmidb resample must be a positive rate in Hz; got {resample}")
    if reference not in (None, "average"):
        raise DataError(f"eegmmidb reference must be 'average' or unset; got {reference!r}")
    test_run = runs[-1] if test_run is None else int(test_run)
    if test_run not in runs:
        raise DataError(f"eegmmidb test_run {test_run} is not a run of task {task}; valid: {list(runs)}")
    return dict(task=task, tmin=tmin, tmax=tmax, l_freq=l_freq, h_freq=h_freq, resample=resample,
                reference=reference, test_run=test_run)


def _disagree(path: Path, subject: int, got: tuple, before: tuple, first: int) -> str:
    """The message for a run whose channels, rate or trial length differ from the runs loaded before it."""
    (names, sf, n), (ch_names, sfreq, n_times) = got, before
    if sf != sfreq:
        return (f"eegmmidb subject S{subject:03d} was recorded at {sf:g} Hz ({path.name}), the subjects before it "
                f"at {sfreq:g} Hz (S{first:03d}); trials of different rates cannot be pooled: resample them to one "
                f"rate (resample={sfreq:g}, as the benchmark's presets deep and moabb and eegclf pretrain do)")
    if names != ch_names:
        missing, extra = [c for c in ch_names if c not in names], [c for c in names if c not in ch_names]
        return (f"eegmmidb file {path} gives other channels than the runs before it (missing: "
                f"{', '.join(missing) or 'none'}; extra: {', '.join(extra) or 'none, other order'}); "
                "choose the channels option to make them agree")
    return (f"eegmmidb file {path} gives {n} samples per trial at {sf:g} Hz, the runs before it {n_times}; "
            "all runs must agree")


def load_eegmmidb(data_dir=None, *, subjects, task, channels, tmin, tmax, l_freq, h_freq,
                  resample, reference, test_run) -> EEGDataset:
    """Load the task's runs for the subjects; train = runs before/after test_run in run order, test = test_run."""
    opts = _check_options(task, tmin, tmax, l_freq, h_freq, resample, reference, test_run)
    opts["subjects"] = parse_subjects(subjects)
    opts["channels"] = parse_channels(channels)
    root = data_root(data_dir)
    runs, class_names = TASKS[opts["task"]]

    parts = {"train": [], "test": []}
    recordings = {}
    ch_names, sfreq, n_times, n_nans = None, None, None, 0
    first_subject = None
    for subject in opts["subjects"]:
        for run in runs:
            path = find_or_fetch(root, subject, run)
            X, y, names, sf, nn, print_ = _run_trials(path, opts)
            if ch_names is not None and (names, sf, X.shape[-1]) != (ch_names, sfreq, n_times):
                raise DataError(_disagree(path, subject, (names, sf, X.shape[-1]), (ch_names, sfreq, n_times),
                                          first_subject))
            first_subject = first_subject or subject
            ch_names, sfreq, n_times, n_nans = names, sf, X.shape[-1], n_nans + nn
            X = X[:, None]
            split = Split(X, y, np.full(len(y), f"S{subject:03d}"), np.full(len(y), run, dtype=np.int64))
            if print_ is not None:
                recordings[run_key(f"S{subject:03d}", "", run)] = print_
            parts["test" if run == opts["test_run"] else "train"].append(split)

    options = {
        "subjects": opts["subjects"], "task": opts["task"], "channels": opts["channels"],
        "tmin": opts["tmin"], "tmax": opts["tmax"], "l_freq": opts["l_freq"], "h_freq": opts["h_freq"],
        "resample": opts["resample"], "reference": opts["reference"], "test_run": opts["test_run"],
    }
    info = {"n_nans": n_nans, "task_runs": list(runs), "test_run": opts["test_run"], "root": str(root)}
    return EEGDataset("eegmmidb", Split.concat_all(parts["train"]), Split.concat_all(parts["test"]), sfreq, ch_names,
                      list(class_names), options, info, recordings)
