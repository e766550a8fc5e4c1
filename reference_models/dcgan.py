"""DCGAN (Radford et al., 2016) as in pytorch/examples ``dcgan/main.py``, and a class-conditional variant.

- ``dcgan-64``: the pytorch/examples network (nz 100, ngf = ndf = 64, 4x4 kernels, no conv bias,
  BatchNorm everywhere except G's output and D's input, LeakyReLU 0.2 in D). G 3,576,704 / D 2,765,568.
- ``dcgan`` (32x32): the same design with one stage fewer (gbench's choice for CIFAR-10 and the smoke
  path, see shared/reference/models.md section 3b). G 3,448,576 / D 2,637,312.
- ``cdcgan`` (32x32, gbench design, models.md 5b): z (100) concatenated with a 50-d label embedding
  feeds G; D sees the image plus one extra input plane, a 1024-d label embedding reshaped to 32x32.
  G 3,858,676 / D 2,649,600.

D returns a logit (the examples apply Sigmoid + BCELoss; BCE-with-logits is the same loss, stabler).
Init follows the examples: conv weights N(0, 0.02), BN weight N(1, 0.02), bias 0.
Deviation: none from the examples' architecture; ``dcgan`` and ``cdcgan`` are our 32x32 designs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn


@dataclass(frozen=True)
class DCGANConfig:
    resolution: int = 32  # 32 (three up-stages) or 64 (four, pytorch/examples)
    latent_dim: int = 100
    g_channels: int = 64  # ngf
    d_channels: int = 64  # ndf
    channels: int = 3
    num_classes: int = 0  # > 0: conditional (cdcgan)
    g_label_dim: int = 50  # cdcgan: label embedding size concatenated to z


def _init_dcgan(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _stage_multipliers(resolution: int) -> list[int]:
    """Channel multipliers of the inner stages, widest first: 64x64 -> [8, 4, 2, 1], 32x32 -> [8, 4, 2]
    with ngf scaled so the widest stage stays 512 (models.md 3b: 512 -> 256 -> 128)."""
    if resolution == 64:
        return [8, 4, 2, 1]
    if resolution == 32:
        return [8, 4, 2]
    raise ValueError(f"DCGAN supports resolution 32 or 64, got {resolution}")


class Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.channels = cfg.latent_dim, cfg.num_classes, cfg.channels
        self.resolution, self.latent_distribution = cfg.resolution, "normal"
        # For 32x32 the stage widths are 512/256/128 (ngf 64 -> multipliers 8/4/2), matching models.md.
        widths = [cfg.g_channels * m for m in _stage_multipliers(cfg.resolution)]
        in_dim = cfg.latent_dim + (cfg.g_label_dim if cfg.num_classes else 0)
        self.label_embedding = nn.Embedding(cfg.num_classes, cfg.g_label_dim) if cfg.num_classes else None
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _init_dcgan(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.label_embedding is not None:
            if y is None:
                raise ValueError("conditional DCGAN generator needs labels y")
            z = torch.cat([z, self.label_embedding(y)], dim=1)
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        self.num_classes = cfg.num_classes
        mults = list(reversed(_stage_multipliers(cfg.resolution)))
        if cfg.resolution == 32:  # 32x32 D: 128 -> 256 -> 512 (models.md 3b)
            mults = [2, 4, 8]
        widths = [cfg.d_channels * m for m in mults]
        in_ch = cfg.channels + (1 if cfg.num_classes else 0)
        self.label_plane = nn.Embedding(cfg.num_classes, cfg.resolution * cfg.resolution) if cfg.num_classes else None
        layers: list[nn.Module] = [nn.Conv2d(in_ch, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        _init_dcgan(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.label_plane is not None:
            if y is None:
                raise ValueError("conditional DCGAN discriminator needs labels y")
            plane = self.label_plane(y).view(-1, 1, self.cfg.resolution, self.cfg.resolution)
            x = torch.cat([x, plane], dim=1)
        return self.net(x).flatten()


CONFIGS = {
    "dcgan": DCGANConfig(resolution=32),
    "dcgan-64": DCGANConfig(resolution=64),
    "cdcgan": DCGANConfig(resolution=32, num_classes=10),
}


def _builder(cls, name):
    return lambda **overrides: cls(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(Discriminator, name) for name in CONFIGS}
