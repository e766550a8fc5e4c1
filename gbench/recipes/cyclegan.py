"""CycleGAN experiments (Zhu et al., ICCV 2017) and the paper's Cityscapes FCN-score table.

The paper presets follow junyanz/pytorch-CycleGAN-and-pix2pix (`scripts/train_cyclegan.sh`,
`cycle_gan_model.py` defaults; shared/reference/models.md section 7): ResNet generators with instance norm,
70x70 PatchGAN discriminators with instance norm, LSGAN, cycle weight 10 and identity weight 0.5 (5 x L1 per
direction), 50-image history pools, batch 1, Adam 2e-4 (0.5, 0.999), 100 epochs flat + 100 linearly decayed
to 0 (an epoch = max(|A|, |B|) steps), load 286 -> random crop 256 + flip, unaligned sampling.

- `cyclegan-cityscapes`: labels -> photo (BtoA of the prepared trainA = photos / trainB = label maps), at
  128x128 with ResNet-6 as the paper ran Cityscapes, scored by `cityscapes-fcn-128`.
- `cyclegan-horse2zebra`: horse -> zebra (AtoB) at 256x256 with ResNet-9; `horse2zebra-fid` scores the 120
  translated testA horses against the 140 testB zebras with FID and KID (no published numbers to compare).

Presets: `quick` trains 10 + 10 epochs under the same protocol; `smoke` trains ResNet generators of width 8
with 2 blocks and PatchGANs of width 8 on toyscapes (64x64, load 72, batch 2) for 200 steps (1 + 1 epochs)
under `toyscapes-fcn` (a toy segmenter; not comparable to any paper), offline, on a CPU.

Deviations (beyond those of gbench/train/img2img.py and gbench/evaluation/fcn.py):
- cityscapes: load size 143 for the 128 crops (286/256 scaled; the paper gives no load size for 128x128), and
  the identity term is on as in the repository's defaults (the paper describes it for paintings <-> photos).
- cityscapes-fcn-128 uses gbench's own FCN-8s unless the authors' network is plugged in (`eval.segmenter`).
- horse2zebra: FID/KID of the test translations, which the paper did not report (it used AMT studies).
- smoke: toyscapes instead of real data, much smaller networks, batch 2, 1 + 1 epochs of 100 steps.

TABLES: the format of gbench/recipes/pix2pix.py.
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import Experiment
from gbench.recipes.pix2pix import EPOCHS_CONSTANT, EPOCHS_DECAY, FCN_COLUMNS, GROUND_TRUTH, _fcn

STEPS_PER_EPOCH = {"cityscapes": 2975, "horse2zebra": 1334}  # max(|trainA|, |trainB|) at batch 1

SMOKE_STEPS_PER_EPOCH = 100  # toyscapes: 200 scenes per domain at batch 2
SMOKE = {
    "data.dataset": "toyscapes", "data.split": "train", "data.size": 200, "data.resolution": 64, "data.load_size": 72,
    "data.flip": True, "data.direction": "BtoA",
    "model.generator": "cyclegan-resnet6", "model.discriminator": "cyclegan-resnet6",
    "model.g_kwargs.g_channels": 8, "model.g_kwargs.n_blocks": 2, "model.d_kwargs.d_channels": 8,
    "train.batch_size_d": 2, "train.batch_size_g": 2, "train.epochs_constant": 1, "train.epochs_decay": 1,
    "train.steps": 2 * SMOKE_STEPS_PER_EPOCH, "train.checkpoint_every": 100, "train.sample_every": 200, "train.log_every": 20,
    "eval.protocol": "toyscapes-fcn", "eval.batch_size": 50,
}


def _cyclegan(name: str, title: str, dataset: str, direction: str, generator: str, resolution: int, load_size: int,
              protocol: str, deviations: tuple) -> Experiment:
    steps_per_epoch = STEPS_PER_EPOCH[dataset]
    paper = RunConfig(
        experiment=name,
        model=ModelConfig(generator, generator),
        data=DataConfig(dataset=dataset, split="train", resolution=resolution, load_size=load_size, flip=True, direction=direction),
        train=TrainConfig(steps=(EPOCHS_CONSTANT + EPOCHS_DECAY) * steps_per_epoch, n_critic=1, batch_size_d=1, batch_size_g=1,
                          loss="lsgan", lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), ema=False,
                          lambda_cycle=10.0, lambda_identity=0.5, pool_size=50,
                          epochs_constant=EPOCHS_CONSTANT, epochs_decay=EPOCHS_DECAY,
                          checkpoint_every=5000, sample_every=5000, log_every=100),
        eval=EvalConfig(protocol=protocol, use_ema=False, batch_size=16),
    )
    quick = {"train.epochs_constant": 10, "train.epochs_decay": 10, "train.steps": 20 * steps_per_epoch}
    return Experiment(name, title, "junyanz/pytorch-CycleGAN-and-pix2pix scripts/train_cyclegan.sh + cycle_gan_model.py defaults",
                      paper, {"quick": quick, "smoke": SMOKE}, task="unpaired",
                      deviations=("LR decay steps at epoch ends (100 flat epochs, last at LR/101), as before the repo moved the call",
                                  "history pool vectorised over the batch (identical at batch 1)",
                                  "smoke: toyscapes 64x64, ResNet-2 generators and PatchGANs of width 8, batch 2, 2 epochs of 100 steps",
                                  *deviations))


EXPERIMENTS = [
    _cyclegan("cyclegan-cityscapes", "CycleGAN Cityscapes labels->photo at 128x128 (Zhu et al., 2017), FCN-score", "cityscapes", "BtoA",
              "cyclegan-resnet6", 128, 143, "cityscapes-fcn-128",
              ("load size 143 for 128 crops (not given by the paper), identity loss on (repository default)",
               "gbench's own segmenter unless the authors' FCN-8s is plugged in")),
    _cyclegan("cyclegan-horse2zebra", "CycleGAN horse->zebra (Zhu et al., 2017), FID/KID vs testB", "horse2zebra", "AtoB",
              "cyclegan", 256, 286, "horse2zebra-fid",
              ("FID/KID of the 120 translated testA images vs the 140 testB images (the paper ran AMT studies)",)),
]


TABLES = {
    "cyclegan-cityscapes": {
        "title": "CycleGAN: Cityscapes labels->photo FCN-scores (128x128)",
        "source": "Zhu et al. 2017, Table 2 (labels->photo); shared/reference/paper_tables.md (to be re-checked against the paper)",
        "columns": FCN_COLUMNS,
        "rows": (
            {"label": "CoGAN", "experiment": None, "overrides": {}, "paper": _fcn((0.40, 0.10, 0.06))},
            {"label": "BiGAN/ALI", "experiment": None, "overrides": {}, "paper": _fcn((0.19, 0.06, 0.02))},
            {"label": "SimGAN", "experiment": None, "overrides": {}, "paper": _fcn((0.20, 0.10, 0.04))},
            {"label": "CycleGAN", "experiment": "cyclegan-cityscapes", "overrides": {}, "paper": _fcn((0.52, 0.17, 0.11))},
            {"label": "pix2pix (paired upper bound)", "experiment": "pix2pix-cityscapes-128", "overrides": {}, "paper": _fcn((0.71, 0.25, 0.18))},
            {"label": "Ground truth", "experiment": "cyclegan-cityscapes", "overrides": {}, "metrics": GROUND_TRUTH, "paper": None},
        ),
    },
}
