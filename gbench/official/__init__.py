"""Importers of the authors' released checkpoints: official files -> gbench reference models -> gbench checkpoints.

``load(format, path, experiment=None)`` returns ready modules ("G", and "G_ema" / "D" where the file has them) built
exactly as ``gbench eval --checkpoint PATH --experiment EXP`` builds the experiment's generator (plus the overrides
the import reports); ``import_checkpoint`` returns the same with what was inferred and converted;
``to_gbench_checkpoint`` writes them in the file layout training writes. ``FORMATS`` lists the formats, one module
each (its docstring names the official files read and the key map); ``import_to_file`` is `gbench import`.
``registry.RELEASES`` lists the known releases, ``fetch`` puts their files on disk (`gbench data fetch ckpt:NAME`) and
``verify`` evaluates them against the published numbers (`gbench verify NAME`).

Safety: nothing from a file is ever executed. ``.pth`` files go through ``torch.load(weights_only=True)``, pickles
through ``gbench.official.unpickle`` (a table of allowed globals, persistent classes as inert stand-ins), ``.npz``
through ``numpy.load(allow_pickle=False)``. A file whose keys or shapes do not fit is one ``GBenchError`` naming the
first key or shape that does not fit and the formats the file could be.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gbench.errors import GBenchError, UsageError
from gbench.official import autogan, biggan_pytorch, pix2pix_cyclegan, sngan_chainer, stylegan2_ada, transgan_neurips, transgan_v1
from gbench.official.common import ImportResult, LayoutMismatch, read_any

_MODULES = {m.NAME: m for m in (transgan_v1, transgan_neurips, autogan, pix2pix_cyclegan, stylegan2_ada, biggan_pytorch, sngan_chainer)}


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    experiments: tuple[str, ...]


FORMATS: dict[str, Format] = {name: Format(name, m.DESCRIPTION, m.EXPERIMENTS) for name, m in _MODULES.items()}


def import_checkpoint(format: str, path, experiment: str | None = None, overrides: tuple[str, ...] | list[str] = ()) -> ImportResult:
    """Read an official checkpoint of ``format`` and build gbench modules for ``experiment`` (inferred when None).

    ``overrides``: extra ``--set`` strings applied after the format's own (e.g. the widths of a smaller model)."""
    if format not in _MODULES:
        hint = difflib.get_close_matches(format, list(_MODULES), n=1)
        raise UsageError(f"unknown checkpoint format {format!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(_MODULES)}"))
    path = Path(path)
    if not path.exists():
        raise GBenchError(f"{path} does not exist")
    module = _MODULES[format]
    read = None
    try:
        if hasattr(module, "load_files"):  # formats whose release is several files (G and D side by side)
            result = module.load_files(path, experiment, tuple(overrides))
        else:
            read = read_any(path)
            result = module.convert(read[1], experiment, str(path), tuple(overrides))
        result.overrides = tuple(dict.fromkeys(result.overrides))  # a caller's override the format also reports: once
        return result
    except LayoutMismatch as exc:
        raise GBenchError(f"{path} does not fit format {format}{f' ({experiment})' if experiment else ''}: {exc}; "
                          f"{_guess(path, format, read)}") from None


def load(format: str, path, experiment: str | None = None, overrides: tuple[str, ...] | list[str] = ()) -> dict[str, nn.Module]:
    """Ready gbench modules ("G", and "G_ema" / "D" where the file has them) from an official checkpoint."""
    return import_checkpoint(format, path, experiment, overrides).modules


def _guess(path: Path, asked: str, read: tuple | None = None) -> str:
    """Which formats the file's layout looks like, for the error line; `read` is the (kind, contents) already read."""
    file = path
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".pth", ".pkl", ".npz"))
        if not files:
            return "no checkpoint files in that folder"
        file = files[0]
    try:
        kind, blob = read or read_any(file)
    except GBenchError:
        return "it is not a readable checkpoint file"
    matches = [name for name, m in _MODULES.items() if m.sniff(kind, blob)]
    if asked in matches:
        others = [m for m in matches if m != asked]
        return (f"its keys are {asked}'s, so the architecture differs from the experiment's" +
                (f" (it also looks like {', '.join(others)})" if others else ""))
    if matches:
        return f"it looks like format {' or '.join(matches)}"
    return f"its layout matches none of the known formats ({', '.join(_MODULES)})"


def to_gbench_checkpoint(modules: dict[str, nn.Module] | ImportResult, experiment: str | None, path, *,
                         overrides: tuple[str, ...] = (), provenance: dict | None = None) -> Path:
    """Write ``modules`` as a gbench checkpoint at ``path`` (atomically), in training's layout.

    The file is {"trainer": {"step", "G", "D", "G_ema"}, "config_hash", "evals", "imported"}: ``gbench eval
    --checkpoint PATH [--experiment EXP]`` and ``gbench sample --checkpoint PATH`` read it through
    ``gbench.evaluation.sources`` (the EMA generator when present), which applies ``imported.overrides`` itself.
    ``imported`` records the format, source file, experiment, overrides, notes and a content hash of every module's weights. An ``ImportResult`` brings its own experiment,
    overrides and provenance. A file without a generator cannot be evaluated and is refused.
    """
    from gbench.experiments import resolve_config
    from gbench.io import atomic_torch_save, sha256_state_dict

    info = dict(provenance or {})
    if isinstance(modules, ImportResult):
        result = modules
        experiment, overrides = experiment or result.experiment, tuple(overrides) or result.overrides
        info = {"format": result.format, "source": result.source, "notes": list(result.notes), **info}
        modules = result.modules
    if experiment is None:
        raise GBenchError("to_gbench_checkpoint needs the experiment the modules belong to")
    if "G" not in modules and "G_ema" not in modules:
        raise GBenchError("the imported file holds no generator, so there is nothing to evaluate or sample; nothing written")
    cfg = resolve_config(experiment, "paper", list(overrides))
    states = {name: module.state_dict() for name, module in modules.items()}
    trainer = {"step": None, "G": states.get("G", states.get("G_ema")), "D": states.get("D"), "G_ema": states.get("G_ema")}
    hashes = {name: sha256_state_dict({k: v for k, v in s.items() if isinstance(v, torch.Tensor)}) for name, s in states.items()}
    imported = {**info, "experiment": experiment, "overrides": list(overrides), "weights_sha256": hashes,
                "generator": "G_ema" if "G_ema" in states else "G"}
    path = Path(path)
    atomic_torch_save({"trainer": trainer, "config_hash": cfg.hash(), "evals": "[]", "imported": imported}, path)
    return path


def default_output(path) -> Path:
    """`gbench import`'s default output: ./<file or folder name>-gbench.pt."""
    return Path(f"{Path(path).stem}-gbench.pt")


def import_to_file(format: str, path, experiment: str | None = None, overrides: tuple[str, ...] | list[str] = (),
                   out=None) -> tuple[ImportResult, Path]:
    """`gbench import`: read an official checkpoint and write it as a gbench checkpoint (``out``, default
    ``default_output(path)``); returns what was imported and where it went."""
    result = import_checkpoint(format, path, experiment, overrides)
    written = to_gbench_checkpoint(result, None, out or default_output(path))
    return result, written


__all__ = ["FORMATS", "Format", "ImportResult", "default_output", "import_checkpoint", "import_to_file", "load", "to_gbench_checkpoint"]
