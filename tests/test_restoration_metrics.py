"""gbench/metrics/restoration.py against scikit-image (the library DGP scored with) and closed forms, and the DGP
scoring of gbench/inversion/restore.py (hole crop, Lab L swap) against a by-hand computation."""

import numpy as np
import pytest
import skimage.color
import skimage.data
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gbench.errors import GBenchError
from gbench.inversion.restore import score
from gbench.metrics.restoration import lab_to_rgb, mse, psnr_float, rgb_to_lab, ssim_uniform


@pytest.fixture(scope="module")
def pair():
    """Two float RGB images in [0, 1] (astronaut crop and a noisy copy) as (1, 3, H, W) tensors and H x W x 3 arrays."""
    rng = np.random.default_rng(0)
    a = skimage.data.astronaut()[100:164, 150:230].astype(np.float64) / 255
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    to_t = lambda x: torch.from_numpy(x.transpose(2, 0, 1))[None]  # noqa: E731
    return a, b, to_t(a), to_t(b)


def test_psnr_and_mse_match_scikit_image(pair):
    a, b, ta, tb = pair
    assert float(psnr_float(tb, ta, 1.0)) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-10)
    assert float(mse(ta, tb)) == pytest.approx(np.mean((a - b) ** 2), abs=1e-15)
    assert torch.isinf(psnr_float(ta, ta))


@pytest.mark.parametrize("data_range", [1.0, 2.0])
def test_ssim_matches_scikit_image_defaults(pair, data_range):
    a, b, ta, tb = pair
    expected = structural_similarity(a, b, channel_axis=-1, data_range=data_range)  # 7x7 uniform, sample covariance
    assert float(ssim_uniform(ta, tb, data_range)) == pytest.approx(expected, abs=1e-12)


def test_ssim_is_batched_per_image(pair):
    _, _, ta, tb = pair
    batch = ssim_uniform(torch.cat([ta, ta]), torch.cat([tb, ta]), 2.0)
    assert batch.shape == (2,) and float(batch[1]) == pytest.approx(1.0) and float(batch[0]) < 1
    with pytest.raises(GBenchError, match="7x7"):
        ssim_uniform(ta[..., :5, :5], tb[..., :5, :5], 1.0)


def test_lab_round_trip_matches_scikit_image(pair):
    a, b, ta, _ = pair
    lab = rgb_to_lab(ta)
    assert torch.allclose(lab[0].permute(1, 2, 0), torch.from_numpy(skimage.color.rgb2lab(a)), atol=1e-8)
    mixed = skimage.color.rgb2lab(b)
    mixed[..., 0] = skimage.color.rgb2lab(a)[..., 0]
    ours = rgb_to_lab(torch.from_numpy(b.transpose(2, 0, 1))[None])
    ours[:, 0] = lab[:, 0]
    assert torch.allclose(lab_to_rgb(ours)[0].permute(1, 2, 0), torch.from_numpy(skimage.color.lab2rgb(mixed)), atol=1e-8)


def test_dgp_scores_by_hand(pair):
    a, b, ta, tb = pair
    original, restored = ta * 2 - 1, tb * 2 - 1  # the [-1, 1] scale of generator outputs
    s = score(original, restored, "inpainting")
    h, w = a.shape[:2]
    hole = min(h, w) // 3
    begin = (h - hole) // 2
    crop = (slice(begin, h - begin), slice(begin, h - begin))  # DGP uses the row bounds for the columns too
    assert float(s["psnr"]) == pytest.approx(peak_signal_noise_ratio(a[crop], b[crop], data_range=1.0), abs=1e-9)
    assert float(s["ssim"]) == pytest.approx(structural_similarity(a[crop], b[crop], channel_axis=-1, data_range=2.0), abs=1e-9)
    assert float(s["mse"]) == pytest.approx(np.mean((a - b) ** 2), abs=1e-12)  # the whole image, as mse_loss_origin
    color = score(original, restored, "colorization")
    lab = skimage.color.rgb2lab(b)
    lab[..., 0] = skimage.color.rgb2lab(a)[..., 0]
    swapped = skimage.color.lab2rgb(lab)
    assert float(color["psnr"]) == pytest.approx(peak_signal_noise_ratio(a, swapped, data_range=1.0), abs=1e-6)
    assert float(color["ssim_x100"]) == pytest.approx(100 * structural_similarity(a, swapped, channel_axis=-1, data_range=2.0), abs=1e-6)
    assert float(color["mse_x1e-3"]) == pytest.approx(1000 * np.mean((a - b) ** 2), abs=1e-9)
