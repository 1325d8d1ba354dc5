"""Streaming: subject 1's run 12 replayed through a model trained on runs 4 and 8.

Checked: the decision count (from file length, window and step), timestamps (monotonic, one step apart), the
accuracy report (recounted here from the file's annotations), equality of every streamed decision with the
model applied offline to the causally filtered recording, the ring buffer, the filter state, the replay
pacing, the CLI, and an LSL stream (kept on the loopback interface by an lsl_api.cfg).
"""

import csv
import json
import os
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
import torch
from scipy import signal

from eegclf.storage.checkpoint import load_checkpoint
from eegclf.cli import main
from eegclf.config import RunConfig
from eegclf.streaming.causal_bandpass import OnlineBandpass
from eegclf.streaming.ring_buffer import RingBuffer
from eegclf.streaming.runner import StreamRunner
from eegclf.streaming.sources import FileReplaySource, standard_channel_name
from eegclf.training.loop import fit

STEP_MS = 100.0
BAND = (8.0, 30.0)


@pytest.fixture(scope="module")
def run12(eegmmidb_root):
    return eegmmidb_root / "eegmmidb" / "S001" / "S001R12.edf"


@pytest.fixture(scope="module")
def checkpoint(eegmmidb_root, tmp_path_factory):
    """EEGNet, 3 epochs on runs 4 and 8 (C3, Cz, C4, 0-2 s after the cue, 8-30 Hz); run 12 is the test part."""
    from eegclf.data import load_dataset

    dataset = load_dataset("eegmmidb", data_dir=eegmmidb_root, subjects=[1], task="imagery_lr",
                           channels="C3,Cz,C4", tmin=0.0, tmax=2.0, l_freq=BAND[0], h_freq=BAND[1])
    assert sorted(set(dataset.train.runs)) == [4, 8] and set(dataset.test.runs) == {12}
    run_dir = tmp_path_factory.mktemp("run")
    fit(RunConfig(model="eegnet", dataset="eegmmidb", epochs=3, batch_size=16, device="cpu", seed=0),
        dataset, run_dir, progress=False)
    return run_dir / "best.safetensors"


@pytest.fixture(scope="module")
def recording(run12):
    """The file read independently of the streaming code: data (volts), names, rate, T1/T2 trials."""
    import mne

    raw = mne.io.read_raw_edf(run12, preload=True, verbose="error")
    mne.datasets.eegbci.standardize(raw)
    ann = raw.annotations
    trials = [(float(o), float(o + d), 0 if s == "T1" else 1)
              for o, d, s in zip(ann.onset, ann.duration, ann.description) if s in ("T1", "T2")]
    return {"data": raw.get_data(), "ch_names": raw.ch_names, "sfreq": raw.info["sfreq"], "trials": trials}


@pytest.fixture(scope="module")
def streamed(checkpoint, run12):
    model, meta = load_checkpoint(checkpoint)
    decisions = []
    with FileReplaySource(run12, speed=0) as source:
        report = StreamRunner(source, model, meta, step_ms=STEP_MS).run(decisions.append)
    return report, decisions, meta


def expected_labels(ends, window, sfreq, trials):
    """For each window end (in samples): the class of the T1/T2 trial holding the whole window, else None."""
    out = []
    for end in ends:
        t0, t1 = (end - window) / sfreq, end / sfreq
        inside = [c for on, off, c in trials if on - 1e-9 <= t0 and t1 <= off + 1e-9]
        out.append(inside[0] if inside else None)
    return out


def test_decision_count_and_timestamps(streamed, recording):
    report, decisions, meta = streamed
    n_samples, sfreq = recording["data"].shape[1], recording["sfreq"]
    window, step = meta["n_times"], int(round(STEP_MS / 1000 * sfreq))
    assert (n_samples, window, step) == (20000, 321, 16)
    assert report.decisions == len(decisions) == (n_samples - window) // step + 1 == 1230
    times = np.array([d.time for d in decisions])
    assert times[0] == pytest.approx(window / sfreq)
    np.testing.assert_allclose(np.diff(times), step / sfreq, rtol=0, atol=1e-9)
    assert times[-1] <= n_samples / sfreq
    assert report.samples == n_samples


