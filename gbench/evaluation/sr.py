"""The super-resolution protocols (`sr-x4-y`, and its offline smoke variant `sr-x4-y-skimage`): PSNR/SSIM of an
SR model, always beside the bicubic baseline.

Per image: the model maps the LR image ([0, 1] float, (1, 3, h, w)) to HR ([0, 1], (1, 3, 4h, 4w)); the output is
quantised like a saved PNG (`uint8 = clamp(round(x * 255))`, BasicSR's tensor2img) and scored against the HR
image with `gbench.metrics.psnr/ssim` (BasicSR/MATLAB conventions, gbench/metrics/image_quality.py):
- `psnr_y`, `ssim_y`: on Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 with a 4-pixel border removed;
- `psnr_rgb`: over the three RGB channels, same border.
Each metric is the mean over the images of a set (the per-image values are kept in the result). The test sets
come from gbench/data/sr.py, which says how the LR images were made; that text and the pixel content of every set
go into the fingerprint. Images differ in size, so they are scored one at a time.

The bicubic baseline upscales the same LR images with the antialiased a = -0.5 bicubic (torch; PIL BICUBIC and
MATLAB imresize use that kernel) and is scored by the same code, so every SR result carries its bicubic row.

SSIM caveat: the SRGAN paper computed SSIM with daala's dump_ssim (window size scaling with the image, every
pixel scored), not this MATLAB/BasicSR SSIM (metrics.md section 5), so SSIM deltas to that paper carry the
difference of implementations; PSNR follows the same convention as the paper.

External models: `evaluate_sr_model(model, ...)` takes any callable with the contract above;
`load_sr_model("module:attr")` imports one (an nn.Module instance, or a zero-argument factory returning one).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from gbench.data.sr import SRTestSet, bicubic_resize, load_benchmark_set, load_folder_test_set, load_skimage_set
import reference_models
from gbench.checkpoint import load_generator_state
from gbench.errors import GBenchError, UsageError
from gbench.metrics.image_quality import psnr, ssim
from gbench.protocols import Protocol, fingerprint, get_protocol

SSIM_CAVEAT = ("SSIM is the MATLAB/BasicSR SSIM (11x11 Gaussian, sigma 1.5, valid region); the SRGAN paper's SSIM came from "
               "daala's dump_ssim, a different implementation (metrics.md 5), so SSIM deltas to that paper carry this caveat")
BICUBIC_UPSAMPLING = "torch bicubic antialias=True (Keys a=-0.5, like PIL BICUBIC / MATLAB imresize), rounded to uint8"

Upscaler = Callable[[torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------- per image


def sr_image_metrics(sr: np.ndarray, hr: np.ndarray, crop_border: int) -> dict[str, float]:
    """psnr_y, ssim_y and psnr_rgb of one uint8 H x W x 3 SR image against its HR image."""
    return {
        "psnr_y": psnr(sr, hr, crop_border=crop_border, y_channel=True),
        "ssim_y": ssim(sr, hr, crop_border=crop_border, y_channel=True),
        "psnr_rgb": psnr(sr, hr, crop_border=crop_border, y_channel=False),
    }


def unit_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats -> uint8 as a saved PNG would hold them: clamp(round(x * 255), 0, 255)."""
    return x.mul(255).round().clamp(0, 255).to(torch.uint8)


def bicubic_upscaler(scale: int) -> Upscaler:
    return lambda lr: bicubic_resize(lr, scale)


@torch.no_grad()
def upscale_image(upscale: Upscaler, lr: np.ndarray, scale: int, device="cpu", where: str = "") -> np.ndarray:
    """Run `upscale` on one uint8 LR image and check the contract; returns the uint8 H x W x 3 output."""
    x = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].float().div(255).to(device)
    y = upscale(x)
    want = (1, 3, lr.shape[0] * scale, lr.shape[1] * scale)
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != want:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise GBenchError(f"SR model output for {where}: expected a tensor shaped {want} (LR {lr.shape[0]}x{lr.shape[1]} x{scale}), got {got}")
    if not torch.isfinite(y).all():
        raise GBenchError(f"SR model output for {where} contains NaN/inf")
    return unit_to_uint8(y.float())[0].permute(1, 2, 0).cpu().numpy()


