"""Table cells as scheduler jobs through submitit: `--launcher slurm` and `--launcher submitit-local`.

Every run directory a table still needs becomes one job (cells that share a run directory share its job), and every
job runs `CellRun`: gbench.runs.run_experiment with the cell's config, the code path of `gbench run`. The job's tasks
(one per GPU: `--gpus-per-cell` spread over `--nodes-per-cell`) form one process group from the launcher's
environment (gbench/distributed.py, `launcher_variables`). `submitit-local` runs the same jobs as processes on this
machine through submitit's local executor (`--jobs` at a time); the tests exercise the whole path that way on CPU.
`--launcher local` (gbench/tables/runner.py) trains in this process or in a worker pool, as before.

Preemption and time limits (submitit's checkpointing, docs/checkpointing.md of facebookincubator/submitit): Slurm
signals the job `signal_delay_s` before its time limit (`--signal=USR2@300`) and, where the cluster allows it, on
preemption. `CellRun` turns submitit's signal (USR2 by default; submitit avoids USR1, which NCCL may use) into a stop
request: every rank finishes its step, rank 0 writes a checkpoint, and then submitit's own handler requeues the job
with a fresh `CellRun` (`checkpoint`). The requeued job resumes from the checkpoint through run_experiment's resume
path, so the figures equal those of an uninterrupted run. Preemptions requeue without limit; time limits up to
`max_timeouts` times (submitit's `max_num_timeout`).
"""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gbench.errors import GBenchError, UsageError
from gbench.tables.jobfiles import jobs_folder, record_event, write_submission
from gbench.tables.status import RunState, Watch, run_states, summary, wait

LAUNCHERS = ("local", "submitit-local", "slurm")
INSTALL_HINT = 'pip install -e ".[cluster]"'
# sbatch options gbench writes itself, and the option of `gbench reproduce` that sets each ("" = not settable)
RESERVED_SBATCH = {"time": "--time", "nodes": "--nodes-per-cell", "ntasks-per-node": "--gpus-per-cell", "gpus-per-node": "--gpus-per-cell",
                   "partition": "--partition", "account": "--account", "qos": "--qos", "job-name": "", "signal": "", "output": "",
                   "error": "", "open-mode": "", "dependency": "", "array": "", "wckey": ""}


