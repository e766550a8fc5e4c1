"""Facts about models and the environment, for `gbench models` and `gbench doctor`."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import shutil

import torch

import reference_models
from gbench.config import RunConfig


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


@functools.lru_cache(maxsize=None)
def _count(kind: str, name: str, kwargs_json: str) -> int:
    import json

    build = reference_models.build_generator if kind == "G" else reference_models.build_discriminator
    kwargs = json.loads(kwargs_json)
    try:  # the meta device allocates nothing: counting a 134M-parameter model is instant
        with torch.device("meta"), _no_spectral_norm_warmup():
            return reference_models.count_parameters(build(name, **kwargs))
    except Exception:
        return reference_models.count_parameters(build(name, **kwargs))


def parameter_counts(cfg: RunConfig) -> tuple[int, int]:
    """(G, D) trainable parameters of an experiment config (D = 0 when the recipe has none)."""
    import json

    g = _count("G", cfg.model.generator, json.dumps(cfg.model.g_kwargs, sort_keys=True))
    d = _count("D", cfg.model.discriminator, json.dumps(cfg.model.d_kwargs, sort_keys=True)) if cfg.model.discriminator else 0
    return g, d


def doctor_report() -> dict[str, list[tuple[str, str]]]:
    from gbench.assets import asset_status
    from gbench.data.download import dataset_status
    from gbench.paths import datasets_dir, gbench_home

    home = gbench_home()
    cuda = torch.cuda.is_available()
    env = [
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("CUDA", f"yes: {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}" if cuda else "no (CPU only)"),
        ("CPU threads", str(torch.get_num_threads())),
        ("GBENCH_HOME", f"{home}" + ("" if os.environ.get("GBENCH_HOME") else " (default)")),
        ("offline mode", "yes (GBENCH_OFFLINE=1)" if os.environ.get("GBENCH_OFFLINE") == "1" else "no"),
    ]
    probe = home if home.exists() else home.parent if home.parent.exists() else "/"
    env.append(("free disk", f"{shutil.disk_usage(probe).free / 2**30:.1f} GiB at {probe}"))
    assets = [(name, f"present: {path}" if ok else f"missing (expected {path})") for name, ok, path in asset_status()]
    data = [(name, f"present: {path}" if ok else f"missing (gbench data fetch {name})") for name, ok, path in dataset_status(datasets_dir())]
    return {"environment": env, "assets": assets, f"datasets ({datasets_dir()})": data}
