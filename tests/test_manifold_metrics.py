"""k-NN manifold metrics: hand-computed cases, the papers' known answers, block-wise == brute force,
and equality with torch-fidelity 0.4's `prc` on the same features."""

import math

import numpy as np
import pytest
import torch
from torch_fidelity.metric_prc import prc_features_to_metric

from gbench.errors import GBenchError
from gbench.metrics.manifold import (
    DENSITY_COVERAGE_K,
    PRECISION_RECALL_K,
    density_coverage,
    manifold_metrics,
    nearest_neighbour_radii,
    precision_recall,
)


def gaussian_features(n, d, seed, shift=0.0, scale=1.0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=generator, dtype=torch.float64) * scale + shift).to(dtype)


def torch_fidelity_prc(real, fake, k, block_size):
    """torch-fidelity's own entry point on features (input1 = generated, input2 = real)."""
    out = prc_features_to_metric(fake, real, prc_neighborhood=k, prc_batch_size=block_size, save_cpu_ram=False, verbose=False)
    return out["precision"], out["recall"]


# ------------------------------------------------------------------------------------ known answers


def test_hand_computed_1d_example_pins_both_boundary_conventions():
    # k = 1. Real {0, 2, 3, 7}: nearest-other distances 2, 1, 1, 4. Generated {1, 4, 11}: 3, 3, 7.
    real = torch.tensor([[0.0], [2.0], [3.0], [7.0]])
    fake = torch.tensor([[1.0], [4.0], [11.0]])
    assert nearest_neighbour_radii(real, 1).tolist() == [2.0, 1.0, 1.0, 4.0]
    assert nearest_neighbour_radii(fake, 1).tolist() == [3.0, 3.0, 7.0]
    # Precision (inclusive balls): 1 is in B(0, 2); 4 in B(3, 1) on its boundary; 11 only on the
    # boundary of B(7, 4) -> 3/3. Recall: 0, 2, 3 are within 1 of a generated point; 7 is in B(11, 7) -> 4/4.
    assert precision_recall(real=real, fake=fake, k=1) == (1.0, 1.0)
    assert torch_fidelity_prc(real, fake, 1, 10_000) == (1.0, 1.0)
    # Density (strict balls): 1 lies strictly inside B(0, 2) only (|1-2| = 1 is not < 1), 4 strictly
    # inside B(7, 4) only, 11 inside none -> (1 + 1 + 0) / (k·M) = 2/3. Coverage: B(0, 2) and B(7, 4)
    # hold a generated point strictly, B(2, 1) and B(3, 1) only on their boundaries -> 2/4.
    density, coverage = density_coverage(real=real, fake=fake, k=1)
    assert density == pytest.approx(2 / 3, abs=1e-15)
    assert coverage == 0.5


def test_identical_sets_score_one():
    features = gaussian_features(300, 16, seed=0)
    metrics = manifold_metrics(real=features, fake=features.clone())
    assert metrics["precision"] == 1.0 and metrics["recall"] == 1.0
    assert metrics["coverage"] == 1.0
    # Each real ball holds its own copy and k - 1 neighbours strictly (the k-th sits on the boundary).
    assert metrics["density"] == pytest.approx(1.0, abs=1e-12)


def test_far_apart_sets_score_zero():
    real = gaussian_features(200, 8, seed=1)
    fake = gaussian_features(150, 8, seed=2, shift=1000.0)
    assert manifold_metrics(real=real, fake=fake) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_same_distribution_matches_naeem_expectations():
    """Naeem et al. 2020 (Sec. 4): for real and fake from one distribution E[density] = 1 and
    E[coverage] = 1 - prod_{i=1..k} (N - i) / (N + M - i)."""
    n = m = 2000
    k = DENSITY_COVERAGE_K
    real, fake = gaussian_features(n, 8, seed=3), gaussian_features(m, 8, seed=4)
    density, coverage = density_coverage(real=real, fake=fake)
    expected_coverage = 1.0 - math.prod((n - i) / (n + m - i) for i in range(1, k + 1))
    assert expected_coverage == pytest.approx(1 - 0.5**k, abs=2e-3)
    assert density == pytest.approx(1.0, abs=0.08)
    assert coverage == pytest.approx(expected_coverage, abs=0.02)
    # A generator that covers only half of the real distribution keeps its fidelity but loses coverage.
    half = fake[fake[:, 0] > 0]
    density_half, coverage_half = density_coverage(real=real, fake=half)
    assert density_half == pytest.approx(1.0, abs=0.15)
    assert coverage_half < coverage - 0.2


# ------------------------------------------------------------------------- block-wise == brute force


def brute_force_on_squared_distances(real, fake, pr_k, dc_k):
    """Independent reference: integer squared distances in numpy, the whole matrix at once."""
    real, fake = real.astype(np.int64), fake.astype(np.int64)

    def squared(a, b):
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)

    real_real, fake_fake, real_fake = squared(real, real), squared(fake, fake), squared(real, fake)
    # The (k+1)-th smallest entry of a row (the row's own 0 first).
    real_pr, real_dc = np.sort(real_real, axis=1)[:, pr_k], np.sort(real_real, axis=1)[:, dc_k]
    fake_pr = np.sort(fake_fake, axis=1)[:, pr_k]
    return {
        "real_radii_sq": real_pr,
        "precision": (real_fake <= real_pr[:, None]).any(axis=0).mean(),
        "recall": (real_fake <= fake_pr[None, :]).any(axis=1).mean(),
        "density": (real_fake < real_dc[:, None]).sum(axis=0).mean() / dc_k,
        "coverage": (real_fake < real_dc[:, None]).any(axis=1).mean(),
    }


