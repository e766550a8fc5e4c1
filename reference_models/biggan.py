"""BigGAN for CIFAR-10, class-conditional (Brock et al., ICLR 2019), as in ajbrock/BigGAN-PyTorch.

Follows ``BigGAN.py`` + ``layers.py`` run by ``scripts/launch_cifar_ema.sh`` (and the DiffAugment fork's
``scripts/biggan-cifar10.sh``): resolution 32, G_ch = D_ch = 64 (so 4 * 64 = 256 channels everywhere; our
``g_channels`` / ``d_channels`` are that 256), dim_z 128, no self-attention, G_shared off, hier off, spectral norm
in G and D, BN eps 1e-5, SN eps 1e-8, init N02.

- ``biggan``: G 4,304,387 / D 4,207,361, ``num_classes`` 10; ``G.forward(z, y)``, ``D.forward(x, y)``.
- G: SN-Linear(z -> 4x4x256) -> 3x ``layers.GBlock``(256 -> 256) with class-conditional BN (gain = 1 + Embedding(10, C)[y],
  bias = Embedding(10, C)[y], no spectral norm on these tables) -> BN -> ReLU -> SN-conv3x3 256 -> 3 -> tanh.
  Every conv (3x3, 1x1 shortcuts, output) and the Linear carry spectral norm.
- D: ``layers.ResNetDiscriminator`` (256 channels): DBlock 3 -> 256 (down, no pre-activation, shortcut pool -> conv),
  DBlock 256 (down, pre-activation, shortcut conv -> pool), 2x DBlock 256 (identity shortcut) -> ReLU -> global sum
  pool -> SN-Linear(256 -> 1, with bias) + projection <SN-Embedding(10, 256)[y], h>. (ajbrock's DBlock, like the
  SN-GAN one, pools the residual after its second conv.)
- Init N02: N(0, 0.02) on every Conv2d, Linear and Embedding weight (the conditional-BN tables included, so gains
  start at 1 + N(0, 0.02)); biases keep PyTorch's default init; output BN gain 1, bias 0.

Deviations: spectral norm is PyTorch's parametrization, whose u/v are warmed up with 15 power iterations at
construction (ajbrock's ``SN`` starts from an un-normalised random u and keeps an extra logging-only ``sv0`` buffer);
both then run 1 iteration per training forward and normalise by u^T W v.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ClassConditionalBatchNorm2d, GBlock, ResNetDiscriminator, add_spectral_norm


@dataclass(frozen=True)
class BigGANConfig:
    resolution: int = 32
    latent_dim: int = 128
    g_channels: int = 256  # 4 * G_ch
    d_channels: int = 256  # 4 * D_ch
    channels: int = 3
    num_classes: int = 10
    bn_eps: float = 1e-5
    sn_eps: float = 1e-8


def _init_n02(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)


def _check(cfg: BigGANConfig) -> None:
    if cfg.num_classes < 1:
        raise ValueError("BigGAN is class-conditional: num_classes must be >= 1")
    if cfg.resolution % 8:
        raise ValueError(f"BigGAN resolution must be divisible by 8, got {cfg.resolution}")


class Generator(nn.Module):
    def __init__(self, cfg: BigGANConfig):
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, cfg.num_classes, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.bottom_width = cfg.resolution // 8
        ch = cfg.g_channels
        self.linear = nn.Linear(cfg.latent_dim, self.bottom_width**2 * ch)
        self.blocks = nn.ModuleList(
            GBlock(ch, ch, lambda c: ClassConditionalBatchNorm2d(c, cfg.num_classes, eps=cfg.bn_eps)) for _ in range(3)
        )
        self.out_norm = nn.BatchNorm2d(ch, eps=cfg.bn_eps)
        self.out_conv = nn.Conv2d(ch, cfg.channels, 3, padding=1)
        _init_n02(self)
        add_spectral_norm(self, eps=cfg.sn_eps, kinds=(nn.Conv2d, nn.Linear))  # not the conditional-BN tables

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.linear(z).view(-1, self.cfg.g_channels, self.bottom_width, self.bottom_width)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))


def Discriminator(cfg: BigGANConfig) -> ResNetDiscriminator:
    """BigGAN CIFAR D: SN everywhere (eps 1e-8), sum pool, Linear with bias, SN-embedding projection."""
    _check(cfg)
    d = ResNetDiscriminator(
        channels=cfg.d_channels,
        in_channels=cfg.channels,
        resolution=cfg.resolution,
        num_classes=cfg.num_classes,
        pooling="sum",
        linear_bias=True,
        sn_eps=cfg.sn_eps,
        init=_init_n02,
    )
    d.cfg = cfg
    return d


CONFIGS = {"biggan": BigGANConfig()}


def _builder(cls, name):
    return lambda **overrides: cls(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(Discriminator, name) for name in CONFIGS}
