"""Shared parts of the importers: safe file reading, the import result, exact state loading, spectral norm.

Every file is read without running anything from it: PyTorch files with ``torch.load(weights_only=True)``
(numpy scalars and arrays, which many training scripts store beside the weights, are allowed through
``torch.serialization.safe_globals``), pickles with ``gbench.official.unpickle`` (no imports, no code from the file),
``.npz`` archives with ``numpy.load(allow_pickle=False)``.

A format maps the official tensors to gbench names as a list of ``Entry`` (official key, gbench key, tensor,
layout conversion) and ``load_exact`` fills a gbench module with them: every gbench tensor must come from the file
(or be one the format says gbench keeps its own value for), every official tensor must land somewhere (or be
dropped with a note), and every shape must agree; the first key that does not fit raises ``LayoutMismatch``, which
``gbench.official.load`` turns into one ``GBenchError`` line that also names the formats the file could be.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gbench.checkpoint import strip_prefixes
from gbench.errors import GBenchError


class LayoutMismatch(Exception):
    """The file's keys or shapes do not fit the format (message: the first key or shape that does not fit)."""


@dataclass
class ImportResult:
    """What an importer built from an official file.

    ``modules``: ready modules keyed "G", "G_ema", "D" (only those the file has), built for ``experiment`` with
    ``overrides`` (dotted ``--set`` strings: what this file needs beyond the experiment's paper config; pass them to
    ``gbench eval --checkpoint`` too). ``notes``: what was inferred, dropped or converted, one line each.
    """

    format: str
    experiment: str
    modules: dict[str, nn.Module]
    overrides: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    source: str = ""
    tensors: dict[str, int] = field(default_factory=dict)  # module name -> tensors taken from the file


# ----------------------------------------------------------------------------------------------- reading


def _numpy_safe_globals() -> list:
    """numpy scalars, dtypes and arrays under the names numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) pickle them."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    allowed: list = [np.dtype, np.ndarray, multiarray.scalar, multiarray._reconstruct]
    for base in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [(multiarray.scalar, f"{base}.scalar"), (multiarray._reconstruct, f"{base}._reconstruct")]
    allowed += [type(np.dtype(code)) for code in ("f2", "f4", "f8", "i4", "i8", "u1", "b1")]
    return allowed


def read_torch(path: Path) -> Any:
    """``torch.load(weights_only=True)`` on the CPU, with numpy scalars/arrays allowed; failures are one line."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            # zip-format files are memory-mapped: training checkpoints carry optimizer states several times the weights
            return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as exc:  # unsafe globals, truncated files, not a torch file: torch raises many types
        reason = " ".join(str(exc).split())
        unsafe = re.search(r"GLOBAL ([\w.]+)", reason)
        if unsafe:
            unsafe = unsafe.group(1)
            raise GBenchError(f"{path} needs the global {unsafe}, which a weights-only load refuses (nothing from the file is run)") from None
        raise GBenchError(f"cannot read {path} with torch.load(weights_only=True): {type(exc).__name__}: {reason[:160]}") from None


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise GBenchError(f"cannot read {path} as a numpy .npz archive (allow_pickle=False): {exc}") from None


def file_kind(path: Path) -> str:
    """"torch" (a torch.save file), "npz" or "pickle", from the file's bytes (not its name)."""
    path = Path(path)
    if not path.is_file():
        raise GBenchError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if any(n.endswith("data.pkl") for n in names):
            return "torch"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise GBenchError(f"{path} is a zip archive that is neither a torch.save file nor a .npz archive")
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] != b"\x80":
        raise GBenchError(f"{path} is neither a pickle, a torch.save file nor a .npz archive")
    return "torch" if _is_legacy_torch(path) else "pickle"


def _is_legacy_torch(path: Path) -> bool:
    """torch's pre-1.6 format starts with a pickled magic number (a long integer) and a protocol version."""
    import pickletools

    with open(path, "rb") as f:
        head = f.read(64)
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(head)):
            if opcode.name in ("LONG1", "LONG4", "BININT", "BININT1", "BININT2"):
                return arg == 0x1950A86A20F9469CFC6C
            if opcode.name not in ("PROTO", "FRAME"):
                return False
    except Exception:  # the 64-byte window cut an opcode: not the magic number anyway
        return False
    return False


