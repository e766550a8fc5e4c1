"""Format ``stylegan2-ada``: NVlabs/stylegan2-ada-pytorch network pickles (the CIFAR-10 release ``cifar10.pkl``).

Read: ``training/training_loop.py`` (a snapshot pickles dict(training_set_kwargs, G, D, G_ema, augment_pipe)),
``torch_utils/persistence.py`` (every network class is a persistent class: its pickle is
``_reconstruct_persistent_obj(meta)`` with meta = dict(type, version, module_src, class_name, state), ``state`` the
module's ``__dict__`` with ``_init_args`` / ``_init_kwargs``), ``legacy.py`` (``load_network_pkl``),
``training/networks.py`` and ``train.py`` (``--cfg=cifar``: map=2, fmaps=1 -> channel_base 32768, mbstd 32,
D architecture 'orig', conv_clamp 256, num_fp16_res 4).

The pickle is read by ``gbench.official.unpickle`` (no imports, the pickled source code never compiled). Tensors are
collected from the persistent objects' ``_parameters`` / ``_buffers`` / ``_modules``; the architecture comes from
the ``_init_kwargs`` and is built as gbench's ``stylegan2-ada-cifar10`` model (``reference_models/stylegan2.py``;
its docstring lists what differs from the DiffAugment configuration of the ``stylegan2`` experiment), with
``model.g_kwargs`` / ``model.d_kwargs`` overrides for any field where the pickle differs from that config.

Keys -> gbench:  mapping.fc{i} -> mapping.layers.{i};  mapping.embed, mapping.w_avg unchanged;
synthesis.b{res} -> synthesis.blocks.{log2(res) - 2} (const, conv0, conv1, torgb unchanged inside);
D: b{res} -> blocks.{log2(R) - log2(res)} (fromrgb, conv0, conv1[, skip]); mapping.fc{i} -> mapping.layers.{i};
b4.{conv, fc, out} -> epilogue.{conv, fc, out}. The ``resample_filter`` buffers are checked to be the [1, 3, 3, 1]
filter gbench derives and dropped; ``augment_pipe`` is not a network and is ignored.

Pickles converted from the TensorFlow release by ``legacy.py`` carry that converter's init kwargs: a conditional D
whose label mapping has 0 hidden layers (lr multiplier 0.1) and possibly ``mbstd_group_size`` None (the whole batch);
both become ``model.d_kwargs`` overrides like any other difference.
"""

from __future__ import annotations

import copy
import math
import re

import torch

from gbench.official.common import Entry, ImportResult, LayoutMismatch, build_experiment_models, check_experiment, load_exact, override_strings
from gbench.official.unpickle import PersistentObject

NAME = "stylegan2-ada"
DESCRIPTION = "NVlabs/stylegan2-ada-pytorch network pickle (.pkl with G, D, G_ema; the CIFAR-10 release cifar10.pkl)"
EXPERIMENTS = ("stylegan2",)
MODEL = "stylegan2-ada-cifar10"
NETWORKS = {"G": "Generator", "G_ema": "Generator", "D": "Discriminator"}
WHOLE_BATCH = 1 << 30  # minibatch-stddev group "None" (the whole batch): gbench takes min(group, batch)
MAPPING_KWARGS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"}
SYNTHESIS_KWARGS = {"channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture", "resample_filter", "use_noise",
                    "activation", "fp16_channels_last", "kernel_size", "channels_last"}


def sniff(kind: str, blob) -> bool:
    return kind == "pickle" and isinstance(blob, dict) and any(
        isinstance(blob.get(k), PersistentObject) and blob[k].class_name == v for k, v in NETWORKS.items())


def _unsupported(where: str, kwargs: dict, allowed: set, fixed: dict) -> None:
    for key, value in kwargs.items():
        if key not in allowed:
            raise LayoutMismatch(f"{where} has init argument {key!r}, which gbench's StyleGAN2 does not model")
        if key in fixed and value not in fixed[key]:
            raise LayoutMismatch(f"{where} has {key}={value!r}; gbench's StyleGAN2 supports {fixed[key]}")


