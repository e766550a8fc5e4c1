"""Atomic file writing, write checks made before long work, and hashing (checkpoints, caches, reports, run logs)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from gbench.errors import GBenchError


def _atomic_write(path: Path, write) -> None:
    """Write through a temp file in the same folder, fsync, then rename over `path` (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a shared run folder needs the user's usual mode
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_torch_save(obj, path: Path) -> None:
    import torch

    _atomic_write(path, lambda f: torch.save(obj, f))


def atomic_save_npy(array, path: Path) -> None:
    import numpy as np

    _atomic_write(path, lambda f: np.save(f, array))


def atomic_write_bytes(data: bytes, path: Path) -> None:
    _atomic_write(path, lambda f: f.write(data))


def atomic_write_text(text: str, path: Path) -> None:
    atomic_write_bytes(text.encode("utf-8"), path)


def atomic_write_json(obj, path: Path) -> None:
    atomic_write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n", path)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_state_dict(state: dict) -> str:
    """A content hash of tensors (names, shapes, dtypes, bytes), independent of pickling details."""
    import torch

    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}:{tuple(state[name].shape)}:{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def ensure_writable_dir(path: Path | str, what: str) -> Path:
    """Prove, before any long work, that `path` can be created and written: its nearest existing ancestor is a
    folder in which a file can really be written (a real probe: root passes permission bits, not a file in the
    way). Creates nothing. One GBenchError naming `what` (e.g. "--out") otherwise."""
    path = Path(path).expanduser()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise GBenchError(f"{what}: cannot create {path}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".gbench-write-check.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise GBenchError(f"{what}: cannot write under {existing} ({exc.strerror or type(exc).__name__}); choose a writable "
                          "folder") from None
    return path


def ensure_writable_file(path: Path | str, what: str) -> Path:
    """`path` is not a folder and its folder can be created and written (checked before computing its content)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise GBenchError(f"{what}: {path} is a folder; give a file name")
    ensure_writable_dir(path.parent, what)
    return path


def read_json(path: Path | str, remedy: str):
    """A JSON file a user may have damaged (a run's config.json / eval.json): its content, or one GBenchError naming
    the file, what is wrong and `remedy` (what to do)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise GBenchError(f"{path} is missing; {remedy}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not valid JSON: {' '.join(str(exc).split())[:80]}"
        raise GBenchError(f"{path} is unreadable ({reason}); {remedy}") from None


def read_jsonl(path: Path | str) -> list[dict]:
    """The readable lines of a JSON-lines log; unreadable lines (a write cut off by a kill) are skipped with a warning."""
    from gbench.errors import warn

    path = Path(path)
    if not path.exists():
        return []
    rows, broken = [], 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            broken += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            broken += 1
    if broken:
        warn(f"{path}: skipped {broken} unreadable line(s)")
    return rows
