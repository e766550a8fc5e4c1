"""SRResNet and SRGAN x4 experiments (Ledig et al., CVPR 2017) and the paper's Table 2 as plain data.

There is no official code; the recipe is the paper's (shared/reference/models.md section 8), run by
gbench/train/sr.py and scored under the `sr-x4-y` protocol (gbench/evaluation/sr.py), bicubic always beside.

- `srresnet-x4`: SRResNet, pixel MSE, Adam(1e-4, beta1 0.9), 10^6 updates of 16 random 96x96 HR crops.
- `srgan-x4`: G initialised from the `srresnet-x4` run of the same preset (`train.init_from`, by default that
  run's directory under ./runs, i.e. what `gbench run srresnet-x4 --preset P` writes; set it when you used another
  --out, seed or overrides), VGG54 content loss + 1e-3 adversarial, 10^5 updates at 1e-4 then 10^5 at 1e-5.

Presets: `quick` is shorter training under the same protocol (step counts sized to about one GPU-hour from
estimates, not measured); `smoke` trains a small SRResNet (32 channels, 4 blocks) on 32x32 crops of procedural HR
images and scores it on five scikit-image photos (`sr-x4-y-skimage`, not comparable to any paper), offline, on CPU.
The smoke SRGAN is self-contained: an MSE-only stage (`train.pretrain_steps`) then the SRGAN stage with a VGG54 of
fixed random weights (`vgg54-random`: real VGG19 weights need a download), so it never depends on another run.

Deviations (also listed per experiment):
- DIV2K train HR (800 images) instead of the paper's 350k ImageNet images;
- SSIM is the MATLAB/BasicSR SSIM, the paper used daala's (metrics.md 5): SSIM deltas to the paper carry that;
- LR by the antialiased torch bicubic for training crops; test LR from the benchmark archive's MATLAB files;
- batch-mean losses (the paper writes sums); every conv has a bias; PyTorch default init (paper silent).

TABLES format (read by the table machinery, gbench/tables.py, when it exists): name -> dict with
  title, source, protocol (the protocol id every cell is scored under), rows, columns (display order),
  cells: tuple of dicts {row, column, experiment (None for a baseline row), baseline ("bicubic" or None),
         overrides (dotted config overrides on the experiment's preset), metric (a key of result["metrics"],
         e.g. "psnr_y/Set5"), paper (the published value)},
  notes: caveats to print under the table.
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import Experiment

FOLLOWS = "Ledig et al., CVPR 2017 (no official code; shared/reference/models.md 8)"
COMMON_DEVIATIONS = (
    "DIV2K train HR (800 images) replaces the paper's 350k ImageNet images (ImageNet needs a licence)",
    "SSIM is the MATLAB/BasicSR SSIM; the paper's came from daala (metrics.md 5), so SSIM deltas to the paper carry that caveat",
    "training LR: antialiased torch bicubic x4 of each crop, rounded to uint8; test LR: the benchmark archive's MATLAB-made files",
    "losses are batch means (the paper writes sums over the batch)",
)
SMOKE_DATA = {"data.dataset": "sr-procedural", "data.size": 64, "data.resolution": 32, "eval.protocol": "sr-x4-y-skimage"}
SMOKE_MODEL = {"model.g_kwargs.g_channels": 32, "model.g_kwargs.n_blocks": 4}
SMOKE_LOOP = {"train.checkpoint_every": 100, "train.sample_every": 100, "train.log_every": 10, "train.lr_g": 1e-3}


def default_run_dir(cfg: RunConfig) -> str:
    """Where `gbench run` writes `cfg` with the default --out runs (= gbench.runs.run_dir_for(cfg, "runs"))."""
    return f"runs/{cfg.experiment}/{cfg.preset}-{cfg.hash()[:8]}"


def _srresnet() -> Experiment:
    paper = RunConfig(
        experiment="srresnet-x4",
        model=ModelConfig("srresnet", ""),  # no discriminator (adv_weight = 0)
        data=DataConfig(dataset="div2k", split="train", resolution=96),  # resolution = HR crop side
        train=TrainConfig(steps=1_000_000, n_critic=1, batch_size_d=16, batch_size_g=16, loss="ns", lr_g=1e-4, lr_d=1e-4,
                          betas_g=(0.9, 0.999), betas_d=(0.9, 0.999), ema=False, content_loss="mse", adv_weight=0.0,
                          checkpoint_every=10_000, sample_every=10_000, eval_every=100_000, log_every=100),
        eval=EvalConfig(protocol="sr-x4-y", use_ema=False, batch_size=1),
    )
    smoke = {**SMOKE_DATA, **SMOKE_MODEL, **SMOKE_LOOP, "train.steps": 500}
    quick = {"train.steps": 100_000, "train.eval_every": 0}
    return Experiment("srresnet-x4", "SRResNet x4 (Ledig et al., 2017), pixel MSE", FOLLOWS, paper, {"smoke": smoke, "quick": quick},
                      task="sr", deviations=COMMON_DEVIATIONS + (
                          "smoke: 32 channels / 4 blocks, 32x32 crops of procedural images, lr 1e-3, 500 steps, scikit-image test photos",))


def _srgan(srresnet: Experiment) -> Experiment:
    paper = RunConfig(
        experiment="srgan-x4",
        model=ModelConfig("srgan", "srgan"),
        data=DataConfig(dataset="div2k", split="train", resolution=96),
        train=TrainConfig(steps=200_000, n_critic=1, batch_size_d=16, batch_size_g=16, loss="ns", lr_g=1e-4, lr_d=1e-4,
                          betas_g=(0.9, 0.999), betas_d=(0.9, 0.999), ema=False, content_loss="vgg54", adv_weight=1e-3,
                          lr_schedule="step", lr_step_at=100_000, lr_step_factor=0.1,
                          init_from=default_run_dir(srresnet.config("paper")),
                          checkpoint_every=10_000, sample_every=10_000, eval_every=50_000, log_every=100),
        eval=EvalConfig(protocol="sr-x4-y", use_ema=False, batch_size=1),
    )
    smoke = {**SMOKE_DATA, **SMOKE_MODEL, **SMOKE_LOOP, "model.d_kwargs.d_channels": 16, "model.d_kwargs.d_dense": 64,
             "train.steps": 330, "train.pretrain_steps": 300, "train.lr_step_at": 300, "train.lr_d": 1e-3, "train.init_from": "",
             "train.content_loss": "vgg54-random", "train.eval_every": 300}
    quick = {"train.steps": 50_000, "train.lr_step_at": 25_000, "train.eval_every": 25_000,
             "train.init_from": default_run_dir(srresnet.config("quick"))}
    return Experiment("srgan-x4", "SRGAN x4 (Ledig et al., 2017), VGG54 + 1e-3 adversarial, from SRResNet", FOLLOWS, paper,
                      {"smoke": smoke, "quick": quick}, task="sr", deviations=COMMON_DEVIATIONS + (
                          "init: train.init_from defaults to the srresnet-x4 run of the same preset under ./runs (seed 0, no overrides)",
                          "smoke: MSE stage of 300 steps then 30 SRGAN steps with a random-weight VGG54 (no download); "
                          "32 channels / 4 blocks, D 16 channels / dense 64 at 32x32, lr 1e-3 (MSE stage) then 1e-4 (SRGAN stage)",))


_SRRESNET = _srresnet()
EXPERIMENTS = [_SRRESNET, _srgan(_SRRESNET)]


# ----------------------------------------------------------------------------- paper table

SSIM_NOTE = ("The paper's SSIM is daala's (window scaled with the image, every pixel scored); gbench's is MATLAB/BasicSR, "
             "so SSIM deltas carry the difference of implementations (metrics.md 5). PSNR follows the same convention.")
_SETS = ("Set5", "Set14", "BSD100")
# Ledig et al. 2017, Table 2 (shared/reference/paper_tables.md): row -> set -> (PSNR dB, SSIM)
_PAPER_TABLE2 = {
    "bicubic": {"Set5": (28.43, 0.8211), "Set14": (25.99, 0.7486), "BSD100": (25.94, 0.6935)},
    "SRResNet": {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184), "BSD100": (27.58, 0.7620)},
    "SRGAN": {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "BSD100": (25.16, 0.6688)},  # BSD100 PSNR: some copies 25.15
}
_ROW_SOURCE = {"bicubic": (None, "bicubic"), "SRResNet": ("srresnet-x4", None), "SRGAN": ("srgan-x4", None)}


def _table_cells() -> tuple[dict, ...]:
    cells = []
    for row, per_set in _PAPER_TABLE2.items():
        experiment, baseline = _ROW_SOURCE[row]
        for s in _SETS:
            for column, metric, value in ((f"{s} PSNR", f"psnr_y/{s}", per_set[s][0]), (f"{s} SSIM", f"ssim_y/{s}", per_set[s][1])):
                cells.append({"row": row, "column": column, "experiment": experiment, "baseline": baseline, "overrides": {},
                              "metric": metric, "paper": value})
    return tuple(cells)


TABLES = {
    "srgan-x4": {
        "title": "SRGAN Table 2: x4 super-resolution, PSNR (dB) / SSIM on Y with a 4-pixel border removed",
        "source": "Ledig et al., CVPR 2017, Table 2 (shared/reference/paper_tables.md)",
        "protocol": "sr-x4-y",
        "rows": tuple(_PAPER_TABLE2),
        "columns": tuple(f"{s} {m}" for s in _SETS for m in ("PSNR", "SSIM")),
        "cells": _table_cells(),
        "notes": (SSIM_NOTE, "BSD100 SRGAN PSNR is 25.16 in the stored paper text; some copies print 25.15."),
    },
}

