"""BigGAN (Brock et al., ICLR 2019), class-conditional: CIFAR-10 (`biggan`) and ImageNet 128x128 with the ablation
rows of the paper's Table 1 (`biggan-imagenet128`), as trained by ajbrock/BigGAN-PyTorch and described in the paper.

CIFAR-10 (`biggan`)
-------------------

The paper preset follows `scripts/launch_cifar_ema.sh` (shared/reference/models.md section 11): hinge loss;
Adam lr 2e-4, betas (0, 0.999), eps 1e-8, for G and D; batch 50 with `num_D_steps` 4 (each G step consumes
4 x 50 = 200 real images) and a G batch of 50 (`G_batch_size` 0 = batch size); class labels of fakes drawn
uniformly; N(0, 0.02) init, no orthogonal regularisation, no attention; EMA of G with decay 0.9999 from
iteration 1000 (G is copied before: `--ema_start 1000`), the EMA generator evaluated; 500 epochs of the 50k
training images = 250 G steps per epoch x 500 = 125,000 G steps; no flips, no DiffAugment.

Protocol decision: `cifar10-10k-test` (10k samples against the 10k test images). The only BigGAN CIFAR-10
figures with a checked protocol are the DiffAugment re-runs (fid10k vs test: BigGAN 9.59, + DiffAugment 8.70);
the BigGAN paper's 14.73 is not checked here and ajbrock's README calls the repo's own PyTorch-Inception IS/FID
monitoring-only. Those re-runs trained 1000 epochs with mirror augmentation
(`mit-han-lab/data-efficient-gans DiffAugment-biggan-cifar/scripts/DiffAugment-biggan-cifar10.sh`): to reproduce
them use `--set train.steps=250000 data.flip=true` (and `train.augment=diffaug` for the DA row; the policy below is
that script's translation,cutout). The 500-epoch paper preset is therefore compared against numbers that had twice
the training: reports say so through the experiment's deviations.

Sampling for evaluation follows the official scripts, which never pass --G_eval_mode (ajbrock `train.py`, DiffAugment
`eval.py` puts G in train mode): the EMA generator runs in train mode, batch-norm normalising with the statistics of
each batch of 50 (`G_batch_size` = batch size), spectral norm doing its power iteration (`eval.g_train_mode`,
`eval.g_train_mode_batch` 50; recorded in eval.json as "sampling"). gbench restores every buffer after each 500-image
chunk so results stay seeded and independent of the process count and evaluation batch size.
`--set eval.g_train_mode=false` samples in eval mode (running statistics). With `--parallel` on several GPUs the
official BN batches were the per-GPU shares of 50; the GPU count is not recorded, so gbench uses 50.

Other deviations: the EMA copies G's BN running statistics (ajbrock's EMA averages every state-dict entry);
spectral norm is PyTorch's parametrization (u/v warmed up at construction); D scores reals and fakes in two
forward passes where ajbrock concatenates them (D has no batch-dependent layers: same outputs).

ImageNet 128x128 (`biggan-imagenet128`)
---------------------------------------
The model is `reference_models/biggan.py`'s ImageNet architecture (ch 96, shared embedding, hierarchical z, attention
at 64x64 in G and D, SN everywhere, orthogonal init). The paper and the official PyTorch scripts disagree on the
optimiser (shared/reference: the README's "Key differences"; the paper's "we halve the learning rates and take two
D steps per G step" relative to SA-GAN), so each preset says which it follows:

- `paper` follows the **paper** (Table 1 row 8, "BigGAN"): G lr 5e-5, D lr 2e-4, 2 D steps per G step, Adam betas
  (0, 0.999), batch 2048 for D and G, orthogonal regularisation 1e-4 on G, EMA of G with decay 0.9999 from G step
  20,000 (copies before), hinge loss, 165,000 G steps (row 8's iteration of best FID), evaluated once at the end
  on the EMA generator with standing statistics (16 batches of 512) under `imagenet128-50k`.
  Sources: the learning rates, D steps, cross-replica BN and standing statistics from BigGAN-PyTorch's README ("Key
  Differences Between This Code And The Original BigGAN"); batch, widths, switches and iterations from Table 1; ortho
  1e-4, EMA 0.9999 and Adam betas as the paper states them, recalled and matching the official code's options (the
  paper's text could not be read here). Where the paper is silent or was not read, the official ImageNet script
  `launch_BigGAN_bs256x8.sh` fills in: Adam eps 1e-6, the batch as 8 accumulations of 256
  (`--num_{D,G}_accumulations 8`), SN eps 1e-6, BN eps 1e-5, shared dim 128, dim_z 120, no flips.
- `quick` follows the **official script's optimiser** (`launch_BigGAN_bs256x8.sh`: G lr 1e-4, D lr 4e-4, 1 D step,
  no orthogonal regularisation, Adam eps 1e-6) at its per-accumulation batch of 256 without accumulation, for
  10,000 G steps (about one GPU-hour, estimated), EMA from step 1,000, under `imagenet128-10k`. Not comparable.
- `smoke` is the same architecture at 32x32 (`biggan-smoke32` at ch 6, i.e. 24 channels, 10 classes, attention at
  16x16) on shapes32 with its labels: batch 16, the paper's 2 D steps, ortho 1e-4, EMA from step 20, standing
  statistics, no accumulation, and learning rates x4 (2e-4 / 8e-4) so that 100 CPU steps move; scored under
  `toy-shapes32`.

To train what produced the released BigGAN-PyTorch weights (IS 97.35 with TF Inception, README), take the paper
preset with the official script's optimiser: `--set train.n_critic=1 train.lr_g=1e-4 train.lr_d=4e-4
train.ortho_reg=0 train.steps=150000` (`OFFICIAL_SCRIPT` below).

Table 1 rows (`TABLE1_ROWS`, used by the `biggan-imagenet128` table of gbench/tables/specs.py): every row is this
experiment plus overrides of the architecture switches (g_ch/d_ch, shared, hier, dim_z), the batch, orthogonal
regularisation and the row's iteration count (the paper reports each row at its iteration of best FID; gbench trains
to that iteration and evaluates there). Row 1 (the SA-GAN baseline, whose numbers are SA-GAN's published ones) uses
the official `launch_SAGAN_bs128x2_ema.sh` recipe: xavier init, SN eps 1e-8, G/D lr 1e-4/4e-4, 1 D step, Adam eps
1e-8, EMA from 2,000, batch 256. Scale-dependent switches have preset-specific values: at `smoke` the batches are
the paper's / 128 (256..2048 -> 2..16) and the channel multipliers 64 / 96 become 4 / 6 (the paper's / 16); at
`quick` the batches are the paper's / 8 and the widths the paper's.

Deviations (listed on the experiment too): the paper's cross-replica BatchNorm over the whole batch is per
micro-batch BatchNorm here (as in the official PyTorch code: statistics over 256 images of each accumulation);
the EMA copies BN running statistics (the official EMA averages them; standing statistics replace them at
evaluation anyway); PyTorch spectral norm (u/v warmed up at construction); gbench's Inception (torch-fidelity's TF
port) and its own ImageNet reference statistics, not the paper's TF pipeline (see the `imagenet128-50k` protocol).
"""

