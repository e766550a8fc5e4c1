"""Samples from a trained generator, optionally all of one class: the library behind `gbench sample`.

The generator comes from exactly one place:
- `run=DIR`: a run directory, its newest readable checkpoint (EMA weights when the run kept an EMA);
- `checkpoint=FILE` with `experiment` (and the `preset` / `overrides` it was trained with);
- neither: the newest run of `experiment` under `runs_root` (`runs/<experiment>/<preset>-<hash8>/`), optionally
  only runs of one `preset`.
Loading reuses `gbench.evaluation.sources` (the same code `gbench eval --run/--checkpoint` uses).

Sampling never touches the global torch RNG (a private `torch.Generator` for z and labels, `fork_rng` around
generators that draw noise internally), so the same `seed` gives the same images on every call. With
`class_label=K` every sample is of class K; without it a conditional generator gets labels drawn uniformly,
as in evaluation.

Text-to-image generators (an `embedding_dim` attribute) need `captions`: each caption is embedded with the text encoder
of the data the run trained on (`gbench.data.text2image.encode_captions`: the smoke encoder for shapes32; for CUB /
Oxford-102 a pluggable `text_encoder` module:callable, or the released embedding of a caption found in the set) and
gets one row of `n` samples; column j uses the same z in every row, so a column keeps its style across captions.
w' = w_avg + psi (w - w_avg) on its first `truncation_cutoff` (8) layers, as the paper's figures (psi 0.7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gbench.errors import GBenchError, UsageError
from gbench.evaluation.evaluate import _cuda_devices, _seed_global_rng
from gbench.sampling import generate, grid_image, sample_labels, sample_latent, to_uint8


@dataclass
class Samples:
    images: torch.Tensor  # uint8 (n, C, H, W)
    labels: torch.Tensor | None  # int64 (n,) class of each image; None for an unconditional generator
    source: str  # where the generator came from, e.g. "run runs/cdcgan/smoke-1a2b3c4d: smoke preset, step 150, EMA generator"
    path: Path | None = None  # the PNG grid, when one was written
    captions: list[str] | None = None  # text-to-image: the caption of each row (n images per caption)


def latest_run(experiment: str, runs_root: str | Path = "runs", preset: str | None = None) -> Path:
    """The newest run directory of `experiment` (by its newest checkpoint), optionally of one preset."""
    folder = Path(runs_root) / experiment
    prefix = f"{preset}-" if preset else ""
    candidates = []
    for run_dir in folder.glob(f"{prefix}*") if folder.is_dir() else []:
        checkpoints = list((run_dir / "checkpoints").glob("*.pt"))
        if checkpoints:
            candidates.append((max(c.stat().st_mtime for c in checkpoints), run_dir))
    if not candidates:
        what = f"{experiment}" + (f" ({preset} preset)" if preset else "")
        raise GBenchError(f"no run of {what} with a checkpoint under {folder}; train one first "
                          f"(gbench run {experiment}{' --preset ' + preset if preset else ''}) or pass a run directory")
    return max(candidates)[1]


def load_generator(experiment: str | None = None, *, run: str | Path | None = None, checkpoint: str | Path | None = None,
                   preset: str | None = None, overrides: list[str] | tuple = (), runs_root: str | Path = "runs") -> tuple[nn.Module, str]:
    """(generator in eval mode, a one-line description of where it came from); see the module docstring."""
    source = load_source(experiment, run=run, checkpoint=checkpoint, preset=preset, overrides=overrides, runs_root=runs_root)
    return source.generator.eval(), f"{source.origin}: {source.setting}"


def load_source(experiment: str | None = None, *, run: str | Path | None = None, checkpoint: str | Path | None = None,
                preset: str | None = None, overrides: list[str] | tuple = (), runs_root: str | Path = "runs"):
    """The `gbench.evaluation.sources.Source` of `load_generator` (its details name the run or the experiment config)."""
    from gbench.evaluation.sources import from_checkpoint, from_run

    if run is not None and checkpoint is not None:
        raise UsageError("give a run directory or a checkpoint, not both")
    if checkpoint is not None:  # an imported file (`gbench import`) names its own experiment; other files need one
        source = from_checkpoint(Path(checkpoint), experiment, preset or "paper", list(overrides))
    else:
        if run is None:
            if experiment is None:
                raise UsageError("name an experiment, a run directory or a checkpoint")
            run = latest_run(experiment, runs_root, preset)
        source = from_run(Path(run))
        if experiment is not None and source.model != experiment:
            raise GBenchError(f"run {run} is a {source.model} run, not {experiment}")
    return source


def _data_config(source):
    """The DataConfig the source's generator was trained with (its run's config.json, or the experiment's preset)."""
    import json

    from gbench.config import config_from_dict
    from gbench.experiments import resolve_config

    details = source.details
    if "run_dir" in details:
        return config_from_dict(json.loads((Path(details["run_dir"]) / "config.json").read_text())["config"]).data
    return resolve_config(details["experiment"], details.get("preset") or "paper", list(details.get("overrides") or [])).data


@torch.no_grad()
def generate_captioned(G: nn.Module, embeddings: torch.Tensor, n: int, *, seed: int = 0, device="cpu",
                       batch_size: int = 250) -> torch.Tensor:
    """uint8 images (len(embeddings) * n, C, H, W): row i is caption i, column j the j-th z of `seed` (shared by the rows)."""
    if n < 1:
        raise GBenchError(f"the number of samples per caption must be at least 1, got {n}")
    z = sample_latent(G, n, torch.Generator().manual_seed(seed)).repeat(len(embeddings), 1)
    h = embeddings.repeat_interleave(n, 0)
    was_training = G.training
    G.eval().to(device)
    chunks = []
    try:
        with torch.random.fork_rng(devices=_cuda_devices(device)):
            _seed_global_rng(seed, device)
            for start in range(0, len(z), batch_size):
                rows = slice(start, start + batch_size)
                chunks.append(to_uint8(G(z[rows].to(device), h[rows].to(device))).cpu())
    finally:
        G.train(was_training)
    return torch.cat(chunks)


