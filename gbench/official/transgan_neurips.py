"""Format ``transgan-neurips``: checkpoints of the TransGAN HEAD code (VITA-Group/TransGAN at 6b85440c, the NeurIPS model).

Read: ``test.py`` (loads ``checkpoint['avg_gen_state_dict']``, or the whole file as a state dict, into a
DataParallel ``models_search.<gen_model>.Generator``), ``train_derived.py`` (the same checkpoint dict as v1, written
from DDP-wrapped nets), ``exps/cifar_test.py`` (``--gen_model ViT_custom_rp --dis_model ViT_custom_scale2_rp_noise``,
latent 256, gf_dim 1024, g_depth 5,4,2, df_dim 384, d_depth 3, patch 2), ``models_search/ViT_custom_rp.py``,
``ViT_custom_scale2_rp_noise.py``, and the Aug-2021 pair ``ViT_custom.py`` / ``ViT_custom_scale2.py``.

Generator keys -> gbench (``reference_models/transgan.py``):
  l1.* -> latent_to_tokens.*;  pos_embed_{k} -> pos_embeds.{k-1};  deconv.0.* -> to_rgb.*
  blocks.block.{i}.<b> -> stages.0.{i}.<b>;  upsample_blocks.{s}.block.{j}.<b> -> stages.{s+1}.{j}.<b>
Discriminator keys: fRGB_1 -> patch_embed_fine, fRGB_2 -> patch_embed_coarse, pos_embed_1 -> pos_embed_fine,
pos_embed_2 -> pos_embed_coarse, blocks_1.{i} -> blocks_fine.{i}, blocks_2.{i} -> blocks_coarse.{i},
last_block.0 -> last_block, norm.norm -> norm (cls_token, head unchanged).
Inside a block <b>: ``norm1.norm``/``norm2.norm`` (CustomNorm wrapping LayerNorm) -> ``norm1``/``norm2``;
``attn.noise_strength_1`` -> ``attn.noise_strength``; ``attn.relative_position_bias_table`` of shape
((2w-1)^2, heads), row (dy + w-1) * (2w-1) + (dx + w-1), -> ``attn.relative_position.table`` (heads, 2w-1, 2w-1),
i.e. the transpose reshaped; ``attn.relative_position_index`` (a buffer the code derives from w) is checked against
the standard Swin index and dropped.

Variants are told apart by their keys: relative-position tables present -> ``ViT_custom_rp`` (gbench's default),
noise strengths instead -> the ``ViT_custom`` generator of the Aug-2021 checkpoint (``model.g_kwargs.relative_position=false``,
``model.g_kwargs.noise_injection=true``; the file's Jun-2021 version had neither); a D with tables but no noise ->
``ViT_custom_scale2`` (``model.d_kwargs.noise_injection=false``). The overrides are reported. ``--latent_norm`` (off
in the CIFAR scripts) is not implemented, so it cannot be honoured.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import replace

import torch

from gbench.official.common import (AUTOGAN_CHECKPOINT_KEYS, Entry, ImportResult, LayoutMismatch, build_experiment_models,
                                    check_experiment, experiment_model, gan_parts, load_exact, override_strings, sniff_gan_parts)

NAME = "transgan-neurips"
DESCRIPTION = "VITA-Group/TransGAN HEAD code checkpoint (ViT_custom_rp G / ViT_custom_scale2_rp_noise D; also the Aug-2021 ViT_custom pair)"
EXPERIMENTS = ("transgan-neurips",)
CONTAINER = AUTOGAN_CHECKPOINT_KEYS
TABLE, INDEX, NOISE = "attn.relative_position_bias_table", "attn.relative_position_index", "attn.noise_strength_1"


def is_generator(state: dict) -> bool:
    return "l1.weight" in state and "pos_embed_1" in state and any(k.startswith("blocks.block.0.") for k in state)


def is_discriminator(state: dict) -> bool:
    return "fRGB_1.weight" in state and "fRGB_2.weight" in state


def sniff(kind: str, blob) -> bool:
    return sniff_gan_parts(kind, blob, CONTAINER, is_generator, is_discriminator)


def swin_index(window: int) -> torch.Tensor:
    """The official ``relative_position_index``: (dy + w-1) * (2w-1) + (dx + w-1) for every token pair, raster order."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def _block_entries(official: str, target: str, rest: str, tensor: torch.Tensor, dropped: list[str]) -> list[Entry]:
    if rest == INDEX:
        window = math.isqrt(tensor.shape[0])
        if tensor.ndim != 2 or window * window != tensor.shape[0] or not torch.equal(tensor.long(), swin_index(window)):
            raise LayoutMismatch(f"{official!r} is not the standard relative-position index of a square token grid")
        dropped.append(official)
        return []
    if rest == TABLE:
        def table_shape(shape):  # gbench (heads, 2w-1, 2w-1) <- official ((2w-1)^2, heads)
            return (shape[1] * shape[2], shape[0])

        def to_gbench(t):
            side = math.isqrt(t.shape[0])
            return t.t().reshape(t.shape[1], side, side)

        return [Entry(official, target + "attn.relative_position.table", tensor, table_shape, to_gbench)]
    rest = rest.replace("norm1.norm.", "norm1.").replace("norm2.norm.", "norm2.")
    if rest == NOISE:
        rest = "attn.noise_strength"
    return [Entry(official, target + rest, tensor)]


