"""WGAN-GP experiment (Gulrajani et al., NeurIPS 2017): the unconditional ResNet for CIFAR-10.

The paper preset follows igul222/improved_wgan_training `gan_cifar_resnet.py` with CONDITIONAL = ACGAN = False
(shared/reference/models.md section 2; the paper's unsupervised IS 7.86 +- 0.07): WGAN loss with the gradient
penalty (lambda 10, one alpha ~ U(0, 1) per sample between real and fake); Adam lr 2e-4 * max(0, 1 - it/100000),
betas (0, 0.9), for G and D; 5 critic steps of batch 64 and a G batch of 128; ITERS = 100,000; the loop makes the
G step first and skips it at iteration 0 (`train.loop_order=g-first-skip0`: 99,999 G updates); no EMA; reals
dequantized with U(0, 1/128) noise; no flips. Evaluated under `cifar10-50k` (the paper's IS used 50k samples).

TransGAN's Table 2 rows (WGAN-GP 6.49 / 39.68, with DA 6.29 / 37.14) are `--set train.augment=diffaug` for the
second; note that 6.49 is far below this network's published 7.86, and the TransGAN paper does not say which
WGAN-GP network or code it ran, so gbench's rows use this ResNet.

Deviations: reals are x/127.5 - 1 + U(0, 1/128) where the official loader makes 2 (x/256 - 0.5) + U(0, 1/128)
(a 0.4% different scale); evaluation samples G in eval mode (BN running statistics) where the official G
normalises with each sampled batch's own statistics; the AC-GAN variant (conditional, IS 8.42) is not provided.
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment

FOLLOWS = "igul222/improved_wgan_training gan_cifar_resnet.py (CONDITIONAL = ACGAN = False)"


def _wgan_gp() -> Experiment:
    paper = RunConfig(
        experiment="wgan-gp",
        model=ModelConfig("wgan-gp", "wgan-gp"),
        data=DataConfig(dataset="cifar10", split="train", resolution=32, dequantize=True),
        train=TrainConfig(steps=100_000, n_critic=5, batch_size_d=64, batch_size_g=128, loss="wgan-gp", gp_weight=10.0,
                          lr_g=2e-4, lr_d=2e-4, betas_g=(0.0, 0.9), betas_d=(0.0, 0.9), lr_schedule="linear",
                          loop_order="g-first-skip0", ema=False, checkpoint_every=5_000, sample_every=5_000, log_every=100),
        eval=EvalConfig(protocol="cifar10-50k", use_ema=False),
    )
    smoke = {**SMOKE_DATA, "model.g_kwargs.g_channels": 16, "model.g_kwargs.latent_dim": 32, "model.d_kwargs.d_channels": 16,
             "train.steps": 100, "train.n_critic": 2, "train.batch_size_d": 32, "train.batch_size_g": 32,
             "train.checkpoint_every": 50, "train.sample_every": 50, "train.log_every": 10}
    quick = {"train.steps": 30_000, "eval.protocol": "cifar10-10k"}
    return Experiment("wgan-gp", "WGAN-GP ResNet (Gulrajani et al., 2017), unconditional CIFAR-10", FOLLOWS, paper,
                      {"quick": quick, "smoke": smoke},
                      deviations=(
                          "reals are x/127.5 - 1 + U(0, 1/128) (gbench's scaling) where the official loader uses "
                          "2 (x/256 - 0.5) + U(0, 1/128): the same dequantization, a 0.4% different scale",
                          "evaluation samples G in eval mode (BN running statistics); the official G normalises with the "
                          "sampled batch's own statistics at sampling time too",
                          "the AC-GAN variant (conditional, IS 8.42) is not provided",
                      ))


EXPERIMENTS = [_wgan_gp()]
