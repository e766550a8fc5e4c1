"""Degradations of Deep Generative Prior (Pan et al. 2020): pure, differentiable batch functions on (B, C, H, W).

Each task has two sides, as in XingangPan/deep-generative-prior ``models/dgp.py`` ``DGP.pre_process``:
``observe`` makes the degraded observation from the original images (the target of the inversion) and
``operator`` is the degradation phi applied to the generator's output at every step. They are the same function
except for super-resolution, where the official code down-samples the target with PIL's ``Image.ANTIALIAS``
(= Lanczos-3, after quantising to uint8) but the generator's output with Deep Image Prior's ``Downsampler``
(``models/downsampler.py``: ``lanczos2`` kernel, phase 0.5, replication padding), both then brought back to full
size by bilinear interpolation. Images are in [-1, 1] (the official scale); the operators that are affine with
weights summing to one (grey, down-sampling) commute with the [-1, 1] <-> [0, 1] change of scale.

- ``identity`` (task ``reconstruct``).
- ``to_grey`` (``colorization``): 0.2989 R + 0.5870 G + 0.1140 B, repeated to 3 channels (``expand``).
- ``inpaint`` (``inpainting``): multiply by ``center_hole_mask``: a zero square of side ``min(H, W) // 3`` at the
  centre, rows and columns ``begin:end`` with ``begin = (H - hole) // 2``, ``end = H - begin`` (the official code
  uses the row bounds for the columns too). DGP scores inpainting on that square only (``hole_bounds``).
- ``sr4_operator`` / ``sr4_observe`` (``sr4``): x4 down-sampling as above, then bilinear x4 (``align_corners=False``).
- ``pil_lanczos_resize``: PIL's ``Image.resize(size, LANCZOS)`` in torch. With ``quantize=True`` (uint8 images) it
  reproduces PIL's 8-bit path exactly: the same filter support and centres (``Resample.c precompute_coeffs``),
  coefficients rounded to 22-bit fixed point, horizontal pass first, each pass rounded and clipped to uint8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

GREY_WEIGHTS = (0.2989, 0.5870, 0.1140)
SR_FACTOR = 4
LANCZOS_SUPPORT = 3.0  # PIL's LANCZOS (ANTIALIAS) filter: sinc(x) sinc(x / 3) on |x| < 3
PIL_PRECISION_BITS = 32 - 8 - 2  # Resample.c: fixed-point coefficients for 8-bit images


def identity(images: torch.Tensor) -> torch.Tensor:
    return images


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """``DGP.pre_process`` colorization: the BT.601 grey (0.2989, 0.5870, 0.1140) repeated to 3 channels."""
    r, g, b = images.unbind(dim=1)
    grey = GREY_WEIGHTS[0] * r + GREY_WEIGHTS[1] * g + GREY_WEIGHTS[2] * b
    return grey[:, None].expand(-1, 3, -1, -1)


def hole_bounds(height: int, width: int) -> tuple[int, int]:
    """(begin, end) of DGP's central hole, used for both rows and columns (``DGP.pre_process``)."""
    hole = min(height, width) // 3
    begin = (height - hole) // 2
    return begin, height - begin


