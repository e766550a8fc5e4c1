"""CIFAR-10 from the official python pickles (Krizhevsky 2009; https://www.cs.toronto.edu/~kriz/cifar.html).

Layout (torchvision's): `<root>/cifar-10-batches-py/data_batch_1..5` (train, 5 x 10,000) and
`test_batch` (10,000). Each pickle is a dict with `b"data"`: uint8 (10000, 3072), one image per row
as 1024 red, 1024 green, 1024 blue values, each plane row-major; and `b"labels"`: 10,000 ints in 0..9.
So a plain reshape to (N, 3, 32, 32) is exact; nothing is resized or flipped.

The pickles are read with a restricted unpickler that only rebuilds numpy arrays and plain containers:
a pickle can run arbitrary code, and a dataset folder is not trusted input.

`checksum` is a content hash: sha256 over the loader version, the split and the sha256 of each pickle's
bytes (the archive md5 identifies the same content but the archive is not needed after extraction).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np
import torch

from gbench.data.base import ImageSet
from gbench.data.download import DATASETS, download, extract_archive, fetch_command, require_files, resolve_root
from gbench.errors import GBenchError, UsageError

FOLDER = "cifar-10-batches-py"
SPLIT_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
VERSION = 1  # bump when decoding changes: it is part of the checksum and so of every fingerprint


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Allows the few globals a numpy-array pickle needs, and nothing else."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a dataset pickle")
        return super().find_class(module, name)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """One CIFAR pickle -> (uint8 (N, 3, 32, 32), int64 (N,), sha256 of the file). Bad files raise
    GBenchError naming the file."""
    raw = path.read_bytes()
    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as e:  # truncated pickles raise EOFError/UnpicklingError/ValueError/KeyError...
        raise GBenchError(f"corrupt CIFAR-10 file {path}: {type(e).__name__}: {e}; re-run `gbench data fetch cifar10`") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise GBenchError(f"corrupt CIFAR-10 file {path}: data {data.shape} and {len(labels)} labels (expected (N, 3072) and N)")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise GBenchError(f"corrupt CIFAR-10 file {path}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels, hashlib.sha256(raw).hexdigest()


def load_cifar10(root: Path | str | None = None, split: str = "train") -> ImageSet:
    """CIFAR-10 `split` ("train": 50,000 or "test": 10,000) as uint8 (N, 3, 32, 32) with labels 0..9."""
    if split not in SPLIT_FILES:
        raise UsageError(f"CIFAR-10 split must be one of {', '.join(SPLIT_FILES)}, got {split!r}")
    root = resolve_root(root)
    files = [f"{FOLDER}/{name}" for name in SPLIT_FILES[split]]
    require_files("cifar10", root, files)
    images, labels, digests = zip(*(read_batch(root / f) for f in files))
    checksum = hashlib.sha256(f"cifar10-v{VERSION}-{split}-{'-'.join(digests)}".encode()).hexdigest()[:16]
    return ImageSet(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)), f"cifar10-{split}", checksum)


def fetch_cifar10(root: Path | str | None = None) -> Path:
    """Download `cifar-10-python.tar.gz` (md5-verified) into `root` and extract it; no-op when present."""
    root = resolve_root(root)
    if all((root / rel).exists() for rel in DATASETS["cifar10"].expected):
        return root / FOLDER
    remote = DATASETS["cifar10"].remotes[0]
    archive = download(remote.urls, root / remote.filename, md5=remote.md5, command=fetch_command("cifar10", root))
    return extract_archive(archive, root, FOLDER)
