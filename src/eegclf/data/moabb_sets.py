"""MOABB's data sets through MOABB itself (the optional extra ``pip install 'eegclf[moabb]'``).

``moabb_dataset`` names a class of ``moabb.datasets`` (e.g. ``BNCI2014_004``, ``FakeDataset``),
``dataset_args`` its keyword arguments (a dict, or JSON text on the command line), ``paradigm`` a class of
``moabb.paradigms`` (default ``LeftRightImagery``). The window and band options map onto the paradigm's
(``tmin``/``tmax`` are MOABB's: seconds from the start of the data set's task interval; ``l_freq``/``h_freq``
are its ``fmin``/``fmax``); unset ones keep the paradigm's defaults, and the values used are recorded.

Train/test, per subject: where the session names say ``train``/``test`` (MOABB's own split, e.g.
BNCI2014_001's ``0train``/``1test``) they are followed; otherwise the last session tests and the earlier ones
train; a subject with a single session holds out its last run. X float32 (n, 1, C, T) in volts. Every trial
keeps its session name and its run number within that session (``Split.sessions``, ``Split.runs``): MOABB's run
numbers restart in each session, so a run is known by (session, run).
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np

from eegclf.data.base import EEGDataset, Split, run_key
from eegclf.data.splits import natural_key as _natural
from eegclf.errors import DataError

DEFAULTS = {
    "moabb_dataset": None,
    "dataset_args": None,
    "paradigm": "LeftRightImagery",
    "subjects": [1],
    "channels": None,
    "tmin": None,
    "tmax": None,
    "l_freq": None,
    "h_freq": None,
    "resample": None,
    "cap": None,
}

OPTION_HELP = {
    "moabb_dataset": "the data set's class in moabb.datasets, e.g. BNCI2014_004 (BCI IV 2b)",
    "dataset_args": "the data set's keyword arguments as JSON, e.g. '{\"n_subjects\": 2}'",
    "paradigm": "the paradigm's class in moabb.paradigms",
    "subjects": "subject numbers of the data set, e.g. 1 or 1,2,3",
    "channels": "comma-separated channel names or 'all'",
    "tmin": "window start in s from the start of the data set's task interval",
    "tmax": "window end in s from the start of the task interval",
    "l_freq": "band-pass low edge in Hz, the paradigm's fmin",
    "h_freq": "band-pass high edge in Hz, the paradigm's fmax",
    "resample": "resampling rate in Hz",
    "cap": "the recordings as if made with this cap (channel names, or a file of them): the cap's channels "
           "they lack are interpolated, the others dropped, an average reference (if asked) taken over the cap "
           "(see docs, your cap)",
}

OPTION_TYPES = {"moabb_dataset": str, "dataset_args": str, "channels": str, "tmin": float, "tmax": float,
                "l_freq": float, "h_freq": float, "resample": float, "cap": str}
FLAG_NAMES = {"dataset_args": "--moabb-args"}

INSTALL_HINT = "pip install 'eegclf[moabb]' (moabb 1.7.2 works; it needs Python >= 3.11)"


def import_moabb():
    """The moabb module; DataError saying which extra to install when it is missing."""
    try:
        import moabb
    except ImportError as e:
        raise DataError(f"data set 'moabb' needs MOABB, which is not installed ({e}); install it with "
                        f"{INSTALL_HINT}") from None
    return moabb


def _find_class(module, name: str, what: str, flag: str, base=None):
    import difflib

    if not isinstance(name, str) or not name:
        raise DataError(f"data set 'moabb' needs {flag}: the name of a {what} class of {module.__name__}")
    classes = {n: c for n, c in vars(module).items()
               if isinstance(c, type) and not n.startswith("_") and (base is None or issubclass(c, base))}
    if name in classes:
        return classes[name]
    folded = {n.lower(): c for n, c in classes.items()}
    if name.lower() in folded:
        return folded[name.lower()]
    close = difflib.get_close_matches(name, list(classes), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; see the classes of {module.__name__}"
    raise DataError(f"{flag} {name!r}: MOABB has no such {what}{hint}")


def _dataset_args(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise DataError(f"--moabb-args must be a JSON object such as '{{\"n_subjects\": 2}}'; got {value!r} ({e})") from None
    if not isinstance(value, dict):
        raise DataError(f"--moabb-args must be a JSON object of keyword arguments; got {value!r}")
    return dict(value)


def _subjects(value, valid: list[int], name: str) -> list[int]:
    items = [s for s in str(value).replace(" ", "").split(",") if s] if isinstance(value, str) else (
        [value] if isinstance(value, (int, np.integer)) else list(value))
    try:
        out = [int(s) for s in items]
    except (TypeError, ValueError):
        raise DataError(f"moabb subjects must be integers (e.g. 1,2,3); got {value!r}") from None
    bad = [s for s in out if s not in valid]
    if not out or bad or len(set(out)) != len(out):
        raise DataError(f"moabb subjects must be distinct subjects of {name}: {valid[0]}..{valid[-1]} "
                        f"({len(valid)} subjects); got {value!r}")
    return out


def split_rule(sessions: list[str], runs_of_last: list[str]) -> tuple[str, list[str]]:
    """How one subject's trials split: ("session", test sessions) or ("run", [test run])."""
    sessions = sorted(sessions, key=_natural)
    tests = [s for s in sessions if "test" in s.lower()]
    if tests and any("train" in s.lower() for s in sessions):
        return "session", tests
    if len(sessions) > 1:
        return "session", [sessions[-1]]
    runs = sorted(runs_of_last, key=_natural)
    if len(runs) > 1:
        return "run", [runs[-1]]
    return "none", []


