"""Preloaded into the test Dask workers (`dask worker --preload tests/dask_worker_hooks.py`): faults that the
tests of tests/test_dask_benchmark.py need, switched on by environment variables given to one worker only.
Nothing here is in eegclf itself.

EEGCLF_TEST_KILL_MARKER=PATH: while PATH.armed exists, the first fold to finish on any worker SIGKILLs its
  own worker process before returning its records (PATH is created first, exclusively, so exactly one
  worker dies once: a killed worker mid-fold, deterministically).
EEGCLF_TEST_FAKE_VERSION=PACKAGE=VERSION: this worker reports another version of PACKAGE in its provenance.
"""

import os
import signal

from eegclf.storage import checkpoint
from eegclf.benchmark import runner

# distributed may run this file more than once in the same namespace: wrap the originals only once, each
# wrapper bound to its original (a global name would point to the first wrapper on the second run)
_marker = os.environ.get("EEGCLF_TEST_KILL_MARKER")
if _marker and not hasattr(runner.compute_folds, "hooked"):
    def compute_folds(*args, _compute=runner.compute_folds, **kwargs):
        records = _compute(*args, **kwargs)
        if os.path.exists(_marker + ".armed"):
            try:
                fd = os.open(_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return records  # another fold already killed its worker
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
        return records

    compute_folds.hooked = True
    runner.compute_folds = compute_folds

_fake = os.environ.get("EEGCLF_TEST_FAKE_VERSION")
if _fake and not hasattr(checkpoint.package_versions, "hooked"):
    def package_versions(_versions=checkpoint.package_versions, _fake=_fake):
        package, _, version = _fake.partition("=")
        return dict(_versions(), **{package: version})

    package_versions.hooked = True
    checkpoint.package_versions = package_versions
