"""Loading eegmmidb with the ``deep`` preset's options: cold (no cache) and warm (from the trial cache), one run.

Run: ``EEGCLF_DATA=../shared/data python benchmarks/load_speed.py`` (every person under ``ROOT/eegmmidb`` that
has the task's runs: the 56 shared people), or ``--subjects 1,2`` for a sanity run. Not run by the tests.

Steps, in one run, against a fresh cache folder (a temporary one, removed at the end; ``--cache-dir`` to keep it):

1. cold: ``load_dataset`` with the cache off (``eegclf.data.cache.disabled``): MNE reads, references, filters,
   resamples and epochs every run file, as eegclf did before the cache;
2. first load with the cache: the same, plus hashing each file and writing its entry;
3. warm, in a new Python process: interpreter start, imports and ``load_dataset`` from the cache, timed from
   outside (what a command pays), and the load alone timed inside; the process also says whether it imported
   MNE (it should not: a warm load opens no EDF).

The warm load reads the entries just written, so they come from the OS's page cache; after a reboot the first
warm load also reads them from disk (about 6 MB per person). Printed: each time, the machine's load average
before and after, whether warm and cold trials are identical (X and y bit for bit, subjects and runs), and last
``warm_speedup: X.X`` (cold seconds over warm-process seconds). Goal (issue 33): warm <= 5 s for 56 people.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))  # run from a checkout without install

from eegclf.benchmark.presets import preset  # noqa: E402
from eegclf.data import data_root, load_dataset  # noqa: E402
from eegclf.data import cache as trial_cache  # noqa: E402
from eegclf.data.eegmmidb import TASKS, edf_path  # noqa: E402

# what the warm process runs: the load timed inside, and whether MNE was imported
CHILD = """
import json, sys, time
t = time.perf_counter()
from eegclf.data import load_dataset
d = load_dataset("eegmmidb", data_dir=sys.argv[1], **json.loads(sys.argv[2]))
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "mne_imported": "mne" in sys.modules,
                  "train": d.train.fingerprint(), "test": d.test.fingerprint()}))
"""


def shared_people(root: Path, task: str) -> list[int]:
    """The subjects whose task runs all lie under ROOT/eegmmidb (PhysioNet's layout)."""
    found = []
    for folder in sorted((root / "eegmmidb").glob("S[0-9][0-9][0-9]")):
        n = int(re.sub(r"\D", "", folder.name))
        if all(edf_path(root, n, run).is_file() for run in TASKS[task][0]):
            found.append(n)
    return found


def same(a, b) -> bool:
    return all(np.array_equal(getattr(x, f), getattr(y, f)) and getattr(x, f).dtype == getattr(y, f).dtype
               for x, y in ((a.train, b.train), (a.test, b.test)) for f in ("X", "y", "subjects", "runs"))


def load_avg() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", help="e.g. 1,2 or 1-12 (default: every person with the task's runs)")
    parser.add_argument("--task", default="imagery_lr", choices=sorted(TASKS))
    parser.add_argument("--data-dir", help="data root (default $EEGCLF_DATA)")
    parser.add_argument("--cache-dir", help="cache folder to fill and keep (default: a temporary one, removed)")
    args = parser.parse_args()

    root = data_root(args.data_dir)
    subjects = args.subjects or ",".join(map(str, shared_people(root, args.task)))
    if not subjects:
        sys.exit(f"load_speed: no eegmmidb subject with the {args.task} runs under {root}/eegmmidb")
    data, _ = preset("deep", "eegmmidb")
    options = {"subjects": subjects, "task": args.task, **data}
    tmp = None if args.cache_dir else tempfile.TemporaryDirectory(prefix="eegclf-load-speed-")
    cache_dir = Path(args.cache_dir or tmp.name)
    os.environ[trial_cache.CACHE_ENV] = str(cache_dir)  # the warm process inherits it
    os.environ.pop(trial_cache.NO_CACHE_ENV, None)
    before = load_avg()
    try:
        with trial_cache.disabled():
            t = time.perf_counter()
            cold = load_dataset("eegmmidb", data_dir=root, **options)
            cold_s = time.perf_counter() - t
        n_people = len(np.unique(np.concatenate([cold.train.subjects, cold.test.subjects])))
        print(f"load_speed: eegmmidb {args.task}, {n_people} people, preset deep "
              f"({', '.join(f'{k}={v}' for k, v in data.items())}); {os.cpu_count()} cores; "
              f"cache {cache_dir}", flush=True)
        print(f"cold (no cache):                {cold_s:8.2f} s   {len(cold.train) + len(cold.test)} trials "
              f"{cold.train.X.shape[1:]}", flush=True)

        t = time.perf_counter()
        first = load_dataset("eegmmidb", data_dir=root, **options)
        first_s = time.perf_counter() - t
        facts = trial_cache.info()
        print(f"first load with the cache:      {first_s:8.2f} s   (cold + hashing the files + writing "
              f"{facts['entries']} entries, {facts['bytes'] / 1e6:.0f} MB)", flush=True)

        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, str(root), json.dumps(options)], capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                 [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])})
        warm_s = time.perf_counter() - t
        if out.returncode != 0:
            sys.exit(f"load_speed: the warm process failed: {out.stderr.strip()}")
        child = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"warm, new process (all of it):  {warm_s:8.2f} s   (python start, imports, load; "
              f"MNE imported: {'yes' if child['mne_imported'] else 'no'})")
        print(f"warm, the load alone:           {child['seconds']:8.2f} s")
        if out.stderr.strip():
            print(f"warm process said: {' | '.join(out.stderr.strip().splitlines())}")
        identical = (same(cold, first) and child["train"] == cold.train.fingerprint()
                     and child["test"] == cold.test.fingerprint())
        print(f"trials identical to the cold load (first load: X, y, subjects, runs; warm: X and y "
              f"fingerprints): {'yes' if identical else 'NO'}")
        print(f"load average (1, 5, 15 min): before {before}, after {load_avg()}")
        print(f"warm_speedup: {cold_s / warm_s:.1f}")
        return 0 if identical else 1
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
