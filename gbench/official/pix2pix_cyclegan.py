"""Format ``pix2pix-cyclegan``: junyanz/pytorch-CycleGAN-and-pix2pix network files (``latest_net_G.pth``,
``latest_net_D.pth``, CycleGAN's ``*_net_G_A.pth`` / ``*_net_D_A.pth``; the model-zoo ``.pth`` files are saved as
``latest_net_G.pth``).

Read: ``models/networks.py`` (``UnetGenerator`` / ``UnetSkipConnectionBlock``, ``ResnetGenerator`` / ``ResnetBlock``,
``NLayerDiscriminator``, ``PixelDiscriminator``), ``models/base_model.py`` (``save_networks`` stores the unwrapped
net's state dict; ``load_networks`` deletes ``_metadata`` and patches InstanceNorm entries from PyTorch < 0.4:
``running_mean`` / ``running_var`` of InstanceNorm layers without running statistics, and ``num_batches_tracked``),
``scripts/download_{pix2pix,cyclegan}_model.sh``.

U-Net (nested blocks) -> gbench ``reference_models/pix2pix.py`` (flat ``encoder`` / ``decoder`` lists, level 0 =
outermost). The block of level k sits at ``model.model.`` + ``1.model.`` (k >= 1) + ``3.model.`` * (k - 1):
  outermost:  0 downconv -> encoder.0.0;  3 upconv -> decoder.0.1
  middle:     1 downconv -> encoder.k.0;  2 downnorm -> encoder.k.1;  5 upconv -> decoder.k.1;  6 upnorm -> decoder.k.2
  innermost:  1 downconv -> encoder.n-1.0;  3 upconv -> decoder.n-1.1;  4 upnorm -> decoder.n-1.2
ResNet: ``model.{i}`` -> ``net.{i}`` and ``model.{i}.conv_block.{j}`` -> ``net.{i}.body.{j}`` (gbench's
``reference_models/cyclegan.py`` lists the same layers in the same order). PatchGAN: ``model.{i}`` -> ``net.{i}``;
PixelGAN: ``net.{i}`` -> ``net.{i}``.

The architecture is read off the tensors (U-Net depth, ResNet blocks, widths, channels, batch or instance norm,
dropout inside ResNet blocks, PatchGAN layers) and every field that differs from the experiment's paper config
becomes a ``model.g_kwargs`` / ``model.d_kwargs`` override; an experiment is inferred only when exactly one uses the
generator the file holds. The zoo has no discriminators: a directory or a ``*_net_G*`` file also picks up its
``*_net_D*`` sibling when it exists.
"""

from __future__ import annotations

import re
from pathlib import Path

from gbench.errors import GBenchError
from gbench.official.common import (Entry, ImportResult, LayoutMismatch, build_experiment_models, check_experiment, experiment_model,
                                    is_state_dict, load_exact, override_strings, read_torch, strip_prefixes)

NAME = "pix2pix-cyclegan"
DESCRIPTION = "junyanz/pytorch-CycleGAN-and-pix2pix latest_net_G.pth / latest_net_D.pth (U-Net, ResNet-6/9, PatchGAN)"
EXPERIMENTS = ("pix2pix-cityscapes", "pix2pix-cityscapes-128", "pix2pix-facades", "pix2pix-maps", "cyclegan-cityscapes",
               "cyclegan-horse2zebra")
GENERATOR_FILES = ("latest_net_G.pth", "latest_net_G_A.pth")
INSTANCE_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")


def kind_of(state: dict) -> str | None:
    if "model.model.0.weight" in state:
        return "unet"
    if any(re.fullmatch(r"model\.\d+\.conv_block\.\d+\.weight", k) for k in state):
        return "resnet"
    if "model.0.weight" in state and state["model.0.weight"].ndim == 4 and state["model.0.weight"].shape[-1] == 4:
        return "patchgan"
    if "net.0.weight" in state and state["net.0.weight"].ndim == 4 and state["net.0.weight"].shape[-1] == 1:
        return "pixelgan"
    return None


def sniff(kind: str, blob) -> bool:
    return kind == "torch" and is_state_dict(blob) and kind_of(strip_prefixes(dict(blob))) is not None


# ------------------------------------------------------------------------------------------------ U-Net


def _unet_prefix(level: int) -> str:
    return "model.model." + ("1.model." if level >= 1 else "") + "3.model." * max(level - 1, 0)


def unet_architecture(state: dict) -> dict:
    levels = 1
    while any(k.startswith(_unet_prefix(levels)) for k in state):
        levels += 1
    outer = state["model.model.0.weight"]
    upconv = state.get("model.model.3.weight")
    batch = f"{_unet_prefix(1)}2.weight" in state  # BatchNorm's affine weight; the official InstanceNorm has none
    return {"num_downs": levels, "g_channels": outer.shape[0], "in_channels": outer.shape[1],
            "out_channels": upconv.shape[1] if upconv is not None else 3, "norm": "batch" if batch else "instance"}


