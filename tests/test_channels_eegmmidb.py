"""Issue 30 on the shared EEGMMIDB people: a network for another cap built by one command (pretrain --cap),
taken by eval with the checkpoint's own data options, and reordered channels giving the same predictions."""

from __future__ import annotations

import pytest

from eegclf.storage.checkpoint import read_checkpoint
from eegclf.cli import main

# an OpenBCI-like cap; TP9 is not among EEGMMIDB's 64 channels, so it is interpolated from them
CAP = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "T7", "T8", "TP9"]
FAST = ["--tmax", "2", "--resample", "80", "--l-freq", "8", "--h-freq", "30"]


@pytest.fixture(scope="module")
def cap_network(eegmmidb_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cap") / "PRE"
    assert main(["pretrain", "--data-dir", str(eegmmidb_root), "--task", "imagery_lr", "--subjects", "1,2",
                 "--epochs", "1", "--cap", ",".join(CAP), *FAST, "--quiet", "--out", str(out)]) == 0
    return out / "pretrained.safetensors"


def _accuracy(capsys) -> str:
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("Test Loss:")
    return out[-1]


def test_pretrain_cap_writes_a_network_of_the_caps_channels(cap_network):
    _, meta = read_checkpoint(cap_network)
    assert meta["ch_names"] == CAP and meta["n_chans"] == len(CAP)
    assert meta["dataset_options"]["cap"] == CAP and meta["subjects_seen"] == ["eegmmidb:S001", "eegmmidb:S002"]


def test_eval_takes_the_checkpoints_options_and_matches_reordered_channels(cap_network, eegmmidb_root, capsys,
                                                                          tmp_path):
    base = ["eval", "--checkpoint", str(cap_network), "--data-dir", str(eegmmidb_root), "--subjects", "3"]
    assert main(base) == 0
    own = _accuracy(capsys)
    # a data set named: the checkpoint's data options still (not the loader's 3 channels at 160 Hz)
    assert main([*base, "--dataset", "eegmmidb", "--task", "imagery_lr"]) == 0
    assert _accuracy(capsys) == own
    # the cap's channels in reverse order, with T3 for T7 and a dotted name: the same predictions
    names = [{"T7": "T3", "C3": "c3.."}.get(c, c) for c in CAP[::-1]]
    assert main([*base, "--cap", ",".join(names)]) == 0
    assert _accuracy(capsys) == own
    # a flag that contradicts the network is refused in one line saying what differs
    assert main([*base, "--resample", "160"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sampling rate" in err[0]
    # too few of the network's channels: refused in one line
    assert main([*base, "--cap", "C3,C4"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "at least 3" in err[0]
