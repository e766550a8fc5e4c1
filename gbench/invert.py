"""`gbench invert`: restore images by inverting a trained BigGAN (Deep Generative Prior or optimise-z), write the
restorations, per-image scores and a report with before/after grids.

Which generator (G's EMA weights and D, both needed: DGP matches D's block features):
- `--checkpoint FILE`: a gbench checkpoint holding `trainer.G_ema` (or `G`) and `trainer.D` for the experiment's
  models, as training writes and as `gbench.official.to_gbench_checkpoint` writes imported official weights. This is
  how BigGAN-PyTorch's released ImageNet-128 G_ema/D are used: `gbench import biggan-pytorch
  BigGAN_ch96_bs256x8_138k.zip --experiment biggan-imagenet128 --out $GBENCH_HOME/assets/official/biggan-imagenet128.pt`
  writes them where `released_checkpoint(experiment)`, and so the `dgp-inversion` table, looks for them;
- `--run DIR`: a run directory of the experiment (its newest checkpoint);
- neither: the run of `gbench run EXP --preset P` under `--runs` (trained first when missing and the preset is smoke).

Output: `<out>/<experiment>/<preset>-<method>-<task>-<images>-<hash8>/` with `restored/` and `degraded/` PNGs (one per
image, numbered), `grid.png` (originals / degraded / restored), `per_image.csv`, `eval.json` (mean scores under the
protocol fingerprint, img/s, provenance; the shape the leaderboard and `gbench reproduce` read) and report.md/.html.
The same command maps to the same folder; a finished one is reported again, not recomputed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console

from gbench.errors import GBenchError, UsageError
from gbench.io import atomic_write_json, atomic_write_text

GRID_IMAGES = 8  # images shown in the report's before/after grid
RELEASED = {"biggan-imagenet128": "official/biggan-imagenet128.pt"}  # experiment -> gbench checkpoint under $GBENCH_HOME/assets


def released_checkpoint(experiment: str) -> Path | None:
    """Where the released weights of `experiment` are expected as a gbench checkpoint (None: no known release)."""
    from gbench.paths import assets_dir

    return assets_dir() / RELEASED[experiment] if experiment in RELEASED else None


@dataclass
class GeneratorPair:
    G: torch.nn.Module
    D: torch.nn.Module
    cfg: object  # RunConfig the models were built from
    source: str  # "run <dir> (step N, EMA generator)" / "checkpoint <file> (...)"
    run: Path | None = None  # where the weights came from: a run directory ...
    checkpoint: Path | None = None  # ... or a checkpoint file


def generator_identity(cfg, *, run: Path | None = None, checkpoint: Path | None = None) -> str:
    """What names a generator in an output folder's hash: the run directory or the checkpoint file (path, size, mtime),
    with the config hash of the models."""
    if checkpoint is not None:
        path = Path(checkpoint).expanduser().resolve()
        stat = path.stat()
        return f"checkpoint:{path}:{stat.st_size}:{stat.st_mtime_ns}:{cfg.hash()}"
    return f"run:{Path(run).resolve()}:{cfg.hash()}"


def _load_pair(cfg, blob, where: str) -> tuple[torch.nn.Module, torch.nn.Module, str]:
    from gbench.checkpoint import generator_state, load_generator_weights, strip_prefixes
    from gbench.models import build_models

    weights, label, step = generator_state(blob, where)
    trainer = blob.get("trainer", blob) if isinstance(blob, dict) else {}
    d_state = trainer.get("D") if isinstance(trainer, dict) else None
    if not isinstance(d_state, dict):
        raise GBenchError(f"{where} holds no discriminator (trainer.D): DGP and optimise-z match D's block features, so they need it")
    G, D = build_models(cfg)
    load_generator_weights(G, weights, f"{cfg.experiment} ({cfg.preset} preset)", where)
    try:
        D.load_state_dict(strip_prefixes(dict(d_state)))
    except RuntimeError as exc:
        detail = " ".join(str(exc).split("\n\t")[1:2]) or str(exc).splitlines()[0]
        raise GBenchError(f"{where} does not fit the discriminator of {cfg.experiment}: {detail.strip()}") from None
    return G.eval(), D.eval(), f"step {step}, {label} generator" if step is not None else f"{label} generator"


def load_generator_pair(experiment: str, preset: str = "paper", *, run: Path | None = None, checkpoint: Path | None = None,
                        overrides: list[str] | None = None, runs_root: Path | str = "runs", device: str = "auto",
                        console: Console | None = None) -> GeneratorPair:
    """G (EMA weights) and D of `experiment` from a checkpoint, a run directory or the preset's default run."""
    from gbench.checkpoint import load_latest_checkpoint, read_checkpoint
    from gbench.config import config_from_dict
    from gbench.experiments import resolve_config
    from gbench.runs import run_dir_for, run_experiment

    if run is not None and checkpoint is not None:
        raise UsageError("give --run or --checkpoint, not both")
    if checkpoint is not None:
        cfg = resolve_config(experiment, preset, overrides)
        path = Path(checkpoint).expanduser()
        G, D, label = _load_pair(cfg, read_checkpoint(path), str(path))
        return GeneratorPair(G, D, cfg, f"checkpoint {path} ({label})", checkpoint=path)
    if run is None:
        cfg = resolve_config(experiment, preset, overrides)
        run = run_dir_for(cfg, runs_root)
        if not (run / "eval.json").is_file():
            if preset != "smoke":
                raise GBenchError(f"no finished run of {experiment} at the {preset} preset in {run}: train it with `gbench run "
                                  f"{experiment} --preset {preset}`, or pass --run DIR or --checkpoint FILE (e.g. released "
                                  "weights imported with `gbench import`)")
            (console or Console()).print(f"[bold]training[/bold] the {experiment} smoke generator first ({run})")
            run_experiment(cfg, out=runs_root, device=device, console=console)
    run = Path(run)
    config_file = run / "config.json"
    if not config_file.is_file():
        raise UsageError(f"{run} is not a run directory (no config.json)")
    cfg = config_from_dict(json.loads(config_file.read_text())["config"])
    if cfg.experiment != experiment:
        raise UsageError(f"{run} is a run of {cfg.experiment}, not {experiment}")
    state, path = load_latest_checkpoint(run)
    if state is None:
        raise GBenchError(f"run {run} has no readable checkpoint in {run / 'checkpoints'}")
    G, D, label = _load_pair(cfg, state, str(path))
    return GeneratorPair(G, D, cfg, f"run {run} ({label})", run=run)


