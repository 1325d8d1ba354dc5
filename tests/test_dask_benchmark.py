"""eegclf benchmark --scheduler: folds on a real Dask cluster (a scheduler and two workers started here as
separate processes, on the loopback address only) give the local run's results.csv byte for byte, survive a
worker killed mid-fold with every fold written once, resume across local and cluster runs, and bad
schedulers or workers get one line with nothing written."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eegclf.benchmark.folder import BenchmarkFolder
from eegclf.cli import main

REPO = Path(__file__).resolve().parents[1]
HOOKS = REPO / "tests" / "dask_worker_hooks.py"
LOOPBACK = "127.0.0.1"  # never any other address: nothing here may listen beyond this machine
# one person, three channels at 80 Hz, two classical pipelines: 10 folds in seconds
BENCH = ["benchmark", "--dataset", "eegmmidb", "--subjects", "1", "--channels", "C3,Cz,C4", "--resample", "80",
         "--protocol", "within-subject", "--models", "csp_lda,ts_lr", "--quiet"]


class Cluster:
    """A `dask scheduler` and `dask worker`s on the loopback address, each in its own process group."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.procs: list[subprocess.Popen] = []
        self.n_workers = 0

    def _start(self, name: str, args: list[str], env: dict | None = None) -> None:
        log = open(self.folder / f"{name}.log", "w")
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", *args, "--no-dashboard", "--dashboard-address", f"{LOOPBACK}:0"],
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
                 **(env or {})},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def start_scheduler(self) -> None:
        # --idle-timeout: it goes away by itself even if this test process is killed before its finalizer
        self._start("scheduler", ["scheduler", "--host", LOOPBACK, "--port", "0", "--idle-timeout", "900",
                                  "--scheduler-file", str(self.file)])

    def add_worker(self, env: dict | None = None) -> None:
        self.n_workers += 1
        self._start(f"worker{self.n_workers}", [
            "worker", "--scheduler-file", str(self.file), "--host", LOOPBACK, "--nthreads", "1", "--nworkers", "1",
            "--death-timeout", "120", "--preload", str(HOOKS)], env)

    @property
    def address(self) -> str:
        return json.loads(self.file.read_text())["address"]

    def wait_for_workers(self) -> None:
        """Until all workers are registered (a restarted one included); the limits only stop a broken start."""
        from distributed import Client

        deadline = time.monotonic() + 180
        while not self.file.is_file():
            assert time.monotonic() < deadline and self.procs[0].poll() is None, self.logs()
            time.sleep(0.2)
        with Client(scheduler_file=str(self.file), timeout=60, set_as_default=False) as client:
            client.wait_for_workers(self.n_workers, timeout=180)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        for proc in self.procs:  # each group: the process we started and, for a worker, its nanny's child
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, eegmmidb_root):
    """A scheduler and two workers with the data; each test waits until both are there."""
    c = Cluster(tmp_path_factory.mktemp("dask"))
    c.marker = c.folder / "kill"
    try:
        c.start_scheduler()
        for _ in range(2):
            c.add_worker({"EEGCLF_DATA": str(eegmmidb_root), "EEGCLF_TEST_KILL_MARKER": str(c.marker)})
        c.wait_for_workers()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, eegmmidb_root):
    """The reference: the same benchmark in this process, without --scheduler."""
    out = tmp_path_factory.mktemp("local") / "L"
    assert main([*BENCH, "--data-dir", str(eegmmidb_root), "--jobs", "1", "--out", str(out)]) == 0
    return out


def _records(out: Path) -> dict:
    """(pipeline, key) -> fold record without its seconds (the one thing that may differ between runs)."""
    return {(r["pipeline"], r["key"]): {k: v for k, v in r.items() if k != "seconds"}
            for r in BenchmarkFolder(out).read_folds()}


