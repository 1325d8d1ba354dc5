"""The original study's BCI Competition III IIIb files (subjects S4 and X11, 2 channels, 125 Hz).

Files in ``ROOT/bci3b``: ``S4b_train.npz``, ``X11b_train.npz``, ``S4b_test.npz``, ``X11b_test.npz``, each with
``signal`` float (540, 750, 2) = (trials, time, channels), NaNs included, and ``label`` (540,) in {1, 2}.

The original study's transform: concatenate S4b then X11b, labels - 1, signals to (N, 1, 2, 750) (channels x time),
NaNs replaced by the *training* data's per-channel mean (for train and test alike).
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path

import numpy as np

from eegclf.data.base import EEGDataset, Split, data_root
from eegclf.errors import DataError

DEFAULTS = {"verify": True}
OPTION_HELP = {"verify": "check the files' git blob ids; the flag skips the check"}  # for the command line's help
FLAG_NAMES = {"verify": "--no-verify"}

SUBJECTS = ("S4", "X11")
PARTS = ("train", "test")
N_TIMES, N_CHANS = 750, 2
SFREQ = 125.0
CH_NAMES = ["C3", "C4"]
CLASS_NAMES = ["left_hand", "right_hand"]

# What ``git hash-object FILE`` prints for the genuine files (../shared/data/bci3b/README.md).
BLOB_IDS = {
    "S4b_train.npz": "a5c0b401ea28c8bb723f3912fcabcc61a56a021e",
    "S4b_test.npz": "60406fc64b256bdef23d40cb8f1b69a427d65c13",
    "X11b_train.npz": "a5f55532d3212c83d80ffe56ea9fb6ede7b64537",
    "X11b_test.npz": "d9a2fc3e965638fe8b6dd8be0868a928b179ff2e",
}

SOURCE_HINT = (
    "these are the course's BCI IIIb npz files (BCI Competition III data set IIIb, subjects S4 and X11, "
    "as handed out with the original study); put all four in that folder or pass data_dir=FOLDER"
)


def file_name(subject: str, part: str) -> str:
    return f"{subject}b_{part}.npz"


def git_blob_id(path: Path) -> str:
    """The id ``git hash-object`` prints: sha1 of ``b"blob <size>\\0"`` + content."""
    h = hashlib.sha1()
    h.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One file's signal (n, 750, 2) float64 and label (n,) int64 in {1, 2}, checked."""
    if not path.is_file():
        raise DataError(f"bci3b file missing: {path}; {SOURCE_HINT}", param="data_dir")
    if path.stat().st_size == 0:
        raise DataError(f"bci3b file {path} is empty (0 bytes); expected an npz archive with 'signal' and 'label'")
    if not zipfile.is_zipfile(path):
        raise DataError(f"bci3b file {path} is not an npz (zip) archive; expected an npz with 'signal' and 'label'")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = sorted(npz.files)
            missing = [k for k in ("signal", "label") if k not in keys]
            if missing:
                raise DataError(
                    f"bci3b file {path}: expected keys ['label', 'signal'], found {keys} (missing {missing})"
                )
            signal, label = npz["signal"], npz["label"]
    except DataError:
        raise
    except Exception as e:  # corrupt archive, pickled object arrays, ...
        raise DataError(f"bci3b file {path} could not be read as npz ({type(e).__name__}: {e})") from None

    for key, arr in (("signal", signal), ("label", label)):
        if not isinstance(arr, np.ndarray):
            raise DataError(f"bci3b file {path}: expected '{key}' to be a NumPy array, found {type(arr).__name__}")
    if signal.ndim != 3 or signal.shape[1:] != (N_TIMES, N_CHANS) or signal.shape[0] == 0:
        raise DataError(
            f"bci3b file {path}: expected 'signal' of shape (n_trials, {N_TIMES}, {N_CHANS}) = "
            f"(trials, time samples, channels), e.g. (540, 750, 2); found {signal.shape}"
        )
    if signal.dtype.kind != "f":
        raise DataError(f"bci3b file {path}: expected 'signal' dtype float64, found {signal.dtype}")
    if label.shape != (signal.shape[0],):
        raise DataError(
            f"bci3b file {path}: expected 'label' of shape ({signal.shape[0]},) to match 'signal', "
            f"found {label.shape}"
        )
    if label.dtype.kind not in "iuf":
        raise DataError(f"bci3b file {path}: expected numeric 'label' with values 1 and 2, found dtype {label.dtype}")
    values = np.unique(label)
    bad = [v for v in values.tolist() if v not in (1, 2)]
    if bad:
        raise DataError(
            f"bci3b file {path}: expected 'label' values 1 (left) and 2 (right), found {values.tolist()}"
        )
    signal = signal.astype(np.float64, copy=False)
    n_inf = int(np.isinf(signal).sum() + (np.abs(signal[np.isfinite(signal)]) > np.finfo(np.float32).max).sum())
    if n_inf:
        raise DataError(f"bci3b file {path}: 'signal' holds {n_inf} infinite or out-of-float32-range values; "
                        "expected finite samples (NaN marks a gap)")
    return signal, label.astype(np.int64)


