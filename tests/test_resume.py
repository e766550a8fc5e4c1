"""Full-state checkpoints: atomic writes, corrupt-file fallback, and resume equivalence (in-process
interruption and a real SIGKILL of a `gbench run` process)."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
import torch

from gbench.experiments import resolve_config
from gbench.checkpoint import checkpoint_paths, load_latest_checkpoint, save_checkpoint
from gbench.runs import run_dir_for, train_and_evaluate

TINY = ["data.size=512", "model.g_kwargs.g_channels=8", "model.d_kwargs.d_channels=8", "train.batch_size_d=32",
        "train.batch_size_g=32", "train.log_every=2", "train.sample_every=0"]


def _final(run_dir):
    return json.loads((run_dir / "eval.json").read_text())["final"]["metrics"]


def _ema_weights(run_dir):
    state, _ = load_latest_checkpoint(run_dir)
    return state["trainer"]["G_ema"]


def test_interrupted_run_resumes_to_identical_results(tmp_path):
    cfg = resolve_config("dcgan", "smoke", TINY + ["train.steps=6", "train.checkpoint_every=2"])
    full = train_and_evaluate(cfg, out=tmp_path / "a", device="cpu")
    part = train_and_evaluate(cfg, out=tmp_path / "b", device="cpu", stop_after=3)  # dies after step 3; last checkpoint at 2
    assert not (part / "eval.json").exists()
    assert [p.name for p in checkpoint_paths(part)] == ["step-00000002.pt"]
    resumed = train_and_evaluate(cfg, out=tmp_path / "b", device="cpu")
    assert _final(resumed) == _final(full)
    a, b = _ema_weights(full), _ema_weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda p: [{k: v for k, v in json.loads(line).items() if k != "img_per_s"} for line in (p / "metrics.jsonl").read_text().splitlines()]
    assert strip(resumed) == strip(full)  # the log lines past the checkpoint were dropped and rewritten


def test_rerun_of_a_finished_run_does_not_retrain(tmp_path, capsys):
    cfg = resolve_config("dcgan", "smoke", TINY + ["train.steps=2", "train.checkpoint_every=2", "eval.at_start=false"])
    first = train_and_evaluate(cfg, out=tmp_path, device="cpu")
    mtime = (first / "checkpoints" / "step-00000002.pt").stat().st_mtime_ns
    again = train_and_evaluate(cfg, out=tmp_path, device="cpu")
    assert again == first and _final(again) == _final(first)
    assert (first / "checkpoints" / "step-00000002.pt").stat().st_mtime_ns == mtime


def test_checkpoint_write_is_atomic_and_keeps_last_two(tmp_path, monkeypatch):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, {"x": torch.full((3,), float(step))})
    assert [p.name for p in checkpoint_paths(tmp_path)] == ["step-00000003.pt", "step-00000002.pt"]

    def crash(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path, 4, {"x": torch.zeros(3)})
    monkeypatch.undo()
    assert [p.name for p in checkpoint_paths(tmp_path)] == ["step-00000003.pt", "step-00000002.pt"]
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    state, path = load_latest_checkpoint(tmp_path)
    assert path.name == "step-00000003.pt" and state["x"][0] == 3


def test_corrupt_latest_checkpoint_falls_back_to_previous(tmp_path):
    save_checkpoint(tmp_path, 1, {"x": torch.ones(2)})
    latest = save_checkpoint(tmp_path, 2, {"x": torch.ones(2) * 2})
    latest.write_bytes(latest.read_bytes()[:20])  # truncated, as after a crash of a non-atomic writer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state, path = load_latest_checkpoint(tmp_path)
    assert path.name == "step-00000001.pt" and state["x"][0] == 1
    assert any("unreadable" in str(w.message) for w in caught)


def test_sigkill_after_a_checkpoint_then_rerun_matches_uninterrupted(tmp_path):
    sets = TINY + ["train.steps=400", "train.checkpoint_every=20", "train.log_every=20", "eval.at_start=false"]
    cfg = resolve_config("dcgan", "smoke", sets)
    reference = train_and_evaluate(cfg, out=tmp_path / "ref", device="cpu")

    cmd = [sys.executable, "-m", "gbench", "run", "dcgan", "--preset", "smoke", "--device", "cpu", "--out", str(tmp_path / "killed")]
    for s in sets:
        cmd += ["--set", s]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run_dir = run_dir_for(cfg, tmp_path / "killed")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (run_dir / "checkpoints" / "step-00000040.pt").exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "eval.json").exists(), "the run finished before it could be killed; make it longer"
    assert checkpoint_paths(run_dir), "no checkpoint was written before the kill"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed" in done.stdout
    assert _final(run_dir) == _final(reference)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from gbench import losses
    from gbench.errors import GBenchError

    cfg = resolve_config("dcgan", "smoke", TINY + ["train.steps=8", "train.checkpoint_every=2", "eval.at_start=false"])
    original, calls = losses.d_loss, []

    def poisoned(name, real, fake):
        calls.append(1)
        loss = original(name, real, fake)
        return loss * float("nan") if len(calls) > 3 else loss  # the 4th D step goes NaN

    monkeypatch.setattr(losses, "d_loss", poisoned)
    with pytest.raises(GBenchError, match="diverged at G step 4: loss_d"):
        train_and_evaluate(cfg, out=tmp_path, device="cpu")
    run_dir = run_dir_for(cfg, tmp_path)
    assert [p.name for p in checkpoint_paths(run_dir)] == ["step-00000002.pt"]  # nothing written after the NaN
    state, _ = load_latest_checkpoint(run_dir)
    assert all(torch.isfinite(v).all() for v in state["trainer"]["G"].values() if v.is_floating_point())
