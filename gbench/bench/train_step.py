"""Training-step throughput of an experiment's models (`gbench bench EXP`, benchmarks/transgan_step.py).

Times the D step and the G step separately (images/s = batch / seconds, CUDA-synchronised), and the
peak memory (CUDA: max_memory_allocated; CPU: the process's peak RSS, which only grows). Variants run
in one process on the same data so their ratios are meaningful: fused SDPA attention vs explicit
matmul-softmax (models that have an `attention` option), and on CUDA bf16 autocast and torch.compile.
Data is procedural (shapes at the experiment's resolution): speed does not depend on the pixels.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from gbench.config import RunConfig, apply_overrides
from gbench.errors import GBenchError


@dataclass
class StepTiming:
    variant: str
    d_img_per_s: float
    g_img_per_s: float
    peak_memory_mb: float
    error: str = ""
    step_s: float = float("nan")  # seconds per training step (GAN: n_critic D steps + one G step)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _bench_config(cfg: RunConfig, variant: dict) -> RunConfig:
    batch = max(cfg.train.batch_size_d, cfg.train.batch_size_g)
    data = {"data.dataset": "shapes32", "data.split": "train", "data.size": 4 * batch, "data.root": "", "data.flip": False}
    return apply_overrides(cfg, {**data, **variant})


# Offline stand-ins for what a paper preset would fetch or read from an earlier run (same networks, no files).
OFFLINE_SUBSTITUTES = {"train.content_loss": {"vgg54": "vgg54-random"}}  # SRGAN's VGG19: same layers, random weights


FIXTURE_DATASETS = {"paired": "facades", "unpaired": "horse2zebra"}  # task -> the on-disk layout write_image_fixtures writes


def write_image_fixtures(root: Path | str, n: int = 4, side: int = 64) -> Path:
    """Tiny image-to-image datasets in the official on-disk layouts under `root`: `facades/train/*.jpg` (A|B side by
    side) and `horse2zebra/trainA|trainB/*.jpg`, seeded noise. The loaders resize them to any load size at once,
    where rendering toyscapes at 286x286 takes minutes on a CPU."""
    import numpy as np
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(0)
    for folder, shape in (("facades/train", (side, 2 * side, 3)), ("horse2zebra/trainA", (side, side, 3)),
                          ("horse2zebra/trainB", (side, side, 3))):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / folder / f"{i + 1:04d}.jpg")
    return root


def paper_scale_config(name: str, *, batch: int | None = None, images: int = 8, overrides: dict | None = None,
                       fixture_root: Path | str | None = None) -> RunConfig:
    """The experiment's paper preset with its models at full size, trained on stand-in data: the smoke preset's
    procedural dataset (shapes32, shapes-gray, sr-procedural, ...) at the paper's resolution and crop, `images` of
    them, no flips; image-to-image experiments read `fixture_root` (`write_image_fixtures`) when given. `batch` caps
    every batch size (None keeps the paper's; recipes at batch 1 stay at 1); the evaluation is not run, so it is not
    touched. Things the paper preset would load from disk (an earlier run to start from, VGG weights) are replaced
    by their offline stand-ins. Used by the paper-scale CPU test and benchmarks/gpu_check.py."""
    from dataclasses import fields

    from gbench.experiments import get_experiment

    exp = get_experiment(name)
    paper, smoke = exp.config("paper"), exp.config("smoke")
    data = {f"data.{f.name}": getattr(smoke.data, f.name) for f in fields(smoke.data)
            if f.name not in ("resolution", "load_size", "size", "flip")}
    changes: dict = {**data, "data.size": images, "data.flip": False}
    if fixture_root is not None and exp.task in FIXTURE_DATASETS:
        changes.update({"data.dataset": FIXTURE_DATASETS[exp.task], "data.root": str(fixture_root), "data.split": "train"})
    if batch is not None:
        changes.update({"train.batch_size_d": min(batch, paper.train.batch_size_d), "train.batch_size_g": min(batch, paper.train.batch_size_g)})
        if paper.train.accumulations > 1:  # as many micro-batches as the capped batch can hold (BigGAN-128 accumulates 8)
            changes["train.accumulations"] = min(paper.train.accumulations, batch)
    if paper.train.init_from:
        changes["train.init_from"] = ""  # the paper preset starts from another run's weights (SRGAN from SRResNet)
    for key, substitutes in OFFLINE_SUBSTITUTES.items():
        value = getattr(paper.train, key.split(".")[1])
        if value in substitutes:
            changes[key] = substitutes[value]
    return apply_overrides(paper, {**changes, **(overrides or {})})


def time_steps(cfg: RunConfig, device: torch.device, *, steps: int = 5, warmup: int = 2, label: str = "", task: str = "gan") -> StepTiming:
    """Mean images/s of `steps` D steps and `steps` G steps after `warmup` of each (GAN trainer). Other trainers
    (image-to-image, super-resolution) have no separate D and G steps: their whole training step is timed, and its
    images/s is reported in both columns."""
    from gbench.train.gan import GANTrainer, StepLog

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    if task != "gan":
        from gbench.runs import _trainer_class

        trainer = _trainer_class(task)(cfg, device)
        seconds = 0.0
        for i in range(warmup + steps):
            _sync(device)
            start = time.perf_counter()
            trainer.train_step(StepLog())
            _sync(device)
            if i >= warmup:
                seconds += time.perf_counter() - start
        rate = trainer.images_per_step * steps / seconds
        return StepTiming(label, rate, rate, _peak_memory_mb(device), step_s=seconds / steps)
    trainer = GANTrainer(cfg, device)
    d_seconds = g_seconds = 0.0
    for i in range(warmup + steps):
        _sync(device)
        start = time.perf_counter()
        real, _ = trainer.d_step()
        _sync(device)
        middle = time.perf_counter()
        trainer.g_step(real)
        _sync(device)
        if i >= warmup:
            d_seconds += middle - start
            g_seconds += time.perf_counter() - middle
    t = cfg.train
    return StepTiming(label, t.batch_size_d * steps / d_seconds, t.batch_size_g * steps / g_seconds, _peak_memory_mb(device),
                      step_s=(t.n_critic * d_seconds + g_seconds) / steps)


def step_variants(cfg: RunConfig, device: torch.device, task: str = "gan") -> dict[str, dict]:
    """The variants `gbench bench` and gpu_check time: fused SDPA fp32; explicit attention (models with an `attention`
    option: the official numerics); on CUDA bf16 autocast and bf16 + torch.compile (the GAN trainer's switches)."""
    variants: dict[str, dict] = {"fp32 sdpa": {}}
    if "attention" in _model_fields(cfg):
        variants["fp32 explicit attention"] = {"model.g_kwargs.attention": "explicit", "model.d_kwargs.attention": "explicit"}
    if device.type == "cuda" and task == "gan":
        variants["bf16 autocast"] = {"train.precision": "bf16"}
        variants["bf16 + torch.compile"] = {"train.precision": "bf16", "train.compile": True}
    return variants


def failed_timing(label: str, exc: BaseException) -> StepTiming:
    """A row that says why a variant did not run, in one line."""
    lines = str(exc).strip().splitlines()
    return StepTiming(label, float("nan"), float("nan"), float("nan"), error=f"{type(exc).__name__}: {lines[0] if lines else ''}"[:240])


def bench_train_step(cfg: RunConfig, device: torch.device, *, steps: int = 5, warmup: int = 2) -> list[StepTiming]:
    """The experiment's step throughput under each variant that applies to it and to the device."""
    from gbench.experiments import get_experiment

    task = get_experiment(cfg.experiment).task
    results = []
    for label, overrides in step_variants(cfg, device, task).items():
        try:
            config = _bench_config(cfg, overrides) if task == "gan" else apply_overrides(cfg, overrides)
            results.append(time_steps(config, device, steps=steps, warmup=warmup, label=label, task=task))
        except (RuntimeError, GBenchError) as exc:  # e.g. a compile backend missing: report, do not hide the other rows
            results.append(failed_timing(label, exc))
    return results


def _model_fields(cfg: RunConfig) -> set[str]:
    import dataclasses

    import reference_models

    with torch.device("meta"):
        G = reference_models.build_generator(cfg.model.generator, **cfg.model.g_kwargs)
    return {f.name for f in dataclasses.fields(G.cfg)} if hasattr(G, "cfg") and dataclasses.is_dataclass(G.cfg) else set()


def format_step_timings(cfg: RunConfig, device: torch.device, rows: list[StepTiming]) -> str:
    """The table `gbench bench EXP` and benchmarks/transgan_step.py print, ratios relative to the first row."""
    t = cfg.train
    lines = [f"{cfg.experiment} ({cfg.preset}) on {device}: D batch {t.batch_size_d}, G batch {t.batch_size_g}, loss {t.loss}, "
             f"augment {t.augment}, MT-CT {t.co_train_sr}, local init {t.local_init or 'model default'}",
             f"{'variant':26s} {'D img/s':>9s} {'G img/s':>9s} {'peak MB':>9s} {'D x':>6s} {'G x':>6s}"]
    base = rows[0]
    for r in rows:
        if r.error:
            lines.append(f"{r.variant:26s} failed: {r.error}")
            continue
        lines.append(f"{r.variant:26s} {r.d_img_per_s:9.1f} {r.g_img_per_s:9.1f} {r.peak_memory_mb:9.0f} "
                     f"{r.d_img_per_s / base.d_img_per_s:6.2f} {r.g_img_per_s / base.g_img_per_s:6.2f}")
    explicit = next((r for r in rows if "explicit" in r.variant and not r.error), None)
    if explicit:
        lines.append(f"fused SDPA speed-up over explicit attention: D step x{base.d_img_per_s / explicit.d_img_per_s:.2f}, "
                     f"G step x{base.g_img_per_s / explicit.g_img_per_s:.2f}")
    return "\n".join(lines) + "\n"
