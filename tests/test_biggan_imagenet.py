"""BigGAN ImageNet 128 experiments (gbench/recipes/biggan.py): presets and which source each follows, the Table 1 rows
as configs (parameter counts), one training step of each switch through GANTrainer (shared, hier, ortho,
accumulation), standing statistics at evaluation, the config-hash rule for new fields, and a smoke run end to end."""

import contextlib
import copy
import json
from dataclasses import replace
from unittest import mock

import pytest
import torch
from rich.console import Console
from torch.nn.utils import parametrizations

import reference_models

from gbench.config import apply_overrides
from gbench.errors import GBenchError
from gbench.experiments import get_experiment, resolve_config
from gbench.losses import orthogonal_regularization
from gbench.models import build_models
from gbench.recipes.biggan import TABLE1_ROWS
from gbench.runs import run_experiment
from gbench.train.gan import GANTrainer, StepLog, standing_stats_copy

# Fewer images and a smaller batch than the smoke preset, for single steps.
TINY = ["data.size=64", "train.batch_size_d=8", "train.batch_size_g=8", "eval.at_start=false"]
PAPER_PARAMS_M = {1: 81.5, 2: 81.5, 3: 81.5, 4: 81.5, 5: 173.5, 6: 160.6, 7: 158.3, 8: 158.3, 9: 71.3}  # Table 1 "Param (M)"
QUIET = Console(quiet=True)


def test_presets_say_which_source_they_follow():
    exp = get_experiment("biggan-imagenet128")
    paper, quick, smoke = (exp.config(p) for p in ("paper", "quick", "smoke"))
    t = paper.train  # the paper: halved SA-GAN learning rates, two D steps, batch 2048, ortho 1e-4, EMA 0.9999 from 20k
    assert (t.lr_g, t.lr_d, t.n_critic, t.betas_g, t.betas_d) == (5e-5, 2e-4, 2, (0.0, 0.999), (0.0, 0.999))
    assert (t.batch_size_d, t.batch_size_g, t.accumulations, t.ortho_reg, t.loss) == (2048, 2048, 8, 1e-4, "hinge")
    assert (t.ema, t.ema_decay, t.ema_start_step, t.adam_eps, t.steps) == (True, 0.9999, 20_000, 1e-6, 165_000)
    assert paper.eval.protocol == "imagenet128-50k" and paper.eval.standing_stats == 16 and paper.data.dataset == "imagenet"
    q = quick.train  # the official launch_BigGAN_bs256x8.sh optimiser at its per-accumulation batch
    assert (q.lr_g, q.lr_d, q.n_critic, q.ortho_reg, q.batch_size_d, q.accumulations) == (1e-4, 4e-4, 1, 0.0, 256, 1)
    assert quick.eval.protocol == "imagenet128-10k"
    assert smoke.data.dataset == "shapes32" and smoke.eval.protocol == "toy-shapes32" and smoke.model.generator == "biggan-smoke32"
    assert smoke.train.n_critic == 2 and smoke.train.ortho_reg == 1e-4 and smoke.eval.standing_stats > 0
    assert "paper" in exp.follows.lower() and exp.deviations


@contextlib.contextmanager
def meta_device_fast():
    """Build on the meta device without spectral norm's u/v warm-up (slow through meta decompositions; no parameters)."""
    with mock.patch.object(parametrizations._SpectralNorm, "_power_method", lambda self, weight, n: None), torch.device("meta"):
        yield


def test_table1_rows_are_configs_with_the_papers_parameter_counts():
    exp = get_experiment("biggan-imagenet128")
    for number, row in enumerate(TABLE1_ROWS, start=1):
        cfg = apply_overrides(exp.config("paper"), row.overrides("paper"))
        with meta_device_fast():
            total = sum(reference_models.count_parameters(m) for m in build_models(cfg))
        assert abs(total / 1e6 - PAPER_PARAMS_M[number]) / PAPER_PARAMS_M[number] < 0.005, (row.label, total)
        assert (cfg.train.batch_size_d, cfg.train.steps) == (row.batch, row.steps)
        assert cfg.train.batch_size_d // cfg.train.accumulations == (256 if row.batch >= 256 else row.batch)
        assert (cfg.model.g_kwargs.get("shared"), cfg.model.g_kwargs.get("hier")) == (row.shared, row.hier)
        assert (cfg.train.ortho_reg > 0) == row.ortho
    row8 = TABLE1_ROWS[7]
    for preset in ("paper", "smoke"):  # the paper's BigGAN row is the experiment itself: one run directory for both
        assert apply_overrides(exp.config(preset), row8.overrides(preset)).hash() == exp.config(preset).hash()
    sagan = apply_overrides(exp.config("smoke"), TABLE1_ROWS[0].overrides("smoke"))
    assert sagan.model.g_kwargs["init"] == "xavier" and sagan.train.n_critic == 1 and sagan.train.batch_size_d == 2


