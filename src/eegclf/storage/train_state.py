"""The resumable training state (weights, optimiser, RNGs, selection) as one safetensors file.

Optimiser state is flattened into tensors plus JSON, so resuming never unpickles.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from safetensors.torch import save as st_save

from eegclf.errors import CheckpointError
from eegclf.storage.fileio import atomic_write_bytes
from eegclf.storage.safetensors_io import read_safetensors
from eegclf.seeding import get_rng_state, set_rng_state


def save_state(path, model, opt, gen: torch.Generator, *, epoch: int, best: dict, seconds: float) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_sd = opt.state_dict()
    opt_json = {"param_groups": opt_sd["param_groups"], "state": {}}
    for pid, pstate in opt_sd["state"].items():
        opt_json["state"][str(pid)] = {}
        for key, val in pstate.items():
            if torch.is_tensor(val):
                tensors[f"optim.{pid}.{key}"] = val.detach().cpu().contiguous()
                opt_json["state"][str(pid)][key] = None  # tensor: stored beside
            else:
                opt_json["state"][str(pid)][key] = val
    rng = get_rng_state()
    tensors["rng.torch"] = rng.pop("torch")
    tensors["rng.numpy_keys"] = torch.from_numpy(rng.pop("numpy_keys").astype(np.int64))
    tensors["rng.generator"] = gen.get_state()
    for i, s in enumerate(rng.pop("cuda")):
        tensors[f"rng.cuda.{i}"] = s
    meta = {"epoch": epoch, "best": best, "seconds": seconds, "optimizer": opt_json, "rng": rng}
    atomic_write_bytes(path, st_save(tensors, metadata={"eegclf_state": json.dumps(meta)}))


def load_state(path, model, opt, gen: torch.Generator) -> dict:
    """Restore model, optimiser, generator and global RNGs; return epoch, best and seconds."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        tensors, meta = read_safetensors(data, "eegclf_state")
        if meta is None:
            raise KeyError("no eegclf_state metadata")
    except FileNotFoundError:
        raise CheckpointError(f"cannot resume: {path} does not exist (no epoch was completed)") from None
    except Exception as exc:  # any corruption of the state file
        raise CheckpointError(f"cannot resume: {path} is corrupt ({exc})") from None
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt_json = meta["optimizer"]
    state = {}
    for pid, pstate in opt_json["state"].items():
        state[int(pid)] = {k: (tensors[f"optim.{pid}.{k}"] if v is None else v) for k, v in pstate.items()}
    opt.load_state_dict({"state": state, "param_groups": opt_json["param_groups"]})
    gen.set_state(tensors["rng.generator"])
    rng = dict(meta["rng"])
    rng["torch"] = tensors["rng.torch"]
    rng["numpy_keys"] = tensors["rng.numpy_keys"].numpy().astype(np.uint32)
    rng["cuda"] = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.cuda."))]
    set_rng_state(rng)
    return {"epoch": meta["epoch"], "best": meta["best"], "seconds": meta["seconds"]}
