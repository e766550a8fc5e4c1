"""StyleGAN v1 (Karras, Laine, Aila, CVPR 2019): FFHQ and CelebA-HQ at 1024x1024, and the paper's Table 1 configs.

The paper preset follows NVlabs/stylegan `train.py` (config F, `-8gpu`, the paper's setup) with
`training/training_loop.py` (gbench/train/progressive.py): start at 8x8 (lod_initial_resolution 8), 600k images per
stable phase and per fade, global minibatch 32 with {4: 512, 8: 256, 16: 128, 32: 64, 64: 32}, learning rates 0.001 with
{128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003} for G and D, Adam betas (0, 0.99) eps 1e-8, the schedule re-read every
4 minibatches, Adam reset at every lod change, G EMA with a half-life of 10 kimg (G_smoothing_kimg), mirror augmentation,
25,000 kimg; style mixing regularization 0.9 and the w_avg tracking live in the generator (reference_models/stylegan.py).

- `stylegan-ffhq`: the non-saturating logistic loss with R1, gamma 10 (loss.py G_logistic_nonsaturating /
  D_logistic_simplegp), scored under ffhq-50k (FID of 50k samples without truncation).
- `stylegan-celebahq`: train.py's `-wgangp` option, which the paper used for CelebA-HQ: WGAN-GP (lambda 10, drift
  0.001 on the mean of D(x)^2, target 1) with the learning rates capped at 0.002. Scored under celebahq-50k.
- `TABLE1`: the switches of train.py's Table 1 configs (`-tuned-baseline`, `-add-mapping-and-styles`,
  `-remove-traditional-input`, `-add-noise-inputs`, `-mixing-regularization`) as model overrides; config A is the
  Progressive GAN (gbench/recipes/progan.py). gbench/tables/specs.py builds `stylegan-table1` from them.

Deviations (also in `gbench models`):
- The minibatch is global (officially split over 8 GPUs; minibatch-stddev groups of 4 are then formed inside each
  GPU's share: the same statistics, other group members).
- The G EMA is updated with the D step from the current G (as the official Gs update), so it lags G by one G step; the
  fixed-z grids and evaluations use it.
- Style mixing draws its second z and coin from torch's global RNG (reference_models/stylegan.py).
- Reals are box-downsampled from the full-resolution images per batch (officially one TFRecord per resolution with
  the same 2x2 averaging).
- The paper's FIDs are the lowest over all network snapshots of a run; gbench reports the final EMA generator.
- CelebA-HQ length: train.py's 25,000 kimg default is used; the paper says FFHQ's R1 training was extended from 12M to
  25M images, so the WGAN-GP CelebA-HQ runs may have been shorter (not stated in what was read).
"""

from __future__ import annotations

from dataclasses import replace

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import Experiment
from gbench.growth import steps_for_kimg
from gbench.recipes.progan import smoke_preset

FOLLOWS = "NVlabs/stylegan train.py (config F, -8gpu) and training/training_loop.py, training/loss.py"

LR_8GPU = "128:0.0015,256:0.002,512:0.003,1024:0.003"
RECIPE = TrainConfig(
    loss="ns", r1_gamma=10.0, n_critic=1, lr_g=1e-3, lr_d=1e-3, betas_g=(0.0, 0.99), betas_d=(0.0, 0.99),
    batch_size_d=32, batch_size_g=32, minibatch_per_res="4:512,8:256,16:128,32:64,64:32", lr_g_per_res=LR_8GPU, lr_d_per_res=LR_8GPU,
    lod_initial_resolution=8, lod_training_kimg=600.0, lod_transition_kimg=600.0, minibatch_repeats=4, reset_opt_for_new_lod=True,
    ema=True, ema_halflife_kimg=10.0, checkpoint_every=10_000, sample_every=10_000, log_every=100,
)
TOTAL_KIMG = 25_000
LR_WGANGP = "128:0.0015,256:0.002,512:0.002,1024:0.002"  # {k: min(v, 0.002)}

