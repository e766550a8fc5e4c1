"""Where gbench keeps its files: `$GBENCH_HOME` (default `~/.cache/gbench`) and the folders under it.

Read on every call, so tests and users can switch `GBENCH_HOME` at any time.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def gbench_home() -> Path:
    """`$GBENCH_HOME`, else `~/.cache/gbench`."""
    return Path(os.environ.get("GBENCH_HOME") or Path.home() / ".cache" / "gbench").expanduser()


def assets_dir() -> Path:
    """Pretrained weights (Inception, VGG, segmenters, released checkpoints)."""
    return gbench_home() / "assets"


def datasets_dir() -> Path:
    """The default data root of `gbench data fetch` and the dataset loaders."""
    return gbench_home() / "datasets"


def cache_dir() -> Path:
    """Reference statistics, trained toy extractors, the sha256 cache."""
    return gbench_home() / "cache"


def source_commit(short: bool = False) -> str:
    """The git commit of gbench's source tree ("" outside a git checkout), recorded beside results."""
    root = Path(__file__).resolve().parents[1]
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", *(["--short"] if short else []), "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
