"""TransGAN (Jiang, Chang & Wang): a GAN whose generator and discriminator are pure transformers.

Follows the official repository ``VITA-Group/TransGAN`` (facts collected in shared/reference/transgan.md):

- ``transgan-s/-m/-l/-xl`` (32x32), ``transgan-stl10`` (48x48) and ``transgan-celeba64`` (64x64) are the
  arXiv-v1 models (v1 commit c1524fb4, ``models/TransGAN_8_8_1.py``, ``TransGAN_8_8_G2_1.py``,
  ``Celeba64_TransGAN.py``; widths and depths of S/M/L/XL from v1 Table 4). The v1 discriminator is
  ``models/ViT_8_8.py``: a plain ViT (patch 4, 7 blocks of width 384, cls token, Linear head).
- ``transgan-neurips`` is the NeurIPS-2021 CIFAR-10 model of the current code (HEAD 6b85440c,
  ``exps/cifar_train.py``): generator ``models_search/ViT_custom_rp.py`` (latent 256, XL width, a learned
  Swin-style relative-position bias in every block) and the two-scale discriminator
  ``models_search/ViT_custom_scale2_rp_noise.py`` (patch 2 and 4 branches, relative-position bias, noise
  injection before every attention).

Generator, top to bottom: z -> Linear -> bottom x bottom tokens of width ``embed_dim`` (+ learned position
embedding) -> stage 1 blocks -> [PixelShuffle(2): side x2, width /4 -> + position embedding -> stage blocks]
per further stage -> 1x1 conv to RGB. There is no tanh: outputs are unbounded, as in the official code.
Blocks are pre-LN transformer blocks: global multi-head self-attention (4 heads, qkv without bias,
projection with bias) and an MLP (ratio 4, exact erf GELU), both residual; no dropout or drop-path.

Parameter counts (tests/test_transgan_models.py checks them against transgan.md section 5):
  G  S 34,368,171   M 49,860,835   L 86,901,075   XL 133,592,515
     STL-10 150,061,395   CelebA-64 132,925,171   NeurIPS 83,312,495
  D  v1 ViT 12,458,497 (32x32) / 12,489,217 (48x48) / 12,532,225 (64x64)   NeurIPS 10,210,400
The exact figures above are what this file builds; transgan.md gives them rounded to 0.01 M and all match.

Locality-aware initialisation (v1 paper; v1 code only). The last block of the highest-resolution stage
masks its attention: query token i may attend to key token j only when they are within ``w`` of each other,
and ``w`` grows with the training epoch until attention is global (``locality_width``). ``local_init``:
  "band"   - the official code: |i - j| <= w on the raster-flattened token index (a 1-D band; it wraps
             across image rows). This is the default of every v1 configuration.
  "window" - the paper figure's reading: a 2-D square, |row_i - row_j| <= w and |col_i - col_j| <= w.
  "off"    - global attention everywhere (NeurIPS model).
The trainer reports progress with ``Generator.set_data_epoch(epoch)``, in epochs over the training data
(the v1 schedule's unit; the v1 loop itself was never released). The epoch is saved in ``state_dict``
(``locality._extra_state``, not a buffer) so a resumed or reloaded generator masks the same way; the mask
itself is a non-persistent buffer rebuilt only when the width changes, so ``forward`` never reads the epoch
(a ``torch.compile``d generator is not recompiled as training advances). A trainer
that keeps an EMA copy must give it the same epoch: call ``set_data_epoch`` on the copy too (an EMA that
only averages parameters and copies buffers does not carry it).

Multi-task co-training (MT-CT, v1 paper: an auxiliary super-resolution task, MSE, weight 50). It was never
released in any commit, so this is gbench's design: with ``co_train_sr=True`` the generator gets one extra
Linear(3 -> embed_dim) (``sr_embed``) applied to every pixel of a low-resolution real image of size
bottom x bottom; those tokens replace the z projection as stage-1 tokens (plus the same position embedding)
and then pass through the same stages and to-RGB layer (``Generator.super_resolve``). The low-resolution
input comes from ``downsample_to_bottom`` (area averaging). The trainer adds 50 * MSE(super_resolve(down(x)), x)
to the generator loss. With ``co_train_sr=False`` (the default) nothing is created, so counts are unchanged.
The super-resolution pass shares everything after the embedding, the locality mask included.

Initialisation as the official code: generator Linear layers keep PyTorch's default init (the official
``self.apply(_init_weights)`` is commented out), position embeddings and relative-position tables are
truncated normal (std .02), the 1x1 to-RGB conv is xavier-uniform (``train_derived.weights_init``).
Discriminator: Linear truncated normal (.02) with zero bias, LayerNorm 1/0, patch convs xavier-uniform,
cls token and position embeddings truncated normal (.02), noise strengths 0.

Deviations and decisions where the sources leave a choice:
1. DiffAugment is not inside D.forward (the official discriminators call it first thing); reference models
   import nothing from gbench, so the trainer applies ``gbench.augment.diff_augment`` to every D input.
2. Masked attention logits are excluded with a boolean SDPA mask (-inf) instead of the code's -1e9:
   identical after softmax in float32. The relative-position bias is passed to SDPA as an additive mask.
3. Unused modules of the official files are left out: the v1 generators (``TransGAN_8_8_1``, ``TransGAN_8_8_G2_1``,
   ``Celeba64_TransGAN``) build a BatchNorm2d ``to_rgb`` that forward never calls (2 * gf_dim parameters,
   < 0.002 %); ``--d_spectral_norm`` is never read.
4. A stage whose width ``num_heads`` does not divide cannot split into equal heads; such stages (smoke-size
   models only) use gcd(num_heads, width) heads. Every paper configuration divides evenly (4 heads).
5. The discriminators accept any image size that is a multiple of their patch size (2x the patch for the
   two-scale D): position embeddings and relative-position tables are resampled bilinearly when the token
   grid differs from the configured ``resolution``. The official code only runs at its training size.
6. ``transgan-stl10`` (48x48) uses the 32x32 locality schedule, as the v1 STL-10 generator
   (``TransGAN_8_8_G2_1``) does (transgan.md 3); ``locality_width`` applies it to every resolution below 64.
7. The NeurIPS generator's optional ``--latent_norm`` is off in the CIFAR script and is not implemented.
8. Noise injection in the NeurIPS D draws from the global torch RNG, as the official code does.
9. The two-scale D sizes its relative-position tables by its own token grids (R/P and R/2P); the official
   code derives them from the generator's ``bottom_width`` (8 * 4 // 2 and 8 * 4 // 4), equal at 32x32.
10. Parameter names and the relative-position table layout (heads, 2w-1, 2w-1) are ours; official
    checkpoints load through ``gbench.official`` (formats ``transgan-v1`` and ``transgan-neurips``), which
    maps the keys and reshapes the official ((2w-1)^2, heads) tables.
11. ``noise_injection=True`` on the generator gives the Aug-2021 ``models_search/ViT_custom.py`` generator
    (noise injection in every attention, no relative-position bias; 83.26 M with ``relative_position=False``),
    so its released checkpoint can be read; off by default (no parameters are added).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------------------------------
# Locality-aware initialisation: schedule and masks

# (first epoch at which the width no longer applies, width); global attention after the last bound.
LOCALITY_SCHEDULE_32 = ((22, 4), (32, 6), (42, 8), (60, 10))  # v1 TransGAN_8_8_1 / _G2_1 (32x32, 48x48)
LOCALITY_SCHEDULE_64 = ((5, 8), (10, 12), (15, 16), (20, 20))  # v1 Celeba64_TransGAN (64x64)
LOCAL_INIT_KINDS = ("off", "band", "window")


def locality_width(data_epoch: float, resolution: int) -> int | None:
    """Neighbourhood half-width of the masked block at ``data_epoch``, or None once attention is global."""
    if resolution < 64:
        schedule = LOCALITY_SCHEDULE_32
    elif resolution == 64:
        schedule = LOCALITY_SCHEDULE_64
    else:
        raise ValueError(f"no locality schedule for resolution {resolution} (v1 defines 32, 48 and 64)")
    for bound, width in schedule:
        if data_epoch < bound:
            return width
    return None


def locality_mask(side: int, width: int, kind: str, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (N, N) mask, N = side**2, True where query i may attend to key j (SDPA convention)."""
    index = torch.arange(side * side, device=device)
    if kind == "band":
        return (index[:, None] - index[None, :]).abs() <= width
    if kind == "window":
        row, col = index // side, index % side
        near_rows = (row[:, None] - row[None, :]).abs() <= width
        near_cols = (col[:, None] - col[None, :]).abs() <= width
        return near_rows & near_cols
    raise ValueError(f"unknown locality mask kind {kind!r}; expected 'band' or 'window'")


