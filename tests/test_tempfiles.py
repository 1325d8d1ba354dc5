"""Which temporary files the cleaner removes (dead writers' only, eegclf's names only, the run's folder only)
and where it is called: a run folder holding only debris counts as empty, the trial cache, export."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from eegclf.storage import tempfiles
from eegclf.cli import main
from eegclf.storage.fileio import atomic_write_json
from eegclf.storage.tempfiles import clear_dead_temp_files, is_dead_temp, make_temp, target_name


def _dead_temp(folder, name: str) -> str:
    """A temp file for ``name`` made by a process that has exited (and was reaped) since."""
    code = ("import sys; from pathlib import Path; from eegclf.storage.tempfiles import make_temp; "
            "fd, tmp = make_temp(Path(sys.argv[1])); print(tmp)")
    out = subprocess.run([sys.executable, "-c", code, str(folder / name)], capture_output=True, text=True,
                         check=True).stdout.strip()
    return os.path.basename(out)


def _live_temp(folder, name: str) -> str:
    fd, tmp = make_temp(folder / name)  # this process: alive
    os.close(fd)
    return os.path.basename(tmp)


def _aged(path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_write_leaves_nothing_and_names_its_writer(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    assert os.listdir(tmp_path) == ["a.json"]
    live = _live_temp(tmp_path, "state.safetensors")
    assert live.startswith(f".state.safetensors.{tempfiles._host()}.{os.getpid()}") and live.endswith(".tmp")
    assert target_name(live) == "state.safetensors" and target_name("notes.tmp") is None


def test_only_dead_writers_files_of_our_pattern_are_removed(tmp_path, capsys):
    dead, live = _dead_temp(tmp_path, "history.csv"), _live_temp(tmp_path, "state.safetensors")
    old_young, old_aged = ".a.json.abcd1234.tmp", ".b.json.efgh5678.tmp"  # before the writer was in the name
    far_young, far_aged = ".c.json.otherhost.12.ab12cd34.tmp", ".d.json.otherhost.12.ab12cd34.tmp"
    others = ["notes.tmp", ".hidden.tmp", "x.json"]
    for name in (old_young, old_aged, far_young, far_aged, *others):
        (tmp_path / name).write_text("")
    _aged(tmp_path / old_aged, tempfiles.STALE_SECONDS + 60)
    _aged(tmp_path / far_aged, tempfiles.STALE_SECONDS + 60)
    removed = clear_dead_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == sorted([dead, old_aged, far_aged])
    assert sorted(os.listdir(tmp_path)) == sorted([live, old_young, far_young, *others])
    err = capsys.readouterr().err
    assert err.startswith(f"removed 3 temporary files left by dead writers in {tmp_path}: ") and err.count("\n") == 1
    assert clear_dead_temp_files(tmp_path) == [] and capsys.readouterr().err == ""  # nothing to say


def test_a_reused_pid_does_not_keep_a_dead_file(tmp_path):
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        pytest.skip("start times come from /proc (Linux)")
    host, pid = tempfiles._host(), os.getpid()
    start = tempfiles._proc_stat(pid)[1]
    assert not is_dead_temp(tmp_path / f".x.json.{host}.{pid}-{start}.abcd1234.tmp")
    assert is_dead_temp(tmp_path / f".x.json.{host}.{pid}-{int(start) + 1}.abcd1234.tmp")  # another process


def test_depth_and_names_limit_where_it_looks(tmp_path):
    deep = tmp_path / "runs" / "r1"
    deep.mkdir(parents=True)
    top, inner = _dead_temp(tmp_path, "study.json"), _dead_temp(deep, "last.safetensors")
    assert [p.name for p in clear_dead_temp_files(tmp_path, depth=1, say=False)] == [top]
    assert (deep / inner).exists()
    other = _dead_temp(deep, "best.safetensors")
    assert [p.name for p in clear_dead_temp_files(deep, names={"best.safetensors"}, say=False)] == [other]
    assert [p.name for p in clear_dead_temp_files(tmp_path, depth=2, say=False)] == [inner]


def test_a_run_folder_holding_only_debris_is_empty_for_a_new_run(tmp_path, capsys):
    out = tmp_path / "R"
    out.mkdir()
    temp = _dead_temp(out, "config.json")  # a run killed inside its first write
    assert main(["train", "--dataset", "synthetic", "--n-train", "32", "--n-test", "16", "--n-times", "250",
                 "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    assert f"removed 1 temporary file left by a dead writer in {out}: {temp}" in capsys.readouterr().err
    assert not list(out.glob("*.tmp")) and (out / "summary.json").is_file()
    export = _dead_temp(out, "model.onnx")  # an export into the finished run, killed
    assert main(["train", "--resume", str(out)]) == 0
    assert f"removed 1 temporary file left by a dead writer in {out}: {export}" in capsys.readouterr().err


def test_the_cache_clears_dead_writers_once_and_keeps_live_ones(tmp_path, monkeypatch):
    from eegclf.data import cache

    root = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(root))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    folder = root / "trials" / "ab"
    folder.mkdir(parents=True)
    key = "ab" + "0" * 62
    dead, live = _dead_temp(folder, f"{key}.npy"), _live_temp(folder, f"{key}.json")
    X, facts = cache.load_or_build("test", __file__, {}, lambda: (np.zeros((2, 3)), {"n": 2}))
    assert facts == {"n": 2}
    assert not (folder / dead).exists() and (folder / live).exists()
    assert cache.clear()["files"] >= 2 and (folder / live).exists()  # a live writer's file is not pulled away