def read_any(path: Path) -> tuple[str, Any]:
    """(kind, content) of an official file, read safely by its kind."""
    from gbench.official.unpickle import read_pickle

    kind = file_kind(path)
    if kind == "torch":
        return kind, read_torch(path)
    if kind == "npz":
        return kind, read_npz(path)
    return kind, read_pickle(path)


# ----------------------------------------------------------------------------------------------- state dicts


def is_state_dict(blob: Any) -> bool:
    return isinstance(blob, dict) and bool(blob) and all(isinstance(v, torch.Tensor) for v in blob.values())


# the training-checkpoint keys of the AutoGAN code and the TransGAN code built on it (``save_checkpoint`` in their loops)
AUTOGAN_CHECKPOINT_KEYS = {"G": "gen_state_dict", "G_ema": "avg_gen_state_dict", "D": "dis_state_dict"}


def gan_container(blob: Any, keys: dict[str, str]) -> dict[str, dict]:
    """The state dicts of a training checkpoint dict, e.g. keys={"G": "gen_state_dict", "G_ema": "avg_gen_state_dict"};
    a plain state dict is returned as {"": state}."""
    if is_state_dict(blob):
        return {"": strip_prefixes(dict(blob))}
    if not isinstance(blob, dict):
        raise LayoutMismatch(f"the file holds a {type(blob).__name__}, not a dict of tensors or a checkpoint dict")
    found = {name: strip_prefixes(dict(blob[key])) for name, key in keys.items() if is_state_dict(blob.get(key))}
    if not found:
        raise LayoutMismatch(f"no state dict under {', '.join(repr(k) for k in keys.values())} (top-level keys: "
                             f"{', '.join(map(repr, list(blob)[:8]))})")
    return found


def gan_parts(blob: Any, keys: dict[str, str], is_generator: Callable[[dict], bool], is_discriminator: Callable[[dict], bool],
              generator_keys: str, discriminator_keys: str) -> dict[str, dict]:
    """`gan_container`, with a plain state dict told apart as "G" or "D" by its keys (`generator_keys` and
    `discriminator_keys` describe them for the error)."""
    parts = gan_container(blob, keys)
    if "" in parts:
        state = parts.pop("")
        if is_generator(state):
            parts["G"] = state
        elif is_discriminator(state):
            parts["D"] = state
        else:
            raise LayoutMismatch(f"key {next(iter(state))!r} belongs to neither {generator_keys} nor {discriminator_keys}")
    return parts


def sniff_gan_parts(kind: str, blob: Any, keys: dict[str, str], is_generator: Callable[[dict], bool],
                    is_discriminator: Callable[[dict], bool]) -> bool:
    """Whether a torch file looks like this format: some state dict of it is its generator or discriminator."""
    if kind != "torch":
        return False
    try:
        parts = gan_container(blob, keys)
    except LayoutMismatch:
        return False
    return any(is_generator(s) or is_discriminator(s) for s in parts.values())


@dataclass
class Entry:
    """One official tensor and where it goes. ``official_shape(gbench_shape)`` is the file shape that a gbench tensor
    of that shape implies (None: no check, for derived tensors); ``convert`` turns the file tensor into gbench's layout."""

    official: str
    target: str
    tensor: torch.Tensor
    official_shape: Callable[[tuple], tuple] | None = tuple
    convert: Callable[[torch.Tensor], torch.Tensor] = lambda t: t


def load_exact(module: nn.Module, entries: list[Entry], what: str, keep_own: Callable[[str], bool] = lambda key: False) -> int:
    """Fill ``module`` from ``entries``; raise ``LayoutMismatch`` at the first key or shape that does not fit.

    ``keep_own(key)``: gbench keys the file cannot have and whose current value stays (e.g. BatchNorm's
    ``num_batches_tracked`` in old files, TransGAN's locality epoch). Returns the number of tensors taken."""
    state = module.state_dict()
    taken: dict[str, Entry] = {}
    for e in entries:
        if e.target not in state:
            raise LayoutMismatch(f"unexpected key {e.official!r} ({what} has no {e.target!r})")
        if e.target in taken:
            raise LayoutMismatch(f"keys {taken[e.target].official!r} and {e.official!r} both map to {what}'s {e.target!r}")
        if e.official_shape is not None:
            want = tuple(e.official_shape(tuple(state[e.target].shape)))
            if tuple(e.tensor.shape) != want:
                raise LayoutMismatch(f"{e.official!r} has shape {tuple(e.tensor.shape)}, {what} expects {want}")
        taken[e.target] = e
    missing = [k for k in state if k not in taken and not keep_own(k)]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise LayoutMismatch(f"the file has no tensor for {what}'s {missing[0]!r}{more}")
    new = dict(state)
    for target, e in taken.items():
        value = e.convert(e.tensor)
        if tuple(value.shape) != tuple(state[target].shape):
            raise LayoutMismatch(f"{e.official!r} converts to shape {tuple(value.shape)}, {what} expects {tuple(state[target].shape)}")
        new[target] = value.detach().to(dtype=state[target].dtype).clone()
    module.load_state_dict(new, strict=True)
    return len(taken)


