"""StyleGAN2 on CIFAR-10 as trained by DiffAugment (Zhao et al., NeurIPS 2020; Karras et al., CVPR 2020).

The paper preset follows mit-han-lab/data-efficient-gans `DiffAugment-stylegan2/run_cifar.py` and its
`training/training_loop.py` / `training/loss.py` (shared/reference/models.md section 10): loss `ns_r1_DiffAugment`,
i.e. the non-saturating logistic loss plus R1 with gamma 0.1 on every D step (`lazy_regularization` False);
Adam lr 0.002, betas (0, 0.99), eps 1e-8, for G and D; batch 32; each minibatch updates G first, then D
(`train.loop_order=g-first`); 25,000 kimg = 781,250 steps; mirror augmentation (`data.flip`); an EMA of G
with a half-life of 1000 kimg (beta = 0.5 ** (32 / 1e6) per step), which only starts after `ema_start_kimg`
= the half-life, 1000 kimg = 31,250 steps (G is copied before that: `train.ema_start_step`). Evaluated under
`cifar10-10k-test` (fid10k and is10k: 10k samples against the 10k test images), as the DiffAugment paper did.

DA: `run_cifar.py` turns DiffAugment on by default (`--DiffAugment color,cutout`). The paper preset is the
baseline without it (StyleGAN2 IS 9.18 / FID 11.07, TransGAN Table 2 "no"); `--set train.augment=diffaug` is the
"with DA" row (9.40 / 9.89) with the policy below, applied to reals and fakes in both steps, and R1 then takes its
gradient at the augmented reals, as `ns_r1_DiffAugment` does (`train.r1_after_augment`).

Deviations:
- no custom CUDA ops and no fp16 layers (see reference_models/stylegan2.py); the math is the same;
- the EMA copy is updated after G's optimizer step; the TF graph updates it from G's weights just before them
  (a one-step lag);
- with DA, R1 uses its own forward pass (and augmentation draw) of the reals; the official loss reuses the D
  loss's forward pass.
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment

FOLLOWS = "mit-han-lab/data-efficient-gans DiffAugment-stylegan2/run_cifar.py (training_loop.py, loss.ns_r1_DiffAugment)"
BATCH = 32
TOTAL_KIMG = 25_000
EMA_KIMG = 1_000


def _stylegan2() -> Experiment:
    paper = RunConfig(
        experiment="stylegan2",
        model=ModelConfig("stylegan2", "stylegan2"),
        data=DataConfig(dataset="cifar10", split="train", resolution=32, flip=True),
        train=TrainConfig(steps=TOTAL_KIMG * 1000 // BATCH, n_critic=1, batch_size_d=BATCH, batch_size_g=BATCH, loss="ns",
                          r1_gamma=0.1, r1_after_augment=True, lr_g=2e-3, lr_d=2e-3, betas_g=(0.0, 0.99), betas_d=(0.0, 0.99),
                          loop_order="g-first", ema=True, ema_halflife_kimg=float(EMA_KIMG), ema_start_step=EMA_KIMG * 1000 // BATCH,
                          augment="none", augment_policy="color,cutout",
                          checkpoint_every=10_000, sample_every=10_000, log_every=500),
        eval=EvalConfig(protocol="cifar10-10k-test", use_ema=True),
    )
    # Smoke: a narrow network (16-32 feature maps, 2 mapping layers) and a short EMA so the EMA generator moves.
    smoke = {**SMOKE_DATA, "model.g_kwargs.latent_dim": 32, "model.g_kwargs.w_dim": 32, "model.g_kwargs.mapping_layers": 2,
             "model.g_kwargs.channel_base": 512, "model.g_kwargs.channel_max": 32, "model.d_kwargs.channel_base": 512,
             "model.d_kwargs.channel_max": 32, "train.steps": 100, "train.batch_size_d": 16, "train.batch_size_g": 16,
             "train.ema_halflife_kimg": 0.5, "train.ema_start_step": 0, "train.checkpoint_every": 50, "train.sample_every": 50,
             "train.log_every": 10}
    # About one GPU-hour: 1,600 kimg with StyleGAN2's default 10 kimg EMA half-life (1000 kimg would barely move).
    quick = {"train.steps": 50_000, "train.ema_halflife_kimg": 10.0, "train.ema_start_step": 0, "eval.protocol": "cifar10-10k"}
    return Experiment("stylegan2", "StyleGAN2 (DiffAugment's CIFAR-10 configuration), unconditional", FOLLOWS, paper,
                      {"quick": quick, "smoke": smoke},
                      deviations=(
                          "pure PyTorch: no custom CUDA ops, no fp16 layers",
                          "the EMA is updated after G's optimizer step (the TF graph updates it just before: one step of lag)",
                          "with DA, R1 runs its own forward pass and augmentation draw of the reals (official: the D loss's)",
                          "paper preset is the no-DA baseline; run_cifar.py's default turns DiffAugment color,cutout on "
                          "(train.augment=diffaug gives that run)",
                      ))


EXPERIMENTS = [_stylegan2()]