def _images_key(protocol: str | None, images: Path | None) -> tuple[str, str]:
    """(folder-name tag, identity) of the images: a protocol id, or a folder's listing (names, sizes, mtimes)."""
    if protocol:
        return protocol, f"protocol:{protocol}"
    folder = Path(images).expanduser().resolve()
    listing = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    return f"folder-{folder.name}", f"folder:{folder}:{hashlib.sha256(repr(listing).encode()).hexdigest()}"


def inversion_folder(cfg, *, experiment: str, task: str, method: str, preset: str, out: Path | str, run: Path | None = None,
                     checkpoint: Path | None = None, protocol: str | None = None, images: Path | None = None, schedule: str = "",
                     limit: int = 0, **_: object) -> Path:
    """`<out>/<experiment>/<preset>-<method>-<task>-<images>-<hash8>`: the same inputs give the same folder."""
    tag, images_id = _images_key(protocol, images)
    key = {"generator": generator_identity(cfg, run=run, checkpoint=checkpoint), "task": task, "method": method,
           "schedule": schedule or task, "preset": preset, "images": images_id, "limit": limit}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
    return Path(out) / experiment / f"{preset}-{method}-{task}-{tag}-{digest}"


def _fingerprint(protocol_id: str | None, data, task: str) -> str:
    """`<protocol>@<hash8>` over the protocol's constants, the images' checksum and the task (folders: `folder@...`)."""
    from gbench.protocols import fingerprint, get_protocol

    if protocol_id:
        return fingerprint(get_protocol(protocol_id), "none", f"{data.checksum}|task={task}")
    digest = hashlib.sha256(f"{data.source}|{data.checksum}|task={task}".encode()).hexdigest()[:8]
    return f"folder@{digest}"


def _save_pngs(images: torch.Tensor, folder: Path, names: list[str]) -> None:
    from PIL import Image

    from gbench.sampling import to_uint8

    folder.mkdir(parents=True, exist_ok=True)
    for i, (image, name) in enumerate(zip(to_uint8(images), names)):  # one file per image: writing is per file
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:04d}-{Path(name).stem}.png")


def _grid(original: torch.Tensor, degraded: torch.Tensor, restored: torch.Tensor, path: Path) -> None:
    from gbench.sampling import grid_image, to_uint8

    k = min(GRID_IMAGES, len(original))
    tiles = torch.cat([to_uint8(original[:k]), to_uint8(degraded[:k]), to_uint8(restored[:k])])
    image = grid_image(tiles, nrow=k)
    if original.shape[-1] < 64:  # small images: enlarge the grid (nearest) so it reads in a report
        image = image.resize((image.width * 3, image.height * 3), 0)
    image.save(path)