def test_cluster_run_equals_local_run_byte_for_byte_and_they_resume_each_other(cluster, local_run, eegmmidb_root,
                                                                                tmp_path):
    cluster.wait_for_workers()
    run = [*BENCH, "--data-dir", str(eegmmidb_root)]
    out = tmp_path / "C"
    assert main([*run, "--scheduler", cluster.address, "--out", str(out)]) == 0
    assert (out / "results.csv").read_bytes() == (local_run / "results.csv").read_bytes()
    assert _records(out) == _records(local_run) and len(_records(out)) == 10
    # a cluster folder resumed locally, and a local folder resumed on the cluster: only the missing folds run
    shutil.copytree(local_run, tmp_path / "L")
    for folder, how in ((out, ["--jobs", "1"]), (tmp_path / "L", ["--scheduler", cluster.address])):
        files = sorted((folder / "folds").glob("*/*.json"))
        before = {p: p.stat().st_mtime_ns for p in files}
        for p in files[1::4]:
            p.unlink()
        assert main([*run, *how, "--out", str(folder)]) == 0
        assert [p for p in files if p.stat().st_mtime_ns != before[p]] == files[1::4]
        assert (folder / "results.csv").read_bytes() == (local_run / "results.csv").read_bytes()


def test_a_worker_killed_mid_fold_has_that_fold_run_again_and_written_once(cluster, local_run, eegmmidb_root,
                                                                           tmp_path, monkeypatch):
    cluster.wait_for_workers()
    written = []
    write = BenchmarkFolder.write_fold
    monkeypatch.setattr(BenchmarkFolder, "write_fold",
                        lambda self, pipeline, key, record: (written.append((pipeline, key)),
                                                              write(self, pipeline, key, record)))
    Path(f"{cluster.marker}.armed").touch()  # the first fold to finish kills its worker before returning
    try:
        out = tmp_path / "K"
        assert main([*BENCH, "--data-dir", str(eegmmidb_root), "--scheduler", cluster.address, "--out", str(out)]) == 0
    finally:
        Path(f"{cluster.marker}.armed").unlink()
    assert cluster.marker.is_file(), "no worker was killed"
    assert sorted(written) == sorted(set(written)) and set(written) == set(_records(local_run))
    assert (out / "results.csv").read_bytes() == (local_run / "results.csv").read_bytes()
    cluster.wait_for_workers()  # its nanny restarts the killed worker


def test_unreachable_scheduler_and_refused_workers_are_one_line_with_nothing_written(eegmmidb_root, tmp_path,
                                                                                     capsys, monkeypatch):
    import dask

    def one_line_error(out: Path, scheduler: str) -> str:
        capsys.readouterr()
        rc = main([*BENCH, "--scheduler", scheduler, "--out", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and err[0].startswith("eegclf: error: --scheduler "), err
        assert not out.exists()  # nothing half-written
        return err[0]

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        assert "could not be reached" in one_line_error(tmp_path / "U", f"tcp://{LOOPBACK}:1")

    # one worker without the data (and no way to download it), one with another torch version
    monkeypatch.setenv("EEGCLF_DATA", str(eegmmidb_root))  # this client has the data; --data-dir is not given
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = Cluster(tmp_path)
    try:
        bad.start_scheduler()
        bad.add_worker({"EEGCLF_DATA": str(empty), "HTTP_PROXY": f"http://{LOOPBACK}:1",
                        "HTTPS_PROXY": f"http://{LOOPBACK}:1", "NO_PROXY": "", "no_proxy": ""})
        bad.add_worker({"EEGCLF_DATA": str(eegmmidb_root), "EEGCLF_TEST_FAKE_VERSION": "torch=0.0.1"})
        bad.wait_for_workers()
        line = one_line_error(tmp_path / "B", bad.address)
    finally:
        bad.stop()
    assert line.count("worker tcp://127.0.0.1:") == 2
    assert f"cannot load the data: DataError: eegmmidb file missing: {empty}/eegmmidb/S001/S001R04.edf" in line
    assert "packages.torch (client 2." in line and "worker 0.0.1)" in line
