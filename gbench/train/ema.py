"""Exponential moving average of generator weights, with the recipes' warm-up rules.

- fixed decay per G step (AutoGAN 0.999, BigGAN 0.9999 after `ema_start_step`, before which EMA copies G);
- half-life in images (TransGAN/StyleGAN): beta = 0.5 ** (batch / halflife), with the half-life
  capped at `rampup * images_seen` during warm-up (TransGAN: ema_kimg 500, ema_warmup 0.1, images
  counted as D batch x D steps, transgan.md 2). With rampup the first update copies G.
Buffers (BN running stats) are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, G: nn.Module, *, decay: float, halflife_kimg: float = 0.0, rampup: float = 0.0, start_step: int = 0,
                 images_per_step: int = 64):
        self.model = copy.deepcopy(G).eval().requires_grad_(False)
        self.decay, self.halflife_kimg, self.rampup, self.start_step = decay, halflife_kimg, rampup, start_step
        self.images_per_step = images_per_step

    def beta(self, g_step: int, images_seen: int) -> float:
        """Decay for the update after G step `g_step` (0-based), with `images_seen` images so far."""
        if g_step < self.start_step:
            return 0.0
        if self.halflife_kimg > 0:
            halflife = self.halflife_kimg * 1000
            if self.rampup > 0:
                halflife = min(halflife, images_seen * self.rampup)
            return 0.5 ** (self.images_per_step / max(halflife, 1e-8))
        return self.decay

    @torch.no_grad()
    def update(self, G: nn.Module, beta: float) -> None:
        for p_ema, p in zip(self.model.parameters(), G.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - beta)
        for b_ema, b in zip(self.model.buffers(), G.buffers()):
            b_ema.copy_(b)
