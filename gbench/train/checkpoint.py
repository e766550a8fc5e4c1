"""Full-state checkpoints: written atomically, the last two kept, a corrupt latest one skipped.

A checkpoint holds everything a resumed run needs to end exactly where an uninterrupted run would:
models, EMA, optimizers, the step, the data-order position and every RNG state. Files are loaded
with `torch.load(..., weights_only=True)`, so RNG states are stored as tensors and plain values.
"""

from __future__ import annotations

import random
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from gbench.io import atomic_torch_save

KEEP = 2
_NAME = re.compile(r"step-(\d+)\.pt$")


def rng_state() -> dict:
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "cached_gaussian": float(np_gauss)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_paths(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, newest first."""
    folder = Path(run_dir) / "checkpoints"
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := _NAME.search(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def save_checkpoint(run_dir: Path, step: int, state: dict) -> Path:
    path = Path(run_dir) / "checkpoints" / f"step-{step:08d}.pt"
    atomic_torch_save(state, path)
    for old in checkpoint_paths(run_dir)[KEEP:]:
        old.unlink(missing_ok=True)
    return path


def load_latest_checkpoint(run_dir: Path, map_location="cpu") -> tuple[dict, Path] | tuple[None, None]:
    """The newest readable checkpoint; an unreadable one is skipped with a warning (and left on disk)."""
    for path in checkpoint_paths(run_dir):
        try:
            return torch.load(path, map_location=map_location, weights_only=True), path
        except Exception as exc:  # truncated or corrupt file: fall back to the previous one
            warnings.warn(f"checkpoint {path.name} is unreadable ({type(exc).__name__}); falling back to the previous one", stacklevel=2)
    return None, None