@pytest.mark.parametrize("switches", [
    ["model.g_kwargs.shared=false", "model.g_kwargs.hier=false"],  # rows 1-5: per-class BN tables
    ["model.g_kwargs.hier=false"],  # row 6: shared embedding only
    [],  # rows 7-8: shared + hier (+ ortho from the preset)
    ["train.ortho_reg=0", "train.accumulations=2"],  # no ortho, two micro-batches per step
], ids=["baseline", "shared", "shared-hier-ortho", "accumulate"])
def test_one_training_step_of_each_switch(switches):
    torch.manual_seed(0)
    trainer = GANTrainer(resolve_config("biggan-imagenet128", "smoke", TINY + switches), torch.device("cpu"))
    shared, hier = "model.g_kwargs.shared=false" not in switches, "model.g_kwargs.hier=false" not in switches
    assert (trainer.G.shared is not None, trainer.G.cfg.hier) == (shared, hier)
    before = copy.deepcopy(trainer.G.state_dict())
    log = StepLog()
    trainer.train_step(log)
    values = log.means()
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())
    assert ("ortho" in values) == (trainer.cfg.train.ortho_reg > 0)
    assert any(not torch.equal(before[k], v) for k, v in trainer.G.state_dict().items())


def test_accumulation_splits_every_batch_into_micro_batches():
    trainer = GANTrainer(resolve_config("biggan-imagenet128", "smoke", TINY + ["train.accumulations=2", "train.n_critic=1"]),
                         torch.device("cpu"))
    seen = []
    forward = trainer.D.forward
    trainer.D_fwd = lambda x, y: (seen.append(x.shape[0]), forward(x, y))[1]
    trainer.train_step(StepLog())
    assert seen == [4, 4, 4, 4, 4, 4]  # D step: 2 micro-batches x (real, fake); G step: 2 micro-batches of fakes
    with pytest.raises(GBenchError, match="equal micro-batches"):
        GANTrainer(resolve_config("biggan-imagenet128", "smoke", TINY + ["train.accumulations=3"]), torch.device("cpu"))


def test_ortho_adds_its_gradient_once_per_step():
    """The G gradient with ortho minus the one without is exactly d/dW of the regulariser (BigGAN-PyTorch utils.ortho)."""
    cfg = resolve_config("biggan-imagenet128", "smoke", TINY + ["train.ortho_reg=0", "train.accumulations=2"])
    torch.manual_seed(0)
    trainer = GANTrainer(cfg, torch.device("cpu"))
    grads = []
    trainer.opt_g.step = lambda: grads.append({n: p.grad.clone() for n, p in trainer.G.named_parameters() if p.grad is not None})
    start = copy.deepcopy((trainer.G.state_dict(), trainer.D.state_dict()))  # spectral norm's u/v move at every forward
    for strength in (0.0, 0.05):
        trainer.G.load_state_dict(start[0])
        trainer.D.load_state_dict(start[1])
        trainer.cfg = replace(cfg, train=replace(cfg.train, ortho_reg=strength))
        torch.manual_seed(1)
        trainer.g_step(None)
    weights = dict(trainer.G.named_parameters())
    expected = torch.autograd.grad(orthogonal_regularization(trainer.G.ortho_weights(), 0.05), trainer.G.ortho_weights())
    by_id = {id(w): g for w, g in zip(trainer.G.ortho_weights(), expected)}
    for name, weight in weights.items():
        difference = grads[1][name] - grads[0][name]
        target = by_id.get(id(weight), torch.zeros_like(weight))
        assert torch.allclose(difference, target, atol=1e-6), name
    assert not any(by_id.get(id(w)) is not None for n, w in weights.items() if n.startswith("shared."))  # the embedding is exempt


def test_adam_eps_and_standing_statistics():
    cfg = resolve_config("biggan-imagenet128", "smoke", TINY)
    torch.manual_seed(0)
    trainer = GANTrainer(cfg, torch.device("cpu"))
    assert trainer.opt_g.defaults["eps"] == trainer.opt_d.defaults["eps"] == cfg.train.adam_eps == 1e-6  # the official script's
    trainer.train_step(StepLog())
    G = trainer.eval_generator
    saved = copy.deepcopy(G.state_dict())
    standing = standing_stats_copy(G, 3, 16, torch.device("cpu"))
    assert all(torch.equal(saved[k], v) for k, v in G.state_dict().items())  # the evaluated EMA generator is untouched
    again = standing_stats_copy(G, 3, 16, torch.device("cpu"))
    means = [k for k in saved if k.endswith("running_mean")]
    assert means and all(torch.equal(standing.state_dict()[k], again.state_dict()[k]) for k in means)  # same seeded batches
    assert any(not torch.equal(standing.state_dict()[k], saved[k]) for k in means)
    assert not standing.training
    with pytest.raises(GBenchError, match="standing_stats"):
        GANTrainer(resolve_config("biggan-imagenet128", "smoke", TINY + ["eval.standing_stats=-1"]), torch.device("cpu"))


