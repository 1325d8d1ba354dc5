"""Shared fixtures. Real-data tests fail (never skip) when CI=true and the data is missing."""

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"

# Tests share two cores; one intra-op thread keeps them from fighting each other.
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _trial_cache(tmp_path_factory):
    """The trial cache (eegclf.data.cache) in a folder of this test session, never in the user's home; the
    CLI's subprocesses inherit it."""
    before = os.environ.get("EEGCLF_CACHE")
    os.environ["EEGCLF_CACHE"] = str(tmp_path_factory.mktemp("eegclf-cache"))
    yield
    if before is None:
        os.environ.pop("EEGCLF_CACHE", None)
    else:
        os.environ["EEGCLF_CACHE"] = before


def _data_root() -> Path:
    return Path(os.environ.get("EEGCLF_DATA") or DEFAULT_DATA)


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    return root


@pytest.fixture(scope="session")
def eegmmidb_root(data_root) -> Path:
    """The data root that holds eegmmidb/S001; fails under CI when missing, else skips."""
    if not (data_root / "eegmmidb" / "S001" / "S001R04.edf").is_file():
        msg = f"real EEG data not found under {data_root}/eegmmidb (set EEGCLF_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return data_root
