"""Progressive GAN (Karras, Aila, Laine, Lehtinen, ICLR 2018): CIFAR-10 and CelebA-HQ.

The paper preset follows tkarras/progressive_growing_of_gans `config.py` preset `preset-v1-1gpu` (the paper's setup:
D minibatch-stddev groups of 16, minibatch 16 up to 128x128 then 14 / 6 / 3 at 256 / 512 / 1024, 800k images per stable
phase and per fade, total 19,000 kimg) with `train.py`'s loop (gbench/train/progressive.py): Adam lr 0.001, betas
(0, 0.99), eps 1e-8 for G and D; the schedule re-read every 4 minibatches; Adam state reset at every lod change; G EMA
with a fixed 0.999 per step (G_smoothing); the WGAN-GP loss of `loss.py` (lambda 10, epsilon_drift 0.001 on the mean
of D(x)^2: `train.loss=wgan-gp-drift`); reals faded between levels of detail as `process_reals`; mirror augmentation
for CelebA-HQ only.

- `progan-cifar10` (the row of TransGAN's Table 5, IS 8.80): unconditional (section 6.5: "8.80 in the unsupervised
  setting"), "the same as for CELEBA, progression limited to 32x32", with the WGAN-GP target gamma = 750
  (`train.gp_target`, the penalty (||g|| - 750)^2 / 750^2, loss.py wgan_target). Evaluated under cifar10-50k.
- `progan-celebahq`: 1024x1024, under celebahq-50k (FID vs the 30k images; StyleGAN's Table 1 row A gives the ProGAN
  baseline's FID 7.79 under StyleGAN's fid50k, which drew 50k images cycling the 30k).
- `progan-ffhq`: the same network and recipe on FFHQ (mirrored), under ffhq-50k: StyleGAN's Table 1 config A (FID 8.04).

Deviations (also in `gbench models`):
- The CIFAR-10 run length is not stated in the paper sections read; gbench trains 12,000 kimg (the official presets'
  default for the v2 configs; 32x32 is reached after 4,800 kimg).
- The official minibatch of 16 was per GPU (v1-1gpu); gbench's minibatch is global (the same with one process).
- Reals are box-downsampled from the full-resolution image per batch; the official code read one TFRecord per
  resolution made with the same 2x2 averaging (identical pixels).
- The paper reports CelebA-HQ sliced Wasserstein distances and MS-SSIM, not FID; celebahq-50k is StyleGAN's FID setting.
"""

from __future__ import annotations

from dataclasses import replace

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment
from gbench.growth import steps_for_kimg

FOLLOWS = "tkarras/progressive_growing_of_gans config.py preset-v1-1gpu, train.py train_progressive_gan, loss.py D_wgangp_acgan"

# preset-v1-1gpu: the paper's single-GPU setup
V1 = TrainConfig(
    loss="wgan-gp-drift", gp_weight=10.0, drift_weight=1e-3, gp_target=1.0, n_critic=1,
    lr_g=1e-3, lr_d=1e-3, betas_g=(0.0, 0.99), betas_d=(0.0, 0.99),
    batch_size_d=16, batch_size_g=16, minibatch_per_res="256:14,512:6,1024:3",
    lod_initial_resolution=4, lod_training_kimg=800.0, lod_transition_kimg=800.0, minibatch_repeats=4, reset_opt_for_new_lod=True,
    ema=True, ema_decay=0.999, ema_halflife_kimg=0.0, checkpoint_every=10_000, sample_every=10_000, log_every=100,
)

DEVIATIONS = (
    "the minibatch is global (the official v1 minibatch of 16 was per GPU on one GPU: the same)",
    "reals are box-downsampled from the full-resolution images per batch (officially one TFRecord per resolution, same pixels)",
    "the official fp32 preset's per-GPU minibatch caps (max_minibatch_per_gpu) are not modelled",
)

# Smoke (CPU, shapes32): the same schedule machinery at 32x32, growing 8 -> 16 -> 32 in 200 minibatches (40 per stable
# phase and per fade), feature maps 16, and a faster EMA so it moves. Progressive GAN's minibatch is 16 (0.64k images per
# phase): its toy FID then drops within the 200 minibatches (with 8 it barely moved); StyleGAN's stays at 8 (0.32k).
SMOKE_TRAIN = {"train.batch_size_d": 8, "train.batch_size_g": 8, "train.minibatch_per_res": "", "train.lr_g_per_res": "",
               "train.lr_d_per_res": "", "train.lod_initial_resolution": 8, "train.lod_training_kimg": 0.32,
               "train.lod_transition_kimg": 0.32, "train.ema_decay": 0.95, "train.ema_halflife_kimg": 0.0,
               "train.checkpoint_every": 50, "train.sample_every": 50, "train.log_every": 20}