@dataclass(frozen=True)
class ClusterOptions:
    """The resources of one cell's job."""

    partition: str = ""
    gpus_per_cell: int = 1  # GPUs (= processes) per job, spread evenly over its nodes; 0: one CPU process per node
    nodes_per_cell: int = 1
    time: str = "24:00:00"  # the job's time limit; the run checkpoints and requeues before it
    account: str = ""
    qos: str = ""
    extra: tuple = ()  # further sbatch options, "key=value" or "key" (a flag), e.g. "constraint=a100", "cpus-per-task=10"
    max_timeouts: int = 20  # time-limit requeues per job before it counts as failed (preemptions do not count)
    signal_delay_s: int = 300  # Slurm signals this long before the time limit: time to end a step or an evaluation and checkpoint

    def check(self, launcher: str) -> None:
        if self.gpus_per_cell < 0 or self.nodes_per_cell < 1:
            raise UsageError("--gpus-per-cell must be 0 or more and --nodes-per-cell at least 1")
        if self.gpus_per_cell and self.gpus_per_cell % self.nodes_per_cell:
            raise UsageError(f"--gpus-per-cell {self.gpus_per_cell} does not split evenly over --nodes-per-cell {self.nodes_per_cell}")
        if launcher == "submitit-local" and self.nodes_per_cell > 1:
            raise UsageError("--launcher submitit-local runs on this machine: --nodes-per-cell must be 1")
        time_minutes(self.time)
        extra_sbatch_options(self.extra)

    @property
    def tasks_per_node(self) -> int:
        return max(1, self.gpus_per_cell // self.nodes_per_cell)


def time_minutes(text: str) -> int:
    """A Slurm time limit ("minutes", "MM:SS", "HH:MM:SS", "D-HH[:MM[:SS]]") in whole minutes, rounded up."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(text).strip())
    if not match:
        raise UsageError(f"--time must look like HH:MM:SS, D-HH:MM:SS or minutes, not {text!r}")
    days, a, b, c = (int(g) if g else None for g in match.groups())
    if days is not None:
        seconds = days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    elif c is not None:
        seconds = a * 3600 + b * 60 + c
    elif b is not None:
        seconds = a * 60 + b
    else:
        seconds = a * 60
    if seconds <= 0:
        raise UsageError(f"--time {text!r} is not a positive duration")
    return math.ceil(seconds / 60)


def extra_sbatch_options(extra: tuple) -> dict:
    """`--slurm-extra key=value` pairs as sbatch options (`key` alone is a flag); gbench's own options are refused."""
    options = {}
    for item in extra:
        key, has_value, value = str(item).partition("=")
        key = key.strip().lstrip("-").replace("_", "-")
        if not key:
            raise UsageError(f"--slurm-extra {item!r}: expected key=value, e.g. constraint=a100")
        if key in RESERVED_SBATCH:
            where = RESERVED_SBATCH[key]
            raise UsageError(f"--slurm-extra {key}: " + (f"use {where}" if where else "gbench sets this sbatch option itself"))
        options[key] = value if has_value else True
    return options


def slurm_parameters(options: ClusterOptions, job_name: str, after: tuple = ()) -> dict:
    """Keyword arguments of submitit's SlurmExecutor.update_parameters for one cell's job (the sbatch script's options)."""
    params = {"job_name": job_name, "time": time_minutes(options.time), "nodes": options.nodes_per_cell,
              "ntasks_per_node": options.tasks_per_node, "signal_delay_s": options.signal_delay_s,
              "additional_parameters": {"requeue": True, **extra_sbatch_options(options.extra)}}
    if options.gpus_per_cell:
        params["gpus_per_node"] = options.tasks_per_node
    for key in ("partition", "account", "qos"):
        if getattr(options, key):
            params[key] = getattr(options, key)
    if after:
        params["dependency"] = "afterok:" + ":".join(after)
    return params


def local_parameters(options: ClusterOptions, gpus: tuple = ()) -> dict:
    """Keyword arguments of submitit's LocalExecutor.update_parameters: processes (one per GPU in `gpus`, else
    `--gpus-per-cell` CPU processes), the time limit and its signal."""
    params = {"timeout_min": time_minutes(options.time), "tasks_per_node": max(1, len(gpus) or options.gpus_per_cell),
              "signal_delay_s": options.signal_delay_s, "gpus_per_node": len(gpus)}
    if gpus:
        params["visible_gpus"] = tuple(gpus)
    return params


def require_submitit(launcher: str):
    try:
        import submitit
    except ImportError:
        raise GBenchError(f"--launcher {launcher} needs submitit, which is not installed: {INSTALL_HINT}") from None
    return submitit


def preemption_signal() -> int:
    """The signal submitit's job environment treats as preemption or time limit (USR2 unless SUBMITIT_PREEMPT_SIGNAL says otherwise)."""
    import submitit

    return getattr(signal, "SIG" + submitit.JobEnvironment.USR_SIG)


# ----------------------------------------------------------------------------- the job


class CellRun:
    """The callable a cell's job runs: `gbench run` for one config, stopping at a step boundary on submitit's signal.

    `__call__` runs on every task of the job; rank 0 records the job's events (gbench/tables/jobfiles.py).
    `checkpoint` is submitit's requeue hook: it requeues a fresh CellRun, which resumes from the run's checkpoint.
    """

    def __init__(self, cfg: dict, out: str, device: str = "auto", threads: int = 0):
        self.cfg, self.out, self.device, self.threads = cfg, str(out), device, threads

    def __call__(self) -> dict:
        import torch
        from rich.console import Console

        from gbench import distributed
        from gbench.checkpoint import checkpoint_paths
        from gbench.config import config_from_dict
        from gbench.runs import RunStopped, run_dir_for, run_experiment

        os.environ.update(distributed.launcher_variables())  # know this task's rank before the run starts
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
        cfg = config_from_dict(self.cfg)
        run_dir = run_dir_for(cfg, self.out)
        stop_signal, requested = preemption_signal(), []
        previous = signal.signal(stop_signal, lambda signum, frame: requested.append(signum))
        threads = self.threads or int(os.environ.get("SLURM_CPUS_PER_TASK", "0") or 0)
        if threads:
            torch.set_num_threads(threads)
        if rank == 0:
            found = checkpoint_paths(run_dir) if run_dir.exists() else []
            record_event(run_dir, "started", job_id=_job_id(), host=socket.gethostname(), pid=os.getpid(), world_size=world,
                         step=int(found[0].stem.split("-")[1]) if found else 0)
        console = Console(file=sys.stdout, width=120, force_terminal=False, soft_wrap=True)
        try:
            run_experiment(cfg, out=self.out, device=self.device, console=console, stop_requested=lambda: bool(requested))
        except RunStopped as stop:
            distributed.destroy()
            signal.signal(stop_signal, previous)
            if rank != 0:
                sys.exit(0)  # rank 0 requeues the job; the scheduler restarts every task
            record_event(run_dir, "stopped", step=stop.step)
            if callable(previous):  # submitit's handler: our checkpoint(), then requeue and exit
                try:
                    previous(stop_signal, None)
                except Exception as exc:  # e.g. timed out more than max_timeouts times
                    record_event(run_dir, "failed", error=f"not requeued after the stop at step {stop.step}: {exc}")
                    raise
            return {"run_dir": str(run_dir), "stopped_at": stop.step}
        except (Exception, KeyboardInterrupt) as exc:
            if rank == 0:
                error = str(exc) if isinstance(exc, GBenchError) else f"{type(exc).__name__}: {exc}"
                record_event(run_dir, "failed", error=error.splitlines()[0] if error.strip() else type(exc).__name__)
            raise
        signal.signal(stop_signal, previous)
        distributed.destroy()
        if rank == 0:
            record_event(run_dir, "finished")
        return {"run_dir": str(run_dir)}

    def checkpoint(self, *args, **kwargs):
        """submitit's requeue hook: the same cell again (the run resumes from the checkpoint its stop wrote)."""
        import submitit

        return submitit.helpers.DelayedSubmission(CellRun(self.cfg, self.out, self.device, self.threads))


def _job_id() -> str:
    try:
        import submitit

        return str(submitit.JobEnvironment().job_id)
    except Exception:  # noqa: BLE001 - called outside a submitit job
        return ""


# ----------------------------------------------------------------------------- dispatching a table's runs


def _job_name(run_dir: Path) -> str:
    return f"gbench-{run_dir.parent.name}-{run_dir.name}"


def _submit(executor, job, launcher: str, out: Path, device: str, threads: int = 0):
    """Submit one run directory's CellRun; returns submitit's job (events: `submitted` first, so the job's own come after)."""
    record_event(job.run_dir, "submitted", launcher=launcher)
    try:
        handle = executor.submit(CellRun(job.cfg.to_dict(), str(Path(out).absolute()), device, threads))
    except Exception as exc:  # noqa: BLE001 - sbatch's refusal, told in one line
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise GBenchError(f"submitting {job.run_dir} failed: {lines[-1] if lines else type(exc).__name__}") from None
    write_submission(job.run_dir, launcher, handle.job_id)
    return handle


def _slurm_executor(submitit, folder: Path, options: ClusterOptions, params: dict):
    try:
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=options.max_timeouts)
    except RuntimeError:
        raise GBenchError("--launcher slurm needs Slurm's srun and sbatch on PATH (run it on a login node of the cluster); "
                          "--launcher submitit-local runs the same jobs on this machine") from None
    executor.update_parameters(**params)
    return executor


