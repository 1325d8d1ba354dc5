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

# Transfer: networks pre-trained on other people (eegclf pretrain, its default recipe), calibrated per subject
# (finetune) or used as they are (pretrained). Two networks pre-trained on complementary halves (S001-S006,
# S007-S012) cover all 12 subjects: each subject is tested with the one that never saw it.
P="eegclf pretrain --dataset eegmmidb --task imagery_lr"
I="$OUT/preA/pretrained.safetensors,$OUT/preB/pretrained.safetensors"
$P --subjects 1-6 --out "$OUT/preA"
$P --subjects 7-12 --out "$OUT/preB"
$B $LR --protocol run-split --init "$I" --models finetune,pretrained,csp_lda,ts_lr,fgmdm --out "$OUT/tr-runsplit"
$B $LR --protocol within-subject --init "$I" --models finetune,pretrained,csp_lda,ts_lr --out "$OUT/tr-within"
# the idea evaluated against it (run-split): Euclidean alignment (with the classical pipelines beside it)
$P --subjects 1-6 --alignment euclidean --out "$OUT/preA-ea"
$P --subjects 7-12 --alignment euclidean --out "$OUT/preB-ea"
$B $LR --protocol run-split --init "$OUT/preA-ea/pretrained.safetensors,$OUT/preB-ea/pretrained.safetensors" \
    --models finetune,pretrained,csp_lda,ts_lr,fgmdm --out "$OUT/tr-runsplit-ea"
