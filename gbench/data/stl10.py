"""STL-10 from the official binaries (Coates et al. 2011; https://cs.stanford.edu/~acoates/stl10/).

Layout (torchvision's): `<root>/stl10_binary/{train,test,unlabeled}_X.bin` and `{train,test}_y.bin`.
Each image is 3 x 96 x 96 uint8 bytes stored channel by channel, each channel **column-major**
(x is the slow index, y the fast one), so a file reshapes to (N, 3, X, Y) and is transposed to
(N, 3, Y, X). Labels are one byte each, 1..10, mapped to 0..9. Sizes: 5,000 train, 8,000 test,
100,000 unlabeled; GAN papers (AutoGAN, SN-GAN, TransGAN) train on `train+unlabeled` (105,000).

Resize to 48x48 (the GAN convention): `F.interpolate(mode="bilinear", antialias=True,
align_corners=False)` on float pixels, rounded half-to-even and clamped to uint8. This is what
torchvision's `Resize(48)` does to PIL images in the AutoGAN/TransGAN data pipelines (PIL's bilinear
filter widens with the scale, i.e. anti-aliased); it agrees with PIL within +-1 grey level (PIL uses
fixed-point arithmetic). Bicubic was not chosen: torch's bicubic (a=-0.75) and PIL's (a=-0.5) differ
by up to 5 levels. The method is part of the checksum, hence of every protocol fingerprint. At
`resolution=96` images are returned untouched. Processing is vectorised in chunks of 1,024 images
read through a memory map, so the 2.8 GB unlabeled file is never held in memory at full resolution.

`checksum`: sha256 over the loader version, split, resolution, resize method and the (cached) sha256
of every file read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gbench.data.base import ImageSet
from gbench.data.download import DATASETS, cached_sha256, download, extract_archive, fetch_command, progress_bar, require_files, resolve_root
from gbench.errors import GBenchError, UsageError

FOLDER = "stl10_binary"
NATIVE = 96
IMAGE_BYTES = 3 * NATIVE * NATIVE
SPLITS = {"train": ("train",), "test": ("test",), "unlabeled": ("unlabeled",), "train+unlabeled": ("train", "unlabeled")}
CLASS_NAMES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
RESIZE_METHOD = "bilinear-antialias"
CHUNK = 1024
VERSION = 1  # bump when decoding or resizing changes: it is part of the checksum and so of every fingerprint


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size) with anti-aliased bilinear interpolation
    (PIL-compatible within +-1; see the module docstring). Shared by the STL-10, CelebA and MNIST loaders."""
    if images.shape[-2:] == (size, size):
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def _image_file(root: Path, part: str) -> np.ndarray:
    path = root / FOLDER / f"{part}_X.bin"
    nbytes = path.stat().st_size
    if nbytes == 0 or nbytes % IMAGE_BYTES:
        raise GBenchError(f"corrupt STL-10 file {path}: {nbytes} bytes is not a whole number of 3x96x96 images (truncated?)")
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(nbytes // IMAGE_BYTES, 3, NATIVE, NATIVE))


def _labels(root: Path, part: str, count: int) -> np.ndarray:
    path = root / FOLDER / f"{part}_y.bin"
    labels = np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != count or (count and (labels.min() < 0 or labels.max() > 9)):
        raise GBenchError(f"corrupt STL-10 file {path}: {len(labels)} labels (expected {count}, values 1..10)")
    return labels


def load_stl10(root: Path | str | None = None, split: str = "train", resolution: int = 48) -> ImageSet:
    """STL-10 `split` ("train", "test", "unlabeled" or "train+unlabeled") as uint8 (N, 3, R, R).
    Labels 0..9 for train/test; None for the splits containing unlabeled images."""
    if split not in SPLITS:
        raise UsageError(f"STL-10 split must be one of {', '.join(SPLITS)}, got {split!r}")
    if not 1 <= resolution <= NATIVE:
        raise UsageError(f"STL-10 resolution must be in 1..{NATIVE}, got {resolution}")
    root = resolve_root(root)
    parts = SPLITS[split]
    labelled = "unlabeled" not in parts
    needed = [f"{FOLDER}/{p}_X.bin" for p in parts] + ([f"{FOLDER}/{p}_y.bin" for p in parts] if labelled else [])
    require_files("stl10", root, needed)

    sources = [_image_file(root, p) for p in parts]
    total = sum(len(s) for s in sources)
    images = torch.empty((total, 3, resolution, resolution), dtype=torch.uint8)
    with progress_bar() as progress:
        task = progress.add_task(f"STL-10 {split} -> {resolution}px", total=total)
        offset = 0
        for source in sources:
            for start in range(0, len(source), CHUNK):
                block = torch.from_numpy(np.array(source[start : start + CHUNK])).transpose(2, 3)  # copy off the memmap; (n,3,X,Y) -> (n,3,Y,X)
                images[offset : offset + len(block)] = resize_images(block, resolution)
                offset += len(block)
                progress.advance(task, len(block))
    labels = torch.from_numpy(np.concatenate([_labels(root, p, len(s)) for p, s in zip(parts, sources)])) if labelled else None

    digests = "-".join(cached_sha256(root / rel) for rel in needed)
    key = f"stl10-v{VERSION}-{split}-{resolution}-{RESIZE_METHOD}-{digests}"
    return ImageSet(images, labels, f"stl10-{split}-{resolution}", hashlib.sha256(key.encode()).hexdigest()[:16])


def fetch_stl10(root: Path | str | None = None) -> Path:
    """Download `stl10_binary.tar.gz` (2.64 GB, md5-verified) into `root` and extract it; no-op when present."""
    root = resolve_root(root)
    if all((root / rel).exists() for rel in DATASETS["stl10"].expected):
        return root / FOLDER
    remote = DATASETS["stl10"].remotes[0]
    archive = download(remote.urls, root / remote.filename, md5=remote.md5, command=fetch_command("stl10", root))
    return extract_archive(archive, root, FOLDER)
