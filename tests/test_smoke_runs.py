"""End to end: the smoke preset trains, evaluates step 0 and the final EMA generator, and reports."""

import json
import math

from typer.testing import CliRunner

from gbench.cli import app


def test_dcgan_smoke_end_to_end(tmp_path):
    result = CliRunner().invoke(app, ["run", "dcgan", "--preset", "smoke", "--out", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    run_dir = next((tmp_path / "dcgan").iterdir())
    ev = json.loads((run_dir / "eval.json").read_text())
    first, final = ev["evaluations"][0], ev["final"]
    assert first["step"] == 0 and final["step"] == 200 and final["generator"] == "ema"
    assert final["fingerprint"].startswith("toy-shapes32@") and final["fingerprint"] == first["fingerprint"]
    assert final["metrics"]["fid"] < 0.9 * first["metrics"]["fid"]  # training moved the generator towards the data
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["train"]["steps"] == 200 and config["versions"]["torch"]
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("loss_d" in r and r["img_per_s"] for r in log)
    report = (run_dir / "report.md").read_text()
    assert "toy-shapes32@" in report and "not comparable" in report and "![losses]" in report
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2  # loss curves and the sample grid, embedded
    assert (run_dir / "plots" / "losses.png").exists() and list((run_dir / "samples").glob("*.png"))


def test_transgan_s_smoke_end_to_end(tmp_path):
    result = CliRunner().invoke(app, ["run", "transgan-s", "--preset", "smoke", "--out", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    ev = json.loads((next((tmp_path / "transgan-s").iterdir()) / "eval.json").read_text())
    first, final = ev["evaluations"][0], ev["final"]
    assert first["step"] == 0 and final["step"] == 100 and final["generator"] == "ema"
    assert final["fingerprint"] == first["fingerprint"] and all(map(math.isfinite, final["metrics"].values()))
    assert final["metrics"] != first["metrics"]  # the EMA generator moved
    # No FID improvement is asserted: in 100 CPU steps the smoke TransGAN's samples are still colour noise, and the
    # 0.977-accuracy toy classifier (unlike the 0.75 one before it) gives no credit for that. dcgan's smoke test holds it.
