"""Fully connected GANs: the original GAN's MNIST MLPs and an MLP conditional GAN (models.md section 5).

``gan-mlp`` follows Goodfellow et al., "Generative Adversarial Nets" (2014), configuration
goodfeli/adversarial ``mnist.yaml`` (pylearn2):
- G: z (100) -> Linear 1200 ReLU -> Linear 1200 ReLU -> Linear 784 sigmoid, weights U(-0.05, 0.05),
  biases 0, output bias set from the data's pixel marginals (``init_output_bias``). G 2,503,984.
- D: dropout(0.2) -> Maxout(784 -> 240 units x 5 pieces) -> dropout(0.5) -> Maxout(240 x 5) -> dropout(0.5)
  -> Linear(240 -> 1), weights U(-0.005, 0.005). D 1,231,441. The pylearn2 dropout (keep 0.8 scaled by
  1.25, keep 0.5 scaled by 2) is exactly ``nn.Dropout(0.2)`` / ``nn.Dropout(0.5)``: active only in train
  mode. D returns the logit; the original's sigmoid belongs in the loss (BCE with logits).
- Noise: the stored ``mnist.yaml`` versions disagree (one sets ``noise: 'uniform'``, one leaves the
  Generator's default ``"gaussian"``); models.md says uniform, and we follow it. pylearn2's uniform noise is
  U(-sqrt 3, sqrt 3) (unit variance); gbench draws U(-1, 1) for "uniform", so G multiplies z by
  ``latent_scale`` = sqrt 3 first, which gives the original's input distribution exactly.

``cgan-mlp`` follows the common PyTorch port of Mirza & Osindero, "Conditional Generative Adversarial
Nets" (2014): eriklindernoren/PyTorch-GAN ``implementations/cgan/cgan.py``:
- G: [Embedding(10, 10)(y) ++ z (100)] -> 128 LReLU 0.2 -> 256 BN LReLU -> 512 BN LReLU -> 1024 BN LReLU
  -> Linear to 1 x R x R, tanh. G 1,757,412 at R = 32 (1,511,412 at 28). BatchNorm eps is 0.8: the port
  passes 0.8 as BatchNorm1d's second positional argument, which is eps (kept, ``bn_eps``).
- D: [image ++ Embedding(10, 10)(y)] -> 512 LReLU -> 512 Dropout 0.4 LReLU -> 512 Dropout 0.4 LReLU -> 1.
  D 1,055,845 at 32 (932,965 at 28). PyTorch default init; z ~ N(0, I).

Deviations:
- gan-mlp G returns 2 * sigmoid(a) - 1 instead of sigmoid(a): gbench feeds every model images in [-1, 1],
  so the output is the same sigmoid unit rescaled; its D therefore sees [-1, 1] pixels (the original saw
  [0, 1]), a fixed affine change of D's first-layer input.
- gan-mlp D has no sigmoid (returns logits), as every gbench discriminator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn


# ----------------------------------------------------------------------------------------------
# gan-mlp (Goodfellow et al., 2014)


@dataclass(frozen=True)
class GoodfellowMLPConfig:
    resolution: int = 28
    channels: int = 1
    latent_dim: int = 100
    latent_scale: float = math.sqrt(3.0)  # U(-1, 1) from gbench -> pylearn2's U(-sqrt 3, sqrt 3)
    g_hidden: int = 1200
    g_init_range: float = 0.05  # pylearn2 irange: weights U(-r, r), biases 0
    d_units: int = 240
    d_pieces: int = 5
    d_init_range: float = 0.005
    d_input_dropout: float = 0.2  # keep 0.8, scale 1.25
    d_hidden_dropout: float = 0.5  # keep 0.5, scale 2


def _init_uniform(module: nn.Module, init_range: float) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -init_range, init_range)
            nn.init.zeros_(m.bias)


class GoodfellowGenerator(nn.Module):
    def __init__(self, cfg: GoodfellowMLPConfig):
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, 0, "uniform"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.hidden = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.g_hidden), nn.ReLU(),
            nn.Linear(cfg.g_hidden, cfg.g_hidden), nn.ReLU(),
        )
        self.output = nn.Linear(cfg.g_hidden, cfg.channels * cfg.resolution**2)
        _init_uniform(self, cfg.g_init_range)

    @torch.no_grad()
    def init_output_bias(self, pixel_marginals: torch.Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> None:
        """Set the output bias so that an all-zero pre-activation reproduces the data's mean image, as
        pylearn2's ``init_sigmoid_bias_from_marginals`` (mean clipped to [1e-7, 1 - 1e-7], then logit).

        ``pixel_marginals``: per-pixel data means, any shape with C * R * R entries, in ``value_range``
        ((0, 1) as the original; pass (-1, 1) for means of gbench's [-1, 1] images)."""
        lo, hi = value_range
        p = (pixel_marginals.detach().double().flatten() - lo) / (hi - lo)
        if p.numel() != self.output.bias.numel():
            raise ValueError(f"expected {self.output.bias.numel()} pixel means, got {p.numel()}")
        self.output.bias.copy_(torch.logit(p.clamp(1e-7, 1 - 1e-7)).to(self.output.bias))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a = self.output(self.hidden(z * self.cfg.latent_scale))
        return (2 * torch.sigmoid(a) - 1).view(-1, self.channels, self.resolution, self.resolution)


class Maxout(nn.Module):
    """Linear to units x pieces, then the max over each unit's pieces (pylearn2 keeps a unit's pieces adjacent)."""

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(-1, self.units, self.pieces).amax(dim=-1)


class GoodfellowDiscriminator(nn.Module):
    def __init__(self, cfg: GoodfellowMLPConfig):
        super().__init__()
        self.cfg = cfg
        self.num_classes, self.resolution, self.channels = 0, cfg.resolution, cfg.channels
        self.net = nn.Sequential(
            nn.Dropout(cfg.d_input_dropout),
            Maxout(cfg.channels * cfg.resolution**2, cfg.d_units, cfg.d_pieces),
            nn.Dropout(cfg.d_hidden_dropout),
            Maxout(cfg.d_units, cfg.d_units, cfg.d_pieces),
            nn.Dropout(cfg.d_hidden_dropout),
            nn.Linear(cfg.d_units, 1),
        )
        _init_uniform(self, cfg.d_init_range)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).flatten()


