"""TransGAN experiments: recipes resolve to the official figures, and every training switch is wired."""

import pytest
import torch

import gbench.augment
from gbench.experiments import experiments, resolve_config
from gbench.inspect import parameter_counts
from gbench.train.gan import GANTrainer, StepLog
from reference_models.transgan import LocalitySchedule

TARGETS = {  # shared/reference/transgan.md section 5 (M = 1e6)
    "transgan-s": (34.37, 12.46), "transgan-m": (49.86, 12.46), "transgan-l": (86.90, 12.46), "transgan-xl": (133.59, 12.46),
    "transgan-stl10": (150.06, 12.49), "transgan-celeba64": (132.93, 12.53), "transgan-neurips": (83.31, 10.21),
}
TINY = ["data.size=64", "model.g_kwargs.embed_dim=32", "model.g_kwargs.latent_dim=16", "model.d_kwargs.embed_dim=32",
        "model.d_kwargs.depth=1", "train.batch_size_d=4", "train.batch_size_g=4"]


def test_every_transgan_experiment_is_registered():
    assert set(TARGETS) <= set(experiments())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_paper_config_matches_official_recipe_and_counts(name):
    cfg = resolve_config(name)
    g, d = parameter_counts(cfg)
    assert abs(g / 1e6 - TARGETS[name][0]) / TARGETS[name][0] < 0.005
    assert abs(d / 1e6 - TARGETS[name][1]) / TARGETS[name][1] < 0.005
    t = cfg.train
    assert (t.loss, t.gp_weight, t.drift_weight, t.lr_g, t.lr_d, t.betas_g, t.grad_clip) == ("wgan-gp-eps", 10.0, 1e-3, 1e-4, 1e-4, (0.0, 0.99), 5.0)
    assert (t.n_critic, t.batch_size_d, t.batch_size_g) == ((5, 32, 64) if name == "transgan-stl10" else (4, 64, 128))
    assert t.steps == 500_000 and t.ema and t.ema_halflife_kimg == 500 and t.augment == "diffaug-transgan"
    assert cfg.eval.use_ema and cfg.data.flip
    assert cfg.eval.protocol == {"transgan-stl10": "stl10-48-50k", "transgan-celeba64": "celeba64-50k"}.get(name, "cifar10-50k")
    if name == "transgan-neurips":
        assert not t.co_train_sr and t.local_init == "off"
    else:
        assert t.co_train_sr and t.co_train_sr_weight == 50 and t.local_init == "band"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_one_step_of_each_experiment_at_smoke_size(name, monkeypatch):
    calls = []
    original = gbench.augment.diff_augment
    monkeypatch.setattr(gbench.augment, "diff_augment", lambda x, *a, **k: calls.append(x.shape[0]) or original(x, *a, **k))
    switches = [] if name == "transgan-neurips" else ["train.co_train_sr=true", "train.local_init=band"]
    cfg = resolve_config(name, "smoke", TINY + switches + ["train.n_critic=2"])
    torch.manual_seed(0)
    trainer = GANTrainer(cfg, torch.device("cpu"))
    before = [p.detach().clone() for p in trainer.G.parameters()]
    log = StepLog()
    trainer.train_step(log)
    values = log.means()
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())
    assert "gp" in values and "drift" in values
    assert ("sr_mse" in values) == bool(switches)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters()))
    # DiffAugment on every D input: real, fake and GP interpolates per D step, fakes in the G step
    assert len(calls) == 2 * 3 + 1


def test_locality_schedule_follows_data_epochs_on_g_and_ema():
    cfg = resolve_config("transgan-s", "smoke", TINY + ["train.local_init=band"])
    trainer = GANTrainer(cfg, torch.device("cpu"))
    trainer.sampler.epoch, trainer.sampler.offset = 30, 0  # 22 <= epoch < 32: half-width 6
    trainer.train_step(StepLog())
    for G in (trainer.G, trainer.ema.model):
        assert [m.width for m in G.modules() if isinstance(m, LocalitySchedule)] == [6]


def test_transgan_ema_beta_matches_the_official_formula():
    cfg = resolve_config("transgan-s", "smoke", TINY + ["train.ema_halflife_kimg=500", "train.ema_rampup=0.1", "train.batch_size_d=64"])
    ema = GANTrainer(cfg, torch.device("cpu")).ema
    for d_steps in (0, 1, 400, 78_125, 200_000):
        official = 0.5 ** (64 / max(min(500_000, 0.1 * 64 * d_steps), 1e-8))
        assert ema.beta(g_step=d_steps // 4, images_seen=d_steps * 64) == pytest.approx(official, rel=1e-12)


def test_local_init_switch_reaches_the_model_and_can_be_turned_off():
    on = GANTrainer(resolve_config("transgan-s", "smoke", TINY + ["train.local_init=band"]), torch.device("cpu"))
    off = GANTrainer(resolve_config("transgan-s", "smoke", TINY + ["train.local_init=off"]), torch.device("cpu"))
    assert on.G.cfg.local_init == "band" and off.G.cfg.local_init == "off"


def test_bf16_autocast_step_runs_and_keeps_fp32_weights():
    cfg = resolve_config("transgan-s", "smoke", TINY + ["train.precision=bf16"])
    trainer = GANTrainer(cfg, torch.device("cpu"))
    log = StepLog()
    trainer.train_step(log)
    assert all(torch.isfinite(torch.tensor(v)) for v in log.means().values())
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters())


def test_mt_ct_with_a_g_first_loop_is_a_clear_error():
    from gbench.errors import GBenchError

    with pytest.raises(GBenchError, match="it needs train.loop_order d-first"):
        resolve_config("transgan-s", "smoke", TINY + ["train.co_train_sr=true", "train.loop_order=g-first"])