def generator_fields(obj: PersistentObject) -> dict:
    kw = obj.init_kwargs
    mapping, synthesis = dict(kw.get("mapping_kwargs") or {}), dict(kw.get("synthesis_kwargs") or {})
    w_dim = kw["w_dim"]
    _unsupported("G mapping_kwargs", mapping, MAPPING_KWARGS,
                 {"embed_features": (None, w_dim), "layer_features": (None, w_dim), "activation": ("lrelu",)})
    _unsupported("G synthesis_kwargs", synthesis, SYNTHESIS_KWARGS,
                 {"architecture": ("skip",), "resample_filter": ([1, 3, 3, 1], (1, 3, 3, 1)), "use_noise": (True,),
                  "activation": ("lrelu",), "kernel_size": (3,)})
    return {"resolution": kw["img_resolution"], "channels": kw["img_channels"], "latent_dim": kw["z_dim"], "w_dim": w_dim,
            "num_classes": kw["c_dim"], "mapping_layers": mapping.get("num_layers", 8),
            "mapping_lr_multiplier": mapping.get("lr_multiplier", 0.01), "w_avg_beta": mapping.get("w_avg_beta", 0.995),
            "channel_base": synthesis.get("channel_base", 32768), "channel_max": synthesis.get("channel_max", 512),
            "conv_clamp": synthesis.get("conv_clamp")}


