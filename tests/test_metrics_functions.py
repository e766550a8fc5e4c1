"""Pure metric functions against torch-fidelity's own formulas, scikit-image, and closed forms."""

import math

import numpy as np
import pytest
import torch
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from gbench.metrics import (
    FeatureStats,
    confusion_matrix,
    fcn_scores,
    fid_from_features,
    fid_from_stats,
    inception_score_from_logits,
    kid_from_features,
    psnr,
    rgb_to_y,
    ssim,
)


def random_features(n, d, seed, shift=0.0, scale=1.0):
    rng = np.random.RandomState(seed)
    return (np.abs(rng.randn(n, d)) * scale + shift).astype(np.float32)


# ----------------------------------------------------------------------------------------------- FID


def test_fid_matches_torch_fidelity():
    f1, f2 = random_features(400, 48, 0), random_features(300, 48, 1, shift=0.2, scale=1.1)
    stats1 = fid_features_to_statistics(torch.from_numpy(f1))
    stats2 = fid_features_to_statistics(torch.from_numpy(f2))
    expected = fid_statistics_to_metric(stats1, stats2, verbose=False)["frechet_inception_distance"]
    assert expected > 1.0
    assert abs(fid_from_features(f1, f2) - expected) / expected < 1e-6
    # Given the same float64 statistics, the formula itself agrees to round-off (their μ is float32).
    stats1, stats2 = ({k: v.astype(np.float64) for k, v in s.items()} for s in (stats1, stats2))
    expected_64 = fid_statistics_to_metric(stats1, stats2, verbose=False)["frechet_inception_distance"]
    ours_on_their_stats = fid_from_stats(stats1["mu"], stats1["sigma"], stats2["mu"], stats2["sigma"])
    assert ours_on_their_stats == pytest.approx(expected_64, rel=1e-12)
    assert fid_from_features(torch.from_numpy(f1), torch.from_numpy(f2)) == pytest.approx(expected, rel=1e-6)


def test_fid_isotropic_gaussians_closed_form():
    d = 2048  # ‖Δμ‖² + d(σ1 − σ2)² = 2048·0.01 + 2048·(1 − 2)² = 2068.48
    fid = fid_from_stats(np.zeros(d), np.eye(d), np.full(d, 0.1), 4.0 * np.eye(d))
    assert fid == pytest.approx(2068.48, abs=1e-8)


def test_fid_of_identical_stats_is_zero():
    f = random_features(500, 32, 2)
    assert abs(fid_from_features(f, f)) < 1e-6
    assert abs(fid_from_features(f, f + 0.5)) > 0.5 * 32 * 0.25  # the mean shift alone is 32·0.25


def test_fid_rejects_mismatched_dimensions():
    with pytest.raises(ValueError):
        fid_from_features(random_features(10, 4, 0), random_features(10, 5, 1))
    with pytest.raises(ValueError):
        fid_from_features(random_features(1, 4, 0), random_features(10, 4, 1))


# --------------------------------------------------------------------------------------- FeatureStats