from __future__ import annotations

from dataclasses import dataclass

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment

FOLLOWS = "ajbrock/BigGAN-PyTorch scripts/launch_cifar_ema.sh (train.py, train_fns.GAN_training_function)"
BATCH, D_STEPS, EPOCHS, CIFAR_TRAIN = 50, 4, 500, 50_000


def _biggan() -> Experiment:
    paper = RunConfig(
        experiment="biggan",
        model=ModelConfig("biggan", "biggan"),
        data=DataConfig(dataset="cifar10", split="train", resolution=32),
        train=TrainConfig(steps=EPOCHS * CIFAR_TRAIN // (BATCH * D_STEPS), n_critic=D_STEPS, batch_size_d=BATCH, batch_size_g=BATCH,
                          loss="hinge", lr_g=2e-4, lr_d=2e-4, betas_g=(0.0, 0.999), betas_d=(0.0, 0.999),
                          ema=True, ema_decay=0.9999, ema_start_step=1000, augment="none", augment_policy="translation,cutout",
                          checkpoint_every=5_000, sample_every=5_000, log_every=100),
        eval=EvalConfig(protocol="cifar10-10k-test", use_ema=True, g_train_mode=True, g_train_mode_batch=BATCH),
    )
    smoke = {**SMOKE_DATA, "model.g_kwargs.g_channels": 16, "model.g_kwargs.latent_dim": 32, "model.d_kwargs.d_channels": 16,
             "train.steps": 100, "train.n_critic": 2, "train.batch_size_d": 32, "train.batch_size_g": 32,
             "train.ema_decay": 0.9, "train.ema_start_step": 20,
             "train.checkpoint_every": 50, "train.sample_every": 50, "train.log_every": 10}
    quick = {"train.steps": 20_000, "eval.protocol": "cifar10-10k"}
    return Experiment("biggan", "BigGAN (Brock et al., 2019), class-conditional CIFAR-10 (ajbrock's CIFAR script)", FOLLOWS, paper,
                      {"quick": quick, "smoke": smoke},
                      deviations=(
                          "scored under cifar10-10k-test, the protocol of the DiffAugment re-runs, which trained 1000 epochs "
                          "with mirror augmentation (this preset: ajbrock's 500 epochs, no flips)",
                          "the EMA copies BN running statistics from G (ajbrock's EMA averages every state-dict entry, "
                          "running statistics and SN vectors included)",
                          "spectral norm is PyTorch's parametrization (u/v warmed up at construction; ajbrock starts from a "
                          "random u)",
                          "D sees reals and fakes in two forward passes (ajbrock concatenates them into one; D has no "
                          "batch-dependent layers, so the outputs are the same)",
                      ))


