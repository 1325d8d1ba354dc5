"""Named settings for a benchmark: the data window and band, and the deep models' training recipe.

A preset fills in what the user did not give (flags always win). Data options a data set does not have
are left out, so a preset also works for data sets without, say, channels.

- ``deep`` (the default): the published deep-learning setting on EEGMMIDB: 64 channels, average reference,
  4-38 Hz, 0-4 s after the cue at 128 Hz; AdamW (lr 1e-3, weight decay 1e-2), batch 16, 150 epochs,
  BatchNorm statistics re-estimated on the training trials. This recipe was fixed on subject S001 of
  EEGMMIDB in an earlier round, before S002-S012 were available: on those eleven it is untuned.
- ``moabb``: MOABB's LeftRightImagery paradigm: all channels, no re-referencing, 8-32 Hz, 0-3 s after the
  cue at the data set's native rate; the same deep recipe. Classical pipelines become comparable with MOABB's
  tables. Where a data set's recordings differ in rate, its loader's ``NATIVE_SFREQ`` is that rate and the
  others are resampled to it (EEGMMIDB: 160 Hz; S088, S092 and S100, recorded at 128 Hz, are resampled up),
  so that every preset pools all of a data set's subjects.
- ``none``: the data set's and RunConfig's own defaults.
"""

from __future__ import annotations

from eegclf.errors import ConfigError

DEFAULT_PRESET = "deep"
NATIVE = "native"  # a preset's resample: the data set's native rate (its loader's NATIVE_SFREQ), else none
_DEEP_RECIPE = {"epochs": 150, "batch_size": 16, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-2,
                "bn_recalibrate": True}

PRESETS: dict[str, dict] = {
    "deep": {"data": {"channels": "all", "reference": "average", "l_freq": 4.0, "h_freq": 38.0,
                      "resample": 128.0, "tmin": 0.0, "tmax": 4.0},
             "recipe": _DEEP_RECIPE},
    "moabb": {"data": {"channels": "all", "reference": None, "l_freq": 8.0, "h_freq": 32.0,
                       "resample": NATIVE, "tmin": 0.0, "tmax": 3.0},
              "recipe": _DEEP_RECIPE},
    "none": {"data": {}, "recipe": {}},
}


def preset(name: str, dataset: str) -> tuple[dict, dict]:
    """``(data options, recipe)`` of preset ``name``, the data options restricted to those ``dataset`` has."""
    from eegclf.data import dataset_defaults, loader_module

    if name not in PRESETS:
        raise ConfigError(f"preset={name!r} is unknown; valid: {', '.join(PRESETS)}", param="preset")
    known = dataset_defaults(dataset)
    data = {k: v for k, v in PRESETS[name]["data"].items() if k in known}
    if data.get("resample") == NATIVE:
        data["resample"] = getattr(loader_module(dataset), "NATIVE_SFREQ", None)
    return data, dict(PRESETS[name]["recipe"])
