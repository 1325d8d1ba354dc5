"""The pre-trained network that ships with eegclf: listed, loadable offline by name, honest about whom it saw."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from eegclf.errors import CheckpointError
from eegclf.pretrained import catalogue, names, path_of, resolve
from eegclf.cli.pretrained import describe

SHIPPED = "eegmmidb-lr"
# the sha256 of the shipped file, recorded here apart from the catalogue (which is written from the same build):
# a changed network must change this line on purpose, after its rebuild was checked against the catalogue
SHIPPED_SHA256 = {
    "eegmmidb-lr": "00d439f1df0a5238ce08857c3a56446a5ee8661da8aac20dfe08c1fdfa1051fc",
    "eegmmidb-lr-caps": "c964a8cd053517e0a7b2fffeef6564fd8c2bb1346e5dc9228df2ad3bf34f1775",
    "eegmmidb-lr-ens3": "a54a653bade528a3e1dd36ce73b28fd8c9777032d6050c992d29c81f622fe9ef",
    "eegmmidb-lr-ens5": "0c642c81d30f2551839d750101f8d34b2c976664b41b12d94fd3bc199ec008c1",
}
# the caps the family member serves (docs/your-cap.md): the motor strip, 8 channels, and C3, Cz, C4
CAPS = {"eegmmidb-lr-caps": [
    "FC5,FC3,FC1,FCz,FC2,FC4,FC6,C5,C3,C1,Cz,C2,C4,C6,CP5,CP3,CP1,CPz,CP2,CP4,CP6",
    "FC3,FC4,C3,Cz,C4,CP3,CPz,CP4",
    "C3,Cz,C4",
]}
# the 56 people of ../shared/data/eegmmidb (its README), imagined left/right fist runs
SHARED_56 = [f"eegmmidb:S{i:03d}" for i in [*range(1, 13), *range(24, 42), *range(43, 68), 88]]


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "eegclf", *map(str, args)], capture_output=True, text=True, **kw)


def test_the_shipped_networks_are_listed_and_their_files_match_the_catalogue():
    assert names() == sorted(SHIPPED_SHA256)
    out = _cli("pretrained", "list")
    assert out.returncode == 0, out.stderr
    for name in names():
        entry = catalogue()[name]
        data = path_of(name).read_bytes()
        assert len(data) < 1 << 20, "a shipped network must stay well under 1 MB"
        assert hashlib.sha256(data).hexdigest() == SHIPPED_SHA256[name] == entry["sha256"]
        assert entry["command"].startswith("eegclf pretrain ")
        assert name in out.stdout and entry["sha256"] in out.stdout and entry["command"] in out.stdout
    assert out.stdout.count("56 (") == len(names())  # people seen


@pytest.mark.parametrize("member", sorted(CAPS))
def test_each_family_member_serves_its_caps_and_the_family_name_hands_over_to_it(member, monkeypatch):
    from eegclf.caps import member_for

    monkeypatch.chdir("/")  # no file named like a shipped network
    d = describe(member)
    assert d["family"] == SHIPPED and d["ch_names"] == describe(SHIPPED)["ch_names"]
    assert sorted(d["people_seen"]) == sorted(SHARED_56)
    assert "exactly the channels of" in d["serves"] and member in describe(SHIPPED)["serves"]
    for cap in CAPS[member]:
        assert cap.split(",")[0] in d["serves"]
        # the family's name with exactly these channels, in another order and spelling, is this member
        assert member_for(SHIPPED, ",".join(reversed(cap.lower().split(","))))[0] == member
        assert member_for(SHIPPED, cap + ",Pz")[0] == SHIPPED  # other channels: the family's own network


def test_it_records_exactly_the_56_shared_people_and_loads_offline_by_name(monkeypatch):
    from eegclf.storage.checkpoint import load_checkpoint
    from eegclf.transfer import Init

    monkeypatch.setenv("MNE_DATA", "/nonexistent")  # nothing is fetched: the file is in the package
    d = describe(SHIPPED)
    assert sorted(d["people_seen"]) == sorted(SHARED_56)
    assert (d["channels"], d["sfreq"], d["n_times"], d["classes"]) == (64, 128.0, 513, ["left_fist", "right_fist"])
    model, meta = load_checkpoint(SHIPPED)  # by name
    init = Init.from_checkpoint(SHIPPED)
    assert init.model == meta["model"] == "eegnet"
    x = np.random.default_rng(0).normal(0, 2e-5, (2, 1, 64, 513)).astype(np.float32)
    import torch

    with torch.no_grad():
        assert model(torch.from_numpy(x)).shape == (2, 2)


def test_a_path_that_exists_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / SHIPPED).write_bytes(b"not a checkpoint")
    from pathlib import Path

    from eegclf.storage.checkpoint import read_checkpoint

    assert resolve(SHIPPED) == Path(SHIPPED)  # the file here, not the shipped one
    with pytest.raises(CheckpointError, match="not an eegclf checkpoint|corrupt"):
        read_checkpoint(SHIPPED)
    assert resolve("no-such-network") == Path("no-such-network")
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint("no-such-network")


def test_it_refuses_to_be_scored_on_a_person_it_saw(tmp_path):
    out = _cli("train", "--init", SHIPPED, "--subjects", "7", "--out", tmp_path / "run")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "S007" in out.stderr and "to be tested" in out.stderr
    assert not (tmp_path / "run" / "summary.json").exists()
    out = _cli("benchmark", "--protocol", "run-split", "--subjects", "88", "--init", SHIPPED, "--models",
               "finetune", "--out", tmp_path / "bench")
    assert out.returncode != 0 and "Traceback" not in out.stderr and "S088" in out.stderr


def test_the_family_name_with_a_served_cap_uses_the_member_and_still_refuses_whom_it_saw(tmp_path):
    """The issue's command, on a shared person: the member is chosen for C3, Cz, C4, and refuses S001 by name."""
    out = _cli("benchmark", "--init", SHIPPED, "--channels", "C3,Cz,C4", "--protocol", "run-split", "--subjects",
               "1", "--models", "zero-shot,finetune,fgmdm", "--out", tmp_path / "bench")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "eegmmidb-lr-caps" in out.stderr and "--cap C3,Cz,C4" in out.stderr and "S001" in out.stderr
    assert not (tmp_path / "bench" / "results.csv").exists()


