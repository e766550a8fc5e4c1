"""shapes32: a procedural toy dataset (32x32 RGB, 10 classes of coloured shapes on textured backgrounds).

It lets every experiment family run end to end on a laptop with no download. Each class is a shape
(disk, square, triangle, diamond, plus, ring, X, frame, ellipse, half-disk) with random centre,
size, rotation (within +-20 degrees) and colour, drawn over a background of two-colour sinusoidal stripes (random
frequency, orientation and phase) plus pixel noise. Rendering is vectorised over the batch on a
2x supersampled grid, then area-downsampled (anti-aliased edges). The content is a pure function
of (seed, index range): the same seed gives the same images on any machine with the same torch.

`shapes-gray` (`load_shapes_gray`) is the same renders at 28x28 (by default) in one luma channel, the
offline stand-in for MNIST in the MNIST models' smoke runs.
"""

from __future__ import annotations

import hashlib
import math

import torch
import torch.nn.functional as F

from gbench.data.base import ImageSet

CLASS_NAMES = ("disk", "square", "triangle", "diamond", "plus", "ring", "x", "frame", "ellipse", "half-disk")
RESOLUTION = 32
SUPERSAMPLE = 2
DEFAULT_SIZE = 10_000
CHUNK = 1024  # images rendered per chunk; each chunk has its own seed so any range is reproducible


