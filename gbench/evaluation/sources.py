"""Where the images of `gbench eval` come from, and what it reports.

Four sources, exactly one per evaluation:

- `--run DIR`: a gbench run directory. config.json names the experiment and model kwargs
  (`gbench.models.build_models`); the newest readable checkpoint supplies the EMA generator
  (`trainer.G_ema`), or `trainer.G` when the run kept no EMA.
- `--checkpoint FILE --experiment EXP [--preset P] [--set k=v ...]`: a gbench checkpoint or a plain
  generator state_dict (DDP's `module.` and torch.compile's `_orig_mod.` prefixes are removed), loaded
  with `torch.load(..., weights_only=True)` into the experiment's generator. A file written by
  `gbench import` carries its experiment and overrides (`--experiment` optional, no `--set` needed).
- `--samples DIR`: a folder of PNG images (JPEG is accepted with a warning: lossy compression changes
  FID). The first n_gen files in sorted name order are used; every one must have the protocol's size
  and channels (RGB; MNIST protocols: greyscale or RGB). A non-image or unreadable file is named.
- `--generator module:callable`, the contract for any PyTorch generator: `callable()` returns an
  `nn.Module` whose `forward(z)` maps z of shape (B, z_dim) to images (B, C, H, W) in [-1, 1], or
  `forward(z, y)` with integer labels y of shape (B,) when the module has `num_classes > 0` (labels are
  drawn uniformly). z_dim comes from the module's `latent_dim` attribute or `--z-dim`; z ~ N(0, I)
  unless the module says `latent_distribution = "uniform"` (then U(-1, 1)). The current directory is
  importable, so `--generator mymodels:make_G` works from a project folder.

Generators are evaluated with `--seeds N` sample streams (protocol seed + i) and summarised as mean and
population std over seeds; a sample folder is one fixed set of images. The report (eval.json) holds every
per-seed result, the summary, and tidy leaderboard rows (`LEADERBOARD_COLUMNS`).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from gbench import distributed as dist
from gbench.checkpoint import generator_state, load_generator_weights, load_latest_checkpoint, read_checkpoint
from gbench.errors import GBenchError, UsageError
from gbench.models import build_models
from gbench.evaluation.evaluate import Progress, evaluate_chunks, evaluate_generator
from gbench.protocols import Protocol, get_protocol

IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
LEADERBOARD_COLUMNS = ("board", "model", "setting", "metric", "value", "std", "protocol", "n_gen", "n_ref", "reference_split",
                       "source", "notes")
HEADLINES = (("IS", "is_mean", "is_std", "IS splits"), ("FID", "fid", None, ""), ("KID", "kid_mean", "kid_std", "KID subsets"),
             ("FD_DINOv2", "fd_dinov2", None, ""), ("KD_DINOv2", "kd_dinov2_mean", "kd_dinov2_std", "KD subsets"),
             ("precision", "precision", None, ""), ("recall", "recall", None, ""), ("density", "density", None, ""),
             ("coverage", "coverage", None, ""),
             ("R-precision", "r_precision", None, ""),  # text-to-image protocols with a matching encoder (percent)
             ("PPL", "ppl", None, ""))
GREYSCALE_REFERENCES = {"mnist", "shapes-gray"}


def protocol_channels(protocol: Protocol) -> int:
    """Channels of the protocol's images: 1 for greyscale reference sets (MNIST), else 3."""
    return 1 if protocol.reference in GREYSCALE_REFERENCES else 3


@dataclass
class Source:
    """One thing to evaluate: a generator, or a folder of images."""

    kind: str  # run | checkpoint | samples | generator
    model: str  # default model name in the leaderboard rows
    setting: str  # e.g. "smoke preset, step 200, EMA generator"
    origin: str  # the leaderboard's `source` column
    generator: nn.Module | None = None
    folder: SampleFolder | None = None
    warnings: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # what eval.json records about the source
    train_mode_batch: int = 0  # > 0: sample the generator in train mode in batches of this size (the config's eval.g_train_mode)


