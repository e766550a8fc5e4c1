"""WGAN-GP ResNet for CIFAR-10, unconditional (Gulrajani et al., NeurIPS 2017: IS 7.86).

Follows igul222/improved_wgan_training ``gan_cifar_resnet.py`` with CONDITIONAL = False (DIM_G = DIM_D = 128,
NORMALIZATION_G = True, NORMALIZATION_D = False) and its ``tflib`` layers.

- ``wgan-gp``: G 1,204,483 / critic 1,053,825.
- G: Linear(z 128 -> 4x4x128) -> 3x ``layers.GBlock``(128 -> 128, BN): BN -> ReLU -> UpConv3x3 -> BN -> ReLU -> conv3x3,
  shortcut UpConv1x1 ("UpConv" = depth_to_space of 4 copies = nearest x2, then conv) -> BN -> ReLU -> conv3x3 -> tanh.
- Critic: ``layers.ResNetDiscriminator`` without spectral norm or any normalisation: OptimizedResBlockDisc1 (conv3x3 ->
  ReLU -> ConvMeanPool3x3; shortcut MeanPoolConv1x1) -> ResBlock down (ReLU-conv3x3-ReLU-ConvMeanPool3x3; shortcut
  ConvMeanPool1x1) -> 2x ResBlock (identity shortcut) -> ReLU -> global **mean** pool -> Linear(128 -> 1) with bias.
- Init as tflib: "He" convs (uniform with std sqrt(4 / (fan_in + fan_out)) = Glorot-uniform with gain sqrt 2) for the
  blocks' 3x3 convs; Glorot (gain 1) for the 1x1 shortcuts, G's output conv and both Linear layers (tflib's Linear
  default); all biases 0; BN scale 1, offset 0, eps 1e-5.

Deviation: the official G normalises with the current batch's statistics at sampling time too (``Batchnorm`` is
never given ``is_training``). PyTorch BN uses running statistics in ``eval()`` mode; sample in ``train()`` mode
(under ``torch.no_grad()``) to match the official behaviour. The AC-GAN variant (IS 8.42) is not built here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .layers import SQRT2, GBlock, ResNetDiscriminator, glorot_init_


@dataclass(frozen=True)
class WGANGPConfig:
    resolution: int = 32
    latent_dim: int = 128
    g_channels: int = 128  # DIM_G
    d_channels: int = 128  # DIM_D
    channels: int = 3


class Generator(nn.Module):
    def __init__(self, cfg: WGANGPConfig):
        super().__init__()
        if cfg.resolution % 8:
            raise ValueError(f"WGAN-GP resolution must be divisible by 8, got {cfg.resolution}")
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, 0, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.bottom_width = cfg.resolution // 8
        ch = cfg.g_channels
        self.l1 = nn.Linear(cfg.latent_dim, self.bottom_width**2 * ch)
        self.blocks = nn.Sequential(*(GBlock(ch, ch, lambda c: nn.BatchNorm2d(c, eps=1e-5)) for _ in range(3)))
        self.out_norm = nn.BatchNorm2d(ch, eps=1e-5)
        self.out_conv = nn.Conv2d(ch, cfg.channels, 3, padding=1)
        glorot_init_(self, conv3x3_gain=SQRT2)
        nn.init.xavier_uniform_(self.out_conv.weight, gain=1.0)  # Generator.Output: he_init=False

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.l1(z).view(-1, self.cfg.g_channels, self.bottom_width, self.bottom_width)
        h = self.blocks(h)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))


def Discriminator(cfg: WGANGPConfig) -> ResNetDiscriminator:
    """The critic: no normalisation (the gradient penalty forbids BN), mean pool, Linear with bias."""
    d = ResNetDiscriminator(
        channels=cfg.d_channels,
        in_channels=cfg.channels,
        resolution=cfg.resolution,
        pooling="mean",
        linear_bias=True,
        sn_eps=None,
        init=lambda m: glorot_init_(m, conv3x3_gain=SQRT2),
    )
    d.cfg = cfg
    return d


CONFIGS = {"wgan-gp": WGANGPConfig()}


def _builder(cls, name):
    return lambda **overrides: cls(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(Discriminator, name) for name in CONFIGS}
