"""SN-GAN experiment (Miyato et al., ICLR 2018): the ResNet G and spectrally normalised ResNet D on CIFAR-10.

The paper preset follows pfnet-research/sngan_projection `configs/sn_cifar10_unconditional.yml` run by `train.py`
and `updater.py` (shared/reference/models.md section 4): hinge loss; Adam alpha 2e-4, betas (0, 0.9), shifted
linearly to 0 over the 50,000 iterations (Chainer `LinearShift` on both optimizers); `n_dis` 5 D updates of batch 64
per iteration and one G update on `n_gen_samples` 128, the G update first (`updater.py` updates G at `i == 0`
before the D updates: `train.loop_order=g-first`); 50,000 iterations = G updates; no EMA; the repo's
`CIFAR10Dataset` scales x/128 - 1 and adds U(0, 1/128) noise (`data.dequantize`), no flips.
Evaluated under `cifar10-50k` (paper: IS 8.22 +- 0.05, FID 21.7 +- 0.21; the sample counts behind the paper's
FID are not checked here). DiffAugment: `--set train.augment=diffaug`.

Deviations: reals are x/127.5 - 1 + U(0, 1/128) (the repo: x/128 - 1 + U(0, 1/128)); spectral norm is PyTorch's
parametrization (Chainer's eps 1e-12; u warmed up at construction instead of a random start).
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment

FOLLOWS = "pfnet-research/sngan_projection configs/sn_cifar10_unconditional.yml (train.py, updater.py)"


def _sngan() -> Experiment:
    paper = RunConfig(
        experiment="sngan",
        model=ModelConfig("sngan", "sngan"),
        data=DataConfig(dataset="cifar10", split="train", resolution=32, dequantize=True),
        train=TrainConfig(steps=50_000, n_critic=5, batch_size_d=64, batch_size_g=128, loss="hinge",
                          lr_g=2e-4, lr_d=2e-4, betas_g=(0.0, 0.9), betas_d=(0.0, 0.9), lr_schedule="linear",
                          loop_order="g-first", ema=False, checkpoint_every=2_500, sample_every=2_500, log_every=100),
        eval=EvalConfig(protocol="cifar10-50k", use_ema=False),
    )
    smoke = {**SMOKE_DATA, "model.g_kwargs.g_channels": 16, "model.g_kwargs.latent_dim": 32, "model.d_kwargs.d_channels": 16,
             "train.steps": 100, "train.n_critic": 2, "train.batch_size_d": 32, "train.batch_size_g": 32,
             "train.checkpoint_every": 50, "train.sample_every": 50, "train.log_every": 10}
    quick = {"train.steps": 20_000, "eval.protocol": "cifar10-10k"}
    return Experiment("sngan", "SN-GAN ResNet (Miyato et al., 2018), unconditional CIFAR-10", FOLLOWS, paper,
                      {"quick": quick, "smoke": smoke},
                      deviations=(
                          "reals are x/127.5 - 1 + U(0, 1/128) where the official dataset uses x/128 - 1 + U(0, 1/128)",
                          "spectral norm is PyTorch's parametrization (eps 1e-12 as Chainer; u warmed up at construction)",
                      ))


EXPERIMENTS = [_sngan()]
