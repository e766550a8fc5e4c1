"""The scheduler-side files of a run directory, and what the scheduler says about its job.

A cell run dispatched through submitit keeps everything about its jobs in `<run dir>/jobs/`:
- submitit's own files: the pickled submission, `<job id>_submission.sh` (Slurm's sbatch script) and the logs
  `<job id>_<task>_log.out` / `.err`;
- `submission.json`: the launcher and job id of the latest submission;
- `events.jsonl`: one line per event, written by the submitter and by rank 0 of the job: `submitted`, `started`
  (with the step it resumes from), `stopped` (the step of the checkpoint written on the scheduler's signal),
  `finished`, `failed` (with the error).
`gbench reproduce --status` reads these beside the run's own files (eval.json, metrics.jsonl, checkpoints/).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from gbench.io import atomic_write_json

JOBS_FOLDER = "jobs"
LIVE_SLURM_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
                     "SUSPENDED", "PREEMPTED", "STAGE_OUT", "SIGNALING", "RESV_DEL_HOLD", "UNKNOWN", ""}


def jobs_folder(run_dir: Path) -> Path:
    return Path(run_dir) / JOBS_FOLDER


def write_submission(run_dir: Path, launcher: str, job_id: str) -> None:
    """The latest job of a run (its `submitted` event is recorded before submitting, so the job's own events follow it)."""
    atomic_write_json({"launcher": launcher, "job_id": str(job_id), "submitted": time.strftime("%Y-%m-%d %H:%M:%S")},
                      jobs_folder(run_dir) / "submission.json")


def read_submission(run_dir: Path) -> dict | None:
    try:
        found = json.loads((jobs_folder(run_dir) / "submission.json").read_text())
        return found if isinstance(found, dict) and found.get("job_id") else None
    except (OSError, json.JSONDecodeError):
        return None


def record_event(run_dir: Path, event: str, **fields) -> None:
    """Append one event line (small appends of one line do not interleave)."""
    path = jobs_folder(run_dir) / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps({"event": event, "time": time.strftime("%Y-%m-%d %H:%M:%S"), **fields}, default=str) + "\n")


def read_events(run_dir: Path) -> list[dict]:
    """The events since the latest submission (a torn last line is skipped)."""
    try:
        lines = (jobs_folder(run_dir) / "events.jsonl").read_text().splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    starts = [i for i, e in enumerate(events) if e.get("event") == "submitted"]
    return events[starts[-1]:] if starts else events


def last_log_line(run_dir: Path, job_id: str) -> str:
    """The last non-empty line of the job's error log (tracebacks end there), else of its output log."""
    folder = jobs_folder(run_dir)
    for name in (f"{job_id}_0_log.err", f"{job_id}_0_log.out"):
        try:
            with open(folder / name, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 8192))
                lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
        except OSError:
            continue
        if lines:
            return lines[-1]
    return ""


def job_status(run_dir: Path, steps: int) -> str:
    """"finished" (eval.json at the last step), "interrupted at step N" (the newest checkpoint) or "new"."""
    from gbench.checkpoint import checkpoint_paths

    run_dir = Path(run_dir)
    try:
        if json.loads((run_dir / "eval.json").read_text())["final"]["step"] >= steps:
            return "finished"
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        pass
    found = checkpoint_paths(run_dir) if run_dir.exists() else []
    if found:
        return f"interrupted at step {int(found[0].stem.split('-')[1])}"  # checkpoint_paths lists the newest first
    return "new"


def last_step(run_dir: Path) -> int:
    """The newest step the run has logged or checkpointed (0 before its first log line)."""
    from gbench.checkpoint import checkpoint_paths

    step = 0
    found = checkpoint_paths(run_dir)
    if found:
        step = int(found[0].stem.split("-")[1])
    try:
        with open(Path(run_dir) / "metrics.jsonl", "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
            for line in reversed(f.read().decode("utf-8", "replace").splitlines()):
                try:
                    return max(step, int(json.loads(line)["step"]))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
    except OSError:
        pass
    return step


# ----------------------------------------------------------------------------- what the scheduler says


def _local_process_alive(pid: str) -> bool:
    """A submitit-local job id is its controller's pid: alive, not a zombie, and still a submitit process."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z" and b"submitit" in cmdline


def scheduler_states(submissions: dict[Path, dict]) -> dict[Path, str]:
    """The scheduler's state of each run directory's latest job: Slurm's (sacct, through submitit) in upper case,
    e.g. PENDING, RUNNING, REQUEUED, COMPLETED, FAILED, TIMEOUT, CANCELLED ("" while sacct does not know the job yet);
    for submitit-local jobs RUNNING while the job's controller process lives, else ENDED."""
    states, slurm = {}, {}
    for run_dir, sub in submissions.items():
        if sub["launcher"] == "submitit-local":
            states[run_dir] = "RUNNING" if _local_process_alive(sub["job_id"]) else "ENDED"
        elif sub["launcher"] == "slurm":
            slurm[run_dir] = sub
    if slurm:
        import submitit

        handles = {run_dir: submitit.SlurmJob(folder=jobs_folder(run_dir), job_id=sub["job_id"]) for run_dir, sub in slurm.items()}
        first = next(iter(handles.values()))
        first.get_info(mode="force")  # one sacct call for every registered job
        for run_dir, handle in handles.items():
            state = handle.get_info(mode="cache").get("State", "")
            states[run_dir] = state.split()[0].upper() if state else ""  # "CANCELLED by 123" -> CANCELLED
    return states
