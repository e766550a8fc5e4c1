"""Progressive GAN (Karras et al., "Progressive Growing of GANs for Improved Quality, Stability, and Variation",
ICLR 2018), following the official TF code tkarras/progressive_growing_of_gans (``networks.py`` G_paper /
D_paper, ``config.py``, ``train.py``).

- G (G_paper): z (512) -> pixel norm -> 4x4 block [dense to 4x4xnf(1) (gain sqrt2/4), conv3x3] -> one block per
  doubling [nearest 2x up + conv3x3 (fused: a stride-2 transposed conv), conv3x3] -> 1x1 toRGB (linear, gain 1).
  Every conv is followed by bias, leaky ReLU 0.2 and pixelwise feature normalization. Each resolution has its
  own toRGB; all of them are parameters (the official network creates ToRGB_lod0..N up front).
- D (D_paper): 1x1 fromRGB (lrelu) at every resolution; one block per halving [conv3x3, conv3x3 + 2x2 average
  pooling (fused: a stride-2 conv)]; at 4x4 minibatch standard deviation (groups of 4, one feature map),
  conv3x3, dense to nf(0), dense to 1 logit. D returns logits shaped (B,).
- Feature maps: nf(stage) = min(fmap_base / 2**stage, fmap_max) with fmap_base 8192, fmap_max 512; the block
  at resolution 2**r has nf(r - 1) maps (512 up to 32x32, then 256, 128, 64, 32, 16 at 1024). Latent = nf(0).
- Equalized learning rate: weights are stored N(0, 1) and multiplied at run time by gain / sqrt(fan_in)
  (gain sqrt 2 = He, 1 for toRGB and the last dense); biases start at zero. ``EqualizedConv2d`` /
  ``EqualizedLinear`` also take StyleGAN's learning-rate multiplier (stored N(0, 1/lrmul), runtime x lrmul).
- Growing: a 0-d float buffer ``lod`` (level of detail) as the official ``lod`` variable: lod = log2(resolution)
  - log2(current resolution) + (1 - alpha). Integer lod: the network works at 2**(log2(R) - lod). Fractional
  lod: the newest block is faded in, output = lerp(new toRGB, upsampled previous toRGB, frac(lod)) in G and
  lerp(new block, fromRGB of the 2x downsampled input, frac(lod)) in D (alpha = 1 - frac(lod) is the weight of
  the new layers, the paper's alpha). Every layer exists from the start; changing ``lod`` never changes the
  module structure, and a state_dict holds it exactly. G outputs the full resolution (the current one upsampled
  with nearest neighbours, as the official recursive graph) unless ``full_resolution=False``; D accepts the
  full resolution or any power-of-two size down to the current one and box-downsamples it (as the official
  ``downscale2d``), so both calling conventions give the same numbers. Under torch.compile the read of ``lod``
  is a graph break; compiled code is specialised per (level, fading or not), never per lod value, so a run
  that grows to 2**r recompiles about 2 * (r - 2) times (raise ``torch._dynamo.config.cache_size_limit`` above it).

Parameter counts (official layer definitions, arithmetic in tests/test_progan_stylegan.py):
  progan-celebahq (1024): G 23,079,115 / D 23,087,249 (the paper's 23.1M / 23.1M, its Table 2).
  progan-cifar10 (32): G 20,719,628 / D 20,726,785 (the same network "progression limited to 32x32", paper 6.5).

The CIFAR-10 figure (IS 8.80) is unconditional (abstract: "record inception score of 8.80 in unsupervised
CIFAR10"; section 6.5), trained with WGAN-GP gamma = 750 (the gradient-norm target, ``wgan_target`` in
``loss.py``); no class-conditional variant is built here.

Deviations from the official code:
- Minibatch stddev: the official group is min(4, batch) and fails when the batch is not a multiple of it; here
  the group is the largest divisor of the batch that is at most ``mbstd_group_size`` (the same result for every
  batch the official code accepts), as in reference_models/stylegan2.py.
- The AC-GAN label output of D_paper (``label_size`` > 0) is not built: both published configs are unconditional.
- fp16 and the "linear"/"recursive" graph choice do not apply; the math is the recursive graph's.
- Losses (WGAN-GP + drift 1e-3), the lod schedule, minibatch sizes, learning rates and the G EMA live in gbench.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class ProGANConfig:
    resolution: int = 1024
    channels: int = 3  # image channels
    fmap_base: int = 8192  # nf(stage) = min(fmap_base / 2**(stage * fmap_decay), fmap_max)
    fmap_decay: float = 1.0
    fmap_max: int = 512
    latent_dim: int | None = None  # None = nf(0), as the official latent_size=None
    normalize_latents: bool = True  # pixel norm of z
    use_pixelnorm: bool = True
    pixelnorm_epsilon: float = 1e-8
    use_leakyrelu: bool = True  # False = ReLU in G (D always uses leaky ReLU)
    fused_scale: bool = True  # G: transposed conv for up + conv (same function family, kernel flipped)
    mbstd_group_size: int = 4  # 0 or 1 = no minibatch stddev

    def nf(self, stage: int) -> int:
        return min(int(self.fmap_base / (2.0 ** (stage * self.fmap_decay))), self.fmap_max)

    @property
    def z_dim(self) -> int:
        return self.latent_dim if self.latent_dim is not None else self.nf(0)

    @property
    def resolution_log2(self) -> int:
        return check_resolution(self.resolution)


def check_resolution(resolution: int) -> int:
    log2 = round(math.log2(resolution)) if resolution > 0 else 0
    if resolution < 4 or 2**log2 != resolution:
        raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
    return log2


# ----------------------------------------------------------------------------------------------
# Equalized-learning-rate layers (shared with stylegan.py)


def _sum_shifted(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, 3, 3) -> (O, I, 4, 4): the sum of the four one-pixel shifts of the kernel, which turns a conv at the
    high resolution into one stride-2 op at the low one (official ``upscale2d_conv2d`` / ``conv2d_downscale2d``)."""
    w = F.pad(weight, [1, 1, 1, 1])
    return w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]


