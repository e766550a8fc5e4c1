"""SRGAN / SRResNet (Ledig et al., CVPR 2017), written from the paper (there is no official code).

Spec and counts: shared/reference/models.md section 8.

Generator (``task = "super_resolution"``), names ``srgan`` and ``srresnet`` (the same network; SRResNet is it
trained with pixel MSE only, SRGAN starts from it and adds VGG54 + adversarial losses):
conv9x9 64 + PReLU (kept for the long skip) -> 16 residual blocks [conv3x3, BN, PReLU, conv3x3, BN, + x] ->
conv3x3, BN, + long skip -> log2(scale) x [conv3x3 64 -> 256, PixelShuffle(2), PReLU] -> conv9x9 -> 3, linear.
Every PReLU has one shared slope. x4: 1,549,462 parameters. Fully convolutional: an LR image of any size,
odd included, gives ``scale`` times that size.

Value ranges, as in the paper's training: ``forward(lr)`` takes LR in [0, 1] and returns HR on the [-1, 1]
scale of the training targets (linear output, not clamped). ``UnitRangeSR(generator)`` is the evaluation view,
a module mapping LR [0, 1] to HR [0, 1] ((G(lr) + 1) / 2, clamped), which PSNR/SSIM code should call.

Discriminator (``srgan`` only; SRResNet has none): conv3x3 64 + LeakyReLU 0.2, then 7 x [conv3x3, BN, LeakyReLU]
with (width, stride) (64, 2) (128, 1) (128, 2) (256, 1) (256, 2) (512, 1) (512, 2), flatten 512 x 6 x 6 ->
dense 1024 -> LeakyReLU -> dense 1 -> a logit (B,) (the paper's sigmoid belongs to the loss). 23,565,505
parameters at the paper's 96x96 HR crops. The dense layer fixes the input size: config ``input_size`` (a multiple
of 16); any other size raises ValueError.

Deviations / choices where the paper is silent: every conv has a bias (also before BN); PyTorch default init (the
paper names none); PReLU slopes start at PyTorch's 0.25.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn


@dataclass(frozen=True)
class SRGANConfig:
    channels: int = 3
    scale: int = 4  # a power of two: one [conv, PixelShuffle(2), PReLU] stage per factor 2
    g_channels: int = 64
    n_blocks: int = 16  # residual blocks
    d_channels: int = 64
    d_dense: int = 1024
    input_size: int = 96  # HR side the discriminator accepts (fixed by its dense layer)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels), nn.PReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    task = "super_resolution"

    def __init__(self, cfg: SRGANConfig):
        super().__init__()
        if cfg.scale < 2 or cfg.scale & (cfg.scale - 1):
            raise ValueError(f"scale must be a power of two >= 2, got {cfg.scale}")
        self.cfg = cfg
        self.in_channels = self.out_channels = self.channels = cfg.channels
        self.scale = cfg.scale
        self.resolution = cfg.input_size  # HR training crop side
        self.input_range, self.output_range = (0.0, 1.0), (-1.0, 1.0)
        w = cfg.g_channels
        self.head = nn.Sequential(nn.Conv2d(cfg.channels, w, 9, 1, 4), nn.PReLU())
        self.body = nn.Sequential(*[ResidualBlock(w) for _ in range(cfg.n_blocks)], nn.Conv2d(w, w, 3, 1, 1), nn.BatchNorm2d(w))
        upsample: list[nn.Module] = []
        for _ in range(cfg.scale.bit_length() - 1):
            upsample += [nn.Conv2d(w, 4 * w, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.upsample = nn.Sequential(*upsample)
        self.tail = nn.Conv2d(w, cfg.channels, 9, 1, 4)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        h = self.head(lr)
        h = h + self.body(h)
        return self.tail(self.upsample(h))


class UnitRangeSR(nn.Module):
    """Evaluation view of an SR generator: LR in [0, 1] -> HR in [0, 1], i.e. (G(lr) + 1) / 2 clamped."""

    def __init__(self, generator: SRResNet):
        super().__init__()
        self.generator = generator
        self.task, self.scale = generator.task, generator.scale
        self.in_channels, self.out_channels = generator.in_channels, generator.out_channels
        self.input_range = self.output_range = (0.0, 1.0)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return ((self.generator(lr) + 1) / 2).clamp(0, 1)


class SRGANDiscriminator(nn.Module):
    def __init__(self, cfg: SRGANConfig):
        super().__init__()
        if cfg.input_size % 16:
            raise ValueError(f"input_size must be a multiple of 16 (four stride-2 convs), got {cfg.input_size}")
        self.cfg = cfg
        self.input_size = cfg.input_size
        w = cfg.d_channels
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, w, 3, 1, 1), nn.LeakyReLU(0.2)]
        c_in = w
        for c_out, stride in [(w, 2), (2 * w, 1), (2 * w, 2), (4 * w, 1), (4 * w, 2), (8 * w, 1), (8 * w, 2)]:
            layers += [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = cfg.input_size // 16
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, cfg.d_dense), nn.LeakyReLU(0.2), nn.Linear(cfg.d_dense, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(
                f"SRGAN discriminator takes {self.input_size}x{self.input_size} HR crops (its dense layer fixes the size), "
                f"got {x.shape[-2]}x{x.shape[-1]}; other square sides need a D built with input_size=<side> (a multiple of 16)"
            )
        return self.classifier(self.features(x)).flatten()


CONFIG = SRGANConfig()


def _build_generator(**overrides) -> SRResNet:
    return SRResNet(replace(CONFIG, **overrides))


GENERATORS = {"srgan": _build_generator, "srresnet": _build_generator}
DISCRIMINATORS = {"srgan": lambda **overrides: SRGANDiscriminator(replace(CONFIG, **overrides))}
