"""DINOv2 ViT-L/14 image features, as Stein et al. 2023 ("Exposing flaws of generative model evaluation
metrics and their unfair treatment of diffusion models") extract them for Fréchet distance, KID and
precision/recall/density/coverage in DINOv2 space.

Pipeline of their code (layer6ai-labs/dgm-eval, `dgm_eval/models/dinov2.py`, default model `dinov2`,
arch `vitl14`, `clean_resize` off), reproduced on uint8 (B, 3, H, W) tensors:
1. `torchvision.transforms.Resize((224, 224), BICUBIC)` on the PIL image, i.e. Pillow's bicubic resampling
   (a = -0.5, support widened by the scale when shrinking, coefficients rounded to 22-bit fixed point, a
   horizontal then a vertical pass, each rounded and clipped to uint8). `pil_bicubic_resize` computes the
   same integer arithmetic exactly (float64 matrix products of integers below 2^53), so the resized pixels
   equal Pillow's bit for bit. The pass order is that of the Pillow releases of the paper's time (<= 12,
   `ImagingResampleInner`: always horizontal first). Pillow 13 (python-pillow/Pillow#9549) runs the
   vertical pass first when the height shrinks much more than the width (observed with 13.0.0: height
   reduced and (in_h - 224) > 2·(in_w - 224)); square images, all gbench's protocols, are unaffected.
2. `ToTensor` (x / 255 in float32), then `Normalize` with the ImageNet mean and std.
3. `torch.hub.load('facebookresearch/dinov2', 'dinov2_vitl14')` forward: `head(x_norm_clstoken)` with an
   identity head, i.e. the CLS token of the last block after the final LayerNorm, 1024-d.

Architecture: facebookresearch/dinov2 `dinov2/models/vision_transformer.py` and `dinov2/layers/` with the
hub settings of `dinov2/hub/backbones.py` (`vit_large`: width 1024, 24 blocks, 16 heads, MLP ratio 4,
patch 14, img_size 518 -> a 37x37 learned position grid plus CLS, qkv/proj/MLP biases, LayerNorm eps 1e-6,
exact GELU, LayerScale (`ls1`/`ls2.gamma`), no register tokens, `block_chunks=0` so the blocks are
`blocks.N.*`). For a 224 input (16x16 patches) the patch position embeddings are resampled as the official
`interpolate_pos_encoding` does: bicubic (torch's, a = -0.75), no antialiasing, with the scale factor
(16 + 0.1) / 37 passed explicitly (`interpolate_offset` 0.1; every released version of that function gives
this same call), computed in float32. 304,368,640 parameters, `mask_token` included.

The released weights are `dinov2_vitl14_pretrain.pth` (the asset `dinov2` of gbench/assets.py, with its URL,
size and sha256), a plain state dict loaded here with
`torch.load(weights_only=True)` and strict key matching (`mask_token` is loaded though inference never
uses it, so that every released key is accounted for).

Deviations: attention runs through `scaled_dot_product_attention` (the official code uses it too when
xFormers is absent; the 2023 release used an explicit softmax(qkᵀ·scale)v, equal up to round-off).
Stochastic depth, dropout, masking and register tokens (training-only or absent in this checkpoint) are
not built.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gbench.errors import GBenchError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class DinoV2Config:
    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: int = 4
    patch_size: int = 14
    pretrain_grid: int = 37  # the checkpoint's position grid: 518 / 14 patches per side
    image_size: int = 224  # Stein et al. resize every image to this before the model
    layer_norm_eps: float = 1e-6
    pos_interpolate_offset: float = 0.1


VITL14 = DinoV2Config()


# ------------------------------------------------------------------------------------- the ViT


class PatchEmbed(nn.Module):
    def __init__(self, config: DinoV2Config):
        super().__init__()
        self.proj = nn.Conv2d(3, config.embed_dim, kernel_size=config.patch_size, stride=config.patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)  # (B, patches, D), row-major patches


class Attention(nn.Module):
    def __init__(self, config: DinoV2Config):
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = nn.Linear(config.embed_dim, 3 * config.embed_dim)
        self.proj = nn.Linear(config.embed_dim, config.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, tokens, head_dim)
        out = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(head_dim), as the official code
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, config: DinoV2Config):
        super().__init__()
        hidden = config.mlp_ratio * config.embed_dim
        self.fc1 = nn.Linear(config.embed_dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, config.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, config: DinoV2Config):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps)
        self.attn = Attention(config)
        self.ls1 = LayerScale(config.embed_dim)
        self.norm2 = nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps)
        self.mlp = Mlp(config)
        self.ls2 = LayerScale(config.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class DinoV2ViT(nn.Module):
    """The DINOv2 backbone on normalized float images (B, 3, H, W), H and W multiples of the patch size;
    returns the final-LayerNorm CLS token (B, embed_dim)."""

    def __init__(self, config: DinoV2Config = VITL14):
        super().__init__()
        self.config = config
        dim, grid = config.embed_dim, config.pretrain_grid
        self.patch_embed = PatchEmbed(config)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # masked-image-modelling training only
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)

    def position_embedding(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """(1, 1 + grid_h·grid_w, D): the CLS position plus the patch grid resampled to grid_h x grid_w."""
        grid = self.config.pretrain_grid
        if grid_h == grid_w == grid:
            return self.pos_embed
        pos_embed = self.pos_embed.float()
        patch_grid = pos_embed[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
        offset = self.config.pos_interpolate_offset
        resampled = F.interpolate(
            patch_grid,
            scale_factor=((grid_h + offset) / grid, (grid_w + offset) / grid),
            mode="bicubic",
            antialias=False,
        )
        if resampled.shape[-2:] != (grid_h, grid_w):
            raise GBenchError(f"DINOv2 position grid resampled to {tuple(resampled.shape[-2:])}, expected {(grid_h, grid_w)}")
        patches = resampled.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)
        return torch.cat([pos_embed[:, :1], patches], dim=1).to(self.pos_embed.dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patch = self.config.patch_size
        height, width = images.shape[-2:]
        if height % patch or width % patch:
            raise GBenchError(f"DINOv2 input must be a multiple of {patch} pixels per side, got {height}x{width}")
        tokens = self.patch_embed(images)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        tokens = tokens + self.position_embedding(height // patch, width // patch)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]


# ---------------------------------------------------------------------- Pillow bicubic resize


def _pil_bicubic_filter(x: np.ndarray) -> np.ndarray:
    """Pillow's bicubic kernel (a = -0.5), in float64 with its operation order."""
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


