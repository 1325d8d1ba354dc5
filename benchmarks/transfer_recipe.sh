#!/usr/bin/env bash
# Choose the transfer recipe on a design group of people only: S001-S012, none of whom is reported in the
# README's 44-person transfer tables. Three folds of four whole people: for each candidate recipe, pre-train
# on the other eight, then calibrate on each held-out person's runs 4+8 and test on their run 12 (run-split,
# finetune). The candidate with the best mean fine-tuned accuracy over the 12 design people wins (ties: the
# one listed first); the printed table is that comparison. Candidates: alignment none / euclidean x
# augmentation off / shift,scale,chdrop (EEGNet, the deep preset's 0-4 s window, one network).
#
#   EEGCLF_DATA=../shared/data bash benchmarks/transfer_recipe.sh [OUT_ROOT]   (default bench/design)
#
# Resumable: a finished pre-training or benchmark is skipped (benchmarks redo only missing folds).
set -euo pipefail
OUT=${1:-bench/design}
P="eegclf pretrain --dataset eegmmidb --task imagery_lr --threads 1 --quiet"
B="eegclf benchmark --dataset eegmmidb --task imagery_lr --subjects 1-12 --protocol run-split --jobs 1"
HELD=(1-4 5-8 9-12)
TRAIN=(5-12 1-4,9-12 1-8)
declare -A FLAGS=([base]="" [ea]="--alignment euclidean" [aug]="--augment shift,scale,chdrop"
                  [ea-aug]="--alignment euclidean --augment shift,scale,chdrop")
CANDIDATES=(base ea aug ea-aug)
for c in "${CANDIDATES[@]}"; do
  inits=()
  for k in 0 1 2; do
    pre="$OUT/$c/pre-$k"
    [ -f "$pre/pretrained.safetensors" ] || $P --subjects "${TRAIN[$k]}" ${FLAGS[$c]} --overwrite --out "$pre"
    inits+=("$pre/pretrained.safetensors")
  done
  $B --init "$(IFS=,; echo "${inits[*]}")" --models finetune,pretrained --out "$OUT/$c/bench"
done
python - "$OUT" "${CANDIDATES[@]}" <<'PY'
import csv, statistics, sys
out, cands = sys.argv[1], sys.argv[2:]
best = None
print("candidate  finetune mean (12 design people)  pretrained (renormalised) mean")
for c in cands:
    rows = list(csv.DictReader(open(f"{out}/{c}/bench/results.csv")))
    acc = {p: statistics.mean(float(r["accuracy"]) for r in rows if r["pipeline"] == p) for p in ("finetune", "pretrained")}
    print(f"{c:<10} {acc['finetune']:.3f}                            {acc['pretrained']:.3f}")
    if best is None or acc["finetune"] > best[1]:
        best = (c, acc["finetune"])
print(f"chosen on the design group: {best[0]}")
PY
