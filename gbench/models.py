"""The nn.Modules of a run config: G and D from reference_models with the experiment's kwargs."""

from __future__ import annotations

from torch import nn

import reference_models
from gbench.config import RunConfig
from gbench.errors import GBenchError


def build_models(cfg: RunConfig) -> tuple[nn.Module, nn.Module]:
    """G and D of the experiment, with the training switches that live in the model (TransGAN)."""
    g_kwargs = dict(cfg.model.g_kwargs)
    if cfg.train.local_init:
        g_kwargs["local_init"] = cfg.train.local_init
    if cfg.train.co_train_sr:
        g_kwargs["co_train_sr"] = True
    try:
        G = reference_models.build_generator(cfg.model.generator, **g_kwargs)
        D = reference_models.build_discriminator(cfg.model.discriminator, **cfg.model.d_kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        raise GBenchError(f"cannot build the models of {cfg.experiment}: {msg}") from None
    return G, D
