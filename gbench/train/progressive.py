"""Progressive growing (task "progressive"): Progressive GAN (Karras et al. 2018) and StyleGAN v1 (Karras et al. 2019)
as their official training loops run them (tkarras/progressive_growing_of_gans train.py; NVlabs/stylegan
training/training_loop.py, the same loop).

Per G step (one official minibatch, D_repeats 1): a D step on processed reals and fresh z, the update of the G EMA
from the current G (the official Gs update runs with the D step, so the EMA lags G by the G step that follows), then
a G step on fresh z of the same minibatch size. Every `minibatch_repeats` (4) minibatches the schedule of
gbench/growth.py is read at the number of real images shown: the level of detail `lod` goes into G, D (their `lod`
buffers; the EMA copies G's buffers), the minibatch and the per-resolution learning rates are set, and whenever floor(lod)
or ceil(lod) changed (the start and the end of every fade) the Adam states of G and D are reset (reset_opt_for_new_lod).

Reals as the official `process_reals`: the dataset image at the trained resolution 2**(log2 R - floor(lod)) is the
full-resolution image box-averaged in float by 2x2 repeatedly and rounded (dataset_tool.py's lower LODs), scaled to
[-1, 1], mirrored at random (`data.flip`), blended with its own 2x2-box down-and-up version by frac(lod) (FadeLOD), and
upscaled by nearest neighbours to the network resolution (UpscaleLOD). G's output is at the network resolution too,
so D, its gradient penalty and R1 see the very tensors the official graph sees.

The EMA: `train.ema_halflife_kimg` > 0 gives StyleGAN's beta = 0.5 ** (minibatch / (halflife * 1000)) per step
(G_smoothing_kimg 10); otherwise `train.ema_decay` per step (Progressive GAN's G_smoothing 0.999).

Resume: the checkpoint holds the images shown, the round's schedule (lod, minibatch, learning rates), the previous lod
that decides the next optimizer reset, and the lod buffers inside the G/D/EMA state dicts, so a run stopped in the
middle of a fade (or of a round) resumes to the same numbers as an uninterrupted one.

Deviations: reals are read at full resolution and box-downsampled per batch (the official code read a TFRecord per
resolution): identical pixels, more I/O in the low-resolution phases of a 1024 run. The max_minibatch_per_gpu caps of
the official fp32 presets are not modelled (gbench's minibatch is global; use train.minibatch_per_res).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from gbench.config import RunConfig
from gbench.data.base import dataset_level
from gbench.errors import GBenchError
from gbench.growth import GrowthSchedule, Phase
from gbench.sampling import style_mixing_figure
from gbench.train.gan import GANTrainer, StepLog

PROGRESSIVE_LOSSES = ("wgan-gp", "wgan-gp-drift", "ns", "wgan", "hinge", "lsgan")


def fade_and_upscale(x: torch.Tensor, lod: float) -> torch.Tensor:
    """process_reals' FadeLOD and UpscaleLOD: lerp(x, up(down2(x)), frac(lod)), then nearest upscaling by 2**floor(lod)."""
    frac = lod - math.floor(lod)
    if frac > 0:
        x = torch.lerp(x, F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"), frac)
    factor = 2 ** math.floor(lod)
    return F.interpolate(x, scale_factor=factor, mode="nearest") if factor > 1 else x


class ProgressiveTrainer(GANTrainer):
    """Trainer of task "progressive"; `train.steps` minibatches (recipes derive it from total_kimg, gbench/growth.py)."""

    def __init__(self, cfg: RunConfig, device: torch.device, rank: int = 0, world_size: int = 1):
        t = cfg.train
        if t.loss not in PROGRESSIVE_LOSSES:
            raise GBenchError(f"the progressive trainer takes train.loss in {', '.join(PROGRESSIVE_LOSSES)}, not {t.loss!r}")
        if t.n_critic != 1 or t.loop_order != "d-first" or t.augment != "none" or t.co_train_sr:
            raise GBenchError("the progressive trainer runs the official loop (one D step, the EMA update, one G step per "
                              "minibatch, no augmentation): it needs train.n_critic=1, loop_order=d-first, augment=none")
        if t.optimizer != "adam":
            raise GBenchError("the progressive trainer uses Adam (train.optimizer=adam)")
        super().__init__(cfg, device, rank, world_size)
        for name, net in (("generator", self.G), ("discriminator", self.D)):
            if not hasattr(net, "set_lod"):
                raise GBenchError(f"{cfg.model.generator if name == 'generator' else cfg.model.discriminator} is not a growing "
                                  f"{name} (no set_lod): the progressive trainer needs progan-* / stylegan-* models")
        if self.data.resolution != self.G.resolution:
            raise GBenchError(f"the data is {self.data.resolution}x{self.data.resolution} but the networks are "
                              f"{self.G.resolution}x{self.G.resolution}: set data.resolution to the model's")
        self.schedule = GrowthSchedule.from_config(t, self.G.resolution, world_size)
        self.nimg = 0  # real images shown to D (global, all processes)
        self.prev_lod = -1.0  # the official loop starts from -1, so the first round "resets" fresh optimizers
        self.phase: Phase | None = None

    # -- state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        phase = None if self.phase is None else vars(self.phase).copy()
        return {**super().state_dict(), "nimg": self.nimg, "prev_lod": self.prev_lod, "phase": phase}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.nimg, self.prev_lod = state["nimg"], state["prev_lod"]
        self.phase = None if state["phase"] is None else Phase(**state["phase"])
        if self.phase is not None:
            self.sampler.batch_size = self.phase.minibatch

    @property
    def images_per_step(self) -> int:
        return self.phase.minibatch if self.phase else self.schedule.at(self.nimg).minibatch

    @property
    def g_batch_size(self) -> int:
        return self.phase.minibatch

    def learning_rates(self) -> dict[str, float]:
        extra = {"lod": round(self.phase.lod, 6), "resolution": self.phase.resolution, "kimg": round(self.nimg / 1000, 3)} if self.phase else {}
        return {**super().learning_rates(), **extra}

    # -- the schedule ---------------------------------------------------------------------------------
    def _begin_round(self) -> None:
        """Read the schedule at the images shown; set lod, minibatch and learning rates; reset Adam at a lod change."""
        phase = self.schedule.at(self.nimg)
        if self.cfg.train.reset_opt_for_new_lod and (math.floor(phase.lod) != math.floor(self.prev_lod)
                                                      or math.ceil(phase.lod) != math.ceil(self.prev_lod)):
            self.opt_g.state.clear()
            self.opt_d.state.clear()
        self.prev_lod, self.phase = phase.lod, phase
        for net in (self.G, self.D):
            net.set_lod(phase.lod)
        for opt, lr in ((self.opt_g, phase.lr_g), (self.opt_d, phase.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
        self.sampler.batch_size = phase.minibatch

    def real_batch(self) -> tuple[torch.Tensor, None]:
        """process_reals at the round's lod: the dataset level, [-1, 1], mirror, FadeLOD, UpscaleLOD."""
        lod = self.phase.lod
        images = self.data.images[self.sampler.next_indices()].to(self.device, non_blocking=True)
        x = dataset_level(images, 2 ** math.floor(lod)).float().div_(127.5).sub_(1)
        if self.cfg.data.flip:
            mask = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(mask[:, None, None, None], x.flip(-1), x)
        return fade_and_upscale(x, lod), None

    # -- one minibatch ----------------------------------------------------------------------------------
    def train_step(self, log: StepLog) -> None:
        if self.step % self.cfg.train.minibatch_repeats == 0 or self.phase is None:
            self._begin_round()
        _, d_terms = self.d_step()
        if self.ema:
            t = self.cfg.train
            beta = 0.5 ** (self.phase.minibatch / (t.ema_halflife_kimg * 1000)) if t.ema_halflife_kimg > 0 else t.ema_decay
            self.ema.update(self.G, beta)
        g_terms = self.g_step(None)
        self.nimg += self.phase.minibatch
        self.step += 1
        log.add(**d_terms, **g_terms)

    def save_samples(self, path) -> None:
        """The fixed-z grid, and for style-based generators the style-mixing figure (samples/style-mixing.png)."""
        super().save_samples(path)
        if hasattr(self.eval_generator, "style_mixing_grid"):
            style_mixing_figure(self.eval_generator, Path(path).parent / "style-mixing.png", seed=0, device=self.device)
