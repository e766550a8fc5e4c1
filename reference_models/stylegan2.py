"""StyleGAN2 for CIFAR-10 as trained by DiffAugment (``DiffAugment-stylegan2/run_cifar.py``, TF 1.15).

Karras et al., "Analyzing and Improving the Image Quality of StyleGAN" (2020); configuration from
Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training" (2020); see
shared/reference/models.md section 10. Pure PyTorch: no custom CUDA ops, fp32 throughout.

- G = mapping network (pixel-norm of z, 8 x FC 512, lr multiplier 0.01, lrelu 0.2) + synthesis network,
  ``skip`` architecture 4 -> 8 -> 16 -> 32 with channels 512, 512, 256, 128 (``channel_base`` 4096 /
  resolution, capped at 512). Every conv is a modulated 3x3 conv with weight demodulation, followed by a
  per-pixel noise input with a learned strength, a bias and lrelu 0.2 (gain sqrt 2). Each resolution has a
  modulated 1x1 toRGB (no demodulation); the RGB outputs are upsampled and summed (``skip``).
  G 13,506,963 = mapping 2,101,248 + synthesis 11,405,715.
- D = ``resnet`` architecture: fromRGB at 32, residual blocks 32 -> 16 -> 8 -> 4 (conv3x3, conv3x3 with
  FIR downsampling, 1x1 skip with FIR downsampling, sum scaled by 1/sqrt 2), then the epilogue:
  minibatch-stddev (group 4, 1 feature), conv3x3, fc, fc -> 1 logit. D 13,918,849.
- Equalized learning rate everywhere: weights are stored N(0, 1) (divided by the lr multiplier) and scaled
  at run time by lr_multiplier / sqrt(fan_in).
- Resampling uses the FIR filter [1, 3, 3, 1] through ``upfirdn2d``, written here as zero insertion +
  pad + depthwise conv + stride. An upsampling modulated conv is a stride-2 transposed conv followed by
  the FIR filter (as the official ``upsample_conv_2d``); a downsampling conv is the FIR filter followed by a
  stride-2 conv (``conv_downsample_2d``).
- ``Generator.forward(z, truncation_psi=1.0, noise_mode="random")``. In training mode the generator tracks
  ``w_avg`` (moving average of w, beta 0.995) and, with probability ``style_mixing_prob`` (0.9), mixes
  styles: a second z is drawn from torch's global RNG and its w replaces the first from a random layer
  cutoff on (one cutoff per batch, as the official code; the second w is computed on every training forward
  and discarded when no mixing is drawn, as in the official graph). Truncation lerps every layer's w toward ``w_avg``.

Deviations from the official code (TF 1.15 and its PyTorch port):
- No fused CUDA kernels, no fp16 layers, no ``conv_clamp``; the math is the same up to float rounding.
- ``w_avg`` is updated on every training-mode forward of G (the TF graph updates it wherever G is
  evaluated with ``is_training``); it never updates in eval mode.
- Minibatch-stddev: the official code takes group = min(4, batch) and fails when the batch is not a
  multiple of it. Here the group is the largest divisor of the batch that is at most ``mbstd_group_size``
  (same result for every batch the official code accepts; batch 6 -> groups of 3, a prime batch > 4 ->
  groups of 1, whose std feature is the constant sqrt(1e-8)).
- The R1 penalty, DiffAugment, G EMA and losses live in gbench, not here.

``stylegan2-ada-cifar10``: the class-conditional CIFAR-10 network of NVlabs/stylegan2-ada-pytorch
(``train.py --cfg=cifar --cond=1``, ``training/networks.py``), built so its released ``cifar10.pkl`` loads
through ``gbench.official`` (format ``stylegan2-ada``). What differs from the DiffAugment configuration above,
each a config field whose default keeps the DiffAugment model (and its parameter counts) unchanged:
- ``num_classes`` 10: G's mapping embeds the one-hot label (FC 10 -> 512, lr multiplier 1), pixel-norms z and the
  embedding separately and concatenates them (first FC 1024 -> 512); D maps the one-hot label through its own
  mapping network (embed FC, then ``d_mapping_layers`` = 8 FC 512 + lrelu, lr multiplier 0.01, no w_avg) to
  ``cmap`` and its epilogue outputs 512 features projected on it: sum(out * cmap) / sqrt(512);
- ``mapping_layers`` 2 (DiffAugment: 8); ``channel_base`` 32768 (512 feature maps at every resolution;
  DiffAugment: 4096, i.e. 512, 512, 256, 128);
- ``d_architecture`` "orig": D blocks without the residual 1x1 skip (DiffAugment: "resnet");
- ``mbstd_group_size`` 32 (DiffAugment: 4);
- ``conv_clamp`` 256: conv outputs (after bias, activation and gain) are clamped to +-256 in G's synthesis
  layers and toRGBs and in D's convolutions (not D's residual skip), as the official code does in every
  precision; None (the default) clamps nothing;
- style mixing off (``style_mixing_prob`` 0; the ADA cifar config disables it).
The official CIFAR network runs its 8x8 to 32x32 blocks in fp16 (``num_fp16_res`` 4); gbench runs them in fp32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class StyleGAN2Config:
    resolution: int = 32
    channels: int = 3  # image channels
    latent_dim: int = 512  # z
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 4096  # feature maps at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    resample_filter: tuple[int, ...] = (1, 3, 3, 1)
    style_mixing_prob: float = 0.9  # training mode only
    w_avg_beta: float = 0.995
    mbstd_group_size: int = 4
    mbstd_num_features: int = 1
    # StyleGAN2-ADA extensions (defaults = the DiffAugment configuration; see the module docstring)
    num_classes: int = 0  # > 0: class-conditional G (label embedding in the mapping) and D (label-mapping projection)
    d_architecture: str = "resnet"  # "resnet" (residual 1x1 skip per D block) or "orig" (no skip; ADA cifar)
    conv_clamp: float | None = None  # clamp conv outputs to +-conv_clamp (ADA: 256)
    d_mapping_layers: int = 8  # conditional D: FC layers of its label-mapping network (ADA default)

    def feature_maps(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    @property
    def block_resolutions(self) -> list[int]:
        log2 = int(math.log2(self.resolution))
        if 2**log2 != self.resolution or log2 < 3:
            raise ValueError(f"StyleGAN2 resolution must be a power of two >= 8, got {self.resolution}")
        return [2**i for i in range(2, log2 + 1)]


# ----------------------------------------------------------------------------------------------
# Resampling: upfirdn2d in plain PyTorch


def fir_kernel(taps) -> torch.Tensor:
    """Separable 2-D FIR kernel from 1-D taps, normalised to sum 1."""
    k = torch.as_tensor(taps, dtype=torch.float32)
    k = torch.outer(k, k)
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0), gain: float = 1.0):
    """Upsample by zero insertion, pad (pad[0] before, pad[1] after, both axes), convolve every channel
    with ``kernel * gain`` (a true convolution: the kernel is flipped), then keep every ``down``-th pixel."""
    B, C, H, W = x.shape
    if up > 1:
        x = x.reshape(B, C, H, 1, W, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(B, C, H * up, W * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = (kernel * gain).flip([0, 1]).to(x.dtype)[None, None].repeat(C, 1, 1, 1)
    x = F.conv2d(x, weight, groups=C)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample_2d(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2x upsampling with the FIR filter (gain 4 keeps the mean), H -> 2H."""
    return upfirdn2d(x, kernel, up=2, pad=(2, 1), gain=4.0)


