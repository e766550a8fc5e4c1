"""`gbench reproduce TABLE --status` and `--wait`: the state of every run a table needs, from its run directory and
its scheduler job, and a polling loop that shows progress until every dispatched run has ended.

A run is `done` (eval.json at the last step), `failed` (the job recorded an error, or the scheduler ended the job
before the run finished: the last log line says why), `running` at step N of M, `pending` (queued, or requeued
after a preemption or its time limit, resuming from its checkpoint), `interrupted` (a checkpoint but no job) or
`not started`. "requeued k times" counts the checkpoints written on the scheduler's signal since the latest
submission (gbench/tables/jobfiles.py keeps those events).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gbench.errors import GBenchError
from gbench.tables.jobfiles import LIVE_SLURM_STATES, job_status, last_log_line, last_step, read_events, read_submission, scheduler_states

ENDED = ("done", "failed")


@dataclass
class RunState:
    run_dir: Path
    kind: str  # done | failed | running | pending | interrupted | not started
    step: int
    steps: int
    requeues: int = 0
    job_id: str = ""
    launcher: str = ""
    detail: str = ""  # failed: the error; pending/running: the scheduler's word when it matters
    log_line: str = ""  # failed: the last line of the job's log

    @property
    def ended(self) -> bool:
        return self.kind in ENDED

    @property
    def watched(self) -> bool:
        """A run whose job may still change its state (a local run without a job never will)."""
        return bool(self.job_id) and not self.ended

    def text(self) -> str:
        requeued = f", requeued {self.requeues} time{'s' if self.requeues != 1 else ''}" if self.requeues else ""
        job = f" (job {self.job_id})" if self.job_id else ""
        if self.kind == "done":
            return "done"
        if self.kind == "running":
            return f"running at step {self.step:,} of {self.steps:,}{requeued}{job}"
        if self.kind == "pending":
            resume = f", resumes from step {self.step:,}" if self.step else ""
            return f"pending{' ' + self.detail if self.detail else ''}{requeued}{resume}{job}"
        if self.kind == "failed":
            return f"failed{job}: {self.reason()}"
        if self.kind == "interrupted":
            return f"interrupted at step {self.step:,} of {self.steps:,} (no job: the next reproduce resumes it)"
        return "not started"

    def reason(self) -> str:
        """Why a failed run failed (the error, and the last log line when it adds something); else the state."""
        if self.kind != "failed":
            return self.text()
        return self.detail + (f"; last log line: {self.log_line}" if self.log_line and self.log_line not in self.detail else "")


def _finished(run_dir: Path, steps: int) -> bool:
    return job_status(run_dir, steps) == "finished"


def run_state(run_dir: Path, steps: int, scheduler: str | None, submission: dict | None, finished: bool | None = None) -> RunState:
    """Classify one run directory; `scheduler` is its job's state from `scheduler_states` (None without a job);
    `finished`: whether the run has ended, when the caller has already looked."""
    run_dir = Path(run_dir)
    step = last_step(run_dir)
    events = read_events(run_dir) if submission else []
    kinds = [e.get("event") for e in events]
    state = RunState(run_dir, "pending", step, steps, requeues=kinds.count("stopped"),
                     job_id=submission["job_id"] if submission else "", launcher=submission["launcher"] if submission else "")
    if _finished(run_dir, steps) if finished is None else finished:
        state.kind, state.step = "done", steps
        return state
    if submission is None:
        state.kind = "interrupted" if step else "not started"
        return state
    if kinds and kinds[-1] == "failed":
        state.kind, state.detail = "failed", events[-1].get("error", "")
        state.log_line = last_log_line(run_dir, state.job_id)
        return state
    scheduler = (scheduler or "").upper()
    if scheduler in ("RUNNING", "COMPLETING"):
        started = kinds and kinds[-1] == "started"
        state.kind = "running" if started else "pending"
        state.detail = "" if started else "(starting)"
    elif scheduler in LIVE_SLURM_STATES:
        state.detail = "" if scheduler in ("PENDING", "REQUEUED", "") else f"({scheduler.lower()})"
        if not scheduler:
            state.detail = "(submitted; the scheduler does not list it yet)"
    else:  # the job ended (COMPLETED, FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, NODE_FAIL, ... or a local ENDED)
        state.kind = "failed"
        state.detail = f"the job ended ({scheduler.lower()}) at step {step:,} of {steps:,} without finishing the run"
        state.log_line = last_log_line(run_dir, state.job_id)
    return state


def run_states(p, jobs=None) -> dict[Path, RunState]:
    """The state of every run of plan `p` (or of `jobs`, runner.Job objects): one scheduler query for all."""
    jobs = list(p.jobs.values()) if jobs is None else list(jobs)
    finished = {j.run_dir: _finished(j.run_dir, j.cfg.train.steps) for j in jobs}
    submissions = {j.run_dir: sub for j in jobs if (sub := read_submission(j.run_dir))}
    schedulers = scheduler_states({d: s for d, s in submissions.items() if not finished[d]})
    return {j.run_dir: run_state(j.run_dir, j.cfg.train.steps, schedulers.get(j.run_dir), submissions.get(j.run_dir), finished[j.run_dir])
            for j in jobs}


def status_table(p, states: dict[Path, RunState], measured: list):
    """A rich table: one line per row and run (its columns share it), the run's state, and done cells' values."""
    from rich.table import Table

    from gbench.report.table_report import measured_text, paper_text

    values = {(m.row, m.column): m for m in measured}
    table = Table(title=f"{p.table.name} ({p.preset} preset, {p.seeds} seed(s)): status")
    for col in ("row", "columns", "run directory", "state"):
        table.add_column(col, overflow="fold")
    lines: dict[tuple, list] = {}
    for pc in p.cells:
        keys = [(pc.cell.row, "–", f"not available: {pc.unavailable}")] if pc.unavailable else [
            (pc.cell.row, str(job.run_dir), states[job.run_dir].text()) for job in pc.jobs]
        for key in keys:
            lines.setdefault(key, []).append(pc.cell.column)
    for (row, where, state), columns in lines.items():
        if state == "done":
            shown = [f"{c} {measured_text(m)} (paper {paper_text(m)})" for c in columns
                     if (m := values.get((row, c))) is not None and not m.status]
            state = "done" + (": " + ", ".join(shown) if shown else "")
        table.add_row(row, ", ".join(columns), where, state)
    return table


def summary(states: dict[Path, RunState]) -> str:
    counts: dict[str, int] = {}
    for s in states.values():
        counts[s.kind] = counts.get(s.kind, 0) + 1
    order = ("done", "running", "pending", "failed", "interrupted", "not started")
    return ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))


class Watch:
    """Progress of dispatched runs: a bar of ended runs and one printed line per change of state."""

    def __init__(self, console, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console, self.seen = console, {}
        self.progress = Progress(TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
                                 TimeElapsedColumn(), console=console, transient=True)
        self.bar = self.progress.add_task("runs", total=total, counts="")

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def update(self, states: dict[Path, RunState]) -> None:
        for run_dir, state in states.items():
            text = state.text()
            if self.seen.get(run_dir) != text:
                self.seen[run_dir] = text
                colour = {"done": "green", "failed": "red"}.get(state.kind, "cyan")
                self.progress.console.print(f"{time.strftime('%H:%M:%S')} [{colour}]{run_dir}[/{colour}]: {text}", highlight=False)
        self.progress.update(self.bar, completed=sum(s.ended for s in states.values()), counts=summary(states))


def wait(p, jobs=None, *, poll: float = 30.0, console=None, timeout: float | None = None) -> dict[Path, RunState]:
    """Poll the runs of `jobs` (default: every run of plan `p`) until none has a job that may still change its state."""
    from rich.console import Console

    console = console or Console()
    jobs = list(p.jobs.values()) if jobs is None else list(jobs)
    slurm = [j.run_dir for j in jobs
             if (sub := read_submission(j.run_dir)) and sub["launcher"] == "slurm" and not _finished(j.run_dir, j.cfg.train.steps)]
    if slurm and shutil.which("sacct") is None:  # without accounting a job never leaves "submitted": the loop would not end
        raise GBenchError(f"--wait follows Slurm jobs with sacct, which is not on PATH here ({len(slurm)} run(s) submitted to Slurm); "
                          "run it on a node with Slurm accounting, or use --status, which reads the run directories")
    start = time.monotonic()
    states = run_states(p, jobs)
    with Watch(console, len(states)) as watch:
        while True:
            watch.update(states)
            if not any(s.watched for s in states.values()):
                return states
            if timeout is not None and time.monotonic() - start > timeout:
                raise GBenchError(f"--wait gave up after {timeout:.0f} s: {summary(states)}")
            time.sleep(poll)
            states = run_states(p, jobs)
