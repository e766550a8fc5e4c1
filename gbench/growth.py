"""The progressive-growing schedule (Progressive GAN, StyleGAN): level of detail, minibatch and learning rates as a
pure function of the number of real images shown, following the official `training_schedule` (NVlabs/stylegan
training/training_loop.py; tkarras/progressive_growing_of_gans train.py `TrainingSchedule`, the same formula).

- phase_dur = lod_training_kimg + lod_transition_kimg; phase = floor(kimg / phase_dur); within a phase the first
  lod_training_kimg are stable, the rest fades the next resolution in linearly.
- lod = log2(R) - floor(log2(lod_initial_resolution)) - phase - max(phase_kimg - training, 0) / transition, floored
  at 0; the resolution trained is 2 ** (log2(R) - floor(lod)); alpha (weight of the newest layers) = 1 - frac(lod).
- minibatch = minibatch_dict.get(resolution, minibatch_base), rounded down to a multiple of the number of processes;
  learning rates = lrate_dict.get(resolution, lrate_base).
- The schedule is read once per round of `minibatch_repeats` minibatches (4 officially); training stops at the first
  round boundary with at least total_kimg thousand images shown (`steps_for_kimg` turns that into G steps).

Used by the recipes (their `train.steps`) and by gbench/train/progressive.py; it imports only the config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gbench.errors import GBenchError


@dataclass(frozen=True)
class Phase:
    """The schedule at one point: what a round of minibatch_repeats minibatches trains with."""

    lod: float
    resolution: int
    minibatch: int
    lr_g: float
    lr_d: float

    @property
    def alpha(self) -> float:
        """Weight of the newest layers (the paper's alpha): 1 - frac(lod); 1 outside a fade."""
        return 1.0 - (self.lod - math.floor(self.lod))


def parse_per_resolution(text: str, key: str, kind=float) -> dict[int, float]:
    """'4:128,8:128,16:64' -> {4: 128, 8: 128, 16: 64} (the official resolution-keyed dicts, as one config string)."""
    out: dict[int, float] = {}
    for item in (p.strip() for p in text.split(",") if p.strip()):
        res, sep, value = item.partition(":")
        try:
            resolution, number = int(res), kind(value)
        except ValueError:
            resolution, number = 0, None
        if not sep or resolution < 4 or resolution & (resolution - 1) or number is None or number <= 0:
            raise GBenchError(f"train.{key}: expected 'resolution:value,...' with power-of-two resolutions and positive "
                              f"values (e.g. '4:128,8:64'), got {item!r}")
        out[resolution] = number
    return out


@dataclass(frozen=True)
class GrowthSchedule:
    resolution: int  # final (network) resolution
    initial_resolution: int
    training_kimg: float
    transition_kimg: float
    minibatch_base: int
    minibatch: dict
    lr_g_base: float
    lr_g: dict
    lr_d_base: float
    lr_d: dict
    repeats: int = 4
    world_size: int = 1

    @classmethod
    def from_config(cls, t, resolution: int, world_size: int = 1) -> GrowthSchedule:
        """The schedule of a TrainConfig `t` for a network of `resolution`, checked (one-line errors)."""
        if resolution < 4 or resolution & (resolution - 1):
            raise GBenchError(f"progressive growing needs a power-of-two resolution >= 4, got {resolution}")
        initial = t.lod_initial_resolution
        if initial < 4 or initial & (initial - 1) or initial > resolution:
            raise GBenchError(f"train.lod_initial_resolution must be a power of two in 4..{resolution}, got {initial}")
        if t.lod_training_kimg < 0 or t.lod_transition_kimg < 0:
            raise GBenchError("train.lod_training_kimg and train.lod_transition_kimg must be >= 0")
        if t.minibatch_repeats < 1:
            raise GBenchError(f"train.minibatch_repeats must be >= 1, got {t.minibatch_repeats}")
        schedule = cls(resolution, initial, float(t.lod_training_kimg), float(t.lod_transition_kimg), t.batch_size_d,
                       parse_per_resolution(t.minibatch_per_res, "minibatch_per_res", int), t.lr_g,
                       parse_per_resolution(t.lr_g_per_res, "lr_g_per_res"), t.lr_d, parse_per_resolution(t.lr_d_per_res, "lr_d_per_res"),
                       t.minibatch_repeats, world_size)
        for res in sorted({initial * 2**k for k in range(int(math.log2(resolution // initial)) + 1)}):
            if schedule.minibatch_at(res) < 1:
                raise GBenchError(f"the minibatch at {res}x{res} ({schedule.minibatch.get(res, t.batch_size_d)}) is smaller than "
                                  f"the {world_size} processes that share it")
        return schedule

    def minibatch_at(self, resolution: int) -> int:
        size = int(self.minibatch.get(resolution, self.minibatch_base))
        return size - size % self.world_size

    def at(self, nimg: int) -> Phase:
        """The schedule after `nimg` real images (the official training_schedule(cur_nimg))."""
        kimg = nimg / 1000.0
        log2 = int(math.log2(self.resolution))
        phase_dur = self.training_kimg + self.transition_kimg
        phase = math.floor(kimg / phase_dur) if phase_dur > 0 else 0
        phase_kimg = kimg - phase * phase_dur
        lod = float(log2 - math.floor(math.log2(self.initial_resolution)) - phase)
        if self.transition_kimg > 0:
            lod -= max(phase_kimg - self.training_kimg, 0.0) / self.transition_kimg
        lod = max(lod, 0.0)
        resolution = 2 ** (log2 - math.floor(lod))
        return Phase(lod, resolution, self.minibatch_at(resolution), self.lr_g.get(resolution, self.lr_g_base),
                     self.lr_d.get(resolution, self.lr_d_base))

    def steps_for_kimg(self, total_kimg: float) -> int:
        """G steps (= minibatches) until total_kimg thousand real images are shown, in whole rounds of `repeats`
        minibatches: the official loop checks `cur_nimg < total_kimg * 1000` only between rounds. The minibatch only
        changes where a fade starts (the resolution doubles there), so whole stretches of rounds are counted at once."""
        total = total_kimg * 1000
        phase_dur = (self.training_kimg + self.transition_kimg) * 1000
        nimg, steps = 0, 0
        while nimg < total:
            phase = self.at(nimg)
            end = total
            if phase.lod > 0 and phase_dur > 0:  # the next fade start after nimg: the minibatch is constant until then
                j = math.floor((nimg - self.training_kimg * 1000) / phase_dur) + 1
                end = min(total, max(j * phase_dur + self.training_kimg * 1000, nimg + 1))
            per_round = phase.minibatch * self.repeats
            rounds = max(1, math.ceil((end - nimg) / per_round))
            nimg += rounds * per_round
            steps += rounds * self.repeats
        return steps


def steps_for_kimg(t, resolution: int, total_kimg: float) -> int:
    """`train.steps` of a recipe whose schedule is the TrainConfig `t`, to show total_kimg thousand images."""
    return GrowthSchedule.from_config(t, resolution).steps_for_kimg(total_kimg)
