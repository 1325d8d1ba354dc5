"""The "Provenance" block of a benchmark's results.md: what its numbers were made with (trial pool, package
versions, device, bf16, pre-trained checkpoints) and whether every fold record agrees with the spec."""

from __future__ import annotations

from eegclf.benchmark.provenance import differences

_LABELS = {"pool": "Trial pool (sha256)", "packages": "Packages", "device": "Device",
           "bf16": "bf16 autocast in training"}


def _value(key: str, value) -> str:
    if key == "packages" and isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{value}`" if key == "pool" else str(value)


def _fold_notes(spec: dict, records: list[dict]) -> list[str]:
    provenance = spec.get("provenance")
    if provenance is None:
        return []
    unrecorded = [r for r in records if "provenance" not in r]
    other = [(r, d) for r in records if "provenance" in r
             for d in [differences(provenance, r["provenance"], says=("benchmark.json:", "this fold:"))] if d]
    inits = {r["path"]: r.get("sha256") for r in spec.get("init") or []}
    stale = [r for r in records if "init" in r and inits.get(r["init"]["path"]) != r["init"]["sha256"]]
    if not (unrecorded or other or stale):
        return ["- Every fold record was made with these"
                + (" (and its subject's checkpoint above)." if inits else ".")]
    lines = []
    if unrecorded:
        lines.append(f"- **{len(unrecorded)} of {len(records)} fold records carry no provenance** (made before "
                     f"eegclf recorded it), e.g. {unrecorded[0]['pipeline']}/{unrecorded[0]['key']}.")
    if other:
        r, d = other[0]
        lines.append(f"- **{len(other)} of {len(records)} fold records were made with other provenance**, e.g. "
                     f"{r['pipeline']}/{r['key']}: {'; '.join(d)}.")
    if stale:
        lines.append(f"- **{len(stale)} fold records were tested with a checkpoint other than the one recorded "
                     f"above**, e.g. {stale[0]['pipeline']}/{stale[0]['key']}.")
    return lines


def provenance_markdown(spec: dict, records: list[dict]) -> list[str]:
    """The block's lines (a heading, one item per fact, then whether the fold records agree)."""
    lines = ["## Provenance", ""]
    provenance = spec.get("provenance")
    if provenance is None:
        return [*lines, "Not recorded: this benchmark was made before eegclf recorded provenance.", ""]
    keys = [k for k in _LABELS if k in provenance] + sorted(k for k in provenance if k not in _LABELS)
    lines += [f"- {_LABELS.get(k, k)}: {_value(k, provenance[k])}" for k in keys]
    for r in spec.get("init") or []:
        lines.append(f"- Pre-trained checkpoint `{r['path']}`: sha256 `{r.get('sha256', 'not recorded')}`")
    return [*lines, *_fold_notes(spec, records), ""]
