"""benchmarks/transfer_recipe.py: the selection protocol runs end to end on a tiny input, and its summary is right."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import transfer_recipe  # noqa: E402

TINY = "--epochs 1 --channels C3,Cz,C4 --resample 80 --tmax 2"


def test_the_recipe_script_runs_on_a_tiny_input(tmp_path, eegmmidb_root):
    out = tmp_path / "recipe"
    cmd = [sys.executable, str(REPO / "benchmarks" / "transfer_recipe.py"), "--out", str(out), "--design", "1-2",
           "--pool", "3", "--folds", "2", "--seeds", "0", "--candidates", "aug,aug-ft-last,aug-ens3",
           "--calibration-trials", "0,10", "--pretrain-args", TINY, "--benchmark-args", "--finetune-epochs 1"]
    env = dict(os.environ, EEGCLF_DATA=str(eegmmidb_root))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    head = ("| candidate | zero-shot N=0 | pretrained-renorm N=10 | adabn N=10 | finetune N=10 | score |")
    assert head in done.stdout
    lines = {line.split(" | ")[0]: line for line in done.stdout.splitlines() if line.startswith("| aug")}
    assert set(lines) == {"| aug", "| aug-ft-last", "| aug-ens3"}
    assert all(line.count(" [0.000]") == 4 for line in lines.values())
    assert "best of 3 on the design people by that score" in done.stdout
    # fold 0 tests S001 with a network pre-trained on S002 and the pool (S003), never on S001
    rows = list(csv.DictReader(open(out / "aug" / "seed0" / "bench" / "results.csv")))
    assert {r["subject"] for r in rows} == {"S001", "S002"}
    # aug-ft-last changes fine-tuning only: it is tested with aug's networks, pre-trained once
    assert done.stdout.count(" pretrain ") == 6 and not (out / "aug-ft-last" / "seed0" / "pre-0").exists()
    # aug-ens3's "seed 0" is, per fold, one checkpoint of aug's seeds 0, 1 and 2
    ens = json.loads((out / "aug-ens3" / "seed0" / "bench" / "benchmark.json").read_text())
    assert [r["path"] for r in ens["init"]] == [str((out / "aug-ens3" / "seed0" / f"pre-{k}.safetensors").resolve())
                                                for k in (0, 1)]
    assert all((out / "aug" / f"seed{s}" / "pre-1" / "pretrained.safetensors").is_file() for s in (0, 1, 2))
    spec = json.loads((out / "aug-ft-last" / "seed0" / "bench" / "benchmark.json").read_text())
    assert [r["path"] for r in spec["init"]] == [str((out / "aug" / "seed0" / f"pre-{k}" / "pretrained.safetensors")
                                                     .resolve()) for k in (0, 1)]
    assert spec["recipe"]["finetune_layers"] == "last" and "adabn" in spec["pipelines"]
    # the rows without fine-tuning are the same networks' (the same numbers); the table reads results.csv
    other = list(csv.DictReader(open(out / "aug-ft-last" / "seed0" / "bench" / "results.csv")))
    same = lambda rs: sorted((r["pipeline"], r["subject"], r["calibration_trials"], r["accuracy"]) for r in rs
                             if r["pipeline"] != "finetune")
    assert same(rows) == same(other)
    for name in ("aug", "aug-ft-last"):
        cells = lines[f"| {name}"].strip(" |").split(" | ")[1:-1]
        acc = {p: [float(r["accuracy"]) for r in csv.DictReader(open(out / name / "seed0" / "bench" / "results.csv"))
                   if r["pipeline"] == p and r["calibration_trials"] == n] for p, n in
               (("zero-shot", "0"), ("pretrained-renorm", "10"), ("adabn", "10"), ("finetune", "10"))}
        assert [float(c.split()[0]) for c in cells] == [round(sum(v) / len(v), 3) for v in acc.values()]
    log = (out / "recipe.log").read_text()
    # a second run is resumed: nothing is pre-trained again
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert again.returncode == 0 and "pretrain" not in again.stdout.replace("pretrained", "")
    assert (out / "recipe.log").read_text().startswith(log)


def test_the_summary_takes_the_mean_over_seeds_and_the_seed_spread(tmp_path):
    header = ["pipeline", "subject", "accuracy", "calibration_trials"]
    accs = {0: {"zero-shot": 0.6, "pretrained-renorm": 0.6, "adabn": 0.65, "finetune": 0.7},
            1: {"zero-shot": 0.8, "pretrained-renorm": 0.7, "adabn": 0.65, "finetune": 0.9}}
    for name, shift in (("a", 0.0), ("b", 0.05)):
        for seed, acc in accs.items():
            path = tmp_path / name / f"seed{seed}" / "bench" / "results.csv"
            path.parent.mkdir(parents=True)
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(header)
                for p, v in acc.items():
                    for n in (0, 30) if p != "zero-shot" else (0,):
                        for subject, d in (("S001", -0.1), ("S002", 0.1)):
                            w.writerow([p, subject, f"{v + d + shift:.3f}", n])
    table = transfer_recipe.summarize(tmp_path, ["a", "b"], [0, 1], [0, 30])
    # score: the mean of zero-shot N=0, adabn N=30, finetune N=30 (the smallest N > 0) and finetune N=30
    assert "| a | 0.700 [0.200] | 0.650 [0.100] | 0.650 [0.000] | 0.800 [0.200] | 0.738 |" in table
    assert "| b | 0.750 [0.200] | 0.700 [0.100] | 0.700 [0.000] | 0.850 [0.200] | 0.787 |" in table
    assert "Chosen: **b**, best of 2 on the design people by that score" in table