@pytest.mark.parametrize("block_size", [1, 5, 16, 43, 57, 10_000])
def test_blockwise_equals_brute_force_on_a_lattice_with_ties(block_size):
    """Small integer features make every distance exact, so ties (duplicates, points on ball
    boundaries) are real ties and any block size must give the brute-force answer exactly."""
    rng = np.random.RandomState(5)
    real = rng.randint(-2, 3, size=(57, 6))
    fake = rng.randint(-2, 3, size=(43, 6)) + rng.randint(0, 2, size=(43, 6))
    expected = brute_force_on_squared_distances(real, fake, pr_k=3, dc_k=5)
    ours = manifold_metrics(real=torch.from_numpy(real).float(), fake=torch.from_numpy(fake).float(), block_size=block_size)
    for name in ("precision", "recall", "density", "coverage"):
        assert ours[name] == pytest.approx(expected[name], abs=1e-15), name
    assert 0 < ours["precision"] < 1 and 0 < ours["recall"] < 1 and 0 < ours["coverage"] < 1
    radii = nearest_neighbour_radii(torch.from_numpy(real).float(), 3, block_size=block_size)
    assert torch.equal(radii, torch.from_numpy(expected["real_radii_sq"]).float().sqrt())


@pytest.mark.parametrize("block_size", [3, 64, 10_000])
def test_blockwise_radii_and_density_coverage_equal_brute_force_in_float64(block_size):
    real = gaussian_features(180, 12, seed=6, dtype=torch.float64)
    fake = gaussian_features(150, 12, seed=7, shift=0.3, scale=1.2, dtype=torch.float64)
    real_np, fake_np = real.numpy(), fake.numpy()
    real_real = np.sqrt(((real_np[:, None] - real_np[None]) ** 2).sum(-1))
    real_fake = np.sqrt(((real_np[:, None] - fake_np[None]) ** 2).sum(-1))
    k = DENSITY_COVERAGE_K
    radii = np.partition(real_real, k, axis=1)[:, k]
    np.testing.assert_allclose(nearest_neighbour_radii(real, k, block_size=block_size).numpy(), radii, rtol=1e-12)
    density, coverage = density_coverage(real=real, fake=fake, block_size=block_size)
    assert density == pytest.approx((real_fake < radii[:, None]).sum(axis=0).mean() / k, abs=1e-12)
    assert coverage == pytest.approx((real_fake.min(axis=1) < radii).mean(), abs=1e-12)
    assert 0.2 < coverage < 0.95


# --------------------------------------------------------------------------------- torch-fidelity


@pytest.mark.parametrize("block_size", [128, 256, 10_000])  # uneven last blocks
def test_precision_recall_equal_torch_fidelity(block_size):
    real = gaussian_features(600, 64, seed=8)
    fake = gaussian_features(500, 64, seed=9, shift=0.05, scale=1.15)
    expected = torch_fidelity_prc(real, fake, PRECISION_RECALL_K, block_size)
    ours = precision_recall(real=real, fake=fake, block_size=block_size)
    assert 0.05 < expected[0] < 0.95 and 0.05 < expected[1] < 0.95
    # Same memberships; torch-fidelity's float32 mean differs from count/N by < 1e-7 (<< 1/N).
    assert ours == pytest.approx(expected, abs=1e-7)
    combined = manifold_metrics(real=real.numpy(), fake=fake.numpy(), block_size=block_size)
    assert (combined["precision"], combined["recall"]) == ours
    assert (combined["density"], combined["coverage"]) == density_coverage(real=real, fake=fake, block_size=block_size)


def test_swapping_the_sets_swaps_precision_and_recall():
    real, fake = gaussian_features(200, 8, seed=10), gaussian_features(170, 8, seed=11, scale=1.5)
    precision, recall = precision_recall(real=real, fake=fake)
    assert precision_recall(real=fake, fake=real) == (recall, precision)
    # A wider generated set: many samples fall off the real manifold, its own manifold holds the reals.
    assert precision < 0.5 < 0.9 < recall
    with pytest.raises(TypeError):
        precision_recall(real, fake)  # keyword-only on purpose


def test_bad_inputs_are_one_line_errors():
    real = gaussian_features(10, 4, seed=12)
    with pytest.raises(GBenchError, match="at least 6 generated samples"):
        manifold_metrics(real=real, fake=real[:5])
    with pytest.raises(GBenchError, match="dimensions differ"):
        precision_recall(real=real, fake=real[:, :3])
    nan = real.clone()
    nan[3, 1] = float("nan")
    with pytest.raises(GBenchError, match="NaN"):
        density_coverage(real=nan, fake=real)
    with pytest.raises(GBenchError, match="block_size"):
        precision_recall(real=real, fake=real, block_size=0)
    with pytest.raises(GBenchError, match="k must be"):
        precision_recall(real=real, fake=real, k=0)
