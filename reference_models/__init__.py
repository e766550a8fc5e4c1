"""Reference GAN architectures: pure ``nn.Module`` code, one file per family, importable alone.

This package imports nothing from ``gbench``. Each family module defines two dicts,
``GENERATORS`` and ``DISCRIMINATORS``, mapping a model name to a builder ``f(**overrides) -> nn.Module``
(overrides are fields of the family's config dataclass; unknown fields raise ``TypeError``).

Contract every generator follows (the trainers and evaluators rely on it):
- ``forward(z)`` or, when ``num_classes > 0``, ``forward(z, y)``, or for text-conditional generators (attribute
  ``embedding_dim``, e.g. ``text2image``) ``forward(z, text_embedding)``; returns images in about [-1, 1], (B, C, H, W);
- attributes ``latent_dim`` (int), ``num_classes`` (0 = unconditional), ``latent_distribution``
  ("normal" or "uniform"), ``resolution`` (output side) and ``channels``.
Discriminators map images (and labels when conditional) to logits of shape (B,) or (B, 1).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import pkgutil
import traceback

from torch import nn

# Every module of this package except the shared ``layers`` is a family.
FAMILIES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "layers" and not m.name.startswith("_")))


def _table(kind: str) -> dict:
    table: dict = {}
    for family in FAMILIES:
        module = importlib.import_module(f"{__name__}.{family}")
        table.update(getattr(module, kind, {}))
    return table


def generator_names() -> list[str]:
    return sorted(_table("GENERATORS"))


def discriminator_names() -> list[str]:
    return sorted(_table("DISCRIMINATORS"))


def _build(kind: str, name: str, overrides: dict) -> nn.Module:
    table = _table(kind)
    if name not in table:
        hint = difflib.get_close_matches(name, table, n=1)
        raise KeyError(f"unknown model {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(sorted(table))}"))
    try:
        return table[name](**overrides)
    except TypeError as exc:
        config = _config_being_replaced(exc)
        known = [f.name for f in dataclasses.fields(config)] if config is not None else []
        bad = [key for key in overrides if key not in known]
        if not known or not bad:
            raise
        hint = difflib.get_close_matches(bad[0], known, n=1)
        raise TypeError(f"{name} has no config field {bad[0]!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                        + f"; its fields: {', '.join(known)}") from None


def _config_being_replaced(exc: TypeError):
    """The config dataclass a builder's `dataclasses.replace(CONFIG, **overrides)` rejected (every family builds
    its model that way), found in the traceback; None when the TypeError came from elsewhere."""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        if frame.f_globals.get("__name__") == "dataclasses" and frame.f_code.co_name in ("replace", "_replace"):
            obj = frame.f_locals.get("obj")
            return obj if dataclasses.is_dataclass(obj) else None
    return None


def build_generator(name: str, **overrides) -> nn.Module:
    """Build the generator of model ``name`` (e.g. ``"dcgan"``, ``"transgan-s"``) with config overrides."""
    return _build("GENERATORS", name, overrides)


def build_discriminator(name: str, **overrides) -> nn.Module:
    """Build the discriminator of model ``name`` with config overrides."""
    return _build("DISCRIMINATORS", name, overrides)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters (BN running stats and spectral-norm u/v buffers are not parameters)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
