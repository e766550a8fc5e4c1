"""Drawing latents and labels for a generator, the one quantization convention for its images, and
fixed-z sample grids (the same latents and labels at every step, so grids compare over training).

Used by the trainers (training z, fixed-z sample grids) and by evaluation (the protocol's z stream),
so every path samples the same way. Evaluation and grids pass a private `torch.Generator`, so they
never touch the global RNG state that exact resume relies on.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image
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


CAPTION_WIDTH = 240  # px of text to the left of each row of a caption grid


def caption_grid_image(images_uint8: torch.Tensor, captions: list[str], ncol: int, pad: int = 2) -> Image.Image:
    """A grid of len(captions) rows of `ncol` images, each row labelled with its caption (wrapped, PIL's default font)
    in a white column on the left: the text-to-image grids (captions x samples, style transfer)."""
    from PIL import ImageDraw, ImageFont

    if len(images_uint8) != len(captions) * ncol:
        raise GBenchError(f"{len(images_uint8)} images do not fill {len(captions)} rows of {ncol}")
    grid = grid_image(images_uint8, nrow=ncol, pad=pad)
    row_height = images_uint8.shape[-2] + pad
    canvas = Image.new("RGB", (CAPTION_WIDTH + grid.width, grid.height), "white")
    canvas.paste(grid, (CAPTION_WIDTH, 0))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    line_height = 11
    for row, caption in enumerate(captions):
        lines, line = [], ""
        for word in caption.split():
            trial = f"{line} {word}".strip()
            if line and draw.textlength(trial, font=font) > CAPTION_WIDTH - 2 * pad:
                lines.append(line)
                trial = word
            line = trial
        lines.append(line)
        fits = max(1, (row_height - pad) // line_height)
        if len(lines) > fits:  # too tall for the row: the last line that fits ends in "..."
            last = " ".join(lines[fits - 1 :])
            while last and draw.textlength(last + "...", font=font) > CAPTION_WIDTH - 2 * pad:
                last = last[:-1]
            lines = lines[: fits - 1] + [last + "..."]
        top = pad + row * row_height
        for k, text in enumerate(lines):
            draw.text((pad, top + k * line_height), text, fill="black", font=font)
    return canvas


@torch.no_grad()
def style_mixing_figure(G: torch.nn.Module, path: Path, *, sources: int = 5, destinations: int = 6, seed: int = 0,
                        truncation_psi: float | None = None, device="cpu") -> Path:
    """StyleGAN's Figure 3 (generate_figures.py draw_style_mixing_figure) as a PNG: the source images on the top row,
    the destinations in the first column, and each destination with the coarse (rows 1-3), middle (4-5) or fine (6)
    styles of every source (G.style_mixing_grid; constant noise, no truncation unless asked). Private RNG only."""
    g = torch.Generator().manual_seed(seed)
    z_src, z_dst = sample_latent(G, sources, g, device), sample_latent(G, destinations, g, device)
    was_training = G.training
    G.eval()
    try:
        grid = G.style_mixing_grid(z_dst, z_src, truncation_psi=truncation_psi)
    finally:
        G.train(was_training)
    images = to_uint8(grid.flatten(0, 1)).cpu()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_image(images, nrow=sources + 1).save(path)
    return path
