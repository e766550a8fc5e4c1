"""Kernel Inception Distance (Bińkowski et al., 2018), as torch-fidelity 0.4.0 computes it.

Following `torch_fidelity/metric_kid.py::kid_features_to_metric`: `subsets` times, draw `subset_size`
rows without replacement from each set with one `np.random.RandomState(2020)` (set 1 first, then set 2,
via `rng.choice(n, size, replace=False)`), and take the unbiased MMD² under the cubic polynomial kernel
k(x, y) = (γ·xᵀy + 1)³, γ = 1/D:

    MMD² = [Σ_{i≠j} K_XX + Σ_{i≠j} K_YY] / (m(m−1)) − 2 Σ K_XY / m²

Report the mean and population std (np.std) over subsets. Small negative values are legal.

Deviation: the kernels are computed in float64 with torch on the features' device (torch-fidelity keeps
its float32 features in numpy). Identical draws, ~5e-6 relative difference on float32 Inception features.
"""

from __future__ import annotations

import numpy as np
import torch

from gbench.metrics.stats import STATS_DTYPE, check_feature_matrix

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 2020
KID_POLY_DEGREE = 3
KID_POLY_COEF0 = 1.0  # gamma is 1 / feature dimension


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = KID_POLY_DEGREE, coef0: float = KID_POLY_COEF0) -> torch.Tensor:
    """(γ·x yᵀ + coef0)^degree with γ = 1/D, for x (m, D) and y (n, D)."""
    gamma = 1.0 / x.shape[1]
    return (x @ y.T * gamma + coef0) ** degree


def unbiased_mmd2(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> float:
    """Unbiased MMD² from square (m, m) kernel matrices (diagonals of K_XX, K_YY excluded)."""
    m = k_xx.shape[0]
    within = (k_xx.sum() - k_xx.diagonal().sum()) + (k_yy.sum() - k_yy.diagonal().sum())
    return (within / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m)).item()


def kid_from_features(
    f1, f2, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = KID_SEED, degree: int = KID_POLY_DEGREE,
    coef0: float = KID_POLY_COEF0,
) -> tuple[float, float]:
    """(mean, std) of KID between two (N, D) feature sets (tensors or arrays)."""
    f1 = f1.detach() if isinstance(f1, torch.Tensor) else torch.from_numpy(np.asarray(f1))
    f2 = f2.detach() if isinstance(f2, torch.Tensor) else torch.from_numpy(np.asarray(f2))
    check_feature_matrix(f1, "f1")
    check_feature_matrix(f2, "f2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature dimensions differ: {f1.shape[1]} vs {f2.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"need subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    n1, n2 = f1.shape[0], f2.shape[0]
    if n1 < subset_size or n2 < subset_size:
        raise ValueError(
            f"KID needs at least subset_size={subset_size} samples in each set, got {n1} and {n2}; "
            "lower subset_size (and say so next to the number) or provide more samples"
        )
    f2 = f2.to(f1.device)

    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for i in range(subsets):
        rows1 = torch.from_numpy(rng.choice(n1, subset_size, replace=False)).to(f1.device)
        rows2 = torch.from_numpy(rng.choice(n2, subset_size, replace=False)).to(f1.device)
        x, y = f1[rows1].to(STATS_DTYPE), f2[rows2].to(STATS_DTYPE)
        mmds[i] = unbiased_mmd2(polynomial_kernel(x, x, degree, coef0), polynomial_kernel(x, y, degree, coef0),
                                polynomial_kernel(y, y, degree, coef0))
    return float(np.mean(mmds)), float(np.std(mmds))
