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
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import gbench
from gbench.config import RunConfig, validate
from gbench.errors import GBenchError, UsageError, warn
from gbench.io import atomic_write_json, ensure_writable_dir
from gbench.paths import source_commit
from gbench.checkpoint import load_latest_checkpoint, rng_state, save_checkpoint, set_rng_state
from gbench.distributed import resolve_device
from gbench.experiments import get_experiment
from gbench.models import check_models
from gbench.train.gan import GANTrainer, StepLog, check_finite


RANK_SEED_STRIDE = 1_000_003  # rank r of a DDP run draws its noise from seed + r * stride


def _trainer_class(task: str):
    """The trainer of a task kind: "gan" (unconditional/conditional); more kinds register here."""
    from gbench.train.img2img import CycleGANTrainer, Pix2PixTrainer
    from gbench.train.progressive import ProgressiveTrainer
    from gbench.train.sr import SRTrainer
    from gbench.train.text2image import Text2ImageTrainer

    trainers = {"gan": GANTrainer, "sr": SRTrainer, "paired": Pix2PixTrainer, "unpaired": CycleGANTrainer,
                "text2image": Text2ImageTrainer, "progressive": ProgressiveTrainer}
    if task not in trainers:
        raise GBenchError(f"no trainer for task {task!r}; known: {', '.join(trainers)}")
    return trainers[task]


class RunStopped(Exception):
    """A run stopped early on request (`stop_requested`, e.g. a preemption signal) after writing a checkpoint at `step`."""

    def __init__(self, run_dir: Path, step: int):
        super().__init__(f"{run_dir} stopped at step {step} (checkpoint written; rerunning resumes from it)")
        self.run_dir, self.step = run_dir, step


FAST_PATH_TASKS = {"gan"}  # trainers that implement train.precision (bf16 autocast) and train.compile


def run_dir_for(cfg: RunConfig, out: str | Path) -> Path:
    return Path(out) / cfg.experiment / f"{cfg.preset}-{cfg.hash()[:8]}"


def runtime(device: torch.device, cfg: RunConfig) -> dict:
    """What besides the config moves CPU numerics: threads, device, dtype and the determinism switches.
    Recorded in config.json and shown in reports (a 1-thread and a 2-thread CPU run differ in the last bits,
    and over hundreds of steps that moves a smoke FID by whole points)."""
    return {"device": str(device), "torch_threads": torch.get_num_threads(), "precision": cfg.train.precision,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark)}


