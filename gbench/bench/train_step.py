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


def time_steps(cfg: RunConfig, device: torch.device, *, steps: int = 5, warmup: int = 2, label: str = "") -> StepTiming:
    """Mean images/s of `steps` D steps and `steps` G steps after `warmup` of each."""
    from gbench.experiments import get_experiment
    from gbench.train.gan import GANTrainer

    task = get_experiment(cfg.experiment).task
    if task != "gan":
        raise GBenchError(f"gbench bench times the GAN trainer's D and G steps; {cfg.experiment} trains with the {task!r} trainer")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
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
    return StepTiming(label, t.batch_size_d * steps / d_seconds, t.batch_size_g * steps / g_seconds, _peak_memory_mb(device))


def bench_train_step(cfg: RunConfig, device: torch.device, *, steps: int = 5, warmup: int = 2) -> list[StepTiming]:
    """The experiment's step throughput under each variant that applies to it and to the device."""
    variants: dict[str, dict] = {"fp32 sdpa": {}}
    if "attention" in _model_fields(cfg):
        variants["fp32 explicit attention"] = {"model.g_kwargs.attention": "explicit", "model.d_kwargs.attention": "explicit"}
    if device.type == "cuda":
        variants["bf16 autocast"] = {"train.precision": "bf16"}
        variants["bf16 + torch.compile"] = {"train.precision": "bf16", "train.compile": True}
    results = []
    for label, overrides in variants.items():
        try:
            results.append(time_steps(_bench_config(cfg, overrides), device, steps=steps, warmup=warmup, label=label))
        except (RuntimeError, GBenchError) as exc:  # e.g. a compile backend missing: report, do not hide the other rows
            results.append(StepTiming(label, float("nan"), float("nan"), float("nan"), error=str(exc).splitlines()[0][:200]))
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