def check_truncation(G: nn.Module, truncation: float | None) -> None:
    """A clear error for --truncation on a generator without a mapping network's average w."""
    if truncation is None:
        return
    if not hasattr(G, "truncate"):
        raise GBenchError("--truncation needs a style-based generator with an average w (stylegan-ffhq, stylegan-celebahq); "
                          "this one samples z directly")
    if not math.isfinite(truncation):
        raise GBenchError(f"--truncation must be a finite number (StyleGAN's figures use 0.7), got {truncation}")


def check_class(G: nn.Module, class_label: int | None) -> None:
    """A clear error for a class that G cannot be asked for."""
    if class_label is None:
        return
    num_classes = getattr(G, "num_classes", 0)
    if not num_classes:
        raise UsageError("this generator is unconditional: a class can only be requested from a class-conditional "
                          "generator (e.g. cdcgan, cgan-mlp, biggan)")
    if not 0 <= class_label < num_classes:
        raise UsageError(f"class {class_label} is out of range: this generator has classes 0..{num_classes - 1}")


@torch.no_grad()
def generate_samples(G: nn.Module, n: int = 64, *, class_label: int | None = None, seed: int = 0, device="cpu",
                     batch_size: int = 250, truncation: float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(uint8 images (n, C, H, W), labels or None) from G in eval mode; z and labels from a private generator."""
    if n < 1:
        raise UsageError(f"the number of samples must be at least 1, got {n}")
    check_class(G, class_label)
    check_truncation(G, truncation)
    g = torch.Generator().manual_seed(seed)
    z = sample_latent(G, n, g)
    labels = sample_labels(G, n, g)
    if labels is not None and class_label is not None:
        labels = torch.full((n,), class_label, dtype=torch.long)
    was_training = G.training
    G.eval().to(device)
    chunks = []
    try:
        with torch.random.fork_rng(devices=_cuda_devices(device)):
            _seed_global_rng(seed, device)  # noise drawn inside G (StyleGAN2's noise inputs)
            for start in range(0, n, batch_size):
                rows = slice(start, start + batch_size)
                y = None if labels is None else labels[rows].to(device)
                if truncation is not None:
                    chunks.append(to_uint8(G(z[rows].to(device), truncation_psi=truncation)).cpu())
                else:
                    chunks.append(to_uint8(generate(G, z[rows].to(device), y)).cpu())
    finally:
        G.train(was_training)
    return torch.cat(chunks), labels


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_image(images, nrow=nrow).save(path)
    return path


def sample(experiment: str | None = None, *, class_label: int | None = None, n: int | None = None, seed: int = 0,
           run: str | Path | None = None, checkpoint: str | Path | None = None, preset: str | None = None,
           overrides: list[str] | tuple = (), runs_root: str | Path = "runs", out: str | Path | None = None,
           device="auto", nrow: int | None = None, captions: list[str] | tuple = (), text_encoder: str | None = None,
           truncation: float | None = None) -> Samples:
    """`gbench sample EXP [--class K] [--caption TEXT ...] [--truncation PSI]`: n samples of `experiment` (all of class K
    when given; with captions, n per caption: default 8), as a PNG grid at `out`."""
    from gbench.distributed import resolve_device
    from gbench.io import ensure_writable_file

    device = resolve_device(str(device))
    if out is not None:
        ensure_writable_file(out, "--out")
    src = load_source(experiment, run=run, checkpoint=checkpoint, preset=preset, overrides=overrides, runs_root=runs_root)
    G, source = src.generator.eval(), f"{src.origin}: {src.setting}"
    if getattr(G, "embedding_dim", 0) or captions:
        return _sample_captioned(G, src, source, list(captions), n or 8, seed, out, device, text_encoder, class_label)
    n = 64 if n is None else n
    check_class(G, class_label)  # before any work: a bad class is a one-line error
    check_truncation(G, truncation)
    images, labels = generate_samples(G, n, class_label=class_label, seed=seed, device=device, truncation=truncation)
    if truncation is not None:
        source += f", truncation psi {truncation:g}"
    path = save_grid(images, out, nrow) if out is not None else None
    return Samples(images, labels, source, path)


def _sample_captioned(G: nn.Module, src, source: str, captions: list[str], n: int, seed: int, out, device, text_encoder: str | None,
                      class_label: int | None) -> Samples:
    from gbench.data.text2image import encode_captions
    from gbench.sampling import caption_grid_image

    if not getattr(G, "embedding_dim", 0):
        raise GBenchError("--caption needs a text-to-image generator (e.g. text2image-cub); this one is not text-conditional")
    if class_label is not None:
        raise GBenchError("a text-to-image generator is conditioned on captions, not classes: use --caption instead of --class")
    if not captions:
        raise GBenchError('this generator is text-conditional: give one or more captions, e.g. --caption "this bird is completely red"')
    data = _data_config(src)
    encoder = None
    if text_encoder:
        from gbench.evaluation.captions import build_from_spec

        encoder = build_from_spec(text_encoder, "--text-encoder")
    embeddings = encode_captions(data.dataset, captions, G.embedding_dim, root=data.root, text_encoder=encoder)
    images = generate_captioned(G, embeddings, n, seed=seed, device=device)
    path = None
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        caption_grid_image(images, captions, n).save(path)
    return Samples(images, None, source, path, captions)
