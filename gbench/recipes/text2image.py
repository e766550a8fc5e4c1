"""GAN-INT-CLS text-to-image experiments (Reed et al., ICML 2016): `text2image-cub` (CUB-200-2011) and
`text2image-flowers` (Oxford-102), trained by gbench/train/text2image.py.

The paper preset is reedscot/icml2016 ``scripts/train_cub.sh`` / ``train_flowers.sh`` over ``main_cls_int.lua``:
objective GAN-INT-CLS (cls_weight 0.5, interp_weight 1, beta 0.5), batch 64, Adam 2e-4 (0.5, 0.999) for G and D,
LR x 0.5 at every 100th epoch, 600 epochs, numCaption 4, loadSize 76 -> random 64 crops and flips, ngf 128 / ndf 64,
nz 100, no EMA. An epoch is ceil(N / 64) steps over the N images of the train+val classes: CUB 8,855 -> 139
(83,400 steps), Oxford-102 7,034 -> 110 (66,000 steps); the trainer derives the epoch length from the data it
loads, so the schedule stays in epochs even if a copy of the data has a different count. `--set
train.objective=gan|gan-cls|gan-int` gives the paper's other three rows.

Deviations and choices (also in the trainer's docstring):
- the style encoder S (paper section 4.4; not in the official code) trains after G in the same run for 100 epochs'
  worth of steps (13,900 / 11,000; a gbench choice), G frozen in eval mode, Adam 2e-4 (0.5, 0.999), batch 64;
- the released flowers generator (flowers_v2_nc1_cls0.5_int1.0_ngf128_ndf128_200_net_G.t7) used numCaption 1,
  ndf 128 and 200 epochs; the paper preset follows train_flowers.sh (4, 64, 600), as for CUB;
- evaluation: `cub-is-fid` / `flowers-is-fid` (IS with the ImageNet Inception, FID vs the test images, captions of the
  test classes; not StackGAN's fine-tuned-Inception IS: see gbench/protocols.py);
- the sampler's seed is the run seed (icml2016 draws ``torch.random(1, 10000)``); no DDP;
- smoke: `text2image-smoke` networks (32x32, widths 16, projection 32) on 2,000 captioned shapes32 images with the
  deterministic smoke text encoder, batch 32 and LR 5e-4 (the captions visibly steer the samples within the CPU
  budget), 160 GAN steps with the LR halved every 3 epochs (once, at step 126), then 100 S steps, scored under
  `toy-shapes32-captions`.
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import Experiment

EPOCHS = 600  # niter in train_cub.sh / train_flowers.sh
DECAY_EVERY = 100  # decay_every
STYLE_EPOCHS = 100  # gbench's choice for S: one LR period of G
BATCH = 64
STEPS_PER_EPOCH = {"cub": -(-8_855 // BATCH), "flowers": -(-7_034 // BATCH)}  # 139, 110

SMOKE = {"model.generator": "text2image-smoke", "model.discriminator": "text2image-smoke",
         "data.dataset": "shapes32", "data.split": "train", "data.size": 2_000, "data.resolution": 32, "data.load_size": 0,
         "train.batch_size_d": 32, "train.batch_size_g": 32, "train.lr_g": 5e-4, "train.lr_d": 5e-4,
         "train.steps": 160, "train.style_steps": 100, "train.lr_step_every_epochs": 3,
         "train.checkpoint_every": 40, "train.sample_every": 40, "train.log_every": 10, "eval.protocol": "toy-shapes32-captions"}

DEVIATIONS = (
    "style encoder S (section 4.4, no official code): gbench's DCGAN-trunk design, trained after G in the same run for "
    "100 epochs' worth of steps with G frozen in eval mode (Adam 2e-4, betas (0.5, 0.999), batch 64)",
    "D returns logits and the losses are BCE-with-logits (the official D ends in a Sigmoid with BCECriterion: same loss)",
    "no convolution biases (the official closures zero them before every forward pass)",
    "evaluated under gbench's caption protocol: IS with the ImageNet Inception, not StackGAN's fine-tuned one",
    "sampler seeded by the run seed (icml2016: torch.random(1, 10000)); single process",
)


def _experiment(name: str, dataset: str, title: str, protocol: str, extra_deviations: tuple = ()) -> Experiment:
    per_epoch = STEPS_PER_EPOCH[dataset]
    paper = RunConfig(
        experiment=name,
        model=ModelConfig(name, name),
        data=DataConfig(dataset=dataset, split="train", resolution=64, load_size=76, flip=True, num_captions=4),
        train=TrainConfig(steps=EPOCHS * per_epoch, n_critic=1, batch_size_d=BATCH, batch_size_g=BATCH, loss="ns", lr_g=2e-4, lr_d=2e-4,
                          betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), lr_schedule="epoch-decay", lr_step_every_epochs=DECAY_EVERY,
                          lr_step_factor=0.5, ema=False, objective="gan-int-cls", style_steps=STYLE_EPOCHS * per_epoch,
                          checkpoint_every=2_000, sample_every=2_000, log_every=50),
        eval=EvalConfig(protocol=protocol, use_ema=False),
    )
    # quick: 100 epochs (one LR period), 20 epochs of S
    quick = {"train.steps": 100 * per_epoch, "train.style_steps": 20 * per_epoch}
    return Experiment(name, title, "reedscot/icml2016 main_cls_int.lua with scripts/train_" + ("cub" if dataset == "cub" else "flowers")
                      + ".sh (GAN-INT-CLS)", paper, {"smoke": SMOKE, "quick": quick}, task="text2image",
                      deviations=DEVIATIONS + extra_deviations)


EXPERIMENTS = [
    _experiment("text2image-cub", "cub", "GAN-INT-CLS text-to-image (Reed et al., ICML 2016) on CUB-200-2011 64x64", "cub-is-fid"),
    _experiment("text2image-flowers", "flowers", "GAN-INT-CLS text-to-image (Reed et al., ICML 2016) on Oxford-102 64x64",
                "flowers-is-fid",
                ("the released flowers generator used numCaption 1, ndf 128 and 200 epochs; the preset follows train_flowers.sh "
                 "(4, 64, 600 epochs)",)),
]
