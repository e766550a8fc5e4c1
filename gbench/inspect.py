"""Facts about models and the environment, for `gbench models` and `gbench doctor`."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import shutil
from pathlib import Path

from gbench.config import RunConfig
from gbench.io import atomic_write_json
from gbench.paths import cache_dir


@contextlib.contextmanager
def _no_spectral_norm_warmup():
    """Spectral norm's 15 power iterations at registration add no parameters and are slow through the meta device's
    decompositions (about 5 s for BigGAN-128's ~100 layers): skipped while a model is built only to be counted."""
    from torch.nn.utils import parametrizations

    original = parametrizations._SpectralNorm._power_method
    parametrizations._SpectralNorm._power_method = lambda self, weight_mat, n_power_iterations: None
    try:
        yield
    finally:
        parametrizations._SpectralNorm._power_method = original


@functools.lru_cache(maxsize=1)
def _models_source_hash() -> str:
    """sha256 over reference_models' source files: cached counts are reused until a model file changes."""
    import importlib.util

    folder = Path(importlib.util.find_spec("reference_models").origin).parent
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _count(kind: str, name: str, kwargs: dict) -> int:
    """Trainable parameters, built on the meta device (allocates nothing: a 134M-parameter model is instant)."""
    import torch

    import reference_models

    build = reference_models.build_generator if kind == "G" else reference_models.build_discriminator
    try:
        with torch.device("meta"), _no_spectral_norm_warmup():
            return reference_models.count_parameters(build(name, **kwargs))
    except Exception:
        return reference_models.count_parameters(build(name, **kwargs))


def parameter_count_table(cfgs: list[RunConfig]) -> list[tuple[int, int]]:
    """(G, D) trainable parameters of each config (D = 0 when the recipe has none). Counts are cached in
    `$GBENCH_HOME/cache/parameter-counts.json`, keyed by the model name, its kwargs and the hash of the
    reference_models sources, so `gbench models` answers without importing torch once they are known."""
    path = cache_dir() / "parameter-counts.json"
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    source = _models_source_hash()
    missing = False

    def count(kind: str, name: str, kwargs: dict) -> int:
        nonlocal missing
        key = f"{source}|{kind}|{name}|{json.dumps(kwargs, sort_keys=True, default=list)}"
        if key not in cache:
            cache[key], missing = _count(kind, name, kwargs), True
        return cache[key]

    out = [(count("G", c.model.generator, c.model.g_kwargs), count("D", c.model.discriminator, c.model.d_kwargs) if c.model.discriminator
            else 0) for c in cfgs]
    if missing:
        try:
            atomic_write_json({k: v for k, v in cache.items() if k.startswith(source)}, path)
        except OSError:
            pass  # a read-only GBENCH_HOME only costs speed here
    return out


def parameter_counts(cfg: RunConfig) -> tuple[int, int]:
    """(G, D) trainable parameters of one config (see `parameter_count_table`)."""
    return parameter_count_table([cfg])[0]


def doctor_report() -> dict[str, list[tuple[str, str]]]:
    import torch

    from gbench.assets import asset_status
    from gbench.data.download import dataset_status, is_offline
    from gbench.errors import GBenchError
    from gbench.io import ensure_writable_dir
    from gbench.paths import datasets_dir, gbench_home

    home = gbench_home()
    try:
        ensure_writable_dir(home, "GBENCH_HOME")
        writable = "yes"
    except GBenchError as exc:
        writable = f"NO: {exc}"
    cuda = torch.cuda.is_available()
    env = [
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("CUDA", f"yes: {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}" if cuda else "no (CPU only)"),
        ("CPU threads", str(torch.get_num_threads())),
        ("GBENCH_HOME", f"{home}" + ("" if os.environ.get("GBENCH_HOME") else " (default)")),
        ("GBENCH_HOME writable", writable),
        ("offline mode", f"yes (GBENCH_OFFLINE={os.environ.get('GBENCH_OFFLINE')})" if is_offline() else
         "no" + (f" (GBENCH_OFFLINE={os.environ['GBENCH_OFFLINE']!r} is not 1/true/yes/on)" if os.environ.get("GBENCH_OFFLINE") else "")),
        ("GBENCH_LEADERBOARDS", os.environ.get("GBENCH_LEADERBOARDS") or "(unset: the committed leaderboards/)"),
    ]
    probe = home if home.exists() else home.parent if home.parent.exists() else "/"
    env.append(("free disk", f"{shutil.disk_usage(probe).free / 2**30:.1f} GiB at {probe}"))
    assets = [(name, f"present: {path}" if ok else f"missing (expected {path})") for name, ok, path in asset_status()]
    data = [(name, f"present: {path}" if ok else f"missing (gbench data fetch {name})") for name, ok, path in dataset_status(datasets_dir())]
    return {"environment": env, "assets": assets, f"datasets ({datasets_dir()})": data}