def test_accuracy_report_counts_the_windows_inside_cued_trials(streamed, recording):
    report, decisions, meta = streamed
    labels = expected_labels([d.end_sample for d in decisions], meta["n_times"], recording["sfreq"],
                             recording["trials"])
    assert [d.truth for d in decisions] == labels
    scored = [(d.index, lab) for d, lab in zip(decisions, labels) if lab is not None]
    assert len(recording["trials"]) == 15
    assert report.scored == len(scored) > 15 * 15  # a 4.1 s trial holds about 21 windows of 2 s, 0.1 s apart
    assert report.correct == sum(pred == lab for pred, lab in scored)
    assert 0.0 <= report.accuracy <= 1.0
    assert report.accuracy == pytest.approx(report.correct / report.scored)
    assert np.isfinite(report.latency_mean_ms) and report.latency_p99_ms >= report.latency_mean_ms * 0.5 > 0


def test_every_decision_equals_the_model_on_the_causally_filtered_recording(streamed, recording, checkpoint):
    report, decisions, meta = streamed
    picks = [recording["ch_names"].index(c) for c in meta["ch_names"]]
    x = recording["data"][picks]
    sos = signal.butter(4, BAND, btype="bandpass", fs=recording["sfreq"], output="sos")
    zi = signal.sosfilt_zi(sos)[:, None, :] * x[None, :, 0, None]
    filtered = signal.sosfilt(sos, x, axis=1, zi=zi)[0].astype(np.float32)
    ends = np.array([d.end_sample for d in decisions])
    windows = np.stack([filtered[:, e - meta["n_times"]:e] for e in ends])[:, None]
    model, _ = load_checkpoint(checkpoint)
    with torch.no_grad():
        want = torch.softmax(model(torch.from_numpy(windows)), dim=1).numpy()
    got = np.array([d.probabilities for d in decisions])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert [d.index for d in decisions] == want.argmax(axis=1).tolist()


def test_cli_stream_prints_the_report_and_logs_each_decision(checkpoint, run12, streamed, tmp_path, capsys):
    report, decisions, _ = streamed
    log = tmp_path / "decisions.csv"
    rc = main(["stream", "--checkpoint", str(checkpoint), "--source", str(run12), "--speed", "0",
               "--step-ms", str(STEP_MS), "--log", str(log), "--quiet", "--runtime", "onnx"])
    out = capsys.readouterr().out
    assert rc == 0
    assert f"decisions: {report.decisions}" in out
    assert f"accuracy: {report.accuracy:.4f} ({report.correct}/{report.scored} windows" in out
    assert "decision latency: mean" in out and "p99" in out
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == report.decisions
    times = np.array([float(r["time_s"]) for r in rows])
    np.testing.assert_allclose(np.diff(times), 0.1, atol=1e-6)
    np.testing.assert_allclose([float(r["p_right_fist"]) for r in rows],
                               [d.probabilities[1] for d in decisions], atol=1e-5)  # ONNX Runtime = PyTorch
    assert [r["true_class_index"] for r in rows] == ["" if d.truth is None else str(d.truth) for d in decisions]


def test_cli_stream_prints_each_decision_unless_quiet(checkpoint, run12, capsys):
    rc = main(["stream", "--checkpoint", str(checkpoint), "--source", str(run12), "--speed", "0",
               "--step-ms", "1000"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("t=")]
    assert rc == 0 and len(lines) == (20000 - 321) // 160 + 1
    assert lines[0].split()[1] == f"{321 / 160:.3f}"


def test_replay_paces_chunks_at_the_requested_speed(run12, monkeypatch):
    """A fake clock: the replay asks to sleep until each chunk's last sample is due at speed 4."""
    import eegclf.streaming.sources as sources

    clock = {"now": 100.0}
    monkeypatch.setattr(sources.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr(sources.time, "sleep", lambda s: clock.__setitem__("now", clock["now"] + s))
    source = FileReplaySource(run12, speed=4.0, chunk_ms=250)
    due = []
    for chunk in source.chunks():
        due.append(clock["now"] - 100.0)
    n = source.n_samples
    assert len(due) == int(np.ceil(n / 40))
    np.testing.assert_allclose(due, np.minimum(np.arange(1, len(due) + 1) * 40, n) / 160 / 4)


def test_ring_buffer_holds_the_last_window_in_order():
    rng = np.random.default_rng(0)
    stream = rng.normal(size=(3, 4000)).astype(np.float32)
    buf, pos = RingBuffer(3, 50), 0
    for size in rng.integers(0, 80, size=40):
        buf.push(stream[:, pos:pos + size])
        pos += size
        window = buf.latest()
        assert buf.n_seen == pos and window.shape == (3, 50)
        have = stream[:, max(0, pos - 50):pos]
        np.testing.assert_array_equal(window[:, 50 - have.shape[1]:], have)
        np.testing.assert_array_equal(window[:, :50 - have.shape[1]], 0)


def test_filter_state_makes_chunked_filtering_equal_whole_filtering():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2000))
    whole = OnlineBandpass(2, 160.0, *BAND)(x)
    f = OnlineBandpass(2, 160.0, *BAND)
    cuts = np.sort(rng.choice(np.arange(1, 2000), size=30, replace=False))
    parts = [f(c) for c in np.split(x, cuts, axis=1)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=0, atol=1e-5)