@functools.lru_cache(maxsize=16)
def _pil_resample_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """(out_size, in_size) integer weights (as float64) of Pillow's `precompute_coeffs` for BICUBIC over
    the whole image, normalized per output pixel and rounded to PRECISION_BITS = 22 as
    `normalize_coeffs_8bpc` does."""
    scale = float(in_size) / out_size
    filter_scale = max(scale, 1.0)
    support = 2.0 * filter_scale
    weights = np.zeros((out_size, in_size))
    for out_index in range(out_size):
        center = (out_index + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        stop = min(int(center + support + 0.5), in_size)
        taps = _pil_bicubic_filter((np.arange(first, stop) - center + 0.5) * (1.0 / filter_scale))
        total = 0.0
        for tap in taps:  # sequential sum, as the C loop
            total += tap
        if total != 0.0:
            taps = taps / total
        weights[out_index, first:stop] = np.where(taps < 0, np.trunc(-0.5 + taps * (1 << 22)), np.trunc(0.5 + taps * (1 << 22)))
    return torch.from_numpy(weights)


def _pil_pass(pixels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """One 8-bit Pillow resampling pass along the last axis: (2^21 + Σ pixel·weight) >> 22, clipped."""
    summed = pixels @ weights.to(pixels.device).T + float(1 << 21)
    return torch.floor(summed / float(1 << 22)).clamp_(0, 255)


def pil_bicubic_resize(images_uint8: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (B, C, H, W) -> uint8 (B, C, size, size), equal to PIL `Image.resize((size, size), BICUBIC)`."""
    pixels = images_uint8.to(torch.float64)
    height, width = pixels.shape[-2:]
    if width != size:  # horizontal pass first, as Pillow's ImagingResampleInner
        pixels = _pil_pass(pixels, _pil_resample_matrix(width, size))
    if height != size:
        pixels = _pil_pass(pixels.transpose(-1, -2), _pil_resample_matrix(height, size)).transpose(-1, -2)
    return pixels.to(torch.uint8)


# ------------------------------------------------------------------------------------ extractor


class DinoV2Extractor(nn.Module):
    """uint8 images (B, 3, H, W) -> DINOv2 CLS features (B, embed_dim) in float32, as dgm-eval."""

    def __init__(self, vit: DinoV2ViT):
        super().__init__()
        self.vit = vit
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, images_uint8: torch.Tensor) -> torch.Tensor:
        if images_uint8.dtype != torch.uint8 or images_uint8.ndim != 4 or images_uint8.shape[1] != 3:
            raise GBenchError(f"DINOv2 extractor expects uint8 (B, 3, H, W) images, got {images_uint8.dtype} {tuple(images_uint8.shape)}")
        resized = pil_bicubic_resize(images_uint8, self.vit.config.image_size)
        return (resized.to(torch.float32) / 255 - self.mean) / self.std

    @torch.no_grad()
    def forward(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return self.vit(self.preprocess(images_uint8)).float()


def load_dinov2(path: str | Path, *, config: DinoV2Config = VITL14, device: str | torch.device = "cpu") -> DinoV2Extractor:
    """The extractor with the state dict at `path` (official key layout), every key matched strictly."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise GBenchError(f"DINOv2 weights not found: {path}") from None
    except Exception as error:  # a truncated file or a pickle that needs more than tensors
        raise GBenchError(f"cannot load DINOv2 weights {path}: {type(error).__name__}: {str(error).splitlines()[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GBenchError(f"{path} is not a DINOv2 state dict (expected a dict of tensors)")
    vit = DinoV2ViT(config)
    expected = vit.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise GBenchError(f"{path} does not match DINOv2 {config}: missing {missing[:4]}{'...' if len(missing) > 4 else ''}, unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}")
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        raise GBenchError(f"{path} does not match DINOv2 {config}: {'; '.join(wrong[:3])}")
    vit.load_state_dict(state, strict=True)
    return DinoV2Extractor(vit).to(device).eval().requires_grad_(False)


def parameter_count(config: DinoV2Config = VITL14) -> int:
    """Parameters of the backbone, counted on the meta device (no memory)."""
    with torch.device("meta"):
        return sum(p.numel() for p in DinoV2ViT(config).parameters())