def score_set(upscale: Upscaler, test_set: SRTestSet, crop_border: int, device="cpu", progress=None) -> list[dict]:
    """Per-image metrics of `upscale` on one test set (images differ in size: one at a time)."""
    rows = []
    for name, hr, lr in zip(test_set.names, test_set.hr, test_set.lr):
        sr = upscale_image(upscale, lr, test_set.scale, device, where=f"{test_set.name}/{name}")
        rows.append({"image": name, **sr_image_metrics(sr, hr, crop_border)})
        if progress:
            progress(1)
    return rows


def set_means(per_image: dict[str, list[dict]], metrics: tuple) -> dict[str, float]:
    """{'psnr_y/Set5': mean over Set5, ...} for every set and metric."""
    return {f"{m}/{s}": float(np.mean([row[m] for row in rows])) for s, rows in per_image.items() for m in metrics}


# ----------------------------------------------------------------------------- protocol


def sr_protocol(protocol_id: str, folder: str | Path | None = None) -> Protocol:
    """The SR protocol, or for `folder` a derived protocol `<id>+folder` scored on that folder (not comparable)."""
    protocol = get_protocol(protocol_id)
    if not protocol.scale:
        raise GBenchError(f"protocol {protocol_id} is not a super-resolution protocol (SR protocols: sr-x4-y, sr-x4-y-skimage)")
    if folder is None:
        return protocol
    folder = Path(folder).expanduser()
    return dataclasses.replace(protocol, id=f"{protocol.id}+folder", reference=f"folder:{folder}", reference_split=folder.name,
                               test_sets=(folder.name,), n_gen=0, n_ref=0, comparable="",
                               description=f"{protocol.description}; scored on the HR images of {folder} instead")


def load_test_sets(protocol: Protocol, root: str | Path = "") -> list[SRTestSet]:
    """The protocol's test sets: EDSR benchmark sets (from `root`, default the data root), the scikit-image
    photos, or a folder of HR images (derived `+folder` protocols)."""
    if protocol.reference == "sr-benchmark":
        return [load_benchmark_set(root or None, name, protocol.scale) for name in protocol.test_sets]
    if protocol.reference == "skimage-photos":
        return [load_skimage_set(protocol.scale)]
    if protocol.reference.startswith("folder:"):
        return [load_folder_test_set(protocol.reference.removeprefix("folder:"), protocol.scale)]
    raise GBenchError(f"protocol {protocol.id}: unknown SR reference {protocol.reference!r}")


def _reference_checksum(test_sets: list[SRTestSet]) -> str:
    return "+".join(f"{s.name}:{s.checksum}" for s in test_sets)


def _score(upscale: Upscaler, protocol: Protocol, test_sets: list[SRTestSet], device, progress) -> dict:
    per_image = {s.name: score_set(upscale, s, protocol.crop_border, device, progress) for s in test_sets}
    return {"metrics": set_means(per_image, protocol.metrics), "per_image": per_image}


_BICUBIC_CACHE: dict[str, dict] = {}  # fingerprint -> bicubic scores (in-process: the baseline is the same at every evaluation)


def _bicubic_scores(protocol: Protocol, test_sets: list[SRTestSet], fp: str) -> dict:
    if fp not in _BICUBIC_CACHE:
        _BICUBIC_CACHE[fp] = _score(bicubic_upscaler(protocol.scale), protocol, test_sets, "cpu", None)
    return _BICUBIC_CACHE[fp]


def _result(protocol: Protocol, test_sets: list[SRTestSet], model_label: str, scores: dict, baseline: dict | None,
            started: float) -> dict:
    n = sum(len(s) for s in test_sets)
    checksum = _reference_checksum(test_sets)
    return {
        "protocol": protocol.id,
        "fingerprint": fingerprint(protocol, "", checksum),
        "model": model_label,
        "metrics": scores["metrics"],
        "baseline": None if baseline is None else {"name": "bicubic", "upsampling": BICUBIC_UPSAMPLING, "metrics": baseline["metrics"]},
        "per_image": scores["per_image"],
        "test_sets": {s.name: {"images": len(s), "lr_source": s.lr_source, "checksum": s.checksum} for s in test_sets},
        "n_gen": n,
        "n_ref": n,
        "reference": f"{protocol.reference}/{protocol.reference_split}",
        "extractor": "none (pixel metrics: PSNR/SSIM, BasicSR/MATLAB conventions)",
        "extractor_sha256": "",
        "reference_checksum": checksum,
        "sample_seed": protocol.sample_seed,
        "quantization": protocol.quantization,
        "resize": protocol.resize,
        "crop_border": protocol.crop_border,
        "scale": protocol.scale,
        "comparable_to": protocol.comparable or "not comparable to any published number",
        "notes": [SSIM_CAVEAT],
        "seconds": round(time.perf_counter() - started, 3),
    }


