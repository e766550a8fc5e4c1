"""StyleGAN v1 (Karras, Laine, Aila, "A Style-Based Generator Architecture for Generative Adversarial Networks",
CVPR 2019), following the official TF code NVlabs/stylegan (``training/networks_stylegan.py`` G_style /
G_mapping / G_synthesis / D_basic, ``train.py``, ``training/training_loop.py``).

- Mapping (G_mapping): pixel norm of z, 8 dense layers of 512 with leaky ReLU 0.2, learning-rate multiplier 0.01
  (weights stored N(0, 100), runtime x 0.01 / sqrt(fan_in) x sqrt 2; biases x 0.01) -> w (512).
- Synthesis (G_synthesis), 2 layers per resolution, num_layers = 2 log2(R) - 2 (18 at 1024):
  4x4: learned constant (ones, 512x4x4) -> epilogue; conv3x3 -> epilogue.
  2x: nearest up + conv3x3 (fused transposed conv from 128x128 up, fused_scale 'auto') -> blur [1,2,1] -> epilogue;
      conv3x3 -> epilogue.
  epilogue: + noise (one N(0,1) map per sample, scaled per channel by "B", zero-initialised) -> + bias
      -> leaky ReLU 0.2 -> instance norm -> AdaIN style: x * (1 + y_s) + y_b with (y_s, y_b) = "A"(w), an
      equalized dense layer w -> 2C (gain 1, zero bias).
  toRGB 1x1 (gain 1) at every resolution; progressive growing with the same ``lod`` buffer and fade-in as ProGAN
  (reference_models/progan.py; the buffer lives in ``synthesis``, the Generator delegates ``set_lod``).
- G_style: tracks ``w_avg`` (``mapping.w_avg``, decay 0.995, training mode only); style mixing regularization in
  training mode: with probability 0.9 a second z is mapped and its w replaces the first from a crossover layer
  drawn uniformly in [1, current layers) (one per batch); truncation w' = w_avg + psi (w - w_avg) on the first
  ``truncation_cutoff`` layers (the paper's figures use psi 0.7, cutoff 8: ``cfg.truncation_psi/_cutoff``).
  ``forward(z)`` does not truncate (the official FID / PPL evaluation passes is_validation, i.e. no truncation).
- D (D_basic): Progressive GAN's D (progan.Discriminator) with the [1,2,1] blur before every downsampling conv.
- The flags of the paper's Table 1 configs are fields: B (tuned baseline) = use_styles False, use_pixel_norm True,
  use_instance_norm False, mapping_layers 0, const_input_layer False, use_noise False, style_mixing_prob 0;
  C = const_input_layer False, use_noise False, style_mixing_prob 0; D = use_noise False, style_mixing_prob 0;
  E = style_mixing_prob 0; F = the defaults (train.py). Config A is progan.py's network.
- Shared with progan.py (truly the same layers): EqualizedConv2d / EqualizedLinear (the official get_weight with
  use_wscale and lrmul), pixel_norm, minibatch_stddev, the Growing lod logic and the whole D.

Parameter counts (official layer definitions, arithmetic in tests/test_progan_stylegan.py):
  stylegan-ffhq / stylegan-celebahq (1024): G 26,219,627 (mapping 2,101,248 + synthesis 24,118,379; the paper's
  26.2M) / D 23,087,249 (23.1M). Noise maps, ``w_avg`` and ``lod`` are buffers, as the official non-trainable
  variables.

Deviations from the official code:
- Style mixing draws the second z (and the coin) from torch's global RNG, and skips mapping it when the coin says
  no mixing (the official graph maps it anyway and then keeps the active layers on the first w: same images).
- The non-fused up-conv (below 128x128) is nearest upsampling + conv; the fused one (128 and up) is the official
  transposed conv, which equals upsampling + conv with the spatially flipped kernel (a relabelling of the same
  N(0, 1) weights). Downsampling convs are always the fused form, which is exactly conv + 2x2 average pooling.
- Minibatch stddev group rule and fp32-only as in progan.py; unconditional only (no label embedding or label D).
- Losses (non-saturating + R1 gamma 10 for FFHQ, WGAN-GP for CelebA-HQ), the schedule and the G EMA live in gbench.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from reference_models.progan import (
    SQRT2,
    Discriminator,
    EqualizedConv2d,
    EqualizedLinear,
    Growing,
    check_resolution,
    pixel_norm,
    upscale2d,
)


@dataclass(frozen=True)
class StyleGANConfig:
    resolution: int = 1024
    channels: int = 3  # image channels
    latent_dim: int = 512  # z
    w_dim: int = 512  # dlatent_size
    mapping_layers: int = 8
    mapping_fmaps: int = 512
    mapping_lr_multiplier: float = 0.01
    normalize_latents: bool = True
    fmap_base: int = 8192  # nf(stage) = min(fmap_base / 2**(stage * fmap_decay), fmap_max)
    fmap_decay: float = 1.0
    fmap_max: int = 512
    use_styles: bool = True
    const_input_layer: bool = True
    use_noise: bool = True
    use_pixel_norm: bool = False
    use_instance_norm: bool = True
    blur_filter: tuple[int, ...] | None = (1, 2, 1)  # None = no filtering (G and D)
    style_mixing_prob: float = 0.9  # training mode only
    w_avg_beta: float = 0.995  # training mode only; 1 = frozen
    truncation_psi: float = 0.7  # what the paper's figures use; forward() truncates only when asked
    truncation_cutoff: int = 8
    mbstd_group_size: int = 4
    mbstd_num_features: int = 1

    def nf(self, stage: int) -> int:
        return min(int(self.fmap_base / (2.0 ** (stage * self.fmap_decay))), self.fmap_max)


# ----------------------------------------------------------------------------------------------
# StyleGAN-only layers


class Blur2d(nn.Module):
    """Depthwise low-pass filter: the normalised outer product of ``taps`` ('same' zero padding)."""

    def __init__(self, channels: int, taps: Sequence[int] = (1, 2, 1)):
        super().__init__()
        if len(taps) % 2 != 1:
            raise ValueError(f"blur taps must have odd length, got {tuple(taps)}")
        k = torch.as_tensor(taps, dtype=torch.float32)
        k = torch.outer(k, k)
        self.register_buffer("kernel", (k / k.sum())[None, None].repeat(channels, 1, 1, 1), persistent=False)
        self.padding = len(taps) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel.to(x.dtype), padding=self.padding, groups=x.shape[1])


def instance_norm(x: torch.Tensor, epsilon: float = 1e-8) -> torch.Tensor:
    """Per sample and channel: subtract the spatial mean, divide by the spatial (population) std."""
    x = x - x.mean(dim=[2, 3], keepdim=True)
    return x * torch.rsqrt(x.square().mean(dim=[2, 3], keepdim=True) + epsilon)


def adain(x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """AdaIN as the official style_mod after instance norm: style (B, 2C) = (y_s, y_b); x * (1 + y_s) + y_b."""
    y_s, y_b = style.view(style.shape[0], 2, x.shape[1], 1, 1).unbind(1)
    return x * (y_s + 1) + y_b


class LayerEpilogue(nn.Module):
    """After every synthesis conv: noise "B", bias, leaky ReLU, [pixel norm], [instance norm], [style "A"]."""

    def __init__(self, channels: int, resolution: int, cfg: StyleGANConfig):
        super().__init__()
        self.noise_strength = nn.Parameter(torch.zeros(channels)) if cfg.use_noise else None
        if cfg.use_noise:
            self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.style = EqualizedLinear(cfg.w_dim, 2 * channels, gain=1.0) if cfg.use_styles else None
        self.use_pixel_norm, self.use_instance_norm = cfg.use_pixel_norm, cfg.use_instance_norm

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if self.noise_strength is not None and noise_mode != "none":
            if noise_mode == "random":
                noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            elif noise_mode == "const":
                noise = self.noise_const
            else:
                raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
            x = x + noise * self.noise_strength.view(1, -1, 1, 1)
        x = F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2)
        if self.use_pixel_norm:
            x = pixel_norm(x)
        if self.use_instance_norm:
            x = instance_norm(x)
        if self.style is not None:
            x = adain(x, self.style(w))
        return x


# ----------------------------------------------------------------------------------------------
# Mapping network (G_mapping)


class MappingNetwork(nn.Module):
    """z -> w: [pixel norm], ``mapping_layers`` x (equalized dense, lr multiplier 0.01, leaky ReLU). Holds ``w_avg``."""

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        if cfg.mapping_layers == 0 and cfg.w_dim != cfg.latent_dim:
            raise ValueError(f"mapping_layers=0 needs w_dim == latent_dim, got {cfg.w_dim} and {cfg.latent_dim}")
        dims = [cfg.latent_dim] + [cfg.mapping_fmaps] * (cfg.mapping_layers - 1) + [cfg.w_dim]
        self.layers = nn.ModuleList(
            EqualizedLinear(d_in, d_out, lr_multiplier=cfg.mapping_lr_multiplier) for d_in, d_out in zip(dims[:-1], dims[1:])
        ) if cfg.mapping_layers else nn.ModuleList()
        self.normalize_latents = cfg.normalize_latents
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(z) if self.normalize_latents else z
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
        return x


# ----------------------------------------------------------------------------------------------
# Synthesis network (G_synthesis)


class SynthesisInputBlock(nn.Module):
    """4x4: learned constant (or dense from w, the tuned baseline) -> epilogue 0; conv3x3 -> epilogue 1."""

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        channels = cfg.nf(1)
        if cfg.const_input_layer:
            self.const = nn.Parameter(torch.ones(1, channels, 4, 4))
        else:
            self.dense = EqualizedLinear(cfg.w_dim, channels * 16, gain=SQRT2 / 4, bias=False)
        self.epilogue0 = LayerEpilogue(channels, 4, cfg)
        self.conv = EqualizedConv2d(channels, channels, 3, bias=False)
        self.epilogue1 = LayerEpilogue(channels, 4, cfg)
        self.channels, self.const_input = channels, cfg.const_input_layer

    def forward(self, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        """ws (B, 2, w_dim): the styles of this block's two layers."""
        if self.const_input:
            x = self.const.expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.dense(ws[:, 0]).view(-1, self.channels, 4, 4)
        x = self.epilogue0(x, ws[:, 0], noise_mode)
        return self.epilogue1(self.conv(x), ws[:, 1], noise_mode)