def unet_rename(key: str, levels: int) -> str | None:
    for level in reversed(range(levels)):
        prefix = _unet_prefix(level)
        if not key.startswith(prefix):
            continue
        m = re.fullmatch(r"(\d+)\.(.+)", key[len(prefix):])
        if not m:
            return key
        index, rest = int(m.group(1)), m.group(2)
        if level == 0:
            slots = {0: "encoder.0.0", 3: "decoder.0.1"}
        elif level == levels - 1:
            slots = {1: f"encoder.{level}.0", 3: f"decoder.{level}.1", 4: f"decoder.{level}.2"}
        else:
            slots = {1: f"encoder.{level}.0", 2: f"encoder.{level}.1", 5: f"decoder.{level}.1", 6: f"decoder.{level}.2"}
        return f"{slots[index]}.{rest}" if index in slots else key
    return key


# ------------------------------------------------------------------------------------------------ ResNet and PatchGAN


def resnet_architecture(state: dict) -> dict:
    blocks = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.conv_block\.\d+\.weight", k))})
    convs = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.weight", k)) and state[k].ndim == 4)
    first, last = state["model.1.weight"], state[f"model.{convs[-1]}.weight"]
    inner = {int(m.group(1)) for k in state if (m := re.fullmatch(rf"model\.{blocks[0]}\.conv_block\.(\d+)\.weight", k))}
    return {"n_blocks": len(blocks), "g_channels": first.shape[0], "in_channels": first.shape[1], "out_channels": last.shape[0],
            "norm": "batch" if "model.2.weight" in state else "instance", "dropout": 6 in inner}


def patchgan_architecture(state: dict, prefix: str) -> dict:
    convs = [k for k in state if re.fullmatch(rf"{prefix}\.(\d+)\.weight", k) and state[k].ndim == 4]
    batch = any(re.fullmatch(rf"{prefix}\.\d+\.weight", k) and state[k].ndim == 1 for k in state)  # BatchNorm's affine weight
    norm = "batch" if batch else "instance"
    if prefix == "net":
        field = 1
    else:
        field = {3: 16, 5: 70, 7: 286}.get(len(convs))
        if field is None:
            raise LayoutMismatch(f"a PatchGAN with {len(convs)} convolutions is none of gbench's 16/70/286 variants")
    first = state[f"{prefix}.0.weight"]
    return {"receptive_field": field, "d_channels": first.shape[0], "input_channels": first.shape[1], "norm": norm}


def resnet_rename(key: str) -> str:
    if m := re.fullmatch(r"model\.(\d+)\.conv_block\.(.+)", key):
        return f"net.{m.group(1)}.body.{m.group(2)}"
    return re.sub(r"^model\.", "net.", key)


def _drop_instance_stats(entries: list[Entry], model_state: dict, dropped: list[str]) -> list[Entry]:
    """The official load_networks patch: InstanceNorm entries from PyTorch < 0.4 files have no place in the model."""
    keep = []
    for e in entries:
        if e.official.rsplit(".", 1)[-1] in INSTANCE_NORM_STATS and e.target not in model_state:
            dropped.append(e.official)
        else:
            keep.append(e)
    return keep


# ------------------------------------------------------------------------------------------------ files and experiments


def _files(path: Path) -> dict[str, Path]:
    """{"G": ..., "D": ...} for a directory, a generator file (plus its D sibling) or a discriminator file."""
    path = Path(path)
    if path.is_dir():
        found = {}
        for name in GENERATOR_FILES:
            if (path / name).is_file():
                found["G"] = path / name
                break
        if "G" not in found:
            raise GBenchError(f"{path} has no {' or '.join(GENERATOR_FILES)}")
        path = found["G"]
    found = {"G": path}
    if "net_G" in path.name and (sibling := path.with_name(path.name.replace("net_G", "net_D"))).is_file():
        found["D"] = sibling
    return found


def _experiment_fields(experiment: str, kind: str, extra: tuple[str, ...] = ()) -> dict:
    from dataclasses import asdict

    from reference_models import cyclegan, pix2pix

    model = experiment_model(experiment, extra)
    name, kwargs = (model.generator, model.g_kwargs) if kind == "G" else (model.discriminator, model.d_kwargs)
    configs = {**pix2pix.CONFIGS, **cyclegan.CONFIGS}
    return {**asdict(configs[name]), **dict(kwargs)}, name


def _generator_model_names(arch_kind: str) -> tuple[str, ...]:
    return ("pix2pix", "pix2pix-unet128", "pix2pix-encoder-decoder") if arch_kind == "unet" else ("cyclegan", "cyclegan-resnet6")


