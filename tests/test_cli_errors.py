"""Bad input as a new user types it: refused up front in one line, with the right exit status (2 usage/config, 1 runtime,
130 Ctrl-C), no traceback, nothing left on disk, and no finished computation lost (issue 14)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from gbench.cli import app

runner = CliRunner()

SMOKE = ["run", "dcgan", "--preset", "smoke"]


def _run(args: list[str], env: dict | None = None):
    result = runner.invoke(app, [str(a) for a in args], env=env)
    return result, " ".join(result.output.split())


def _one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert len(lines) == 1, f"expected only the error line, got:\n{result.output}"
    assert "Traceback" not in result.output
    return errors[0]


# (arguments, exit status, a fragment of the message). `run` invocations get --out <tmp> and must leave nothing there.
BAD = [
    (["run", "dcgn"], 2, "did you mean 'dcgan'"),
    ([*SMOKE[:2], "--preset", "smokey"], 2, "did you mean 'smoke'"),
    ([*SMOKE, "--set", "train.stepz=3"], 2, "did you mean 'train.steps'"),
    ([*SMOKE, "--set", "train.steps=three"], 2, "cannot read 'three' as int"),
    ([*SMOKE, "--set", "train.lr_g=-1"], 2, "train.lr_g = -1.0: must be > 0"),
    ([*SMOKE, "--set", "train.batch_size_d=0"], 2, "train.batch_size_d = 0: must be >= 1"),
    ([*SMOKE, "--set", "train.steps=-5"], 2, "train.steps = -5: must be >= 0"),
    ([*SMOKE, "--seed", "-1"], 2, "seed = -1"),
    ([*SMOKE, "--set", "train.n_critic=0"], 2, "train.n_critic = 0"),
    ([*SMOKE, "--set", "train.ema_decay=1.0"], 2, "train.ema_decay = 1.0: must be in [0, 1)"),
    ([*SMOKE, "--set", "train.loss=wgangp"], 2, "must be one of ns, minimax"),
    ([*SMOKE, "--set", "train.loop_order=simultaneous", "--set", "train.n_critic=5"], 2, "train.n_critic must be 1"),
    ([*SMOKE, "--set", "data.dataset=shapes64"], 2, "unknown dataset 'shapes64'; did you mean 'shapes32'"),
    ([*SMOKE, "--set", "eval.protocol=cifar10-5k"], 2, "unknown protocol 'cifar10-5k'"),
    ([*SMOKE, "--set", "train.augment=diffaug", "--set", "train.augment_policy=color,flip"], 2, "train.augment_policy"),
    ([*SMOKE, "--set", "train.betas_g=0.5,1.5"], 2, "train.betas_g"),
    ([*SMOKE, "--set", "eval.batch_size=0"], 2, "eval.batch_size = 0"),
    ([*SMOKE, "--set", "train.lr_schedule=cosine"], 2, "train.lr_schedule"),
    ([*SMOKE, "--set", "notakey=1"], 2, "unknown config key 'notakey'"),
    ([*SMOKE, "--set", "train"], 2, "--set expects key=value"),
    ([*SMOKE, "--set", "model.g_kwargs.latent_dm=3"], 2, "did you mean 'latent_dim'"),
    (["run", "transgan-s", "--preset", "smoke", "--set", "model.g_kwargs.g_channels=32"], 2, "did you mean 'channels'"),
    (["run", "transgan-s", "--preset", "smoke", "--set", "train.loop_order=g-first"], 2, "MT-CT"),
    (["run", "pix2pix-facades", "--preset", "smoke", "--set", "data.direction=sideways"], 2, "data.direction"),
    ([*SMOKE, "--device", "tpu"], 2, "--device must be"),
    (["protocols", "cifar10-5k"], 2, "did you mean"),
    (["report", "/nonexistent/run"], 2, "not a run directory"),
    (["leaderboard", "cifar100"], 2, "unknown board 'cifar100'"),
    (["leaderboard", "cifar10", "--metric", "FDI"], 2, "--metric 'FDI' is not on board cifar10"),
    (["leaderboard", "cifar10", "--format", "xml"], 2, "--format must be"),
    (["reproduce", "transgan-table9"], 2, "unknown table"),
    (["reproduce", "transgan-table3", "--jobs", "0"], 2, "--jobs must be at least 1"),
    (["eval", "--protocol", "toy-shapes32"], 2, "exactly one of --run, --checkpoint, --samples, --generator"),
    (["eval", "--protocol", "toy-shapes32", "--generator", "no_such_module:make", "--seeds", "0"], 2, "--seeds must be >= 1"),
    (["data", "fetch", "lsun-bedroom"], 2, "unknown dataset or asset 'lsun-bedroom'"),
    (["bench"], 2, "name the experiment to time"),
]


@pytest.mark.parametrize("args, code, message", BAD, ids=[" ".join(a[0:1] + a[3:]) or a[0] for a, _, _ in BAD])
def test_bad_invocations_are_refused_in_one_line(args, code, message, tmp_path):
    out = tmp_path / "runs"
    if args[0] == "run":
        args = [*args, "--out", out]
    result, text = _run(args)
    assert result.exit_code == code, result.output
    assert message in text, text
    _one_error_line(result)
    assert not out.exists() or not any(out.rglob("config.json")), "a refused run left a run directory"


def test_config_errors_answer_before_torch_is_imported(tmp_path):
    """A range error is found by pure-Python validation: the command never imports torch (hence answers fast)."""
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from gbench.cli import app; "
            "r = CliRunner().invoke(app, ['run', 'dcgan', '--set', 'train.lr_g=-1', '--out', sys.argv[1]]); "
            "print(r.exit_code, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2", "False"]


def test_runtime_failures_exit_1(tmp_path, monkeypatch):
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    result, text = _run(["run", "dcgan", "--set", f"data.root={tmp_path}", "--out", tmp_path / "runs", "--device", "cpu"])
    assert result.exit_code == 1 and "gbench data fetch cifar10" in text
    _one_error_line(result)
    assert not (tmp_path / "runs").exists()


def test_unexpected_exceptions_are_one_line_unless_debugging(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("something broke\ninside")

    monkeypatch.setattr("gbench.runs.run_experiment", boom)
    result, text = _run([*SMOKE, "--out", tmp_path])
    assert result.exit_code == 1 and "RuntimeError: something broke inside" in text and "GBENCH_DEBUG=1" in text
    _one_error_line(result)
    result, _ = _run([*SMOKE, "--out", tmp_path], env={"GBENCH_DEBUG": "1"})
    assert isinstance(result.exception, RuntimeError)


def test_ctrl_c_exits_130_and_says_the_run_resumes(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("gbench.runs.run_experiment", interrupted)
    result, text = _run([*SMOKE, "--out", tmp_path])
    assert result.exit_code == 130 and "the same command resumes it" in text and "Traceback" not in result.output


# ----------------------------------------------------------------------------- outputs checked before computing


def test_unwritable_outputs_are_refused_before_any_work(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    called = []
    monkeypatch.setattr("gbench.evaluation.sources.run_eval", lambda *a, **k: called.append(1))
    monkeypatch.setattr("gbench.train.gan.GANTrainer.__init__", lambda *a, **k: called.append(1))
    for args in ([*SMOKE, "--out", blocker / "runs"],
                 ["eval", "--protocol", "toy-shapes32", "--generator", "m:f", "--out", blocker / "eval.json"],
                 ["eval", "--protocol", "toy-shapes32", "--generator", "m:f", "--out", tmp_path],
                 ["eval", "--protocol", "sr-x4-y-skimage", "--baseline", "bicubic", "--out", blocker / "x.json"],
                 ["compare", tmp_path, tmp_path, "--report", blocker / "reports"]):
        result, text = _run(args)
        assert result.exit_code == 1, (args, result.output)
        assert "--out" in text or "--report" in text
        _one_error_line(result)
    assert not called


def test_unwritable_gbench_home_is_refused_before_training(tmp_path, monkeypatch):
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("GBENCH_HOME", str(home))
    result, text = _run([*SMOKE, "--out", tmp_path / "runs", "--device", "cpu"])
    assert result.exit_code == 1 and "GBENCH_HOME" in text
    _one_error_line(result)
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_read_only_out_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result, text = _run([*SMOKE, "--out", folder / "runs"])
        assert result.exit_code == 1 and "cannot write" in text
    finally:
        folder.chmod(0o755)


def test_results_are_printed_before_a_failing_write(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("gbench.io.atomic_write_json", refuse)
    result, text = _run(["eval", "--protocol", "sr-x4-y-skimage", "--baseline", "bicubic", "--out", tmp_path / "sr.json"])
    assert result.exit_code == 1 and "could not be written" in text
    assert "bicubic" in text and "psnr" in text.lower()  # the table came first


# ----------------------------------------------------------------------------- damaged run directories


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, [*SMOKE, "--out", str(out), "--device", "cpu", "--set", "train.steps=2", "--set", "eval.at_start=false",
                                 "--set", "data.size=256", "--set", "train.batch_size_d=8", "--set", "train.batch_size_g=8"])
    assert result.exit_code == 0, result.output
    return next(out.rglob("eval.json")).parent


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_corrupt_run_files_are_named_in_one_line(finished_run, tmp_path):
    for name, remedy in (("config.json", "rewrites config.json"), ("eval.json", "rebuilds eval.json")):
        run_dir = _copy_run(finished_run, tmp_path / name / "dcgan" / finished_run.name)
        (run_dir / name).write_text("{not json")
        for args in (["report", run_dir], ["compare", run_dir, finished_run, "--report", tmp_path / "cmp"]):
            result, text = _run(args)
            assert result.exit_code == 1 and f"{run_dir / name} is unreadable" in text and remedy in text, (args, text)
            _one_error_line(result)
    run_dir = _copy_run(finished_run, tmp_path / "log" / "dcgan" / finished_run.name)
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "loss_d": 0.\n')
    result, text = _run(["report", run_dir])
    assert result.exit_code == 0 and "warning:" in text and "skipped 1 unreadable line" in text


def test_leaderboard_lists_skipped_runs(finished_run, tmp_path):
    runs = tmp_path / "runs"
    good = _copy_run(finished_run, runs / "dcgan" / finished_run.name)
    bad = _copy_run(finished_run, runs / "dcgan" / "smoke-broken")
    (bad / "eval.json").write_text("{")
    result, text = _run(["leaderboard", "shapes32", "--runs", runs, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "skipped" in text and str(bad / "eval.json") in text and good.name in text
    result, text = _run(["leaderboard", "--runs", runs])
    assert result.exit_code == 0 and "shapes32" in text  # local boards are listed beside the published ones


def test_rerun_prints_results_and_repairs_eval_json(finished_run, tmp_path, monkeypatch):
    out = tmp_path / "runs"
    run_dir = _copy_run(finished_run, out / "dcgan" / finished_run.name)
    config = json.loads((run_dir / "config.json").read_text())["config"]
    sets = [f"train.steps={config['train']['steps']}", "eval.at_start=false", f"data.size={config['data']['size']}",
            f"train.batch_size_d={config['train']['batch_size_d']}", f"train.batch_size_g={config['train']['batch_size_g']}"]
    args = [*SMOKE, "--out", out, "--device", "cpu", *[x for s in sets for x in ("--set", s)]]
    monkeypatch.setattr("gbench.train.gan.GANTrainer.evaluate", lambda *a, **k: pytest.fail("re-evaluated a finished run"))
    result, text = _run(args)
    assert result.exit_code == 0 and "complete" in text and "FID" in text, result.output
    (run_dir / "eval.json").write_text("garbage")
    result, text = _run(args)
    assert result.exit_code == 0 and "rebuilt from step-" in text
    assert json.loads((run_dir / "eval.json").read_text())["final"] == json.loads((finished_run / "eval.json").read_text())["final"]


def test_a_checkpoint_with_code_is_refused_plainly(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    path = tmp_path / "evil.pt"
    torch.save({"G": Evil()}, path, pickle_module=pickle)
    result, text = _run(["eval", "--protocol", "toy-shapes32", "--checkpoint", path, "--experiment", "dcgan", "--preset", "smoke"])
    assert result.exit_code == 1 and "refuses to load it" in text and "may carry code" in text
    assert "weights_only=False" not in text and "weights_only" not in text.replace("weights_only=True", "")
    assert not (tmp_path / "pwned").exists()
    _one_error_line(result)


def test_atomic_writes_follow_the_umask(tmp_path):
    from gbench.io import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text("x", tmp_path / "f.txt")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