def _entries(state: dict, renames: list[tuple[str, str]], dropped: list[str]) -> list[Entry]:
    """Block keys through ``_block_entries``; other keys by the first matching (regex, replacement) of ``renames``."""
    entries = []
    for key, tensor in state.items():
        for pattern, replacement in renames:
            if m := re.fullmatch(pattern, key):
                if "<block>" in replacement:
                    index = {k: (int(v) + 1 if k == "stage" else v) for k, v in m.groupdict().items() if k != "rest"}
                    target = replacement.replace("<block>", "").format(**index)
                    entries += _block_entries(key, target, m.group("rest"), tensor, dropped)
                else:
                    entries.append(Entry(key, m.expand(replacement), tensor))
                break
        else:
            entries.append(Entry(key, key, tensor))  # unknown: load_exact names it as unexpected
    return entries


GENERATOR_RENAMES = [
    (r"l1\.(.+)", r"latent_to_tokens.\1"),
    (r"pos_embed_1", "pos_embeds.0"), (r"pos_embed_2", "pos_embeds.1"), (r"pos_embed_3", "pos_embeds.2"),
    (r"blocks\.block\.(?P<i>\d+)\.(?P<rest>.+)", "stages.0.{i}.<block>"),
    (r"upsample_blocks\.(?P<stage>\d+)\.block\.(?P<j>\d+)\.(?P<rest>.+)", "stages.{stage}.{j}.<block>"),
    (r"deconv\.0\.(.+)", r"to_rgb.\1"),
]
DISCRIMINATOR_RENAMES = [
    (r"fRGB_1\.(.+)", r"patch_embed_fine.\1"), (r"fRGB_2\.(.+)", r"patch_embed_coarse.\1"),
    (r"pos_embed_1", "pos_embed_fine"), (r"pos_embed_2", "pos_embed_coarse"),
    (r"blocks_1\.(?P<i>\d+)\.(?P<rest>.+)", "blocks_fine.{i}.<block>"),
    (r"blocks_2\.(?P<i>\d+)\.(?P<rest>.+)", "blocks_coarse.{i}.<block>"),
    (r"last_block\.0\.(?P<rest>.+)", "last_block.<block>"),
    (r"norm\.norm\.(.+)", r"norm.\1"),
]


def _variant(state: dict) -> dict:
    return {"relative_position": any(k.endswith(TABLE) for k in state), "noise_injection": any(k.endswith(NOISE) for k in state)}


def _kwarg_overrides(experiment: str, parts: dict, extra: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    from reference_models.transgan import DISCRIMINATOR_CONFIGS, GENERATOR_CONFIGS

    model = experiment_model(experiment, extra)
    defaults = {"G": replace(GENERATOR_CONFIGS[model.generator], **dict(model.g_kwargs)),
                "D": replace(DISCRIMINATOR_CONFIGS[model.discriminator], **dict(model.d_kwargs))}
    overrides, notes = (), []
    for kind, section, label in (("G", "model.g_kwargs", "generator"), ("D", "model.d_kwargs", "discriminator")):
        states = [s for name, s in parts.items() if name.startswith(kind)]
        if not states:
            continue
        found = _variant(states[0])
        changed = {k: v for k, v in found.items() if getattr(defaults[kind], k) != v}
        overrides += override_strings(section, changed)
        if changed:
            notes.append(f"{label}: relative-position tables {'present' if found['relative_position'] else 'absent'}, noise injection "
                         f"{'present' if found['noise_injection'] else 'absent'} (an earlier ViT_custom / ViT_custom_scale2 variant): "
                         + " ".join(override_strings(section, changed)))
    return overrides, notes


def convert(blob, experiment: str | None, source: str, extra: tuple[str, ...] = ()) -> ImportResult:
    check_experiment(experiment, EXPERIMENTS, NAME)
    parts = gan_parts(blob, CONTAINER, is_generator, is_discriminator, "the HEAD generator (l1, pos_embed_1, blocks.block.*)",
                      "the two-scale discriminator (fRGB_1, fRGB_2, blocks_1.*)")
    experiment = experiment or EXPERIMENTS[0]
    overrides, notes = _kwarg_overrides(experiment, parts, extra)
    _, G, D = build_experiment_models(experiment, overrides, extra)
    modules, counts, dropped = {}, {}, []
    for name, state in parts.items():
        is_d = name == "D"
        module = D if is_d else copy.deepcopy(G)
        entries = _entries(state, DISCRIMINATOR_RENAMES if is_d else GENERATOR_RENAMES, dropped)
        counts[name] = load_exact(module, entries, f"{experiment} {'D' if is_d else 'G'}")
        modules[name] = module
    if dropped:
        notes.append(f"dropped {len(dropped)} relative_position_index buffers (checked equal to the standard index gbench derives)")
    if any(k.endswith(TABLE) for s in parts.values() for k in s):
        notes.append("relative-position tables transposed from ((2w-1)^2, heads) to gbench's (heads, 2w-1, 2w-1)")
    return ImportResult(NAME, experiment, modules, overrides + tuple(extra), notes, source, counts)