def center_hole_mask(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(1, 1, H, W): ones with DGP's central square of zeros."""
    begin, end = hole_bounds(height, width)
    mask = torch.ones(1, 1, height, width, device=device, dtype=dtype)
    mask[..., begin:end, begin:end] = 0
    return mask


def inpaint(images: torch.Tensor) -> torch.Tensor:
    """``DGP.pre_process`` inpainting: the images with the central hole zeroed (mid-grey 0 in [-1, 1])."""
    return images * center_hole_mask(images.shape[2], images.shape[3], images.device, images.dtype)


# --------------------------------------------------------------------------- super-resolution


def _sinc(x: torch.Tensor) -> torch.Tensor:
    return torch.sinc(x)  # sin(pi x) / (pi x), 1 at 0


def lanczos(x: torch.Tensor, support: float) -> torch.Tensor:
    """The Lanczos window sinc(x) sinc(x / a) on |x| < a (PIL includes -a, excludes +a)."""
    inside = (x >= -support) & (x < support)
    return torch.where(inside, _sinc(x) * _sinc(x / support), torch.zeros_like(x))


def dip_lanczos2_kernel(factor: int = SR_FACTOR) -> torch.Tensor:
    """Deep Image Prior's ``get_kernel(factor, 'lanczos', phase=0.5, kernel_width=4 * factor + 1, support=2)``:
    a separable (4 factor) x (4 factor) kernel, sampled at half-pixel offsets, normalised to sum 1 (float64)."""
    width = 4 * factor + 1
    center = (width + 1) / 2.0
    index = torch.arange(1, width, dtype=torch.float64)  # phase 0.5: kernel_width - 1 taps
    distance = (index + 0.5 - center).abs() / factor
    support = 2.0
    taps = torch.where(distance == 0, torch.ones_like(distance),
                       support * torch.sin(math.pi * distance) * torch.sin(math.pi * distance / support)
                       / (math.pi**2 * distance.clamp_min(1e-300) ** 2))
    kernel = taps[:, None] * taps[None, :]
    return kernel / kernel.sum()


def dip_downsample(images: torch.Tensor, factor: int = SR_FACTOR) -> torch.Tensor:
    """DIP ``Downsampler(n_planes=C, factor, kernel_type='lanczos2', phase=0.5, preserve_size=True)``: replication
    padding of (kernel - factor) / 2, then a per-channel stride-``factor`` convolution: (B, C, H/f, W/f)."""
    kernel = dip_lanczos2_kernel(factor).to(images.dtype).to(images.device)
    pad = (kernel.shape[0] - factor) // 2
    channels = images.shape[1]
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    weight = kernel.expand(channels, 1, *kernel.shape)
    return F.conv2d(padded, weight, stride=factor, groups=channels)


def _pil_coefficients(in_size: int, out_size: int, support: float = LANCZOS_SUPPORT) -> torch.Tensor:
    """(out_size, in_size) float64 resampling matrix of PIL ``precompute_coeffs`` for the full box [0, in_size]."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    reach = support * filter_scale
    centers = (torch.arange(out_size, dtype=torch.float64) + 0.5) * scale
    xmin = torch.clamp(torch.trunc(centers - reach + 0.5), min=0)  # C's (int) truncates toward zero
    xmax = torch.clamp(torch.trunc(centers + reach + 0.5), max=in_size)
    source = torch.arange(in_size, dtype=torch.float64)
    in_window = (source[None, :] >= xmin[:, None]) & (source[None, :] < xmax[:, None])
    weights = lanczos((source[None, :] - centers[:, None] + 0.5) / filter_scale, support) * in_window
    total = weights.sum(dim=1, keepdim=True)
    return torch.where(total != 0, weights / total, weights)


def _fixed_point(coefficients: torch.Tensor) -> torch.Tensor:
    """``normalize_coeffs_8bpc``: round half away from zero to integers at 2^22 (kept as float64, exact)."""
    scaled = coefficients * (1 << PIL_PRECISION_BITS)
    return torch.where(scaled < 0, torch.trunc(scaled - 0.5), torch.trunc(scaled + 0.5))


def _clip8(accumulated: torch.Tensor) -> torch.Tensor:
    """PIL's ``clip8``: (sum + 2^21) >> 22 (floor), clipped to 0..255."""
    return torch.clamp(torch.floor((accumulated + (1 << (PIL_PRECISION_BITS - 1))) / (1 << PIL_PRECISION_BITS)), 0, 255)


def pil_lanczos_resize(images: torch.Tensor, size: tuple[int, int], quantize: bool = False,
                       clip_range: tuple[float, float] | None = None) -> torch.Tensor:
    """PIL ``Image.resize((W, H), Image.LANCZOS)`` of every image of a batch (B, C, H, W); ``size`` is (H, W).

    ``quantize=True``: images must hold integers 0..255 (uint8 or float); PIL's 8-bit arithmetic is reproduced
    (fixed-point coefficients, horizontal then vertical pass, each rounded and clipped to 0..255) and the result
    equals PIL's bit for bit (float64 values). ``quantize=False``: the same filter in float arithmetic,
    differentiable; ``clip_range`` clamps after each pass as PIL does (with (0, 255) on uint8 content the result is
    within 1 of PIL's: at most 0.91, mean 0.25 on scikit-image's astronaut at 512 -> 128 and 128 -> 32).
    """
    out_h, out_w = size
    in_h, in_w = images.shape[-2:]
    wx = _pil_coefficients(in_w, out_w)
    wy = _pil_coefficients(in_h, out_h)
    if not quantize:
        dtype = images.dtype if images.is_floating_point() else torch.float32
        x = images.to(dtype)
        x = torch.einsum("bchw,vw->bchv", x, wx.to(dtype).to(x.device))
        x = x if clip_range is None else x.clamp(*clip_range)
        x = torch.einsum("bchv,uh->bcuv", x, wy.to(dtype).to(x.device))
        return x if clip_range is None else x.clamp(*clip_range)
    x = images.to(torch.float64)
    if in_w != out_w:
        x = _clip8(torch.einsum("bchw,vw->bchv", x, _fixed_point(wx).to(x.device)))
    if in_h != out_h:
        x = _clip8(torch.einsum("bchv,uh->bcuv", x, _fixed_point(wy).to(x.device)))
    return x


def to_uint8_truncated(images: torch.Tensor) -> torch.Tensor:
    """DGP ``utils.np_to_pil``: ``clip((x + 1) / 2 * 255, 0, 255).astype(uint8)``: truncation, not rounding."""
    return torch.clamp((images + 1) / 2 * 255, 0, 255).floor()


def sr4_operator(images: torch.Tensor) -> torch.Tensor:
    """phi for the generator's output: DIP lanczos2 down-sampling x4, then bilinear up-sampling x4."""
    return F.interpolate(dip_downsample(images, SR_FACTOR), scale_factor=SR_FACTOR, mode="bilinear", align_corners=False)


def sr4_observe(images: torch.Tensor) -> torch.Tensor:
    """The low-resolution target as DGP makes it: uint8 (truncated) -> PIL LANCZOS x1/4 -> [-1, 1] -> bilinear x4."""
    height, width = images.shape[-2:]
    low = pil_lanczos_resize(to_uint8_truncated(images), (height // SR_FACTOR, width // SR_FACTOR), quantize=True)
    low = (low / 255.0 * 2 - 1).to(images.dtype)
    return F.interpolate(low, scale_factor=SR_FACTOR, mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class Degradation:
    name: str
    observe: Callable[[torch.Tensor], torch.Tensor]  # original images -> the degraded observation (target)
    operator: Callable[[torch.Tensor], torch.Tensor]  # phi, applied to the generator's output at every step


DEGRADATIONS = {
    "reconstruct": Degradation("reconstruct", identity, identity),
    "colorization": Degradation("colorization", to_grey, to_grey),
    "inpainting": Degradation("inpainting", inpaint, inpaint),
    "sr4": Degradation("sr4", sr4_observe, sr4_operator),
}