def upscale2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Nearest-neighbour upsampling (each pixel replicated factor x factor times)."""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def downscale2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Box-filter downsampling (mean over factor x factor blocks)."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


class EqualizedConv2d(nn.Module):
    """Conv (odd kernel, 'same' padding) with equalized learning rate and learning-rate multiplier ``lr_multiplier``.

    The weight is stored N(0, 1/lr_multiplier) and used as ``weight * gain / sqrt(fan_in) * lr_multiplier``; the
    bias (zero-initialised) is used as ``bias * lr_multiplier``. ``resample="up"``: nearest 2x upsampling then the
    conv; ``fused=True`` computes it as one stride-2 transposed conv with the 4x4 summed kernel (the official fused
    op: it equals upsampling then the conv with the spatially flipped kernel). ``resample="down"``: the conv then
    2x2 average pooling, computed as one stride-2 conv with the summed kernel / 4 (exactly equal).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, gain: float = SQRT2, lr_multiplier: float = 1.0,
                 bias: bool = True, resample: str | None = None, fused: bool = True):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if resample not in (None, "up", "down"):
            raise ValueError(f"resample must be None, 'up' or 'down', got {resample!r}")
        if resample is not None and kernel_size != 3:
            raise ValueError("resampling convs are 3x3 (as in the official networks)")
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = gain / math.sqrt(in_channels * kernel_size * kernel_size) * lr_multiplier
        self.bias_gain = lr_multiplier
        self.resample, self.fused, self.padding = resample, fused, kernel_size // 2

    def runtime_weight(self) -> torch.Tensor:
        return self.weight * self.weight_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.runtime_weight()
        if self.resample == "up" and self.fused:
            x = F.conv_transpose2d(x, _sum_shifted(w).transpose(0, 1), stride=2, padding=1)
        elif self.resample == "up":
            x = F.conv2d(upscale2d(x), w, padding=self.padding)
        elif self.resample == "down":
            x = F.conv2d(x, _sum_shifted(w) * 0.25, stride=2, padding=1)
        else:
            x = F.conv2d(x, w, padding=self.padding)
        if self.bias is not None:
            x = x + (self.bias * self.bias_gain).view(1, -1, 1, 1)
        return x