# ----------------------------------------------------------------------------------------------
# cgan-mlp (PyTorch-GAN port of Mirza & Osindero, 2014)


@dataclass(frozen=True)
class ConditionalMLPConfig:
    resolution: int = 32  # 32 (the port's default) or 28
    channels: int = 1
    latent_dim: int = 100
    num_classes: int = 10
    g_widths: tuple[int, ...] = (128, 256, 512, 1024)  # BN on every layer but the first
    bn_eps: float = 0.8
    d_width: int = 512
    d_dropout: float = 0.4


class ConditionalGenerator(nn.Module):
    def __init__(self, cfg: ConditionalMLPConfig):
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, cfg.num_classes, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.label_embedding = nn.Embedding(cfg.num_classes, cfg.num_classes)
        widths = [cfg.latent_dim + cfg.num_classes, *cfg.g_widths]
        layers: list[nn.Module] = []
        for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(w_in, w_out))
            if i > 0:
                layers.append(nn.BatchNorm1d(w_out, eps=cfg.bn_eps))
            layers.append(nn.LeakyReLU(0.2))
        layers += [nn.Linear(widths[-1], cfg.channels * cfg.resolution**2), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.label_embedding(y), z], dim=1)
        return self.net(x).view(-1, self.channels, self.resolution, self.resolution)


class ConditionalDiscriminator(nn.Module):
    def __init__(self, cfg: ConditionalMLPConfig):
        super().__init__()
        self.cfg = cfg
        self.num_classes, self.resolution, self.channels = cfg.num_classes, cfg.resolution, cfg.channels
        self.label_embedding = nn.Embedding(cfg.num_classes, cfg.num_classes)
        width = cfg.d_width
        self.net = nn.Sequential(
            nn.Linear(cfg.channels * cfg.resolution**2 + cfg.num_classes, width), nn.LeakyReLU(0.2),
            nn.Linear(width, width), nn.Dropout(cfg.d_dropout), nn.LeakyReLU(0.2),
            nn.Linear(width, width), nn.Dropout(cfg.d_dropout), nn.LeakyReLU(0.2),
            nn.Linear(width, 1),
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x.flatten(1), self.label_embedding(y)], dim=1)
        return self.net(x).flatten()


CONFIGS = {
    "gan-mlp": (GoodfellowMLPConfig(), GoodfellowGenerator, GoodfellowDiscriminator),
    "cgan-mlp": (ConditionalMLPConfig(), ConditionalGenerator, ConditionalDiscriminator),
}


def _builder(name: str, which: int):
    cfg, *classes = CONFIGS[name]
    return lambda **overrides: classes[which](replace(cfg, **overrides))


GENERATORS = {name: _builder(name, 0) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(name, 1) for name in CONFIGS}
