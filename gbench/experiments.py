"""Named experiments: model + dataset + training recipe + evaluation protocol, with presets.

- `paper`: the published recipe (the default); which official script or paper it follows is in `follows`.
- `quick`: about one GPU-hour, same protocol family with fewer samples; its numbers are flagged not comparable.
- `smoke`: CPU, well under a minute, procedural shapes32 data and the `toy-shapes32` protocol, offline.
Presets are dicts of dotted overrides on the paper config; `--set key=value` goes on top.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace

from gbench.config import PRESETS, DataConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig, apply_overrides
from gbench.errors import GBenchError


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    follows: str  # the official code / paper the paper preset follows
    paper: RunConfig
    presets: dict = field(default_factory=dict)  # preset name -> overrides on `paper`
    task: str = "gan"
    deviations: tuple = ()

    def config(self, preset: str = "paper") -> RunConfig:
        if preset not in PRESETS:
            raise _unknown("preset", preset, PRESETS)
        return apply_overrides(replace(self.paper, preset=preset), self.presets.get(preset, {}))


# Every smoke preset trains on shapes32 and is scored under the toy protocol.
SMOKE_DATA = {"data.dataset": "shapes32", "data.split": "train", "data.size": 5000, "data.resolution": 32, "data.flip": False,
              "eval.protocol": "toy-shapes32"}


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


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in [_dcgan()]}


def _unknown(kind: str, name: str, known) -> GBenchError:
    hint = difflib.get_close_matches(name, list(known), n=1)
    return GBenchError(f"unknown {kind} {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(known)}"))


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise _unknown("experiment", name, EXPERIMENTS)
    return EXPERIMENTS[name]


def paper_config_for(name: str) -> RunConfig:
    return get_experiment(name).config("paper")


def resolve_config(name: str, preset: str = "paper", overrides: list[str] | None = None, seed: int | None = None) -> RunConfig:
    """The fully resolved config of `gbench run NAME --preset P --set ... --seed N`."""
    cfg = get_experiment(name).config(preset)
    if overrides:
        cfg = apply_overrides(cfg, list(overrides))
    if seed is not None:
        cfg = replace(cfg, seed=seed)
    return cfg