class EqualizedLinear(nn.Module):
    """Fully connected layer with equalized learning rate (same storage and runtime scaling as the conv)."""

    def __init__(self, in_features: int, out_features: int, *, gain: float = SQRT2, lr_multiplier: float = 1.0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.weight_gain = gain / math.sqrt(in_features) * lr_multiplier
        self.bias_gain = lr_multiplier

    def runtime_weight(self) -> torch.Tensor:
        return self.weight * self.weight_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.bias_gain
        return F.linear(x.flatten(1), self.runtime_weight(), bias)


def pixel_norm(x: torch.Tensor, epsilon: float = 1e-8) -> torch.Tensor:
    """Scale each pixel's feature vector (dim 1) to unit root-mean-square."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + epsilon)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, num_features: int = 1) -> torch.Tensor:
    """Append ``num_features`` maps holding the standard deviation over groups of samples, averaged over the
    channels (split into ``num_features`` groups) and pixels. Sample n belongs to group n mod (N / G); G is the
    largest divisor of N that is at most ``group_size``. The variance is the population one, std = sqrt(var + 1e-8)."""
    N, C, H, W = x.shape
    G = min(group_size, N)
    while N % G:
        G -= 1
    y = x.reshape(G, -1, num_features, C // num_features, H, W)
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # (N / G, num_features)
    y = y.reshape(-1, num_features, 1, 1).repeat(G, 1, H, W)
    return torch.cat([x, y], dim=1)


# ----------------------------------------------------------------------------------------------
# Level of detail (shared with stylegan.py)


class Growing(nn.Module):
    """A network grown by level of detail. Levels k = 0..max_lod are the blocks at 4x4, 8x8, ..., ``resolution``;
    ``lod`` (buffer) = max_lod - k for the top active level k, plus the fade fraction."""

    def _init_growing(self, resolution: int) -> None:
        self.max_lod = check_resolution(resolution) - 2
        self.register_buffer("lod", torch.tensor(0.0))

    def set_lod(self, lod: float) -> None:
        """Set the level of detail in place (the buffer keeps its identity, device and dtype)."""
        if not 0.0 <= float(lod) <= self.max_lod:
            raise ValueError(f"lod must be in [0, {self.max_lod}], got {lod}")
        with torch.no_grad():
            self.lod.fill_(float(lod))

    def growth(self) -> tuple[int, torch.Tensor | None]:
        """(top active level, weight of the previous level's output while the top level fades in, else None).

        One read of the buffer decides which blocks run (a Python int, as the official graph's tf.cond); the fade
        weight stays a 0-d tensor computed from the buffer, so a fade does not specialise compiled code per value."""
        lod = float(self.lod)
        lod_floor = min(math.floor(lod), self.max_lod)
        fade = (self.lod - lod_floor).clamp(0.0, 1.0) if lod > lod_floor else None
        return self.max_lod - lod_floor, fade

    @property
    def current_resolution(self) -> int:
        return 2 ** (self.growth()[0] + 2)

    @property
    def fade_alpha(self) -> float:
        """Weight of the newest layers (the paper's alpha): 1 - frac(lod); 1 outside a fade."""
        fade = self.growth()[1]
        return 1.0 if fade is None else 1.0 - float(fade)


# ----------------------------------------------------------------------------------------------
# Generator (G_paper)


class GeneratorInputBlock(nn.Module):
    """4x4: dense z -> nf(1) x 4 x 4 (gain sqrt2/4, bias per map), act, PN; conv3x3, act, PN."""

    def __init__(self, z_dim: int, channels: int, act, norm):
        super().__init__()
        self.dense = EqualizedLinear(z_dim, channels * 16, gain=SQRT2 / 4, bias=False)
        self.dense_bias = nn.Parameter(torch.zeros(channels))
        self.conv = EqualizedConv2d(channels, channels, 3)
        self.act, self.norm, self.channels = act, norm, channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(-1, self.channels, 4, 4) + self.dense_bias.view(1, -1, 1, 1)
        x = self.norm(self.act(x))
        return self.norm(self.act(self.conv(x)))


class GeneratorBlock(nn.Module):
    """2x: up + conv3x3, act, PN; conv3x3, act, PN."""

    def __init__(self, in_channels: int, out_channels: int, act, norm, fused: bool):
        super().__init__()
        self.conv0_up = EqualizedConv2d(in_channels, out_channels, 3, resample="up", fused=fused)
        self.conv1 = EqualizedConv2d(out_channels, out_channels, 3)
        self.act, self.norm = act, norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.act(self.conv0_up(x)))
        return self.norm(self.act(self.conv1(x)))


def _leaky_relu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class Generator(Growing):
    def __init__(self, cfg: ProGANConfig):
        super().__init__()
        self.cfg = cfg
        self._init_growing(cfg.resolution)
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.z_dim, 0, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        act = _leaky_relu if cfg.use_leakyrelu else F.relu
        norm = (lambda x: pixel_norm(x, cfg.pixelnorm_epsilon)) if cfg.use_pixelnorm else (lambda x: x)
        blocks = [GeneratorInputBlock(cfg.z_dim, cfg.nf(1), act, norm)]
        blocks += [GeneratorBlock(cfg.nf(r - 2), cfg.nf(r - 1), act, norm, cfg.fused_scale) for r in range(3, cfg.resolution_log2 + 1)]
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.ModuleList(EqualizedConv2d(cfg.nf(r - 1), cfg.channels, 1, gain=1.0) for r in range(2, cfg.resolution_log2 + 1))

    def forward(self, z: torch.Tensor, full_resolution: bool = True) -> torch.Tensor:
        top, fade = self.growth()
        x = pixel_norm(z, self.cfg.pixelnorm_epsilon) if self.cfg.normalize_latents else z
        previous = x = self.blocks[0](x)
        for block in self.blocks[1 : top + 1]:
            previous, x = x, block(x)
        img = self.to_rgb[top](x)
        if fade is not None:
            img = torch.lerp(img, upscale2d(self.to_rgb[top - 1](previous)), fade)
        return upscale2d(img, 2 ** (self.max_lod - top)) if full_resolution else img


# ----------------------------------------------------------------------------------------------
# Discriminator (D_paper; StyleGAN's D_basic adds the blur)


class DiscriminatorBlock(nn.Module):
    """conv3x3, act; [blur]; conv3x3 + 2x2 average pooling, act."""

    def __init__(self, in_channels: int, out_channels: int, blur: nn.Module | None = None):
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        self.blur = blur
        self.conv1_down = EqualizedConv2d(in_channels, out_channels, 3, resample="down")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _leaky_relu(self.conv0(x))
        if self.blur is not None:
            x = self.blur(x)
        return _leaky_relu(self.conv1_down(x))


class DiscriminatorOutputBlock(nn.Module):
    """4x4: minibatch stddev, conv3x3, act, dense to nf(0), act, dense to 1 (gain 1)."""

    def __init__(self, channels: int, hidden: int, mbstd_group_size: int, mbstd_num_features: int):
        super().__init__()
        self.mbstd_group_size, self.mbstd_num_features = mbstd_group_size, mbstd_num_features
        extra = mbstd_num_features if mbstd_group_size > 1 else 0
        self.conv = EqualizedConv2d(channels + extra, channels, 3)
        self.dense0 = EqualizedLinear(channels * 16, hidden)
        self.dense1 = EqualizedLinear(hidden, 1, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mbstd_group_size > 1:
            x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_num_features)
        x = _leaky_relu(self.conv(x))
        x = _leaky_relu(self.dense0(x))
        return self.dense1(x)


class Discriminator(Growing):
    """Progressive D. ``blur`` (StyleGAN) builds the low-pass filter module applied before each downsampling conv."""

    def __init__(self, *, resolution: int, channels: int, nf, mbstd_group_size: int = 4, mbstd_num_features: int = 1, blur=None):
        super().__init__()
        self._init_growing(resolution)
        self.num_classes, self.resolution, self.channels = 0, resolution, channels
        log2 = check_resolution(resolution)
        self.from_rgb = nn.ModuleList(EqualizedConv2d(channels, nf(r - 1), 1) for r in range(2, log2 + 1))
        # blocks[k] reduces level k to level k - 1; blocks[0] is the 4x4 output block.
        blocks = [DiscriminatorOutputBlock(nf(1), nf(0), mbstd_group_size, mbstd_num_features)]
        blocks += [DiscriminatorBlock(nf(r - 1), nf(r - 2), blur(nf(r - 1)) if blur else None) for r in range(3, log2 + 1)]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        top, fade = self.growth()
        side = images.shape[-1]
        current = 2 ** (top + 2)
        if side < current or side % current or images.shape[-2] != side:
            raise ValueError(f"discriminator at {current}x{current} needs square images of that size or a multiple of it; "
                             f"got {tuple(images.shape[-2:])}")
        x = downscale2d(images, side // current)
        h = _leaky_relu(self.from_rgb[top](x))
        if top > 0:
            h = self.blocks[top](h)
        if fade is not None:
            h = torch.lerp(h, _leaky_relu(self.from_rgb[top - 1](downscale2d(x))), fade)
        for block in reversed(self.blocks[1:top]):
            h = block(h)
        return self.blocks[0](h).flatten()


def build_discriminator(cfg: ProGANConfig) -> Discriminator:
    return Discriminator(resolution=cfg.resolution, channels=cfg.channels, nf=cfg.nf, mbstd_group_size=cfg.mbstd_group_size)


CONFIGS = {
    "progan-cifar10": ProGANConfig(resolution=32),
    "progan-celebahq": ProGANConfig(resolution=1024),
}


def _builder(build, name):
    return lambda **overrides: build(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(build_discriminator, name) for name in CONFIGS}
