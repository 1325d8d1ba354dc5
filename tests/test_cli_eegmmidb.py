"""The study's train/eval workflow on real EEG (PhysioNet subject 1), for every registered model."""

import json

import pytest

from eegclf.cli import main
from eegclf.models import list_models


@pytest.mark.parametrize("model", list_models())
def test_train_and_eval_on_eegmmidb(eegmmidb_root, tmp_path, capsys, model):
    out = tmp_path / "run"
    args = ["--dataset", "eegmmidb", "--data-dir", str(eegmmidb_root), "--subjects", "1",
            "--task", "imagery_hf", "--tmax", "3"]
    assert main(["train", "--model", model, "--epochs", "2", "--batch-size", "16", *args,
                 "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out / "best.safetensors")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (f"Test Loss: {summary['test_loss_val_selected']:.4f}, "
                    f"Test Accuracy: {summary['test_acc_val_selected']:.4f}")
    assert 0.0 <= summary["test_acc_val_selected"] <= 1.0
