"""Shared building blocks of the ResNet-family GANs (SN-GAN, AutoGAN, WGAN-GP, BigGAN).

- Spectral norm through ``torch.nn.utils.parametrizations.spectral_norm`` with one power iteration per
  training-mode forward; its ``u``/``v`` vectors are buffers, so they live in ``state_dict`` (checkpoints hold them).
  Models build plain layers, initialise them, then wrap them (``add_spectral_norm``), so PyTorch's 15-step
  warm-up of ``u`` starts from the final initial weights.
- ``GBlock``: the pre-activation up-sampling residual block shared by SN-GAN, WGAN-GP and BigGAN generators:
  norm -> ReLU -> nearest x2 -> conv3x3 -> norm -> ReLU -> conv3x3, shortcut nearest x2 -> conv1x1.
- ``OptimizedDBlock`` / ``DBlock`` / ``ResNetDiscriminator``: the SN-GAN ResNet discriminator
  (pfnet-research/sngan_projection ``dis_models/snresnet_32.py``). AutoGAN copied it; BigGAN's CIFAR D and the
  WGAN-GP critic have the same layer graph (WGAN-GP's ConvMeanPool = conv then 2x2 mean, MeanPoolConv = mean then
  conv), differing only in width, spectral norm, pooling (sum or mean), head bias and the projection term.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

# --------------------------------------------------------------------------- spectral norm and init helpers


def add_spectral_norm(root: nn.Module, eps: float = 1e-12, kinds: tuple[type, ...] = (nn.Conv2d, nn.Linear, nn.Embedding)) -> nn.Module:
    """Wrap the ``weight`` of every submodule of the given kinds in spectral norm (1 power iteration per forward)."""
    targets = [m for m in root.modules() if isinstance(m, kinds)]  # collect first: wrapping adds modules
    for module in targets:
        parametrizations.spectral_norm(module, n_power_iterations=1, eps=eps)
    return root


def raw_weight(module: nn.Module) -> torch.Tensor:
    """The trainable, un-normalised weight of a layer (the spectral-norm ``original`` when wrapped)."""
    if hasattr(module, "parametrizations") and "weight" in module.parametrizations:
        return module.parametrizations.weight.original
    return module.weight


def glorot_init_(root: nn.Module, conv3x3_gain: float = 1.0, kinds: tuple[type, ...] = (nn.Conv2d, nn.Linear, nn.Embedding)) -> None:
    """Glorot-uniform weights and zero biases on every layer of the given kinds (Chainer and tflib defaults).

    3x3 convs get ``conv3x3_gain`` (sqrt 2 = SN-GAN's GlorotUniform(sqrt 2) and tflib's "He" init); 1x1 convs,
    linears and embeddings get gain 1. Callers re-initialise output convs that differ.
    """
    for m in root.modules():
        if isinstance(m, kinds):
            is_3x3 = isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
            nn.init.xavier_uniform_(m.weight, gain=conv3x3_gain if is_3x3 else 1.0)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


SQRT2 = math.sqrt(2.0)


def upsample(x: torch.Tensor, mode: str = "nearest") -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode=mode)


def downsample(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


# --------------------------------------------------------------------------- normalisation


class ClassConditionalBatchNorm2d(nn.Module):
    """BatchNorm without affine, then per-class ``gain = 1 + gain_table[y]`` and ``bias = bias_table[y]``.

    The tables are ``nn.Embedding(num_classes, C)`` as in BigGAN-PyTorch ``layers.ccbn`` (G_shared off). Zero tables
    equal Chainer's CategoricalConditionalBatchNormalization initialised to gamma 1, beta 0 (SN-GAN projection code).
    """

    def __init__(self, num_features: int, num_classes: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gain = 1.0 + self.gain(y)[:, :, None, None]
        bias = self.bias(y)[:, :, None, None]
        return self.norm(x) * gain + bias


# --------------------------------------------------------------------------- generator block


class GBlock(nn.Module):
    """Up-sampling residual block: norm-ReLU-up-conv3x3-norm-ReLU-conv3x3 plus up-conv1x1 shortcut.

    ``make_norm(channels)`` builds each norm layer; a norm that is a ``ClassConditionalBatchNorm2d`` is called with
    the labels. The shortcut is always a 1x1 conv because the block always up-samples.
    """

    def __init__(self, in_channels: int, out_channels: int, make_norm: Callable[[int], nn.Module]):
        super().__init__()
        self.norm1 = make_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = make_norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    @staticmethod
    def _norm(norm: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return norm(x, y) if isinstance(norm, ClassConditionalBatchNorm2d) else norm(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(upsample(F.relu(self._norm(self.norm1, x, y))))
        h = self.conv2(F.relu(self._norm(self.norm2, h, y)))
        return h + self.shortcut(upsample(x))


# --------------------------------------------------------------------------- discriminator blocks


class OptimizedDBlock(nn.Module):
    """First D block (no leading ReLU): conv3x3-ReLU-conv3x3-avgpool, shortcut avgpool-conv1x1 (= MeanPoolConv)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = downsample(self.conv2(F.relu(self.conv1(x))))
        return h + self.shortcut(downsample(x))