class LocalitySchedule(nn.Module):
    """Holds the training epoch that sets the mask width; the epoch travels in the state dict.

    The mask in use is a non-persistent buffer, rebuilt only when the width changes (five times in a run), so
    the forward pass reads a tensor and never the epoch: a compiled generator is not recompiled as the epoch
    advances, only once when attention turns global (the mask becomes None)."""

    def __init__(self, kind: str, resolution: int, side: int):
        super().__init__()
        if kind not in ("band", "window"):
            raise ValueError(f"unknown locality mask kind {kind!r}; expected 'band' or 'window'")
        self.kind, self.resolution, self.side = kind, resolution, side
        self.register_buffer("active_mask", None, persistent=False)
        self.width: int | None = None
        self._data_epoch = 0.0
        self.set_epoch(0.0)

    @property
    def data_epoch(self) -> float:
        return self._data_epoch

    def set_epoch(self, epoch: float, device: torch.device | str | None = None) -> None:
        """Set the epoch; rebuild the mask (on `device`, else where the current one lives) when its width changes."""
        self._data_epoch = float(epoch)
        width = locality_width(self._data_epoch, self.resolution)
        current = self.active_mask
        device = device if device is not None else (current.device if current is not None else None)
        if width != self.width or (current is not None and device is not None and current.device != torch.device(device)):
            self.width = width
            self.active_mask = None if width is None else locality_mask(self.side, width, self.kind, device)

    def mask(self, side: int, device: torch.device) -> torch.Tensor | None:
        """The mask in use for a (side x side) token grid on `device` (None once attention is global)."""
        if side != self.side:
            raise ValueError(f"the locality mask covers the {self.side}x{self.side} grid, not {side}x{side}")
        mask = self.active_mask
        return mask if mask is None or mask.device == torch.device(device) else mask.to(device)

    def get_extra_state(self) -> dict:
        return {"data_epoch": self.data_epoch}

    def set_extra_state(self, state: dict) -> None:
        self.set_epoch(float(state["data_epoch"]))


