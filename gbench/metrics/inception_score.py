"""Inception Score (Salimans et al., 2016) from classifier logits, following torch-fidelity 0.4.0.

As in `torch_fidelity/metric_isc.py::isc_features_to_metric`: rows are shuffled with
`np.random.RandomState(2020).permutation(N)` (shuffling matters: ordered CIFAR-10 scores ~9 instead of
~11.2), cast to float64, softmaxed, and cut into `splits` contiguous chunks [i·N//splits, (i+1)·N//splits).
Each chunk scores exp(mean_x KL(p(y|x) ‖ mean_x p(y|x))); the result is the mean and the population std
(np.std) over chunks. 1 ≤ IS ≤ min(num_classes, chunk size).

For torch-fidelity's Inception the logits are `logits_unbiased` (pool3 · Wᵀ, no bias, 1008 classes).

Deviation: a class whose probability underflows to exactly 0 in a whole chunk contributes 0 (the limit
of p·log p) instead of torch-fidelity's NaN (0·∞); wherever torch-fidelity is finite the results agree.
"""

from __future__ import annotations

import numpy as np
import torch

from gbench.metrics.stats import STATS_DTYPE, check_feature_matrix

ISC_SPLITS = 10
ISC_SHUFFLE_SEED = 2020


def inception_score_from_logits(
    logits, splits: int = ISC_SPLITS, shuffle_seed: int = ISC_SHUFFLE_SEED, *, shuffle: bool = True
) -> tuple[float, float]:
    """(mean, std) of the Inception Score of (N, K) logits (tensor or ndarray)."""
    logits = logits.detach() if isinstance(logits, torch.Tensor) else torch.from_numpy(np.asarray(logits))
    check_feature_matrix(logits, "logits")
    num_samples = logits.shape[0]
    if splits < 1 or num_samples < splits:
        raise ValueError(f"need 1 <= splits <= N, got splits={splits} for N={num_samples}")
    if shuffle:
        order = np.random.RandomState(shuffle_seed).permutation(num_samples)
        logits = logits[torch.from_numpy(order).to(logits.device)]
    logits = logits.to(STATS_DTYPE)

    probs = logits.softmax(dim=1)
    log_probs = logits.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        rows = slice(i * num_samples // splits, (i + 1) * num_samples // splits)
        p, log_p = probs[rows], log_probs[rows]
        log_marginal = p.mean(dim=0, keepdim=True).log()
        kl_terms = torch.where(p > 0, p * (log_p - log_marginal), torch.zeros_like(p))
        scores.append(kl_terms.sum(dim=1).mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))