# ----------------------------------------------------------------------------------------------
# Equalized-learning-rate layers


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate; ``activation`` "lrelu" includes the sqrt 2 gain."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_multiplier: float = 1.0, activation: str = "linear"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.activation == "lrelu" else x


class EqualConv2d(nn.Module):
    """Conv layer with equalized learning rate (discriminator). ``down=True``: FIR filter, then stride 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, activation: str = "linear",
                 down: bool = False, resample_filter: torch.Tensor | None = None, conv_clamp: float | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.activation, self.down, self.kernel_size, self.conv_clamp = activation, down, kernel_size, conv_clamp
        if down:
            self.register_buffer("resample_filter", resample_filter, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        if self.down:
            # Official padding rule: p = (taps - 2) + (kernel - 1), split evenly around the blur.
            p = (self.resample_filter.shape[0] - 2) + (self.kernel_size - 1)
            x = upfirdn2d(x, self.resample_filter, pad=((p + 1) // 2, p // 2))
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.kernel_size // 2)
        if self.bias is not None:
            x = x + self.bias[None, :, None, None]
        x = F.leaky_relu(x, 0.2) * SQRT2 if self.activation == "lrelu" else x
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


# ----------------------------------------------------------------------------------------------
# Mapping network


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm of z: scale each vector to unit root-mean-square."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """(z, label) -> w: pixel norm of z and, when conditional, of the embedded one-hot label (concatenated), then
    ``num_layers`` FC + lrelu with lr multiplier 0.01. G's copy holds ``w_avg``; D's label mapping (``latent_dim``
    0, ADA) has no z and no ``w_avg``."""

    def __init__(self, latent_dim: int, num_classes: int, w_dim: int, num_layers: int, lr_multiplier: float, track_w_avg: bool = True):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.embed = EqualLinear(num_classes, w_dim) if num_classes else None  # embedding width = w_dim (ADA default)
        dims = [latent_dim + (w_dim if num_classes else 0)] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            EqualLinear(d_in, d_out, lr_multiplier=lr_multiplier, activation="lrelu") for d_in, d_out in zip(dims[:-1], dims[1:])
        )
        if track_w_avg:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor | None, y: torch.Tensor | None = None) -> torch.Tensor:
        parts = [normalize_2nd_moment(z)] if self.latent_dim else []
        if self.embed is not None:
            if y is None:
                raise ValueError("class-conditional StyleGAN2 needs labels y")
            one_hot = F.one_hot(y.long(), self.num_classes).to(self.embed.weight.dtype)
            parts.append(normalize_2nd_moment(self.embed(one_hot)))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for layer in self.layers:
            x = layer(x)
        return x


# ----------------------------------------------------------------------------------------------
# Synthesis network


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True, up: bool = False,
                     resample_filter: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample modulated conv as one grouped conv (the batch becomes the group axis).

    x (B, I, H, W); weight (O, I, k, k), already scaled by its equalized-lr gain; styles (B, I).
    Demodulation rescales each sample's weights so every output channel has unit expected variance for
    unit-variance inputs. ``up=True``: stride-2 transposed conv then FIR filter, H -> 2H."""
    B, I, H, W = x.shape
    O, _, kh, kw = weight.shape
    w = weight[None] * styles[:, None, :, None, None]  # (B, O, I, k, k)
    if demodulate:
        w = w * torch.rsqrt(w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8)
    x = x.reshape(1, B * I, H, W)
    if up:
        # A transposed conv convolves (not correlates), so flip the kernel: the result then equals zero
        # insertion followed by the same correlation F.conv2d applies, as the official code arranges.
        w = w.transpose(1, 2).flip([3, 4]).reshape(B * I, O, kh, kw)
        x = F.conv_transpose2d(x, w, stride=2, groups=B)  # (2H + k - 2) per side
        p = (resample_filter.shape[0] - 2) - (kh - 1)
        x = upfirdn2d(x, resample_filter, pad=((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)
    else:
        x = F.conv2d(x, w.reshape(B * O, I, kh, kw), padding=kh // 2, groups=B)
    return x.reshape(B, O, x.shape[2], x.shape[3])


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (demodulated) -> + noise * strength -> + bias -> lrelu (gain sqrt 2)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 resample_filter: torch.Tensor | None = None, conv_clamp: float | None = None):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # w -> per-input-channel style
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels * 9)
        self.up, self.resolution, self.conv_clamp = up, resolution, conv_clamp
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        if up:
            self.register_buffer("resample_filter", resample_filter, persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight * self.weight_gain, styles, demodulate=True, up=self.up,
                             resample_filter=self.resample_filter if self.up else None)
        if noise_mode == "random":
            x = x + torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        elif noise_mode != "none":
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        x = F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * SQRT2
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


class ToRGB(nn.Module):
    """Modulated 1x1 conv to image channels, no demodulation, bias, linear."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight * self.weight_gain, self.affine(w), demodulate=False)
        x = x + self.bias[None, :, None, None]
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


class SynthesisBlock(nn.Module):
    """One resolution of the ``skip`` generator. The first block starts from a learned constant and has a
    single conv; later blocks upsample in their first conv. Consumes ``num_ws`` = convs + 1 (toRGB) ws."""

    def __init__(self, in_channels: int, out_channels: int, cfg: StyleGAN2Config, resolution: int, resample_filter: torch.Tensor):
        super().__init__()
        self.is_first = in_channels == 0
        if self.is_first:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, cfg.w_dim, resolution, up=True, resample_filter=resample_filter,
                                        conv_clamp=cfg.conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, cfg.w_dim, resolution, conv_clamp=cfg.conv_clamp)
        self.torgb = ToRGB(out_channels, cfg.channels, cfg.w_dim, conv_clamp=cfg.conv_clamp)
        self.register_buffer("resample_filter", resample_filter, persistent=False)
        self.num_convs = 1 if self.is_first else 2

    def forward(self, x, img, ws: torch.Tensor, noise_mode: str):
        """ws (B, num_convs + 1, w_dim): one w per conv, then the toRGB's w."""
        if self.is_first:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        rgb = self.torgb(x, ws[:, -1])
        img = rgb if img is None else upsample_2d(img, self.resample_filter) + rgb
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, w_dim) -> image. The toRGB of one block shares its w index with the next block's
    first conv, so num_ws = 2 * log2(resolution) - 2 (8 at 32x32)."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        kernel = fir_kernel(cfg.resample_filter)
        blocks, w_starts, start, in_ch = [], [], 0, 0
        for res in cfg.block_resolutions:
            block = SynthesisBlock(in_ch, cfg.feature_maps(res), cfg, res, kernel)
            blocks.append(block)
            w_starts.append(start)
            start += block.num_convs
            in_ch = cfg.feature_maps(res)
        self.blocks = nn.ModuleList(blocks)
        self.w_starts = w_starts
        self.num_ws = start + 1

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x = img = None
        for block, start in zip(self.blocks, self.w_starts):
            x, img = block(x, img, ws[:, start : start + block.num_convs + 1], noise_mode)
        return img


