"""Choose the transfer recipe the way it will be used: on the design people only, with near-full pre-training pools.

The design people (default S001-S012) are cut into folds (default 3 of 4). Each fold is tested by networks
pre-trained on every other person of the pool: the report people (default the other 44 shared people) and the
design people of the other folds, 52 people by default, as a 56-person network will be used. Each design
person is calibrated on the first N trials of runs 4+8 and tested on run 12 (`run-split`,
`--calibration-trials`). Every candidate is pre-trained with several seeds; a candidate's score is the mean
over seeds and design people of the fine-tuned accuracy at the largest N (the rule is fixed here, before any
run), and the seed spread (max - min of the per-seed means) is printed beside it. The report people are never
scored: they are only in the pre-training pools, so no choice looks at their accuracy.

    EEGCLF_DATA=../shared/data python benchmarks/transfer_recipe.py [--out bench/recipe] [--seeds 0,1]
        [--candidates plain,aug,...]

Resumable: a finished pre-training is skipped and a benchmark folder continues where it stopped. A candidate
that only changes the benchmark side (fine-tuning) names the candidate whose networks it uses
(``NetworksOf``): nothing is pre-trained twice. The printed table is "best of N on the design people":
optimistic for them, and no claim about anyone else.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NetworksOf:
    """A candidate's pre-training: the very networks of candidate ``name`` (its folders), not trained again."""

    name: str


# name -> (flags of `eegclf pretrain`, or NetworksOf(another candidate), flags of `eegclf benchmark`); every
# candidate names its augmentation, so a change of `pretrain`'s defaults cannot change what a candidate means.
CANDIDATES = {
    "plain": ("--augment none", ""),
    "aug": ("--augment shift,scale,chdrop", ""),
    "ea": ("--augment none --alignment euclidean", ""),
    "ea-aug": ("--augment shift,scale,chdrop --alignment euclidean", ""),
    "aug-80ep": ("--augment shift,scale,chdrop --epochs 80", ""),
    "aug-0-3s": ("--augment shift,scale,chdrop --tmax 3", ""),
    "aug-wide": ("--augment shift,scale,chdrop --model-kwargs {\"F1\":16,\"D\":2}", ""),
    "aug-eegnet82": ("--augment shift,scale,chdrop --model eegnet_8_2", ""),
    "aug-ft-lr1e-4": (NetworksOf("aug"), "--finetune-lr 1e-4"),
    "aug-ft-last": (NetworksOf("aug"), "--finetune-layers last"),
    "aug-ft-mix1": (NetworksOf("aug"), "--finetune-mix 1"),
}
PIPELINES = ("zero-shot", "pretrained-renorm", "adabn", "finetune")


def networks(name: str) -> tuple[str, str]:
    """``(folder name, pretrain flags)`` of the networks candidate ``name`` is tested with."""
    pre = CANDIDATES[name][0]
    while isinstance(pre, NetworksOf):
        name, pre = pre.name, CANDIDATES[pre.name][0]
    return name, pre


def expand(spec: str) -> list[int]:
    """'1-4,9' -> [1, 2, 3, 4, 9]."""
    out = []
    for part in filter(None, spec.split(",")):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def compact(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def run(cmd: list[str], log: Path) -> None:
    print("$", shlex.join(cmd), flush=True)
    with open(log, "a") as f:
        if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode != 0:
            sys.exit(f"failed: {shlex.join(cmd)} (see {log})")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="bench/recipe")
    p.add_argument("--design", default="1-12", help="the design people, scored during selection")
    p.add_argument("--pool", default="24-41,43-67,88",
                   help="the report people, only in pre-training pools ('' for none: the design folds alone)")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--candidates", default=",".join(CANDIDATES))
    p.add_argument("--calibration-trials", default="0,10,20,30")
    p.add_argument("--pretrain-args", default="", help="extra flags for every pre-training (e.g. a tiny test)")
    p.add_argument("--benchmark-args", default="", help="extra flags for every benchmark")
    a = p.parse_args(argv)
    out, design, pool = Path(a.out), expand(a.design), expand(a.pool)
    size = -(-len(design) // a.folds)
    folds = [design[k * size:(k + 1) * size] for k in range(a.folds)]  # whole people, in order: 1-4, 5-8, 9-12
    seeds = [int(s) for s in a.seeds.split(",")]
    names = a.candidates.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"--candidates: unknown {', '.join(unknown)}; known: {', '.join(CANDIDATES)}")
    eegclf = [sys.executable, "-m", "eegclf"]
    out.mkdir(parents=True, exist_ok=True)
    log = out / "recipe.log"
    for name in names:
        owner, pre_flags = networks(name)
        bench_flags = CANDIDATES[name][1]
        for seed in seeds:
            inits = []
            for k, held in enumerate(folds):
                pre = out / owner / f"seed{seed}" / f"pre-{k}"
                trained = sorted(set(pool) | (set(design) - set(held)))
                if not (pre / "pretrained.safetensors").is_file():
                    run([*eegclf, "pretrain", "--dataset", "eegmmidb", "--task", "imagery_lr", "--subjects",
                         compact(trained), "--seed", str(seed), "--threads", "1", "--quiet", "--overwrite",
                         *shlex.split(pre_flags), *shlex.split(a.pretrain_args), "--out", str(pre)], log)
                inits.append(str(pre / "pretrained.safetensors"))
            run([*eegclf, "benchmark", "--dataset", "eegmmidb", "--task", "imagery_lr", "--subjects",
                 compact(design), "--protocol", "run-split", "--jobs", "1", "--init", ",".join(inits),
                 "--models", ",".join(PIPELINES), "--calibration-trials", a.calibration_trials,
                 *shlex.split(bench_flags), *shlex.split(a.benchmark_args),
                 "--out", str(out / name / f"seed{seed}" / "bench")], log)
    print(summarize(out, names, seeds, [int(n) for n in a.calibration_trials.split(",")]))


def per_seed_means(csv_path: Path, pipeline: str, n: int) -> float:
    """Mean over the design people of ``pipeline``'s accuracy at N = ``n`` in one benchmark's results.csv."""
    rows = [r for r in csv.DictReader(open(csv_path))
            if r["pipeline"] == pipeline and int(r["calibration_trials"] or 0) == n]
    return statistics.mean(float(r["accuracy"]) for r in rows)


def summarize(out: Path, names: list[str], seeds: list[int], ns: list[int]) -> str:
    """The selection table (markdown): per candidate and N, the mean over seeds [seed spread]; the winner."""
    cols = [("zero-shot", 0)] + [(p, n) for p in PIPELINES[1:] for n in ns if n > 0]
    head = "| candidate | " + " | ".join(f"{p} N={n}" for p, n in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    score = {}
    for name in names:
        cells = []
        for p, n in cols:
            values = [per_seed_means(out / name / f"seed{s}" / "bench" / "results.csv", p, n) for s in seeds]
            cells.append(f"{statistics.mean(values):.3f} [{max(values) - min(values):.3f}]")
            if p == "finetune" and n == max(ns):
                score[name] = statistics.mean(values)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    best = max(names, key=lambda c: (score[c], -names.index(c)))  # ties: the one listed first
    lines.append("")
    lines.append(f"Mean over {len(seeds)} pre-training seeds and the design people [seed spread: max - min of "
                 f"the per-seed means]. Chosen: **{best}**, best of {len(names)} on the design people by "
                 f"finetune at N={max(ns)}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
