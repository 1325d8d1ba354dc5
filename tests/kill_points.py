"""Kill a training run at every write, resume it each time: the driver of tests/test_kill_at_every_write.py.

    python tests/kill_points.py WORK_DIR -- TRAIN_ARGS...

For the Nth atomic write of the run (N = 1, 2, ... until a run finishes without reaching N), two kill points:
``before`` (the temp file is written, the rename has not happened: the process dies inside the write) and
``after`` (the rename has happened, the next write has not begun). At each point a forked process runs
``eegclf train TRAIN_ARGS --out WORK_DIR/before-N`` and SIGKILLs itself there; then another forked process
resumes the folder (``train --resume``, or the first command again when the kill came before config.json
existed), as a user would. The points are counted, not timed, so every run kills at the same places.

The parent trains the uninterrupted run WORK_DIR/ref itself first, so that every forked child starts with
eegclf, torch and their first-call set-up loaded (a child then costs a fraction of a second, not the seconds of
a fresh interpreter). Run it with OMP_NUM_THREADS=1 and --threads 1: with one thread no OpenMP pool exists to
break in a forked child (what DataLoader workers rely on too). It prints one JSON line per kill point, which
the test checks.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")  # eegclf's atomic writes, old and new names


def _in_child(argv: list[str], log: Path, kill_at: tuple[str, int] | None = None) -> int:
    """Fork; the child runs ``eegclf argv`` (its stderr into ``log``), killing itself at ``kill_at``."""
    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    code = 1
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 2)
        os.dup2(fd, 1)
        if kill_at is not None:
            when, n = kill_at
            replace, count = os.replace, [0]

            def killing_replace(src, dst, *a, **kw):
                is_write = _is_temp(os.path.basename(src))
                count[0] += is_write
                if is_write and count[0] == n and when == "before":
                    os.kill(os.getpid(), signal.SIGKILL)
                replace(src, dst, *a, **kw)
                if is_write and count[0] == n and when == "after":
                    os.kill(os.getpid(), signal.SIGKILL)

            os.replace = killing_replace
        from eegclf.cli import main

        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must never return into the parent's loop
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    work = Path(sys.argv[1])
    train = sys.argv[sys.argv.index("--") + 1 :]
    logs = work / "logs"
    logs.mkdir(parents=True)
    from contextlib import redirect_stderr, redirect_stdout

    from eegclf.cli import main as eegclf

    with open(logs / "ref.log", "w") as log, redirect_stdout(log), redirect_stderr(log):
        ref = eegclf(["train", *train, "--out", str(work / "ref")])
    print(json.dumps({"point": "ref", "code": ref}), flush=True)
    n = 0
    while True:
        n += 1
        for when in ("before", "after"):
            run = work / f"{when}-{n}"
            killed = _in_child(["train", *train, "--out", str(run)], logs / f"{run.name}.log", (when, n))
            if killed != -signal.SIGKILL:  # the run had fewer than n writes: every point was visited
                print(json.dumps({"point": "end", "writes": n - 1, "code": killed}), flush=True)
                return
            left = sorted(p.name for p in run.iterdir()) if run.is_dir() else []
            again = ["train", "--resume", str(run)] if (run / "config.json").is_file() else \
                ["train", *train, "--out", str(run)]
            code = _in_child(again, logs / f"{run.name}.resume.log")
            print(json.dumps({"point": run.name, "left": left, "again": again[1], "code": code,
                              "log": (logs / f"{run.name}.resume.log").read_text()}), flush=True)


if __name__ == "__main__":
    main()
