"""pix2pix experiments (Isola et al., CVPR 2017) and the paper's FCN-score ablation tables.

The paper presets follow junyanz/pytorch-CycleGAN-and-pix2pix (`scripts/train_pix2pix.sh`, the defaults
`pix2pix_model.py` forces; shared/reference/models.md section 6): U-Net-256 G, 70x70 PatchGAN D with batch
norm seeing concat(A, B), vanilla GAN + 100 x L1, batch 1, Adam 2e-4 (0.5, 0.999), 100 epochs flat + 100
linearly decayed to 0, images loaded at 286, randomly cropped to 256 and flipped; generated images come from
the generator in train mode (dropout and batch statistics on, the official test.py without --eval), one per
batch. `pix2pix-cityscapes` translates labels -> photos (BtoA of the prepared pairs) and is scored by the
`cityscapes-fcn` protocol (`pix2pix-cityscapes-128`: the same at 128x128 with U-Net-128, the CycleGAN paper's
paired baseline, under `cityscapes-fcn-128`); `pix2pix-facades` (labels -> photos, BtoA as the official script) and
`pix2pix-maps` (aerial -> map, AtoB) have no FCN-score, so they report FID/KID of the translated test/val
inputs against the real targets (small sets: biased, not comparable to any paper; the paper used AMT).

Dropout sits on the three U-Net decoder levels nearest the bottleneck, as in the Torch code that produced the
paper's tables (`model.g_kwargs.dropout_levels` "paper"); "pytorch" is the PyTorch port's placement, one level
further out (reference_models/pix2pix.py). The paper presets name the choice, so it is in the config hash.

Presets: `quick` trains 10 + 10 epochs under the same protocol; `smoke` trains a small U-Net (6 downs, width
16) and PatchGAN (width 16) on the procedural toyscapes set (64x64, load 72, batch 4) for 500 steps (3 + 2
epochs) and scores it under `toyscapes-fcn` (a toy segmenter; not comparable to any paper), offline, on a CPU.

Deviations (beyond those of gbench/train/img2img.py and gbench/evaluation/fcn.py):
- cityscapes-fcn uses gbench's own FCN-8s unless the authors' Caffe network is plugged in
  (`--set eval.segmenter=...`), so its scores are read relative to the ground-truth row, not to the paper.
- facades / maps: FID/KID instead of the paper's AMT studies and (maps) pixel accuracy.
- smoke: toyscapes instead of real data, a smaller network, batch 4, and 3 + 2 epochs of 100 steps.

TABLES (plain data for the table machinery): name -> {"title", "source", "columns", "rows", optional "notes"}. `columns` are
metric keys of eval.json's `final.metrics`. Each row is {"label", "experiment" (None = a published value with
no gbench run), "overrides" (dotted config overrides applied on top of the chosen preset), "metrics" (optional:
column -> the metric key to read, e.g. the ground-truth row reads `gt_pixel_acc`), "paper" (column ->
published value, or None)}. Rows with the same experiment and overrides are the same run.
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import Experiment

FCN_COLUMNS = ("pixel_acc", "class_acc", "class_iou")
GROUND_TRUTH = {c: f"gt_{c}" for c in FCN_COLUMNS}
EPOCHS_CONSTANT, EPOCHS_DECAY = 100, 100
TRAIN_SIZES = {"cityscapes": 2975, "facades": 400, "maps": 1096}  # training pairs = G steps per epoch at batch 1

SMOKE_STEPS_PER_EPOCH = 100  # toyscapes: 400 pairs at batch 4
SMOKE = {
    "data.dataset": "toyscapes", "data.split": "train", "data.size": 400, "data.resolution": 64, "data.load_size": 72,
    "data.flip": True, "data.direction": "BtoA",
    "model.g_kwargs.num_downs": 6, "model.g_kwargs.g_channels": 16, "model.d_kwargs.d_channels": 16,
    "train.batch_size_d": 4, "train.batch_size_g": 4, "train.epochs_constant": 3, "train.epochs_decay": 2,
    "train.steps": 5 * SMOKE_STEPS_PER_EPOCH, "train.checkpoint_every": 100, "train.sample_every": 250, "train.log_every": 20,
    "eval.protocol": "toyscapes-fcn", "eval.batch_size": 1,
}


def _fcn(values: tuple) -> dict:
    return dict(zip(FCN_COLUMNS, values))


def _pix2pix(name: str, title: str, dataset: str, direction: str, protocol: str, deviations: tuple = (), generator: str = "pix2pix",
             resolution: int = 256, load_size: int = 286) -> Experiment:
    steps_per_epoch = TRAIN_SIZES[dataset]
    paper = RunConfig(
        experiment=name,
        model=ModelConfig(generator, generator, g_kwargs={"dropout_levels": "paper"}),
        data=DataConfig(dataset=dataset, split="train", resolution=resolution, load_size=load_size, flip=True, direction=direction),
        train=TrainConfig(steps=(EPOCHS_CONSTANT + EPOCHS_DECAY) * steps_per_epoch, n_critic=1, batch_size_d=1, batch_size_g=1,
                          loss="ns", lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), ema=False,
                          pix2pix_objective="l1+cgan", lambda_l1=100.0, pool_size=0,
                          epochs_constant=EPOCHS_CONSTANT, epochs_decay=EPOCHS_DECAY,
                          checkpoint_every=5000, sample_every=5000, log_every=100),
        eval=EvalConfig(protocol=protocol, use_ema=False, batch_size=1),
    )
    quick = {"train.epochs_constant": 10, "train.epochs_decay": 10, "train.steps": 20 * steps_per_epoch}
    return Experiment(name, title, "junyanz/pytorch-CycleGAN-and-pix2pix scripts/train_pix2pix.sh + pix2pix_model.py defaults",
                      paper, {"quick": quick, "smoke": SMOKE}, task="paired",
                      deviations=("gbench's own segmenter / FID protocol instead of the paper's evaluation (see the recipe docstring)",
                                  "LR decay steps at epoch ends (100 flat epochs, last at LR/101), as before the repo moved the call",
                                  "smoke: toyscapes 64x64, U-Net with 6 downs and width 16, PatchGAN width 16, batch 4, 5 epochs of 100 steps",
                                  *deviations))


EXPERIMENTS = [
    _pix2pix("pix2pix-cityscapes", "pix2pix Cityscapes labels->photo (Isola et al., 2017), FCN-score", "cityscapes", "BtoA", "cityscapes-fcn"),
    _pix2pix("pix2pix-cityscapes-128", "pix2pix Cityscapes labels->photo at 128x128 (the CycleGAN paper's paired baseline), FCN-score",
             "cityscapes", "BtoA", "cityscapes-fcn-128",
             ("128x128 with U-Net-128 and load size 143 (scaled from 286/256), as the CycleGAN paper's comparison is at 128x128",),
             generator="pix2pix-unet128", resolution=128, load_size=143),
    _pix2pix("pix2pix-facades", "pix2pix facades labels->photo (Isola et al., 2017), FID/KID on the test set", "facades", "BtoA", "facades-fid",
             ("facades: FID/KID on the 106 test images instead of the paper's AMT study",)),
    _pix2pix("pix2pix-maps", "pix2pix maps aerial->map (Isola et al., 2017), FID/KID on the val set", "maps", "AtoB", "maps-fid",
             ("maps: FID/KID on the 1,098 val images instead of the paper's AMT study",)),
]


TABLES = {
    "pix2pix-losses": {
        "title": "pix2pix: objective ablation, Cityscapes labels->photo FCN-scores",
        "source": "Isola et al. 2017, Table 1 (arXiv v3); shared/reference/paper_tables.md",
        "columns": FCN_COLUMNS,
        "rows": (
            {"label": "L1", "experiment": "pix2pix-cityscapes", "overrides": {"train.pix2pix_objective": "l1"}, "paper": _fcn((0.42, 0.15, 0.11))},
            {"label": "GAN", "experiment": "pix2pix-cityscapes", "overrides": {"train.pix2pix_objective": "gan"}, "paper": _fcn((0.22, 0.05, 0.01))},
            {"label": "cGAN", "experiment": "pix2pix-cityscapes", "overrides": {"train.pix2pix_objective": "cgan"}, "paper": _fcn((0.57, 0.22, 0.16))},
            {"label": "L1+GAN", "experiment": "pix2pix-cityscapes", "overrides": {"train.pix2pix_objective": "l1+gan"}, "paper": _fcn((0.64, 0.20, 0.15))},
            {"label": "L1+cGAN", "experiment": "pix2pix-cityscapes", "overrides": {}, "paper": _fcn((0.66, 0.23, 0.17))},
            {"label": "Ground truth", "experiment": "pix2pix-cityscapes", "overrides": {}, "metrics": GROUND_TRUTH, "paper": _fcn((0.80, 0.26, 0.21))},
        ),
    },
    "pix2pix-patch": {
        "title": "pix2pix: discriminator receptive field (L1+cGAN), Cityscapes labels->photo FCN-scores",
        "source": "Isola et al. 2017, Table 3 (arXiv v3; Table 2 in v1/v2); shared/reference/paper_tables.md",
        "notes": ("smoke preset: the 286x286 discriminator has no output at the 64x64 toy crops, so that row cannot run there",),
        "columns": FCN_COLUMNS,
        "rows": (
            {"label": "1x1 (PixelGAN)", "experiment": "pix2pix-cityscapes", "overrides": {"model.d_kwargs.receptive_field": 1}, "paper": _fcn((0.39, 0.15, 0.10))},
            {"label": "16x16", "experiment": "pix2pix-cityscapes", "overrides": {"model.d_kwargs.receptive_field": 16}, "paper": _fcn((0.65, 0.21, 0.17))},
            {"label": "70x70", "experiment": "pix2pix-cityscapes", "overrides": {}, "paper": _fcn((0.66, 0.23, 0.17))},
            {"label": "286x286", "experiment": "pix2pix-cityscapes", "overrides": {"model.d_kwargs.receptive_field": 286}, "paper": _fcn((0.42, 0.16, 0.11))},
            {"label": "Ground truth", "experiment": "pix2pix-cityscapes", "overrides": {}, "metrics": GROUND_TRUTH, "paper": _fcn((0.80, 0.26, 0.21))},
        ),
    },
}