def _write_config(run_dir: Path, cfg: RunConfig, device: torch.device) -> None:
    """config.json is derived from the config: written once, rewritten (with a warning) when unreadable."""
    path = run_dir / "config.json"
    if path.exists():
        try:
            if json.loads(path.read_text())["config_hash"] == cfg.hash():
                return
        except (OSError, ValueError, KeyError, TypeError):
            pass
        warn(f"{path} was unreadable or belonged to another config; rewritten from the run's config")
    atomic_write_json({
        "config": cfg.to_dict(),
        "config_hash": cfg.hash(),
        "device": str(device),
        "runtime": runtime(device, cfg),
        "versions": {"gbench": gbench.__version__, "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "git_commit": source_commit(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, path)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint we resume from (a killed run may have logged past it), and
    unreadable lines (a write cut off by the kill), saying how many."""
    if not path.exists():
        return
    kept, broken = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            broken += 1
    if broken:
        warn(f"{path}: dropped {broken} unreadable line(s)")
    path.write_text("".join(line + "\n" for line in kept))


def _eval_report(cfg: RunConfig, run_dir: Path, evals: list[dict], world: int) -> dict:
    return {"experiment": cfg.experiment, "preset": cfg.preset, "run_dir": str(run_dir), "config_hash": cfg.hash(),
            "final": evals[-1], "evaluations": evals, "world_size": world}


def finished_result(cfg: RunConfig, run_dir: Path) -> dict | None:
    """The eval.json of a finished run of `cfg`, else None. An unreadable eval.json is rebuilt from the final
    checkpoint (which holds every evaluation) when the run is finished, with a warning."""
    path = run_dir / "eval.json"
    if path.exists():
        try:
            data = json.loads(path.read_text())
            if data["config_hash"] == cfg.hash() and data["final"]["step"] >= cfg.train.steps:
                return data
            if data["config_hash"] == cfg.hash():
                return None
        except (OSError, ValueError, KeyError, TypeError):
            pass
    state, ckpt = load_latest_checkpoint(run_dir) if (run_dir / "checkpoints").is_dir() else (None, None)
    if state is None or state.get("config_hash") != cfg.hash():
        return None
    evals = json.loads(state["evals"])
    if not evals or state["trainer"].get("step", -1) < cfg.train.steps or evals[-1]["step"] < cfg.train.steps:
        return None
    data = _eval_report(cfg, run_dir, evals, int(state.get("world_size", 1)))
    atomic_write_json(data, path)
    if path.exists():
        warn(f"{path} was missing or unreadable; rebuilt from {ckpt.name}")
    return data


def run_experiment(cfg: RunConfig, **kwargs) -> Path:
    """Train and evaluate `cfg` with the trainer of its experiment's task (`train_and_evaluate`'s keywords)."""
    return train_and_evaluate(cfg, task=get_experiment(cfg.experiment).task, **kwargs)


PROGRESS_LINE_SECONDS = 30  # without a terminal (logs, Slurm), one progress line at most this often


def train_and_evaluate(cfg: RunConfig, *, task: str = "gan", out: str | Path = "runs", device: str = "auto",
                       console: Console | None = None, stop_after: int | None = None, force_eval: bool = False,
                       stop_requested=None) -> Path:
    """Train (or resume) the run of `cfg`, evaluate at step 0 and at the end, write eval.json and reports.

    The config is validated and every output location checked before anything is created or computed; a finished
    run prints its results without recomputing them unless `force_eval`. `train.steps=0` evaluates the untrained
    model only. `stop_after`: return after that many G steps (tests use it to simulate an interrupted run).
    `stop_requested`: a callable asked after every G step (gbench/tables/launchers.py passes "has the scheduler
    signalled a preemption or the time limit?"); when it is true on any rank, every rank writes a checkpoint at
    that step and raises `RunStopped`. Under DDP this costs one scalar all-reduce per step, so ranks stop together.
    """
    from gbench import distributed as dist
    from gbench.paths import gbench_home
    from gbench.report.run_report import render_run_report

    validate(cfg)
    check_models(cfg)
    rank, world = dist.init_from_env(resolve_device(device))  # under torchrun: one process per device
    dev = dist.device_for_rank(resolve_device(device))
    main = rank == 0  # rank 0 writes every file and prints; all ranks train and evaluate
    console = (console or Console()) if main else Console(quiet=True)
    run_dir = run_dir_for(cfg, out)
    if main:
        ensure_writable_dir(out, "--out")
        ensure_writable_dir(gbench_home(), "GBENCH_HOME (caches and weights)")
        done = None if force_eval else finished_result(cfg, run_dir)
        if done is not None:
            if not (run_dir / "report.md").exists():
                render_run_report(run_dir)
            console.print(f"[bold green]complete[/bold green] {run_dir} (step {done['final']['step']}; rerun with --force-eval to "
                          "evaluate again)  " + _format_metrics(done["final"]))
    else:
        done = None
    if world > 1:
        done = dist.broadcast_object(done)
    if done is not None:
        return run_dir
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=dev.type == "cuda")
    _seed_everything(cfg.seed)  # identical model initialisation on every rank
    if task not in FAST_PATH_TASKS and (cfg.train.compile or cfg.train.precision != "fp32"):
        raise UsageError(f"train.compile and train.precision=bf16 are switches of the GAN trainer; the {task!r} trainer of "
                         f"{cfg.experiment} trains in fp32, uncompiled")
    trainer = _trainer_class(task)(cfg, dev, rank=rank, world_size=world)  # models and data: refused before the run dir exists
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_config(run_dir, cfg, dev)
        real = run_dir / "samples" / "real.png"
        if hasattr(trainer, "save_real_samples") and not real.exists():
            trainer.save_real_samples(real)
    dist.barrier()
    log_path = run_dir / "metrics.jsonl"
    if world > 1:
        _seed_everything(cfg.seed + RANK_SEED_STRIDE * rank)  # then a different, reproducible noise stream per rank
    t = cfg.train
    total_steps = getattr(trainer, "total_steps", t.steps)  # a trainer with a second stage (text2image's style encoder) counts it too

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
            warn(f"the checkpoint was written by {len(rngs)} process(es), this run has {world}: training continues with fresh "
                 "per-rank noise, so it will not match an uninterrupted run exactly")
        evals = json.loads(state["evals"])
        if main:
            _truncate_log(log_path, trainer.step)
        console.print(f"[bold]resumed[/bold] {run_dir} from step {trainer.step} ({ckpt_path.name})")
    else:
        if main:
            log_path.unlink(missing_ok=True)
        console.print(f"[bold]run[/bold] {cfg.experiment} ({cfg.preset}) -> {run_dir}  [device {dev}, {torch.get_num_threads()} "
                      f"CPU thread(s)]")
        if t.steps == 0:
            console.print("train.steps=0: evaluating the untrained model only")
        if cfg.eval.at_start:
            evals.append(evaluate(0))

    def checkpoint() -> None:
        rngs = dist.all_gather_object(rng_state())  # every rank's RNG, so a resumed DDP run is exact too
        if main:
            save_checkpoint(run_dir, trainer.step, {"trainer": trainer.state_dict(), "rng": rngs, "evals": json.dumps(evals),
                                                    "config_hash": cfg.hash(), "world_size": world})

    log, window_start, step_at_window = StepLog(), time.perf_counter(), trainer.step
    started, last_line = time.perf_counter(), 0.0
    plain = main and not console.is_terminal  # logs and batch jobs get periodic lines instead of a live bar

    def flush_log() -> None:
        nonlocal log, window_start, step_at_window, last_line
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
        now = time.perf_counter()
        if plain and (now - last_line >= PROGRESS_LINE_SECONDS or trainer.step == t.steps):
            last_line = now
            console.print(f"step {trainer.step}/{t.steps} ({100 * trainer.step / max(t.steps, 1):.0f}%)  {shown}  "
                          f"{record['img_per_s']} img/s  {now - started:.0f} s", highlight=False)
        log, window_start, step_at_window = StepLog(), time.perf_counter(), trainer.step

    columns = [TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[losses]}"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False, disable=plain) as progress:
        bar = progress.add_task("train", total=total_steps, completed=trainer.step, losses="")
        while trainer.step < total_steps:
            trainer.train_step(log)
            progress.update(bar, completed=trainer.step)
            last = trainer.step == total_steps
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
            if stop_requested is not None and not last and dist.any_rank(stop_requested()):
                if trainer.step % t.checkpoint_every:
                    flush_log()
                    checkpoint()
                dist.barrier()  # the checkpoint is on disk before any rank leaves
                console.print(f"[yellow]stopped[/yellow] at step {trainer.step} on request; checkpoint written")
                raise RunStopped(run_dir, trainer.step)

    if force_eval and evals and evals[-1]["step"] == trainer.step:
        evals.pop()  # --force-eval: the final evaluation is recomputed (e.g. after the extractor's weights arrived)
    if not evals or evals[-1]["step"] != trainer.step:
        evals.append(evaluate(trainer.step))
        checkpoint()  # the final evaluation is part of the state: a rerun does not recompute it
    final = evals[-1]
    if main:
        report = _eval_report(cfg, run_dir, evals, world)
        try:
            atomic_write_json(report, run_dir / "eval.json")
            render_run_report(run_dir)
        except OSError as exc:  # the results are in the checkpoint too; show them before failing
            console.print("final " + _format_metrics(final))
            raise GBenchError(f"could not write {run_dir / 'eval.json'} or the report ({exc.strerror or exc}); the results above are "
                              f"also in the final checkpoint: rerun the same command once {run_dir} is writable") from None
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
        parts.append(f"KID×10³ {1e3 * m['kid_mean']:.3f} ± {1e3 * m['kid_std']:.3f}")
    if "fd_dinov2" in m:
        parts.append(f"FD_DINOv2 {m['fd_dinov2']:.3f}")
    if "kd_dinov2_mean" in m:
        parts.append(f"KD_DINOv2×10³ {1e3 * m['kd_dinov2_mean']:.3f} ± {1e3 * m['kd_dinov2_std']:.3f}")
    known = {"is_mean", "is_std", "fid", "kid_mean", "kid_std", "fd_dinov2", "kd_dinov2_mean", "kd_dinov2_std"}
    parts += [f"{k} {v:.4g}" for k, v in m.items() if k not in known and isinstance(v, (int, float))]  # e.g. FCN scores
    return escape("  ".join(parts) + f"   [{result['fingerprint']}, n_gen {result['n_gen']}, n_ref {result['n_ref']}]")

