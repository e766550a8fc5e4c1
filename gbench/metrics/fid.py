"""Fréchet Inception Distance (Heusel et al., 2017), exactly as torch-fidelity 0.4.0 computes it.

FID = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 · Σᵢ Re √λᵢ(Σ1 Σ2)

following `torch_fidelity/metric_fid.py::fid_statistics_to_metric`: the trace of the matrix square root
is the sum of the square roots of the eigenvalues of Σ1Σ2, taken as complex128 so that tiny negative
eigenvalues from round-off contribute ~0 instead of NaN. Σ is the unbiased covariance (N-1, np.cov).

Deviation: the mean is taken in float64 (torch-fidelity takes np.mean of its float32 features); the two
agree to ~1e-7 relative. Slightly negative results (≈ −1e-12) for identical statistics are legal.
"""

from __future__ import annotations

import numpy as np

from gbench.metrics.stats import as_float64_array, check_feature_matrix


def fid_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    """FID between two Gaussians given their means (D,) and covariances (D, D)."""
    mu1, mu2 = as_float64_array(mu1, "mu1"), as_float64_array(mu2, "mu2")
    sigma1, sigma2 = as_float64_array(sigma1, "sigma1"), as_float64_array(sigma2, "sigma2")
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"means must be 1-D and equal in shape, got {mu1.shape} and {mu2.shape}")
    expected = (mu1.shape[0], mu1.shape[0])
    if sigma1.shape != expected or sigma2.shape != expected:
        raise ValueError(f"covariances must be {expected}, got {sigma1.shape} and {sigma2.shape}")

    diff = mu1 - mu2
    eigenvalues = np.linalg.eigvals(sigma1 @ sigma2).astype(np.complex128)
    trace_sqrt_product = np.sqrt(eigenvalues).real.sum()
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product)


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of an (N, D) feature matrix, in float64."""
    features = as_float64_array(features, "features")
    check_feature_matrix(features)
    if features.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 samples per set, got {features.shape[0]}")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def fid_from_features(f1, f2) -> float:
    """FID between two (N, D) feature sets (tensors or arrays; N may differ, D may not)."""
    mu1, sigma1 = gaussian_stats(f1)
    mu2, sigma2 = gaussian_stats(f2)
    if mu1.shape != mu2.shape:
        raise ValueError(f"feature dimensions differ: {mu1.shape[0]} vs {mu2.shape[0]}")
    return fid_from_stats(mu1, sigma1, mu2, sigma2)
