"""The C allocator's settings for the ``eegclf`` command and its worker processes: freed memory kept for reuse.

Why: a training step allocates and frees tensors of one to ten megabytes (a 64-channel batch is 5 MB, its
spectra as much). glibc's malloc serves blocks that large by mapping fresh pages from the system and
unmapping them when they are freed (its threshold for that adapts, but the largest blocks keep crossing it),
so the next step faults every page in again: about a thousand page faults per block. Measured on this
project's 2-core CPU, a 64-channel EEGNet training step took about a tenth less with the settings below
(five alternating pairs of runs, each faster with them). They change no result, only where memory comes
from; the cost is that up to :data:`KEEP_BYTES` of freed memory stays with the process.

Only the command line and its worker processes call :func:`keep_freed_memory`: a library should not change
its host program's allocator. Where the user has set glibc's own variables (``MALLOC_*_``,
``GLIBC_TUNABLES``) or ``EEGCLF_KEEP_FREED_MEMORY=0``, nothing is changed; elsewhere than glibc neither.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt's parameter numbers (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP_BYTES = 32 << 20  # blocks below this come from the heap (glibc's largest allowed threshold on 64-bit)
KEEP_BYTES = 1 << 30  # freed memory at the heap's top is returned to the system only beyond this
PAD_BYTES = 64 << 20  # the heap grows by at least this much at a time
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Set glibc's malloc to serve blocks below :data:`MMAP_BYTES` from its heap and keep freed memory (up to
    :data:`KEEP_BYTES`) for reuse. Returns whether the settings were made (False: not glibc, or the user chose)."""
    if not sys.platform.startswith("linux") or os.environ.get("EEGCLF_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # the fixed thresholds switch glibc's adaptive one off, so set all three
    return all(mallopt(param, value) == 1 for param, value in
               ((M_MMAP_THRESHOLD, MMAP_BYTES), (M_TRIM_THRESHOLD, KEEP_BYTES), (M_TOP_PAD, PAD_BYTES)))


__all__ = ["keep_freed_memory"]