# ----------------------------------------------------------------------------- ImageNet 128x128

IMAGENET_FOLLOWS = ("Brock et al. 2019 (ICLR), Sec. 3 and Table 1 row 8; the paper's silences from ajbrock/BigGAN-PyTorch "
                    "scripts/launch_BigGAN_bs256x8.sh (train.py, train_fns.GAN_training_function, utils.ortho)")
PAPER_BATCH = 2048
SMOKE_BATCH = 16  # the paper's 2048 / 128 (every Table 1 batch is scaled by the same factor at smoke)
SMOKE_CH = {64: 4, 96: 6}  # channel multiplier at the smoke preset: the paper's / 16 (16 / 24 channels at 32x32)
ROW8_STEPS = 165_000  # Table 1 row 8: 165k (+- 13k) iterations at the best FID
# The official PyTorch script's optimiser, for training what the released weights were trained with.
OFFICIAL_SCRIPT = {"train.n_critic": 1, "train.lr_g": 1e-4, "train.lr_d": 4e-4, "train.ortho_reg": 0.0, "train.steps": 150_000}
IMAGENET_DEVIATIONS = (
    "BatchNorm statistics per micro-batch of 256 (8 accumulations for batch 2048), as the official PyTorch code; the paper "
    "used cross-replica BatchNorm over the whole batch",
    "Adam eps 1e-6, SN eps 1e-6 and the 8 x 256 accumulation are the official script's (the paper states none of them)",
    "the EMA copies G's BatchNorm running statistics (the official EMA averages every state-dict entry); evaluation "
    "re-estimates them as standing statistics (16 batches of 512, sample.py's default count)",
    "spectral norm is PyTorch's parametrization (u/v warmed up at construction; ajbrock starts from a random u)",
    "scored under imagenet128-50k: torch-fidelity's TF-Inception port and gbench's ImageNet-train statistics at 128 "
    "(the paper: TF Inception, its own statistics); the paper reports each row's best-FID iteration, gbench evaluates "
    "once at that iteration count",
)


