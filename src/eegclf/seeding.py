"""One seed drives python, numpy and torch; deterministic algorithms on."""

from __future__ import annotations

import os
import random
import sys

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch (all devices) and switch to deterministic kernels.

    cuBLAS needs CUBLAS_WORKSPACE_CONFIG before its first use to be deterministic, so it is set here
    when the caller has not chosen a value.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        if "torch._inductor.config" in sys.modules or not hasattr(torch._C, "_set_deterministic_algorithms"):
            torch.use_deterministic_algorithms(True, warn_only=True)
        else:  # the same switch without importing TorchInductor for its own flag (2.3 s), which no eegclf code
            torch._C._set_deterministic_algorithms(True, warn_only=True)  # compiles with
        # Deterministic mode also fills every new tensor with NaN to expose reads of uninitialised memory;
        # no kernel we use reads it, and the fills were 18 % of EEGNet's CPU training time.
        torch.utils.deterministic.fill_uninitialized_memory = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def get_rng_state() -> dict:
    """All RNG states as JSON-able data plus tensors, for resuming a run bit-for-bit."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": {
            "kind": np_state[0],
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "numpy_keys": np.asarray(np_state[1], dtype=np.uint32),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], np.asarray(state["numpy_keys"], dtype=np.uint32), n["pos"],
                         n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
