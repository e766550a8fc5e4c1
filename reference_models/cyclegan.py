"""CycleGAN (Zhu et al., ICCV 2017): ResNet generators and the 70x70 PatchGAN with instance norm.

Follows junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py`` (``ResnetGenerator``, ``ResnetBlock``,
``NLayerDiscriminator``) with the ``cycle_gan_model.py`` defaults: ngf = ndf = 64, instance norm (no affine
parameters, no running statistics, so every conv keeps its bias), reflection padding, no dropout.
Spec and counts: shared/reference/models.md section 7.

Generators (``task = "unpaired"``; a CycleGAN trains two, G: A -> B and F: B -> A): ``forward(x)`` maps an image
in [-1, 1], (B, in_channels, H, W), to one in [-1, 1] (tanh). Paper notation c7s1-64, d128, d256, R256 x n_blocks,
u128, u64, c7s1-3.
- ``cyclegan``: ResNet-9 (256x256 training crops). 11,378,179 parameters.
- ``cyclegan-resnet6``: ResNet-6 (the paper's 128x128 runs, e.g. Cityscapes). 7,837,699.
The network is fully convolutional: any H, W works, and a multiple of 4 comes back the same size (the two
stride-2 convs round up, the two transposed convs double, so other sides come back as 4 * ceil(side / 4)).

Discriminator (both names): the 70x70 PatchGAN of ``pix2pix.py`` on one image (out_channels = 3 channels, no
condition), instance norm instead of BN: 2,764,737 parameters, per-patch logits (B, 1, H', W'), 30x30 at 256x256.

Init N(0, 0.02) as the official ``init_weights('normal', 0.02)``.
Deviations: none in architecture (module names differ from official checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from .pix2pix import PatchGAN, init_normal, normalization


@dataclass(frozen=True)
class CycleGANConfig:
    in_channels: int = 3
    out_channels: int = 3
    g_channels: int = 64  # ngf
    n_blocks: int = 9  # residual blocks at 1/4 resolution: 9 (256x256) or 6 (128x128)
    norm: str = "instance"
    dropout: bool = False  # official --no_dropout default for CycleGAN
    d_channels: int = 64  # ndf
    receptive_field: int = 70  # PatchGAN variant (see pix2pix.py)
    resolution: int = 256  # training crop side; informational, the generator is fully convolutional


class ResidualBlock(nn.Module):
    """x + [reflect-pad, conv3x3, norm, ReLU, (dropout), reflect-pad, conv3x3, norm](x)."""

    def __init__(self, channels: int, norm: str, dropout: bool):
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), normalization(norm, channels), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), normalization(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    task = "unpaired"

    def __init__(self, cfg: CycleGANConfig):
        super().__init__()
        self.cfg = cfg
        self.in_channels, self.out_channels, self.channels = cfg.in_channels, cfg.out_channels, cfg.out_channels
        self.resolution = cfg.resolution
        self.input_range = self.output_range = (-1.0, 1.0)
        w, bias = cfg.g_channels, cfg.norm == "instance"
        self.net = nn.Sequential(
            # c7s1-64
            nn.ReflectionPad2d(3), nn.Conv2d(cfg.in_channels, w, 7, bias=bias), normalization(cfg.norm, w), nn.ReLU(),
            # d128, d256
            nn.Conv2d(w, 2 * w, 3, 2, 1, bias=bias), normalization(cfg.norm, 2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1, bias=bias), normalization(cfg.norm, 4 * w), nn.ReLU(),
            # R256 x n_blocks
            *[ResidualBlock(4 * w, cfg.norm, cfg.dropout) for _ in range(cfg.n_blocks)],
            # u128, u64
            nn.ConvTranspose2d(4 * w, 2 * w, 3, 2, 1, output_padding=1, bias=bias), normalization(cfg.norm, 2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 3, 2, 1, output_padding=1, bias=bias), normalization(cfg.norm, w), nn.ReLU(),
            # c7s1-3
            nn.ReflectionPad2d(3), nn.Conv2d(w, cfg.out_channels, 7), nn.Tanh(),
        )
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_discriminator(cfg: CycleGANConfig) -> PatchGAN:
    """D_B judges G's outputs, so it reads out_channels (F's D is built with the channels swapped)."""
    return PatchGAN(cfg.out_channels, cfg.d_channels, cfg.receptive_field, cfg.norm)


CONFIGS = {
    "cyclegan": CycleGANConfig(),
    "cyclegan-resnet6": CycleGANConfig(n_blocks=6, resolution=128),
}


def _builder(build, name):
    return lambda **overrides: build(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(ResNetGenerator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(build_discriminator, name) for name in CONFIGS}
