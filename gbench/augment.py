"""DiffAugment (Zhao et al., 2020): differentiable augmentations applied to every discriminator input.

Two variants, chosen by ``variant``:
- ``"original"``: mit-han-lab/data-efficient-gans ``DiffAugment_pytorch.py``. translation up to
  round(H/8) pixels (+-4 at 32x32), cutout of one round(H/2) square per sample, always applied.
- ``"transgan"``: VITA-Group/TransGAN ``models_search/diff_aug.py`` (the same in the v1 ``models/diff_aug.py``),
  shared/reference/transgan.md section 6. translation up to round(0.2 H) (+-6 at 32, +-10 at 48);
  cutout of the same square size, but the whole batch gets it or not, with one draw, p = 0.3;
  ``stl_erase_ratio`` (STL-10 recipe): a rectangle with sides drawn once per call from U_int[20, H//2 + 20]
  (inclusive), a random position per sample, whole batch gated with p = 0.3.

``color`` is the same in both: per-sample brightness + U(-0.5, 0.5), saturation x U(0, 2) about each pixel's
channel mean, contrast x U(0.5, 1.5) about each image's mean. Policies are comma-separated and run in order.
Vacated and erased pixels are zero. Everything is batched tensor code (no per-sample loops) and
differentiable with respect to the images, so it can sit between G and D in the generator step.

Randomness: every draw, including the batch gate, comes from ``torch`` (the given ``generator``, or the
global RNG when it is None), never Python's ``random``; the trainer's exact resume relies on the global
torch RNG state. The generator must live on the images' device. The batch gate and the erase sizes stay
tensors (no ``.item()``), so there is no host sync on GPU. Official differences of no statistical
consequence: the code draws the gate with Python ``random`` and the erase sides with ``random.randint``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

VARIANTS = ("original", "transgan")
TRANSLATION_RATIO = {"original": 1 / 8, "transgan": 0.2}  # max shift = int(ratio * size + 0.5)
CUTOUT_RATIO = 0.5  # square side = int(ratio * size + 0.5): 16 at 32x32
CUTOUT_BATCH_PROBABILITY = {"original": 1.0, "transgan": 0.3}  # transgan: one gate for the whole batch
STL_ERASE_MIN_SIDE = 20  # stl_erase_ratio sides ~ U_int[20, size // 2 + 20], inclusive
STL_ERASE_BATCH_PROBABILITY = 0.3
BRIGHTNESS_RANGE = (-0.5, 0.5)  # added
SATURATION_RANGE = (0.0, 2.0)  # multiplies the deviation from the per-pixel channel mean
CONTRAST_RANGE = (0.5, 1.5)  # multiplies the deviation from the per-image mean
POLICIES = {
    "original": ("color", "translation", "cutout"),
    "transgan": ("color", "translation", "cutout", "stl_erase_ratio"),
}


def parse_policy(policy: str | None, variant: str = "original") -> list[str]:
    """Split and check a policy string such as ``"translation,cutout,color"``; raise ValueError if unknown."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown DiffAugment variant {variant!r}; expected one of {VARIANTS}")
    names = [name.strip() for name in (policy or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in POLICIES[variant]]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown} for variant {variant!r}; known: {', '.join(POLICIES[variant])}")
    return names


def diff_augment(x: torch.Tensor, policy: str | None, variant: str = "original",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch of images x (N, C, H, W) in [-1, 1]; returns a new tensor of the same shape."""
    for name in parse_policy(policy, variant):
        if name == "color":
            x = _contrast(_saturation(_brightness(x, generator), generator), generator)
        elif name == "translation":
            x = _translation(x, TRANSLATION_RATIO[variant], generator)
        elif name == "cutout":
            sides = tuple(int(CUTOUT_RATIO * s + 0.5) for s in x.shape[-2:])
            x = _erase(x, sides, CUTOUT_BATCH_PROBABILITY[variant], generator)
        elif name == "stl_erase_ratio":
            sides = tuple(_randint(STL_ERASE_MIN_SIDE, s // 2 + STL_ERASE_MIN_SIDE + 1, (), x.device, generator) for s in x.shape[-2:])
            x = _erase(x, sides, STL_ERASE_BATCH_PROBABILITY, generator)
    return x


# ----------------------------------------------------------------------------------------------------
# The operations. Per-sample draws have shape (N, 1, 1, 1) or (N, 1, 1) and broadcast over the image.


def _uniform(x: torch.Tensor, low: float, high: float, generator) -> torch.Tensor:
    u = torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device, generator=generator)
    return low + (high - low) * u


def _randint(low: int, high, size, device, generator) -> torch.Tensor:
    """Integers uniform in [low, high); ``high`` may be a tensor (kept on device, no host sync)."""
    u = torch.rand(size, device=device, generator=generator)
    return low + (u * (high - low)).floor().long()


def _brightness(x, generator):
    return x + _uniform(x, *BRIGHTNESS_RANGE, generator)


def _saturation(x, generator):
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _uniform(x, *SATURATION_RANGE, generator) + mean


def _contrast(x, generator):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(x, *CONTRAST_RANGE, generator) + mean


def _translation(x: torch.Tensor, ratio: float, generator) -> torch.Tensor:
    """Shift each image by integers (dy, dx), |dy| <= int(ratio*H + 0.5), |dx| likewise; zero fill.

    Output pixel (i, j) reads input pixel (i + dy, j + dx), or zero outside the image: a one-pixel zero
    border is padded and the clamped source index lands on it.
    """
    N, C, H, W = x.shape
    max_dy, max_dx = int(ratio * H + 0.5), int(ratio * W + 0.5)
    dy = _randint(-max_dy, max_dy + 1, (N, 1, 1, 1), x.device, generator)
    dx = _randint(-max_dx, max_dx + 1, (N, 1, 1, 1), x.device, generator)
    padded = F.pad(x, (1, 1, 1, 1))
    rows = (torch.arange(H, device=x.device).view(1, 1, H, 1) + dy + 1).clamp(0, H + 1)
    x = padded.gather(2, rows.expand(N, C, H, W + 2))
    cols = (torch.arange(W, device=x.device).view(1, 1, 1, W) + dx + 1).clamp(0, W + 1)
    return x.gather(3, cols.expand(N, C, H, W))


def _erase(x: torch.Tensor, sides, probability: float, generator) -> torch.Tensor:
    """Zero one (h, w) rectangle per image, clipped at the borders, its centre uniform per image.

    As in the official code the centre row is uniform in [0, H + (1 - h mod 2)) and the rectangle spans
    rows [centre - h // 2, centre - h // 2 + h). With ``probability`` < 1 one draw gates the whole batch.
    """
    N, _, H, W = x.shape
    h, w = sides
    top = _randint(0, H + 1 - h % 2, (N, 1, 1), x.device, generator) - h // 2
    left = _randint(0, W + 1 - w % 2, (N, 1, 1), x.device, generator) - w // 2
    rows = torch.arange(H, device=x.device).view(1, H, 1)
    cols = torch.arange(W, device=x.device).view(1, 1, W)
    inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
    if probability < 1:
        inside = inside & (torch.rand((), device=x.device, generator=generator) < probability)
    return x * (~inside).unsqueeze(1).to(x.dtype)
