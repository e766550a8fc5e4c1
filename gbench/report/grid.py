"""Fixed-z sample grids: the same latents (and labels) at every step, so grids are comparable over training."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from gbench.sampling import generate, sample_labels, sample_latent, to_uint8


def grid_image(images_uint8: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
    """(N, C, H, W) uint8 -> one PIL image, rows of `nrow`, white padding."""
    n, c, h, w = images_uint8.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    canvas = torch.full((3, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    images = images_uint8.expand(-1, 3, -1, -1) if c == 1 else images_uint8
    for i in range(n):  # at most a few dozen tiles
        r, col = divmod(i, nrow)
        canvas[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = images[i]
    return Image.fromarray(canvas.permute(1, 2, 0).numpy())


@torch.no_grad()
def sample_grid(G: torch.nn.Module, path: Path, *, n: int = 64, seed: int = 0, device="cpu") -> Path:
    g = torch.Generator().manual_seed(seed)
    was_training = G.training
    G.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        images = to_uint8(generate(G, sample_latent(G, n, g, device), sample_labels(G, n, g, device))).cpu()
    G.train(was_training)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_image(images).save(path)
    return path
