"""Choose the transfer recipe the way it will be used: on the design people only, with near-full pre-training pools.

The design people (default S001-S012) are cut into folds (default 3 of 4). Each fold is tested by networks
pre-trained on every other person of the pool: the report people (default the other 44 shared people) and the
design people of the other folds, 52 people by default, as a 56-person network will be used. Each design
person is calibrated on the first N trials of runs 4+8 and tested on run 12 (`run-split`,
`--calibration-trials`). Every candidate is pre-trained with several seeds; a candidate's score is the mean,
over seeds and design people, of its four goal columns: zero-shot, AdaBN at the largest N, fine-tuned at the
smallest and at the largest N (the rule is fixed here, before any run); the seed spread (max - min of the
per-seed means) is printed beside each cell. An ensemble candidate (``EnsembleOf``) averages k networks of
consecutive seeds: its "seed" s is the ensemble of seeds s ... s+k-1. The report people are never
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
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from your_cap import add_run_args, compact, expand, run_all  # noqa: E402  (the same people lists and runner: one thread each)


@dataclass(frozen=True)
class NetworksOf:
    """A candidate's pre-training: the very networks of candidate ``name`` (its folders), not trained again."""

    name: str


@dataclass(frozen=True)
class EnsembleOf:
    """A candidate's networks: per fold, one ensemble checkpoint (`eegclf pretrained combine`) of ``k`` networks
    of candidate ``name``, pre-trained with consecutive seeds: "seed" s of the candidate is seeds s ... s+k-1."""

    name: str
    k: int


# name -> (flags of `eegclf pretrain`, or NetworksOf(another candidate), flags of `eegclf benchmark`); every
# candidate names its augmentation, so a change of `pretrain`'s defaults cannot change what a candidate means.
CANDIDATES = {
    "plain": ("--augment none", ""),
    "aug": ("--augment shift,scale,chdrop", ""),
    "ea": ("--augment none --alignment euclidean", ""),
    "ea-aug": ("--augment shift,scale,chdrop --alignment euclidean", ""),
    "aug-80ep": ("--augment shift,scale,chdrop --epochs 80", ""),
    "aug-0-3s": ("--augment shift,scale,chdrop --tmax 3", ""),
    "aug-0.5-3.5s": ("--augment shift,scale,chdrop --tmin 0.5 --tmax 3.5", ""),
    "aug-wide": ("--augment shift,scale,chdrop --model-kwargs {\"F1\":16,\"D\":2}", ""),
    "aug-eegnet82": ("--augment shift,scale,chdrop --model eegnet_8_2", ""),
    "aug-shallow": ("--augment shift,scale,chdrop --model shallowconvnet", ""),
    "aug-ft-lr1e-4": (NetworksOf("aug"), "--finetune-lr 1e-4"),
    "aug-ft-last": (NetworksOf("aug"), "--finetune-layers last"),
    "aug-ft-mix1": (NetworksOf("aug"), "--finetune-mix 1"),
    "aug-ens3": (EnsembleOf("aug", 3), ""),
    "aug-ens5": (EnsembleOf("aug", 5), ""),
}
PIPELINES = ("zero-shot", "pretrained-renorm", "adabn", "finetune")


def networks(name: str) -> tuple[str, str, int]:
    """``(folder name, pretrain flags, k)`` of the networks candidate ``name`` is tested with: ensembles of
    ``k`` of them (1: the networks themselves)."""
    pre, k = CANDIDATES[name][0], 1
    while isinstance(pre, (NetworksOf, EnsembleOf)):
        k = pre.k if isinstance(pre, EnsembleOf) else k
        name, pre = pre.name, CANDIDATES[pre.name][0]
    return name, pre, k


def goal_columns(ns: list[int]) -> list[tuple[str, int]]:
    """The columns the choice is made on, fixed before any run: the issue's four goals (nothing of the person,
    unlabelled adaptation, and fine-tuning at the smallest and the largest N)."""
    pos = [n for n in ns if n > 0]
    return [("zero-shot", 0), ("adabn", max(pos)), ("finetune", min(pos)), ("finetune", max(pos))]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="bench/recipe")
    p.add_argument("--design", default="1-12", help="the design people, scored during selection")
    p.add_argument("--pool", default="24-41,43-67,88",
                   help="the report people, only in pre-training pools ('' for none: the design folds alone)")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--candidates", default=",".join(CANDIDATES))
    add_run_args(p)
    p.add_argument("--pretrain-only", action="store_true", help="only the pre-trainings (e.g. ahead of a report)")
    p.add_argument("--report", metavar="CANDIDATE", help="instead of the selection: report this candidate on the "
                   "pool's people in --report-folds subject folds, classical pipelines beside, into OUT/report")
    p.add_argument("--report-folds", type=int, default=4)
    p.add_argument("--report-seed", default="0", help="the report's seed (an ensemble's first member's)")
    a = p.parse_args(argv)
    out, design, pool = Path(a.out), expand(a.design), expand(a.pool)
    size = -(-len(design) // a.folds)
    folds = [design[k * size:(k + 1) * size] for k in range(a.folds)]  # whole people, in order: 1-4, 5-8, 9-12
    seeds = [int(s) for s in a.seeds.split(",")]
    names = a.candidates.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"--candidates: unknown {', '.join(unknown)}; known: {', '.join(CANDIDATES)}")
    if a.report:
        if a.report not in CANDIDATES:
            sys.exit(f"--report: unknown {a.report}; known: {', '.join(CANDIDATES)}")
        # the report people in subject folds (every 4th of the sorted list), each tested by networks pre-trained
        # on everyone else (the design people and the other folds): nothing of the choice looks at them
        people = sorted(pool)
        report_folds = [people[k::a.report_folds] for k in range(a.report_folds)]
        run_candidates(a, out / "report", [a.report], [int(a.report_seed)], report_folds, design,
                       ("csp_lda", "ts_lr", "fgmdm", "ts_svm"))
        return
    run_candidates(a, out, names, seeds, folds, pool, ())
    if not a.pretrain_only:
        print(summarize(out, names, seeds, [int(n) for n in a.calibration_trials.split(",")]))


