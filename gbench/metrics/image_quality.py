"""PSNR and SSIM with the BasicSR / MATLAB conventions used by super-resolution papers.

Follows BasicSR `basicsr/metrics/psnr_ssim.py` and `utils/color_util.py` (shared/reference/metrics.md §5):

- inputs are uint8 H×W×C (or H×W) images; all arithmetic is float64 on the 0..255 scale;
- `crop_border` pixels are removed from every side (the SR convention is crop_border = scale);
- `y_channel=True` scores the BT.601 luma of MATLAB's rgb2ycbcr, Y = 16 + (65.481 R + 128.553 G + 24.966 B)/255,
  kept unrounded (inputs are RGB order; grey images are scored as they are, as BasicSR does);
- PSNR = 10·log10(255² / MSE) over all pixels and channels (identical images give +inf);
- SSIM (Wang et al., 2004): 11×11 Gaussian window, σ = 1.5 (separable, as cv2.getGaussianKernel), only the
  'valid' region (no padding), population moments, C1 = (0.01·255)², C2 = (0.03·255)², averaged over the
  map and then over channels. This equals scikit-image's `structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255)`.

Deviation: BasicSR converts to Y in float32; we stay in float64 (differences ~1e-5 dB).
Not the SRGAN paper's daala SSIM (image-size-dependent window), see metrics.md §5.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PIXEL_MAX = 255.0
BT601_Y_OFFSET = 16.0
BT601_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # R, G, B; applied to values / 255
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_C1 = (SSIM_K1 * PIXEL_MAX) ** 2
SSIM_C2 = (SSIM_K2 * PIXEL_MAX) ** 2


def rgb_to_y(image) -> np.ndarray:
    """BT.601 luma of an RGB image (..., 3) on the 0..255 scale, float64, unrounded (range 16..235)."""
    image = np.asarray(image, dtype=np.float64)
    if image.shape[-1] != 3:
        raise ValueError(f"rgb_to_y needs a trailing RGB axis of size 3, got shape {image.shape}")
    return BT601_Y_OFFSET + image @ BT601_Y_WEIGHTS / PIXEL_MAX


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian taps centred on the middle tap (the 2-D window is its outer product)."""
    offsets = np.arange(size) - (size - 1) / 2
    taps = np.exp(-(offsets**2) / (2 * sigma**2))
    return taps / taps.sum()


def _prepare_pair(a, b, crop_border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validate two uint8 images and return float64 H×W×C copies, cropped and optionally luma-only."""
    for name, image in (("a", a), ("b", b)):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"image {name} must be a uint8 numpy array (H×W or H×W×C), got {kind}")
        if image.ndim not in (2, 3):
            raise ValueError(f"image {name} must be H×W or H×W×C, got shape {image.shape}")
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    if crop_border:
        if min(a.shape[:2]) <= 2 * crop_border:
            raise ValueError(f"crop_border={crop_border} leaves nothing of a {a.shape[0]}×{a.shape[1]} image")
        a = a[crop_border:-crop_border, crop_border:-crop_border]
        b = b[crop_border:-crop_border, crop_border:-crop_border]
    if y_channel and a.shape[2] == 3:
        return rgb_to_y(a)[..., None], rgb_to_y(b)[..., None]
    if y_channel and a.shape[2] != 1:
        raise ValueError(f"y_channel needs RGB (3 channels) or grey input, got {a.shape[2]} channels")
    return a.astype(np.float64), b.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB with peak 255; +inf for identical images."""
    x, y = _prepare_pair(a, b, crop_border, y_channel)
    mse = np.mean((x - y) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(PIXEL_MAX**2 / mse))


def _filter_valid(images: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of an H×W×C stack: (H-k+1)×(W-k+1)×C (taps are symmetric)."""
    k = len(taps)
    rows = sliding_window_view(images, k, axis=0) @ taps
    return sliding_window_view(rows, k, axis=1) @ taps


def ssim(a: np.ndarray, b: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """Mean structural similarity (MATLAB/BasicSR-compatible), averaged over channels."""
    x, y = _prepare_pair(a, b, crop_border, y_channel)
    if min(x.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels after cropping, got {x.shape[:2]}")
    taps = gaussian_window_1d()
    mu_x, mu_y = _filter_valid(x, taps), _filter_valid(y, taps)
    var_x = _filter_valid(x * x, taps) - mu_x**2
    var_y = _filter_valid(y * y, taps) - mu_y**2
    cov_xy = _filter_valid(x * y, taps) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov_xy + SSIM_C2)
    denominator = (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    per_channel = (numerator / denominator).mean(axis=(0, 1))
    return float(per_channel.mean())
