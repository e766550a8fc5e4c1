"""Per-image PSNR / SSIM / MSE on float images and the CIE Lab conversion, as image-restoration papers that score
with scikit-image compute them (Deep Generative Prior: old scikit-image `compare_psnr` / `compare_ssim` on RGB images
in [0, 1], shared/reference/metrics.md section 5).

Batched: every function takes float tensors (B, C, H, W) and returns one value per image (float64), with no loop
over images or pixels. Not the BasicSR/MATLAB conventions of `gbench.metrics.image_quality` (uint8, Gaussian window).

- `psnr_float`: 10 log10(data_range^2 / MSE) over all pixels and channels (scikit-image `peak_signal_noise_ratio`);
  identical images give +inf.
- `ssim_uniform`: scikit-image `structural_similarity` with its defaults: a `window` x `window` uniform window
  (7), sample covariance (N / (N - 1)), K1 0.01, K2 0.03, the map averaged over the interior (the (window - 1) / 2
  border dropped), then over channels (`channel_axis` / the old `multichannel=True`). `data_range` is explicit: old
  scikit-image took the float dtype's range (-1, 1), i.e. 2, for float images, which DGP's numbers were computed with.
- `rgb_to_lab` / `lab_to_rgb`: scikit-image `rgb2lab` / `lab2rgb` (sRGB, D65, 2-degree observer; negative Z clipped
  to 0 and the RGB result clipped to [0, 1] as scikit-image does).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gbench.errors import GBenchError

SSIM_K1, SSIM_K2 = 0.01, 0.03
XYZ_FROM_RGB = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
D65 = (0.95047, 1.0, 1.08883)  # scikit-image illuminants["D65"]["2"]


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape or a.ndim != 4:
        raise GBenchError(f"restoration metrics need two (B, C, H, W) batches of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return a.double(), b.double()


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image. (B,)"""
    a, b = _pair(a, b)
    return (a - b).pow(2).flatten(1).mean(1)


def psnr_float(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR in dB per image, peak `data_range`. (B,)"""
    return 10 * torch.log10(data_range**2 / mse(a, b))


def ssim_uniform(a: torch.Tensor, b: torch.Tensor, data_range: float, window: int = 7, sample_covariance: bool = True) -> torch.Tensor:
    """Mean SSIM per image with scikit-image's default uniform window, averaged over channels. (B,)"""
    a, b = _pair(a, b)
    if min(a.shape[-2:]) < window:
        raise GBenchError(f"SSIM with a {window}x{window} window needs images of at least {window}x{window}, got {tuple(a.shape[-2:])}")
    if window % 2 == 0 or window < 3:
        raise GBenchError(f"the SSIM window must be odd and >= 3, got {window}")
    mean = lambda x: F.avg_pool2d(x, window, stride=1)  # noqa: E731  the 'valid' region = scikit-image's map minus its border
    mu_a, mu_b = mean(a), mean(b)
    norm = window**2 / (window**2 - 1) if sample_covariance else 1.0
    var_a = norm * (mean(a * a) - mu_a * mu_a)
    var_b = norm * (mean(b * b) - mu_b * mu_b)
    cov = norm * (mean(a * b) - mu_a * mu_b)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean(dim=(2, 3)).mean(dim=1)


def _matrix(rows, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (B, 3, H, W) -> CIE Lab (L in [0, 100]), as scikit-image `rgb2lab`."""
    x = rgb.double()
    linear = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = torch.einsum("ij,bjhw->bihw", _matrix(XYZ_FROM_RGB, x), linear) / _matrix(D65, x)[None, :, None, None]
    f = torch.where(xyz > 0.008856, xyz.clamp_min(0) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab (B, 3, H, W) -> sRGB clipped to [0, 1], as scikit-image `lab2rgb` (negative Z clipped to 0 first)."""
    lab = lab.double()
    light, a, b = lab.unbind(1)
    fy = (light + 16) / 116
    f = torch.stack([a / 500 + fy, fy, (fy - b / 200).clamp_min(0)], dim=1)
    xyz = torch.where(f > 0.2068966, f**3, (f - 16 / 116) / 7.787) * _matrix(D65, lab)[None, :, None, None]
    rgb_from_xyz = torch.linalg.inv(_matrix(XYZ_FROM_RGB, lab))
    linear = torch.einsum("ij,bjhw->bihw", rgb_from_xyz, xyz)
    rgb = torch.where(linear > 0.0031308, 1.055 * linear.clamp_min(0) ** (1 / 2.4) - 0.055, 12.92 * linear)
    return rgb.clamp(0, 1)