# ----------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class GeneratorConfig:
    latent_dim: int = 1024
    bottom_width: int = 8  # side of the first token grid; every further stage doubles it
    embed_dim: int = 384  # stage-1 width; every further stage divides it by 4 (PixelShuffle)
    depths: tuple[int, ...] = (5, 2, 2)  # blocks per stage
    num_heads: int = 4
    mlp_ratio: float = 4.0
    qkv_bias: bool = False
    channels: int = 3
    relative_position: bool = False  # NeurIPS: learned relative-position bias in every block
    noise_injection: bool = False  # Aug-2021 ViT_custom G: x + N(0,1)[B,N,1] * s before every attention (s learned, init 0)
    local_init: str = "off"  # "off" | "band" (v1 code) | "window" (paper figure)
    attention: str = "sdpa"  # "sdpa" | "explicit" (matmul-softmax, for the speed benchmark only)
    co_train_sr: bool = False  # MT-CT: build the low-resolution embedding used by super_resolve

    def __post_init__(self):
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))

    @property
    def resolution(self) -> int:
        return self.bottom_width * 2 ** (len(self.depths) - 1)


@dataclass(frozen=True)
class DiscriminatorConfig:
    resolution: int = 32  # image side the position embeddings are built for
    channels: int = 3
    patch_size: int = 4
    embed_dim: int = 384
    depth: int = 7  # v1 ViT: all blocks; two-scale D: blocks per scale (plus one final block with cls)
    num_heads: int = 4
    mlp_ratio: float = 4.0
    qkv_bias: bool = False
    attention: str = "sdpa"
    multiscale: bool = False  # NeurIPS two-scale D (ViT_custom_scale2_rp_noise) instead of the v1 ViT
    relative_position: bool = False  # two-scale D only
    noise_injection: bool = False  # x + N(0,1)[B,N,1] * s (s learned, init 0) before every attention


