"""Hash-keyed, atomically written cache of reference statistics under `$GBENCH_HOME/cache/`.

The key hashes the protocol constants, the extractor weights' sha256 and the reference data's
checksum (torch-fidelity's own cache key has no weights hash, so fake test weights could poison
it). Each file stores a digest of its tensors; a file that fails to load or to match its digest is
reported and recomputed, never used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from gbench.errors import warn
from gbench.io import atomic_torch_save, sha256_state_dict


def cache_key(**parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=list).encode()).hexdigest()


def cache_path(kind: str, name: str, key: str) -> Path:
    from gbench.paths import cache_dir

    return cache_dir() / kind / f"{name}-{key[:16]}.pt"


def load_cached(path: Path, key: str) -> dict | None:
    """The cached tensors, or None when absent, unreadable or not matching key/digest."""
    if not path.exists():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("key") == key and sha256_state_dict(blob["tensors"]) == blob.get("digest"):
            return blob["tensors"]
    except Exception:
        pass
    warn(f"cache file {path} is corrupt or stale; recomputing it")
    return None


def save_cached(path: Path, key: str, tensors: dict[str, torch.Tensor]) -> None:
    atomic_torch_save({"key": key, "digest": sha256_state_dict(tensors), "tensors": tensors}, path)


def load_or_train(path: Path, build, train) -> tuple:
    """A small protocol model trained once and cached with its weights' sha256 (the toy classifier and
    the toy segmenter): (model in eval mode, sha256). A cache file that fails to load or to match its
    digest is retrained, never used. Building the module draws its init from the global RNG, so it runs
    under `fork_rng` (evaluation must not move the training RNG). Training runs on one CPU thread: CPU
    convolutions sum in an order that depends on the thread count, so weights trained on 1 and on 2 threads
    differ (and so would every fingerprint and number under the protocol)."""
    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        model = build()
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if sha256_state_dict(state["weights"]) == state["sha256"]:
                model.load_state_dict(state["weights"])
                return model.eval(), state["sha256"]
        except Exception:
            pass
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = train()
    finally:
        torch.set_num_threads(threads)
    digest = sha256_state_dict(model.state_dict())
    atomic_torch_save({"weights": model.state_dict(), "sha256": digest}, path)
    return model.eval(), digest
