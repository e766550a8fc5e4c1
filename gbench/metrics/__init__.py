"""gbench.metrics: pure metric functions (IS, FID, KID, precision/recall, density/coverage, PSNR/SSIM, FCN-score, PPL)
and streaming statistics.

Everything here is a plain function of features, logits, images or label maps; feature extraction
(torch-fidelity's Inception, the toy classifier) lives beside it and feeds these functions.
"""

from gbench.metrics.fid import fid_from_features, fid_from_stats
from gbench.metrics.image_quality import psnr, rgb_to_y, ssim
from gbench.metrics.inception_score import inception_score_from_logits
from gbench.metrics.kid import kid_from_features
from gbench.metrics.manifold import (
    DEFAULT_BLOCK_SIZE,
    DENSITY_COVERAGE_K,
    PRECISION_RECALL_K,
    density_coverage,
    manifold_metrics,
    nearest_neighbour_radii,
    precision_recall,
)
from gbench.metrics.ppl import perceptual_path_length
from gbench.metrics.segmentation import confusion_matrix, fcn_scores
from gbench.metrics.stats import FeatureStats

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DENSITY_COVERAGE_K",
    "FeatureStats",
    "PRECISION_RECALL_K",
    "confusion_matrix",
    "density_coverage",
    "fcn_scores",
    "fid_from_features",
    "fid_from_stats",
    "inception_score_from_logits",
    "kid_from_features",
    "manifold_metrics",
    "nearest_neighbour_radii",
    "precision_recall",
    "perceptual_path_length",
    "psnr",
    "rgb_to_y",
    "ssim",
]
