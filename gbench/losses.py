"""GAN losses and penalties, written in terms of discriminator logits.

| name        | D loss                                              | G loss              |
|-------------|-----------------------------------------------------|---------------------|
| ns          | softplus(-D(x)) + softplus(D(G(z)))                  | softplus(-D(G(z)))  |
| minimax     | as ns                                               | -softplus(D(G(z)))  |
| hinge       | relu(1 - D(x)) + relu(1 + D(G(z)))                   | -D(G(z))            |
| wgan        | D(G(z)) - D(x)                                       | -D(G(z))            |
| wgan-gp     | wgan + gp_weight * (||grad D(x_hat)|| - 1)^2          | -D(G(z))            |
| wgan-gp-eps | wgan-gp + drift_weight * (mean D(x))^2 (TransGAN's    | -D(G(z))            |
|             | eps term squares the batch mean, transgan.md 2)      |                     |
| wgan-gp-drift | wgan-gp + drift_weight * mean(D(x)^2) (Progressive   | -D(G(z))            |
|             | GAN's epsilon_drift: a mean of squares, loss.py)      |                     |
| lsgan       | 0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2                      | (D(G(z)) - 1)^2     |
Every term is a batch mean. `r1_penalty` is StyleGAN2's (gamma / 2) ||grad D(x)||^2 on reals.
The text-to-image terms of GAN-CLS / GAN-INT (Reed et al. 2016) are at the end of the file, with their own notes.
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from gbench import config
from gbench.errors import GBenchError

LOSSES = config.LOSSES


def d_loss(name: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if name in ("ns", "minimax"):
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if name == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if name in ("wgan", "wgan-gp", "wgan-gp-eps", "wgan-gp-drift"):
        return fake.mean() - real.mean()
    if name == "lsgan":
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")


def g_loss(name: str, fake: torch.Tensor) -> torch.Tensor:
    if name == "ns":
        return F.softplus(-fake).mean()
    if name == "minimax":
        return -F.softplus(fake).mean()
    if name in ("hinge", "wgan", "wgan-gp", "wgan-gp-eps", "wgan-gp-drift"):
        return -fake.mean()
    if name == "lsgan":
        return ((fake - 1) ** 2).mean()
    raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")


def _input_grad_norm2(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Per-sample ||d critic / d x||^2, differentiable (create_graph) for the penalty's own backward.

    Penalties need double backward; the fused attention kernels (flash / memory-efficient, CPU and CUDA)
    have no double backward, so transformer critics run here on SDPA's math kernel.
    """
    x = x.detach().requires_grad_(True)
    with sdpa_kernel(SDPBackend.MATH):
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     target: float = 1.0) -> torch.Tensor:
    """WGAN-GP: mean (||grad critic(x_hat)||_2 - target)^2 / target^2 at x_hat = a x + (1 - a) G(z), one a ~ U(0,1) per
    sample (Progressive GAN's wgan_target: 750 on CIFAR-10; 1 everywhere else). The gradient is taken w.r.t. the
    un-augmented x_hat; `critic` applies augmentation itself."""
    alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    x_hat = alpha * real.detach() + (1 - alpha) * fake.detach()
    penalty = ((_input_grad_norm2(critic, x_hat) + 1e-12).sqrt() - target).pow(2).mean()
    return penalty if target == 1.0 else penalty / target**2


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, gamma: float) -> torch.Tensor:
    return 0.5 * gamma * _input_grad_norm2(critic, real).mean()


def drift_penalty(real_logits: torch.Tensor) -> torch.Tensor:
    """TransGAN's eps term: the square of the batch-mean real logit (not the mean of squares)."""
    return real_logits.mean() ** 2


# ----------------------------------------------------------------------------- text-to-image (GAN-CLS / GAN-INT)
# Loss terms of GAN-CLS / GAN-INT (Reed et al., ICML 2016), as pure functions of discriminator logits.
#
# Followed: reedscot/icml2016 ``main_cls_int.lua`` (closures ``fDx`` / ``fGx``) with ``train_cub.sh`` /
# ``train_flowers.sh`` (``cls_weight=0.5``, ``interp_weight=1.0``, ``interp_type=1``). D ends in a Sigmoid with
# ``BCECriterion`` there; here every term is BCE with logits, the same loss.
#
# Discriminator (``gan_cls_d_loss``), with s_r = D(x, h), s_w = D(x_wrong, h), s_f = D(G(z, h), h):
#     L_D = BCE(s_r, 1) + cls_weight * BCE(s_w, 0) + (1 - cls_weight) * BCE(s_f, 0)
# cls_weight 0.5 is the paper's  log s_r + (log(1 - s_w) + log(1 - s_f)) / 2  (Algorithm 1); cls_weight 0 is the
# plain conditional GAN (the wrong pair is not used). The official code runs D three times, on the real, the wrong
# and the fake batch separately, so each call has its own batch-norm statistics; a trainer should do the same.
# The wrong pair is built by the data sampler (``gbench.data.text2image.mismatched_indices``): the code pairs the
# caption with an image of another class, which the paper describes as the real image with a mismatched text.
#
# Generator (``gan_int_g_loss``): G sees the B matched embeddings and B/2 interpolated ones in one batch of 3B/2
# (``with_interpolations``, fresh z for all of them), D scores the 3B/2 fakes in one call, and the loss is
# ``BCECriterion(weights)`` with weight 1 on the first B and ``interp_weight`` on the rest. Torch's weighted
# BCECriterion divides the weighted sum by the number of elements (3B/2), not by the sum of weights; we do the same.
# With interp_weight 1 this is the mean over all 3B/2 fakes of -log D(G(z, h), h) (the non-saturating loss).
# GAN and GAN-CLS come from the same generic script with interp_weight 0: the interpolated half still goes through G
# and D (it shares their batch statistics) with weight 0, so the loss is 2/3 of the mean over the B matched fakes.
#
# GAN-INT (``interpolate_halves``, ``interp_type=1``): the i-th interpolated embedding is
# beta * h[i] + (1 - beta) * h[i + B/2], i < B/2, beta = 0.5: the first half of the batch paired with the second.
# The D step does not see interpolations (it has no real image for them).

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


def orthogonal_regularization(weights: Iterable[torch.Tensor], strength: float = 1e-4) -> torch.Tensor:
    """BigGAN's off-diagonal orthogonal regularisation, as a loss to add to G's loss.

    For each weight W viewed as (out, -1): (strength / 2) * ||(W W^T) * (1 - I)||_F^2, summed over the weights.
    Its gradient is strength * 2 ((W W^T) * (1 - I)) W, exactly the update ajbrock/BigGAN-PyTorch
    ``utils.ortho`` adds to ``param.grad`` (so strength 1e-4 means the same as ``--G_ortho 1e-4``); the paper's
    beta ||W^T W * (1 - I)||_F^2 (Brock et al. 2019, eq. 3) has twice that gradient for the same beta.
    Which weights: ``utils.ortho`` takes every G parameter with >= 2 dimensions except the shared class embedding
    (``ImageNetGenerator.ortho_weights()`` lists them).
    """
    total = None
    for weight in weights:
        w = weight.reshape(weight.shape[0], -1)
        gram = w @ w.t()
        off_diagonal = gram - torch.diag_embed(torch.diagonal(gram))
        term = off_diagonal.pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("orthogonal_regularization needs at least one weight")
    return 0.5 * strength * total


def mean_square_drift(real_logits: torch.Tensor) -> torch.Tensor:
    """Progressive GAN's epsilon_drift term (loss.py D_wgangp_acgan, StyleGAN D_wgan_gp): the mean of D(x)^2."""
    return real_logits.square().mean()