def _infer_experiment(arch_kind: str, arch: dict, extra: tuple[str, ...]) -> str:
    families = [e for e in EXPERIMENTS if experiment_model(e, extra).generator in _generator_model_names(arch_kind)]
    exact = [e for e in families if all(_experiment_fields(e, "G", extra)[0].get(k) == v for k, v in arch.items())]
    if len(exact) == 1:
        return exact[0]
    candidates = exact or families
    raise GBenchError(f"the weights do not say which dataset they were trained on; pass --experiment (one of {', '.join(candidates)})")


def load_files(path: Path, experiment: str | None, extra: tuple[str, ...] = ()) -> ImportResult:
    check_experiment(experiment, EXPERIMENTS, NAME)
    files = _files(path)
    states = {}
    for name, file in files.items():
        blob = read_torch(file)
        if not is_state_dict(blob):
            raise LayoutMismatch(f"{file.name} holds a {type(blob).__name__}, not a network state dict")
        states[name] = strip_prefixes(dict(blob))
    kinds = {name: kind_of(state) for name, state in states.items()}
    if kinds["G"] in ("patchgan", "pixelgan"):  # the file given is a discriminator
        states, kinds = {"D": states["G"]}, {"D": kinds["G"]}
    elif kinds["G"] is None:
        raise LayoutMismatch(f"key {next(iter(states['G']))!r} is none of the official U-Net (model.model.*), ResNet "
                             "(model.N.conv_block.*) or PatchGAN (model.N.*) layouts")
    notes, g_changes, d_changes = [], {}, {}
    if "G" in states:
        g_arch = unet_architecture(states["G"]) if kinds["G"] == "unet" else resnet_architecture(states["G"])
        if experiment is None:
            experiment = _infer_experiment(kinds["G"], g_arch, extra)
            notes.append(f"experiment inferred from the generator: {experiment}")
        fields, model_name = _experiment_fields(experiment, "G", extra)
        if model_name not in _generator_model_names(kinds["G"]):
            raise LayoutMismatch(f"the file holds a {kinds['G']} generator, {experiment} uses {model_name}")
        g_changes = {k: v for k, v in g_arch.items() if fields.get(k) != v}
        notes.append("generator: " + ", ".join(f"{k} {v}" for k, v in g_arch.items()))
    elif experiment is None:
        raise GBenchError(f"{path} holds only a discriminator; pass --experiment (one of {', '.join(EXPERIMENTS)})")
    if "D" in states:
        if kinds["D"] not in ("patchgan", "pixelgan"):
            raise LayoutMismatch(f"{files.get('D', path)} is not a PatchGAN / PixelGAN discriminator")
        d_arch = patchgan_architecture(states["D"], "model" if kinds["D"] == "patchgan" else "net")
        fields, _ = _experiment_fields(experiment, "D", extra)
        condition = fields.get("in_channels", 0) if fields.get("conditional_discriminator") else 0
        wanted = {"receptive_field": d_arch["receptive_field"], "d_channels": d_arch["d_channels"], "norm": d_arch["norm"]}
        d_changes = {k: v for k, v in wanted.items() if fields.get(k) != v}
        if d_arch["input_channels"] != fields["out_channels"] + condition:
            if "conditional_discriminator" in fields and d_arch["input_channels"] == fields["out_channels"]:
                d_changes["conditional_discriminator"] = False
            else:
                raise LayoutMismatch(f"the discriminator reads {d_arch['input_channels']} channels, {experiment} feeds it "
                                     f"{fields['out_channels'] + condition}")
        notes.append("discriminator: " + ", ".join(f"{k} {v}" for k, v in d_arch.items()))
    overrides = override_strings("model.g_kwargs", g_changes) + override_strings("model.d_kwargs", d_changes)
    _, G, D = build_experiment_models(experiment, overrides, extra)
    modules, counts, dropped = {}, {}, []
    for name, state in states.items():
        module = G if name == "G" else D
        if kinds[name] == "unet":
            levels = unet_architecture(state)["num_downs"]
            entries = [Entry(k, unet_rename(k, levels), t) for k, t in state.items()]
        elif kinds[name] == "resnet":
            entries = [Entry(k, resnet_rename(k), t) for k, t in state.items()]
        elif kinds[name] == "patchgan":
            entries = [Entry(k, re.sub(r"^model\.", "net.", k), t) for k, t in state.items()]
        else:
            entries = [Entry(k, k, t) for k, t in state.items()]
        entries = _drop_instance_stats(entries, module.state_dict(), dropped)
        counts[name] = load_exact(module, entries, f"{experiment} {name}", keep_own=lambda k: k.endswith("num_batches_tracked"))
        modules[name] = module
    if dropped:
        notes.append(f"dropped {len(dropped)} InstanceNorm running-stat entries of a PyTorch < 0.4 file (as the official loader does)")
    if overrides:
        notes.append("built with " + " ".join(overrides))
    return ImportResult(NAME, experiment, modules, overrides + tuple(extra), notes, str(path), counts)
