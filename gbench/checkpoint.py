"""Full-state checkpoints: written atomically, the last two kept, a corrupt latest one skipped.

A checkpoint holds everything a resumed run needs to end exactly where an uninterrupted run would:
models, EMA, optimizers, the step, the data-order position and every RNG state. Files are loaded
with `torch.load(..., weights_only=True)`, so RNG states are stored as tensors and plain values.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gbench.errors import GBenchError, warn
from gbench.io import atomic_torch_save, sha256_state_dict

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
            return load_weights_file(path, "checkpoint", map_location), path
        except GBenchError as exc:  # truncated or corrupt file: fall back to the previous one
            warn(f"{exc}; falling back to the previous checkpoint (the file is left on disk)")
    return None, None


def load_weights_file(path: Path, what: str = "checkpoint", map_location="cpu"):
    """`torch.load(path, weights_only=True)` with one-line errors: a file holding Python objects beyond tensors and
    plain containers is refused (it may carry code, and gbench never unpickles that), a damaged one is named as such."""
    import pickle

    path = Path(path)
    if not path.is_file():
        raise GBenchError(f"{what} {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise GBenchError(f"{what} {path} holds Python objects other than tensors and plain containers (it may carry code), so "
                          "gbench refuses to load it; save just the weights (a dict of tensors) with torch.save and use that file") from None
    except Exception as exc:  # truncated or corrupt archives: torch raises many types
        reason = " ".join(str(exc).split())[:160]
        raise GBenchError(f"{what} {path} is unreadable (truncated or corrupt: {type(exc).__name__}: {reason})") from None


# ----------------------------------------------------------------------------- reading generators back


def strip_prefixes(state: dict) -> dict:
    for prefix in ("module.", "_orig_mod."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def load_generator_weights(G: nn.Module, state: dict, what: str, where: str) -> None:
    state = strip_prefixes(dict(state))
    try:
        result = G.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches: keep the first line of torch's message
        detail = " ".join(str(exc).split("\n\t")[1:2]) or str(exc).splitlines()[0]
        raise GBenchError(f"{where} does not fit the generator of {what}: {detail.strip()}") from None
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"{len(result.missing_keys)} missing keys (e.g. {result.missing_keys[0]})")
        if result.unexpected_keys:
            parts.append(f"{len(result.unexpected_keys)} unexpected keys (e.g. {result.unexpected_keys[0]})")
        raise GBenchError(f"{where} does not fit the generator of {what}: " + ", ".join(parts))


def generator_state(blob, where: str) -> tuple[dict, str, int | None]:
    """(generator state_dict, "EMA" | "G" | "state_dict", training step) from a loaded checkpoint file."""
    if isinstance(blob, dict) and isinstance(blob.get("trainer"), dict):
        blob = blob["trainer"]
    if isinstance(blob, dict) and isinstance(blob.get("G"), dict):
        step = blob.get("step")
        if isinstance(blob.get("G_ema"), dict):
            return blob["G_ema"], "EMA", step
        return blob["G"], "G", step
    if isinstance(blob, dict) and blob and all(isinstance(v, torch.Tensor) for v in blob.values()):
        return blob, "state_dict", None
    raise GBenchError(f"{where} is neither a gbench checkpoint nor a generator state_dict (a dict of tensors)")


def read_checkpoint(path: Path):
    return load_weights_file(path, "checkpoint")


INIT_HINT = ("train the SRResNet first (`gbench run srresnet-x4 --preset <same preset>`) or point "
             "train.init_from at its run dir or a checkpoint file")


def load_generator_state(spec: str | Path, what: str = "train.init_from", hint: str = INIT_HINT) -> tuple[dict, dict]:
    """(G state_dict, provenance) from a run dir (its latest checkpoint), a gbench checkpoint file, a file
    holding {"G": ...} or a plain generator state_dict. Errors start with `what` and end with `hint`."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise GBenchError(f"{what}: {path} does not exist; {hint}")
    if path.is_dir():
        state, ckpt = load_latest_checkpoint(path)
        if state is None:
            raise GBenchError(f"{what}: no readable checkpoint in {path / 'checkpoints'}; {hint}")
    else:
        state, ckpt = load_weights_file(path, what), path
    step = None
    if isinstance(state, dict) and "trainer" in state:
        step, state = state["trainer"].get("step"), state["trainer"]
    if isinstance(state, dict) and "G" in state:
        state = state["G"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GBenchError(f"{what}: {ckpt} holds no generator state_dict")
    return state, {"path": str(ckpt), "step": step, "sha256": sha256_state_dict(state)}
