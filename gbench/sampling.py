"""Drawing latents and labels for a generator, and the one quantization convention for its images.

Used by the trainers (training z, fixed-z sample grids) and by evaluation (the protocol's z stream),
so every path samples the same way. Evaluation and grids pass a private `torch.Generator`, so they
never touch the global RNG state that exact resume relies on.
"""

from __future__ import annotations

import torch
from torch import nn

from gbench.errors import GBenchError


def sample_latent(G: nn.Module, n: int, generator: torch.Generator | None = None, device="cpu") -> torch.Tensor:
    """z for `G`: N(0, I) or U(-1, 1) per `G.latent_distribution`, shape (n, G.latent_dim)."""
    shape = (n, G.latent_dim)
    if getattr(G, "latent_distribution", "normal") == "uniform":
        z = torch.rand(shape, generator=generator) * 2 - 1
    else:
        z = torch.randn(shape, generator=generator)
    return z.to(device)


def sample_labels(G: nn.Module, n: int, generator: torch.Generator | None = None, device="cpu") -> torch.Tensor | None:
    """Uniform class labels for a conditional `G` (None when unconditional)."""
    if not getattr(G, "num_classes", 0):
        return None
    return torch.randint(0, G.num_classes, (n,), generator=generator).to(device)


def generate(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    return G(z) if y is None else G(z, y)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 via clamp(round((x + 1) * 127.5), 0, 255); NaN/inf is a user error."""
    if not torch.isfinite(images).all():
        raise GBenchError("the generator produced NaN or inf values; refusing to evaluate them")
    return ((images.detach().float() + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
