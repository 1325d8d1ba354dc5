"""Export: ONNX Runtime and TorchScript give eegclf's own probabilities on real EEG, for every deep model."""

import json

import numpy as np
import pytest
import torch

import eegclf
from eegclf.storage.checkpoint import load_checkpoint
from eegclf.cli import main
from eegclf.config import RunConfig
from eegclf.errors import CheckpointError
from eegclf.export import INPUT_NAME, OUTPUT_NAME, export_checkpoint, metadata_path
from eegclf.models import list_models
from eegclf.training.loop import fit

ATOL = 1e-5


@pytest.fixture(scope="module")
def dataset(eegmmidb_root):
    from eegclf.data import load_dataset

    # 2-s windows of three channels keep every model small; runs 4 and 8 train, run 12 tests
    return load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1], task="imagery_lr",
                        channels="C3,Cz,C4", tmin=0.0, tmax=2.0)


@pytest.fixture(scope="module")
def checkpoints(dataset, tmp_path_factory):
    """One briefly trained checkpoint per model name (trained weights and BatchNorm statistics)."""
    out = {}
    for name in list_models("deep") + ["csp_lda"]:
        run_dir = tmp_path_factory.mktemp(name)
        fit(RunConfig(model=name, dataset="eegmmidb", epochs=1, batch_size=16, device="cpu", seed=0),
            dataset, run_dir, progress=False)
        out[name] = run_dir / "best.safetensors"
    return out


def eegclf_probabilities(checkpoint, X) -> np.ndarray:
    model, _ = load_checkpoint(checkpoint)
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy()


def ort_session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", list_models("deep"))
def test_onnx_and_torchscript_equal_eegclf_on_real_trials(name, checkpoints, dataset, tmp_path):
    X = np.ascontiguousarray(dataset.test.X)  # the 15 real trials of run 12, in volts
    want = eegclf_probabilities(checkpoints[name], X)
    assert np.allclose(want.sum(axis=1), 1.0, atol=1e-5)

    onnx_path, onnx_meta = export_checkpoint(checkpoints[name], tmp_path / f"{name}.onnx", "onnx")
    ts_path, ts_meta = export_checkpoint(checkpoints[name], tmp_path / f"{name}.pt", "torchscript")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{name}.onnx", f"{name}.onnx.json", f"{name}.pt", f"{name}.pt.json"])  # no temporary files left

    sess = ort_session(onnx_path)
    assert [i.name for i in sess.get_inputs()] == [INPUT_NAME]
    assert [o.name for o in sess.get_outputs()] == [OUTPUT_NAME]
    batch_dim = sess.get_inputs()[0].shape[0]
    assert not isinstance(batch_dim, int)  # dynamic batch axis
    got_full = sess.run([OUTPUT_NAME], {INPUT_NAME: X})[0]
    got_single = np.concatenate([sess.run([OUTPUT_NAME], {INPUT_NAME: X[i:i + 1]})[0] for i in range(3)])
    np.testing.assert_allclose(got_full, want, rtol=0, atol=ATOL)
    np.testing.assert_allclose(got_single, want[:3], rtol=0, atol=ATOL)

    scripted = torch.jit.load(str(ts_path))
    with torch.no_grad():
        got_ts = scripted(torch.from_numpy(X)).numpy()
        got_ts_single = scripted(torch.from_numpy(X[:1])).numpy()
    np.testing.assert_allclose(got_ts, want, rtol=0, atol=ATOL)
    np.testing.assert_allclose(got_ts_single, want[:1], rtol=0, atol=ATOL)

    for meta_file, fmt in ((onnx_meta, "onnx"), (ts_meta, "torchscript")):
        meta = json.loads(meta_file.read_text())
        assert meta["model_format"] == fmt and meta["model"] == name
        assert meta["ch_names"] == dataset.ch_names == ["C3", "Cz", "C4"]
        assert meta["sfreq"] == dataset.sfreq == 160.0
        assert meta["n_times"] == dataset.n_times == X.shape[3]
        assert meta["class_names"] == dataset.class_names
        assert meta["eegclf_version"] == eegclf.__version__
        assert meta["input"]["name"] == INPUT_NAME and meta["output"]["name"] == OUTPUT_NAME
        assert meta["input"]["shape"] == ["batch", 1, 3, X.shape[3]]
        assert len(meta["normalization"]["mean"]) == 3
    assert metadata_path(onnx_path) == onnx_meta


def test_classical_model_gives_a_clear_error_and_writes_nothing(checkpoints, tmp_path, capsys):
    with pytest.raises(CheckpointError, match="classical model 'csp_lda'"):
        export_checkpoint(checkpoints["csp_lda"], tmp_path / "m.onnx", "onnx")
    rc = main(["export", "--checkpoint", str(checkpoints["csp_lda"]), "--format", "torchscript",
               "--out", str(tmp_path / "m.pt")])
    err = capsys.readouterr().err
    assert rc == 2 and "classical model" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_failed_export_leaves_the_previous_file_and_no_temporary(checkpoints, tmp_path, monkeypatch):
    import eegclf.export as export

    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous export")

    def broken(*args, **kwargs):
        raise RuntimeError("exporter crashed\nsecond line of detail")

    monkeypatch.setattr(export, "_write_onnx", broken)
    with pytest.raises(CheckpointError, match="could not be exported to onnx: RuntimeError: exporter crashed$"):
        export_checkpoint(checkpoints["eegnet"], out, "onnx")
    assert out.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_non_equivalent_export_is_refused(checkpoints, tmp_path, monkeypatch):
    import eegclf.export as export

    real = export.run_exported
    monkeypatch.setattr(export, "run_exported", lambda path, fmt, x: real(path, fmt, x) + 1e-3)
    with pytest.raises(CheckpointError, match="differs from eegclf's own output"):
        export_checkpoint(checkpoints["eegnet"], tmp_path / "m.pt", "torchscript")
    assert list(tmp_path.iterdir()) == []


def test_cli_export(checkpoints, tmp_path, capsys):
    out = tmp_path / "sub" / "eegnet.onnx"
    assert main(["export", "--checkpoint", str(checkpoints["eegnet"]), "--format", "ONNX", "--out", str(out)]) == 0
    assert out.is_file() and metadata_path(out).is_file()
    assert str(out) in capsys.readouterr().out
    rc = main(["export", "--checkpoint", str(tmp_path / "missing.safetensors"), "--format", "onnx",
               "--out", str(tmp_path / "x.onnx")])
    assert rc == 2 and not (tmp_path / "x.onnx").exists()
