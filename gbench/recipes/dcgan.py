"""DCGAN experiments (pytorch/examples recipe)."""

from __future__ import annotations

from gbench.config import DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from gbench.experiments import SMOKE_DATA, Experiment

def _dcgan() -> Experiment:
    paper = RunConfig(
        experiment="dcgan",
        model=ModelConfig("dcgan", "dcgan"),
        data=DataConfig(dataset="cifar10", split="train", resolution=32),
        # pytorch/examples: 25 epochs; at the paper's batch 128 that is 25 x 390 = 9,750 G steps on CIFAR-10.
        train=TrainConfig(steps=9_750, n_critic=1, batch_size_d=128, batch_size_g=128, loss="ns", lr_g=2e-4, lr_d=2e-4,
                          betas_g=(0.5, 0.999), betas_d=(0.5, 0.999), ema=False, checkpoint_every=1000, sample_every=1000, log_every=50),
        eval=EvalConfig(protocol="cifar10-50k", use_ema=False),
    )
    smoke = {**SMOKE_DATA, "model.g_kwargs.g_channels": 16, "model.d_kwargs.d_channels": 16, "train.steps": 200,
             "train.batch_size_d": 64, "train.batch_size_g": 64, "train.ema": True, "train.ema_decay": 0.95, "eval.use_ema": True,
             "train.checkpoint_every": 50, "train.sample_every": 50, "train.log_every": 10}
    quick = {"train.steps": 5_000, "eval.protocol": "cifar10-10k"}
    return Experiment("dcgan", "DCGAN 32x32 (Radford et al., 2016), pytorch/examples recipe", "pytorch/examples dcgan/main.py (+ paper batch 128)",
                      paper, {"smoke": smoke, "quick": quick},
                      deviations=("32x32 variant with one stage fewer than the examples' 64x64 network (models.md 3b)",
                                  "BCE-with-logits instead of Sigmoid + BCELoss (same loss, stabler)",
                                  "smoke preset adds an EMA (decay 0.95) so the smoke path exercises EMA evaluation"))


EXPERIMENTS = [_dcgan()]
