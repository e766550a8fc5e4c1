"""Progressive growing (gbench/growth.py, gbench/train/progressive.py) and the progan-* / stylegan-* experiments:
the official schedule, the processing of reals, Adam resets, exact resume in the middle of a fade, the smoke runs end
to end, `gbench sample --truncation`, the style-mixing figure, and the tables that map to these experiments."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from gbench import losses
from gbench.checkpoint import load_latest_checkpoint
from gbench.cli import app
from gbench.data.base import dataset_level
from gbench.errors import GBenchError
from gbench.experiments import get_experiment, resolve_config
from gbench.growth import GrowthSchedule, parse_per_resolution, steps_for_kimg
from gbench.runs import run_dir_for, run_experiment, train_and_evaluate
from gbench.train.progressive import ProgressiveTrainer, fade_and_upscale

QUIET = Console(quiet=True)
EXPERIMENTS = ("progan-cifar10", "progan-celebahq", "progan-ffhq", "stylegan-ffhq", "stylegan-celebahq")


# ----------------------------------------------------------------------------- the schedule


def _schedule(name: str, preset: str = "paper", resolution: int = 1024) -> GrowthSchedule:
    return GrowthSchedule.from_config(get_experiment(name).config(preset).train, resolution)


def test_schedule_follows_the_official_training_schedule():
    s = _schedule("stylegan-ffhq")  # train.py: 8x8 start, 600 + 600 kimg, -8gpu minibatches, lr dict
    expected = {  # nimg: (lod, resolution, minibatch, lr), worked out by hand from training_schedule()
        0: (7.0, 8, 256, 0.001), 600_000: (7.0, 8, 256, 0.001), 900_000: (6.5, 16, 128, 0.001), 1_200_000: (6.0, 16, 128, 0.001),
        7_500_000: (1.0, 512, 32, 0.003), 8_100_000: (0.5, 1024, 32, 0.003), 9_000_000: (0.0, 1024, 32, 0.003),
        25_000_000: (0.0, 1024, 32, 0.003),
    }
    for nimg, (lod, res, mb, lr) in expected.items():
        p = s.at(nimg)
        assert (p.lod, p.resolution, p.minibatch, p.lr_g, p.lr_d) == pytest.approx((lod, res, mb, lr, lr)), nimg
    assert s.at(900_000).alpha == pytest.approx(0.5) and s.at(1_200_000).alpha == 1.0
    v1 = _schedule("progan-celebahq")  # preset-v1-1gpu: 4x4 start, 800 + 800 kimg, {256: 14, 512: 6, 1024: 3}
    assert (v1.at(0).lod, v1.at(0).resolution, v1.at(0).minibatch) == (8.0, 4, 16)
    assert (v1.at(11_200_000).lod, v1.at(11_200_000).minibatch) == (1.0, 6)
    p = v1.at(12_400_000)
    assert (p.lod, p.resolution, p.minibatch) == (0.5, 1024, 3)
    assert _schedule("stylegan-celebahq").at(8_100_000).lr_g == 0.002  # -wgangp caps the learning rates at 0.002


def test_steps_for_kimg_counts_whole_rounds_like_the_official_loop():
    for name, preset, res in (("stylegan-ffhq", "quick", 128), ("progan-cifar10", "quick", 32), ("progan-cifar10", "smoke", 32)):
        s = _schedule(name, preset, res)
        for kimg in (0.5, 1.6, 33.3, 777.0):
            nimg = steps = 0
            while nimg < kimg * 1000:  # the official while loop, one round of minibatch_repeats minibatches at a time
                nimg += s.at(nimg).minibatch * s.repeats
                steps += s.repeats
            assert s.steps_for_kimg(kimg) == steps, (name, kimg)
    cfg = get_experiment("stylegan-ffhq").config("paper")
    assert cfg.train.steps == steps_for_kimg(cfg.train, 1024, 25_000)
    for name in EXPERIMENTS:  # every smoke preset: 5 phases (8, fade, 16, fade, 32) in 200 minibatches
        smoke = get_experiment(name).config("smoke").train
        assert smoke.steps == steps_for_kimg(smoke, 32, 5 * smoke.lod_training_kimg) == 200


def test_per_resolution_strings_are_checked():
    assert parse_per_resolution("4:128, 8:64", "minibatch_per_res", int) == {4: 128, 8: 64}
    for bad in ("4=128", "3:16", "8:-1", "8:x"):
        with pytest.raises(GBenchError, match="resolution:value"):
            parse_per_resolution(bad, "minibatch_per_res", int)
    cfg = resolve_config("progan-cifar10", "smoke", ["data.size=256", "train.lod_initial_resolution=64"])
    with pytest.raises(GBenchError, match="lod_initial_resolution must be a power of two in 4..32"):
        ProgressiveTrainer(cfg, torch.device("cpu"))


# ----------------------------------------------------------------------------- reals and losses


def test_dataset_level_is_dataset_tools_lower_resolution():
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    img = images.numpy().astype(np.float32)
    for factor in (1, 2, 4, 8):  # dataset_tool.py add_image: repeated 2x2 float averages, np.rint per level
        reference = np.rint(img).clip(0, 255).astype(np.uint8)
        assert np.array_equal(dataset_level(images, factor).numpy(), reference)
        img = (img[:, :, 0::2, 0::2] + img[:, :, 0::2, 1::2] + img[:, :, 1::2, 0::2] + img[:, :, 1::2, 1::2]) * 0.25


def test_fade_and_upscale_is_process_reals_at_alpha_0_half_and_1():
    x = torch.randn(2, 3, 8, 8)
    blocks = x.reshape(2, 3, 4, 2, 4, 2).mean(dim=(3, 5))  # the 2x2 box means, by hand
    coarse = blocks.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    assert torch.equal(fade_and_upscale(x, 0.0), x)  # lod 0: the full-resolution image
    assert torch.equal(fade_and_upscale(x, 2.0), x.repeat_interleave(4, 2).repeat_interleave(4, 3))  # alpha 1: only UpscaleLOD
    half = fade_and_upscale(x, 1.5)  # alpha 0.5: half the image, half its 2x2 box version, then x2 nearest
    assert torch.allclose(half, (0.5 * x + 0.5 * coarse).repeat_interleave(2, 2).repeat_interleave(2, 3), atol=1e-6)
    almost = fade_and_upscale(x, 1.0 + 1 - 1e-6)  # alpha -> 0: the coarse image
    assert torch.allclose(almost, coarse.repeat_interleave(2, 2).repeat_interleave(2, 3), atol=1e-5)


def test_progan_losses_gradient_target_and_mean_square_drift():
    w = torch.randn(1, 3, 4, 4)
    critic = lambda x: (x * w).flatten(1).sum(1)  # constant gradient w: ||grad|| = ||w||
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    norm = float(w.norm())
    for target in (1.0, 750.0):
        assert float(losses.gradient_penalty(critic, real, fake, target)) == pytest.approx((norm - target) ** 2 / target**2, rel=1e-5)
    logits = torch.tensor([1.0, -3.0, 2.0])
    assert float(losses.mean_square_drift(logits)) == pytest.approx(14 / 3) and float(losses.drift_penalty(logits)) == 0.0
    assert losses.d_loss("wgan-gp-drift", logits, -logits).item() == pytest.approx(float(-2 * logits.mean()))


# ----------------------------------------------------------------------------- the trainer


def _trainer(name: str = "progan-cifar10", extra=()) -> ProgressiveTrainer:
    cfg = resolve_config(name, "smoke", ["data.size=256", *extra])
    torch.manual_seed(0)
    return ProgressiveTrainer(cfg, torch.device("cpu"))


def test_rounds_set_lod_minibatch_and_learning_rates_and_reset_adam_at_lod_changes():
    trainer = _trainer("stylegan-ffhq", ["train.lr_g_per_res=32:0.002"])
    seen, resets = [], []
    for round_ in range(50):  # the smoke schedule: 40 minibatches per stable phase and per fade, 8 -> 16 -> 32
        step = 4 * round_
        trainer.step = step
        trainer._begin_round()
        p = trainer.phase
        seen.append((step, p.lod, p.resolution))
        if not trainer.opt_g.state and not trainer.opt_d.state:
            resets.append(step)
        assert float(trainer.G.lod) == float(trainer.D.lod) == pytest.approx(p.lod) and trainer.G.fade_alpha == pytest.approx(p.alpha)
        assert trainer.sampler.batch_size == trainer.g_batch_size == p.minibatch == 8
        assert trainer.opt_g.param_groups[0]["lr"] == (0.002 if p.resolution == 32 else 0.001)
        for opt, net in ((trainer.opt_g, trainer.G), (trainer.opt_d, trainer.D)):  # stand-in Adam state until the next reset
            opt.state[next(net.parameters())]["step"] = torch.tensor(1.0)
        trainer.nimg += 4 * p.minibatch
    # floor(lod) changes where a fade starts (nimg 352, 992), ceil(lod) where it ends (640, 1280): by hand
    assert resets == [0, 44, 80, 124, 160]
    assert [lod for s, lod, _ in seen if s in (40, 44, 80, 124)] == pytest.approx([2.0, 1.9, 1.0, 0.9])
    assert seen[-1][1:] == (0.0, 32)
    small = _trainer("stylegan-ffhq", ["train.minibatch_per_res=8:4,16:6"])
    small._begin_round()
    assert small.sampler.batch_size == small.g_batch_size == 4 and small.images_per_step == 4


def test_reals_are_the_dataset_level_faded_and_upscaled():
    trainer = _trainer()
    t = trainer.cfg.train
    trainer.nimg, trainer.step = int(1000 * (t.lod_training_kimg + t.lod_transition_kimg / 2)), 60  # mid 8 -> 16 fade: lod 1.5
    trainer._begin_round()
    assert trainer.phase.lod == pytest.approx(1.5)
    state = trainer.sampler.state_dict()
    real, labels = trainer.real_batch()
    trainer.sampler.load_state_dict(state)
    idx = trainer.sampler.next_indices()
    level = dataset_level(trainer.data.images[idx], 2).float() / 127.5 - 1  # the 16x16 dataset level in [-1, 1]
    expected = fade_and_upscale(level, 1.5)
    assert labels is None and real.shape == (t.batch_size_d, 3, 32, 32) and torch.allclose(real, expected, atol=1e-6)


def test_the_progressive_trainer_refuses_what_the_official_loop_does_not_do():
    with pytest.raises(GBenchError, match="n_critic=1"):
        _trainer(extra=["train.n_critic=2"])
    with pytest.raises(GBenchError, match="data is 32x32 but the networks are 64x64"):
        _trainer(extra=["model.g_kwargs.resolution=64", "model.d_kwargs.resolution=64"])
    with pytest.raises(GBenchError, match="not a growing generator"):
        ProgressiveTrainer(resolve_config("dcgan", "smoke", ["data.size=256", "train.n_critic=1"]), torch.device("cpu"))


def test_resume_in_the_middle_of_a_fade_equals_the_uninterrupted_run(tmp_path):
    """Two short runs (84 minibatches, one toy evaluation each): the checkpoint at minibatch 70 lies inside the
    8 -> 16 fade (lod 1.3) and inside a round of 4; the resumed run must end with the same weights, EMA, optimizer
    state, log and figures, through the Adam reset where the fade ends (minibatch 80)."""
    sets = ["data.size=512", "train.steps=84", "train.batch_size_d=8", "train.batch_size_g=8", "train.lod_training_kimg=0.32",
            "train.lod_transition_kimg=0.32", "train.checkpoint_every=10", "train.log_every=4", "train.sample_every=0",
            "eval.at_start=false"]
    cfg = resolve_config("progan-cifar10", "smoke", sets)
    full = train_and_evaluate(cfg, task="progressive", out=tmp_path / "a", device="cpu", console=QUIET)
    part = train_and_evaluate(cfg, task="progressive", out=tmp_path / "b", device="cpu", console=QUIET, stop_after=73)
    state, path = load_latest_checkpoint(part)
    assert path.name == "step-00000070.pt" and not (part / "eval.json").exists()
    trainer_state = state["trainer"]
    assert trainer_state["phase"]["lod"] == pytest.approx(1.3) and 1 < trainer_state["phase"]["lod"] < 2
    assert float(trainer_state["G"]["lod"]) == float(trainer_state["G_ema"]["lod"]) == pytest.approx(1.3)
    resumed = train_and_evaluate(cfg, task="progressive", out=tmp_path / "b", device="cpu", console=QUIET)
    final = lambda d: json.loads((d / "eval.json").read_text())["final"]["metrics"]
    assert final(resumed) == final(full)
    a, b = load_latest_checkpoint(full)[0]["trainer"], load_latest_checkpoint(resumed)[0]["trainer"]
    for key in ("G", "D", "G_ema"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    assert a["nimg"] == b["nimg"] == 84 * cfg.train.batch_size_d and a["phase"] == b["phase"] and a["prev_lod"] == b["prev_lod"] == 1.0
    for opt in ("opt_g", "opt_d"):
        sa, sb = a[opt]["state"], b[opt]["state"]
        assert sa.keys() == sb.keys() and all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    strip = lambda d: [{k: v for k, v in json.loads(line).items() if k != "img_per_s"} for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert strip(resumed) == strip(full)


# ----------------------------------------------------------------------------- experiments and smoke runs


def test_the_four_experiments_and_their_paper_recipes():
    for name in EXPERIMENTS:
        exp = get_experiment(name)
        assert exp.task == "progressive" and {"quick", "smoke"} <= set(exp.presets) and exp.deviations
        smoke = exp.config("smoke")
        assert smoke.data.dataset == "shapes32" and smoke.eval.protocol == "toy-shapes32" and smoke.train.steps == 200
    cifar = get_experiment("progan-cifar10").config("paper")
    assert (cifar.train.loss, cifar.train.gp_target, cifar.train.drift_weight, cifar.data.flip) == ("wgan-gp-drift", 750.0, 1e-3, False)
    assert (cifar.train.lod_training_kimg, cifar.train.batch_size_d, cifar.model.d_kwargs) == (800.0, 16, {"mbstd_group_size": 16})
    assert cifar.eval.protocol == "cifar10-50k" and cifar.train.ema_decay == 0.999 and cifar.train.ema_halflife_kimg == 0
    ffhq = get_experiment("stylegan-ffhq").config("paper")
    assert (ffhq.train.loss, ffhq.train.r1_gamma, ffhq.train.ema_halflife_kimg, ffhq.data.flip) == ("ns", 10.0, 10.0, True)
    assert (ffhq.train.lod_initial_resolution, ffhq.train.betas_g, ffhq.eval.protocol) == (8, (0.0, 0.99), "ffhq-50k")
    hq = get_experiment("stylegan-celebahq").config("paper")
    assert (hq.train.loss, hq.train.r1_gamma, hq.eval.protocol) == ("wgan-gp-drift", 0.0, "celebahq-50k")
    assert get_experiment("progan-celebahq").config("quick").eval.protocol == "celebahq128-10k"


def test_late_config_fields_stay_out_of_the_hash_until_set():
    cfg = resolve_config("dcgan", "smoke")
    assert resolve_config("dcgan", "smoke", ["train.gp_target=1.0", "train.minibatch_repeats=4"]).hash() == cfg.hash()
    assert resolve_config("dcgan", "smoke", ["train.gp_target=2"]).hash() != cfg.hash()


@pytest.fixture(scope="module")
def progan_smoke(tmp_path_factory):
    """`gbench run progan-cifar10 --preset smoke`, the whole preset (200 minibatches of 16, 8 -> 16 -> 32, two toy evaluations)."""
    out = tmp_path_factory.mktemp("progan_smoke")
    result = CliRunner().invoke(app, ["run", "progan-cifar10", "--preset", "smoke", "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return next((out / "progan-cifar10").iterdir())


def test_progan_cifar10_smoke_end_to_end(progan_smoke):
    run_dir = progan_smoke
    ev = json.loads((run_dir / "eval.json").read_text())
    first, final = ev["evaluations"][0], ev["final"]
    assert first["step"] == 0 and final["step"] == 200 and final["generator"] == "ema"
    # 200 minibatches of growing 8 -> 32 do not move the toy scores measurably: FID 50.6 -> 51.6, KID x 10^3 1237 -> 1231
    # (std 46) when measured (the classifier of issue 14 gives blobs little credit; the old weaker one read 250 -> 182). So
    # the test asks for finite scores of a generator that changed, and the growth itself is checked below.
    assert final["fingerprint"].startswith("toy-shapes32@") and final["fingerprint"] == first["fingerprint"]
    for key in ("fid", "kid_mean", "is_mean"):
        assert math.isfinite(final["metrics"][key]) and final["metrics"][key] != first["metrics"][key], key
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if "lod" in line]
    assert log[0]["resolution"] == 8 and log[-1]["resolution"] == 32 and log[-1]["lod"] == 0.0
    assert any(0 < r["lod"] < 1 for r in log) and any(1 < r["lod"] < 2 for r in log) and "gp" in log[-1] and "drift" in log[-1]
    state, _ = load_latest_checkpoint(run_dir)
    assert float(state["trainer"]["G_ema"]["lod"]) == 0.0 and state["trainer"]["nimg"] == 200 * 16
    report = (run_dir / "report.md").read_text()
    assert "toy-shapes32@" in report and "## Style mixing" not in report and not (run_dir / "samples" / "style-mixing.png").exists()


SHORT = ["data.size=256", "train.lod_training_kimg=0.048", "train.lod_transition_kimg=0.048", "train.steps=28",
         "train.checkpoint_every=28", "train.sample_every=28", "train.log_every=4", "eval.at_start=false"]


def _short_run(name: str, out) -> tuple:
    """The smoke preset with phases of 6 minibatches (28 in all): it grows 8 -> 16 -> 32 in a few seconds."""
    cfg = resolve_config(name, "smoke", SHORT)
    run_dir = run_experiment(cfg, out=out, device="cpu", console=QUIET)
    assert run_dir == run_dir_for(cfg, out)
    return cfg, run_dir


@pytest.fixture(scope="module")
def stylegan_short(tmp_path_factory):
    out = tmp_path_factory.mktemp("stylegan_short")
    return out, _short_run("stylegan-ffhq", out)[1]


def _check_short_run(name: str, run_dir) -> None:
    final = json.loads((run_dir / "eval.json").read_text())["final"]
    assert final["step"] == 28 and final["fingerprint"].startswith("toy-shapes32@")
    assert all(math.isfinite(v) for v in final["metrics"].values())
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if "lod" in line]
    assert log[-1]["resolution"] == 32 and log[-1]["lod"] == 0.0 and any(0 < r["lod"] < 2 and r["lod"] != 1 for r in log)
    assert log[-1]["loss_d"] == log[-1]["loss_d"] and (run_dir / "report.md").exists()
    assert (run_dir / "samples" / "style-mixing.png").exists() == name.startswith("stylegan")


@pytest.mark.parametrize("name", ["progan-celebahq", "progan-ffhq", "stylegan-celebahq"])
def test_other_smoke_presets_grow_train_and_evaluate(name, tmp_path):
    _check_short_run(name, _short_run(name, tmp_path)[1])


def test_stylegan_run_grows_and_reports_the_style_mixing_figure(stylegan_short):
    _, run_dir = stylegan_short
    _check_short_run("stylegan-ffhq", run_dir)
    state, _ = load_latest_checkpoint(run_dir)
    trainer = state["trainer"]
    assert float(trainer["G_ema"]["synthesis.lod"]) == 0.0 and trainer["nimg"] == 28 * 8
    assert trainer["G"]["mapping.w_avg"].abs().sum() > 0  # w_avg is tracked in training mode (it starts at zero)
    report = (run_dir / "report.md").read_text()
    assert "## Style mixing" in report and "![style mixing](samples/style-mixing.png)" in report
    from PIL import Image

    assert Image.open(run_dir / "samples" / "style-mixing.png").size == (6 * 34 + 2, 7 * 34 + 2)  # 5 sources + 1, 6 destinations + 1


def test_sample_with_truncation(stylegan_short, tmp_path):
    from PIL import Image

    from gbench.sample import load_generator, sample

    runs_root, _ = stylegan_short
    result = CliRunner().invoke(app, ["sample", "stylegan-ffhq", "--truncation", "0.7", "--n", "6", "--runs", str(runs_root),
                                      "--out", str(tmp_path / "faces.png")])
    assert result.exit_code == 0, result.output
    assert "truncation psi 0.7" in result.output and Image.open(tmp_path / "faces.png").size == (3 * 34 + 2, 2 * 34 + 2)
    truncated = sample("stylegan-ffhq", n=6, runs_root=runs_root, truncation=0.7).images
    plain = sample("stylegan-ffhq", n=6, runs_root=runs_root).images
    G, _ = load_generator("stylegan-ffhq", runs_root=runs_root)
    z = torch.randn(6, G.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)  # the noise inputs draw from the global RNG, seeded with the sample seed
        by_hand = G.synthesis(G.truncate(G.mapping(z)[:, None].expand(-1, G.num_ws, -1), 0.7))
    assert torch.equal(truncated, ((by_hand + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))
    assert not torch.equal(truncated, plain)
    zero = sample("stylegan-ffhq", n=2, runs_root=runs_root, truncation=0.0, seed=3).images  # psi 0: every w is w_avg
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(3)
        mean_face = G.synthesis(G.mapping.w_avg.expand(2, G.num_ws, -1))
    assert torch.equal(zero, ((mean_face + 1) * 127.5).round().clamp(0, 255).to(torch.uint8))


def test_truncation_needs_a_style_based_generator():
    import reference_models
    from gbench.sample import generate_samples

    G = reference_models.build_generator("progan-cifar10", fmap_base=64, fmap_max=8)
    with pytest.raises(GBenchError, match="--truncation needs a style-based generator"):
        generate_samples(G, 2, truncation=0.7)


# ----------------------------------------------------------------------------- tables


def test_stylegan_table1_and_transgan_table5_cells():
    from gbench.recipes.stylegan import TABLE1
    from gbench.tables import specs

    t = specs.get_table("stylegan-table1")
    assert t.columns == ("CelebA-HQ", "FFHQ") and len(t.cells) == 12 and not any(c.unavailable for c in t.cells)
    paper = {(c.row[0], c.column): c.paper for c in t.cells}
    assert paper[("A", "CelebA-HQ")] == 7.79 and paper[("A", "FFHQ")] == 8.04 and paper[("F", "FFHQ")] == 4.40
    assert paper[("B", "FFHQ")] == 5.25 and paper[("E", "CelebA-HQ")] == 5.06
    a = t.cell("A Baseline Progressive GAN", "FFHQ")
    assert a.experiment == "progan-ffhq" and a.overrides == () and a.paper_protocol == "ffhq-50k"
    b = t.cell("B + Tuning (incl. bilinear up/down)", "CelebA-HQ")
    assert b.experiment == "stylegan-celebahq" and b.paper_protocol == "celebahq-50k"
    assert dict(b.overrides) == {"model.g_kwargs.use_styles": False, "model.g_kwargs.use_pixel_norm": True,
                                 "model.g_kwargs.use_instance_norm": False, "model.g_kwargs.mapping_layers": 0,
                                 "model.g_kwargs.const_input_layer": False, "model.g_kwargs.style_mixing_prob": 0.0,
                                 "model.g_kwargs.use_noise": False}
    assert t.cell("F + Mixing regularization", "FFHQ").overrides == () and TABLE1["E"] == {"style_mixing_prob": 0.0}
    for cell in t.cells:  # every cell's config resolves and builds at smoke size
        cfg = resolve_config(cell.experiment, "smoke", [f"{k}={json.dumps(v)}" for k, v in cell.overrides])
        from gbench.models import build_models

        G, _ = build_models(cfg)
        assert G(torch.randn(2, G.latent_dim)).shape == (2, 3, 32, 32)
    row = specs.get_table("transgan-table5").cell("Progressive-GAN (Karras et al., 2017)", "IS")
    assert (row.experiment, row.paper, row.paper_std, row.paper_protocol, row.unavailable) == ("progan-cifar10", 8.80, 0.05, "cifar10-50k", "")
