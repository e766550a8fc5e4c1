"""Restoring a set of images with a pre-trained BigGAN and scoring each one: what `gbench invert` and the
`dgp-inversion` table run (files and reports are written by gbench/invert.py).

Images come from a restoration protocol (`dgp-imagenet128`, `dgp-imagenet128-100`, `dgp-shapes32`, `dgp-skimage32`;
gbench/protocols.py) or from a folder (every image centre-cropped to a square and resized to the generator's
resolution as the protocols do; an optional `labels.txt` of `<file name> <class>` lines, DGP's list format, gives
the classes, else they are chosen with the latent). Each image is degraded by the task (`observe`), restored by
`optimize-z` (baseline (a)) or `dgp`, and scored against the original under DGP's conventions
(gbench.protocols.DGP_SCORING; gbench.metrics.restoration).

Batches: images are independent problems solved together (gbench/inversion/dgp.py: per-image z, weights and Adam
states under vmap), and every image draws its latent candidates from its own seed (protocol seed + image index), so
a result does not depend on the batch size.

Schedules: `paper` / `quick` presets use the official ImageNet-128 schedule of the task (DGP_PRESETS: the scripts
under experiments/imagenet1k_128/, `reconstruct` from issue #9); `smoke` runs each stage at 5% of its iterations
with 32 latent candidates, and the feature-loss depth adapted to the smaller discriminator (adapt_preset).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from gbench.errors import GBenchError, UsageError
from gbench.inversion.degradations import DEGRADATIONS, hole_bounds
from gbench.inversion.dgp import DGP_PRESETS, InversionConfig, adapt_preset, invert
from gbench.metrics.restoration import lab_to_rgb, mse, psnr_float, rgb_to_lab, ssim_uniform
from gbench.protocols import DGP_SEED_STRIDE, Protocol, get_protocol

TASKS = ("reconstruct", "colorization", "inpainting", "sr4")
METHODS = ("dgp", "optimize-z")
SMOKE_ITERATION_SCALE = 0.05
SMOKE_SELECT_NUM = 32
PSNR_RANGE, SSIM_RANGE = 1.0, 2.0  # DGP's old scikit-image defaults for float images in [0, 1] (metrics.md 5)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
LABELS_FILE = "labels.txt"


@dataclass
class RestorationImages:
    """Originals to restore: uint8 (N, 3, R, R), labels (N,) with -1 where unknown, names, and what they are."""

    images: torch.Tensor
    labels: torch.Tensor
    names: list[str]
    source: str  # protocol id, or "folder:<path>"
    checksum: str
    seed: int = 0

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise GBenchError(f"{self.source}: images must be uint8 RGB (N, 3, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.labels) != len(self.images) or len(self.names) != len(self.images):
            raise GBenchError(f"{self.source}: {len(self.images)} images, {len(self.labels)} labels, {len(self.names)} names")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])

    def first(self, n: int) -> "RestorationImages":
        if n >= len(self):
            return self
        digest = hashlib.sha256(f"{self.checksum}|first {n}".encode()).hexdigest()[:16]
        return replace(self, images=self.images[:n], labels=self.labels[:n], names=self.names[:n], checksum=digest)


def square_resize(image: Image.Image, resolution: int) -> np.ndarray:
    """RGB, centre crop of the short side (BigGAN's CenterCropLongEdge), PIL bilinear to `resolution`: uint8 (3, R, R)."""
    from gbench.data.imagenet import center_crop_long_edge

    square = center_crop_long_edge(image.convert("RGB"))
    return np.asarray(square.resize((resolution, resolution), Image.BILINEAR)).transpose(2, 0, 1)


def _skimage_photos(resolution: int) -> tuple[torch.Tensor, list[str]]:
    try:
        import skimage.data
    except ImportError:
        raise GBenchError("the dgp-skimage32 photos come with scikit-image: pip install scikit-image (in gbench's [dev] extra)") from None

    from gbench.data.sr import SKIMAGE_PHOTOS

    arrays = [square_resize(Image.fromarray(getattr(skimage.data, name)()), resolution) for name in SKIMAGE_PHOTOS]
    return torch.from_numpy(np.stack(arrays)), list(SKIMAGE_PHOTOS)


def protocol_images(protocol: Protocol | str, root: str | Path = "") -> RestorationImages:
    """The originals of a restoration protocol (its first n_gen images of the reference split)."""
    from gbench.data import load_dataset

    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if not protocol.scoring:
        raise UsageError(f"protocol {protocol.id} is not a restoration protocol (gbench protocols lists dgp-*)")
    n = protocol.n_gen
    if protocol.reference == "skimage-photos":
        images, names = _skimage_photos(protocol.resolution)
        labels = torch.full((len(images),), -1, dtype=torch.int64)
        checksum = hashlib.sha256(images.numpy().tobytes()).hexdigest()[:16]
    else:
        size = n if protocol.reference == "shapes32" else 0  # shapes32: the first n of the split; ImageNet val-1k: all 1,000
        data = load_dataset(protocol.reference, protocol.reference_split, root=root, resolution=protocol.resolution, size=size)
        if len(data) < n:
            raise GBenchError(f"protocol {protocol.id} restores {n} images, {data.name} has {len(data)}")
        images, labels = data.images[:n], data.labels[:n] if data.labels is not None else torch.full((n,), -1)
        names = _names(protocol, root, n)
        checksum = data.checksum
    restoration = RestorationImages(torch.as_tensor(np.ascontiguousarray(images)), labels.long(), names, protocol.id, checksum,
                                    seed=protocol.sample_seed)
    return restoration.first(n)


def _names(protocol: Protocol, root, n: int) -> list[str]:
    if protocol.reference == "imagenet":
        from gbench.data.imagenet import image_names

        return image_names(root or None, protocol.reference_split)[:n]
    return [f"{protocol.reference}-{protocol.reference_split}-{i:05d}" for i in range(n)]


def folder_images(folder: str | Path, resolution: int) -> RestorationImages:
    """Every image of `folder` (sorted by name) as a square of `resolution`; classes from `labels.txt` when present."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UsageError(f"--images {folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise GBenchError(f"--images {folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    arrays, digest = [], hashlib.sha256(f"folder-{resolution}".encode())
    for path in files:  # decoding is per file; the restoration itself is batched
        try:
            with Image.open(path) as image:
                arrays.append(square_resize(image, resolution))
        except (OSError, SyntaxError, ValueError) as exc:
            raise GBenchError(f"cannot read image {path}: {exc}") from None
        digest.update(path.name.encode() + arrays[-1].tobytes())
    labels = torch.full((len(files),), -1, dtype=torch.int64)
    label_file = folder / LABELS_FILE
    if label_file.is_file():
        given = {}
        for number, line in enumerate(label_file.read_text().splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise GBenchError(f"{label_file}:{number}: expected '<file name> <class>', got {line!r}")
            given[parts[0]] = int(parts[1])
        labels = torch.tensor([given.get(p.name, -1) for p in files], dtype=torch.int64)
        digest.update(label_file.read_bytes())
    return RestorationImages(torch.from_numpy(np.stack(arrays)), labels, [p.name for p in files], f"folder:{folder}",
                             digest.hexdigest()[:16])


# ----------------------------------------------------------------------------- schedules and scores


def inversion_config(task: str, method: str, preset: str, num_features: int, schedule: str = "") -> InversionConfig:
    """The schedule of `task` (or `schedule`, e.g. sr4-mse) for `method` at `preset` on a D with `num_features` features."""
    check_task_method(task, method)
    name = schedule or task
    if name not in DGP_PRESETS:
        raise UsageError(f"unknown DGP schedule {name!r}; known: {', '.join(DGP_PRESETS)}")
    config = DGP_PRESETS[name]
    if preset == "smoke":
        config = replace(adapt_preset(config, num_features, SMOKE_ITERATION_SCALE), select_num=SMOKE_SELECT_NUM)
    else:
        config = adapt_preset(config, num_features)  # the official schedule; ftr_num fitted only if D has fewer features
    return replace(config, update_g=method == "dgp")


def check_task_method(task: str, method: str) -> None:
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; known: {', '.join(METHODS)} (the encoder baselines (b)-(d) are not "
                          "in gbench: they need an encoder trained to invert the generator)")


def score(original: torch.Tensor, restored: torch.Tensor, task: str) -> dict[str, torch.Tensor]:
    """Per-image DGP scores of `restored` against `original` (both (B, 3, H, W) in [-1, 1]): psnr, ssim, mse and the
    published scalings ssim_x100, mse_x1e-3 (the paper's table units)."""
    target, x = (original.double() + 1) / 2, (restored.double() + 1) / 2
    err = mse(x, target)  # DGP's mse_loss_origin: the whole image, before the colorization L swap
    if task == "colorization":
        lab = rgb_to_lab(x)
        lab[:, 0] = rgb_to_lab(target)[:, 0]
        x = lab_to_rgb(lab)
    elif task == "inpainting":
        begin, end = hole_bounds(*x.shape[-2:])
        x, target = x[..., begin:end, begin:end], target[..., begin:end, begin:end]
    psnr, ssim = psnr_float(x, target, PSNR_RANGE), ssim_uniform(target, x, SSIM_RANGE)
    return {"psnr": psnr, "ssim": ssim, "mse": err, "ssim_x100": 100 * ssim, "mse_x1e-3": 1000 * err}


# ----------------------------------------------------------------------------- restoring a set


@dataclass
class RestorationResult:
    restored: torch.Tensor  # (N, 3, R, R) in [-1, 1], CPU
    degraded: torch.Tensor  # the observations (targets), (N, 3, R, R) in [-1, 1]
    labels: torch.Tensor  # the classes used (N,)
    per_image: dict[str, list[float]] = field(default_factory=dict)  # metric -> N values
    seconds: float = 0.0  # restoration time (latent selection + optimisation), all batches
    final_loss: list[float] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return len(self.restored) / self.seconds if self.seconds > 0 else float("inf")

    def means(self) -> dict[str, float]:
        """Mean over images (PSNR: the mean of per-image PSNRs, as DGP's trainer averages them)."""
        return {k: float(np.mean(v)) for k, v in self.per_image.items()}


def restore(G: nn.Module, D: nn.Module, data: RestorationImages, task: str, config: InversionConfig, *, batch_size: int = 16,
            device: torch.device | str = "cpu", progress: Callable[[int, int], None] | None = None) -> RestorationResult:
    """Degrade, restore (in batches of `batch_size`) and score every image of `data` with G (its EMA weights) and D."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    if data.resolution != G.resolution:
        raise GBenchError(f"{data.source} has {data.resolution}x{data.resolution} images, the generator makes {G.resolution}x{G.resolution}")
    device = torch.device(device)
    G, D = G.to(device), D.to(device)
    degradation = DEGRADATIONS[task]
    restored, degraded, labels, losses, per_image = [], [], [], [], {}
    seconds = 0.0
    for start in range(0, len(data), batch_size):
        stop = min(start + batch_size, len(data))
        original = data.images[start:stop].to(device).float().div(127.5).sub(1)
        target = degradation.observe(original)
        generators = [torch.Generator().manual_seed(data.seed * DGP_SEED_STRIDE + i) for i in range(start, stop)]
        began = time.perf_counter()
        result = invert(G, D, target, data.labels[start:stop].to(device), degradation, config, original=original,
                        generator=generators)
        seconds += time.perf_counter() - began
        for key, values in score(original, result.images, task).items():
            per_image.setdefault(key, []).extend(values.tolist())
        restored.append(result.images.cpu())
        degraded.append(target.cpu())
        labels.append(result.labels.cpu())
        losses.extend(result.losses["loss"][-1].tolist())
        if progress is not None:
            progress(stop, len(data))
    return RestorationResult(torch.cat(restored), torch.cat(degraded), torch.cat(labels), per_image, seconds, losses)