# ----------------------------------------------------------------------------- generators


class ContractGenerator(nn.Module):
    """A generator with the attributes gbench samples from (latent_dim, num_classes, latent_distribution)
    whose every output is checked against the protocol's image shape."""

    def __init__(self, module: nn.Module, latent_dim: int, num_classes: int, latent_distribution: str, name: str,
                 notes: list[str]):
        super().__init__()
        self.module, self.name, self.notes = module, name, notes
        self.latent_dim, self.num_classes, self.latent_distribution = latent_dim, num_classes, latent_distribution
        self.embedding_dim = getattr(module, "embedding_dim", 0)  # text-conditional: forward(z, text_embedding)
        self.expected_shape: tuple[int, int, int] | None = None
        self._range_checked = False

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        images = self.module(z) if y is None else self.module(z, y)
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[0] != z.shape[0]:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise GBenchError(f"{self.name} returned {shape} for a batch of {z.shape[0]} latents; expected images (B, C, H, W)")
        if self.expected_shape and tuple(images.shape[1:]) != self.expected_shape:
            c, h, w = self.expected_shape
            raise GBenchError(f"{self.name} makes images of shape {tuple(images.shape[1:])}; the protocol needs ({c}, {h}, {w})")
        if not self._range_checked:
            self._range_checked = True
            low, high = float(images.min()), float(images.max())
            if high > 2 or low < -2 or low >= 0:
                self.notes.append(f"{self.name}'s first batch spans [{low:.2f}, {high:.2f}]; the contract is [-1, 1] "
                                  "(values are clamped when quantized to uint8)")
        return images


def _experiment_generator(cfg) -> nn.Module:
    return build_models(cfg)[0]


def _train_mode_batch(cfg) -> int:
    """The experiment's generator mode for sampling: > 0 = train mode in batches of that size (eval.g_train_mode)."""
    return cfg.eval.g_train_mode_batch if cfg.eval.g_train_mode else 0