SMOKE_STEPS = 200  # 5 phases of 40 minibatches; tests check it against steps_for_kimg
PROGAN_SMOKE_BATCH = {"train.batch_size_d": 16, "train.batch_size_g": 16, "train.lod_training_kimg": 0.64, "train.lod_transition_kimg": 0.64}


def smoke_preset(model_kwargs: dict, extra: dict | None = None) -> dict:
    return {**SMOKE_DATA, **model_kwargs, **SMOKE_TRAIN, "train.steps": SMOKE_STEPS, **(extra or {})}


PROGAN_SMOKE_MODEL = {"model.g_kwargs.resolution": 32, "model.g_kwargs.fmap_base": 256, "model.g_kwargs.fmap_max": 16,
                      "model.d_kwargs.resolution": 32, "model.d_kwargs.fmap_base": 256, "model.d_kwargs.fmap_max": 16}


def _cifar10() -> Experiment:
    train = replace(V1, gp_target=750.0)
    train = replace(train, steps=steps_for_kimg(train, 32, 12_000))
    paper = RunConfig(
        experiment="progan-cifar10",
        model=ModelConfig("progan-cifar10", "progan-cifar10", d_kwargs={"mbstd_group_size": 16}),
        data=DataConfig(dataset="cifar10", split="train", resolution=32, flip=False),
        train=train,
        eval=EvalConfig(protocol="cifar10-50k", use_ema=True),
    )
    # About one GPU-hour: 150k + 150k images per phase, 32x32 reached at 900 kimg, 1,500 kimg in all.
    quick_train = replace(train, lod_training_kimg=150.0, lod_transition_kimg=150.0)
    quick = {"train.lod_training_kimg": 150.0, "train.lod_transition_kimg": 150.0, "train.steps": steps_for_kimg(quick_train, 32, 1_500),
             "eval.protocol": "cifar10-10k"}
    return Experiment("progan-cifar10", "Progressive GAN on CIFAR-10 32x32, unconditional (WGAN-GP target 750)", FOLLOWS, paper,
                      {"quick": quick, "smoke": smoke_preset(PROGAN_SMOKE_MODEL, PROGAN_SMOKE_BATCH)}, task="progressive",
                      deviations=DEVIATIONS + ("run length not stated for CIFAR-10: 12,000 kimg (the official presets' v2 default)",))


def _faces(name: str, dataset: str, title: str, protocol: str, quick_protocol: str, deviations: tuple) -> Experiment:
    """The 1024x1024 preset-v1-1gpu run on a face set (the model is progan-celebahq's network either way)."""
    train = replace(V1, steps=steps_for_kimg(V1, 1024, 19_000))
    paper = RunConfig(
        experiment=name,
        model=ModelConfig("progan-celebahq", "progan-celebahq", d_kwargs={"mbstd_group_size": 16}),
        data=DataConfig(dataset=dataset, split="train", resolution=1024, flip=True),
        train=train,
        eval=EvalConfig(protocol=protocol, use_ema=True),
    )
    # About one GPU-hour at 128x128: 100k + 100k images per phase from 4x4, 1,300 kimg.
    quick_train = replace(V1, lod_training_kimg=100.0, lod_transition_kimg=100.0)
    quick = {"model.g_kwargs.resolution": 128, "model.d_kwargs.resolution": 128, "data.resolution": 128,
             "train.lod_training_kimg": 100.0, "train.lod_transition_kimg": 100.0,
             "train.steps": steps_for_kimg(quick_train, 128, 1_300), "eval.protocol": quick_protocol}
    return Experiment(name, title, FOLLOWS, paper, {"quick": quick, "smoke": smoke_preset(PROGAN_SMOKE_MODEL, PROGAN_SMOKE_BATCH)},
                      task="progressive", deviations=DEVIATIONS + deviations)


EXPERIMENTS = [
    _cifar10(),
    _faces("progan-celebahq", "celebahq", "Progressive GAN on CelebA-HQ 1024x1024 (preset-v1-1gpu)", "celebahq-50k", "celebahq128-10k",
           ("the paper scores CelebA-HQ with sliced Wasserstein distance and MS-SSIM; gbench uses StyleGAN's FID setting (celebahq-50k)",)),
    _faces("progan-ffhq", "ffhq", "Progressive GAN on FFHQ 1024x1024 (StyleGAN Table 1 config A; preset-v1-1gpu recipe)", "ffhq-50k",
           "ffhq128-10k", (("StyleGAN's authors trained Table 1's config A on FFHQ with their own (unreleased for FFHQ) Progressive GAN "
                            "config; gbench uses the Progressive GAN paper's recipe with mirror augmentation"),)),
]
