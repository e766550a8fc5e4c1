"""Format ``sngan-chainer``: pfnet-research/sngan_projection (Chainer) ``.npz`` snapshots of the CIFAR-10 SN-GAN ResNet.

Read: ``train.py`` (``extensions.snapshot_object(gen, 'ResNetGenerator_{iteration}.npz')`` and the same for the
discriminator, i.e. ``chainer.serializers.save_npz``: one array per parameter or persistent value, keyed by its
link path, e.g. ``block2/c1/W``; the full trainer ``snapshot`` nests them under ``updater/model:gen/`` and
``updater/model:dis/``), ``configs/sn_cifar10_{unconditional,conditional}.yml``, ``gen_models/resnet_32.py``,
``gen_models/resblocks.py``, ``dis_models/snresnet_32.py``, ``dis_models/resblocks.py``,
``source/links/sn_convolution_2d.py``, ``sn_linear.py``, ``sn_embed_id.py`` (W, b and the persistent ``u`` of shape
(1, rows)), ``source/functions/max_sv.py``, ``source/links/categorical_conditional_batch_normalization.py``.

Arrays are read with ``numpy.load(allow_pickle=False)``. Chainer's Linear and Convolution2D store W as
(out, in[, kh, kw]) like PyTorch, so no transposes are needed.
  G: l1/{W,b} -> l1.{weight,bias}; block{k}/{c1,c2,c_sc} -> blocks.{k-2}.{conv1,conv2,shortcut};
     block{k}/b{n}/{gamma,beta,avg_mean,avg_var,N} -> blocks.{k-2}.norm{n}.{weight,bias,running_mean,running_var,
     num_batches_tracked}; conditional BN: b{n}/gammas/W -> norm{n}.gain.weight minus 1 (gbench stores gain as 1 + table),
     b{n}/betas/W -> norm{n}.bias.weight, b{n}/avg_* -> norm{n}.norm.running_*; b5 -> out_norm; c5 -> out_conv.
  D: block1 -> blocks.0 and block{k} -> blocks.{k-1} ({c1,c2,c_sc} -> {conv1,conv2,shortcut}); l5 -> linear (no bias);
     l_y -> embed (projection). Spectral norm: Chainer runs one power iteration from the stored u at every forward
     (test time too) and divides by sigma = u' W v; (_u, _v) are set to that iteration's vectors, which gives the same
     weights in gbench's eval mode.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from gbench.official.common import (Entry, ImportResult, LayoutMismatch, build_experiment_models, check_experiment, load_exact,
                                    override_strings, spectral_norm_entries)

NAME = "sngan-chainer"
DESCRIPTION = "pfnet-research/sngan_projection Chainer .npz (ResNetGenerator_<iter>.npz / SNResNetProjectionDiscriminator_<iter>.npz / trainer snapshot)"
EXPERIMENTS = ("sngan",)
SNAPSHOT_PREFIXES = {"updater/model:gen/": "G", "updater/model:dis/": "D"}
BN_PARAMS = {"gamma": "weight", "beta": "bias", "avg_mean": "running_mean", "avg_var": "running_var", "N": "num_batches_tracked"}
CONV_NAMES = {"c1": "conv1", "c2": "conv2", "c_sc": "shortcut"}


def is_generator(state: dict) -> bool:
    return "l1/W" in state and "block2/c1/W" in state


def is_discriminator(state: dict) -> bool:
    return "block1/c1/u" in state and "l5/W" in state


def split(arrays: dict) -> dict[str, dict]:
    nested = {role: {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)} for p, role in SNAPSHOT_PREFIXES.items()}
    nested = {role: state for role, state in nested.items() if state}
    if nested:
        return nested
    if is_generator(arrays):
        return {"G": dict(arrays)}
    if is_discriminator(arrays):
        return {"D": dict(arrays)}
    raise LayoutMismatch(f"key {next(iter(arrays), '(none)')!r} belongs to neither the ResNetGenerator (l1/W, block2/c1/W) nor the "
                         "SN-ResNet discriminator (block1/c1/u, l5/W)")


def sniff(kind: str, blob) -> bool:
    if kind != "npz":
        return False
    try:
        return bool(split(blob))
    except LayoutMismatch:
        return False


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array))  # a contiguous copy that keeps 0-d arrays 0-d (ascontiguousarray would not)


def generator_entries(state: dict) -> list[Entry]:
    conditional = any(k.endswith("/gammas/W") for k in state)
    entries = []
    for key, array in state.items():
        tensor = _tensor(array)
        if m := re.fullmatch(r"block(\d)/(c1|c2|c_sc)/(W|b)", key):
            target = f"blocks.{int(m[1]) - 2}.{CONV_NAMES[m[2]]}.{'weight' if m[3] == 'W' else 'bias'}"
        elif m := re.fullmatch(r"block(\d)/b(\d)/(gammas|betas)/W", key):
            table, convert = ("gain", lambda t: t - 1) if m[3] == "gammas" else ("bias", lambda t: t)
            entries.append(Entry(key, f"blocks.{int(m[1]) - 2}.norm{m[2]}.{table}.weight", tensor, convert=convert))
            continue
        elif m := re.fullmatch(r"block(\d)/b(\d)/(gamma|beta|avg_mean|avg_var|N)", key):
            inner = ".norm" if conditional else ""  # conditional BN: the statistics live in its affine-free BatchNorm2d
            target = f"blocks.{int(m[1]) - 2}.norm{m[2]}{inner}.{BN_PARAMS[m[3]]}"
        elif m := re.fullmatch(r"b5/(gamma|beta|avg_mean|avg_var|N)", key):
            target = f"out_norm.{BN_PARAMS[m[1]]}"
        elif m := re.fullmatch(r"(l1|c5)/(W|b)", key):
            target = f"{'l1' if m[1] == 'l1' else 'out_conv'}.{'weight' if m[2] == 'W' else 'bias'}"
        else:
            target = key
        entries.append(Entry(key, target, tensor, official_shape=(lambda s: ()) if key.endswith("/N") else tuple))
    return entries


def discriminator_entries(state: dict) -> list[Entry]:
    entries = []
    for key, array in state.items():
        layer, _, param = key.rpartition("/")
        if m := re.fullmatch(r"block(\d)/(c1|c2|c_sc)", layer):
            target = f"blocks.{int(m[1]) - 1}.{CONV_NAMES[m[2]]}"
        elif layer in ("l5", "l_y"):
            target = "linear" if layer == "l5" else "embed"
        else:
            entries.append(Entry(key, key, _tensor(array)))
            continue
        if param == "W" and f"{layer}/u" in state:
            entries += spectral_norm_entries(f"{layer}/", f"{target}.", _tensor(array), _tensor(state[f"{layer}/u"]), "W", "u",
                                             lambda rows: (1, rows))
        elif param == "b":
            entries.append(Entry(key, f"{target}.bias", _tensor(array)))
        elif param != "u":
            entries.append(Entry(key, f"{target}.{param}", _tensor(array)))
    return entries


def convert(blob: dict, experiment: str | None, source: str, extra: tuple[str, ...] = ()) -> ImportResult:
    check_experiment(experiment, EXPERIMENTS, NAME)
    experiment = experiment or EXPERIMENTS[0]
    parts = split(blob)
    changes, notes = {}, []
    if "G" in parts and (tables := [v for k, v in parts["G"].items() if k.endswith("/gammas/W")]):
        changes["model.g_kwargs"] = {"num_classes": int(tables[0].shape[0])}
    if "D" in parts and "l_y/W" in parts["D"]:
        changes["model.d_kwargs"] = {"num_classes": int(parts["D"]["l_y/W"].shape[0])}
    overrides = tuple(s for section, values in changes.items() for s in override_strings(section, values))
    if overrides:
        notes.append("class-conditional snapshot (configs/sn_cifar10_conditional.yml): " + " ".join(overrides))
    _, G, D = build_experiment_models(experiment, overrides, extra)
    modules, counts = {}, {}
    for name, state in parts.items():
        module, entries = (G, generator_entries(state)) if name == "G" else (D, discriminator_entries(state))
        counts[name] = load_exact(module, entries, f"{experiment} {name}")
        modules[name] = module
    if "D" in parts:
        notes.append("spectral norm: (u, v) set to one power iteration from the stored u, as Chainer computes at test time")
    return ImportResult(NAME, experiment, modules, overrides + tuple(extra), notes, source, counts)
