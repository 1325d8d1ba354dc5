"""``eegclf pretrained``: the pre-trained networks that ship with eegclf."""

from __future__ import annotations

import argparse
import json


def describe(name: str) -> dict:
    """What ``eegclf pretrained list`` shows of ``name``: the catalogue entry and the checkpoint's own facts."""
    from eegclf.pretrained import catalogue, path_of
    from eegclf.storage.checkpoint import read_checkpoint  # imports torch: only when the command runs

    entry = dict(catalogue()[name])
    _, meta = read_checkpoint(path_of(name))
    options = meta.get("dataset_options", {})
    config = meta.get("config", {})
    recipe_keys = ("model", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "bn_recalibrate", "augment",
                   "seed")
    return {
        "name": name, "data": entry["data"], "dataset": meta.get("dataset"), "task": options.get("task"),
        "channels": meta.get("n_chans"), "sfreq": meta.get("sfreq"),
        "window_s": [options.get("tmin"), options.get("tmax")], "n_times": meta.get("n_times"),
        "classes": meta.get("class_names"), "people_seen": meta.get("subjects_seen"),
        "n_trials_seen": meta.get("n_trials_seen"), "alignment": meta.get("alignment", "none"),
        "band_hz": [options.get("l_freq"), options.get("h_freq")], "reference": options.get("reference"),
        "recipe": {k: config.get(k) for k in recipe_keys if k in config},
        "sha256": entry["sha256"], "file": str(path_of(name)), "command": entry["command"],
        "built_file": entry.get("built_file", ""), "ch_names": meta.get("ch_names"),
        "family": entry.get("family"), "serves": serves(name, meta), "members": members(meta),
    }


def members(meta: dict) -> dict | None:
    """An ensemble's members (count, seeds, models), None for one network (eegclf.storage.ensembles)."""
    ensemble = meta.get("ensemble")
    if not isinstance(ensemble, dict):
        return None
    return {"k": ensemble["k"], "seeds": ensemble.get("seeds"),
            "models": [m.get("model") for m in ensemble.get("members", [])]}


def serves(name: str, meta: dict) -> str:
    """The caps a shipped network serves, in words (docs/your-cap.md)."""
    from eegclf.caps import caps_served, family_of, members

    chans = meta.get("ch_names") or []
    family = family_of(name)
    if family:
        caps = caps_served(name)
        return ("exactly the channels of " + "; ".join(f"{len(c)}: {', '.join(c)}" for c in caps)
                + f", in any order; --init {family} (or --checkpoint {family}) with these channels uses it")
    own = members(name)
    text = (f"all {len(chans)} of its channels; any cap with 3 or more of them, the missing ones interpolated "
            "(MNE spherical spline)")
    if own:
        text += "; for exactly the caps of " + ", ".join(own) + " it hands over to that network"
    return text


def combine(args: argparse.Namespace) -> int:
    """``eegclf pretrained combine A B C --out E``: one ensemble checkpoint of the networks A, B, C."""
    from pathlib import Path

    from eegclf.errors import ConfigError
    from eegclf.storage.checkpoint import combine_checkpoints

    if not args.checkpoints:
        raise ConfigError("combine needs the checkpoints to combine: eegclf pretrained combine A B C --out E")
    if not args.out:
        raise ConfigError("out= is required: the ensemble checkpoint to write", param="out")
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ConfigError(f"out={out} exists; give --overwrite to replace it, or another --out", param="out")
    path = combine_checkpoints(args.checkpoints, out)
    print(f"combined {len(args.checkpoints)} networks into the ensemble {path} (their softmax probabilities "
          "averaged)")
    return 0


def run(args: argparse.Namespace) -> int:
    from eegclf.pretrained import names

    if args.action == "combine":
        return combine(args)
    if args.checkpoints:
        from eegclf.errors import ConfigError

        raise ConfigError(f"list takes no checkpoint (got {' '.join(args.checkpoints)})")

    shipped = names()
    if args.json:
        print(json.dumps([describe(n) for n in shipped], indent=2))
        return 0
    if not shipped:
        print("no pre-trained network ships with this installation")
        return 0
    for name in shipped:
        d = describe(name)
        seen = d["people_seen"] or []
        print(f"{d['name']}: {d['data']}")
        print(f"  input     {d['channels']} channels, {d['sfreq']:g} Hz, window {d['window_s'][0]}-{d['window_s'][1]} s "
              f"({d['n_times']} samples), band {d['band_hz'][0]}-{d['band_hz'][1]} Hz, reference {d['reference']}")
        print(f"  classes   {', '.join(d['classes'])}")
        print(f"  serves    {d['serves']}")
        print(f"  people    {len(seen)} ({', '.join(seen[:3])}, ..., {seen[-1]}); {d['n_trials_seen']} trials"
              if len(seen) > 4 else f"  people    {', '.join(seen)}")
        if d["members"]:
            models = sorted(set(d["members"]["models"]))
            print(f"  members   {d['members']['k']} networks ({', '.join(models)}), seeds "
                  f"{', '.join(map(str, d['members']['seeds']))}: their softmax probabilities averaged")
        recipe = {k: v for k, v in d["recipe"].items() if not (d["members"] and k == "seed")}
        print(f"  recipe    {', '.join(f'{k} {v}' for k, v in recipe.items())}; alignment {d['alignment']}")
        print(f"  sha256    {d['sha256']}")
        print(f"  rebuild   {d['command']}")
        print(f"            (writes {d['built_file']}, byte for byte this file on the same CPU kind and package versions)")
        print(f"  use       eegclf train --init {name} --subjects ... --out RUN")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "pretrained", help="list the pre-trained networks that ship with eegclf",
        description="The networks installed with eegclf, usable by name wherever a checkpoint is taken "
        "(eegclf train --init NAME, eegclf benchmark --init NAME, eval/export/stream --checkpoint NAME, "
        "EEGClassifier(init=NAME)): what data, channels, rate, window and classes they expect, the people they "
        "saw (they refuse to be scored on them), their recipe, and the command that rebuilds each byte for byte.",
        epilog="examples: eegclf pretrained list; eegclf pretrained combine S0/pretrained.safetensors "
        "S1/pretrained.safetensors S2/pretrained.safetensors --out ens3.safetensors")
    p.add_argument("action", choices=["list", "combine"],
                   help="list: show every shipped network (an ensemble's members too); combine: write the "
                   "checkpoints given as one ensemble checkpoint (--out), whose output averages their softmax "
                   "probabilities; they must take the same channels, rate, window, band, reference and classes")
    p.add_argument("checkpoints", nargs="*", metavar="CKPT", help="combine: the checkpoints, in order")
    p.add_argument("--out", help="combine: the ensemble checkpoint to write")
    p.add_argument("--overwrite", action="store_true", help="combine: replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)