def evaluate_sr_model(model: Upscaler, protocol_id: str = "sr-x4-y", *, root: str | Path = "", device="cpu",
                      folder: str | Path | None = None, baseline: bool = True, label: str = "model",
                      progress: Callable[[int], None] | None = None) -> dict:
    """Score an SR model (LR [0, 1] (B, 3, h, w) -> HR [0, 1] (B, 3, s*h, s*w)) under an SR protocol.

    `root`: data root holding `benchmark/` (default $GBENCH_HOME/datasets); `folder`: score on a folder of HR
    images instead (protocol `<id>+folder`, not comparable); `baseline`: add the bicubic scores under "baseline".
    An nn.Module is put in eval mode for the evaluation (and restored); the global torch RNG is left untouched.
    """
    started = time.perf_counter()
    protocol = sr_protocol(protocol_id, folder)
    test_sets = load_test_sets(protocol, root)
    fp = fingerprint(protocol, "", _reference_checksum(test_sets))
    was_training = model.training if isinstance(model, nn.Module) else None
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
        if isinstance(model, nn.Module):
            model.eval()
        try:
            scores = _score(model, protocol, test_sets, dev, progress)
        finally:
            if was_training is not None:
                model.train(was_training)
    return _result(protocol, test_sets, label, scores, _bicubic_scores(protocol, test_sets, fp) if baseline else None, started)


def evaluate_bicubic(protocol_id: str = "sr-x4-y", *, root: str | Path = "", folder: str | Path | None = None) -> dict:
    """`gbench eval --protocol sr-x4-y --baseline bicubic`: the bicubic row, no model (same result format)."""
    started = time.perf_counter()
    protocol = sr_protocol(protocol_id, folder)
    test_sets = load_test_sets(protocol, root)
    scores = _bicubic_scores(protocol, test_sets, fingerprint(protocol, "", _reference_checksum(test_sets)))
    return _result(protocol, test_sets, "bicubic", scores, None, started)


