"""Data sets behind one interface: ``load_dataset(name, data_dir=None, **options) -> EEGDataset``.

Sets: ``bci3b`` (the original study's BCI IIIb npz files), ``eegmmidb`` (PhysioNet through MNE), ``files`` (any
recordings MNE reads, named by globs), ``moabb`` (MOABB's data sets; optional extra), ``synthetic``
(generated, no download). ``dataset.options`` holds the resolved options (incl. ``data_dir``) so that
``load_dataset(dataset.name, **dataset.options)`` reloads the same data.
"""

from __future__ import annotations

import os

from eegclf.data import bci3b, eegmmidb, files, moabb_sets, synthetic
from eegclf.data.base import EEGDataset, Split, data_root
from eegclf.errors import DataError

_LOADERS = {  # name: (module, its loader function)
    "bci3b": (bci3b, bci3b.load_bci3b),
    "eegmmidb": (eegmmidb, eegmmidb.load_eegmmidb),
    "files": (files, files.load_files),
    "moabb": (moabb_sets, moabb_sets.load_moabb),
    "synthetic": (synthetic, synthetic.load_synthetic),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def list_datasets() -> list[str]:
    """Names ``load_dataset`` accepts."""
    return sorted(_LOADERS)


def dataset_defaults(name: str) -> dict:
    """The options of data set ``name`` with their default values (a copy)."""
    return dict(loader_module(name).DEFAULTS)


def loader_module(name: str):
    """The module of data set ``name``. Its ``DEFAULTS`` are the options, ``OPTION_HELP`` says each in one
    line, and the optional ``OPTION_TYPES`` (for options whose default is None) and ``FLAG_NAMES`` (where the
    command-line flag is not ``--option-name``) complete what the command line needs."""
    return _loader(name)[0]


def _loader(name: str):
    if name not in _LOADERS:
        raise DataError(f"unknown data set {name!r}; valid: {', '.join(list_datasets())}")
    return _LOADERS[name]


def _as_bool(name: str, value) -> bool:
    if isinstance(value, str):
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
        raise DataError(f"option {name} must be true or false; got {value!r}")
    return bool(value)


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, **options) -> EEGDataset:
    """Load data set ``name``. Options set to None mean "use the default"; unknown options are an error."""
    module, loader = _loader(name)
    defaults = module.DEFAULTS
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise DataError(
            f"option(s) {', '.join(unknown)} do not apply to data set {name!r}; "
            f"valid: {', '.join(sorted(defaults)) or 'none'}"
        )
    resolved = {**defaults, **given}
    if "verify" in resolved:
        resolved["verify"] = _as_bool("verify", resolved["verify"])
    cap = resolved.pop("cap", None)  # done here, after any loader: the recordings as if made with that cap
    if cap is not None:
        from eegclf.data.channels import canonical_name, parse_names

        cap = [canonical_name(c) for c in parse_names(cap)]
        if not cap:
            raise DataError("cap= is empty: expected channel names, e.g. Fp1,Fp2,C3,C4, or a file of them",
                            param="cap")
    try:
        dataset = loader(data_dir, **resolved)
    except DataError:
        raise
    except ValueError as e:  # e.g. int("x") on an option, or MNE refusing a filter setting
        raise DataError(f"bad option value for data set {name!r}: {e}") from None
    if cap is not None:
        from eegclf.data.channels import restrict_to_cap

        dataset = restrict_to_cap(dataset, cap, resolved.get("reference"))
    dataset.options = {**dataset.options, "data_dir": None if data_dir is None else str(data_dir)}
    if "cap" in defaults:
        dataset.options["cap"] = cap
    return dataset


__all__ = ["EEGDataset", "Split", "data_root", "dataset_defaults", "list_datasets", "load_dataset",
           "loader_module"]
