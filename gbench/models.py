"""The nn.Modules of a run config: G and D from reference_models with the experiment's kwargs."""

from __future__ import annotations

from torch import nn

import reference_models
from gbench.config import RunConfig
from gbench.errors import UsageError


def build_models(cfg: RunConfig) -> tuple[nn.Module, nn.Module | None]:
    """G and D of the experiment (D None when the recipe has none), with the training switches that live in the
    model (TransGAN)."""
    g_kwargs = dict(cfg.model.g_kwargs)
    if cfg.train.local_init:
        g_kwargs["local_init"] = cfg.train.local_init
    if cfg.train.co_train_sr:
        g_kwargs["co_train_sr"] = True
    try:
        G = reference_models.build_generator(cfg.model.generator, **g_kwargs)
        D = reference_models.build_discriminator(cfg.model.discriminator, **cfg.model.d_kwargs) if cfg.model.discriminator else None
    except (KeyError, TypeError, ValueError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        raise UsageError(f"cannot build the models of {cfg.experiment}: {msg}") from None
    return G, D


def check_models(cfg: RunConfig) -> None:
    """Build G and D on the meta device (no memory, no time): bad model kwargs are refused before data is loaded
    or a run directory exists, with the model's valid fields in the message."""
    import torch

    try:
        with torch.device("meta"):
            build_models(cfg)
    except (NotImplementedError, RuntimeError):
        pass  # an op without a meta kernel at construction: the real build reports any genuine error