def rename_entries(state: dict, rename: Callable[[str], str | None], dropped: list[str]) -> list[Entry]:
    """Entries for a key-by-key renaming with unchanged layouts; keys renamed to None go to ``dropped``."""
    entries = []
    for key, tensor in state.items():
        target = rename(key)
        if target is None:
            dropped.append(key)
        else:
            entries.append(Entry(key, target, tensor))
    return entries


# ----------------------------------------------------------------------------------------------- spectral norm


def power_iteration(weight: torch.Tensor, u: torch.Tensor, eps: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    """One power-iteration step from the stored left vector ``u`` of W (rows = dim 0): v = norm(W^T u), u' = norm(W v).

    BigGAN-PyTorch's ``SN.W_`` and Chainer's ``max_singular_value`` run exactly this step at every forward, also at
    test time, and divide by sigma = u'^T W v. PyTorch's spectral-norm parametrization in eval mode divides by
    u^T W v with its stored (u, v), so storing (u', v) reproduces the official evaluation-time weights exactly."""
    w = weight.reshape(weight.shape[0], -1).double()
    v = F.normalize(w.t() @ u.reshape(-1).double(), dim=0, eps=eps)
    u_new = F.normalize(w @ v, dim=0, eps=eps)
    return u_new.to(weight.dtype), v.to(weight.dtype)


def spectral_norm_entries(official_prefix: str, target_prefix: str, weight: torch.Tensor, u: torch.Tensor,
                          weight_key: str, u_key: str, u_shape: Callable[[int], tuple]) -> list[Entry]:
    """Entries for a layer stored as (W, u) whose gbench twin is ``parametrizations.spectral_norm`` (W, _u, _v).

    ``u_shape(rows)``: the official shape of u for W with that many rows ((1, rows) in BigGAN and Chainer)."""
    tp = f"{target_prefix}parametrizations.weight."
    rows = weight.shape[0]
    fits = tuple(u.shape) == tuple(u_shape(rows))
    vectors = power_iteration(weight, u) if fits else (u.reshape(-1), u.reshape(-1))
    return [
        Entry(official_prefix + weight_key, tp + "original", weight),
        Entry(official_prefix + u_key, tp + "0._u", u, official_shape=lambda s: u_shape(s[0]), convert=lambda t: vectors[0]),
        Entry(official_prefix + u_key, tp + "0._v", u, official_shape=None, convert=lambda t: vectors[1]),
    ]


# ----------------------------------------------------------------------------------------------- building models


def override_strings(section: str, values: dict) -> tuple[str, ...]:
    """``{"noise_injection": True}`` -> ("model.g_kwargs.noise_injection=true",): values as the JSON `--set` reads."""
    return tuple(f"{section}.{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in values.items())


def experiment_model(experiment: str, extra: tuple[str, ...] = ()) -> Any:
    """The model section (generator, discriminator, g_kwargs, d_kwargs) of the experiment's paper config + ``extra``."""
    from gbench.experiments import resolve_config

    return resolve_config(experiment, "paper", list(extra)).model


def build_experiment_models(experiment: str, overrides: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> tuple[Any, nn.Module, nn.Module]:
    """(resolved paper config, G, D) exactly as ``gbench eval --checkpoint --experiment --set ...`` builds them, with the
    format's ``overrides`` and then the caller's ``extra`` overrides (which win)."""
    from gbench.experiments import resolve_config
    from gbench.models import build_models

    cfg = resolve_config(experiment, "paper", [*overrides, *extra])
    G, D = build_models(cfg)
    return cfg, G.eval(), D.eval()


def check_experiment(experiment: str | None, allowed: tuple[str, ...], fmt: str) -> None:
    if experiment is not None and experiment not in allowed:
        raise GBenchError(f"format {fmt} maps to the experiments {', '.join(allowed)}, not {experiment!r}")
