"""Format ``biggan-pytorch``: ajbrock/BigGAN-PyTorch weight files ``G.pth``, ``G_ema.pth``, ``D.pth`` (plain state dicts,
``utils.save_weights``), and the DiffAugment CIFAR releases built on that code (mit-han-lab/data-efficient-gans
``DiffAugment-biggan-cifar``: ``biggan-cifar10.pth`` etc. are G_ema state dicts).

Read: ``BigGAN.py`` (``G_arch`` / ``D_arch`` at 32: three GBlocks of 4*G_ch, four DBlocks), ``layers.py`` (``SN``:
buffers ``u0`` of shape (1, rows) and the logging-only ``sv0``; ``ccbn``: ``gain`` / ``bias`` embeddings (G_shared
off) and ``stored_mean`` / ``stored_var``; ``bn``: ``gain``, ``bias``, ``stored_mean``, ``stored_var``; ``GBlock``,
``DBlock``), ``utils.py`` (save/load of the weights), ``scripts/launch_cifar_ema.sh``, DiffAugment's ``eval.py``.

Spectral norm: ajbrock's layers store the raw weight and u0 and, at every forward (eval mode too), run one power
iteration (v = norm(u0 W), u = norm(v W^T)) and divide W by u W v^T. gbench's parametrization divides by its stored
_u^T W _v in eval mode, so (_u, _v) are set to that iteration's (u, v): the same weights as the official evaluation.

Layer names per model (adding a model, e.g. BigGAN at 128x128 with G_shared, hierarchical z and attention, is one
more entry in ``LAYERS`` / ``NORMS``; the spectral-norm and batch-norm conversions are shared):
  G: linear -> linear; blocks.{i}.0.{conv1, conv2, conv_sc} -> blocks.{i}.{conv1, conv2, shortcut};
     blocks.{i}.0.bn{k}.{gain, bias}.weight -> blocks.{i}.norm{k}.{gain, bias}.weight;
     blocks.{i}.0.bn{k}.stored_{mean, var} -> blocks.{i}.norm{k}.norm.running_{mean, var};
     output_layer.0.{gain, bias, stored_mean, stored_var} -> out_norm.{weight, bias, running_mean, running_var};
     output_layer.2 -> out_conv
  D: blocks.{i}.0.{conv1, conv2, conv_sc} -> blocks.{i}.{conv1, conv2, shortcut}; linear -> linear; embed -> embed
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from gbench.errors import GBenchError
from gbench.official.common import (Entry, ImportResult, LayoutMismatch, build_experiment_models, check_experiment, is_state_dict,
                                    load_exact, read_torch, spectral_norm_entries, strip_prefix)

NAME = "biggan-pytorch"
DESCRIPTION = "ajbrock/BigGAN-PyTorch G.pth / G_ema.pth / D.pth (CIFAR config; also the DiffAugment BigGAN-CIFAR releases)"
EXPERIMENTS = ("biggan",)
FILES = {"G": "G.pth", "G_ema": "G_ema.pth", "D": "D.pth"}

_CONVS = [(r"blocks\.(\d+)\.0\.conv1", r"blocks.\1.conv1"), (r"blocks\.(\d+)\.0\.conv2", r"blocks.\1.conv2"),
          (r"blocks\.(\d+)\.0\.conv_sc", r"blocks.\1.shortcut")]
LAYERS = {  # model -> kind -> [(official layer regex, gbench layer)]: convs, linears and embeddings
    "biggan": {
        "G": [(r"linear", "linear"), *_CONVS, (r"output_layer\.2", "out_conv"),
              (r"blocks\.(\d+)\.0\.bn(\d)\.(gain|bias)", r"blocks.\1.norm\2.\3")],
        "D": [*_CONVS, (r"linear", "linear"), (r"embed", "embed")],
    },
}
NORMS = {  # model -> [(official norm-layer regex, gbench BatchNorm2d, {official param: gbench param})]
    "biggan": [
        (r"blocks\.(\d+)\.0\.bn(\d)", r"blocks.\1.norm\2.norm", {"stored_mean": "running_mean", "stored_var": "running_var"}),
        (r"output_layer\.0", "out_norm", {"gain": "weight", "bias": "bias", "stored_mean": "running_mean", "stored_var": "running_var"}),
    ],
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


def _states(path: Path) -> dict[str, dict]:
    path = Path(path)
    if path.is_dir():
        files = {name: path / file for name, file in FILES.items() if (path / file).is_file()}
        if not files:
            raise GBenchError(f"{path} has none of {', '.join(FILES.values())}")
    else:
        files = {"": path}
    states = {}
    for name, file in files.items():
        blob = read_torch(file)
        if not is_state_dict(blob):
            raise LayoutMismatch(f"{file.name} holds a {type(blob).__name__}, not a state dict (G.pth, G_ema.pth and D.pth are state dicts)")
        state = strip_prefix(dict(blob))
        if name == "":
            name = "D" if is_discriminator(state) else "G"
        states[name] = state
    return states


def load_files(path: Path, experiment: str | None, extra: tuple[str, ...] = ()) -> ImportResult:
    check_experiment(experiment, EXPERIMENTS, NAME)
    experiment = experiment or EXPERIMENTS[0]
    states = _states(path)
    notes = []
    if set(states) == {"G_ema"}:
        states = {"G": states["G_ema"]}
        notes.append("only G_ema.pth found: imported as the generator")
    if Path(path).is_file() and "ema" in Path(path).name.lower():
        notes.append(f"{Path(path).name}: the file name says these are EMA weights; imported as the generator")
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
    notes.append("the official CIFAR evaluation runs G in train mode unless --G_eval_mode (BatchNorm batch statistics)")
    return ImportResult(NAME, experiment, modules, tuple(extra), notes, str(path), counts)
