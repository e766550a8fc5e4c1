"""Format ``autogan``: the TAMU-VITA/AutoGAN release (``autogan_cifar10_a.pth``; the STL-10 generator of
``exps/autogan_cifar10_a2stl10.sh``) and its training checkpoints.

Read: ``test.py`` (loads ``checkpoint['avg_gen_state_dict']`` when present, else the whole file, into an unwrapped
``models.autogan_cifar10_a.Generator``), ``train.py`` (checkpoint dict: epoch, gen_model, dis_model,
gen_state_dict, dis_state_dict, avg_gen_state_dict, optimizers, best_fid, path_helper), ``models/autogan_cifar10_a.py``,
``models/building_blocks.py``.

The generator's keys are gbench's (``reference_models/autogan.py`` kept the official names: l1, cell{1,2,3}.{c1, c2,
c_sc, skip_in_ops.N}, to_rgb.0 (BatchNorm2d), to_rgb.2 (conv)). The experiment follows the first Linear's width:
4x4x256 outputs -> ``autogan`` (32x32), 6x6x256 -> ``autogan-stl10`` (48x48).

Discriminator: block1 -> blocks.0 (c1 -> conv1, c2 -> conv2, c_sc -> shortcut), block{2,3,4} -> blocks.{1,2,3}, l5 ->
linear. The official layers use ``torch.nn.utils.spectral_norm`` (hooks): ``weight_orig``, ``weight_u``, ``weight_v``
map to the parametrization's ``original``, ``0._u``, ``0._v`` (both compute W / (u^T W v) in eval mode). Files from
PyTorch < 1.1 have no ``weight_v`` but the normalised ``weight``; v is then solved from it as PyTorch's own
state-dict hook does (v = pinv(W_orig) u, scaled so that u^T W_orig v = sigma = W_orig / W).
"""

from __future__ import annotations

import copy
import re

import torch

from gbench.errors import GBenchError
from gbench.official.common import (AUTOGAN_CHECKPOINT_KEYS, Entry, ImportResult, LayoutMismatch, build_experiment_models,
                                    check_experiment, gan_parts, load_exact, sniff_gan_parts)

NAME = "autogan"
DESCRIPTION = "TAMU-VITA/AutoGAN generator state dict (autogan_cifar10_a.pth) or training checkpoint (gen/avg_gen/dis_state_dict)"
EXPERIMENTS = ("autogan", "autogan-stl10")
CONTAINER = AUTOGAN_CHECKPOINT_KEYS
BOTTOM_WIDTHS = {4: "autogan", 6: "autogan-stl10"}


def is_generator(state: dict) -> bool:
    return "l1.weight" in state and "cell1.c1.weight" in state


def is_discriminator(state: dict) -> bool:
    return "block1.c1.weight_orig" in state or ("block1.c1.weight" in state and "l5.weight" in state)


def sniff(kind: str, blob) -> bool:
    return sniff_gan_parts(kind, blob, CONTAINER, is_generator, is_discriminator)


def _solve_v(weight_orig: torch.Tensor, weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """PyTorch's pre-1.1 upgrade: the v with u^T W v = sigma, W = W_orig / sigma (torch.nn.utils.spectral_norm takes
    sigma = mean(W_orig / W) and solves pinv(W^T W) W^T u; here sigma is the least-squares ratio, which also survives
    zero weights, and pinv(W) u, the same vector from a cheaper SVD)."""
    w = weight_orig.reshape(weight_orig.shape[0], -1).double()
    normalised = weight.reshape(w.shape).double()
    sigma = (w * normalised).sum() / (normalised * normalised).sum()
    v = torch.linalg.pinv(w) @ u.double()
    return (v * sigma / (u.double() @ (w @ v))).to(weight_orig.dtype)


def discriminator_entries(state: dict) -> list[Entry]:
    layers = {"c1": "conv1", "c2": "conv2", "c_sc": "shortcut"}
    entries = []
    for key, tensor in state.items():
        if m := re.fullmatch(r"block(\d)\.(c1|c2|c_sc)\.(.+)", key):
            prefix, rest = f"blocks.{int(m.group(1)) - 1}.{layers[m.group(2)]}.", m.group(3)
            layer = key[: -len(rest)]
        elif m := re.fullmatch(r"l5\.(.+)", key):
            prefix, rest, layer = "linear.", m.group(1), "l5."
        else:
            entries.append(Entry(key, key, tensor))
            continue
        if rest == "weight" and layer + "weight_orig" in state:
            continue  # pre-1.1 files: the normalised weight, only used to solve v below
        target = {"weight_orig": "parametrizations.weight.original", "weight_u": "parametrizations.weight.0._u",
                  "weight_v": "parametrizations.weight.0._v"}.get(rest, rest)
        entries.append(Entry(key, prefix + target, tensor))
        if rest == "weight_u" and layer + "weight_v" not in state:
            if layer + "weight" not in state or layer + "weight_orig" not in state:
                raise LayoutMismatch(f"{layer}weight_u has neither {layer}weight_v nor {layer}weight to recover v from")
            v = _solve_v(state[layer + "weight_orig"], state[layer + "weight"], tensor)
            entries.append(Entry(key, prefix + "parametrizations.weight.0._v", v, official_shape=None))
    return entries


def convert(blob, experiment: str | None, source: str, extra: tuple[str, ...] = ()) -> ImportResult:
    check_experiment(experiment, EXPERIMENTS, NAME)
    parts = gan_parts(blob, CONTAINER, is_generator, is_discriminator, "the AutoGAN generator (l1, cell1..3, to_rgb)",
                      "its discriminator (block1..4, l5)")
    notes = []
    generator = parts.get("G_ema", parts.get("G"))
    if experiment is None:
        if generator is None or "l1.weight" not in generator:
            raise GBenchError(f"{source} holds no AutoGAN generator to infer the experiment from; pass --experiment "
                              f"(one of {', '.join(EXPERIMENTS)})")
        cells = generator["l1.weight"].shape[0] // generator["cell1.c1.weight"].shape[1] if "cell1.c1.weight" in generator else 0
        bottom = round(cells ** 0.5)
        if bottom not in BOTTOM_WIDTHS or bottom * bottom != cells:
            raise LayoutMismatch(f"'l1.weight' has shape {tuple(generator['l1.weight'].shape)}: bottom width {cells ** 0.5:.2f} is "
                                 f"neither 4 (autogan) nor 6 (autogan-stl10)")
        experiment = BOTTOM_WIDTHS[bottom]
        notes.append(f"experiment inferred from the tensor shapes: {experiment} (bottom width {bottom})")
    _, G, D = build_experiment_models(experiment, (), extra)
    modules, counts = {}, {}
    for name, state in parts.items():
        if name == "D":
            module, entries = D, discriminator_entries(state)
        else:
            module, entries = copy.deepcopy(G), [Entry(k, k, t) for k, t in state.items()]
        counts[name] = load_exact(module, entries, f"{experiment} {'D' if name == 'D' else 'G'}")
        modules[name] = module
    if "D" in parts and not any(k.endswith("weight_v") for k in parts["D"]):
        notes.append("D: spectral-norm v solved from the stored normalised weights (a PyTorch < 1.1 file)")
    return ImportResult(NAME, experiment, modules, tuple(extra), notes, source, counts)