class DBlock(nn.Module):
    """ReLU-conv3x3-ReLU-conv3x3 [-avgpool]; shortcut conv1x1 [-avgpool] (= ConvMeanPool) when the shape changes,
    identity otherwise. Hidden width = output width (all uses here have in = out)."""

    def __init__(self, in_channels: int, out_channels: int, down: bool = False):
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if (down or in_channels != out_channels) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.down:
            h, skip = downsample(h), downsample(skip)
        return h + skip


class ResNetDiscriminator(nn.Module):
    """SN-GAN ResNet D for 32x32 (works on any side divisible by 4, e.g. 48 for STL-10):

    OptimizedDBlock(in -> ch, /2) -> DBlock(ch, /2) -> DBlock(ch) -> DBlock(ch) -> ReLU -> global sum or mean pool
    -> Linear(ch -> 1) [+ projection <embed(y), h> when ``num_classes > 0``]. Returns logits shaped (B,).

    ``init`` re-initialises the plain layers before spectral norm (``sn_eps=None`` = no spectral norm) is added to
    every conv, linear and embedding.
    """

    def __init__(
        self,
        *,
        channels: int,
        in_channels: int = 3,
        resolution: int = 32,
        num_classes: int = 0,
        pooling: str = "sum",
        linear_bias: bool = False,
        sn_eps: float | None = 1e-12,
        init: Callable[[nn.Module], None] | None = None,
    ):
        super().__init__()
        if pooling not in ("sum", "mean"):
            raise ValueError(f"pooling must be 'sum' or 'mean', got {pooling!r}")
        if resolution % 4:
            raise ValueError(f"resolution must be divisible by 4, got {resolution}")
        self.resolution, self.channels, self.num_classes, self.pooling = resolution, in_channels, num_classes, pooling
        self.blocks = nn.Sequential(
            OptimizedDBlock(in_channels, channels),
            DBlock(channels, channels, down=True),
            DBlock(channels, channels),
            DBlock(channels, channels),
        )
        self.linear = nn.Linear(channels, 1, bias=linear_bias)
        self.embed = nn.Embedding(num_classes, channels) if num_classes else None
        if init is not None:
            init(self)
        if sn_eps is not None:
            add_spectral_norm(self, eps=sn_eps)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(x))
        h = h.sum(dim=(2, 3)) if self.pooling == "sum" else h.mean(dim=(2, 3))
        logits = self.linear(h).flatten()
        if self.embed is not None:
            if y is None:
                raise ValueError("class-conditional discriminator needs labels y")
            logits = logits + (self.embed(y) * h).sum(dim=1)
        return logits
