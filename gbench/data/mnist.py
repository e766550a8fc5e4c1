"""MNIST from the idx files (LeCun et al. 1998), gzipped as distributed or already decompressed.

Layout (torchvision's): `<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`; the
decompressed file is used when present, else the `.gz`. idx format: big-endian header, magic
0x00000803 (uint8, 3 dims) then N, 28, 28 for images; magic 0x00000801 (uint8, 1 dim) then N for
labels; then the raw bytes, row-major. Splits: "train" (60,000) and "test" (10,000).

28 -> 32 pixels (for the 32x32 architectures) comes in two conventions, both offered and recorded
in the set's name and checksum:
- `upscale="pad"` (default): 2 zero pixels on every side; digits keep their native scale and stroke
  width (the LeNet-5 / 32x32 zero-pad convention). The background is 0, so the pad is invisible.
- `upscale="resize"`: anti-aliased bilinear resize 28 -> 32 (torchvision `Resize(32)` on PIL
  images, as in the conditional-GAN recipe of models.md section 5); strokes grow by 8/7.

Fetched from the torchvision mirrors (ossci-datasets S3, then yann.lecun.com) with the md5s of
`torchvision.datasets.MNIST.resources`, which several independent projects pin as well.

`checksum`: sha256 over the loader version, split, resolution, upscale method and the sha256 of the
decompressed idx bytes (identical for the .gz and raw copies).
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gbench.data.base import ImageSet
from gbench.data.download import DATASETS, download, fetch_command, require_files, resolve_root
from gbench.data.stl10 import resize_images
from gbench.errors import GBenchError, UsageError

FOLDER = "MNIST/raw"
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
NATIVE = 28
UPSCALE_METHODS = ("pad", "resize")
VERSION = 1  # bump when decoding changes: it is part of the checksum and so of every fingerprint


def _locate(root: Path, name: str) -> Path:
    """The decompressed idx file if present, else its .gz; the missing-file error names the .gz."""
    raw = root / FOLDER / name
    if raw.is_file():
        return raw
    require_files("mnist", root, [f"{FOLDER}/{name}.gz"])
    return raw.with_name(name + ".gz")


def read_idx(path: Path, magic: int) -> tuple[np.ndarray, str]:
    """An idx file (gz or raw) -> (uint8 array shaped by its header, sha256 of the decompressed bytes)."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:
        raise GBenchError(f"corrupt MNIST file {path}: {type(e).__name__}: {e}") from None
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise GBenchError(f"corrupt MNIST file {path}: expected idx magic 0x{magic:08x}, got 0x{data[:4].hex() or '(empty)'}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) - header != int(np.prod(shape)):
        raise GBenchError(f"corrupt MNIST file {path}: header says {shape} but holds {len(data) - header} bytes (truncated?)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape), hashlib.sha256(data).hexdigest()


def load_mnist(root: Path | str | None = None, split: str = "train", resolution: int = 28, upscale: str = "pad") -> ImageSet:
    """MNIST `split` as uint8 (N, 1, R, R), R = 28 or 32 (see the module docstring for `upscale`)."""
    if split not in SPLIT_PREFIX:
        raise UsageError(f"MNIST split must be one of {', '.join(SPLIT_PREFIX)}, got {split!r}")
    if resolution not in (28, 32):
        raise UsageError(f"MNIST resolution must be 28 or 32, got {resolution}")
    if upscale not in UPSCALE_METHODS:
        raise UsageError(f"MNIST upscale must be one of {', '.join(UPSCALE_METHODS)}, got {upscale!r}")
    root = resolve_root(root)
    prefix = SPLIT_PREFIX[split]
    images_path, labels_path = _locate(root, f"{prefix}-images-idx3-ubyte"), _locate(root, f"{prefix}-labels-idx1-ubyte")
    images, images_sha = read_idx(images_path, IMAGES_MAGIC)
    labels, labels_sha = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[1:] != (NATIVE, NATIVE) or len(labels) != len(images) or (len(labels) and labels.max() > 9):
        raise GBenchError(f"corrupt MNIST files {images_path.name}/{labels_path.name}: images {images.shape}, {len(labels)} labels")

    x = torch.from_numpy(images.copy()).unsqueeze(1)  # copy: frombuffer arrays are read-only
    method = "native"
    if resolution == 32:
        method = upscale
        margin = (32 - NATIVE) // 2
        x = F.pad(x, (margin, margin, margin, margin)) if upscale == "pad" else resize_images(x, 32)
    key = f"mnist-v{VERSION}-{split}-{resolution}-{method}-{images_sha}-{labels_sha}"
    name = f"mnist-{split}-{resolution}" + ("" if resolution == NATIVE else upscale)
    return ImageSet(x, torch.from_numpy(labels.astype(np.int64)), name, hashlib.sha256(key.encode()).hexdigest()[:16])


def fetch_mnist(root: Path | str | None = None) -> Path:
    """Download the four md5-verified .gz idx files into `root/MNIST/raw` (mirrors tried in order)."""
    root = resolve_root(root)
    folder = root / FOLDER
    for remote in DATASETS["mnist"].remotes:
        if not (folder / remote.filename.removesuffix(".gz")).is_file():
            download(remote.urls, folder / remote.filename, md5=remote.md5, command=fetch_command("mnist", root))
    return folder