# ----------------------------------------------------------------------------------------------------
# Transformer building blocks


def _heads_for(width: int, num_heads: int) -> int:
    return math.gcd(width, num_heads)  # = num_heads for every paper configuration (see deviation 4)


class RelativePositionBias(nn.Module):
    """Swin-style learned bias b[head, dy, dx] for a square ``window`` x ``window`` grid of tokens."""

    def __init__(self, window: int, num_heads: int):
        super().__init__()
        self.window = window
        self.table = nn.Parameter(torch.zeros(num_heads, 2 * window - 1, 2 * window - 1))
        nn.init.trunc_normal_(self.table, std=0.02)
        self._index: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _offsets(self, height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = (height, width, str(device))
        if key not in self._index:
            rows = torch.arange(height, device=device).repeat_interleave(width)
            cols = torch.arange(width, device=device).repeat(height)
            dy = rows[:, None] - rows[None, :] + height - 1  # (N, N), in [0, 2h - 2]
            dx = cols[:, None] - cols[None, :] + width - 1
            self._index[key] = (dy, dx)
        return self._index[key]

    def forward(self, height: int, width: int) -> torch.Tensor:
        """Bias of shape (heads, N, N) for an height x width grid, N = height * width."""
        table = self.table
        if (height, width) != (self.window, self.window):
            table = F.interpolate(table[None], size=(2 * height - 1, 2 * width - 1), mode="bilinear", align_corners=True)[0]
        dy, dx = self._offsets(height, width, table.device)
        return table[:, dy, dx]


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool, attention: str,
                 relative_window: int = 0, noise_injection: bool = False):
        super().__init__()
        if attention not in ("sdpa", "explicit"):
            raise ValueError(f"attention must be 'sdpa' or 'explicit', got {attention!r}")
        self.num_heads, self.attention = _heads_for(dim, num_heads), attention
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.relative_position = RelativePositionBias(relative_window, self.num_heads) if relative_window else None
        self.noise_strength = nn.Parameter(torch.zeros(())) if noise_injection else None

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, N, C). ``grid``: (height, width) of the tokens, needed for the relative-position bias.
        ``mask``: optional boolean (N, N), True = may attend."""
        B, N, C = x.shape
        if self.noise_strength is not None:
            x = x + torch.randn(B, N, 1, device=x.device, dtype=x.dtype) * self.noise_strength
        q, k, v = self.qkv(x).view(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        attn_mask = mask
        if self.relative_position is not None:
            # (1, heads, N, N): CPU SDPA takes its fused kernel only for a 4-D mask (a 3-D one falls back to the math kernel)
            attn_mask = self.relative_position(*grid).to(q.dtype)[None]
            if mask is not None:
                attn_mask = attn_mask.masked_fill(~mask, float("-inf"))
        if self.attention == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        else:
            out = _explicit_attention(q, k, v, attn_mask)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


def _explicit_attention(q, k, v, attn_mask):
    """softmax(q k^T / sqrt(d) + mask) v, written out; numerically the same as SDPA's math path."""
    logits = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    if attn_mask is not None:
        logits = logits.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else logits + attn_mask
    return logits.softmax(dim=-1) @ v


class MLP(nn.Module):
    def __init__(self, dim: int, ratio: float):
        super().__init__()
        self.fc1 = nn.Linear(dim, int(dim * ratio))
        self.act = nn.GELU()  # exact (erf) GELU, as the official ``gelu``
        self.fc2 = nn.Linear(int(dim * ratio), dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-LN transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, attention: str,
                 relative_window: int = 0, noise_injection: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias, attention, relative_window, noise_injection)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio)

    def forward(self, x, grid=None, mask=None):
        x = x + self.attn(self.norm1(x), grid, mask)
        return x + self.mlp(self.norm2(x))