def dispatch(p, waves: list, launcher: str, options: ClusterOptions, *, jobs: int = 1, device: str = "auto", wait_for_end: bool = True,
             poll: float | None = None, console=None, timeout: float | None = None) -> list:
    """Run the plan's unfinished jobs (`waves`: runner.Job lists in dependency order) through submitit.

    Runs whose job is still queued or running are not submitted again. `slurm` submits every job at once (later waves
    wait for theirs with `afterok` dependencies) and, with `wait_for_end`, polls until they end; `submitit-local` runs
    `jobs` at a time on this machine until all have ended. Returns the runner.Jobs that did not finish (`error` set).
    """
    from rich.console import Console

    console = console or Console()
    submitit = require_submitit(launcher)
    options.check(launcher)
    todo = [j for wave in waves for j in wave]
    if not todo:
        return []
    states = run_states(p, todo)
    for job in todo:
        if states[job.run_dir].watched:
            console.print(f"[dim]already queued[/dim] {job.run_dir}: {states[job.run_dir].text()}")
    if launcher == "slurm":
        submitted = _submit_slurm(submitit, p, todo, states, options, device, console)
        if not wait_for_end:
            console.print(f"{len(submitted)} job(s) submitted" if submitted else "nothing new to submit",
                          f"; follow with `gbench reproduce {p.table.name} --preset {p.preset} --status` (or --wait)", sep="")
            return []
        final = wait(p, todo, poll=poll or 60.0, console=console, timeout=timeout)
    else:
        final = _run_local(submitit, p, todo, states, options, jobs=jobs, device=device, poll=poll or 2.0, console=console, timeout=timeout)
    failed = []
    for job in todo:
        if final[job.run_dir].kind != "done":
            state = final[job.run_dir]
            job.error = job.error or (f"job {state.job_id}: " if state.job_id else "") + state.reason()
            failed.append(job)
    return failed


