"""Format ``biggan-pytorch``: ajbrock/BigGAN-PyTorch weight files ``G.pth``, ``G_ema.pth``, ``D.pth`` (plain state dicts,
``utils.save_weights``) of the CIFAR model (``biggan``) and of the ImageNet 128x128 model (``biggan-imagenet128``), and
the DiffAugment CIFAR releases built on that code (mit-han-lab/data-efficient-gans ``DiffAugment-biggan-cifar``:
``biggan-cifar10.pth`` etc. are G_ema state dicts).

Read: ``BigGAN.py`` (``G_arch`` / ``D_arch``: at 32 three GBlocks of 4*G_ch and four DBlocks; at 128 five GBlocks and
six DBlocks, attention at 64x64 appended to a block as its second module; ``Generator`` with ``G_shared`` and
``hier``), ``layers.py`` (``SN``: buffers ``u0`` of shape (1, rows) and the logging-only ``sv0``, for SNEmbedding too:
rows = num_embeddings; ``ccbn``: ``gain`` / ``bias`` embeddings (G_shared off) or bias-free SNLinear projections
(G_shared on) and ``stored_mean`` / ``stored_var``; ``bn``: ``gain``, ``bias``, ``stored_mean``, ``stored_var``;
``Attention``: bias-free SN 1x1 convs ``theta``, ``phi``, ``g``, ``o`` and the scalar ``gamma``; ``GBlock``,
``DBlock``), ``utils.py`` (save/load of the weights), ``scripts/launch_cifar_ema.sh``, ``launch_BigGAN_bs256x8.sh``,
``sample_BigGAN_bs256x8.sh``, DiffAugment's ``eval.py``.

Spectral norm: ajbrock's layers store the raw weight and u0 and, at every forward (eval mode too), run one power
iteration (v = norm(u0 W), u = norm(v W^T)) and divide W by u W v^T. gbench's parametrization divides by its stored
_u^T W _v in eval mode, so (_u, _v) are set to that iteration's (u, v): the same weights as the official evaluation.
(That step normalises with eps 1e-12 here, the official SN_eps is 1e-6 at 128 and 1e-8 for CIFAR: it only matters for
vectors of norm below it.)

ImageNet 128 (``launch_BigGAN_bs256x8.sh``: G_ch = D_ch = 96, G_shared, shared_dim 128, hier, dim_z 120, attention at
64 in G and D, BN eps 1e-5 in every BN, the output ``bn`` included): gbench's ``ImageNetGenerator`` splits z exactly as
the official forward (``torch.split`` into 6 chunks of 20; chunk 0 feeds ``linear``, chunk i+1 block i as
``cat([shared(y), chunk])``), so the CBN projections' (C, 128 + 20) weights are copied as they are. gbench keeps the
attention layers in ``attention.{block}`` beside the blocks where the official code nests them as ``blocks.{i}.1``:
G's is after block 3 (64x64), D's after block 0 (64x64).

Release archive: the ImageNet weights are published as a zip (``BigGAN_ch96_bs256x8_138k.zip``, the files in ``138k/``);
``G.pth``, ``G_ema.pth`` and ``D.pth`` are found in it by name and unpacked to a temporary folder (nothing else is read).

Layer names per model (a model is one entry in ``LAYERS`` / ``NORMS``; the spectral-norm and batch-norm conversions
are shared):
  biggan
  G: linear -> linear; blocks.{i}.0.{conv1, conv2, conv_sc} -> blocks.{i}.{conv1, conv2, shortcut};
     blocks.{i}.0.bn{k}.{gain, bias}.weight -> blocks.{i}.norm{k}.{gain, bias}.weight;
     blocks.{i}.0.bn{k}.stored_{mean, var} -> blocks.{i}.norm{k}.norm.running_{mean, var};
     output_layer.0.{gain, bias, stored_mean, stored_var} -> out_norm.{weight, bias, running_mean, running_var};
     output_layer.2 -> out_conv
  D: blocks.{i}.0.{conv1, conv2, conv_sc} -> blocks.{i}.{conv1, conv2, shortcut}; linear -> linear; embed -> embed
  biggan-imagenet128: the same, plus
  G: shared -> shared (plain Embedding); the CBN gain / bias are SN-Linear layers ({weight, u0, sv0});
     blocks.{i}.1.{theta, phi, g, o} -> attention.{i}.{theta, phi, g, o}; blocks.{i}.1.gamma -> attention.{i}.gamma
  D: blocks.{i}.1.{theta, phi, g, o, gamma} -> attention.{i}.{...}
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from gbench.errors import GBenchError
from gbench.official.common import (Entry, ImportResult, LayoutMismatch, build_experiment_models, check_experiment, is_state_dict,
                                    load_exact, read_torch, spectral_norm_entries, strip_prefixes)

NAME = "biggan-pytorch"
DESCRIPTION = ("ajbrock/BigGAN-PyTorch G.pth / G_ema.pth / D.pth (CIFAR and ImageNet 128 configs, a folder or the release zip; "
               "also the DiffAugment BigGAN-CIFAR releases)")
EXPERIMENTS = ("biggan", "biggan-imagenet128")
FILES = {"G": "G.pth", "G_ema": "G_ema.pth", "D": "D.pth"}

_CONVS = [(r"blocks\.(\d+)\.0\.conv1", r"blocks.\1.conv1"), (r"blocks\.(\d+)\.0\.conv2", r"blocks.\1.conv2"),
          (r"blocks\.(\d+)\.0\.conv_sc", r"blocks.\1.shortcut")]
# layers.Attention, the second module of its block: its convs, then the block itself for the ``gamma`` parameter
_ATTENTION = [(r"blocks\.(\d+)\.1\.(theta|phi|g|o)", r"attention.\1.\2"), (r"blocks\.(\d+)\.1", r"attention.\1")]
_G_LAYERS = [(r"linear", "linear"), *_CONVS, (r"output_layer\.2", "out_conv"),
             (r"blocks\.(\d+)\.0\.bn(\d)\.(gain|bias)", r"blocks.\1.norm\2.\3")]
_BN = [
    (r"blocks\.(\d+)\.0\.bn(\d)", r"blocks.\1.norm\2.norm", {"stored_mean": "running_mean", "stored_var": "running_var"}),
    (r"output_layer\.0", "out_norm", {"gain": "weight", "bias": "bias", "stored_mean": "running_mean", "stored_var": "running_var"}),
]
LAYERS = {  # model -> kind -> [(official layer regex, gbench layer)]: convs, linears and embeddings
    "biggan": {
        "G": _G_LAYERS,
        "D": [*_CONVS, (r"linear", "linear"), (r"embed", "embed")],
    },
    "biggan-imagenet128": {
        "G": [(r"shared", "shared"), *_G_LAYERS, *_ATTENTION],
        "D": [*_CONVS, *_ATTENTION, (r"linear", "linear"), (r"embed", "embed")],
    },
}
NORMS = {  # model -> [(official norm-layer regex, gbench BatchNorm2d, {official param: gbench param})]
    "biggan": _BN,
    "biggan-imagenet128": _BN,
}


def is_generator(state: dict) -> bool:
    return "linear.u0" in state and any(k.startswith("output_layer.") for k in state)


def is_discriminator(state: dict) -> bool:
    return "linear.u0" in state and "embed.u0" in state


def sniff(kind: str, blob) -> bool:
    return kind == "torch" and is_state_dict(blob) and (is_generator(blob) or is_discriminator(blob))


def _match(table, layer: str):
    for pattern, replacement, *rest in table:
        if m := re.fullmatch(pattern, layer):
            return (m.expand(replacement), *rest)
    return None


def state_entries(state: dict, model: str, kind: str, dropped: list[str]) -> list[Entry]:
    entries = []
    for key, tensor in state.items():
        layer, _, param = key.rpartition(".")
        if param == "sv0":  # the last singular value, kept for logging only
            dropped.append(key)
            continue
        if kind == "G" and (norm := _match(NORMS[model], layer)):
            target, params = norm
            entries.append(Entry(key, f"{target}.{params.get(param, param)}", tensor))
            continue
        mapped = _match(LAYERS[model][kind], layer)
        if mapped is None:
            entries.append(Entry(key, key, tensor))  # load_exact names it as unexpected
        elif f"{layer}.u0" in state and param in ("weight", "u0"):
            if param == "weight":
                entries += spectral_norm_entries(f"{layer}.", f"{mapped[0]}.", tensor, state[f"{layer}.u0"], "weight", "u0",
                                                 lambda rows: (1, rows))
        else:
            entries.append(Entry(key, f"{mapped[0]}.{param}", tensor))
    return entries


def is_archive(path: Path) -> bool:
    """A zip archive that is not itself a torch.save file (those are zips holding ``data.pkl``)."""
    if not (path.is_file() and zipfile.is_zipfile(path)):
        return False
    with zipfile.ZipFile(path) as archive:
        return not any(member.endswith("data.pkl") for member in archive.namelist())


def _unpack(path: Path, scratch: Path) -> dict[str, Path]:
    """G.pth / G_ema.pth / D.pth of a release archive, found by base name wherever they sit and copied to ``scratch``."""
    with zipfile.ZipFile(path) as archive:
        members: dict[str, str] = {}
        for member in archive.namelist():
            name = next((n for n, file in FILES.items() if member.rsplit("/", 1)[-1] == file), None)
            if name is None:
                continue
            if name in members:
                raise GBenchError(f"{path} holds {FILES[name]} twice ({members[name]}, {member}): unpack it and import the folder you mean")
            members[name] = member
        if not members:
            raise GBenchError(f"{path} is a zip archive with none of {', '.join(FILES.values())}")
        files = {}
        for name, member in members.items():
            files[name] = scratch / FILES[name]
            with archive.open(member) as source, open(files[name], "wb") as target:
                shutil.copyfileobj(source, target)
    return files


def _states(path: Path, scratch: Path) -> tuple[dict[str, dict], bool]:
    """The state dicts of a folder, a release archive (unpacked into ``scratch``) or one file; and whether it was an archive."""
    archive = is_archive(path)
    if path.is_dir():
        files = {name: path / file for name, file in FILES.items() if (path / file).is_file()}
        if not files:
            raise GBenchError(f"{path} has none of {', '.join(FILES.values())}")
    elif archive:
        files = _unpack(path, scratch)
    else:
        files = {"": path}
    states = {}
    for name, file in files.items():
        blob = read_torch(file)
        if not is_state_dict(blob):
            raise LayoutMismatch(f"{file.name} holds a {type(blob).__name__}, not a state dict (G.pth, G_ema.pth and D.pth are state dicts)")
        state = strip_prefixes(dict(blob))
        if name == "":
            name = "D" if is_discriminator(state) else "G"
        states[name] = state
    return states, archive


def infer_experiment(states: dict[str, dict]) -> str:
    """``biggan-imagenet128`` when a state has a fifth block (the 128 model: 5 G blocks, 6 D blocks; CIFAR: 3 and 4)."""
    deep = any(key.startswith("blocks.4.") for state in states.values() for key in state)
    return "biggan-imagenet128" if deep else "biggan"


EVAL_MODE_NOTES = {  # experiment -> how the official code samples for its published scores
    "biggan": "the official CIFAR evaluation runs G in train mode unless --G_eval_mode (BatchNorm batch statistics)",
    "biggan-imagenet128": "the official 128 sampling (sample_BigGAN_bs256x8.sh: --use_ema --G_eval_mode) runs G_ema in eval mode "
                          "with the stored BatchNorm statistics, as gbench eval and verify do; the experiment's evaluation after "
                          "training re-estimates standing statistics instead",
}


def load_files(path: Path, experiment: str | None, extra: tuple[str, ...] = ()) -> ImportResult:
    check_experiment(experiment, EXPERIMENTS, NAME)
    with tempfile.TemporaryDirectory(prefix="gbench-biggan-") as scratch:  # only a release archive is unpacked here
        return _load(Path(path), experiment, extra, Path(scratch))


def _load(path: Path, experiment: str | None, extra: tuple[str, ...], scratch: Path) -> ImportResult:
    states, archive = _states(path, scratch)
    notes = []
    if archive:
        notes.append(f"read {', '.join(FILES[name] for name in states)} from the archive {path.name}")
    if experiment is None:
        experiment = infer_experiment(states)
    if set(states) == {"G_ema"}:
        states = {"G": states["G_ema"]}
        notes.append("only G_ema.pth found: imported as the generator")
    if path.is_file() and not archive and "ema" in path.name.lower():
        notes.append(f"{path.name}: the file name says these are EMA weights; imported as the generator")
    cfg, G, D = build_experiment_models(experiment, (), extra)
    model = cfg.model.generator
    if model not in LAYERS:
        raise GBenchError(f"format {NAME} has no key map for the model {model!r} yet (known: {', '.join(LAYERS)})")
    modules, counts, dropped = {}, {}, []
    for name, state in states.items():
        kind = "D" if name == "D" else "G"
        module = D if kind == "D" else copy.deepcopy(G)
        counts[name] = load_exact(module, state_entries(state, model, kind, dropped), f"{experiment} {kind}",
                                  keep_own=lambda k: k.endswith("num_batches_tracked"))
        modules[name] = module
    notes.append("spectral norm: (u, v) set to one power iteration from the stored u0, as the official forward computes at test time")
    if dropped:
        notes.append(f"dropped {len(dropped)} sv0 buffers (logging only)")
    notes.append(EVAL_MODE_NOTES[experiment])
    return ImportResult(NAME, experiment, modules, tuple(extra), notes, str(path), counts)
