"""Loss terms of GAN-CLS / GAN-INT (Reed et al., ICML 2016), as pure functions of discriminator logits.

Followed: reedscot/icml2016 ``main_cls_int.lua`` (closures ``fDx`` / ``fGx``) with ``train_cub.sh`` /
``train_flowers.sh`` (``cls_weight=0.5``, ``interp_weight=1.0``, ``interp_type=1``). D ends in a Sigmoid with
``BCECriterion`` there; here every term is BCE with logits, the same loss.

Discriminator (``gan_cls_d_loss``), with s_r = D(x, h), s_w = D(x_wrong, h), s_f = D(G(z, h), h):
    L_D = BCE(s_r, 1) + cls_weight * BCE(s_w, 0) + (1 - cls_weight) * BCE(s_f, 0)
cls_weight 0.5 is the paper's  log s_r + (log(1 - s_w) + log(1 - s_f)) / 2  (Algorithm 1); cls_weight 0 is the
plain conditional GAN (the wrong pair is not used). The official code runs D three times, on the real, the wrong
and the fake batch separately, so each call has its own batch-norm statistics; a trainer should do the same.
The wrong pair is built by the data sampler (``gbench.data.text2image.mismatched_indices``): the code pairs the
caption with an image of another class, which the paper describes as the real image with a mismatched text.

Generator (``gan_int_g_loss``): G sees the B matched embeddings and B/2 interpolated ones in one batch of 3B/2
(``with_interpolations``, fresh z for all of them), D scores the 3B/2 fakes in one call, and the loss is
``BCECriterion(weights)`` with weight 1 on the first B and ``interp_weight`` on the rest. Torch's weighted
BCECriterion divides the weighted sum by the number of elements (3B/2), not by the sum of weights; we do the same.
With interp_weight 1 this is the mean over all 3B/2 fakes of -log D(G(z, h), h) (the non-saturating loss).

GAN-INT (``interpolate_halves``, ``interp_type=1``): the i-th interpolated embedding is
beta * h[i] + (1 - beta) * h[i + B/2], i < B/2, beta = 0.5: the first half of the batch paired with the second.
The D step does not see interpolations (it has no real image for them).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from gbench.errors import GBenchError

CLS_WEIGHT = 0.5  # train_cub.sh / train_flowers.sh CLS=0.5
INTERP_WEIGHT = 1.0  # INT=1.0
INTERP_BETA = 0.5  # interp_type 1: (a + b) / 2


class ClsDLoss(NamedTuple):
    total: torch.Tensor
    real: torch.Tensor  # BCE(s_r, 1)
    wrong: torch.Tensor  # cls_weight * BCE(s_w, 0)  (0 when cls_weight is 0)
    fake: torch.Tensor  # (1 - cls_weight) * BCE(s_f, 0)


def gan_cls_d_loss(real_right: torch.Tensor, real_wrong: torch.Tensor | None, fake_right: torch.Tensor,
                   cls_weight: float = CLS_WEIGHT) -> ClsDLoss:
    """The matching-aware discriminator loss from the logits of (real image, its text), (image of another class,
    the same text) and (generated image, its text). Each term is a batch mean."""
    if not 0.0 <= cls_weight <= 1.0:
        raise GBenchError(f"cls_weight must be in [0, 1], got {cls_weight}")
    real = F.softplus(-real_right).mean()  # -log sigmoid(s_r)
    fake = (1.0 - cls_weight) * F.softplus(fake_right).mean()  # -log(1 - sigmoid(s_f)), weighted
    if cls_weight > 0:
        if real_wrong is None:
            raise GBenchError("GAN-CLS (cls_weight > 0) needs the discriminator's logits on mismatched pairs")
        wrong = cls_weight * F.softplus(real_wrong).mean()
    else:
        wrong = real.new_zeros(())
    return ClsDLoss(real + wrong + fake, real, wrong, fake)


def interpolate_halves(embeddings: torch.Tensor, beta: float = INTERP_BETA) -> torch.Tensor:
    """(B, E) -> (B/2, E): beta * h[i] + (1 - beta) * h[i + B/2] (GAN-INT; B must be even)."""
    b = embeddings.shape[0]
    if b % 2:
        raise GBenchError(f"GAN-INT pairs the first half of a batch with the second: the batch size must be even, got {b}")
    first, second = embeddings[: b // 2], embeddings[b // 2 :]
    return beta * first + (1.0 - beta) * second


def with_interpolations(embeddings: torch.Tensor, beta: float = INTERP_BETA) -> torch.Tensor:
    """(B, E) -> (3B/2, E): the generator step's conditioning, matched embeddings first, interpolations after."""
    return torch.cat([embeddings, interpolate_halves(embeddings, beta)])


def gan_int_g_loss(fake_logits: torch.Tensor, interpolated_logits: torch.Tensor | None = None,
                   interp_weight: float = INTERP_WEIGHT) -> torch.Tensor:
    """Generator loss: -log D on the fakes of the matched embeddings plus interp_weight times -log D on the fakes
    of the interpolated ones, divided by the total count (Torch's weighted BCECriterion). Without interpolated
    logits it is the plain mean over the matched fakes."""
    total = F.softplus(-fake_logits).sum()
    count = fake_logits.numel()
    if interpolated_logits is not None:
        total = total + interp_weight * F.softplus(-interpolated_logits).sum()
        count += interpolated_logits.numel()
    return total / count


def style_loss(predicted_z: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Section 4.4: the style encoder S is trained with the squared error ||z - S(G(z, phi(t)))||_2^2, here the
    batch mean of the per-sample squared norm."""
    return (predicted_z - z).pow(2).flatten(1).sum(1).mean()
