"""Every experiment's paper preset, models at full width and the paper's resolution, trains one step on the CPU.

One training step (n_critic 1: one D and one G update) at batch 2 (recipes at batch 1 stay at 1) on stand-in data
(`gbench.bench.train_step.paper_scale_config`: the smoke preset's procedural set at the paper's resolution, or tiny
image-to-image fixtures in the official folder layouts), so shape, device and config errors of the paper presets
show up without a GPU or a dataset download. Iterates over every registered experiment, so new recipes are covered
as they are added. Marked slow: the full-size models take minutes on two CPU cores (CycleGAN's ResNet-9 at 256x256
alone is about a minute).
"""

import gc
import math

import pytest
import torch

from gbench.bench.train_step import paper_scale_config, write_image_fixtures
from gbench.experiments import experiments
from gbench.runs import _trainer_class
from gbench.train.gan import StepLog

# Experiments whose one step cannot run on a CPU, with the reason (none so far).
CANNOT_RUN_ON_CPU: dict[str, str] = {}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return write_image_fixtures(tmp_path_factory.mktemp("paper-scale-data"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(experiments()))
def test_paper_preset_trains_one_step_at_full_size(name, fixtures):
    if name in CANNOT_RUN_ON_CPU:
        pytest.skip(CANNOT_RUN_ON_CPU[name])
    exp = experiments()[name]
    cfg = paper_scale_config(name, batch=2, overrides={"train.n_critic": 1}, fixture_root=fixtures)
    paper = exp.config("paper")
    assert cfg.model == paper.model and cfg.data.resolution == paper.data.resolution  # full width, paper resolution
    torch.manual_seed(0)
    trainer = _trainer_class(exp.task)(cfg, torch.device("cpu"))
    log = StepLog()
    trainer.train_step(log)
    if "loss_g" not in log.means():  # WGAN-GP's loop has no G step at iteration 0
        trainer.train_step(log)
    values = log.means()
    assert "loss_g" in values and all(math.isfinite(v) for v in values.values()), values
    del trainer
    gc.collect()
