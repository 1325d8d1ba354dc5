"""A throw-away PostgreSQL server for the tests: initdb in a temporary folder, 127.0.0.1 on a free port.

``temporary_cluster()`` yields ``postgresql://eegclf@127.0.0.1:PORT/eegclf_test`` (trust authentication,
reachable from this machine only, unix socket inside the folder), then stops the server
(``pg_ctl stop -m fast``) and deletes the folder. initdb refuses to run as root: as root the cluster is
run by the ``postgres`` system user (Debian's package creates it), the folder chowned to it.

As a script, ``python3 tests/pg.py COMMAND ...`` runs COMMAND with ``EEGCLF_TEST_PG_URL`` set to a fresh
cluster and stops the cluster afterwards (standard library only).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

SUPERUSER = "eegclf"
DATABASE = "eegclf_test"
RUN_AS = "postgres"  # the system user that runs the cluster when the tests run as root


def find_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: pg_config --bindir, Debian's versioned folders, PATH."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                             check=True).stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            pass
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                         reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for c in candidates:
        if c and all((Path(c) / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres", "createdb")):
            return Path(c)
    return None


def missing_reason() -> str | None:
    """Why no cluster can be started here, or None."""
    if find_bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql package"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no {RUN_AS!r} user to run initdb as"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:  # initdb and postgres refuse root
        runuser = shutil.which("runuser")
        cmd = [runuser, "-u", RUN_AS, "--", *cmd] if runuser else \
            ["su", RUN_AS, "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _check(proc: subprocess.CompletedProcess, what: str, log: Path | None = None) -> None:
    if proc.returncode != 0:
        tail = log.read_text()[-2000:] if log is not None and log.is_file() else ""
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()} {proc.stdout.strip()} {tail}")


def _create_database(bindir: Path, port: int) -> None:
    cmd = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DATABASE]
    _check(subprocess.run(cmd, capture_output=True, text=True), "createdb")


@contextmanager
def temporary_cluster():
    """Start a fresh cluster; yield its URL; stop it and delete its folder."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(missing_reason())
    root = Path(tempfile.mkdtemp(prefix="eegclf-pg-"))  # directly under /tmp: reachable by the postgres user
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam(RUN_AS)
        for p in (root, sock):
            os.chown(p, user.pw_uid, user.pw_gid)
    started = False
    try:
        _check(_run([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                     "--no-sync"]), "initdb")
        for attempt in range(3):  # the free port may be taken between the probe and the start
            port = free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            proc = _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", opts,
                         "start"])
            if proc.returncode == 0:
                started = True
                break
        _check(proc, "pg_ctl start", log)
        _create_database(bindir, port)
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"])
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 2:
        sys.exit("usage: python3 tests/pg.py COMMAND [ARGS...]  (runs COMMAND with EEGCLF_TEST_PG_URL set)")
    with temporary_cluster() as url:
        code = subprocess.call(sys.argv[1:], env={**os.environ, "EEGCLF_TEST_PG_URL": url})
    sys.exit(code)
