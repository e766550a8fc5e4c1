"""SN-GAN ResNet for CIFAR-10 (Miyato et al., ICLR 2018; projection D: Miyato & Koyama, ICLR 2018).

Follows pfnet-research/sngan_projection (Chainer): ``gen_models/resnet_32.py`` and ``dis_models/snresnet_32.py``
as configured by ``configs/sn_cifar10_unconditional.yml`` (G ch 256, D ch 128, dim_z 128, bottom width 4).

- ``sngan``: G 4,276,739 / D 1,053,824.
- G: Linear(z -> 4x4x256) -> 3x ``layers.GBlock``(256 -> 256, BN) -> BN -> ReLU -> conv3x3 256 -> 3 -> tanh.
- D: ``layers.ResNetDiscriminator`` (ch 128): spectral norm on every conv/linear, global sum pool, Linear without bias.
- ``num_classes > 0`` (our option, kept simple): D adds the projection term <SN-Embedding(y), h>; G's block norms
  become class-conditional BN (gamma table init 1, beta 0, as Chainer's CategoricalConditionalBatchNormalization);
  the final BN stays unconditional.
- Init as the Chainer code: Glorot-uniform with gain sqrt 2 on the blocks' 3x3 convs, gain 1 on 1x1 shortcuts, the
  Linear layers, the embedding and G's output conv; all biases 0; BN gamma 1, beta 0.

BN keeps Chainer's eps 2e-5 (PyTorch momentum 0.1 = Chainer decay 0.9).

Deviations: spectral norm is PyTorch's parametrization (eps 1e-12 as Chainer's l2normalize; u warmed up with 15
power iterations at construction where Chainer starts from a random u); conditional-BN gamma is stored as 1 + table
(same function, same init); ``resolution`` other than 32 (a multiple of 8) only widens the bottom and is not the
paper's STL-10 network.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .layers import SQRT2, ClassConditionalBatchNorm2d, GBlock, ResNetDiscriminator, glorot_init_

CHAINER_BN_EPS = 2e-5


@dataclass(frozen=True)
class SNGANConfig:
    resolution: int = 32
    latent_dim: int = 128
    g_channels: int = 256
    d_channels: int = 128
    channels: int = 3
    num_classes: int = 0  # > 0: conditional BN in G and a projection discriminator


class Generator(nn.Module):
    def __init__(self, cfg: SNGANConfig):
        super().__init__()
        if cfg.resolution % 8:
            raise ValueError(f"SN-GAN resolution must be divisible by 8, got {cfg.resolution}")
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, cfg.num_classes, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.bottom_width = cfg.resolution // 8
        ch = cfg.g_channels

        def make_norm(c: int) -> nn.Module:
            if cfg.num_classes:
                return ClassConditionalBatchNorm2d(c, cfg.num_classes, eps=CHAINER_BN_EPS)
            return nn.BatchNorm2d(c, eps=CHAINER_BN_EPS)

        self.l1 = nn.Linear(cfg.latent_dim, self.bottom_width**2 * ch)
        self.blocks = nn.ModuleList(GBlock(ch, ch, make_norm) for _ in range(3))
        self.out_norm = nn.BatchNorm2d(ch, eps=CHAINER_BN_EPS)
        self.out_conv = nn.Conv2d(ch, cfg.channels, 3, padding=1)
        glorot_init_(self, conv3x3_gain=SQRT2, kinds=(nn.Conv2d, nn.Linear))  # conditional-BN tables stay gamma 1, beta 0
        nn.init.xavier_uniform_(self.out_conv.weight, gain=1.0)  # c5: GlorotUniform() without the sqrt 2

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes and y is None:
            raise ValueError("conditional SN-GAN generator needs labels y")
        h = self.l1(z).view(-1, self.cfg.g_channels, self.bottom_width, self.bottom_width)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))


def Discriminator(cfg: SNGANConfig) -> ResNetDiscriminator:
    """SN-ResNet D (``snresnet_32.SNResNetDiscriminator`` / ``SNResNetProjectionDiscriminator``)."""
    d = ResNetDiscriminator(
        channels=cfg.d_channels,
        in_channels=cfg.channels,
        resolution=cfg.resolution,
        num_classes=cfg.num_classes,
        pooling="sum",
        linear_bias=False,
        sn_eps=1e-12,
        init=lambda m: glorot_init_(m, conv3x3_gain=SQRT2),
    )
    d.cfg = cfg
    return d


CONFIGS = {"sngan": SNGANConfig()}


def _builder(cls, name):
    return lambda **overrides: cls(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(Discriminator, name) for name in CONFIGS}
