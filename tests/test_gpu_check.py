"""benchmarks/gpu_check.py in its CPU mode (`--device cpu --quick`: tiny models, 24 evaluation samples, a 4-step
torchrun run), so the GPU script cannot rot between GPU sessions. Slow: three torchrun processes, Inception at 299
on the CPU and a traced compile step, about two minutes on two cores."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_quick_mode_on_cpu_passes_and_writes_both_reports(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick",
                           "--compile-backend", "aot_eager", "--out", str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = tmp_path.iterdir()
    report = json.loads((folder / "gpu_check.json").read_text())
    assert report["ok"] and report["quick"] and report["device"] == "cpu"
    rows = {(r["experiment"], r["variant"]): r for r in report["training"]}
    assert set(rows) == {("transgan-s", "fp32 sdpa"), ("transgan-s", "fp32 explicit attention"), ("transgan-s", "bf16 + torch.compile"),
                         ("srresnet-x4", "fp32 sdpa")}
    assert all(r["d_img_per_s"] > 0 and r["g_img_per_s"] > 0 and r["projected_hours"] > 0 for r in rows.values())
    assert report["ratios"]["transgan-s"] > 0
    evaluation = report["evaluation"]
    assert evaluation["equal"] and set(evaluation["metrics"]) == {"is_mean", "is_std", "fid", "kid_mean", "kid_std"}
    assert evaluation["bench_protocol"]["kid_subset_size"] < evaluation["n"]
    torchrun = report["torchrun"]
    assert torchrun["final"]["resumed"]["step"] == torchrun["steps"] and torchrun["equal"]
    text = (folder / "gpu_check.md").read_text()
    assert "all checks passed" in text and "torch-fidelity" in text and "stopped and resumed" in text


def test_gpu_check_fails_clearly_without_cuda():
    if __import__("torch").cuda.is_available():
        pytest.skip("a CUDA device is present")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr and "Traceback" not in proc.stderr
