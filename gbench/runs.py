"""Orchestration of a run above the engine: resolve the config, train, evaluate, write eval.json, render the report.

`run_experiment(cfg)` is what `gbench run`, `gbench reproduce` and the benchmarks call; the trainers
(gbench/train/) know nothing of run directories' reports, and experiments.py stays plain data.

`runs/<experiment>/<preset>-<confighash8>/` holds config.json, metrics.jsonl (one line per log
step), checkpoints/, samples/, eval.json, report.md/html and plots/. Rerunning the same command
finds the same directory and resumes from its newest readable checkpoint; a run killed after a
checkpoint ends with exactly the figures of an uninterrupted one (CPU, deterministic algorithms).
"""

from __future__ import annotations

import json
import platform
import random
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import gbench
from gbench.config import RunConfig
from gbench.errors import GBenchError
from gbench.io import atomic_write_json
from gbench.checkpoint import load_latest_checkpoint, rng_state, save_checkpoint, set_rng_state
from gbench.distributed import resolve_device
from gbench.experiments import get_experiment
from gbench.train.gan import GANTrainer, StepLog, check_finite


RANK_SEED_STRIDE = 1_000_003  # rank r of a DDP run draws its noise from seed + r * stride


def _trainer_class(task: str):
    """The trainer of a task kind: "gan" (unconditional/conditional); more kinds register here."""
    from gbench.train.img2img import CycleGANTrainer, Pix2PixTrainer
    from gbench.train.progressive import ProgressiveTrainer
    from gbench.train.sr import SRTrainer

    trainers = {"gan": GANTrainer, "sr": SRTrainer, "paired": Pix2PixTrainer, "unpaired": CycleGANTrainer,
                "progressive": ProgressiveTrainer}
    if task not in trainers:
        raise GBenchError(f"no trainer for task {task!r}; known: {', '.join(trainers)}")
    return trainers[task]


def run_dir_for(cfg: RunConfig, out: str | Path) -> Path:
    return Path(out) / cfg.experiment / f"{cfg.preset}-{cfg.hash()[:8]}"