def tokens_to_map(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, H*W, C) raster-order tokens -> (B, C, H, W)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], height, width)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W, C) in raster order."""
    return x.flatten(2).transpose(1, 2)


def downsample_to_bottom(x: torch.Tensor, bottom: int) -> torch.Tensor:
    """MT-CT input: average-pool real images (B, C, H, W) to (B, C, bottom, bottom).

    Area averaging (a box filter over each (H/bottom)^2 block) is the simplest anti-aliased downsampler:
    deterministic, differentiable, and it keeps the mean colour of every block. The paper does not name
    its downsampler; bicubic (MATLAB imresize, as in SR papers) would be the other common choice.
    """
    H, W = x.shape[-2:]
    if H % bottom or W % bottom:
        raise ValueError(f"image size {H}x{W} is not a multiple of the bottom width {bottom}")
    return F.avg_pool2d(x, kernel_size=(H // bottom, W // bottom))


# ----------------------------------------------------------------------------------------------------
# Generator


class Generator(nn.Module):
    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        if cfg.local_init not in LOCAL_INIT_KINDS:
            raise ValueError(f"local_init must be one of {LOCAL_INIT_KINDS}, got {cfg.local_init!r}")
        if not cfg.depths or min(cfg.depths) < 1:
            raise ValueError(f"depths must be a non-empty tuple of positive ints, got {cfg.depths}")
        if cfg.embed_dim % 4 ** (len(cfg.depths) - 1):
            raise ValueError(f"embed_dim {cfg.embed_dim} must be divisible by 4**{len(cfg.depths) - 1} (PixelShuffle per stage)")
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, 0, "normal"
        self.resolution, self.channels, self.bottom_width = cfg.resolution, cfg.channels, cfg.bottom_width
        self.widths = [cfg.embed_dim // 4**s for s in range(len(cfg.depths))]
        self.sides = [cfg.bottom_width * 2**s for s in range(len(cfg.depths))]

        self.latent_to_tokens = nn.Linear(cfg.latent_dim, cfg.bottom_width**2 * cfg.embed_dim)
        self.sr_embed = nn.Linear(cfg.channels, cfg.embed_dim) if cfg.co_train_sr else None
        self.pos_embeds = nn.ParameterList(nn.Parameter(torch.zeros(1, side * side, width)) for side, width in zip(self.sides, self.widths))
        self.stages = nn.ModuleList(
            nn.ModuleList(
                Block(width, cfg.num_heads, cfg.mlp_ratio, cfg.qkv_bias, cfg.attention, relative_window=side if cfg.relative_position else 0,
                      noise_injection=cfg.noise_injection)
                for _ in range(depth)
            )
            for depth, width, side in zip(cfg.depths, self.widths, self.sides)
        )
        self.to_rgb = nn.Conv2d(self.widths[-1], cfg.channels, kernel_size=1)
        self.locality = LocalitySchedule(cfg.local_init, cfg.resolution, self.sides[-1]) if cfg.local_init != "off" else None

        for pos in self.pos_embeds:
            nn.init.trunc_normal_(pos, std=0.02)
        nn.init.xavier_uniform_(self.to_rgb.weight)

    def set_data_epoch(self, epoch: float) -> None:
        """Tell the locality mask how far training is (in epochs over the training data)."""
        if self.locality is not None:
            self.locality.set_epoch(epoch, device=self.to_rgb.weight.device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        tokens = self.latent_to_tokens(z).view(z.shape[0], self.sides[0] ** 2, self.widths[0])
        return self.decode(tokens)

    def super_resolve(self, low_res: torch.Tensor) -> torch.Tensor:
        """MT-CT: (B, 3, bottom, bottom) real image in [-1, 1] -> (B, 3, resolution, resolution)."""
        if self.sr_embed is None:
            raise RuntimeError("super_resolve needs a generator built with co_train_sr=True")
        side = self.sides[0]
        if tuple(low_res.shape[1:]) != (self.channels, side, side):
            raise ValueError(f"low_res must be (B, {self.channels}, {side}, {side}), got {tuple(low_res.shape)}")
        return self.decode(self.sr_embed(map_to_tokens(low_res)))

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Stage-1 tokens (B, bottom**2, embed_dim) -> image, through every stage and the to-RGB conv."""
        last_stage = len(self.stages) - 1
        for s, (stage, pos_embed, side) in enumerate(zip(self.stages, self.pos_embeds, self.sides)):
            if s > 0:  # PixelShuffle(2): side x2, width /4
                x = map_to_tokens(F.pixel_shuffle(tokens_to_map(x, side // 2, side // 2), 2))
            x = x + pos_embed
            for b, block in enumerate(stage):
                is_masked_block = s == last_stage and b == len(stage) - 1 and self.locality is not None
                mask = self.locality.mask(side, x.device) if is_masked_block else None  # a tensor: the epoch is not read here
                x = block(x, (side, side), mask)
        return self.to_rgb(tokens_to_map(x, self.sides[-1], self.sides[-1]))


# ----------------------------------------------------------------------------------------------------
# Discriminators


def _resample_grid(pos: torch.Tensor, old: int, height: int, width: int) -> torch.Tensor:
    """(1, old*old, C) position embedding -> (1, height*width, C), bilinear on the 2-D grid."""
    if (height, width) == (old, old):
        return pos
    grid = tokens_to_map(pos, old, old)
    return map_to_tokens(F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False))


def _init_discriminator(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)


class ViTDiscriminator(nn.Module):
    """v1 ``ViT_8_8``: conv patchify -> [cls] + patch tokens + position embedding -> blocks -> LN -> head(cls)."""

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        if cfg.relative_position:
            raise ValueError("relative_position is only available in the two-scale discriminator (multiscale=True)")
        if cfg.resolution % cfg.patch_size:
            raise ValueError(f"resolution {cfg.resolution} is not a multiple of patch_size {cfg.patch_size}")
        self.cfg, self.num_classes = cfg, 0
        self.grid = cfg.resolution // cfg.patch_size
        self.patch_embed = nn.Conv2d(cfg.channels, cfg.embed_dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid**2, cfg.embed_dim))  # cls + patches
        self.blocks = nn.ModuleList(
            Block(cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio, cfg.qkv_bias, cfg.attention, noise_injection=cfg.noise_injection)
            for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.head = nn.Linear(cfg.embed_dim, 1)

        _init_discriminator(self)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embed(x)
        height, width = patches.shape[-2:]
        pos_cls, pos_patches = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        tokens = map_to_tokens(patches) + _resample_grid(pos_patches, self.grid, height, width)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1) + pos_cls, tokens], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0]).flatten()