DEVIATIONS = (
    "the minibatch is global (officially split over 8 GPUs; minibatch-stddev groups form within each GPU's share)",
    "style mixing draws its second z and coin from torch's global RNG",
    "reals are box-downsampled from the full-resolution images per batch (officially one TFRecord per resolution, same pixels)",
    "the paper reports the lowest FID over all snapshots; gbench reports the final EMA generator",
)

# Table 1 of the paper as train.py's switches (config A is the Progressive GAN; F is the default).
TABLE1 = {
    "B": {"use_styles": False, "use_pixel_norm": True, "use_instance_norm": False, "mapping_layers": 0, "const_input_layer": False,
          "style_mixing_prob": 0.0, "use_noise": False},
    "C": {"const_input_layer": False, "style_mixing_prob": 0.0, "use_noise": False},
    "D": {"style_mixing_prob": 0.0, "use_noise": False},
    "E": {"style_mixing_prob": 0.0},
    "F": {},
}

SMOKE_MODEL = {**{f"model.g_kwargs.{k}": v for k, v in {"resolution": 32, "fmap_base": 256, "fmap_max": 16, "latent_dim": 32,
                                                         "w_dim": 32, "mapping_fmaps": 32}.items()},
               "model.d_kwargs.resolution": 32, "model.d_kwargs.fmap_base": 256, "model.d_kwargs.fmap_max": 16}
# StyleGAN's own EMA rule with a short half-life, so the EMA of 200 smoke minibatches moves
SMOKE_EXTRA = {"train.ema_halflife_kimg": 0.5}


def _experiment(name: str, dataset: str, title: str, train: TrainConfig, protocol: str, quick_protocol: str,
                deviations: tuple) -> Experiment:
    paper = RunConfig(
        experiment=name,
        model=ModelConfig(name, name),
        data=DataConfig(dataset=dataset, split="train", resolution=1024, flip=True),
        train=replace(train, steps=steps_for_kimg(train, 1024, TOTAL_KIMG)),
        eval=EvalConfig(protocol=protocol, use_ema=True),
    )
    # About one GPU-hour at 128x128: 100k + 100k images per phase from 8x8, 1,200 kimg.
    quick_train = replace(train, lod_training_kimg=100.0, lod_transition_kimg=100.0)
    quick = {"model.g_kwargs.resolution": 128, "model.d_kwargs.resolution": 128, "data.resolution": 128,
             "train.lod_training_kimg": 100.0, "train.lod_transition_kimg": 100.0,
             "train.steps": steps_for_kimg(quick_train, 128, 1_200), "eval.protocol": quick_protocol}
    return Experiment(name, title, FOLLOWS, paper, {"quick": quick, "smoke": smoke_preset(SMOKE_MODEL, SMOKE_EXTRA)},
                      task="progressive", deviations=deviations)


EXPERIMENTS = [
    _experiment("stylegan-ffhq", "ffhq", "StyleGAN (config F) on FFHQ 1024x1024: non-saturating loss + R1 10, mixing 0.9",
                RECIPE, "ffhq-50k", "ffhq128-10k", DEVIATIONS),
    _experiment("stylegan-celebahq", "celebahq", "StyleGAN (config F) on CelebA-HQ 1024x1024: WGAN-GP (train.py -wgangp)",
                replace(RECIPE, loss="wgan-gp-drift", r1_gamma=0.0, gp_weight=10.0, drift_weight=1e-3, gp_target=1.0,
                        lr_g_per_res=LR_WGANGP, lr_d_per_res=LR_WGANGP),
                "celebahq-50k", "celebahq128-10k",
                DEVIATIONS + (("25,000 kimg (train.py's default); the paper extended only FFHQ's R1 training from 12M to 25M "
                               "images, so the CelebA-HQ run may have been shorter"),)),
]