def test_the_sklearn_estimator_uses_the_member_for_a_served_cap():
    from eegclf.estimator import EEGClassifier

    rng = np.random.default_rng(2)
    X = rng.normal(0, 2e-5, (12, 3, 513)).astype(np.float32)
    y = np.array(["left", "right"] * 6)
    clf = EEGClassifier(init=SHIPPED, epochs=1, threads=1, ch_names=["Cz", "C4", "C3"]).fit(X, y)
    assert clf.init_used_ == "eegmmidb-lr-caps" and clf.predict_proba(X).shape == (12, 2)


def test_the_sklearn_estimator_calibrates_it_by_name():
    from eegclf.estimator import EEGClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(0, 2e-5, (12, 64, 513)).astype(np.float32)
    y = np.array(["left", "right"] * 6)
    clf = EEGClassifier(init=SHIPPED, epochs=1, threads=1).fit(X, y)
    assert clf.summary_["model"] == "eegnet"
    assert clf.predict_proba(X).shape == (12, 2)
    assert set(clf.predict(X)) <= {"left", "right"}
    with pytest.raises(Exception, match="classes"):
        EEGClassifier(init=SHIPPED, epochs=1).fit(X[:9], np.array(["a", "b", "c"] * 3))


def test_pretrained_list_json_is_machine_readable():
    out = _cli("pretrained", "list", "--json")
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)
    assert [e["name"] for e in entries] == names()


def _flag(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with ``flag``'s value set to ``value`` (appended when the flag is absent)."""
    if flag in argv:
        i = argv.index(flag)
        return [*argv[:i + 1], value, *argv[i + 2:]]
    return [*argv, flag, value]


@pytest.mark.parametrize("shipped", sorted(SHIPPED_SHA256))
def test_the_catalogue_command_rebuilds_the_same_bytes_and_recipe_on_two_people(shipped, eegmmidb_root, tmp_path,
                                                                                  monkeypatch):
    """The catalogue's rebuild command, its recipe flags unchanged, on 2 people for 1 epoch: it runs, two runs
    (in two folders) write the same bytes where the catalogue says the file lands, and the network it builds is
    the shipped one's (model, recipe, window, band, channels, classes) but for whom it saw and for how long."""
    import shlex
    from pathlib import Path

    import eegclf.data
    from eegclf.storage.checkpoint import read_checkpoint
    from eegclf.cli import main

    entry = catalogue()[shipped]
    argv = shlex.split(entry["command"])
    assert argv[:2] == ["eegclf", "pretrain"]
    small = _flag(_flag(argv[1:], "--subjects", "1,2"), "--epochs", "1")
    monkeypatch.setenv("EEGCLF_DATA", str(eegmmidb_root))  # the command names no data folder: the default one
    loaded, load = {}, eegclf.data.load_dataset

    def load_once(*args, **kwargs):  # the second run takes the first run's trials (loading 64 channels is slow)
        key = repr((args, kwargs))
        if key not in loaded:
            loaded[key] = load(*args, **kwargs)
        return loaded[key]

    monkeypatch.setattr(eegclf.data, "load_dataset", load_once)
    files = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)  # the command's --out is relative, and recorded as given
        assert main(small) == 0
        files.append(tmp_path / name / entry["built_file"])
    assert len(loaded) == 1 and files[0].read_bytes() == files[1].read_bytes()

    _, original = read_checkpoint(path_of(shipped))
    _, rebuilt = read_checkpoint(files[0])
    for meta in (original, rebuilt):  # whom it saw and for how long differ, on purpose
        meta["config"].pop("epochs")
        meta["config"]["dataset_options"].pop("subjects"), meta["dataset_options"].pop("subjects")
    same = ("model", "model_config", "config", "dataset", "dataset_options", "ch_names", "class_names", "n_chans",
            "n_times", "sfreq", "alignment", "kind", "format")
    assert {k: rebuilt.get(k) for k in same} == {k: original.get(k) for k in same}
    epochs = [m["epoch"] for m in rebuilt["ensemble"]["members"]] if "ensemble" in rebuilt else [rebuilt["epoch"]]
    assert rebuilt["subjects_seen"] == ["eegmmidb:S001", "eegmmidb:S002"] and set(epochs) == {1}
    assert rebuilt.get("ensemble", {}).get("seeds") == original.get("ensemble", {}).get("seeds")