class Generator(nn.Module):
    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, cfg.num_classes, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.mapping = MappingNetwork(cfg.latent_dim, cfg.num_classes, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_multiplier)
        self.synthesis = SynthesisNetwork(cfg)
        self.num_ws = self.synthesis.num_ws

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, truncation_psi: float = 1.0, noise_mode: str = "random") -> torch.Tensor:
        """``y``: integer class labels (B,), required when ``num_classes > 0`` (one-hot encoded inside)."""
        w = self.mapping(z, y)
        if self.training:
            with torch.no_grad():
                self.mapping.w_avg.copy_(w.detach().mean(0).lerp(self.mapping.w_avg, self.cfg.w_avg_beta))
        ws = w[:, None].expand(-1, self.num_ws, -1)
        if self.training and self.cfg.style_mixing_prob > 0:
            # As the official graph: the second w is always computed and the cutoff is num_ws (no mixing) with
            # probability 1 - p. Tensors only, no .item(): torch.compile traces it once instead of per draw.
            cutoff = torch.randint(1, self.num_ws, [], device=z.device)
            cutoff = torch.where(torch.rand([], device=z.device) < self.cfg.style_mixing_prob, cutoff, self.num_ws)
            w2 = self.mapping(torch.randn_like(z), y)
            layer = torch.arange(self.num_ws, device=z.device)[None, :, None]
            ws = torch.where(layer < cutoff, ws, w2[:, None])
        if truncation_psi != 1.0:
            ws = self.mapping.w_avg.lerp(ws, truncation_psi)
        return self.synthesis(ws, noise_mode)