def _paradigm_kwargs(channels, tmin, tmax, l_freq, h_freq, resample) -> dict:
    kw = {}
    if l_freq is not None:
        kw["fmin"] = float(l_freq)
    if h_freq is not None:
        kw["fmax"] = float(h_freq)
    if tmin is not None:
        kw["tmin"] = float(tmin)
    if tmax is not None:
        kw["tmax"] = float(tmax)
    if "tmin" in kw and "tmax" in kw and kw["tmax"] <= kw["tmin"]:
        raise DataError(f"moabb window must have tmax > tmin; got tmin={kw['tmin']}, tmax={kw['tmax']}")
    if resample is not None:
        kw["resample"] = float(resample)
        if kw["resample"] <= 0:
            raise DataError(f"moabb resample must be a positive rate in Hz; got {resample}")
    if channels is not None:
        if isinstance(channels, str):
            channels = None if channels.strip().lower() == "all" else [
                c for c in channels.replace(" ", "").split(",") if c]
        else:
            channels = [str(c) for c in channels]
        if channels is not None:
            kw["channels"] = channels
    return kw


@contextlib.contextmanager
def _quiet():
    """MOABB's and pooch's progress lines ("Downloading ...", NEMAR's "Retrying ...") would precede the
    one-line error of a failed download; they are held back while MOABB loads (as the eegmmidb loader does)."""
    import logging
    import warnings

    import mne

    loggers = [logging.getLogger(name) for name in ("moabb", "pooch", "nemar")]
    try:
        from pooch import get_logger  # its own logger object, not registered with logging.getLogger
        loggers.append(get_logger())
    except ImportError:
        pass
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with mne.utils.use_log_level("error"), warnings.catch_warnings(), \
                contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def load_moabb(data_dir=None, *, moabb_dataset, dataset_args, paradigm, subjects, channels, tmin, tmax,
               l_freq, h_freq, resample) -> EEGDataset:
    """Load the subjects' trials through the MOABB paradigm (``data_dir`` is not used: MOABB keeps its own)."""
    moabb = import_moabb()
    import moabb.datasets as mdatasets
    import moabb.paradigms as mparadigms
    from moabb.datasets.base import BaseDataset
    from moabb.paradigms.base import BaseParadigm

    args = _dataset_args(dataset_args)
    dataset_cls = _find_class(mdatasets, moabb_dataset, "data set", "--moabb-dataset", BaseDataset)
    paradigm_cls = _find_class(mparadigms, paradigm, "paradigm", "--paradigm", BaseParadigm)
    try:
        dataset = dataset_cls(**args)
    except Exception as e:  # noqa: BLE001 - wrong keyword arguments, bad values
        raise DataError(f"MOABB data set {dataset_cls.__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())}) "
                        f"could not be made: {type(e).__name__}: {e}") from None
    kw = _paradigm_kwargs(channels, tmin, tmax, l_freq, h_freq, resample)
    try:
        par = paradigm_cls(**kw)
    except Exception as e:  # noqa: BLE001
        raise DataError(f"MOABB paradigm {paradigm_cls.__name__} refused the options {kw}: "
                        f"{type(e).__name__}: {e}") from None
    if len(getattr(par, "filters", [[None, None]])) != 1:
        raise DataError(f"MOABB paradigm {paradigm_cls.__name__} gives several frequency bands per trial; "
                        "use a single-band paradigm such as LeftRightImagery or MotorImagery")
    if not par.is_valid(dataset):
        raise DataError(f"MOABB paradigm {paradigm_cls.__name__} does not fit data set {dataset_cls.__name__} "
                        f"(its paradigm: {dataset.paradigm}; its events: {', '.join(dataset.event_id)})")
    subject_list = _subjects(subjects, list(dataset.subject_list), dataset_cls.__name__)
    try:
        with _quiet():
            epochs, labels, meta = par.get_data(dataset, subjects=subject_list, return_epochs=True)
    except Exception as e:  # noqa: BLE001 - downloads, missing files and MOABB's own checks
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise DataError(f"MOABB could not load {dataset_cls.__name__} subject(s) {subject_list} "
                        f"({type(e).__name__}: {first}); MOABB downloads a data set on first use, so run this "
                        "where the internet is reachable or MOABB's data folder (MNE_DATA) already holds it") from None

    X = epochs.get_data(copy=True)
    if X.ndim != 3 or len(X) == 0:
        raise DataError(f"MOABB gave no trials of shape (trials, channels, time) for {dataset_cls.__name__} "
                        f"subject(s) {subject_list}; found shape {X.shape}")
    labels = np.asarray(labels).astype(str)
    present = set(labels.tolist())
    class_names = [e for e in dataset.event_id if e in present] + sorted(present - set(dataset.event_id))
    y = np.array([class_names.index(v) for v in labels], dtype=np.int64)
    subj = meta["subject"].to_numpy()
    sess = meta["session"].astype(str).to_numpy()
    run = meta["run"].astype(str).to_numpy()

    is_test = np.zeros(len(y), dtype=bool)
    run_no = np.full(len(y), -1, dtype=np.int64)
    rules = {}
    run_numbers: dict[tuple[str, str, str], int] = {}  # (subject, session, MOABB's run name) -> run number
    for s in subject_list:
        mine = subj == s
        if not mine.any():
            raise DataError(f"MOABB gave no trials of {dataset_cls.__name__} subject {s} for paradigm "
                            f"{paradigm_cls.__name__}")
        sessions = sorted(set(sess[mine].tolist()), key=_natural)
        kind, held = split_rule(sessions, sorted(set(run[mine & (sess == sessions[-1])].tolist())))
        if kind == "none":
            raise DataError(f"MOABB data set {dataset_cls.__name__} subject {s} has one session with one run, "
                            "so no part of it can be held out for testing")
        if kind == "session":
            is_test[mine & np.isin(sess, held)] = True
        else:
            is_test[mine & (sess == sessions[-1]) & np.isin(run, held)] = True
        rules[str(s)] = {"split": kind, "test": held, "sessions": sessions}
        for se in sessions:
            at = mine & (sess == se)
            names = sorted(set(run[at].tolist()), key=_natural)
            for k, r in enumerate(names):
                run_no[at & (run == r)] = int(r) if r.isdigit() else k
                run_numbers[(str(s), str(se), r)] = int(r) if r.isdigit() else k
    Xf = X[:, None].astype(np.float32)
    subjects_str = np.array([str(v) for v in subj])
    train = Split(Xf[~is_test], y[~is_test], subjects_str[~is_test], run_no[~is_test], sess[~is_test])
    test = Split(Xf[is_test], y[is_test], subjects_str[is_test], run_no[is_test], sess[is_test])
    for part, split in (("train", train), ("test", test)):
        absent = [c for k, c in enumerate(class_names) if not np.any(split.y == k)]
        if absent:
            raise DataError(f"MOABB data set {dataset_cls.__name__}: the {part} part has no trials of class(es) "
                            f"{absent} (split per subject: {rules})")

    band = par.filters[0] if getattr(par, "filters", None) else [None, None]
    options = {
        "moabb_dataset": dataset_cls.__name__, "dataset_args": args or None, "paradigm": paradigm_cls.__name__,
        "subjects": subject_list, "channels": kw.get("channels"),
        "tmin": float(par.tmin), "tmax": None if par.tmax is None else float(par.tmax),
        "l_freq": None if band[0] is None else float(band[0]), "h_freq": None if band[1] is None else float(band[1]),
        "resample": kw.get("resample"),
    }
    info = {"n_nans": int(np.isnan(X).sum()), "moabb_version": moabb.__version__, "split": rules,
            "dataset_code": dataset.code}
    return EEGDataset("moabb", train, test, float(epochs.info["sfreq"]), list(epochs.ch_names), class_names,
                      options, info, _fingerprints(dataset, subject_list, run_numbers))


def _fingerprints(dataset, subject_list, run_numbers: dict) -> dict[str, str]:
    """The fingerprint of each loaded run's raw recording (:mod:`eegclf.data.fingerprint`), from MOABB's raw
    data (before the paradigm's filtering and resampling), by :func:`run_key`. Empty when MOABB cannot give the
    raws: the runs are then known by their subject ids alone."""
    from eegclf.data.fingerprint import raw_fingerprint

    try:
        with _quiet():
            raws = dataset.get_data(subjects=subject_list)
    except Exception:  # noqa: BLE001 - the trials were loaded; the fingerprints are a best effort
        return {}
    out = {}
    for s, sessions in raws.items():
        for se, runs in sessions.items():
            for r, raw in runs.items():
                number = run_numbers.get((str(s), str(se), str(r)))
                fp = raw_fingerprint(raw) if number is not None else None
                if fp is not None:
                    out[run_key(s, se, number)] = fp
    return out
