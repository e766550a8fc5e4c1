"""AutoGAN (Gong et al., ICCV 2019): the discovered CIFAR-10 generator and its SN-GAN ResNet discriminator.

Follows TAMU-VITA/AutoGAN ``models/autogan_cifar10_a.py`` (+ ``building_blocks.py``) run by ``exps/autogan_cifar10_a.sh``
(gf_dim 256, df_dim 128, latent 128, bottom width 4, ``d_spectral_norm True``, init ``xavier_uniform``).

- ``autogan``: G 4,405,251 / D 1,053,824 at 32x32. ``autogan-stl10``: bottom width 6 -> 48x48, G 5,065,731 (only the
  first Linear grows), the same D run on 48x48 inputs.
- G: Linear(z -> 4x4x256) -> Cell1 (nearest, shortcut) -> Cell2 (bilinear, shortcut, 1 skip in) -> Cell3 (nearest,
  no shortcut, 2 skips in) -> BN -> ReLU -> conv3x3 -> tanh. No normalisation inside the cells.
- A cell: ReLU -> x2 up -> conv3x3 (c1) [+ conv1x1(resize(skip_i)) for each incoming skip] -> ReLU -> conv3x3 (c2)
  [+ conv1x1(up(x)) shortcut]. It hands on the c1 output as its skip **after** the cross-scale terms were added:
  the official code aliases ``skip = h`` and then adds in place, so Cell3 receives Cell2's skip including the
  resized Cell1 term. We add out of place and take the skip afterwards, which gives the same tensor.
- D: ``layers.ResNetDiscriminator`` with 128 channels, spectral norm everywhere, global sum pool, Linear without bias.
- Init as the official ``weights_init``: xavier-uniform (gain 1) on every Conv2d weight (G and D), BN weight
  N(1, 0.02) and bias 0; conv biases and Linear layers keep PyTorch's default init.

Deviations: spectral norm is PyTorch's parametrization (u warmed up with 15 power iterations at construction, then 1
per training forward), where the official code used ``nn.utils.spectral_norm`` (random u, 1 iteration per forward);
the official init ran after spectral norm was attached, ours before (same resulting weights).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResNetDiscriminator, upsample


@dataclass(frozen=True)
class AutoGANConfig:
    resolution: int = 32  # 32 (CIFAR-10, bottom width 4) or 48 (STL-10, bottom width 6): 3 x2 cells
    latent_dim: int = 128
    g_channels: int = 256  # gf_dim
    d_channels: int = 128  # df_dim
    channels: int = 3
    d_spectral_norm: bool = True


def _init_autogan(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight, gain=1.0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Cell(nn.Module):
    """One searched up-sampling cell; returns ``(skip_out, out)``, ``skip_out`` = c1 output plus incoming skip terms."""

    def __init__(self, in_channels: int, out_channels: int, up_mode: str, num_skip_in: int, shortcut: bool):
        super().__init__()
        self.up_mode = up_mode
        self.c1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.c2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip_in_ops = nn.ModuleList(nn.Conv2d(out_channels, out_channels, 1) for _ in range(num_skip_in))
        self.c_sc = nn.Conv2d(in_channels, out_channels, 1) if shortcut else None

    def forward(self, x: torch.Tensor, skips: tuple[torch.Tensor, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
        if len(skips) != len(self.skip_in_ops):
            raise ValueError(f"cell expects {len(self.skip_in_ops)} skip inputs, got {len(skips)}")
        h = self.c1(upsample(F.relu(x), self.up_mode))
        for skip, op in zip(skips, self.skip_in_ops):
            h = h + op(F.interpolate(skip, size=h.shape[-2:], mode=self.up_mode))
        skip_out = h  # includes the cross-scale terms (official in-place add)
        out = self.c2(F.relu(h))
        if self.c_sc is not None:
            out = out + self.c_sc(upsample(x, self.up_mode))
        return skip_out, out


class Generator(nn.Module):
    def __init__(self, cfg: AutoGANConfig):
        super().__init__()
        if cfg.resolution % 8:
            raise ValueError(f"AutoGAN resolution must be divisible by 8, got {cfg.resolution}")
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, 0, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.bottom_width = cfg.resolution // 8
        ch = cfg.g_channels
        self.l1 = nn.Linear(cfg.latent_dim, self.bottom_width**2 * ch)
        self.cell1 = Cell(ch, ch, "nearest", num_skip_in=0, shortcut=True)
        self.cell2 = Cell(ch, ch, "bilinear", num_skip_in=1, shortcut=True)
        self.cell3 = Cell(ch, ch, "nearest", num_skip_in=2, shortcut=False)
        self.to_rgb = nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, cfg.channels, 3, padding=1), nn.Tanh())
        _init_autogan(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.l1(z).view(-1, self.cfg.g_channels, self.bottom_width, self.bottom_width)
        skip1, h1 = self.cell1(h)
        skip2, h2 = self.cell2(h1, (skip1,))
        _, h3 = self.cell3(h2, (skip1, skip2))
        return self.to_rgb(h3)


def Discriminator(cfg: AutoGANConfig) -> ResNetDiscriminator:
    """SN-GAN ResNet D (AutoGAN ``Discriminator``): SN everywhere, sum pool, Linear without bias."""
    d = ResNetDiscriminator(
        channels=cfg.d_channels,
        in_channels=cfg.channels,
        resolution=cfg.resolution,
        pooling="sum",
        linear_bias=False,
        sn_eps=1e-12 if cfg.d_spectral_norm else None,
        init=_init_autogan,
    )
    d.cfg = cfg
    return d


CONFIGS = {
    "autogan": AutoGANConfig(resolution=32),
    "autogan-stl10": AutoGANConfig(resolution=48),
}


def _builder(cls, name):
    return lambda **overrides: cls(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(Discriminator, name) for name in CONFIGS}
