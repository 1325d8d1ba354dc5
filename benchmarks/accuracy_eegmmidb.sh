#!/usr/bin/env bash
# The README "Accuracy" tables: `eegclf benchmark` runs on EEGMMIDB (12 subjects of imagined left vs right
# fist; S001's imagined hands vs feet). Nothing is chosen on a test fold. Each run writes OUT/results.md
# (per-subject table, mean ± std, 95 % bootstrap interval over subjects, Wilcoxon tests against the best
# classical pipeline, Holm-corrected), results.csv and figures; a killed run resumes where it stopped.
#
#   EEGCLF_DATA=../shared/data bash benchmarks/accuracy_eegmmidb.sh [OUT_ROOT]   (default bench/)
#
# Wall times on the 2-core development machine are in the README next to each table.
set -euo pipefail
OUT=${1:-bench}
B="eegclf benchmark --dataset eegmmidb --jobs 2"
LR="--task imagery_lr --subjects 1-12"
CLASSICAL=csp_lda,ts_lr,fgmdm,ts_svm

# MOABB's setting (8-32 Hz, 0-3 s, 64 channels): eegclf's classical pipelines against MOABB's published numbers
$B $LR --preset moabb --protocol within-subject --models fgmdm,ts_svm,ts_lr,csp_lda --out "$OUT/lr-within-moabb"
# the deep setting (preset deep: 64 channels, average reference, 4-38 Hz, 0-4 s at 128 Hz, 150 epochs)
$B $LR --protocol run-split --models eegnet,$CLASSICAL --out "$OUT/lr-runsplit"
$B $LR --protocol within-subject --models eegnet,$CLASSICAL --out "$OUT/lr-within"
$B $LR --protocol cross-subject --models eegnet,$CLASSICAL --epochs 30 --batch-size 32 --out "$OUT/lr-cross"
$B $LR --protocol cross-subject-finetune --models eegnet,$CLASSICAL --epochs 30 --batch-size 32 --out "$OUT/lr-cross-ft"
$B --task imagery_hf --subjects 1 --protocol within-subject --models eegnet,$CLASSICAL --out "$OUT/hf-s001-within"