# ----------------------------------------------------------------------------------------------
# Discriminator


class DiscriminatorBlock(nn.Module):
    """Block at resolution r: [fromRGB] -> conv3x3 -> conv3x3 down; ``resnet`` adds a 1x1 down skip and returns
    (x + skip) / sqrt 2, ``orig`` has no skip."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int, resample_filter: torch.Tensor,
                 architecture: str = "resnet", conv_clamp: float | None = None):
        super().__init__()
        self.fromrgb = EqualConv2d(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp) if in_channels == 0 else None
        self.conv0 = EqualConv2d(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = EqualConv2d(tmp_channels, out_channels, 3, activation="lrelu", down=True, resample_filter=resample_filter,
                                 conv_clamp=conv_clamp)
        self.skip = (EqualConv2d(tmp_channels, out_channels, 1, bias=False, down=True, resample_filter=resample_filter)
                     if architecture == "resnet" else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        if self.skip is None:
            return self.conv1(self.conv0(x))
        skip = self.skip(x)
        x = self.conv1(self.conv0(x))  # clamped before the 1/sqrt 2, as the official gain-scaled clamp
        return (x + skip) / SQRT2


def minibatch_stddev(x: torch.Tensor, group_size: int, num_features: int) -> torch.Tensor:
    """Append ``num_features`` channels holding the std over groups of samples, averaged over channels and
    pixels. Sample n belongs to group n mod (N / G). G = largest divisor of N not above ``group_size``."""
    N, C, H, W = x.shape
    G = min(group_size, N)
    while N % G:
        G -= 1
    y = x.reshape(G, -1, num_features, C // num_features, H, W)
    y = (y - y.mean(dim=0)).square().mean(dim=0)  # variance over each group
    y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # (N / G, F)
    y = y.reshape(-1, num_features, 1, 1).repeat(G, 1, H, W)
    return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """At 4x4: minibatch-stddev -> conv3x3 -> fc -> fc to one logit, or (conditional, ADA) to ``channels``
    features whose scaled dot product with the mapped label ``cmap`` is the logit."""

    def __init__(self, channels: int, cfg: StyleGAN2Config):
        super().__init__()
        self.group_size, self.num_features = cfg.mbstd_group_size, cfg.mbstd_num_features
        self.cmap_dim = channels if cfg.num_classes else 0
        self.conv = EqualConv2d(channels + cfg.mbstd_num_features, channels, 3, activation="lrelu", conv_clamp=cfg.conv_clamp)
        self.fc = EqualLinear(channels * 4 * 4, channels, activation="lrelu")
        self.out = EqualLinear(channels, self.cmap_dim or 1)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None = None) -> torch.Tensor:
        x = minibatch_stddev(x, self.group_size, self.num_features)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim:
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x


class Discriminator(nn.Module):
    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.num_classes, self.resolution, self.channels = cfg.num_classes, cfg.resolution, cfg.channels
        kernel = fir_kernel(cfg.resample_filter)
        blocks, in_ch = [], 0
        for res in reversed(cfg.block_resolutions[1:]):  # 32, 16, 8
            blocks.append(DiscriminatorBlock(in_ch, cfg.feature_maps(res), cfg.feature_maps(res // 2), cfg.channels, kernel,
                                             cfg.d_architecture, cfg.conv_clamp))
            in_ch = cfg.feature_maps(res // 2)
        self.blocks = nn.Sequential(*blocks)
        # ADA's label mapping: no z, embedding and features of width cmap_dim = feature maps at 4x4
        self.mapping = (MappingNetwork(0, cfg.num_classes, cfg.feature_maps(4), cfg.d_mapping_layers, cfg.mapping_lr_multiplier,
                                       track_w_avg=False) if cfg.num_classes else None)
        self.epilogue = DiscriminatorEpilogue(cfg.feature_maps(4), cfg)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        cmap = self.mapping(None, y) if self.mapping is not None else None
        return self.epilogue(self.blocks(x), cmap).flatten()


def _check(cfg: StyleGAN2Config) -> None:
    if cfg.d_architecture not in ("resnet", "orig"):
        raise ValueError(f"d_architecture must be 'resnet' or 'orig', got {cfg.d_architecture!r}")
    if cfg.num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {cfg.num_classes}")


CONFIGS = {
    "stylegan2": StyleGAN2Config(),
    # NVlabs/stylegan2-ada-pytorch train.py --cfg=cifar --cond=1 (the released cifar10.pkl)
    "stylegan2-ada-cifar10": StyleGAN2Config(num_classes=10, mapping_layers=2, channel_base=32768, d_architecture="orig",
                                             mbstd_group_size=32, conv_clamp=256.0, style_mixing_prob=0.0),
}


def _builder(cls, name):
    return lambda **overrides: cls(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(Discriminator, name) for name in CONFIGS}