class SynthesisBlock(nn.Module):
    """2x: up + conv3x3 -> blur -> epilogue; conv3x3 -> epilogue."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, cfg: StyleGANConfig):
        super().__init__()
        # fused_scale='auto': the transposed-conv form from 128x128 outputs up
        self.conv0_up = EqualizedConv2d(in_channels, out_channels, 3, bias=False, resample="up", fused=resolution >= 128)
        self.blur = Blur2d(out_channels, cfg.blur_filter) if cfg.blur_filter else None
        self.epilogue0 = LayerEpilogue(out_channels, resolution, cfg)
        self.conv1 = EqualizedConv2d(out_channels, out_channels, 3, bias=False)
        self.epilogue1 = LayerEpilogue(out_channels, resolution, cfg)

    def forward(self, x: torch.Tensor, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        x = self.conv0_up(x)
        if self.blur is not None:
            x = self.blur(x)
        x = self.epilogue0(x, ws[:, 0], noise_mode)
        return self.epilogue1(self.conv1(x), ws[:, 1], noise_mode)


class SynthesisNetwork(Growing):
    """ws (B, num_ws, w_dim) -> image. Level k (resolution 2**(k+2)) uses the styles of layers 2k and 2k + 1;
    without styles (tuned baseline) num_ws is 1 and only the 4x4 dense reads it."""

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        self._init_growing(cfg.resolution)
        log2 = check_resolution(cfg.resolution)
        self.num_layers = 2 * log2 - 2
        self.num_ws = self.num_layers if cfg.use_styles else 1
        blocks = [SynthesisInputBlock(cfg)]
        blocks += [SynthesisBlock(cfg.nf(r - 2), cfg.nf(r - 1), 2**r, cfg) for r in range(3, log2 + 1)]
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.ModuleList(EqualizedConv2d(cfg.nf(r - 1), cfg.channels, 1, gain=1.0) for r in range(2, log2 + 1))

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", full_resolution: bool = True) -> torch.Tensor:
        if ws.shape[1] != self.num_ws:
            raise ValueError(f"synthesis expects ws of shape (B, {self.num_ws}, w_dim), got {tuple(ws.shape)}")
        if self.num_ws == 1:
            ws = ws.expand(-1, self.num_layers, -1)
        top, fade = self.growth()
        previous = x = self.blocks[0](ws[:, 0:2], noise_mode)
        for level in range(1, top + 1):
            previous, x = x, self.blocks[level](x, ws[:, 2 * level : 2 * level + 2], noise_mode)
        img = self.to_rgb[top](x)
        if fade is not None:
            img = torch.lerp(img, upscale2d(self.to_rgb[top - 1](previous)), fade)
        return upscale2d(img, 2 ** (self.max_lod - top)) if full_resolution else img


# ----------------------------------------------------------------------------------------------
# Generator (G_style)


class Generator(nn.Module):
    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        if not cfg.use_styles and cfg.style_mixing_prob > 0:
            raise ValueError("style mixing needs use_styles=True (set style_mixing_prob=0 for the tuned baseline)")
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, 0, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)
        self.num_ws = self.synthesis.num_ws

    # growing state (the buffer is synthesis.lod)
    @property
    def lod(self) -> torch.Tensor:
        return self.synthesis.lod

    @property
    def max_lod(self) -> int:
        return self.synthesis.max_lod

    def set_lod(self, lod: float) -> None:
        self.synthesis.set_lod(lod)

    @property
    def current_resolution(self) -> int:
        return self.synthesis.current_resolution

    @property
    def fade_alpha(self) -> float:
        return self.synthesis.fade_alpha

    def forward(self, z: torch.Tensor, truncation_psi: float | None = None, truncation_cutoff: int | None = None,
                noise_mode: str = "random", full_resolution: bool = True) -> torch.Tensor:
        w = self.mapping(z)
        if self.training and self.cfg.w_avg_beta < 1:
            with torch.no_grad():
                self.mapping.w_avg.copy_(w.detach().mean(0).lerp(self.mapping.w_avg, self.cfg.w_avg_beta))
        ws = w[:, None].expand(-1, self.num_ws, -1)
        if self.training and self.cfg.style_mixing_prob > 0:
            ws = self.mix_styles(z, ws)
        if truncation_psi is not None and truncation_psi != 1:
            ws = self.truncate(ws, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode, full_resolution)

    def mix_styles(self, z: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
        """Mixing regularization: with probability style_mixing_prob, the layers from a crossover drawn uniformly in
        [1, active layers) take the w of a fresh z. Active layers = num_ws - 2 floor(lod), as the official G_style."""
        active = self.num_ws - 2 * int(float(self.lod))
        if active < 2 or torch.rand([]).item() >= self.cfg.style_mixing_prob:
            return ws
        crossover = int(torch.randint(1, active, []).item())
        w2 = self.mapping(torch.randn_like(z))
        layer = torch.arange(self.num_ws, device=ws.device)[None, :, None]
        return torch.where(layer < crossover, ws, w2[:, None])

    def truncate(self, ws: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        """w' = w_avg + psi (w - w_avg) on layers < cutoff (default cfg.truncation_cutoff), unchanged after."""
        cutoff = self.cfg.truncation_cutoff if cutoff is None else cutoff
        layer = torch.arange(ws.shape[1], device=ws.device)[None, :, None]
        coefs = torch.where(layer < cutoff, torch.full_like(layer, psi, dtype=ws.dtype), torch.ones_like(layer, dtype=ws.dtype))
        return self.mapping.w_avg.lerp(ws, coefs)

    # style-mixing figures (generate_figures.py draw_style_mixing_figure)

    def style_ranges(self) -> dict[str, range]:
        """Layer indices of the paper's coarse (4-8 px), middle (16-32 px) and fine (64 px and up) styles."""
        n = self.num_ws
        return {"coarse": range(0, min(4, n)), "middle": range(min(4, n), min(8, n)), "fine": range(min(8, n), n)}

    @torch.no_grad()
    def style_mixing(self, z_dst: torch.Tensor, z_src: torch.Tensor, layers: str | Sequence[int],
                     truncation_psi: float | None = None, noise_mode: str = "const") -> torch.Tensor:
        """Images (len(z_dst), len(z_src), C, H, W): each destination's w with ``layers`` (a name of style_ranges()
        or layer indices) taken from each source's w. Mapping and synthesis only (no w_avg update, no mixing)."""
        layers = list(self.style_ranges()[layers] if isinstance(layers, str) else layers)
        w_dst, w_src = self.mapping(z_dst), self.mapping(z_src)
        D, S = len(w_dst), len(w_src)
        ws = w_dst[:, None, None, :].repeat(1, S, self.num_ws, 1)
        ws[:, :, layers] = w_src[None, :, None, :]
        ws = ws.view(D * S, self.num_ws, -1)
        if truncation_psi is not None and truncation_psi != 1:
            ws = self.truncate(ws, truncation_psi)
        images = self.synthesis(ws, noise_mode)
        return images.view(D, S, *images.shape[1:])

    @torch.no_grad()
    def style_mixing_grid(self, z_dst: torch.Tensor, z_src: torch.Tensor, row_layers: Sequence[str | Sequence[int]] | None = None,
                          truncation_psi: float | None = None, noise_mode: str = "const") -> torch.Tensor:
        """The paper's Figure 3 layout as (len(z_dst) + 1, len(z_src) + 1, C, H, W): sources on the top row,
        destinations in the first column, white corner, row i mixing ``row_layers[i]`` of every source into
        destination i. Default rows: the official coarse x3, middle x2, fine for 6 destinations, else cycling."""
        if row_layers is None:
            row_layers = ("coarse",) * 3 + ("middle",) * 2 + ("fine",) if len(z_dst) == 6 else \
                [("coarse", "middle", "fine")[i % 3] for i in range(len(z_dst))]
        if len(row_layers) != len(z_dst):
            raise ValueError(f"row_layers needs one entry per destination ({len(z_dst)}), got {len(row_layers)}")
        ws_src = self.mapping(z_src)[:, None].expand(-1, self.num_ws, -1)
        ws_dst = self.mapping(z_dst)[:, None].expand(-1, self.num_ws, -1)
        if truncation_psi is not None and truncation_psi != 1:
            ws_src, ws_dst = self.truncate(ws_src, truncation_psi), self.truncate(ws_dst, truncation_psi)
        src_images, dst_images = self.synthesis(ws_src, noise_mode), self.synthesis(ws_dst, noise_mode)
        grid = torch.ones(len(z_dst) + 1, len(z_src) + 1, *src_images.shape[1:], device=src_images.device, dtype=src_images.dtype)
        grid[0, 1:], grid[1:, 0] = src_images, dst_images
        for row, layers in enumerate(row_layers):
            grid[row + 1, 1:] = self.style_mixing(z_dst[row : row + 1], z_src, layers, truncation_psi, noise_mode)[0]
        return grid


def build_discriminator(cfg: StyleGANConfig) -> Discriminator:
    """D_basic: progan.Discriminator with the blur before each downsampling conv and mbstd_num_features maps."""
    blur = (lambda channels: Blur2d(channels, cfg.blur_filter)) if cfg.blur_filter else None
    return Discriminator(resolution=cfg.resolution, channels=cfg.channels, nf=cfg.nf, mbstd_group_size=cfg.mbstd_group_size,
                         mbstd_num_features=cfg.mbstd_num_features, blur=blur)


CONFIGS = {
    "stylegan-ffhq": StyleGANConfig(resolution=1024),
    "stylegan-celebahq": StyleGANConfig(resolution=1024),
}


def _builder(build, name):
    return lambda **overrides: build(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(build_discriminator, name) for name in CONFIGS}
