"""Small dataset files in their real on-disk formats, written by the tests (never downloaded)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def write_cifar(root: Path, per_batch: int = 4, test_count: int = 3, seed: int = 0, high: int = 256) -> dict[str, tuple]:
    """CIFAR-10's python layout: python-2-style pickles (protocol 2, bytes keys) of uint8 (N, 3072) rows in
    `root/cifar-10-batches-py/`; returns {batch name: (rows, labels)}."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, count in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", test_count)]:
        data = rng.integers(0, high, (count, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, count)]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": [b"x.png"] * count}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        rows[name] = (data, np.array(labels))
    return rows
