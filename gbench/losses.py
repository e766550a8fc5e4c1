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
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

LOSSES = ("ns", "minimax", "hinge", "wgan", "wgan-gp", "wgan-gp-eps", "wgan-gp-drift", "lsgan")


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


def mean_square_drift(real_logits: torch.Tensor) -> torch.Tensor:
    """Progressive GAN's epsilon_drift term (loss.py D_wgangp_acgan, StyleGAN D_wgan_gp): the mean of D(x)^2."""
    return real_logits.square().mean()
