"""AutoGAN experiments (Gong et al., ICCV 2019): the discovered CIFAR-10 generator with SN-GAN's ResNet D.

The paper preset follows TAMU-VITA/AutoGAN `exps/autogan_cifar10_a.sh` run through `train_derived.py` /
`functions.py` (shared/reference/models.md section 1): hinge loss; Adam lr 2e-4, betas (0, 0.9) for G and D;
constant LR (the script does not pass `--lr_decay`); n_critic 5 with a D batch of 64 and a G batch of 128 on
fresh z; `max_iter` 50,000 G steps; an EMA of G's weights with decay 0.999 per G step, evaluated instead of G;
CIFAR-10 train, scaled to [-1, 1], no flips. IS and FID on 50k samples against the training-set statistics:
protocol `cifar10-50k` (paper: IS 8.55 +- 0.10, FID 12.42).

TransGAN's Table 2 "AutoGAN + DA" row (8.60 / 12.72) is `--set train.augment=diffaug` (DiffAugment on every
D input; policy `train.augment_policy`, here DiffAugment's color,translation,cutout: the policy TransGAN used
for it is not stated). `autogan-stl10` is the same recipe on STL-10 48x48 (train+unlabeled, resized to 48).

Deviations from the official recipe (also in each experiment's `deviations`):
- update order: the official loop makes a G step whenever `global_step % 5 == 0` right after that D step
  (D, G, D, D, D, D, G, ...); gbench runs 5 D steps, then the G step (same ratio, shifted by one D step);
- length: the official loop only stops at an epoch end, ceil(50,000 x 5 / 782) = 320 epochs = 50,048 G steps;
  gbench stops at exactly 50,000 G steps;
- spectral norm is PyTorch's parametrization (see reference_models/autogan.py); FID/IS use torch-fidelity's
  TF-compatible Inception (protocol cifar10-50k), not the TF graph.
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment

FOLLOWS = "TAMU-VITA/AutoGAN exps/autogan_cifar10_a.sh (train_derived.py, functions.py)"

RECIPE = TrainConfig(
    steps=50_000, n_critic=5, batch_size_d=64, batch_size_g=128, loss="hinge",
    lr_g=2e-4, lr_d=2e-4, betas_g=(0.0, 0.9), betas_d=(0.0, 0.9), lr_schedule="constant",
    ema=True, ema_decay=0.999, checkpoint_every=2_500, sample_every=2_500, log_every=100,
)

DEVIATIONS = (
    "5 D steps then the G step; the official loop steps G right after every 5th D step (D, G, D, D, D, D, G, ...)",
    "stops at exactly 50,000 G steps; the official loop finishes its last epoch (320 epochs = 50,048 G steps)",
    "spectral norm is PyTorch's parametrization (u warmed up at construction), not nn.utils.spectral_norm",
)

# Tiny widths for the CPU smoke path; n_critic 2 keeps the D:G ratio above one at a fraction of the cost.
SMOKE = {**SMOKE_DATA, "model.g_kwargs.g_channels": 16, "model.g_kwargs.latent_dim": 32, "model.d_kwargs.d_channels": 16,
         "train.steps": 100, "train.n_critic": 2, "train.batch_size_d": 32, "train.batch_size_g": 32,
         "train.ema_decay": 0.9,
         "train.checkpoint_every": 50, "train.sample_every": 50, "train.log_every": 10}


def _autogan() -> Experiment:
    paper = RunConfig(
        experiment="autogan",
        model=ModelConfig("autogan", "autogan"),
        data=DataConfig(dataset="cifar10", split="train", resolution=32),
        train=RECIPE,
        eval=EvalConfig(protocol="cifar10-50k", use_ema=True),
    )
    quick = {"train.steps": 20_000, "eval.protocol": "cifar10-10k"}
    return Experiment("autogan", "AutoGAN (Gong et al., 2019) discovered CIFAR-10 G + SN-GAN ResNet D", FOLLOWS, paper,
                      {"quick": quick, "smoke": SMOKE}, deviations=DEVIATIONS)


def _autogan_stl10() -> Experiment:
    paper = RunConfig(
        experiment="autogan-stl10",
        model=ModelConfig("autogan-stl10", "autogan-stl10"),
        data=DataConfig(dataset="stl10", split="train+unlabeled", resolution=48),
        train=RECIPE,
        eval=EvalConfig(protocol="stl10-48-50k", use_ema=True),
    )
    # shapes32 is 32x32: the smoke run uses the CIFAR-size (bottom width 4) generator of the same family.
    smoke = {**SMOKE, "model.g_kwargs.resolution": 32}
    return Experiment("autogan-stl10", "AutoGAN on STL-10 48x48 (bottom width 6, train+unlabeled)",
                      FOLLOWS + " recipe with models.md 1's STL-10 data (train+unlabeled, Resize(48), bottom width 6)", paper,
                      {"quick": {"train.steps": 20_000}, "smoke": smoke},
                      deviations=DEVIATIONS + ("smoke preset trains the 32x32 (bottom width 4) generator on shapes32",))


EXPERIMENTS = [_autogan(), _autogan_stl10()]