def _biggan_imagenet128() -> Experiment:
    paper = RunConfig(
        experiment="biggan-imagenet128",
        # the Table 1 switches stated explicitly (they are the model's defaults), so row 8 of the table is this very config
        model=ModelConfig("biggan-imagenet128", "biggan-imagenet128", {"g_ch": 96, "shared": True, "hier": True, "latent_dim": 120},
                          {"d_ch": 96}),
        data=DataConfig(dataset="imagenet", split="train", resolution=128),
        train=TrainConfig(steps=ROW8_STEPS, n_critic=2, batch_size_d=PAPER_BATCH, batch_size_g=PAPER_BATCH, loss="hinge",
                          lr_g=5e-5, lr_d=2e-4, betas_g=(0.0, 0.999), betas_d=(0.0, 0.999), adam_eps=1e-6, accumulations=8,
                          ortho_reg=1e-4, ema=True, ema_decay=0.9999, ema_start_step=20_000, augment="none",
                          checkpoint_every=2_000, sample_every=2_000, log_every=100),
        eval=EvalConfig(protocol="imagenet128-50k", use_ema=True, batch_size=512, standing_stats=16),
    )
    quick = {"train.steps": 10_000, "train.n_critic": 1, "train.lr_g": 1e-4, "train.lr_d": 4e-4, "train.ortho_reg": 0.0,
             "train.batch_size_d": 256, "train.batch_size_g": 256, "train.accumulations": 1, "train.ema_start_step": 1_000,
             "train.checkpoint_every": 1_000, "train.sample_every": 1_000, "eval.protocol": "imagenet128-10k",
             "eval.batch_size": 256}
    smoke = {**SMOKE_DATA, "model.generator": "biggan-smoke32", "model.discriminator": "biggan-smoke32",
             "model.g_kwargs.g_ch": SMOKE_CH[96], "model.d_kwargs.d_ch": SMOKE_CH[96],
             "train.steps": 100, "train.lr_g": 2e-4, "train.lr_d": 8e-4,
             "train.batch_size_d": SMOKE_BATCH, "train.batch_size_g": SMOKE_BATCH,
             "train.accumulations": 1, "train.ema_decay": 0.9, "train.ema_start_step": 20,
             "train.checkpoint_every": 50, "train.sample_every": 50, "train.log_every": 10,
             "eval.batch_size": 250, "eval.standing_stats": 4}
    return Experiment("biggan-imagenet128", "BigGAN (Brock et al., 2019), class-conditional ImageNet 128x128 (Table 1 ablations)",
                      IMAGENET_FOLLOWS, paper, {"quick": quick, "smoke": smoke}, deviations=IMAGENET_DEVIATIONS)