def verify_files(folder: Path) -> dict:
    """Compare each file's git blob id with the genuine one; warn naming each file that differs.

    Returns {"checked": True, "all_ok": bool, "files": {name: {"blob": id, "expected": id, "ok": bool}}}.
    """
    files = {}
    for name, expected in BLOB_IDS.items():
        blob = git_blob_id(folder / name)
        files[name] = {"blob": blob, "expected": expected, "ok": blob == expected}
        if blob != expected:
            warnings.warn(
                f"bci3b file {folder / name} differs from the original study's genuine file "
                f"(git blob {blob}, expected {expected}); results may not be comparable",
                stacklevel=3,
            )
    return {"checked": True, "all_ok": all(f["ok"] for f in files.values()), "files": files}


def load_bci3b(data_dir=None, *, verify=True) -> EEGDataset:
    """Load the four files with the original study's transform. X float32 (1080, 1, 2, 750) per part by default."""
    folder = data_root(data_dir) / "bci3b"
    if not folder.is_dir():
        raise DataError(f"bci3b folder missing: {folder}; {SOURCE_HINT}", param="data_dir")
    missing = [n for n in BLOB_IDS if not (folder / n).is_file()]
    if missing:
        raise DataError(f"bci3b file(s) missing in {folder}: {', '.join(missing)}; {SOURCE_HINT}",
                        param="data_dir")

    parts = {}
    for part in PARTS:
        signals, labels, subjects = [], [], []
        for subject in SUBJECTS:
            signal, label = _read(folder / file_name(subject, part))
            signals.append(signal)
            labels.append(label)
            subjects.append(np.full(len(label), subject))
        X = np.concatenate(signals).transpose(0, 2, 1)[:, None]  # (N, 1, channels, time)
        parts[part] = (X, np.concatenate(labels) - 1, np.concatenate(subjects))

    n_nans = {p: int(np.isnan(parts[p][0]).sum()) for p in PARTS}
    with warnings.catch_warnings():  # an all-NaN channel is reported below, not as a RuntimeWarning
        warnings.simplefilter("ignore", RuntimeWarning)
        fill = np.nanmean(parts["train"][0], axis=(0, 1, 3))  # per-channel training mean
    if np.isnan(fill).any():
        empty = [CH_NAMES[i] for i in np.flatnonzero(np.isnan(fill))]
        raise DataError(f"bci3b training data in {folder}: channel(s) {', '.join(empty)} hold only NaN; "
                        "expected some finite samples to fill the gaps with")
    splits = {}
    for p, (X, y, s) in parts.items():
        X = np.where(np.isnan(X), fill[None, None, :, None], X).astype(np.float32)
        splits[p] = Split(X, y, s, np.full(len(y), -1, dtype=np.int64))

    info = {
        "n_nans": n_nans["train"] + n_nans["test"],
        "n_nans_per_split": n_nans,
        "fill_values": [float(v) for v in fill],
        "folder": str(folder),
        "verification": verify_files(folder) if verify else {"checked": False},
    }
    options = {"verify": bool(verify)}
    return EEGDataset("bci3b", splits["train"], splits["test"], SFREQ, list(CH_NAMES),
                      list(CLASS_NAMES), options, info)