def test_new_fields_enter_the_hash_only_when_set():
    cfg = resolve_config("dcgan", "smoke")
    data = cfg.to_dict()
    assert data["train"]["ortho_reg"] == 0.0 and data["eval"]["standing_stats"] == 0  # present in config.json ...
    for change in ("train.ortho_reg=1e-4", "train.adam_eps=1e-6", "train.accumulations=2", "eval.standing_stats=4"):
        assert apply_overrides(cfg, [change]).hash() != cfg.hash(), change  # ... and hashed once set
    assert apply_overrides(cfg, ["train.ortho_reg=0"]).hash() == cfg.hash()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A 4-step smoke run (its generator is inverted by tests/test_invert_cli.py-style tests below)."""
    out = tmp_path_factory.mktemp("biggan128_runs")
    cfg = resolve_config("biggan-imagenet128", "smoke", ["data.size=256", "train.steps=4", "train.checkpoint_every=2",
                                                         "train.log_every=2", "train.sample_every=4", "eval.at_start=false"])
    run_dir = run_experiment(cfg, out=out, device="cpu", console=QUIET)
    return out, cfg, run_dir


def test_smoke_run_end_to_end(smoke_run):
    _, cfg, run_dir = smoke_run
    final = json.loads((run_dir / "eval.json").read_text())["final"]
    assert final["step"] == 4 and final["generator"] == "ema" and final["fingerprint"].startswith("toy-shapes32@")
    assert all(torch.isfinite(torch.tensor(v)) for v in final["metrics"].values())
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("ortho" in r for r in log) and (run_dir / "report.md").exists()


# --------------------------------------------------------------------------- gbench invert and the dgp-inversion table


@pytest.fixture()
def fast_smoke_inversion(monkeypatch):
    """Smoke inversions of a few steps on 4 images (the code path of the smoke preset, shorter)."""
    import gbench.inversion.restore as restore
    from gbench.protocols import PROTOCOLS

    monkeypatch.setattr(restore, "SMOKE_ITERATION_SCALE", 0.01)
    monkeypatch.setattr(restore, "SMOKE_SELECT_NUM", 4)
    monkeypatch.setitem(PROTOCOLS, "dgp-shapes32", replace(PROTOCOLS["dgp-shapes32"], n_gen=4, n_ref=4))


def _invoke(*args):
    from typer.testing import CliRunner

    from gbench.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_invert_cli_end_to_end_on_the_smoke_protocol(smoke_run, tmp_path, fast_smoke_inversion):
    _, _, run_dir = smoke_run
    args = ["invert", "biggan-imagenet128", "--preset", "smoke", "--task", "colorization", "--protocol", "dgp-shapes32",
            "--run", run_dir, "--batch-size", 3, "--out", tmp_path / "inv", "--device", "cpu"]
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "inv" / "biggan-imagenet128").iterdir()
    assert folder.name.startswith("smoke-dgp-colorization-dgp-shapes32-")
    assert len(list((folder / "restored").glob("*.png"))) == 4 and len(list((folder / "degraded").glob("*.png"))) == 4
    ev = json.loads((folder / "eval.json").read_text())
    assert ev["final"]["fingerprint"].startswith("dgp-shapes32@") and ev["n"] == 4 and ev["speed"]["images_per_second"] > 0
    assert set(ev["final"]["metrics"]) == {"psnr", "ssim_x100", "mse_x1e-3"} and ev["final"]["comparable_to"] == ""
    rows = (folder / "per_image.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("index,name,label,psnr,ssim,mse")
    report = (folder / "report.md").read_text()
    assert "Not comparable" in report and "img/s" in report and "![before and after](grid.png)" in report
    assert (folder / "report.html").read_text().count("data:image/png;base64") == 1
    from gbench.leaderboard.rows import local_rows

    local = [r for r in local_rows(tmp_path / "inv") if r.metric == "psnr"]
    assert local and local[0].board == "gan_inversion" and local[0].model == "DGP (biggan-imagenet128)"
    again = _invoke(*args)
    assert again.exit_code == 0 and "finished already" in again.output


def test_invert_a_folder_with_and_without_labels(smoke_run, tmp_path, fast_smoke_inversion):
    from PIL import Image

    _, _, run_dir = smoke_run
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, size in enumerate([(40, 30), (32, 32)]):
        Image.fromarray(torch.randint(0, 255, (size[1], size[0], 3), dtype=torch.uint8).numpy()).save(folder / f"p{i}.png")
    (folder / "labels.txt").write_text("p1.png 7\n")
    result = _invoke("invert", "biggan-imagenet128", "--preset", "smoke", "--task", "inpainting", "--images", folder,
                     "--method", "optimize-z", "--run", run_dir, "--out", tmp_path / "inv", "--device", "cpu")
    assert result.exit_code == 0, result.output
    (out,) = (tmp_path / "inv" / "biggan-imagenet128").iterdir()
    rows = [line.split(",") for line in (out / "per_image.csv").read_text().splitlines()[1:]]
    assert [r[1] for r in rows] == ["p0.png", "p1.png"] and rows[1][2] == "7" and 0 <= int(rows[0][2]) < 10  # chosen class
    assert json.loads((out / "eval.json").read_text())["final"]["fingerprint"].startswith("folder@")
    # the same weights as a checkpoint file (the hook for imported released weights): same restorations and scores
    checkpoint = sorted((run_dir / "checkpoints").glob("*.pt"))[-1]
    result = _invoke("invert", "biggan-imagenet128", "--preset", "smoke", "--task", "inpainting", "--images", folder,
                     "--method", "optimize-z", "--checkpoint", checkpoint, "--out", tmp_path / "inv2", "--device", "cpu")
    assert result.exit_code == 0, result.output
    (out2,) = (tmp_path / "inv2" / "biggan-imagenet128").iterdir()
    assert (out2 / "per_image.csv").read_text() == (out / "per_image.csv").read_text()


def test_invert_user_errors_are_one_line(smoke_run, tmp_path):
    _, _, run_dir = smoke_run
    cases = [  # (arguments, message, exit status: 2 for a usage error, 1 for a failure while running)
        (["--task", "denoise", "--protocol", "dgp-shapes32", "--run", run_dir], "unknown task 'denoise'", 2),
        (["--task", "sr4", "--protocol", "dgp-shapes32", "--images", tmp_path, "--run", run_dir], "exactly one of", 2),
        (["--task", "sr4", "--protocol", "dgp-shapes32", "--run", run_dir, "--method", "encoder"], "not in gbench", 2),
        (["--task", "sr4", "--protocol", "toy-shapes32", "--run", run_dir], "not a restoration protocol", 2),
        (["--task", "sr4", "--protocol", "dgp-shapes32", "--preset", "paper"], "no finished run of biggan-imagenet128", 1),
    ]
    for args, message, code in cases:
        result = _invoke("invert", "biggan-imagenet128", *args, "--out", tmp_path / "x", "--runs", tmp_path / "runs")
        assert result.exit_code == code and message in result.output and "Traceback" not in result.output, (args, result.output)
    G_only = tmp_path / "g.pt"
    torch.save({"trainer": {"G": {}, "step": 1}}, G_only)
    result = _invoke("invert", "biggan-imagenet128", "--preset", "smoke", "--task", "sr4", "--protocol", "dgp-shapes32",
                     "--checkpoint", G_only, "--out", tmp_path / "x")
    assert result.exit_code == 1 and "no discriminator" in result.output


def test_reproduce_dgp_inversion_smoke_renders_measured_rows_beside_the_paper(smoke_run, tmp_path, fast_smoke_inversion):
    from gbench import tables
    from gbench.report.table_report import render_table_report

    out, _, _ = smoke_run
    extra = ("data.size=256", "train.steps=4", "train.checkpoint_every=2", "train.log_every=2", "train.sample_every=4",
             "eval.at_start=false")  # the smoke_run fixture's overrides: its run is the generator, nothing is trained again
    plan, measured, failed = tables.reproduce("dgp-inversion", preset="smoke", out=out, extra=extra, device="cpu", console=QUIET)
    assert not failed
    by_row = {(m.row, m.column): m for m in measured}
    for row in ("(a) optimize z", "DGP"):
        m = by_row[(row, "psnr")]
        assert m.values and m.cell.paper is not None and m.comparable is False and "smoke preset" in m.why
        assert m.fingerprints[0].startswith("dgp-shapes32@")
    assert by_row[("(b) encoder", "psnr")].status.startswith("not available: needs an encoder")
    paths = render_table_report(plan, measured, tmp_path / "reports")
    text = paths["md"].read_text()
    assert "not comparable to the paper" in text and "32.89" in text and "gbench invert --task reconstruct --method dgp" in text
    assert "Compute of the paper preset" in text
    paper = tables.plan(tables.get_table("dgp-inversion"), preset="paper", out=out)
    assert all(pc.unavailable for pc in paper.cells)  # no released checkpoint here: every cell says what it needs
    assert "biggan-imagenet128.pt" in paper.cells[0].unavailable