@dataclass(frozen=True)
class AblationRow:
    """One row of the BigGAN paper's Table 1: the switches and the leaderboard row (leaderboards/imagenet128.csv)."""

    label: str
    batch: int
    ch: int  # channel multiplier (G_ch = D_ch)
    shared: bool
    hier: bool
    ortho: bool
    steps: int  # the paper's iteration of best FID (Table 1 "Itr")
    leaderboard_model: str
    leaderboard_setting: str
    sagan: bool = False  # row 1: the SA-GAN baseline recipe

    def overrides(self, preset: str) -> dict:
        """Overrides on `biggan-imagenet128` at `preset` (paper: the row as printed; quick / smoke: scaled down)."""
        out = {"model.g_kwargs.shared": self.shared, "model.g_kwargs.hier": self.hier,
               "train.ortho_reg": 1e-4 if self.ortho else 0.0}
        if preset == "smoke":
            ch = SMOKE_CH[self.ch]
            batch = self.batch * SMOKE_BATCH // PAPER_BATCH
            out.update({"train.batch_size_d": batch, "train.batch_size_g": batch, "train.accumulations": 1})
        else:
            ch = self.ch
            if preset == "paper":
                out["train.steps"] = self.steps
                out["model.g_kwargs.latent_dim"] = 120 if self.hier else 128  # non-hier rows: the official default 128
                out.update({"train.batch_size_d": self.batch, "train.batch_size_g": self.batch,
                            "train.accumulations": max(1, self.batch // 256)})
            else:  # quick: the paper's batches / 8, no accumulation
                out["model.g_kwargs.latent_dim"] = 120 if self.hier else 128
                out.update({"train.batch_size_d": self.batch // 8, "train.batch_size_g": self.batch // 8})
        out.update({"model.g_kwargs.g_ch": ch, "model.d_kwargs.d_ch": ch})
        if self.sagan:  # launch_SAGAN_bs128x2_ema.sh
            out.update({"model.g_kwargs.init": "xavier", "model.d_kwargs.init": "xavier", "model.g_kwargs.sn_eps": 1e-8,
                        "model.d_kwargs.sn_eps": 1e-8, "train.n_critic": 1, "train.lr_g": 1e-4, "train.lr_d": 4e-4,
                        "train.adam_eps": 1e-8})
            if preset == "paper":
                out["train.ema_start_step"] = 2_000
        return out


_ROW_SETTING = "batch {b}, ch {c}, {p}, shared {s}, hier {h}, ortho {o}, {i} itr"
TABLE1_ROWS = (
    AblationRow("1: SA-GAN baseline (batch 256, ch 64)", 256, 64, False, False, False, 1_000_000, "SA-GAN baseline",
                "batch 256, ch 64, 81.5M params, 1000k itr", sagan=True),
    AblationRow("2: batch 512, ch 64", 512, 64, False, False, False, 1_000_000, "BigGAN ablation",
                _ROW_SETTING.format(b=512, c=64, p="81.5M", s="no", h="no", o="no", i="1000k")),
    AblationRow("3: batch 1024, ch 64", 1024, 64, False, False, False, 1_000_000, "BigGAN ablation",
                _ROW_SETTING.format(b=1024, c=64, p="81.5M", s="no", h="no", o="no", i="1000k")),
    AblationRow("4: batch 2048, ch 64", 2048, 64, False, False, False, 732_000, "BigGAN ablation",
                _ROW_SETTING.format(b=2048, c=64, p="81.5M", s="no", h="no", o="no", i="732k")),
    AblationRow("5: batch 2048, ch 96", 2048, 96, False, False, False, 295_000, "BigGAN ablation",
                _ROW_SETTING.format(b=2048, c=96, p="173.5M", s="no", h="no", o="no", i="295k (± 18k)")),
    AblationRow("6: + shared embedding", 2048, 96, True, False, False, 185_000, "BigGAN ablation",
                _ROW_SETTING.format(b=2048, c=96, p="160.6M", s="yes", h="no", o="no", i="185k (± 11k)")),
    AblationRow("7: + hierarchical z", 2048, 96, True, True, False, 152_000, "BigGAN ablation",
                _ROW_SETTING.format(b=2048, c=96, p="158.3M", s="yes", h="yes", o="no", i="152k (± 7k)")),
    AblationRow("8: + orthogonal regularization (BigGAN)", 2048, 96, True, True, True, ROW8_STEPS, "BigGAN",
                _ROW_SETTING.format(b=2048, c=96, p="158.3M", s="yes", h="yes", o="yes", i="165k (± 13k)")),
    AblationRow("9: ch 64, shared, hier, ortho", 2048, 64, True, True, True, 371_000, "BigGAN ablation",
                _ROW_SETTING.format(b=2048, c=64, p="71.3M", s="yes", h="yes", o="yes", i="371k (± 7k)")),
)
# What the paper's ImageNet runs cost. The TPU quote is the paper's Sec. 3 as quoted by a reproducibility summary
# (ri.k117.org); the 24-48 hours is recalled from the paper and was not checked; the V100 figure is BigGAN-PyTorch's README.
IMAGENET_COMPUTE = ("needs a cluster: the paper says 'Each model is trained on 128 to 512 cores of a Google TPUv3 Pod' (Sec. 3; 24-48 hours per model "
                    "as recalled, not checked); BigGAN-PyTorch's replication of row 8's architecture: 15 days on 8 V100 GPUs "
                    "to 150k iterations (README)")


EXPERIMENTS = [_biggan(), _biggan_imagenet128()]