def run_candidates(a, out: Path, names, seeds, folds, others, classical) -> None:
    """Pre-train, combine and benchmark ``names``: each fold of ``folds`` (lists of people) is tested by networks
    pre-trained on ``others`` and the other folds' people; ``classical`` pipelines run beside (report only)."""
    eegclf = [sys.executable, "-m", "eegclf"]
    out.mkdir(parents=True, exist_ok=True)
    log = out / "recipe.log"
    tested = sorted(p for f in folds for p in f)
    pretrain, wanted = [], set()
    for name in names:
        owner, pre_flags, k = networks(name)
        for seed in seeds:
            for fold, held in enumerate(folds):
                for s in range(seed, seed + k):
                    pre = out / owner / f"seed{s}" / f"pre-{fold}"
                    if (pre / "pretrained.safetensors").is_file() or pre in wanted:
                        continue
                    wanted.add(pre)
                    trained = sorted(set(others) | (set(tested) - set(held)))
                    pretrain.append([*eegclf, "pretrain", "--dataset", "eegmmidb", "--task", "imagery_lr",
                                     "--subjects", compact(trained), "--seed", str(s), "--threads", "1", "--quiet",
                                     "--overwrite", *shlex.split(pre_flags), *shlex.split(a.pretrain_args),
                                     "--out", str(pre)])
    run_all(pretrain, log, a.parallel)
    if a.pretrain_only:
        return
    for name in names:
        owner, _, k = networks(name)
        for seed in seeds:
            inits = []
            for fold in range(len(folds)):
                member = [str(out / owner / f"seed{s}" / f"pre-{fold}" / "pretrained.safetensors")
                          for s in range(seed, seed + k)]
                if k == 1:
                    inits += member
                    continue
                ensemble = out / name / f"seed{seed}" / f"pre-{fold}.safetensors"
                if not ensemble.is_file():
                    run_all([[*eegclf, "pretrained", "combine", *member, "--out", str(ensemble)]], log, 1)
                inits.append(str(ensemble))
            run_all([[*eegclf, "benchmark", "--dataset", "eegmmidb", "--task", "imagery_lr", "--subjects",
                      compact(tested), "--protocol", "run-split", "--jobs", str(a.jobs), "--init", ",".join(inits),
                      "--models", ",".join((*PIPELINES, *classical)), "--calibration-trials", a.calibration_trials,
                      "--quiet", *shlex.split(CANDIDATES[name][1]), *shlex.split(a.benchmark_args),
                      "--out", str(out / name / f"seed{seed}" / "bench")]], log, 1)


def per_seed_means(csv_path: Path, pipeline: str, n: int) -> float:
    """Mean over the design people of ``pipeline``'s accuracy at N = ``n`` in one benchmark's results.csv."""
    rows = [r for r in csv.DictReader(open(csv_path))
            if r["pipeline"] == pipeline and int(r["calibration_trials"] or 0) == n]
    return statistics.mean(float(r["accuracy"]) for r in rows)


def summarize(out: Path, names: list[str], seeds: list[int], ns: list[int]) -> str:
    """The selection table (markdown): per candidate and N, the mean over seeds [seed spread]; the winner."""
    cols = [("zero-shot", 0)] + [(p, n) for p in PIPELINES[1:] for n in ns if n > 0]
    goals = [g for g in goal_columns(ns) if g in cols]
    head = "| candidate | " + " | ".join(f"{p} N={n}" for p, n in cols) + " | score |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    score = {}
    for name in names:
        cells, means = [], {}
        for p, n in cols:
            values = [per_seed_means(out / name / f"seed{s}" / "bench" / "results.csv", p, n) for s in seeds]
            cells.append(f"{statistics.mean(values):.3f} [{max(values) - min(values):.3f}]")
            means[(p, n)] = statistics.mean(values)
        score[name] = [means[g] for g in goals]  # a column named twice (smallest N = largest N) counts twice
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {statistics.mean(score[name]):.3f} |")
    best = max(names, key=lambda c: (statistics.mean(score[c]), -names.index(c)))  # ties: the one listed first
    rule = ", ".join(f"{p} N={n}" for p, n in goals)
    lines.append("")
    lines.append(f"Mean over {len(seeds)} pre-training seeds and the design people [seed spread: max - min of "
                 f"the per-seed means]; score: the mean of the goal columns ({rule}). Chosen: **{best}**, best of "
                 f"{len(names)} on the design people by that score.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