def _git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _write_config(run_dir: Path, cfg: RunConfig, device: torch.device) -> None:
    path = run_dir / "config.json"
    if path.exists():
        return
    atomic_write_json({
        "config": cfg.to_dict(),
        "config_hash": cfg.hash(),
        "device": str(device),
        "versions": {"gbench": gbench.__version__, "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "git_commit": _git_commit(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, path)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint we resume from (a killed run may have logged past it)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept))


def run_experiment(cfg: RunConfig, **kwargs) -> Path:
    """Train and evaluate `cfg` with the trainer of its experiment's task (`train_and_evaluate`'s keywords)."""
    return train_and_evaluate(cfg, task=get_experiment(cfg.experiment).task, **kwargs)


def train_and_evaluate(cfg: RunConfig, *, task: str = "gan", out: str | Path = "runs", device: str = "auto",
                       console: Console | None = None, stop_after: int | None = None) -> Path:
    """Train (or resume) the run of `cfg`, evaluate at step 0 and at the end, write eval.json and reports.

    `stop_after`: return after that many G steps (tests use it to simulate an interrupted run).
    """
    from gbench import distributed as dist
    from gbench.report.run_report import render_run_report

    rank, world = dist.init_from_env(resolve_device(device))  # under torchrun: one process per device
    dev = dist.device_for_rank(resolve_device(device))
    main = rank == 0  # rank 0 writes every file and prints; all ranks train and evaluate
    console = (console or Console()) if main else Console(quiet=True)
    run_dir = run_dir_for(cfg, out)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_config(run_dir, cfg, dev)
    dist.barrier()
    log_path = run_dir / "metrics.jsonl"
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=dev.type == "cuda")
    _seed_everything(cfg.seed)  # identical model initialisation on every rank

    trainer = _trainer_class(task)(cfg, dev, rank=rank, world_size=world)
    if world > 1:
        _seed_everything(cfg.seed + RANK_SEED_STRIDE * rank)  # then a different, reproducible noise stream per rank
    t = cfg.train

    def evaluate(step: int) -> dict:
        with console.status(f"evaluating step {step} under {cfg.eval.protocol} ..."):
            result = trainer.evaluate(step)
        result = {"step": step, "generator": trainer.generator_label, **result}
        console.print(f"  step {step}: " + _format_metrics(result))
        if main:
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "eval": result["metrics"], "fingerprint": result["fingerprint"]}) + "\n")
        return result

    state, ckpt_path = load_latest_checkpoint(run_dir)
    evals: list[dict] = []
    if state is not None:
        trainer.load_state_dict(state["trainer"])
        rngs = state["rng"]
        if len(rngs) == world:
            set_rng_state(rngs[rank])
        else:
            console.print(f"[yellow]warning:[/yellow] the checkpoint was written by {len(rngs)} process(es), this run has {world}: "
                          "training continues with fresh per-rank noise, so it will not match an uninterrupted run exactly")
        evals = json.loads(state["evals"])
        if main:
            _truncate_log(log_path, trainer.step)
        console.print(f"[bold]resumed[/bold] {run_dir} from step {trainer.step} ({ckpt_path.name})")
    else:
        if main:
            log_path.unlink(missing_ok=True)
        console.print(f"[bold]run[/bold] {cfg.experiment} ({cfg.preset}) -> {run_dir}  [device {dev}]")
        if cfg.eval.at_start:
            evals.append(evaluate(0))

    def checkpoint() -> None:
        rngs = dist.all_gather_object(rng_state())  # every rank's RNG, so a resumed DDP run is exact too
        if main:
            save_checkpoint(run_dir, trainer.step, {"trainer": trainer.state_dict(), "rng": rngs, "evals": json.dumps(evals),
                                                    "config_hash": cfg.hash(), "world_size": world})

    log, window_start, step_at_window = StepLog(), time.perf_counter(), trainer.step

    def flush_log() -> None:
        nonlocal log, window_start, step_at_window
        if log.count == 0:
            return
        values = log.means()
        check_finite(values, trainer.step)
        seconds = time.perf_counter() - window_start
        images = (trainer.step - step_at_window) * trainer.images_per_step
        record = {"step": trainer.step, "data_epoch": round(trainer.data_epoch, 4), **{k: round(v, 6) for k, v in values.items()},
                  **trainer.learning_rates(), "img_per_s": round(images / seconds, 1) if seconds > 0 else None}
        if dev.type == "cuda":
            record["gpu_mem_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
        if main:  # losses are rank 0's share of the batch; images/s counts the whole global batch
            with open(log_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        shown = "  ".join(f"{k.removeprefix('loss_')} {v:.3f}" for k, v in values.items() if k.startswith("loss_"))
        progress.update(bar, losses=f"{shown}  {record['img_per_s']} img/s")
        log, window_start, step_at_window = StepLog(), time.perf_counter(), trainer.step

    columns = [TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[losses]}"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("train", total=t.steps, completed=trainer.step, losses="")
        while trainer.step < t.steps:
            trainer.train_step(log)
            progress.update(bar, completed=trainer.step)
            last = trainer.step == t.steps
            if trainer.step % t.log_every == 0 or last:
                flush_log()
            if main and ((t.sample_every and trainer.step % t.sample_every == 0) or last):
                trainer.save_samples(run_dir / "samples" / f"step-{trainer.step:08d}.png")
            if t.eval_every and trainer.step % t.eval_every == 0 and not last:
                evals.append(evaluate(trainer.step))
            if trainer.step % t.checkpoint_every == 0 or last:
                flush_log()
                checkpoint()
            if stop_after is not None and trainer.step >= stop_after and not last:
                return run_dir

    if not evals or evals[-1]["step"] != trainer.step:
        evals.append(evaluate(trainer.step))
        checkpoint()  # the final evaluation is part of the state: a rerun does not recompute it
    final = evals[-1]
    if main:
        atomic_write_json({"experiment": cfg.experiment, "preset": cfg.preset, "run_dir": str(run_dir), "config_hash": cfg.hash(),
                           "final": final, "evaluations": evals, "world_size": world}, run_dir / "eval.json")
        render_run_report(run_dir)
    dist.barrier()
    console.print(f"[bold green]done[/bold green] {run_dir}  " + _format_metrics(final))
    return run_dir


def _format_metrics(result: dict) -> str:
    """One console line: the metrics, then the fingerprint and sample counts (markup-escaped for rich)."""
    from rich.markup import escape

    from gbench.evaluation.sr import format_sr_metrics, is_sr_result

    if is_sr_result(result):
        return escape(format_sr_metrics(result))
    m = result["metrics"]
    parts = []
    if "is_mean" in m:
        parts.append(f"IS {m['is_mean']:.3f} ± {m['is_std']:.3f}")
    if "fid" in m:
        parts.append(f"FID {m['fid']:.3f}")
    if "kid_mean" in m:
        parts.append(f"KID {m['kid_mean']:.4f} ± {m['kid_std']:.4f}")
    known = {"is_mean", "is_std", "fid", "kid_mean", "kid_std"}
    parts += [f"{k} {v:.4g}" for k, v in m.items() if k not in known and isinstance(v, (int, float))]  # e.g. FCN scores
    return escape("  ".join(parts) + f"   [{result['fingerprint']}, n_gen {result['n_gen']}, n_ref {result['n_ref']}]")