def test_feature_stats_streaming_equals_whole_array():
    f = random_features(1000, 24, 3, shift=3.0)
    stats = FeatureStats()
    for start, stop in [(0, 1), (1, 130), (130, 131), (131, 700), (700, 1000)]:
        stats.update(f[start:stop] if start % 2 else torch.from_numpy(f[start:stop]))
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mean(), f.astype(np.float64).mean(axis=0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(stats.cov(), np.cov(f.astype(np.float64), rowvar=False), rtol=0, atol=1e-10)


def test_feature_stats_merge_and_state_dict():
    f = random_features(600, 16, 4)
    whole = FeatureStats().update(f)
    left, right = FeatureStats().update(f[:250]), FeatureStats().update(f[250:])
    summed = left + right
    np.testing.assert_allclose(summed.cov(), whole.cov(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(left.merge(right).mean(), whole.mean(), rtol=0, atol=1e-12)
    restored = FeatureStats.from_state_dict(whole.state_dict())
    assert restored.count == 600
    np.testing.assert_array_equal(restored.cov(), whole.cov())
    other = random_features(500, 16, 5, shift=0.3)
    other_stats = FeatureStats().update(other)
    streamed = fid_from_stats(whole.mean(), whole.cov(), other_stats.mean(), other_stats.cov())
    assert streamed == pytest.approx(fid_from_features(f, other), rel=1e-9)


def test_feature_stats_keeps_only_first_rows():
    f = random_features(300, 8, 6)
    stats = FeatureStats(keep_features=150)
    for chunk in np.array_split(f, 7):
        stats.update(chunk)
    kept = stats.features()
    assert kept.shape == (150, 8) and kept.dtype == torch.float32
    np.testing.assert_array_equal(kept.numpy(), f[:150])
    shards = FeatureStats(keep_features=150).update(f[:100]) + FeatureStats(keep_features=150).update(f[100:])
    np.testing.assert_array_equal(shards.features().numpy(), f[:150])
    assert FeatureStats.from_state_dict(stats.state_dict()).features().shape == (150, 8)
    with pytest.raises(ValueError):
        FeatureStats().update(f).features()
    with pytest.raises(ValueError):
        stats.update(f[:, :4])


# ------------------------------------------------------------------------------------ Inception Score


@pytest.mark.parametrize("splits,shuffle", [(10, True), (10, False), (7, True)])
def test_inception_score_matches_torch_fidelity(splits, shuffle):
    torch.manual_seed(0)
    logits = torch.randn(1003, 20) * 3
    expected = isc_features_to_metric(logits, splits=splits, shuffle=shuffle, rng_seed=2020)
    mean, std = inception_score_from_logits(logits, splits=splits, shuffle=shuffle)
    assert mean == pytest.approx(expected["inception_score_mean"], abs=1e-9)
    assert std == pytest.approx(expected["inception_score_std"], abs=1e-9)
    assert inception_score_from_logits(logits.numpy(), splits=splits, shuffle=shuffle) == (mean, std)


def test_inception_score_shuffle_changes_ordered_input():
    logits = 20.0 * torch.eye(10).repeat_interleave(50, dim=0)  # sorted by class: each split sees one class
    assert inception_score_from_logits(logits, shuffle=False)[0] == pytest.approx(1.0, abs=1e-9)
    assert inception_score_from_logits(logits)[0] > 5.0


def test_inception_score_closed_forms():
    identical = torch.randn(1, 30).repeat(200, 1)
    mean, std = inception_score_from_logits(identical)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    one_hot = 50.0 * torch.eye(10)[torch.arange(100) % 10]  # every split holds each class once
    mean, std = inception_score_from_logits(one_hot, splits=10, shuffle=False)
    assert mean == pytest.approx(10.0, abs=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_bounds():
    torch.manual_seed(1)
    logits = torch.randn(200, 50) * 10
    mean, _ = inception_score_from_logits(logits, splits=10)
    assert 1.0 <= mean <= min(50, 200 / 10)
    with pytest.raises(ValueError):
        inception_score_from_logits(logits[:5], splits=10)


def test_inception_score_underflowing_class_contributes_nothing():
    torch.manual_seed(2)
    logits = torch.randn(100, 5).double() * 2
    with_dead_class = torch.cat([logits, torch.full((100, 1), -1e4, dtype=torch.float64)], dim=1)
    reference = isc_features_to_metric(with_dead_class, splits=4)["inception_score_mean"]
    assert math.isnan(reference)  # torch-fidelity: 0 · log 0
    ours = inception_score_from_logits(with_dead_class, splits=4)
    assert ours == pytest.approx(inception_score_from_logits(logits, splits=4), abs=1e-12)


# ------------------------------------------------------------------------------------------------ KID


def test_kid_matches_torch_fidelity():
    f1 = random_features(300, 32, 7).astype(np.float64)
    f2 = random_features(250, 32, 8, scale=1.2).astype(np.float64)
    expected = kid_features_to_metric(
        torch.from_numpy(f1), torch.from_numpy(f2), kid_subsets=15, kid_subset_size=100, verbose=False
    )
    mean, std = kid_from_features(f1, f2, subsets=15, subset_size=100)
    assert mean == pytest.approx(expected["kernel_inception_distance_mean"], rel=1e-9)
    assert std == pytest.approx(expected["kernel_inception_distance_std"], rel=1e-9)


def poly_mmd2_of_unit_gaussians_shifted(d, delta):
    """Population MMD² for k = (xᵀy/d + 1)³ between N(0, I_d) and N(δ·1, I_d), via E[v³] = m³ + 3m·var + κ3."""

    def expected_cube(mean, var, third_cumulant):
        return mean**3 + 3 * mean * var + third_cumulant

    gamma = 1.0 / d
    k_xx = expected_cube(1.0, gamma**2 * d, 0.0)
    k_xy = expected_cube(1.0, gamma**2 * d * (1 + delta**2), 0.0)
    product_kappa3 = (delta**3 + 3 * delta) ** 2 - 3 * (1 + delta**2) ** 2 * delta**2 + 2 * delta**6
    k_yy = expected_cube(1 + delta**2, gamma**2 * d * (1 + 2 * delta**2), gamma**3 * d * product_kappa3)
    return k_xx + k_yy - 2 * k_xy


def test_kid_shift_anchor():
    rng = np.random.RandomState(0)
    x, y = rng.randn(2000, 64), rng.randn(2000, 64)
    closed_form = poly_mmd2_of_unit_gaussians_shifted(64, 1.0)
    assert closed_form == pytest.approx(7.1421, abs=1e-4)
    shifted, _ = kid_from_features(x, y + 1.0, subsets=20, subset_size=500)
    assert shifted == pytest.approx(closed_form, rel=0.03)
    same, same_std = kid_from_features(x, y, subsets=20, subset_size=500)
    assert abs(same) < 0.02 and same_std < 0.02


def test_kid_needs_enough_samples():
    with pytest.raises(ValueError, match="subset_size"):
        kid_from_features(random_features(999, 8, 0), random_features(2000, 8, 1))
    with pytest.raises(ValueError):
        kid_from_features(random_features(50, 8, 0), random_features(50, 9, 1), subset_size=10)


# ----------------------------------------------------------------------------------------- PSNR/SSIM


def noisy(image, sigma, seed=0):
    noise = np.random.RandomState(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.round(image + noise), 0, 255).astype(np.uint8)


def test_psnr_known_noise_and_skimage():
    camera = skdata.camera()
    distorted = noisy(camera, 5.0)
    value = psnr(camera, distorted)
    assert value == pytest.approx(34.19, abs=0.05)
    assert value == pytest.approx(peak_signal_noise_ratio(camera, distorted, data_range=255), abs=1e-12)
    assert psnr(camera, camera) == math.inf


def test_rgb_to_y_pure_colours():
    colours = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(colours), [16.0, 235.0, 81.481, 144.553, 40.966], rtol=0, atol=1e-12)


def test_psnr_y_channel_and_crop_border():
    astronaut = skdata.astronaut()[100:196, 200:296]
    distorted = noisy(astronaut, 8.0, seed=1)
    y_expected = peak_signal_noise_ratio(rgb_to_y(astronaut), rgb_to_y(distorted), data_range=255)
    assert psnr(astronaut, distorted, y_channel=True) == pytest.approx(y_expected, abs=1e-12)
    border_only = astronaut.copy()
    border_only[:4] = 255 - border_only[:4]
    assert psnr(astronaut, border_only, crop_border=4) == math.inf
    assert psnr(astronaut, border_only, crop_border=3) < 40
    assert psnr(astronaut, distorted, crop_border=4) == pytest.approx(
        psnr(astronaut[4:-4, 4:-4], distorted[4:-4, 4:-4]), abs=1e-12
    )


def skimage_matlab_ssim(a, b, **kwargs):
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, **kwargs
    )


def test_ssim_matches_skimage_grey_rgb_and_y():
    grey = skdata.camera()[200:296, 200:296]
    grey_noisy = noisy(grey, 10.0)
    assert ssim(grey, grey_noisy) == pytest.approx(skimage_matlab_ssim(grey, grey_noisy), abs=1e-6)

    rgb = skdata.astronaut()[50:146, 180:276]
    rgb_noisy = noisy(rgb, 10.0, seed=2)
    expected_rgb = skimage_matlab_ssim(rgb, rgb_noisy, channel_axis=-1)
    assert ssim(rgb, rgb_noisy) == pytest.approx(expected_rgb, abs=1e-6)

    expected_y = skimage_matlab_ssim(rgb_to_y(rgb[4:-4, 4:-4]), rgb_to_y(rgb_noisy[4:-4, 4:-4]))
    assert ssim(rgb, rgb_noisy, crop_border=4, y_channel=True) == pytest.approx(expected_y, abs=1e-6)
    assert 0.2 < expected_y < 0.99


def test_ssim_identity_and_monotonic():
    grey = skdata.camera()[100:164, 100:164]
    assert ssim(grey, grey) == pytest.approx(1.0, abs=1e-12)
    values = [ssim(grey, noisy(grey, sigma)) for sigma in (2.0, 10.0, 30.0)]
    assert values[0] > values[1] > values[2]


def test_image_metrics_reject_bad_input():
    image = skdata.camera()[:32, :32]
    with pytest.raises(ValueError, match="shape"):
        psnr(image, image[:31])
    with pytest.raises(ValueError, match="uint8"):
        ssim(image.astype(np.float64), image.astype(np.float64))
    with pytest.raises(ValueError):
        ssim(image[:10, :10], image[:10, :10])


# ------------------------------------------------------------------------------------------ FCN-score

NUM_CLASSES = 19


def random_label_map(seed, shape=(64, 128)):
    return np.random.RandomState(seed).randint(0, NUM_CLASSES, size=shape)


def test_confusion_matrix_counts():
    gt, pred = random_label_map(0), random_label_map(1)
    expected = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(expected, (gt.ravel(), pred.ravel()), 1)
    np.testing.assert_array_equal(confusion_matrix(gt, pred, NUM_CLASSES), expected)


def test_fcn_perfect_prediction():
    gt = random_label_map(2)
    assert len(np.unique(gt)) == NUM_CLASSES
    scores = fcn_scores(confusion_matrix(gt, gt, NUM_CLASSES))
    assert scores == pytest.approx({"pixel_acc": 1.0, "class_acc": 1.0, "class_iou": 1.0}, abs=1e-9)


def test_fcn_constant_road_prediction():
    gt = random_label_map(3)
    road_fraction = float(np.mean(gt == 0))
    scores = fcn_scores(confusion_matrix(gt, np.zeros_like(gt), NUM_CLASSES))
    assert scores["pixel_acc"] == pytest.approx(road_fraction, abs=1e-9)
    assert scores["class_acc"] == pytest.approx(1 / NUM_CLASSES, abs=1e-9)
    assert scores["class_iou"] == pytest.approx(road_fraction / NUM_CLASSES, abs=1e-9)


def test_fcn_ignore_index_and_absent_classes():
    gt, pred = random_label_map(4), random_label_map(5)
    masked_gt = gt.copy()
    masked_gt[:, :40] = 255
    with_garbage_pred = pred.copy()
    with_garbage_pred[:, :40] = 0
    np.testing.assert_array_equal(
        confusion_matrix(masked_gt, with_garbage_pred, NUM_CLASSES),
        confusion_matrix(gt[:, 40:], pred[:, 40:], NUM_CLASSES),
    )
    two_of_three = np.array([0, 0, 1, 1, 1])
    scores = fcn_scores(confusion_matrix(two_of_three, two_of_three, 3))
    assert scores["class_acc"] == pytest.approx(2 / 3, abs=1e-9)
    assert scores["class_iou"] == pytest.approx(2 / 3, abs=1e-9)
    assert not any(math.isnan(v) for v in scores.values())


def test_fcn_out_of_range_labels():
    gt = random_label_map(6)
    pred = gt.copy()
    pred[0, 0] = NUM_CLASSES
    with pytest.raises(ValueError, match="pred"):
        confusion_matrix(gt, pred, NUM_CLASSES)
    with pytest.raises(ValueError, match="gt"):
        confusion_matrix(np.full_like(gt, 30), gt, NUM_CLASSES)
    # The official scorer's quirks: a prediction of 19 aliases into the next GT row, col 0 ...
    aliased = confusion_matrix(np.array([0]), np.array([NUM_CLASSES]), NUM_CLASSES, reference_compatible=True)
    assert aliased[1, 0] == 1 and aliased.sum() == 1
    # ... and on the last class it overflows the histogram, so the frame is dropped.
    dropped = confusion_matrix(
        np.array([NUM_CLASSES - 1, 3]), np.array([NUM_CLASSES, 3]), NUM_CLASSES, reference_compatible=True
    )
    assert dropped.sum() == 0