def chunk_size(resolution: int) -> int:
    """Images per chunk: CHUNK up to 64x64; above, fewer, so a chunk holds as many pixels as at 64x64 (the paper-scale
    checks render stand-in data at 1024x1024, where a whole chunk would need 50 GB). Resolutions up to 64 keep CHUNK."""
    return max(1, min(CHUNK, CHUNK * 64 * 64 // (resolution * resolution)))
# Shapes turn by at most +-20 degrees: under any rotation a square is a diamond (and a plus an X) of another size,
# and the classes must stay distinguishable for the toy classifier to reach its accuracy (gbench/evaluation/toy_classifier.py).
MAX_ROTATION = math.radians(20)


_SHAPES = (
    lambda u, v, r: r <= 1.0,  # disk
    lambda u, v, r: torch.maximum(u.abs(), v.abs()) <= 0.8,  # square
    lambda u, v, r: (v <= 0.7) & (v >= -0.8) & (u.abs() <= (v + 0.8) * 0.55),  # triangle
    lambda u, v, r: u.abs() + v.abs() <= 1.0,  # diamond
    lambda u, v, r: ((u.abs() <= 0.3) & (v.abs() <= 1.0)) | ((v.abs() <= 0.3) & (u.abs() <= 1.0)),  # plus
    lambda u, v, r: (r <= 1.0) & (r >= 0.55),  # ring
    lambda u, v, r: ((u.abs() - v.abs()).abs() <= 0.28) & (torch.maximum(u.abs(), v.abs()) <= 0.9),  # x
    lambda u, v, r: (torch.maximum(u.abs(), v.abs()) - 0.725).abs() <= 0.175,  # frame
    lambda u, v, r: u * u + (v / 0.4) ** 2 <= 1.0,  # ellipse (2.5:1, so it is not a half-disk's 2:1 outline)
    lambda u, v, r: (r <= 1.0) & (v >= -0.1),  # half-disk
)


def content_checksum(images: torch.Tensor, labels: torch.Tensor | None = None) -> str:
    """sha256[:16] of the bytes of a procedural set (about 15 MB for 5,000 32x32 images: tens of milliseconds)."""
    h = hashlib.sha256(images.contiguous().numpy().tobytes())
    if labels is not None:
        h.update(labels.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _shape_masks(label: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inside-masks (B, S, S) for each sample's class; u, v are coordinates in the shape's frame.
    One vectorised pass per class over that class's samples (10 passes, not one per sample)."""
    r = torch.sqrt(u * u + v * v)
    inside = torch.zeros(u.shape, dtype=torch.bool)
    for k, shape in enumerate(_SHAPES):
        idx = (label == k).nonzero().squeeze(1)
        if len(idx):
            inside[idx] = shape(u[idx], v[idx], r[idx])
    return inside


def render(n: int, seed: int, resolution: int = RESOLUTION) -> tuple[torch.Tensor, torch.Tensor]:
    """Render `n` images with a private generator seeded by `seed`: (uint8 (n,3,R,R), int64 labels)."""
    images, labels, _ = render_with_attributes(n, seed, resolution)
    return images, labels


def render_with_attributes(n: int, seed: int, resolution: int = RESOLUTION) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """`render` plus the drawn attributes each image was made from (the captioned smoke set describes them):
    `colour` (n, 3) shape RGB in [0.35, 1], `size` (n,) in [0.35, 0.75], `background` (n, 2, 3) stripe RGBs in
    [0, 0.8], `frequency` (n,) stripe frequency in [1, 6]. Same random draws as before: images are unchanged."""
    g = torch.Generator().manual_seed(seed)
    s = resolution * SUPERSAMPLE
    rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    label = torch.randint(0, len(CLASS_NAMES), (n,), generator=g)
    axis = (torch.arange(s, dtype=torch.float32) + 0.5) / s * 2 - 1  # pixel centres in [-1, 1]
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    x, y = x.expand(n, s, s), y.expand(n, s, s)

    # Background: two colours mixed by oriented stripes.
    c1, c2 = rand(n, 3, 1, 1) * 0.8, rand(n, 3, 1, 1) * 0.8
    angle, freq, phase = rand(n, 1, 1) * math.pi, 1.0 + rand(n, 1, 1) * 5.0, rand(n, 1, 1) * 2 * math.pi
    stripes = 0.5 + 0.5 * torch.sin(freq * math.pi * (x * torch.cos(angle) + y * torch.sin(angle)) + phase)
    image = c1 + (c2 - c1) * stripes.unsqueeze(1)

    # Shape: centre, size, rotation, colour (bright, so it stands out from the darker background).
    size = 0.35 + rand(n, 1, 1) * 0.4
    cx, cy = (rand(n, 1, 1) * 2 - 1) * (0.95 - size), (rand(n, 1, 1) * 2 - 1) * (0.95 - size)
    theta = (rand(n, 1, 1) * 2 - 1) * MAX_ROTATION
    dx, dy = (x - cx) / size, (y - cy) / size
    u = dx * torch.cos(theta) + dy * torch.sin(theta)
    v = -dx * torch.sin(theta) + dy * torch.cos(theta)
    colour = 0.35 + rand(n, 3, 1, 1) * 0.65
    inside = _shape_masks(label, u, v).unsqueeze(1).float()
    image = image * (1 - inside) + colour * inside

    image = F.avg_pool2d(image, SUPERSAMPLE)  # anti-aliasing
    image = image + (rand(n, 3, resolution, resolution) - 0.5) * 0.06
    attributes = {"colour": colour.flatten(1), "size": size.flatten(), "background": torch.cat([c1, c2], dim=2).flatten(2).transpose(1, 2),
                  "frequency": freq.flatten()}
    return (image.clamp(0, 1) * 255).round().to(torch.uint8), label, attributes


def load_shapes32(size: int = DEFAULT_SIZE, split: str = "train", resolution: int = RESOLUTION) -> ImageSet:
    """The shapes32 set. Splits draw from disjoint seed ranges: train 0.., test 1_000_000.."""
    data, _ = load_shapes32_with_attributes(size, split, resolution)
    return data


def load_shapes32_with_attributes(size: int = DEFAULT_SIZE, split: str = "train", resolution: int = RESOLUTION) -> tuple[ImageSet, dict]:
    """`load_shapes32` and the per-image attributes of `render_with_attributes`, concatenated over chunks."""
    base = {"train": 0, "test": 1_000_000}.get(split)
    if base is None:
        raise ValueError(f"shapes32 has splits 'train' and 'test', not {split!r}")
    size = size or DEFAULT_SIZE
    images, labels, attributes = [], [], []
    chunk = chunk_size(resolution)
    for start in range(0, size, chunk):
        im, lb, at = render_with_attributes(chunk, seed=base + start // chunk, resolution=resolution)  # whole chunks: any prefix is stable
        take = min(chunk, size - start)
        images.append(im[:take])
        labels.append(lb[:take])
        attributes.append({k: v[:take] for k, v in at.items()})
    images, labels = torch.cat(images), torch.cat(labels)
    checksum = content_checksum(images, labels)  # of what was rendered, not of the settings: a rendering change shows
    merged = {k: torch.cat([a[k] for a in attributes]) for k in attributes[0]}
    return ImageSet(images, labels, name=f"shapes32-{split}", checksum=checksum), merged


GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma


def load_shapes_gray(size: int = DEFAULT_SIZE, split: str = "train", resolution: int = 28) -> ImageSet:
    """`shapes-gray`: shapes32 rendered at `resolution` (default 28, MNIST's size) and reduced to one luma channel.
    The offline stand-in for MNIST in the smoke runs of the MNIST models (gan-mlp, cgan-mlp); same labels as shapes32.
    Scored under toy-shapes-gray28: the toy classifier replicates the channel and resizes to 32, against grey references."""
    rgb = load_shapes32(size=size, split=split, resolution=resolution)
    weights = torch.tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
    gray = (rgb.images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    checksum = content_checksum(gray, rgb.labels)
    return ImageSet(gray, rgb.labels, name=f"shapes-gray-{split}", checksum=checksum)
