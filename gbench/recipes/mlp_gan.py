"""Fully connected GANs on MNIST: the original GAN (Goodfellow et al., 2014) and an MLP conditional GAN.

`gan-mlp` follows goodfeli/adversarial `mnist.yaml` and its cost `AdversaryCost2` (`__init__.py`), read in the
released code (shared/reference/models.md section 5):
- one SGD update per minibatch of 100 real images and 100 samples, in which D's and G's gradients are taken at
  the same weights from the same D outputs (dropout masks included) and applied together
  (`train.loop_order=simultaneous`); so n_critic k = 1;
- D's objective is 0.5 (BCE(D(x), 1) + BCE(D(G(z)), 0)); G's is BCE(D(G(z)), 1) = -log D(G(z)), the
  non-saturating objective (the paper's Algorithm 1 writes the minimax log(1 - D(G(z))) and its text recommends
  this one; the code uses it). gbench's "ns" D loss has no 0.5, so D's learning rate is halved instead (with SGD
  the two are the same update);
- SGD lr 0.1, divided by 1.000004 after every update (floor 1e-6), momentum 0.5 ramped linearly to 0.7 from epoch 1
  to epoch 250 (`MomentumAdjustor`); G's output bias starts at the logit of the data's mean image;
- no termination criterion in the yaml (it ran until stopped): gbench stops after 250 epochs, when the momentum
  ramp ends. Scored under `mnist-10k` (the paper reported Parzen-window log-likelihoods, which gbench does not
  compute).

`cgan-mlp` follows eriklindernoren/PyTorch-GAN `implementations/cgan/cgan.py`: least-squares loss (MSE to 1/0,
D's halved), Adam lr 2e-4 betas (0.5, 0.999), batch 64, 200 epochs, each batch a G update first and then a D
update (`train.loop_order=g-first`), fake labels drawn uniformly. gbench trains it at MNIST's native 28x28 (the port
resizes to 32) so it is scored under `mnist-10k` like gan-mlp: a 32x32 MNIST protocol does not exist yet. The 32x32
network is `--set model.g_kwargs.resolution=32 model.d_kwargs.resolution=32 data.resolution=32` (G 1,757,412 /
D 1,055,845; gbench pads 28 -> 32 rather than resizing).

Smoke presets train on `shapes-gray` (shapes32 in one luma channel at 28x28) and score under toy-shapes-gray28 (against grey
28x28 shapes, so real images score near zero; under the RGB 32x32 reference they had a floor of FID 25.6).

Deviations, gan-mlp: all 60,000 training images (the yaml: train[0:50000]), so 250 epochs are 150,000 updates;
a fixed length where the yaml has none; D's 0.5 as a halved D LR; images in [-1, 1]; torch's momentum form
(v = m v + g, w -= lr v; pylearn2: v = m v - lr g); FID/IS/KID instead of Parzen log-likelihoods.
cgan-mlp: 28x28 instead of 32x32; D's fakes are a fresh sample of the updated G (the port reuses the G step's);
whole batches only (the port's last batch of an epoch has 32 images).
"""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment

MNIST_TRAIN = 60_000
SMOKE_GRAY = {**SMOKE_DATA, "data.dataset": "shapes-gray", "data.resolution": 28, "eval.protocol": "toy-shapes-gray28"}


def _gan_mlp() -> Experiment:
    batch, epochs = 100, 250
    paper = RunConfig(
        experiment="gan-mlp",
        model=ModelConfig("gan-mlp", "gan-mlp"),
        data=DataConfig(dataset="mnist", split="train", resolution=28),
        train=TrainConfig(steps=epochs * MNIST_TRAIN // batch, n_critic=1, batch_size_d=batch, batch_size_g=batch, loss="ns",
                          loop_order="simultaneous", optimizer="sgd", lr_g=0.1, lr_d=0.05, momentum=0.5, momentum_final=0.7,
                          momentum_ramp_epochs=(1.0, 250.0), lr_schedule="exponential", lr_decay=1.000004, lr_min=1e-6,
                          ema=False, checkpoint_every=5_000, sample_every=5_000, log_every=100),
        eval=EvalConfig(protocol="mnist-10k", use_ema=False),
    )
    # Smoke: narrow layers, and D's init range 0.05 (from 0.005): at 0.005 the tiny D barely moves in 200 updates.
    smoke = {**SMOKE_GRAY, "model.g_kwargs.g_hidden": 256, "model.d_kwargs.d_units": 64, "model.d_kwargs.d_init_range": 0.05,
             "train.steps": 200,
             "train.checkpoint_every": 100, "train.sample_every": 100, "train.log_every": 10}
    quick = {"train.steps": 30_000}
    return Experiment("gan-mlp", "Original GAN MLPs (Goodfellow et al., 2014) on MNIST",
                      "goodfeli/adversarial mnist.yaml (AdversaryCost2 in __init__.py)", paper, {"quick": quick, "smoke": smoke},
                      deviations=(
                          "trains on all 60,000 MNIST training images; the yaml uses train[0:50000] (the rest was its "
                          "validation set); so 250 epochs are 150,000 updates instead of 125,000",
                          "stops after 250 epochs; the yaml has no termination criterion",
                          "D's 0.5 loss factor is applied as a halved D learning rate (0.05): the same SGD update",
                          "images in [-1, 1] (G's sigmoid rescaled, see reference_models/mlp_gan.py); the original used [0, 1]",
                          "torch SGD momentum (v = m v + g; w -= lr v) where pylearn2 folds the LR into the velocity "
                          "(v = m v - lr g); identical while the LR is constant, and it shrinks by only 4e-6 per step",
                          "scored with FID/IS/KID under mnist-10k; the paper reported Parzen-window log-likelihoods",
                      ))


def _cgan_mlp() -> Experiment:
    batch, epochs = 64, 200
    paper = RunConfig(
        experiment="cgan-mlp",
        model=ModelConfig("cgan-mlp", "cgan-mlp", g_kwargs={"resolution": 28}, d_kwargs={"resolution": 28}),
        data=DataConfig(dataset="mnist", split="train", resolution=28),
        train=TrainConfig(steps=epochs * (MNIST_TRAIN // batch), n_critic=1, batch_size_d=batch, batch_size_g=batch, loss="lsgan",
                          loop_order="g-first", lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.999), betas_d=(0.5, 0.999),
                          ema=False, checkpoint_every=5_000, sample_every=5_000, log_every=100),
        eval=EvalConfig(protocol="mnist-10k", use_ema=False),
    )
    smoke = {**SMOKE_GRAY, "model.g_kwargs.g_widths": (32, 64, 128, 256), "model.d_kwargs.d_width": 128, "train.steps": 200,
             "train.checkpoint_every": 100, "train.sample_every": 100, "train.log_every": 10}
    quick = {"train.steps": 30_000}
    return Experiment("cgan-mlp", "Conditional GAN MLPs (Mirza & Osindero, 2014; PyTorch-GAN port) on MNIST",
                      "eriklindernoren/PyTorch-GAN implementations/cgan/cgan.py", paper, {"quick": quick, "smoke": smoke},
                      deviations=(
                          "28x28 (MNIST's own size) instead of the port's Resize(32): output/input layers 784 wide "
                          "(G 1,511,412 / D 932,965 instead of 1,757,412 / 1,055,845), scored under mnist-10k",
                          "D's fakes are a fresh sample of the updated G; the port reuses the G step's (pre-update) fakes",
                          "whole batches only (937 per epoch); the port's last batch of each epoch has 32 images",
                      ))


EXPERIMENTS = [_gan_mlp(), _cgan_mlp()]
