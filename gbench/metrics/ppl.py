"""Perceptual path length (Karras, Laine, Aila 2019, section 4.1): the aggregation of sampled perceptual distances.

Given the perceptual distances d_i = LPIPS(g(t_i), g(t_i + epsilon)) of N sampled pairs, PPL is the mean of
d_i / epsilon^2 over the pairs whose scaled distance lies within [the 1st percentile (numpy 'lower'), the 99th
percentile (numpy 'higher')], both ends kept, as NVlabs/stylegan metrics/perceptual_path_length.py rejects outliers.
The sampling of the pairs is gbench/evaluation/ppl.py's.
"""

from __future__ import annotations

import numpy as np

from gbench.errors import GBenchError


def perceptual_path_length(distances, epsilon: float, percentiles: tuple[float, float] = (1.0, 99.0)) -> float:
    """Mean of distances / epsilon^2 after dropping those below the lower / above the upper percentile."""
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    if d.size == 0:
        raise GBenchError("perceptual path length needs at least one sampled distance")
    if not np.isfinite(d).all():
        raise GBenchError("perceptual path length: a sampled distance is NaN or inf (the generator's images are not finite?)")
    if epsilon <= 0:
        raise GBenchError(f"perceptual path length: epsilon must be > 0, got {epsilon}")
    lower, upper = percentiles
    if not 0 <= lower < upper <= 100:
        raise GBenchError(f"perceptual path length: percentiles must satisfy 0 <= lower < upper <= 100, got {percentiles}")
    scaled = d * (1.0 / epsilon**2)
    lo = np.percentile(scaled, lower, method="lower")
    hi = np.percentile(scaled, upper, method="higher")
    return float(scaled[(lo <= scaled) & (scaled <= hi)].mean())
