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

# Transfer from many people, reported on 44 people (issue 25). The pre-training recipe was chosen on the design
# group S001-S012 only (benchmarks/transfer_recipe.py) and frozen: eegclf pretrain's defaults. The other 44 people
# are cut into 4 groups (every 4th of the sorted list); each group is tested by a network pre-trained on the design
# group and the other three groups (45 people), never on anyone of its own group. Calibration curve: the first
# 0/10/20/30 trials of runs 4+8, test run 12; the classical pipelines calibrated on the same trials.
R44=24-41,43-67,88
PRE44=(1-12,25-27,29-31,33-35,37-39,41,43,44,46-48,50-52,54-56,58-60,62-64,66,67,88
       1-12,24,26-28,30-32,34-36,38-40,43-45,47-49,51-53,55-57,59-61,63-65,67,88
       1-12,24,25,27-29,31-33,35-37,39-41,44-46,48-50,52-54,56-58,60-62,64-66,88
       1-12,24-26,28-30,32-34,36-38,40,41,43,45-47,49-51,53-55,57-59,61-63,65-67)
for k in 0 1 2 3; do
  [ -f "$OUT/pre44-$k/pretrained.safetensors" ] || $P --subjects "${PRE44[$k]}" --threads 1 --quiet --out "$OUT/pre44-$k"
done
I44="$OUT/pre44-0/pretrained.safetensors,$OUT/pre44-1/pretrained.safetensors,$OUT/pre44-2/pretrained.safetensors,$OUT/pre44-3/pretrained.safetensors"
$B --task imagery_lr --subjects $R44 --protocol run-split --init "$I44" --calibration-trials 0,10,20,30 \
    --models zero-shot,pretrained-renorm,finetune,$CLASSICAL --out "$OUT/tr44-runsplit"

# The deep models trained on one person, across many people (issue 26)
ALL56=1-12,24-41,43-67,88
$B --task imagery_lr --subjects $ALL56 --protocol run-split --models eegnet,eegnet_8_2,shallowconvnet,deepconvnet,$CLASSICAL --out "$OUT/lr-runsplit-56"
$B $LR --preset moabb --protocol within-subject --models eegnet_8_2,shallowconvnet,fgmdm,ts_svm,ts_lr,csp_lda --out "$OUT/lr-within-moabb-deep"
$B $LR --protocol within-subject --models eegnet,auto,$CLASSICAL --out "$OUT/lr-within-auto"
$B --task imagery_hf --subjects 1 --protocol within-subject --models eegnet,eegnet_8_2,shallowconvnet,deepconvnet,$CLASSICAL --out "$OUT/hf-s001-within-all"

# Fewer channels (issue 30, docs/your-cap.md): subject folds over the 56 people, per-montage networks, the
# 64-channel network interpolated and the subset-trained network, on 64, 21, 8 and 3 channels; then the six
# electrodes nearest the eyes (what eye movements carry). Resumable, like everything above.
PY=${PYTHON:-python}
if ! type eegclf 2>/dev/null | grep -q function; then  # not when the test reads this script's eegclf commands
  $PY "$(dirname "$0")/your_cap.py" --out "$OUT/your-cap" --strategies montage,interp,subset
  $PY "$(dirname "$0")/your_cap.py" --out "$OUT/your-cap" --montages 64,frontal6 --strategies montage
fi
