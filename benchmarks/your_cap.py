"""Decode a new person from fewer channels: which network serves a cap, measured by subject folds over people.

The people (default the 56 shared ones) are cut into folds (default 4: every 4th of the sorted list). Each fold
is tested by networks pre-trained on the other people only, for every montage (default 64, 21, 8 and 3
channels: the motor strip FC5…FC6, C5…C6, CP5…CP6; FC3, FC4, C3, Cz, C4, CP3, CPz, CP4; C3, Cz, C4, each
average-referenced over its own channels). Each tested person is calibrated on the first N trials of runs 4+8
and tested on run 12 (`eegclf benchmark --protocol run-split --calibration-trials`). The strategies:

- ``montage``: one network per montage, pre-trained with today's recipe (`eegclf pretrain --cap`) on the other
  people restricted to that montage; the classical pipelines run here, on the same channels and trials;
- ``interp``: the 64-channel network, the montage's missing channels interpolated (MNE's spherical spline), as a
  user could do by hand with the 64-channel network;
- ``subset``: one 64-channel network pre-trained to expect subsets (`--augment ...,capsubset`: each training
  trial is restricted now and then to one of the montages, re-referenced and interpolated back), then used as
  ``interp`` is.

The summary prints, per montage, every strategy's rows along N, the best classical pipeline (chosen per fold by
its inner cross-validation), and each row against the 64-channel network on the same people (mean difference,
exact paired Wilcoxon). The strategy chosen is the one with the best mean fine-tuned accuracy at the largest N
over the fewer-channel montages: best of the strategies run, on these folds (the rule is fixed here).

    EEGCLF_DATA=../shared/data python benchmarks/your_cap.py [--out bench/your-cap] [--strategies montage,interp]

Resumable: a finished pre-training is skipped and a benchmark folder continues where it stopped.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

MONTAGES = {
    "64": None,
    "21": "FC5,FC3,FC1,FCz,FC2,FC4,FC6,C5,C3,C1,Cz,C2,C4,C6,CP5,CP3,CP1,CPz,CP2,CP4,CP6",
    "8": "FC3,FC4,C3,Cz,C4,CP3,CPz,CP4",
    "3": "C3,Cz,C4",
    # not a cap anyone decodes motor imagery with: the frontal electrodes nearest the eyes, to measure how much
    # of the 64-channel accuracy eye movements carry (the target appears on the left or the right of a screen)
    "frontal6": "Fp1,Fp2,AF7,AF8,F7,F8",
}
STRATEGIES = ("montage", "interp", "subset")
LABELS = {"montage": "per-montage network (today's recipe)", "interp": "64-ch network, interpolated",
          "subset": "subset-trained 64-ch network, interpolated"}
RECIPE = "--dataset eegmmidb --task imagery_lr --augment shift,scale,chdrop --threads 1 --bf16 off --seed 0"
DEEP = ("zero-shot", "pretrained-renorm", "finetune")
CLASSICAL = ("csp_lda", "ts_lr", "fgmdm")
BEST = "best classical (per fold)"


def expand(spec: str) -> list[int]:
    """'1-4,9' -> [1, 2, 3, 4, 9]."""
    out = []
    for part in filter(None, spec.split(",")):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def compact(ids) -> str:
    return ",".join(str(i) for i in ids)


def run_all(cmds: list[list[str]], log: Path, parallel: int) -> None:
    """Run the commands, ``parallel`` at a time; stop at the first failure (the others finish)."""
    running: list[tuple[subprocess.Popen, list[str]]] = []
    pending = list(cmds)
    with open(log, "a") as f:
        while pending or running:
            while pending and len(running) < parallel:
                cmd = pending.pop(0)
                print("$", shlex.join(cmd), flush=True)
                running.append((subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT), cmd))
            time.sleep(0.5)
            for proc, cmd in list(running):
                if proc.poll() is not None:
                    running.remove((proc, cmd))
                    if proc.returncode != 0:
                        for other, _ in running:
                            other.wait()
                        sys.exit(f"failed: {shlex.join(cmd)} (see {log})")


def add_run_args(p: argparse.ArgumentParser) -> None:
    """The flags both accuracy scripts take for how they run (this one and transfer_recipe.py)."""
    p.add_argument("--calibration-trials", default="0,10,20,30")
    p.add_argument("--parallel", type=int, default=2, help="pre-trainings at a time (one thread each)")
    p.add_argument("--jobs", type=int, default=2, help="benchmark processes")
    p.add_argument("--pretrain-args", default="", help="extra flags for every pre-training (e.g. a tiny test)")
    p.add_argument("--benchmark-args", default="", help="extra flags for every benchmark")


def networks(out: Path, strategy: str, montage: str, k: int) -> Path:
    """Where fold ``k``'s network of a strategy lies (``interp`` uses the 64-channel ``montage`` networks)."""
    if strategy == "subset":
        return out / "pre" / "subset" / f"fold{k}"
    return out / "pre" / f"montage-{montage if strategy == 'montage' else '64'}" / f"fold{k}"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="bench/your-cap")
    p.add_argument("--subjects", default="1-12,24-41,43-67,88")
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--montages", default="64,21,8,3")
    p.add_argument("--strategies", default="montage,interp")
    add_run_args(p)
    p.add_argument("--summary-only", action="store_true", help="print the tables of what has finished")
    a = p.parse_args(argv)
    out, people = Path(a.out), sorted(expand(a.subjects))
    folds = [people[k::a.folds] for k in range(a.folds)]
    montages, strategies = a.montages.split(","), a.strategies.split(",")
    for bad, known, what in ((montages, MONTAGES, "--montages"), (strategies, STRATEGIES, "--strategies")):
        unknown = [x for x in bad if x not in known]
        if unknown:
            sys.exit(f"{what}: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    ns = [int(n) for n in a.calibration_trials.split(",")]
    if not a.summary_only:
        out.mkdir(parents=True, exist_ok=True)
        build(a, out, folds, montages, strategies)
    print(summarize(out, montages, strategies, ns))


def build(a, out: Path, folds, montages, strategies) -> None:
    eegclf = [sys.executable, "-m", "eegclf"]
    log = out / "your_cap.log"
    people = sorted(p for f in folds for p in f)
    pre_cmds, wanted = [], []
    for s in strategies:
        for m in montages:
            if s == "interp" and m == "64":
                continue  # the 64-channel network on 64 channels is the montage strategy's row
            wanted.append((s, m))
    for s, m in wanted:
        for k, held in enumerate(folds):
            pre = networks(out, s, m, k)
            if (pre / "pretrained.safetensors").is_file() or any(c[-1] == str(pre) for c in pre_cmds):
                continue
            cap = ["--cap", MONTAGES[m]] if s == "montage" and MONTAGES[m] else []
            extra = ["--augment", "shift,scale,chdrop,capsubset"] if s == "subset" else []
            pre_cmds.append([*eegclf, "pretrain", *shlex.split(RECIPE), *extra, "--subjects",
                             compact(sorted(set(people) - set(held))), *cap, "--quiet", "--overwrite",
                             *shlex.split(a.pretrain_args), "--out", str(pre)])
    run_all(pre_cmds, log, a.parallel)
    for s, m in wanted:
        inits = ",".join(str(networks(out, s, m, k) / "pretrained.safetensors") for k in range(len(folds)))
        models = [*DEEP, *(CLASSICAL if s == "montage" else ())]
        cap = ["--cap", MONTAGES[m]] if s != "montage" and MONTAGES[m] else []
        run_all([[*eegclf, "benchmark", "--dataset", "eegmmidb", "--task", "imagery_lr", "--subjects",
                  compact(people), "--protocol", "run-split", "--jobs", str(a.jobs), "--init", inits, *cap,
                  "--models", ",".join(models), "--calibration-trials", a.calibration_trials, "--quiet",
                  *shlex.split(a.benchmark_args), "--out", str(out / "bench" / f"{s}-{m}")]], log, 1)


def per_person(folder: Path, ns: list[int]) -> dict:
    """row -> N -> subject -> accuracy, from one benchmark folder (the rows of its results.md)."""
    from eegclf.benchmark.folder import BenchmarkFolder
    from eegclf.reporting.benchmark.curve import by_count
    from eegclf.reporting.benchmark.tables import summarize as summarize_fold

    if not (folder / "benchmark.json").is_file():
        return {}
    bf = BenchmarkFolder(folder)
    spec, records = bf.read_spec(), bf.read_folds()
    out: dict = {}
    for n, rs in by_count(spec, records).items():
        if n in ns and rs:
            sm = summarize_fold(spec, rs)
            for row in sm.rows:
                out.setdefault(row, {})[n] = {s: v["accuracy"] for s, v in sm.per_subject[row].items()}
    return out


def _p(text: str) -> str:
    return text if text.startswith(("<", "–")) else f"= {text}"


def _cell(values: dict, ref: dict | None) -> str:
    from eegclf.reporting.stats import format_p, t_interval, wilcoxon_p

    if not values:
        return "–"
    acc = list(values.values())
    lo, hi = t_interval(acc) if len(acc) > 1 else (float("nan"), float("nan"))
    text = f"{statistics.mean(acc):.3f} [{lo:.3f}, {hi:.3f}] ({len(acc)})"
    common = sorted(set(values) & set(ref or {}))
    if ref is not None and len(common) > 1:
        diff = statistics.mean(values[s] - ref[s] for s in common)
        p = wilcoxon_p([values[s] for s in common], [ref[s] for s in common])
        text += f"; {diff:+.3f} p {_p(format_p(p))}"
    return text


def summarize(out: Path, montages, strategies, ns) -> str:
    """Markdown: per montage, each strategy's rows and the best classical pipeline along N, each against the
    64-channel network's same row on the same people; then the strategy chosen by the fixed rule."""
    bench = out / "bench"
    ref = per_person(bench / "montage-64", ns)
    lines = [f"Mean [95 % t interval] (people); against the 64-channel network's same row (finetune for the "
             "classical row) on the same people: mean difference, exact paired Wilcoxon p.", ""]
    score: dict = {}
    for m in montages:
        lines += [f"### {m} channels" + (f": {MONTAGES[m].replace(',', ', ')}" if MONTAGES[m] else ""), "",
                  "| strategy | pipeline | " + " | ".join(f"N = {n}" for n in ns) + " |",
                  "|" + "---|" * (len(ns) + 2)]
        for s in strategies:
            if s == "interp" and m == "64":
                continue
            rows = per_person(bench / f"{s}-{m}", ns)
            for row in (*DEEP, *((BEST,) if s == "montage" else ())):
                if row not in rows:
                    continue
                against = "finetune" if row == BEST else row
                cells = [_cell(rows[row].get(n, {}), None if m == "64" else ref.get(against, {}).get(n))
                         for n in ns]
                lines.append(f"| {LABELS[s] if row != BEST else 'classical, same channels'} | {row} | "
                             + " | ".join(cells) + " |")
            if m != "64" and "finetune" in rows and max(ns) in rows["finetune"]:
                score.setdefault(s, []).append(statistics.mean(rows["finetune"][max(ns)].values()))
        lines.append("")
    full = {s: statistics.mean(v) for s, v in score.items() if len(v) == len([m for m in montages if m != "64"])}
    if full:
        best = max(full, key=lambda s: (full[s], -strategies.index(s)))
        lines.append("Mean fine-tuned accuracy at N = {} over the fewer-channel montages: {}. Chosen: **{}**, best "
                     "of {} on these folds.".format(max(ns), ", ".join(f"{s} {v:.3f}" for s, v in full.items()),
                                                    best, len(full)))
        lines += ["", *goals(bench, best, montages, ns, ref), "", *per_person_table(bench, best, montages, ns)]
    return "\n".join(lines)


def per_person_table(bench: Path, chosen: str, montages, ns) -> list[str]:
    """Per person: the 64-channel network, and the chosen strategy and the best classical pipeline per
    fewer-channel montage, at N = 0 (zero-shot) and the largest N; the mean over people below."""
    n = max(ns)
    cols = []  # (heading, {subject: accuracy})
    for m in montages:
        rows = per_person(bench / f"{'montage' if m == '64' else chosen}-{m}", ns)
        classical = per_person(bench / f"montage-{m}", ns).get(BEST, {})
        cols += [(f"{m} zero-shot", rows.get("zero-shot", {}).get(0, {})),
                 (f"{m} finetune N={n}", rows.get("finetune", {}).get(n, {})),
                 (f"{m} classical N={n}", classical.get(n, {}))]
    cols = [(h, v) for h, v in cols if v]
    people = sorted({p for _, v in cols for p in v})
    lines = [f"Per person (the 64-channel network; {LABELS[chosen]} on fewer channels; best classical per fold):", "",
             "| subject | " + " | ".join(h for h, _ in cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for person in people:
        lines.append(f"| {person} | " + " | ".join(f"{v[person]:.3f}" if person in v else "–" for _, v in cols) + " |")
    lines.append("| mean | " + " | ".join(f"{statistics.mean(v.values()):.3f}" for _, v in cols) + " |")
    return lines


def goals(bench: Path, chosen: str, montages, ns, ref: dict) -> list[str]:
    """The chosen strategy per fewer-channel montage against the 64-channel network (zero-shot, fine-tuned at the
    largest N) and against the best classical pipeline on the same channels and trials (fine-tuned, every N)."""
    from eegclf.reporting.stats import format_p, wilcoxon_p

    def versus(a: dict, b: dict) -> str:
        common = sorted(set(a) & set(b))
        if len(common) < 2:
            return "–"
        diff = statistics.mean(a[s] - b[s] for s in common)
        return f"{diff:+.3f} (p {_p(format_p(wilcoxon_p([a[s] for s in common], [b[s] for s in common])))})"

    n = max(ns)
    head = ["| montage | zero-shot vs 64 ch | finetune N={} vs 64 ch | ".format(n)
            + " | ".join(f"finetune vs best classical N={k}" for k in ns if k > 0) + " |"]
    head.append("|" + "---|" * (3 + len([k for k in ns if k > 0])))
    for m in montages:
        if m == "64":
            continue
        rows = per_person(bench / f"{chosen}-{m}", ns)
        classical = per_person(bench / f"montage-{m}", ns).get(BEST, {})
        if "finetune" not in rows:
            continue
        cells = [versus(rows["zero-shot"].get(0, {}), ref.get("zero-shot", {}).get(0, {})),
                 versus(rows["finetune"].get(n, {}), ref.get("finetune", {}).get(n, {}))]
        cells += [versus(rows["finetune"].get(k, {}), classical.get(k, {})) for k in ns if k > 0]
        head.append(f"| {m} | " + " | ".join(cells) + " |")
    return [f"The chosen strategy ({LABELS[chosen]}): mean difference over the people (exact paired Wilcoxon p).",
            "", *head]


if __name__ == "__main__":
    main()