def load_sr_model(spec: str, device="cpu") -> nn.Module | Upscaler:
    """Import `module:attr` for `gbench eval --generator`: an nn.Module instance is used as is; a class or a
    function taking no arguments is called to build the model. The result is moved to `device` if it is a module."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"--generator expects module:callable, got {spec!r}")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise GBenchError(f"cannot import {spec}: {exc}") from None
    if not callable(obj):
        raise GBenchError(f"{spec} is not callable (expected an nn.Module, a model factory or a function LR -> HR)")
    if not isinstance(obj, nn.Module) and (inspect.isclass(obj) or not _required_positional(obj)):
        obj = obj()  # a factory
        if not callable(obj):
            raise GBenchError(f"{spec}() returned {type(obj).__name__}, not a callable SR model")
    return obj.to(device) if isinstance(obj, nn.Module) else obj


def _required_positional(fn) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


# ----------------------------------------------------------------------------- presentation


def is_sr_result(result: dict) -> bool:
    """True for a result dict written by this module (what run reports and the CLI branch on)."""
    return "test_sets" in result and "per_image" in result


def sr_results_markdown(results: dict | list[dict]) -> str:
    """Markdown for one SR result or a run's evaluations (dicts with an optional "step"): the bicubic row first,
    then one row per result, columns PSNR-Y / SSIM-Y / PSNR-RGB per set; then LR provenance, comparability and
    the SSIM caveat."""
    results = [results] if isinstance(results, dict) else list(results)
    last = results[-1]
    sets = list(last["test_sets"])
    rows = []
    baseline = next((r["baseline"] for r in results if r.get("baseline")), None)
    if baseline:
        rows.append(("bicubic", baseline["metrics"]))
    for r in results:
        label = r.get("model", "model") if "step" not in r else f"step {r['step']} ({r.get('generator', r.get('model', 'G'))})"
        rows.append((label, r["metrics"]))
    header = "| | " + " | ".join(f"{s} PSNR-Y / SSIM-Y / PSNR-RGB" for s in sets) + " |"
    lines = [header, "|" + "---|" * (len(sets) + 1)]
    for label, m in rows:
        cells = [f"{m[f'psnr_y/{s}']:.2f} / {m[f'ssim_y/{s}']:.4f} / {m[f'psnr_rgb/{s}']:.2f}" for s in sets]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"Fingerprint `{last['fingerprint']}`; {last['n_gen']} images; border {last['crop_border']} px; LR: " +
              "; ".join(f"{s}: {v['lr_source']}" for s, v in last["test_sets"].items()) + ".",
              "", f"Comparability: {last['comparable_to']}.", "", f"Note: {SSIM_CAVEAT}."]
    return "\n".join(lines)


def format_sr_metrics(result: dict) -> str:
    """One console line: PSNR-Y/SSIM-Y per set, model then bicubic."""
    m, b = result["metrics"], (result.get("baseline") or {}).get("metrics")
    parts = []
    for s in result["test_sets"]:
        text = f"{s} {m[f'psnr_y/{s}']:.2f} dB / {m[f'ssim_y/{s}']:.4f}"
        if b:
            text += f" (bicubic {b[f'psnr_y/{s}']:.2f} / {b[f'ssim_y/{s}']:.4f})"
        parts.append(text)
    return "  ".join(parts) + f"   [{result['fingerprint']}, {result['n_gen']} images]"


def run_sr_eval(protocol_id: str, *, baseline: str | None = None, run: str | Path | None = None, checkpoint: str | Path | None = None,
                experiment: str | None = None, preset: str = "paper", overrides: list[str] | None = None, generator: str | None = None,
                device="cpu", root: str | Path = "") -> dict:
    """`gbench eval --protocol sr-x4-y ...`: exactly one of `baseline="bicubic"`, `run`, `checkpoint` (+ experiment) or
    `generator` (module:callable mapping LR [0, 1] to HR [0, 1]); the result always carries the bicubic row."""
    chosen = [name for name, v in (("--baseline", baseline), ("--run", run), ("--checkpoint", checkpoint), ("--generator", generator)) if v]
    if len(chosen) != 1:
        raise UsageError(f"an SR evaluation takes exactly one of --baseline bicubic, --run, --checkpoint or --generator (got {', '.join(chosen) or 'none'})")
    if baseline:
        if baseline != "bicubic":
            raise UsageError(f"--baseline must be bicubic, not {baseline!r}")
        return evaluate_bicubic(protocol_id, root=root)
    if generator:
        return evaluate_sr_model(load_sr_model(generator, device), protocol_id, root=root, device=device, label=generator)
    if checkpoint and not experiment:
        raise UsageError("--checkpoint needs --experiment (which SR experiment the weights belong to)")
    model, details = trained_sr_model(run, checkpoint=checkpoint, experiment=experiment, preset=preset, overrides=overrides, device=device)
    return evaluate_sr_model(model, protocol_id, root=root, device=device, label=str(run or checkpoint))


def trained_sr_model(run_dir: str | Path | None = None, *, checkpoint: str | Path | None = None, experiment: str | None = None,
                     preset: str = "paper", overrides: list[str] | None = None, device="cpu") -> tuple[nn.Module, dict]:
    """(UnitRangeSR view, details) of a trained SR generator, for `gbench eval --protocol sr-x4-y --run DIR` or
    `--checkpoint F --experiment E [--preset P --set k=v]`: LR [0, 1] -> HR [0, 1], in eval mode, on `device`."""
    import json

    from gbench.config import config_from_dict
    from gbench.experiments import resolve_config
    from reference_models.srgan import UnitRangeSR

    if run_dir is not None:
        config_file = Path(run_dir) / "config.json"
        if not config_file.is_file():
            raise UsageError(f"{run_dir} is not a run directory (no config.json)")
        cfg, source = config_from_dict(json.loads(config_file.read_text())["config"]), run_dir
    elif checkpoint is not None and experiment:
        cfg, source = resolve_config(experiment, preset, list(overrides or [])), checkpoint
    else:
        raise UsageError("give a run directory, or a checkpoint with its experiment")
    state, info = load_generator_state(source, what="SR generator", hint="give a run directory or a checkpoint file")
    G = reference_models.build_generator(cfg.model.generator, **cfg.model.g_kwargs)
    if getattr(G, "task", "") != "super_resolution":
        raise GBenchError(f"{cfg.experiment} is not a super-resolution experiment")
    try:
        G.load_state_dict(state)
    except RuntimeError as exc:
        raise GBenchError(f"{info['path']} does not fit the generator of {cfg.experiment} ({cfg.preset} preset): "
                          f"{str(exc).splitlines()[0]}") from None
    return UnitRangeSR(G).to(device).eval(), {**info, "experiment": cfg.experiment, "preset": cfg.preset, "config_hash": cfg.hash()}
