"""The CLI's user errors: non-zero exit, one clear line, no traceback (Typer's CliRunner)."""

import pytest
from typer.testing import CliRunner

from gbench.cli import app

runner = CliRunner()


@pytest.mark.parametrize("args, message", [
    (["run", "dcgn", "--preset", "smoke"], "did you mean 'dcgan'"),
    (["run", "dcgan", "--preset", "smokey"], "did you mean 'smoke'"),
    (["run", "dcgan", "--preset", "smoke", "--set", "train.stepz=3"], "did you mean 'train.steps'"),
    (["run", "dcgan", "--preset", "smoke", "--set", "train.steps=three"], "cannot read 'three' as int"),
    (["run", "dcgan", "--preset", "smoke", "--set", "model.g_kwargs.no_such_field=3"], "cannot build the models of dcgan"),
    (["run", "dcgan", "--preset", "smoke", "--set", "data.dataset=shapes64"], "unknown dataset 'shapes64'"),
    (["run", "dcgan", "--device", "tpu"], "--device must be"),
    (["protocols", "cifar10-5k"], "did you mean"),
    (["report", "/nonexistent/run"], "not a run directory"),
])
def test_user_errors_are_one_line(args, message, tmp_path):
    result = runner.invoke(app, args + (["--out", str(tmp_path)] if args[0] == "run" else []))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "error:" in text and message in text
    assert "Traceback" not in result.output


def test_missing_dataset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    result = runner.invoke(app, ["run", "dcgan", "--set", f"data.root={tmp_path}", "--out", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 1  # a failure while running (a missing file), not a usage error
    text = " ".join(result.output.split())
    assert "cifar" in text.lower() and "gbench data fetch cifar10" in text and "Traceback" not in result.output


def test_models_and_protocols_list():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "dcgan" in result.output and "3.449M" in result.output and "2.637M" in result.output
    result = runner.invoke(app, ["protocols"])
    assert result.exit_code == 0 and "toy-shapes32" in result.output and "cifar10-50k" in result.output
    result = runner.invoke(app, ["protocols", "cifar10-50k"])
    assert "50000" in result.output and "inception-v3-compat" in result.output


def test_doctor_runs_offline():
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "torch" in result.output and "GBENCH_HOME" in result.output and "inception" in result.output


def test_help_has_examples():
    for cmd in ("run", "models", "protocols", "report", "doctor", "invert"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0 and "gbench " in result.output


def test_bench_train_step_mode_prints_the_attention_ratio():
    result = runner.invoke(app, ["bench", "transgan-s", "--preset", "smoke", "--device", "cpu", "--steps", "1",
                                 "--set", "train.batch_size_d=2", "--set", "train.batch_size_g=2",
                                 "--set", "model.g_kwargs.embed_dim=32", "--set", "model.d_kwargs.depth=1"])
    assert result.exit_code == 0, result.output
    assert "fp32 explicit attention" in result.output and "fused SDPA speed-up over explicit attention" in result.output


def test_sr_eval_bicubic_baseline_and_misuse(tmp_path):
    out = tmp_path / "bicubic.json"
    result = runner.invoke(app, ["eval", "--protocol", "sr-x4-y-skimage", "--baseline", "bicubic", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "bicubic" in result.output and "daala" in result.output and out.exists()
    result = runner.invoke(app, ["eval", "--protocol", "toy-shapes32", "--baseline", "bicubic"])
    assert result.exit_code == 2 and "super-resolution protocols" in result.output
    result = runner.invoke(app, ["data", "prepare", "facades"])
    assert result.exit_code == 2 and "only cityscapes" in result.output


def test_sample_command_draws_one_class(tmp_path):
    result = runner.invoke(app, ["run", "cdcgan", "--preset", "smoke", "--out", str(tmp_path / "runs"), "--device", "cpu",
                                 "--set", "train.steps=1", "--set", "eval.at_start=false", "--set", "data.size=256"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "threes.png"
    result = runner.invoke(app, ["sample", "cdcgan", "--class", "3", "--n", "8", "--runs", str(tmp_path / "runs"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "8 samples" in result.output
    result = runner.invoke(app, ["sample", "cdcgan", "--class", "12", "--runs", str(tmp_path / "runs"), "--out", str(out)])
    assert result.exit_code == 2 and "error:" in result.output
