"""The benchmark folder: the one module that knows its layout.

    OUT/benchmark.json                 what was run: data set, protocol, pipelines, recipe, seed, command
    OUT/folds/{pipeline}/{fold}.json   one finished fold: indices of its trials, predictions, scores, seconds
    OUT/results.csv, timings.csv, results.md, figures/   the report (eegclf.reporting.benchmark.results)

A fold file is written atomically once the fold is done, so a killed benchmark redoes only the missing ones.

Resuming (the same command again) continues a folder only when everything its numbers depend on is the same:
the settings and the provenance (:mod:`eegclf.benchmark.provenance`: the trial pool's fingerprint, package
versions, device, bf16, the sha256 of each ``--init`` checkpoint). The pipelines may grow, and ``data_dir``
and the command line may differ: another copy of the same files is the same data when it gives the same trial
pool, and a different pool is refused whatever folder it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

from eegclf.benchmark.provenance import differences
from eegclf.errors import ConfigError, DataError
from eegclf.storage.fileio import atomic_write_json

FORMAT = "eegclf-benchmark/1"
SPEC = "benchmark.json"
# pipelines renamed since (old name -> new): folders written under the old name are read as the new one, and
# their fold files count as done for it, so old folders resume and report without rerunning anything
RENAMED = {"pretrained": "pretrained-renorm"}


def is_benchmark(path) -> bool:
    return (Path(path) / SPEC).is_file()


class BenchmarkFolder:
    def __init__(self, path):
        self.path = Path(path)

    @property
    def spec_path(self) -> Path:
        return self.path / SPEC

    def fold_path(self, pipeline: str, key: str) -> Path:
        return self.path / "folds" / pipeline / f"{key}.json"

    def prepare(self, spec: dict) -> None:
        """Create the folder, or check that an existing one holds the same benchmark (other pipelines may be
        added to it; other data, protocol or recipe may not)."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"out={self.path} exists and is not a folder")
        if self.spec_path.is_file():
            old = self.read_spec()
            if "provenance" not in old and "provenance" in spec:
                raise ConfigError(f"out={self.path} holds a benchmark made before eegclf recorded its provenance "
                                  "(trial pool, package versions, device, bf16, checkpoint hashes), so its folds "
                                  "cannot be checked against this run; use another out folder")
            local = ("pipelines", "command", "data_dir", "format")  # may differ between starts
            same = {k: v for k, v in old.items() if k not in local}
            new = {k: v for k, v in spec.items() if k not in local}
            if same != new:
                diff = "; ".join(differences(same, new))
                raise ConfigError(f"out={self.path} holds a benchmark made with other settings or in another "
                                  f"environment: {diff}; use another out folder, or the same settings and "
                                  "environment to resume it")
            spec = dict(spec, pipelines=list(dict.fromkeys([*old.get("pipelines", []), *spec["pipelines"]])))
        elif self.path.is_dir() and any(self.path.iterdir()):
            raise ConfigError(f"out={self.path} is not empty and holds no benchmark; use another out folder")
        atomic_write_json(self.spec_path, dict(spec, format=FORMAT))

    def read_spec(self) -> dict:
        try:
            spec = json.loads(self.spec_path.read_text())
        except FileNotFoundError:
            raise DataError(f"{self.path} is not a benchmark folder: {self.spec_path} is missing") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{self.spec_path} is not valid JSON ({exc})") from None
        if not isinstance(spec, dict) or spec.get("format") != FORMAT:
            raise DataError(f"{self.spec_path} is not an eegclf benchmark description")
        if isinstance(spec.get("pipelines"), list):
            spec["pipelines"] = list(dict.fromkeys(RENAMED.get(p, p) for p in spec["pipelines"]))
        return spec

    def is_done(self, pipeline: str, key: str) -> bool:
        old = [o for o, new in RENAMED.items() if new == pipeline]
        return any(self.fold_path(p, key).is_file() for p in [pipeline, *old])

    def write_fold(self, pipeline: str, key: str, record: dict) -> None:
        atomic_write_json(self.fold_path(pipeline, key), record)

    def read_folds(self) -> list[dict]:
        """Every finished fold record, in (pipeline as listed in the spec, subject, fold) order."""
        order = {p: i for i, p in enumerate(self.read_spec().get("pipelines", []))}
        records = []
        for path in sorted((self.path / "folds").glob("*/*.json")):
            try:
                record = json.loads(path.read_text())
                records.append(dict(record, pipeline=RENAMED.get(record["pipeline"], record["pipeline"])))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path} is not valid JSON ({exc}); delete it and run the benchmark again") from None
        records.sort(key=lambda r: (order.get(r["pipeline"], len(order)), r["pipeline"], r["subject"], r["fold"]))
        return records