LSL_SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    import numpy as np
    import pylsl  # liblsl reads $LSLAPICFG (loopback-only settings) at its first use below
    import torch
    from eegclf.storage.checkpoint import load_checkpoint
    from eegclf.streaming.runner import StreamRunner
    from eegclf.streaming.sources import FileReplaySource, LSLSource

    ckpt, edf, name, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    torch.set_num_threads(1)  # as `eegclf stream` does: one thread gives the lowest latency
    replay = FileReplaySource(edf, speed=0)
    data = np.concatenate(list(replay.chunks()), axis=1)[:, : int(seconds * replay.sfreq)]
    info = pylsl.StreamInfo(name, "EEG", data.shape[0], replay.sfreq, pylsl.cf_float32, name)
    channels = info.desc().append_child("channels")
    for label in replay.ch_names:
        channels.append_child("channel").append_child_value("label", label + "..")
    outlet = pylsl.StreamOutlet(info, chunk_size=16)
    done = threading.Event()

    def push():
        if outlet.wait_for_consumers(300):
            for i in range(0, data.shape[1], 16):
                outlet.push_chunk(np.ascontiguousarray(data[:, i:i + 16].T))
                time.sleep(0.001)
        done.wait(300)  # keep the outlet until the inlet has read everything

    pusher = threading.Thread(target=push)
    pusher.start()
    model, meta = load_checkpoint(ckpt)
    decisions = []
    try:
        # the source ends after `seconds` of signal, counted in samples; the timeouts only guard against a hang
        # (no outlet, or no data for 2 minutes), so a slow, busy machine cannot fail the test
        with LSLSource(name, resolve_timeout=120, idle_timeout=120, max_seconds=seconds) as source:
            report = StreamRunner(source, model, meta, step_ms=100).run(decisions.append)
    finally:
        done.set()
        pusher.join()
    print(json.dumps({"pushed": int(data.shape[1]), "samples": report.samples, "sfreq": source.sfreq,
                      "ends": [d.end_sample for d in decisions],
                      "probabilities": [d.probabilities for d in decisions]}))
""")


def test_lsl_stream_on_loopback_gives_the_file_replay_decisions(checkpoint, run12, streamed, tmp_path):
    """An outlet replays the first 20 s of run 12; the LSL source must deliver every sample, unchanged."""
    cfg = tmp_path / "lsl_api.cfg"
    cfg.write_text(textwrap.dedent(f"""
        [ports]
        IPv6 = disable
        [multicast]
        ResolveScope = machine
        MachineAddresses = {{127.0.0.1}}
        Interfaces = {{127.0.0.1}}
        ListenAddress = 127.0.0.1
        [lab]
        KnownPeers = {{127.0.0.1}}
        SessionID = eegclf-test-{uuid.uuid4().hex}
        [log]
        level = -2
    """))
    env = {**os.environ, "LSLAPICFG": str(cfg)}
    name = f"eegclf-test-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run([sys.executable, "-c", LSL_SCRIPT, str(checkpoint), str(run12), name, "20"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["sfreq"] == 160.0
    assert result["samples"] == result["pushed"] == 3200
    assert result["ends"] == list(range(321, 3201, 16))
    _, decisions, _ = streamed
    np.testing.assert_allclose(result["probabilities"], [d.probabilities for d in decisions[:len(result["ends"])]],
                               rtol=0, atol=1e-5)


def test_standard_channel_names_match_the_loader():
    assert [standard_channel_name(c) for c in ("Fc5.", "Cz..", "Fp1.", "Afz.", "T10.", "Iz..")] == \
        ["FC5", "Cz", "Fp1", "AFz", "T10", "Iz"]
