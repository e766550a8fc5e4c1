"""Format ``transgan-v1``: checkpoints of the TransGAN v1 code (VITA-Group/TransGAN at c1524fb4).

Read: ``test.py`` (reads epoch, best_fid, gen_state_dict, dis_state_dict, gen_optimizer, dis_optimizer and
avg_gen_state_dict into DataParallel nets, evaluates the EMA generator at epoch 300), ``models/TransGAN_8_8_1.py``
(CIFAR XL), ``TransGAN_8_8_G2_1.py`` (STL-10; S/M/L widths), ``Celeba64_TransGAN.py``, ``models/ViT_8_8.py`` (D),
``exps/{cifar10,stl10,celeba64}_test.sh``. The v1 commit has no training script ("Coming soon"); the writer of this
dict is the AutoGAN-derived ``save_checkpoint`` call that HEAD's ``train_derived.py`` still has (epoch, gen_model,
dis_model, the three state dicts, both optimizers, best_fid, path_helper, fixed_z).

Official generator keys -> gbench (``reference_models/transgan.py``):
  l1.*                            -> latent_to_tokens.*
  pos_embed_{k}                   -> pos_embeds.{k-1}
  blocks.{i}.<block>              -> stages.0.{i}.<block>      (<block>: norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2)
  upsample_blocks.{s}.{j}.<block> -> stages.{s+1}.{j}.<block>
  deconv.0.*                      -> to_rgb.*
  to_rgb.* (a BatchNorm2d that forward never calls) -> dropped
The discriminator (``ViT_8_8``) has gbench's names already. DataParallel's ``module.`` prefix is removed; the numpy
``best_fid`` and the other non-tensor entries are read by the weights-only loader and ignored.

The architecture comes from ``experiment`` or, without one, from the tensor shapes (latent width, stage-1 width,
bottom width, blocks per stage), matched against every v1 experiment. The generators are built as
``gbench eval --checkpoint`` builds them, with ``train.co_train_sr=false`` (the official generator has no MT-CT
embedding) and the locality epoch set to 300, the epoch the official ``test.py`` evaluates at (global attention).
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace

from gbench.errors import GBenchError
from gbench.official.common import (AUTOGAN_CHECKPOINT_KEYS, ImportResult, LayoutMismatch, build_experiment_models, check_experiment,
                                    experiment_model, gan_parts, load_exact, rename_entries, sniff_gan_parts)

NAME = "transgan-v1"
DESCRIPTION = "VITA-Group/TransGAN v1 code checkpoint .pth (gen/avg_gen/dis_state_dict, or a generator state dict)"
EXPERIMENTS = ("transgan-s", "transgan-m", "transgan-l", "transgan-xl", "transgan-stl10", "transgan-celeba64")
CONTAINER = AUTOGAN_CHECKPOINT_KEYS
OVERRIDES = ("train.co_train_sr=false",)
OFFICIAL_TEST_EPOCH = 300  # test.py: `epoch = 300` before validate()


def is_generator(state: dict) -> bool:
    return "l1.weight" in state and "pos_embed_1" in state and "blocks.0.norm1.weight" in state


def is_discriminator(state: dict) -> bool:
    return "patch_embed.weight" in state and "cls_token" in state and "blocks.0.norm1.weight" in state


def sniff(kind: str, blob) -> bool:
    return sniff_gan_parts(kind, blob, CONTAINER, is_generator, is_discriminator)


def generator_architecture(state: dict) -> dict:
    """latent_dim, embed_dim, bottom_width and depths read off a v1 generator state dict."""
    def count(pattern: str) -> int:
        return len({m.group(1) for k in state if (m := re.fullmatch(pattern, k))})

    stages = count(r"pos_embed_(\d+)")
    depths = (count(r"blocks\.(\d+)\.norm1\.weight"),) + tuple(
        count(rf"upsample_blocks\.{s}\.(\d+)\.norm1\.weight") for s in range(stages - 1))
    tokens, width = state["pos_embed_1"].shape[1:]
    return {"latent_dim": state["l1.weight"].shape[1], "embed_dim": width, "bottom_width": round(tokens ** 0.5), "depths": depths}


def experiment_architecture(experiment: str, extra: tuple[str, ...] = ()) -> dict:
    from reference_models.transgan import GENERATOR_CONFIGS

    model = experiment_model(experiment, extra)
    cfg = replace(GENERATOR_CONFIGS[model.generator], **dict(model.g_kwargs))
    return {"latent_dim": cfg.latent_dim, "embed_dim": cfg.embed_dim, "bottom_width": cfg.bottom_width, "depths": cfg.depths}


def infer_experiment(state: dict, extra: tuple[str, ...] = ()) -> str:
    arch = generator_architecture(state)
    for experiment in EXPERIMENTS:
        if experiment_architecture(experiment, extra) == arch:
            return experiment
    described = ", ".join(f"{k} {v}" for k, v in arch.items())
    raise LayoutMismatch(f"its generator ({described}) is none of the v1 experiments ({', '.join(EXPERIMENTS)})")


def rename_generator(key: str) -> str | None:
    if key.startswith("to_rgb."):
        return None
    if key.startswith("l1."):
        return "latent_to_tokens." + key[3:]
    if m := re.fullmatch(r"pos_embed_(\d+)", key):
        return f"pos_embeds.{int(m.group(1)) - 1}"
    if m := re.fullmatch(r"blocks\.(\d+)\.(.+)", key):
        return f"stages.0.{m.group(1)}.{m.group(2)}"
    if m := re.fullmatch(r"upsample_blocks\.(\d+)\.(\d+)\.(.+)", key):
        return f"stages.{int(m.group(1)) + 1}.{m.group(2)}.{m.group(3)}"
    if key.startswith("deconv.0."):
        return "to_rgb." + key[len("deconv.0."):]
    return key


def convert(blob, experiment: str | None, source: str, extra: tuple[str, ...] = ()) -> ImportResult:
    check_experiment(experiment, EXPERIMENTS, NAME)
    parts = gan_parts(blob, CONTAINER, is_generator, is_discriminator, "the v1 generator (l1, pos_embed_1, blocks.*)",
                      "the v1 ViT discriminator (patch_embed, cls_token, blocks.*)")
    notes = []
    if experiment is None:
        generator = parts.get("G_ema", parts.get("G"))
        if generator is None:
            raise GBenchError(f"{source} holds only a discriminator; pass --experiment (one of {', '.join(EXPERIMENTS)})")
        for name in ("G_ema", "G"):
            if name in parts and not is_generator(parts[name]):
                raise LayoutMismatch(f"{CONTAINER[name]!r} is not a v1 generator (no 'l1.weight' / 'pos_embed_1' / 'blocks.0.norm1.weight')")
        experiment = infer_experiment(generator, extra)
        arch = experiment_architecture(experiment, extra)
        notes.append(f"architecture inferred from the tensor shapes: {experiment} (latent {arch['latent_dim']}, width "
                     f"{arch['embed_dim']}, depths {arch['depths']}, bottom {arch['bottom_width']})")
    else:
        notes.append(f"architecture from --experiment {experiment}")

    _, G, D = build_experiment_models(experiment, OVERRIDES, extra)
    G.set_data_epoch(OFFICIAL_TEST_EPOCH)
    modules, counts = {}, {}
    for name, state in parts.items():
        dropped: list[str] = []
        if name == "D":
            module, entries = D, rename_entries(state, lambda k: k, dropped)
        else:
            module, entries = copy.deepcopy(G), rename_entries(state, rename_generator, dropped)
        counts[name] = load_exact(module, entries, f"{experiment} {'D' if name == 'D' else 'G'}",
                                  keep_own=lambda k: k == "locality._extra_state")
        if dropped:
            notes.append(f"{name}: dropped {len(dropped)} tensors of {dropped[0].split('.')[0]}.* (a BatchNorm2d the official "
                         "forward never calls)")
        modules[name] = module
    notes.append(f"locality epoch set to {OFFICIAL_TEST_EPOCH} as the official test.py evaluates (global attention)")
    notes.append("built with train.co_train_sr=false: the official generator has no MT-CT embedding")
    return ImportResult(NAME, experiment, modules, OVERRIDES + tuple(extra), notes, source, counts)