def _submit_slurm(submitit, p, todo: list, states: dict, options: ClusterOptions, device: str, console) -> list:
    """Submit every run without a live job; returns the new job ids."""
    ids = {j.run_dir: states[j.run_dir].job_id for j in todo if states[j.run_dir].watched}
    submitted = []
    for job in todo:
        if job.run_dir in ids:
            continue
        after = tuple(ids[d] for d in job.depends if d in ids)
        folder = jobs_folder(job.run_dir)
        executor = _slurm_executor(submitit, folder, options, slurm_parameters(options, _job_name(job.run_dir), after))
        handle = _submit(executor, job, "slurm", p.out, device, p.threads)
        ids[job.run_dir] = handle.job_id
        submitted.append(handle.job_id)
        console.print(f"[bold]submitted[/bold] {job.cfg.experiment} -> {job.run_dir} as Slurm job {handle.job_id}"
                      + (f" (after {', '.join(after)})" if after else ""))
    return submitted


def local_slots(jobs: int, options: ClusterOptions, device: str, threads: int = 0) -> tuple[int, list, int]:
    """(jobs at once, free GPU ids, CPU threads per job) for submitit-local; `threads` (--threads) pins the last."""
    import torch

    if device in ("auto", "cuda") or device.startswith("cuda"):
        if torch.cuda.is_available():
            per_job = max(1, options.gpus_per_cell)
            n = min(max(1, jobs), max(1, torch.cuda.device_count() // per_job))
            return n, list(range(torch.cuda.device_count())), 0
        if device != "auto":
            raise UsageError("--device cuda requested but torch sees no CUDA device (use --device cpu or auto)")
    n = max(1, jobs)
    return n, [], threads or max(1, (os.cpu_count() or 1) // (n * max(1, options.gpus_per_cell)))


def _run_local(submitit, p, todo: list, states: dict, options: ClusterOptions, *, jobs: int, device: str, poll: float, console,
               timeout: float | None) -> dict:
    """submitit-local: start jobs as slots free up (a run whose init_from run is in this batch waits for it)."""
    parallel, free_gpus, threads = local_slots(jobs, options, device, p.threads)
    use_gpus = bool(free_gpus)
    waiting = [j for j in todo if not states[j.run_dir].watched]
    active = {j.run_dir: (None, []) for j in todo if states[j.run_dir].watched}  # run dir -> (submitit job, its GPUs)
    ours = {j.run_dir for j in todo}
    skipped: dict[Path, str] = {}
    start = time.monotonic()
    console.print(f"submitit-local: {len(waiting)} job(s), {parallel} at a time; logs in <run dir>/jobs/")
    with Watch(console, len(todo)) as watch:
        while True:
            for run_dir, (handle, gpus) in list(active.items()):
                # our own jobs leave when their process has ended (it still writes the report after eval.json), others when
                # their state stops changing
                if (handle.done() if handle is not None else not states[run_dir].watched):
                    free_gpus.extend(gpus)
                    del active[run_dir]
            for job in list(waiting):
                if len(active) >= parallel:
                    break
                deps = [d for d in job.depends if d in ours]
                if any(states[d].kind == "failed" or d in skipped for d in deps):
                    skipped[job.run_dir] = "not run: the run it starts from (train.init_from) failed"
                    waiting.remove(job)
                    continue
                if any(states[d].kind != "done" for d in deps):
                    continue
                per_job = max(1, options.gpus_per_cell) if use_gpus else 0
                gpus, free_gpus[:] = free_gpus[:per_job], free_gpus[per_job:]
                executor = submitit.LocalExecutor(folder=jobs_folder(job.run_dir), max_num_timeout=options.max_timeouts)
                executor.update_parameters(**local_parameters(options, tuple(gpus)))
                active[job.run_dir] = (_submit(executor, job, "submitit-local", p.out, device, threads), gpus)
                waiting.remove(job)
            states = run_states(p, todo)
            watch.update(states)
            if not waiting and not active:
                break
            if timeout is not None and time.monotonic() - start > timeout:
                raise GBenchError(f"submitit-local gave up waiting after {timeout:.0f} s: {summary(states)}")
            time.sleep(poll)
    for job in todo:
        if job.run_dir in skipped:
            job.error = skipped[job.run_dir]
            states[job.run_dir] = RunState(job.run_dir, "failed", 0, job.cfg.train.steps, detail=skipped[job.run_dir])
    return states
