"""DCGAN experiments (pytorch/examples recipe): `dcgan` (32x32, CIFAR-10), `dcgan-64` (CelebA 64x64) and the
class-conditional `cdcgan` (CIFAR-10, gbench design, models.md 5b).

pytorch/examples `dcgan/main.py`: BCE (non-saturating G loss: fakes labelled real), Adam lr 2e-4 betas (0.5, 0.999)
for G and D, one D step then one G step on the same batch size, N(0, 0.02) init, 25 epochs (`niter`); gbench uses
the paper's batch 128 (the examples default to 64). `cdcgan` keeps that recipe and conditions both networks on the
class (G: z ++ Embedding(10, 50)(y); D: an extra input plane from Embedding(10, 1024)(y)); fake labels are drawn
uniformly, real labels come with the data.

Deviations: BCE-with-logits instead of Sigmoid + BCELoss (the same loss); batch 128 instead of 64; `dcgan-64`
trains on CelebA's train split (crop 108, resize 64) where the examples read every aligned image; `dcgan` and
`cdcgan` are gbench's 32x32 designs (models.md 3b, 5b).
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment

# The CPU smoke preset shared by the three: 16-channel networks on shapes32, plus an EMA so smoke exercises EMA evaluation.
SMOKE = {**SMOKE_DATA, "model.g_kwargs.g_channels": 16, "model.d_kwargs.d_channels": 16, "train.steps": 150,
         "train.batch_size_d": 64, "train.batch_size_g": 64, "train.ema": True, "train.ema_decay": 0.95, "eval.use_ema": True,
         "train.checkpoint_every": 50, "train.sample_every": 50, "train.log_every": 10}


def _dcgan() -> Experiment:
    paper = RunConfig(
        experiment="dcgan",
        model=ModelConfig("dcgan", "dcgan"),
        data=DataConfig(dataset="cifar10", split="train", resolution=32),
        # pytorch/examples: 25 epochs; at the paper's batch 128 that is 25 x 390 = 9,750 G steps on CIFAR-10.
        train=TrainConfig(steps=9_750, n_critic=1, batch_size_d=128, batch_size_g=128, loss="ns", lr_g=2e-4, lr_d=2e-4,
                          betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), ema=False, checkpoint_every=1000, sample_every=1000, log_every=50),
        eval=EvalConfig(protocol="cifar10-50k", use_ema=False),
    )
    smoke = {**SMOKE, "train.steps": 200}
    quick = {"train.steps": 5_000, "eval.protocol": "cifar10-10k"}
    return Experiment("dcgan", "DCGAN 32x32 (Radford et al., 2016), pytorch/examples recipe", "pytorch/examples dcgan/main.py (+ paper batch 128)",
                      paper, {"smoke": smoke, "quick": quick},
                      deviations=("32x32 variant with one stage fewer than the examples' 64x64 network (models.md 3b)",
                                  "BCE-with-logits instead of Sigmoid + BCELoss (same loss, stabler)",
                                  "smoke preset adds an EMA (decay 0.95) so the smoke path exercises EMA evaluation"))


# 25 epochs at batch 128 (drop_last): CIFAR-10 train 50,000 -> 390 batches, CelebA train split 162,770 -> 1,271.
EPOCHS = 25


def _dcgan_64() -> Experiment:
    paper = RunConfig(
        experiment="dcgan-64",
        model=ModelConfig("dcgan-64", "dcgan-64"),
        data=DataConfig(dataset="celeba", split="train", resolution=64),
        train=TrainConfig(steps=EPOCHS * (162_770 // 128), n_critic=1, batch_size_d=128, batch_size_g=128, loss="ns",
                          lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), ema=False,
                          checkpoint_every=2_000, sample_every=2_000, log_every=50),
        eval=EvalConfig(protocol="celeba64-50k", use_ema=False),
    )
    # shapes32 is 32x32: the smoke run uses the 32x32 network of the same family (one stage fewer).
    smoke = {**SMOKE, "model.g_kwargs.resolution": 32, "model.d_kwargs.resolution": 32}
    quick = {"train.steps": 10_000}
    return Experiment("dcgan-64", "DCGAN 64x64 (pytorch/examples network) on CelebA 64x64", "pytorch/examples dcgan/main.py (+ paper batch 128)",
                      paper, {"smoke": smoke, "quick": quick},
                      deviations=("trained on CelebA's train split (162,770 images, centre crop 108, resize 64); the examples "
                                  "read every aligned image through ImageFolder (Resize(64) + CenterCrop(64))",
                                  "batch 128 (the DCGAN paper's) instead of the examples' default 64",
                                  "BCE-with-logits instead of Sigmoid + BCELoss (same loss, stabler)",
                                  "smoke preset: the 32x32 network of the family on shapes32, with an EMA (decay 0.95)"))


def _cdcgan() -> Experiment:
    paper = RunConfig(
        experiment="cdcgan",
        model=ModelConfig("cdcgan", "cdcgan"),
        data=DataConfig(dataset="cifar10", split="train", resolution=32),
        train=TrainConfig(steps=EPOCHS * (50_000 // 128), n_critic=1, batch_size_d=128, batch_size_g=128, loss="ns",
                          lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), ema=False,
                          checkpoint_every=1000, sample_every=1000, log_every=50),
        eval=EvalConfig(protocol="cifar10-50k", use_ema=False),
    )
    smoke = SMOKE
    quick = {"train.steps": 5_000, "eval.protocol": "cifar10-10k"}
    return Experiment("cdcgan", "Class-conditional DCGAN 32x32 (label embedding; gbench design) on CIFAR-10",
                      "pytorch/examples dcgan/main.py recipe (+ paper batch 128) with gbench's conditioning (models.md 5b)",
                      paper, {"smoke": smoke, "quick": quick},
                      deviations=("no canonical upstream: the conditioning (G: z ++ Embedding(10, 50); D: an Embedding(10, 1024) "
                                  "input plane) is gbench's design, trained with the DCGAN recipe",
                                  "BCE-with-logits instead of Sigmoid + BCELoss (same loss, stabler)",
                                  "smoke preset adds an EMA (decay 0.95) so the smoke path exercises EMA evaluation"))


EXPERIMENTS = [_dcgan(), _dcgan_64(), _cdcgan()]