def run_inversion(experiment: str, task: str, *, method: str = "dgp", preset: str = "paper", protocol: str | None = None,
                  images: Path | None = None, run: Path | None = None, checkpoint: Path | None = None,
                  overrides: list[str] | None = None, schedule: str = "", limit: int = 0, batch_size: int = 16,
                  out: Path | str = "runs/invert", runs_root: Path | str = "runs", device: str = "auto",
                  console: Console | None = None) -> Path:
    """Restore a protocol's images (or a folder's) with `method`, write everything, render the report; the folder."""
    from gbench.distributed import resolve_device
    from gbench.inversion.restore import check_task_method, folder_images, inversion_config, protocol_images, restore
    from gbench.report.inversion import render_inversion_report

    check_task_method(task, method)
    if (protocol is None) == (images is None):
        raise UsageError("give exactly one of --protocol P (e.g. dgp-shapes32) or --images DIR")
    if limit < 0:
        raise UsageError(f"--limit must be >= 0, got {limit}")
    console = console or Console()
    dev = resolve_device(device)
    pair = load_generator_pair(experiment, preset, run=run, checkpoint=checkpoint, overrides=overrides, runs_root=runs_root,
                               device=device, console=console)
    if not all(hasattr(pair.G, name) for name in ("class_embedding", "synthesize", "stages")) or not hasattr(pair.D, "block_features"):
        raise UsageError(f"{experiment}'s models are not BigGAN-style (G.synthesize / D.block_features): inversion runs on "
                          "the BigGAN ImageNet architecture (biggan-imagenet128)")
    data = protocol_images(protocol, pair.cfg.data.root) if protocol else folder_images(images, pair.G.resolution)
    if limit:
        data = data.first(limit)
    with torch.no_grad():
        num_features = len(pair.D.block_features(torch.zeros(1, 3, pair.G.resolution, pair.G.resolution)))
    config = inversion_config(task, method, preset, num_features, schedule)
    folder = inversion_folder(pair.cfg, experiment=experiment, task=task, method=method, preset=preset, out=out, run=pair.run,
                              checkpoint=pair.checkpoint, protocol=protocol, images=images, schedule=schedule, limit=limit)
    if (folder / "eval.json").is_file():
        console.print(f"[dim]finished already[/dim] {folder}")
        render_inversion_report(folder)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    iterations = sum(s.iterations for s in config.stages)
    console.print(f"[bold]invert[/bold] {len(data)} image(s) from {data.source}: {task} by {method} with {experiment} "
                  f"({pair.source}); {iterations} steps per image, {config.select_num} latent candidates, batch {batch_size}, "
                  f"device {dev} -> {folder}")
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    with console.status("restoring ...") as status:
        result = restore(pair.G, pair.D, data, task, config, batch_size=batch_size, device=dev,
                         progress=lambda done, total: status.update(f"restoring ... {done}/{total} images"))
    original = data.images.float().div(127.5).sub(1)
    _save_pngs(result.restored, folder / "restored", data.names)
    _save_pngs(result.degraded, folder / "degraded", data.names)
    _grid(original, result.degraded, result.restored, folder / "grid.png")
    means = result.means()
    headline = {k: means[k] for k in ("psnr", "ssim_x100", "mse_x1e-3")}
    fingerprint = _fingerprint(protocol, data, task)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = ["index", "name", "label", *result.per_image]
    writer.writerow(columns)
    for i, name in enumerate(data.names):
        writer.writerow([i, name, int(result.labels[i]), *(f"{result.per_image[k][i]:.6g}" for k in result.per_image)])
    atomic_write_text(buffer.getvalue(), folder / "per_image.csv")
    comparable = _comparable(protocol, preset, checkpoint, experiment, task)
    atomic_write_json({
        "kind": "inversion", "experiment": experiment, "preset": preset, "task": task, "method": method,
        "schedule": schedule or task, "images": data.source, "n": len(data), "generator": pair.source,
        "model": f"{'DGP' if method == 'dgp' else '(a) optimize z'} ({experiment})",
        "setting": f"{task}, {preset} preset, {pair.source}", "board": "gan_inversion",
        "final": {"step": None, "metrics": headline, "fingerprint": fingerprint, "protocol": protocol or "", "n_gen": len(data),
                  "n_ref": len(data), "comparable_to": comparable, "mean_all": means},
        "speed": {"seconds": round(result.seconds, 3), "images_per_second": round(result.images_per_second, 4),
                  "batch_size": batch_size, "device": str(dev), "steps_per_image": iterations, "select_num": config.select_num},
        "schedule_stages": [vars(s) for s in config.stages], "started": started, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, folder / "eval.json")
    render_inversion_report(folder)
    console.print(f"[bold green]done[/bold green] {folder}  PSNR {means['psnr']:.2f}  SSIM x100 {means['ssim_x100']:.2f}  "
                  f"MSE x1e-3 {means['mse_x1e-3']:.2f}  [{fingerprint}]  {result.images_per_second:.2f} img/s")
    return folder


def _comparable(protocol: str | None, preset: str, checkpoint, experiment: str, task: str) -> str:
    """Which published numbers this result can be read against ("" = none), for the report and the leaderboard notes."""
    from gbench.protocols import get_protocol

    if not protocol or not get_protocol(protocol).comparable or preset != "paper" or task != "reconstruct":
        return ""
    released = released_checkpoint(experiment)
    if checkpoint is None or released is None or Path(checkpoint).expanduser().resolve() != released.resolve():
        return ""
    return get_protocol(protocol).comparable