def from_run(run_dir: Path) -> Source:
    """The run's EMA generator (G when it has no EMA) from its newest readable checkpoint."""
    from gbench.config import config_from_dict

    run_dir = Path(run_dir)
    config_file = run_dir / "config.json"
    if not config_file.is_file():
        raise UsageError(f"{run_dir} is not a run directory (no config.json)")
    try:
        cfg = config_from_dict(json.loads(config_file.read_text())["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GBenchError(f"{config_file} is not a gbench run config ({type(exc).__name__}: {exc})") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        state, path = load_latest_checkpoint(run_dir)
    if state is None:
        raise GBenchError(f"run {run_dir} has no readable checkpoint in {run_dir / 'checkpoints'}")
    weights, label, step = generator_state(state, str(path))
    G = _experiment_generator(cfg)
    load_generator_weights(G, weights, f"{cfg.experiment} ({cfg.preset} preset)", str(path))
    notes = [str(w.message) for w in caught]
    return Source("run", cfg.experiment, f"{cfg.preset} preset, step {step}, {label} generator", f"local run {run_dir}",
                  generator=G, warnings=notes, train_mode_batch=_train_mode_batch(cfg),
                  details={"run_dir": str(run_dir), "checkpoint": str(path), "experiment": cfg.experiment, "preset": cfg.preset,
                           "config_hash": cfg.hash(), "step": step, "generator": label})


def imported_info(blob) -> dict | None:
    """The `imported` record of a checkpoint written by `gbench import` (gbench.official), else None."""
    info = blob.get("imported") if isinstance(blob, dict) else None
    return info if isinstance(info, dict) and isinstance(info.get("experiment"), str) else None


def from_checkpoint(path: Path, experiment: str | None, preset: str = "paper", overrides: list[str] | None = None) -> Source:
    """A gbench checkpoint or a plain generator state_dict, loaded into `experiment`'s generator.

    A file written by `gbench import` names its experiment and the overrides its architecture needs
    (`imported.experiment` / `imported.overrides`): the experiment may then be omitted, and the file's
    overrides are applied before the caller's, so `--checkpoint FILE` needs no `--set`."""
    from gbench.experiments import resolve_config

    path = Path(path)
    blob = read_checkpoint(path)
    imported = imported_info(blob)
    if imported is not None and experiment not in (None, imported["experiment"]):
        raise UsageError(f"{path} was imported for experiment {imported['experiment']}, not {experiment}")
    if experiment is None:
        if imported is None:
            raise UsageError("--checkpoint needs --experiment EXP (which generator the weights belong to; see `gbench models`)")
        experiment = imported["experiment"]
    file_overrides = [str(o) for o in imported.get("overrides", [])] if imported else []
    overrides = [*file_overrides, *(overrides or [])]
    cfg = resolve_config(experiment, preset, overrides)
    weights, label, step = generator_state(blob, str(path))
    G = _experiment_generator(cfg)
    load_generator_weights(G, weights, f"{experiment} ({preset} preset{', ' + ' '.join(overrides) if overrides else ''})", str(path))
    setting = f"{preset} preset" + (f", step {step}" if step is not None else "") + (f", {label} generator" if label != "state_dict" else "")
    notes = [f"applied the imported file's overrides: {' '.join(file_overrides)}"] if file_overrides else []
    if imported:
        setting = f"imported {imported.get('format', 'official')} checkpoint, {label} generator"
    return Source("checkpoint", experiment, setting, f"local checkpoint {path}", generator=G, warnings=notes,
                  train_mode_batch=_train_mode_batch(cfg),
                  details={"checkpoint": str(path), "experiment": experiment, "preset": preset, "overrides": overrides,
                           "config_hash": cfg.hash(), "step": step, "generator": label,
                           **({"imported": {k: imported.get(k) for k in ("format", "source", "weights_sha256")}} if imported else {})})


def load_callable(spec: str) -> Callable:
    """`module:callable` (attributes may be dotted) -> the object; the current directory is importable."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(f"--generator expects module:callable (e.g. mypkg.models:make_generator), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:
        raise GBenchError(f"cannot import {module_name!r} for --generator {spec}: {type(exc).__name__}: {exc}") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"--generator {spec}: {obj.__name__ if hasattr(obj, '__name__') else module_name} has no attribute {part!r}")
        obj = getattr(obj, part)
    return obj


def from_callable(spec: str, z_dim: int | None = None) -> Source:
    """A user's generator: `module:callable` returning an nn.Module (see the module docstring for the contract)."""
    factory = load_callable(spec)
    if isinstance(factory, nn.Module):
        module = factory
    elif callable(factory):
        try:
            module = factory()
        except Exception as exc:
            raise GBenchError(f"{spec}() raised {type(exc).__name__}: {exc}") from None
    else:
        raise UsageError(f"--generator {spec} is a {type(factory).__name__}, not a callable returning an nn.Module")
    if not isinstance(module, nn.Module):
        raise GBenchError(f"{spec}() returned a {type(module).__name__}; the contract is an nn.Module mapping z to images in [-1, 1]")
    declared = getattr(module, "latent_dim", None)
    if declared is None and z_dim is None:
        raise UsageError(f"cannot tell the size of z for {spec}: give the module a `latent_dim` attribute or pass --z-dim")
    if declared is not None and z_dim is not None and int(declared) != z_dim:
        raise UsageError(f"--z-dim {z_dim} contradicts {spec}'s latent_dim = {declared}")
    distribution = getattr(module, "latent_distribution", "normal")
    if distribution not in ("normal", "uniform"):
        raise UsageError(f"{spec}: latent_distribution must be 'normal' or 'uniform', not {distribution!r}")
    notes: list[str] = []
    num_classes = int(getattr(module, "num_classes", 0) or 0)
    G = ContractGenerator(module, int(declared if declared is not None else z_dim), num_classes, distribution, spec, notes)
    name = spec.rpartition(":")[2]
    return Source("generator", name, "user generator" + (f", {num_classes} classes" if num_classes else ""), f"local generator {spec}",
                  generator=G, warnings=notes,
                  details={"generator": spec, "latent_dim": G.latent_dim, "num_classes": num_classes, "latent_distribution": distribution})


# ----------------------------------------------------------------------------- sample folders


@dataclass
class SampleFolder:
    """The first n image files of a folder (sorted by name), checked against a protocol, read in batches."""

    path: Path
    files: list[Path]
    channels: int

    def images(self, start: int, stop: int, batch_size: int) -> Iterator[torch.Tensor]:
        for first in range(start, stop, batch_size):
            arrays = [self._read(p) for p in self.files[first : min(first + batch_size, stop)]]
            yield torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()

    def _read(self, path: Path) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(path) as image:
                image.load()
                mode = "L" if self.channels == 1 else "RGB"
                array = np.asarray(image.convert(mode) if image.mode != mode else image, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError) as exc:
            raise GBenchError(f"{path} is not a readable image ({type(exc).__name__}: {exc})") from None
        return array[..., None] if array.ndim == 2 else array


def open_sample_folder(folder: Path, protocol: Protocol) -> tuple[SampleFolder, list[str]]:
    """Check a folder against `protocol` (count, file types, size, channels) -> (folder, warnings)."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise GBenchError(f"sample folder {folder} does not exist or is not a folder")
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)
    strays = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if strays:
        raise GBenchError(f"{strays[0]} is not a PNG image ({len(strays)} non-image file(s) in {folder}); a sample folder holds only .png files")
    if len(files) < protocol.n_gen:
        raise GBenchError(f"{folder} has {len(files)} images; protocol {protocol.id} needs {protocol.n_gen}")
    used = files[: protocol.n_gen]
    channels = protocol_channels(protocol)
    allowed = {"RGB"} if channels == 3 else {"L", "RGB"}
    size = (protocol.resolution, protocol.resolution)
    for path in used:  # headers only: cheap, and a bad file fails before any extraction
        try:
            with Image.open(path) as image:
                if image.size != size:
                    raise GBenchError(f"{path} is {image.size[0]}x{image.size[1]}; protocol {protocol.id} needs {size[0]}x{size[1]} images")
                if image.mode not in allowed:
                    raise GBenchError(f"{path} has mode {image.mode} ({len(image.getbands())} channels); protocol {protocol.id} needs "
                                      + ("RGB (3 channels)" if channels == 3 else "greyscale (L) or RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise GBenchError(f"{path} is not a readable image ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    notes = []
    jpegs = sum(IMAGE_SUFFIXES[p.suffix.lower()] == "JPEG" for p in used)
    if jpegs:
        notes.append(f"{jpegs} of the {len(used)} images are JPEG: lossy compression changes FID (JPEG q90 instead of PNG moved FFHQ FID "
                     "by about 6); save samples as PNG")
    return SampleFolder(folder, used, channels), notes


def from_samples(folder: Path, protocol: Protocol) -> Source:
    sample_folder, notes = open_sample_folder(folder, protocol)
    return Source("samples", Path(folder).resolve().name, "PNG samples", f"local samples {folder}", folder=sample_folder, warnings=notes,
                  details={"samples": str(folder), "files": len(sample_folder.files), "first": sample_folder.files[0].name,
                           "last": sample_folder.files[-1].name})


def open_source(protocol: Protocol, *, run: Path | None = None, checkpoint: Path | None = None, experiment: str | None = None,
                preset: str = "paper", overrides: list[str] | None = None, samples: Path | None = None, generator: str | None = None,
                z_dim: int | None = None) -> Source:
    """The one source the options name (exactly one of run / checkpoint / samples / generator)."""
    given = [name for name, value in (("--run", run), ("--checkpoint", checkpoint), ("--samples", samples), ("--generator", generator))
             if value is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --run, --checkpoint, --samples, --generator" + (f" (got {', '.join(given)})" if given else ""))
    if checkpoint is None and (experiment or overrides):
        raise UsageError("--experiment/--set go with --checkpoint (a run's config.json already names its experiment)")
    if z_dim is not None and generator is None:
        raise UsageError("--z-dim goes with --generator")
    if run is not None:
        return from_run(run)
    if checkpoint is not None:
        return from_checkpoint(checkpoint, experiment or None, preset, overrides)
    if samples is not None:
        return from_samples(samples, protocol)
    return from_callable(generator, z_dim)


# ----------------------------------------------------------------------------- evaluation and report


def evaluate_source(source: Source, protocol_id: str, *, seeds: int = 1, device="cpu", batch_size: int = 250,
                    progress: Progress | None = None, reference_progress: Progress | None = None) -> list[dict]:
    """One protocol result per sample seed (protocol seed + i); a sample folder gives one result."""
    protocol = get_protocol(protocol_id)
    if seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {seeds}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    if source.folder is not None and protocol.metrics == ("ppl",):
        raise UsageError(f"{protocol_id} is a perceptual path length: it needs a generator (--run, --checkpoint or --generator), "
                          "not a folder of images")
    if source.folder is not None:
        if seeds != 1:
            raise UsageError("--seeds repeats generation with other sample seeds; a sample folder is one fixed set of images")
        folder = source.folder
        result = evaluate_chunks(protocol_id, lambda index, start, stop: folder.images(start, stop, batch_size), device=device,
                                 progress=progress, reference_progress=reference_progress)
        return [{**result, "sample_seed": None}]
    G = source.generator.to(device)
    if protocol.metrics == ("ppl",):  # PPL drives the mapping and synthesis networks itself: no shape wrapper
        return [evaluate_generator(G, protocol_id, device=device, batch_size=batch_size, seed_offset=i, progress=progress)
                for i in range(seeds)]
    if isinstance(G, ContractGenerator):
        G.expected_shape = (protocol_channels(protocol), protocol.resolution, protocol.resolution)
    else:
        G = _shape_checked(G, protocol, source.model)
    return [evaluate_generator(G, protocol_id, device=device, batch_size=batch_size, seed_offset=i, progress=progress,
                               reference_progress=reference_progress if i == 0 else None, train_mode_batch=source.train_mode_batch)
            for i in range(seeds)]


def _shape_checked(G: nn.Module, protocol: Protocol, name: str) -> nn.Module:
    wrapped = ContractGenerator(G, G.latent_dim, getattr(G, "num_classes", 0), getattr(G, "latent_distribution", "normal"), name, [])
    wrapped._range_checked = True  # gbench's own generators end in tanh (or are trained to [-1, 1])
    wrapped.expected_shape = (protocol_channels(protocol), protocol.resolution, protocol.resolution)
    return wrapped


def summarize(results: list[dict]) -> list[dict]:
    """Headline metrics: one seed -> the value and its within-run spread (IS splits, KID subsets);
    several seeds -> mean and population std over seeds."""
    rows = []
    for metric, key, std_key, spread in HEADLINES:
        if key not in results[0]["metrics"]:
            continue
        values = [r["metrics"][key] for r in results]
        if len(results) == 1:
            std = results[0]["metrics"][std_key] if std_key else None
            rows.append({"metric": metric, "value": values[0], "std": std, "std_over": spread if std_key else "", "values": values})
        else:
            rows.append({"metric": metric, "value": float(np.mean(values)), "std": float(np.std(values)),
                         "std_over": f"{len(values)} seeds", "values": values})
    return rows


def leaderboard_rows(report: dict, board: str | None = None, model: str | None = None) -> list[dict]:
    """Tidy rows (`LEADERBOARD_COLUMNS`), one per headline metric, with the fingerprint as `protocol`."""
    protocol = get_protocol(report["protocol"])
    first = report["results"][0]
    notes = []
    if len(report["results"]) > 1:
        seeds = [r["sample_seed"] for r in report["results"]]
        notes.append(f"mean and std over {len(seeds)} sample seeds {seeds[0]}..{seeds[-1]}")
    if not protocol.comparable:
        notes.append("not comparable to published numbers")
    notes += [w for w in report.get("warnings", []) if "JPEG" in w][:1]
    if (first.get("sampling") or {}).get("mode") == "train":
        notes.append(f"generator in train mode (batch-norm batch statistics over batches of {first['sampling']['batch']})")
    rows = []
    for s in report["summary"]:
        std = s["std"]
        if len(report["results"]) == 1 and std is not None:
            note = f"std over {s['std_over']}"
        else:
            note = ""
        rows.append({
            "board": board or protocol.reference, "model": model or report["model"], "setting": report["setting"], "metric": s["metric"],
            "value": f"{s['value']:.6g}", "std": "" if std is None else f"{std:.3g}",
            "protocol": first["matching"]["fingerprint"] if s["metric"] == "R-precision" else first["fingerprint"],  # covers the encoder
            "n_gen": first["n_gen"], "n_ref": first["n_ref"], "reference_split": protocol.reference_split, "source": report["origin"],
            "notes": "; ".join([n for n in [note, *notes] if n]),
        })
    return rows


def leaderboard_csv(rows: list[dict], header: bool = True) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LEADERBOARD_COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def make_report(source: Source, results: list[dict], *, board: str | None = None, model: str | None = None) -> dict:
    """eval.json: the source, every per-seed result, the summary and the leaderboard rows."""
    report = {
        "protocol": results[0]["protocol"],
        "fingerprint": results[0]["fingerprint"],
        "model": model or source.model,
        "setting": source.setting,
        "origin": source.origin,
        "source": {"kind": source.kind, **source.details},
        "seeds": [r["sample_seed"] for r in results],
        "summary": summarize(results),
        "results": results,
        "warnings": list(source.warnings),
        "world_size": dist.world_size(),
    }
    report["leaderboard"] = leaderboard_rows(report, board, model)
    return report


def default_output(protocol_id: str, run: Path | None) -> Path:
    """Inside the run directory for --run (beside the training's own eval.json), else ./eval-<protocol>.json."""
    name = f"eval-{protocol_id}.json"
    return Path(run) / name if run is not None else Path(name)


ProgressFactory = Callable[[str, "int | None"], "Progress | None"]


def run_eval(protocol_id: str, *, seeds: int = 1, device: str = "auto", batch_size: int = 250, board: str | None = None,
             model: str | None = None, progress: ProgressFactory | None = None, **source_options) -> dict:
    """`gbench eval`: join torchrun's process group if there is one, open the source, evaluate, report.

    `progress(description, total)` may return a callback that is told how many images were processed.
    """
    from gbench.distributed import resolve_device
    from gbench.evaluation.evaluate import my_chunks
    from gbench.io import ensure_writable_dir
    from gbench.paths import cache_dir

    protocol = get_protocol(protocol_id)
    if seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {seeds}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    dev = resolve_device(device)
    ensure_writable_dir(cache_dir(), "GBENCH_HOME (reference statistics and extractor caches)")
    dist.init_from_env(dev)
    dev = dist.device_for_rank(dev)
    source = open_source(protocol, **source_options)
    runs = 1 if source.folder is not None else seeds
    mine = sum(stop - start for _, start, stop in my_chunks(protocol.n_gen)) * runs
    reference_bar = progress(f"reference statistics ({protocol.reference}/{protocol.reference_split}, cached after the first use)",
                             protocol.n_ref or None) if progress and protocol.metrics != ("ppl",) else None
    bar = progress(f"{protocol.id}: generate + extract" if source.generator is not None else f"{protocol.id}: read + extract", mine) if progress else None
    results = evaluate_source(source, protocol_id, seeds=seeds, device=dev, batch_size=batch_size, progress=bar,
                              reference_progress=reference_bar)
    return make_report(source, results, board=board, model=model)