class MultiScaleDiscriminator(nn.Module):
    """NeurIPS ``ViT_custom_scale2_rp_noise``: two patch scales, merged after the first group of blocks.

    Branch A: Conv(patch P) -> width 3/4 * embed_dim tokens on an (R/P)^2 grid -> ``depth`` blocks ->
    AvgPool 2x2. Branch B: Conv(patch 2P) of the same image -> width 1/4 * embed_dim. Concatenate channels
    -> embed_dim on an (R/2P)^2 grid -> ``depth`` blocks -> prepend cls -> one last block (no relative
    bias) -> LN -> Linear head on cls.
    """

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        if cfg.embed_dim % 4:
            raise ValueError(f"embed_dim {cfg.embed_dim} must be divisible by 4 (3/4 and 1/4 branches)")
        if cfg.resolution % (2 * cfg.patch_size):
            raise ValueError(f"resolution {cfg.resolution} is not a multiple of 2 * patch_size = {2 * cfg.patch_size}")
        self.cfg, self.num_classes = cfg, 0
        wide, narrow = cfg.embed_dim // 4 * 3, cfg.embed_dim // 4
        self.grid_fine, self.grid_coarse = cfg.resolution // cfg.patch_size, cfg.resolution // (2 * cfg.patch_size)

        def blocks(width, window, depth):
            window = window if cfg.relative_position else 0
            return nn.ModuleList(
                Block(width, cfg.num_heads, cfg.mlp_ratio, cfg.qkv_bias, cfg.attention, window, cfg.noise_injection)
                for _ in range(depth)
            )

        self.patch_embed_fine = nn.Conv2d(cfg.channels, wide, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.patch_embed_coarse = nn.Conv2d(cfg.channels, narrow, kernel_size=2 * cfg.patch_size, stride=2 * cfg.patch_size)
        self.pos_embed_fine = nn.Parameter(torch.zeros(1, self.grid_fine**2, wide))
        self.pos_embed_coarse = nn.Parameter(torch.zeros(1, self.grid_coarse**2, cfg.embed_dim))
        self.blocks_fine = blocks(wide, self.grid_fine, cfg.depth)
        self.blocks_coarse = blocks(cfg.embed_dim, self.grid_coarse, cfg.depth)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.last_block = blocks(cfg.embed_dim, 0, 1)[0]
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.head = nn.Linear(cfg.embed_dim, 1)

        _init_discriminator(self)
        for p in (self.pos_embed_fine, self.pos_embed_coarse, self.cls_token):
            nn.init.trunc_normal_(p, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine, coarse = self.patch_embed_fine(x), self.patch_embed_coarse(x)
        (h1, w1), (h2, w2) = fine.shape[-2:], coarse.shape[-2:]
        x = map_to_tokens(fine) + _resample_grid(self.pos_embed_fine, self.grid_fine, h1, w1)
        for block in self.blocks_fine:
            x = block(x, (h1, w1))
        x = map_to_tokens(F.avg_pool2d(tokens_to_map(x, h1, w1), 2))
        x = torch.cat([x, map_to_tokens(coarse)], dim=-1) + _resample_grid(self.pos_embed_coarse, self.grid_coarse, h2, w2)
        for block in self.blocks_coarse:
            x = block(x, (h2, w2))
        x = self.last_block(torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1))
        return self.head(self.norm(x)[:, 0]).flatten()


# ----------------------------------------------------------------------------------------------------
# Named configurations

_V1 = dict(latent_dim=1024, bottom_width=8, local_init="band")
GENERATOR_CONFIGS = {
    "transgan-s": GeneratorConfig(**_V1, embed_dim=384, depths=(5, 2, 2)),
    "transgan-m": GeneratorConfig(**_V1, embed_dim=512, depths=(5, 2, 2)),
    "transgan-l": GeneratorConfig(**_V1, embed_dim=768, depths=(5, 2, 2)),
    "transgan-xl": GeneratorConfig(**_V1, embed_dim=1024, depths=(5, 4, 2)),
    "transgan-stl10": GeneratorConfig(**{**_V1, "bottom_width": 12}, embed_dim=768, depths=(5, 2, 2)),
    "transgan-celeba64": GeneratorConfig(**_V1, embed_dim=1024, depths=(5, 3, 3, 2)),
    "transgan-neurips": GeneratorConfig(latent_dim=256, bottom_width=8, embed_dim=1024, depths=(5, 4, 2), relative_position=True),
}

_V1_D = DiscriminatorConfig(resolution=32, patch_size=4, embed_dim=384, depth=7)
DISCRIMINATOR_CONFIGS = {
    "transgan-s": _V1_D,
    "transgan-m": _V1_D,
    "transgan-l": _V1_D,
    "transgan-xl": _V1_D,
    "transgan-stl10": replace(_V1_D, resolution=48),
    "transgan-celeba64": replace(_V1_D, resolution=64),
    "transgan-neurips": DiscriminatorConfig(resolution=32, patch_size=2, embed_dim=384, depth=3, multiscale=True,
                                            relative_position=True, noise_injection=True),
}


def build_discriminator_from_config(cfg: DiscriminatorConfig) -> nn.Module:
    return MultiScaleDiscriminator(cfg) if cfg.multiscale else ViTDiscriminator(cfg)


def _generator_builder(name):
    return lambda **overrides: Generator(replace(GENERATOR_CONFIGS[name], **overrides))


def _discriminator_builder(name):
    return lambda **overrides: build_discriminator_from_config(replace(DISCRIMINATOR_CONFIGS[name], **overrides))


GENERATORS = {name: _generator_builder(name) for name in GENERATOR_CONFIGS}
DISCRIMINATORS = {name: _discriminator_builder(name) for name in DISCRIMINATOR_CONFIGS}
