"""The on-disk trial cache (eegclf.data.cache): warm loads equal uncached ones bit for bit and open no recording;
damaged entries are rebuilt and said; a cache folder that cannot be written is one line; info and clear."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eegclf.benchmark.presets import preset
from eegclf.cli import main
from eegclf.data import cache, eegmmidb, files, load_dataset

DEEP = preset("deep", "eegmmidb")[0]


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch) -> Path:
    """An empty cache of this test's own, on."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    return folder


def _no_recording_read(monkeypatch):
    """Make any read of a recording fail: what loads after this came from the cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("a warm load opened a recording")

    monkeypatch.setattr(eegmmidb, "_epochs_of_run", refuse)
    monkeypatch.setattr(files, "read_raw", refuse)


def _assert_identical(a, b):
    for x, y in ((a.train, b.train), (a.test, b.test)):
        for name in ("X", "y", "subjects", "runs", "sessions"):
            u, v = getattr(x, name), getattr(y, name)
            assert u.dtype == v.dtype and u.shape == v.shape, name
            assert np.array_equal(u, v), name
        assert x.X.tobytes() == y.X.tobytes()  # bit for bit (array_equal would pass -0.0 == 0.0)
    assert (a.sfreq, a.ch_names, a.class_names, a.options, a.info) == (b.sfreq, b.ch_names, b.class_names,
                                                                      b.options, b.info)


def _entries(folder: Path) -> dict[str, Path]:
    """The stem of each trial entry -> its JSON file."""
    return {p.stem: p for p in (folder / "trials").rglob("*.json")}


@pytest.mark.parametrize("options", [dict(subjects=[1, 2]), dict(subjects=[1, 2], **DEEP)],
                         ids=["defaults", "deep-preset"])
def test_warm_eegmmidb_load_is_identical_to_an_uncached_one(options, eegmmidb_root, cache_dir, monkeypatch):
    with cache.disabled():
        uncached = load_dataset("eegmmidb", data_dir=eegmmidb_root, **options)
    assert not cache_dir.exists()  # off means off: nothing written
    first = load_dataset("eegmmidb", data_dir=eegmmidb_root, **options)
    assert len(_entries(cache_dir)) == 6  # 2 people x 3 runs
    _no_recording_read(monkeypatch)
    warm = load_dataset("eegmmidb", data_dir=eegmmidb_root, **options)
    _assert_identical(uncached, first)
    _assert_identical(uncached, warm)


def test_an_option_or_a_changed_file_is_another_entry(eegmmidb_root, tmp_path, cache_dir):
    root = tmp_path / "data"
    (root / "eegmmidb" / "S001").mkdir(parents=True)
    for run in (4, 8, 12):
        shutil.copy(eegmmidb_root / "eegmmidb" / "S001" / f"S001R{run:02d}.edf", root / "eegmmidb" / "S001")
    a = load_dataset("eegmmidb", data_dir=root, channels="C3,C4", tmax=2.0)
    b = load_dataset("eegmmidb", data_dir=root, channels="C3,C4", tmax=1.0)
    assert (a.n_times, b.n_times) == (321, 161) and len(_entries(cache_dir)) == 6
    # another recording under the same path: its own trials, not the cached ones of the old file
    shutil.copy(eegmmidb_root / "eegmmidb" / "S002" / "S002R12.edf", root / "eegmmidb" / "S001" / "S001R12.edf")
    c = load_dataset("eegmmidb", data_dir=root, channels="C3,C4", tmax=2.0)
    with cache.disabled():
        ref = load_dataset("eegmmidb", data_dir=root, channels="C3,C4", tmax=2.0)
    _assert_identical(c, ref)
    assert not np.array_equal(c.test.X, a.test.X)


def test_warm_files_load_is_identical_and_opens_no_file(eegmmidb_root, tmp_path, cache_dir, monkeypatch):
    for run in (4, 8):
        shutil.copy(eegmmidb_root / "eegmmidb" / "S001" / f"S001R{run:02d}.edf", tmp_path)
    options = dict(train_files=str(tmp_path / "S001R04.edf"), test_files=str(tmp_path / "S001R08.edf"),
                   events="T1=left,T2=right", channels="C3,Cz,C4", l_freq=8.0, h_freq=30.0, reference="average")
    with cache.disabled():
        uncached = load_dataset("files", **options)
    load_dataset("files", **options)
    _no_recording_read(monkeypatch)
    _assert_identical(uncached, load_dataset("files", **options))


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "corrupt":  # same size, some samples changed
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 8]) + data[middle + 8:])
    else:
        path.write_bytes(data[: len(data) - 100])


def test_corrupt_and_truncated_entries_are_rebuilt_and_said(eegmmidb_root, cache_dir, capsys, monkeypatch):
    first = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1])
    entries = sorted(_entries(cache_dir).values(), key=lambda p: json.loads(p.read_text())["source"])
    assert [Path(json.loads(p.read_text())["source"]).name for p in entries] == [
        "S001R04.edf", "S001R08.edf", "S001R12.edf"]
    _damage(entries[0].with_suffix(".npy"), "corrupt")
    _damage(entries[1].with_suffix(".npy"), "truncated")
    _damage(entries[2], "truncated")  # the metadata
    capsys.readouterr()
    again = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1])
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines
    for line, run, word in zip(lines, ("R04", "R08", "R12"), ("corrupt", "truncated", "damaged")):
        assert f"S001{run}.edf" in line and word in line and "rebuilt" in line, line
    _assert_identical(first, again)
    _no_recording_read(monkeypatch)  # the entries were written anew: the next load reads them, silently
    _assert_identical(first, load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1]))
    assert capsys.readouterr().err == ""


def test_unwritable_cache_folder_is_one_line_and_the_load_goes_on(eegmmidb_root, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    rc = main(["data", "info", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "1"])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert rc == 0 and "train (30, 1, 3, 641)" in captured.out
    assert len(lines) == 1, lines
    assert "cannot write the cache folder" in lines[0] and str(blocker / "cache") in lines[0]
    assert "--no-cache" in lines[0] and "Traceback" not in captured.err


def test_no_cache_flag_neither_reads_nor_writes(eegmmidb_root, cache_dir, capsys, monkeypatch):
    args = ["data", "info", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "1", "--tmax", "1"]
    assert main([*args, "--no-cache"]) == 0
    assert not cache_dir.exists()
    assert cache.enabled()  # the flag held for its command only
    assert main(args) == 0 and len(_entries(cache_dir)) == 3
    calls = []
    monkeypatch.setattr(eegmmidb, "_epochs_of_run",
                        lambda *a, _real=eegmmidb._epochs_of_run: calls.append(a) or _real(*a))
    assert main([*args, "--no-cache"]) == 0
    assert len(calls) == 3  # read from the recordings despite the entries


def test_cache_info_and_clear(eegmmidb_root, cache_dir, capsys):
    load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1], tmax=1.0)
    (cache_dir / "notes.txt").write_text("the user's own file")
    (cache_dir / "trials" / "mine.json").write_text("{}")
    capsys.readouterr()
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache_dir) in out and "EEGCLF_CACHE" in out and "entries: 3 " in out and "status: on" in out
    assert main(["cache", "clear"]) == 0
    assert "removed 9 files" in capsys.readouterr().out  # 3 entries (JSON + array) and 3 remembered hashes
    assert set(_entries(cache_dir)) == {"mine"} and not (cache_dir / "sources").exists()
    assert (cache_dir / "notes.txt").is_file() and (cache_dir / "trials" / "mine.json").is_file()
    assert main(["cache", "info"]) == 0
    assert "entries: 0 " in capsys.readouterr().out
