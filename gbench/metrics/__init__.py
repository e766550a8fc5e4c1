"""gbench.metrics: pure metric functions (IS, FID, KID, PSNR/SSIM, FCN-score, PPL) and streaming statistics.

Everything here is a plain function of features, logits, images or label maps; feature extraction
(torch-fidelity's Inception, the toy classifier) lives beside it and feeds these functions.
"""

from gbench.metrics.fid import fid_from_features, fid_from_stats
from gbench.metrics.image_quality import psnr, rgb_to_y, ssim
from gbench.metrics.inception_score import inception_score_from_logits
from gbench.metrics.kid import kid_from_features
from gbench.metrics.ppl import perceptual_path_length
from gbench.metrics.segmentation import confusion_matrix, fcn_scores
from gbench.metrics.stats import FeatureStats

__all__ = [
    "FeatureStats",
    "confusion_matrix",
    "fcn_scores",
    "fid_from_features",
    "fid_from_stats",
    "inception_score_from_logits",
    "kid_from_features",
    "perceptual_path_length",
    "psnr",
    "rgb_to_y",
    "ssim",
]