def discriminator_fields(obj: PersistentObject) -> dict:
    kw = obj.init_kwargs
    epilogue, mapping, block = (dict(kw.get(k) or {}) for k in ("epilogue_kwargs", "mapping_kwargs", "block_kwargs"))
    group = epilogue.get("mbstd_group_size", 4)  # None = the whole minibatch (legacy.py's TF default)
    _unsupported("D", {k: v for k, v in kw.items() if k not in ("epilogue_kwargs", "mapping_kwargs", "block_kwargs")},
                 {"c_dim", "img_resolution", "img_channels", "architecture", "channel_base", "channel_max", "num_fp16_res", "conv_clamp",
                  "cmap_dim"}, {"architecture": ("resnet", "orig")})
    _unsupported("D epilogue_kwargs", epilogue, {"mbstd_group_size", "mbstd_num_channels", "activation"}, {"activation": ("lrelu",)})
    channels_at_4 = min(kw.get("channel_base", 32768) // 4, kw.get("channel_max", 512))
    _unsupported("D mapping_kwargs", mapping, MAPPING_KWARGS,
                 {"activation": ("lrelu",), "embed_features": (None, channels_at_4), "layer_features": (None, channels_at_4)})
    _unsupported("D block_kwargs", block, {"activation", "resample_filter", "fp16_channels_last", "freeze_layers"},
                 {"activation": ("lrelu",), "resample_filter": ([1, 3, 3, 1], (1, 3, 3, 1))})
    if kw.get("c_dim", 0) and kw.get("cmap_dim") not in (None, channels_at_4):
        raise LayoutMismatch(f"D has cmap_dim={kw['cmap_dim']}; gbench's conditional D maps labels to {channels_at_4} features")
    return {"resolution": kw["img_resolution"], "channels": kw["img_channels"], "num_classes": kw.get("c_dim", 0),
            "d_architecture": kw.get("architecture", "resnet"), "channel_base": kw.get("channel_base", 32768),
            "channel_max": kw.get("channel_max", 512), "conv_clamp": kw.get("conv_clamp"),
            "mbstd_group_size": WHOLE_BATCH if group is None else group, "mbstd_num_features": epilogue.get("mbstd_num_channels", 1),
            "d_mapping_layers": mapping.get("num_layers", 8), "mapping_lr_multiplier": mapping.get("lr_multiplier", 0.01)}


def _changes(fields: dict) -> dict:
    from dataclasses import asdict

    from reference_models.stylegan2 import CONFIGS

    def same(a, b) -> bool:
        numbers = isinstance(a, (int, float)) and isinstance(b, (int, float))
        return a == b or (numbers and float(a) == float(b))

    base = asdict(CONFIGS[MODEL])
    return {k: v for k, v in fields.items() if not same(base[k], v)}


def _rename(key: str, kind: str, resolution: int, dropped: list[str]) -> str | None:
    if key.endswith("resample_filter"):
        dropped.append(key)
        return None
    if m := re.fullmatch(r"mapping\.fc(\d+)\.(.+)", key):
        return f"mapping.layers.{m.group(1)}.{m.group(2)}"
    if kind == "G":
        if m := re.fullmatch(r"synthesis\.b(\d+)\.(.+)", key):
            return f"synthesis.blocks.{int(math.log2(int(m.group(1)))) - 2}.{m.group(2)}"
        return key
    if m := re.fullmatch(r"b4\.(conv|fc|out)\.(.+)", key):
        return f"epilogue.{m.group(1)}.{m.group(2)}"
    if m := re.fullmatch(r"b(\d+)\.(.+)", key):
        return f"blocks.{int(math.log2(resolution)) - int(math.log2(int(m.group(1))))}.{m.group(2)}"
    return key


def convert(blob, experiment: str | None, source: str, extra: tuple[str, ...] = ()) -> ImportResult:
    from reference_models.stylegan2 import fir_kernel

    check_experiment(experiment, EXPERIMENTS, NAME)
    experiment = experiment or EXPERIMENTS[0]
    if not isinstance(blob, dict):
        raise LayoutMismatch(f"the pickle holds a {type(blob).__name__}, not the snapshot dict (G, D, G_ema, ...)")
    networks = {}
    for name, class_name in NETWORKS.items():
        obj = blob.get(name)
        if obj is None:
            continue
        if not isinstance(obj, PersistentObject) or obj.class_name != class_name:
            raise LayoutMismatch(f"{name!r} is {obj!r}, not a persistent {class_name}")
        networks[name] = obj
    if not networks:
        raise LayoutMismatch(f"no G, D or G_ema network in the pickle (keys: {', '.join(map(repr, list(blob)[:8]))})")
    generator = networks.get("G_ema") or networks.get("G")
    g_changes = _changes(generator_fields(generator)) if generator else {}
    d_changes = _changes(discriminator_fields(networks["D"])) if "D" in networks else {}
    overrides = (f"model.generator={MODEL}", f"model.discriminator={MODEL}") + override_strings("model.g_kwargs", g_changes) \
        + override_strings("model.d_kwargs", d_changes)
    _, G, D = build_experiment_models(experiment, overrides, extra)
    kernel = fir_kernel((1, 3, 3, 1))
    modules, counts, notes, dropped = {}, {}, [], []
    for name, obj in networks.items():
        kind = "D" if name == "D" else "G"
        tensors = obj.named_tensors()
        for key, tensor in tensors.items():
            if key.endswith("resample_filter") and (tensor.shape != kernel.shape or not torch.allclose(tensor.float(), kernel)):
                raise LayoutMismatch(f"{name} {key!r} is not the [1, 3, 3, 1] filter gbench uses")
        entries = [Entry(k, target, t) for k, t in tensors.items()
                   if (target := _rename(k, kind, D.resolution, dropped)) is not None]
        module = D if kind == "D" else copy.deepcopy(G)
        counts[name] = load_exact(module, entries, f"{MODEL} {kind}")
        modules[name] = module
    notes.append(f"built as {MODEL}: " + " ".join(overrides))
    notes.append(f"dropped {len(dropped)} resample_filter buffers (equal to the [1, 3, 3, 1] filter gbench derives)")
    if generator is not None and generator.init_kwargs.get("synthesis_kwargs", {}).get("num_fp16_res"):
        notes.append(f"the official network ran its {generator.init_kwargs['synthesis_kwargs']['num_fp16_res']} highest resolutions "
                     "in fp16; gbench runs fp32")
    ignored = [k for k in blob if k not in NETWORKS]
    if ignored:
        notes.append(f"not networks, ignored: {', '.join(map(str, ignored))}")
    return ImportResult(NAME, experiment, modules, overrides + tuple(extra), notes, source, counts)
