"""Table cells as submitit jobs (`gbench reproduce --launcher submitit-local | slurm`), preemption, `--status`, and the
launcher environment read into torch.distributed. No Slurm here: submitit's local executor runs the jobs, and small
fake `srun` / `sbatch` / `sacct` scripts stand in for Slurm's commands where only the submission is checked."""

import json
import os
import stat
import sys
import threading
import time

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from gbench import distributed, tables
from gbench.cli import app
from gbench.errors import GBenchError
from gbench.runs import train_and_evaluate
from gbench.tables import launchers
from gbench.tables.jobfiles import read_events, read_submission, record_event, write_submission
from gbench.train.gan import GANTrainer

submitit = pytest.importorskip("submitit", reason='the cluster launchers need submitit: pip install -e ".[cluster]"')

# two cells x two columns (IS, FID): four cells, two run directories, a few tiny dcgan steps each. checkpoint_every 4
# with 6 steps: a preemption at an early step checkpoints off the regular cadence.
TINY = ("train.steps=6", "train.checkpoint_every=4", "train.log_every=2", "train.sample_every=0", "eval.at_start=false",
        "data.size=128", "train.batch_size_d=16", "train.batch_size_g=16", "model.g_kwargs.g_channels=8", "model.d_kwargs.d_channels=8")
JOBS = 2  # submitit-local jobs at a time: fixes the CPU threads per job, which the in-process reference must match
POLL = 0.2


@pytest.fixture(scope="module")
def tiny_table():
    table = tables.Table("test-cluster", "tiny", "test", ("base", "fast lr", "no data"), ("IS", "FID"), (
        *tables.is_fid_cells("base", "dcgan", {}, 8.0, 0.1, 20.0),
        *tables.is_fid_cells("fast lr", "dcgan", {"train.lr_g": 1e-3}, 7.0, None, 30.0),
        *tables.is_fid_cells("no data", "dcgan", {"data.dataset": "cifar10"}, 7.0, None, 30.0)))  # fails in its job: CIFAR-10 is not here
    tables.register_table(table)
    return table


def _final(run_dir):
    return json.loads((run_dir / "eval.json").read_text())["final"]["metrics"]


@pytest.fixture(scope="module")
def local_reference(tiny_table, tmp_path_factory):
    """Both cells trained by `--launcher local` in this process, with the threads a submitit-local job gets."""
    out = tmp_path_factory.mktemp("local") / "runs"
    threads = launchers.local_slots(JOBS, launchers.ClusterOptions(), "cpu")[2]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        p, _, failed = tables.reproduce("test-cluster", preset="smoke", out=out, extra=TINY, device="cpu", console=Console(quiet=True),
                                        only=("base", "fast lr"))
    finally:
        torch.set_num_threads(before)
    assert not failed
    return {pc.cell.row: _final(pc.jobs[0].run_dir) for pc in p.cells}


def _events(run_dir):
    return [e["event"] for e in read_events(run_dir)]


def test_submitit_local_cells_finish_with_the_figures_of_the_local_launcher(tiny_table, local_reference, tmp_path, monkeypatch):
    monkeypatch.setenv("GBENCH_OFFLINE", "1")  # the "no data" cell fails at once instead of downloading CIFAR-10
    out = tmp_path / "runs"
    console = Console(record=True, width=200)
    p, measured, failed = tables.reproduce("test-cluster", preset="smoke", out=out, extra=TINY, device="cpu", console=console,
                                           launcher="submitit-local", cluster=launchers.ClusterOptions(), jobs=JOBS, poll=POLL)
    assert len(p.jobs) == 3  # six cells, three run directories: three jobs
    (broken,) = failed
    assert broken.cfg.data.dataset == "cifar10"
    assert broken.error.startswith(f"job {read_submission(broken.run_dir)['job_id']}: CIFAR-10 not found")
    assert _events(broken.run_dir) == ["submitted", "started", "failed"]
    for pc in p.cells:
        run_dir = pc.jobs[0].run_dir
        assert read_submission(run_dir)["launcher"] == "submitit-local"
        if run_dir != broken.run_dir:
            assert _final(run_dir) == local_reference[pc.cell.row]
            assert _events(run_dir) == ["submitted", "started", "finished"]
    values = {(m.row, m.column): m for m in measured}
    assert all(values[(r, c)].mean is not None for r in ("base", "fast lr") for c in ("IS", "FID"))
    assert values[("no data", "FID")].status.startswith("failed: job") and "CIFAR-10 not found" in values[("no data", "FID")].status
    log = console.export_text()
    assert "done" in log and "failed (job" in log


def test_a_preempted_job_checkpoints_requeues_and_resumes_to_the_same_figures(tiny_table, local_reference, tmp_path):
    out = tmp_path / "runs"
    (job,) = tables.plan(tiny_table, preset="smoke", out=out, only=("base",), extra=TINY).jobs.values()
    signalled = []

    def preempt_when_started():  # the scheduler's signal, as soon as the job's task has started (before its first step)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not signalled:
            started = [e for e in read_events(job.run_dir) if e["event"] == "started"]
            if started:
                os.kill(started[0]["pid"], launchers.preemption_signal())
                signalled.append(started[0]["pid"])
            time.sleep(0.02)

    thread = threading.Thread(target=preempt_when_started, daemon=True)
    thread.start()
    p, _, failed = tables.reproduce("test-cluster", preset="smoke", out=out, extra=TINY, device="cpu", console=Console(quiet=True),
                                    launcher="submitit-local", cluster=launchers.ClusterOptions(), jobs=JOBS, poll=POLL, only=("base",))
    thread.join(5)
    assert signalled and not failed, [j.error for j in failed]
    events = read_events(job.run_dir)
    assert [e["event"] for e in events] == ["submitted", "started", "stopped", "started", "finished"]
    stopped = events[2]["step"]
    assert 1 <= stopped < 6 and events[3]["step"] == stopped  # checkpointed at a step boundary, resumed from it
    assert events[1]["pid"] != events[3]["pid"]  # a new process: the requeued job
    assert _final(job.run_dir) == local_reference["base"]
    state = tables.table_status("test-cluster", preset="smoke", out=out, extra=TINY, only=("base",))[2][job.run_dir]
    assert state.kind == "done" and state.requeues == 1


def _fast_evaluate(self, step):
    total = float(sum(p.detach().abs().sum() for p in self.eval_generator.parameters()))
    return {"protocol": "toy-shapes32", "fingerprint": "toy-shapes32@00000000", "metrics": {"fid": total, "is_mean": 1.5, "is_std": 0.25},
            "n_gen": 8, "n_ref": 8, "reference": "shapes32/test", "extractor": "fake", "extractor_sha256": "0" * 64,
            "reference_checksum": "", "sample_seed": 0, "quantization": "", "resize": "", "comparable_to": "not comparable",
            "seconds": 0.0}


def _script(folder, name, body):
    path = folder / name
    path.write_text("#!" + sys.executable + "\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _fake_slurm(tmp_path, monkeypatch, states=None):
    """srun (so submitit sees a Slurm cluster), sbatch (prints a job id, counts its calls) and sacct (states from a dict)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "sacct.json").write_text(json.dumps(states or {}))
    _script(bin_dir, "srun", "raise SystemExit(1)\n")
    _script(bin_dir, "sbatch", f"import pathlib\ncount = pathlib.Path({str(tmp_path / 'sbatch.count')!r})\n"
                               "n = int(count.read_text()) + 1 if count.exists() else 1\ncount.write_text(str(n))\n"
                               "print(f'Submitted batch job {4241 + n}')\n")
    _script(bin_dir, "sacct", f"import json, sys\nstates = json.load(open({str(tmp_path / 'sacct.json')!r}))\n"
                              "ids = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == '-j']\n"
                              "print('JobID|State|NodeList')\n"
                              "for i in ids:\n    if i in states:\n        print(f'{i}|{states[i]}|node1')\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    submitit.SlurmJob.watcher.clear()


def test_status_of_finished_running_requeued_pending_and_failed_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(GANTrainer, "evaluate", _fast_evaluate)
    rows = ("finished", "running", "pending", "crashed", "refused", "new")
    table = tables.Table("test-status", "status", "test", rows, ("FID",),
                         tuple(tables.Cell(r, "FID", "fid", 20.0, "dcgan", (("train.lr_g", 1e-4 * (i + 1)),)) for i, r in enumerate(rows)))
    tables.register_table(table)
    out = tmp_path / "runs"
    p = tables.plan(table, preset="smoke", out=out, extra=TINY)
    run = {pc.cell.row: pc.jobs[0] for pc in p.cells}
    train_and_evaluate(run["finished"].cfg, out=out, device="cpu", console=Console(quiet=True))
    for row, job_id in (("running", "101"), ("pending", "102"), ("crashed", "103"), ("refused", "104")):
        job = run[row]
        record_event(job.run_dir, "submitted", launcher="slurm")
        write_submission(job.run_dir, "slurm", job_id)
        record_event(job.run_dir, "started", step=0)
    for row, step in (("running", 2), ("pending", 4)):  # each was stopped once by the scheduler's signal and requeued
        record_event(run[row].run_dir, "stopped", step=step)
        (run[row].run_dir / "metrics.jsonl").write_text(json.dumps({"step": step, "loss_d": 1.0}) + "\n")
    record_event(run["running"].run_dir, "started", step=2)
    (run["running"].run_dir / "metrics.jsonl").write_text(json.dumps({"step": 4, "loss_d": 1.0}) + "\n")
    (run["crashed"].run_dir / "jobs" / "103_0_log.err").write_text("Traceback (most recent call last):\n  ...\n"
                                                                   "torch.OutOfMemoryError: CUDA out of memory\n")
    record_event(run["refused"].run_dir, "failed", error="dataset 'cifar10' not found under /data")
    _fake_slurm(tmp_path, monkeypatch, {"101": "RUNNING", "102": "REQUEUED", "103": "FAILED", "104": "FAILED"})

    p, measured, states = tables.table_status("test-status", preset="smoke", out=out, extra=TINY)
    text = {row: states[job.run_dir].text() for row, job in run.items()}
    assert text["finished"] == "done"
    assert text["running"] == "running at step 4 of 6, requeued 1 time (job 101)"
    assert text["pending"] == "pending, requeued 1 time, resumes from step 4 (job 102)"
    assert text["crashed"].startswith("failed (job 103): the job ended (failed) at step 0 of 6")
    assert text["crashed"].endswith("last log line: torch.OutOfMemoryError: CUDA out of memory")
    assert text["refused"] == "failed (job 104): dataset 'cifar10' not found under /data"
    assert text["new"] == "not started"
    values = {m.row: m for m in measured}
    assert values["finished"].mean is not None and values["running"].status == text["running"]

    monkeypatch.setattr("gbench.cli.console", Console(width=250))
    result = CliRunner().invoke(app, ["reproduce", "test-status", "--preset", "smoke", "--out", str(out), "--status",
                                      "--reports", str(tmp_path / "reports"), *sum((["--set", s] for s in TINY), [])])
    assert result.exit_code == 0, result.output
    assert "running at step 4 of 6, requeued 1 time (job 101)" in result.output and "done: FID" in result.output
    assert "(paper 20.00)" in result.output
    assert "1 done, 1 running, 1 pending, 2 failed, 1 not started" in result.output
    assert (tmp_path / "reports" / "test-status.md").exists()

    # --wait polls until no job can change its state: here the running job ends without finishing and the pending one
    # is cancelled while it waits
    def jobs_end():
        time.sleep(0.3)
        (tmp_path / "sacct.json").write_text(json.dumps({"101": "COMPLETED", "102": "CANCELLED", "103": "FAILED", "104": "FAILED"}))

    threading.Thread(target=jobs_end, daemon=True).start()
    _, _, states = tables.table_status("test-status", preset="smoke", out=out, extra=TINY, wait=True, poll=0.05, timeout=120,
                                       console=Console(quiet=True))
    assert states[run["running"].run_dir].text() == ("failed (job 101): the job ended (completed) at step 4 of 6 without finishing the run")
    assert states[run["pending"].run_dir].text().startswith("failed (job 102): the job ended (cancelled)")
    assert states[run["finished"].run_dir].kind == "done" and states[run["new"].run_dir].kind == "not started"


def test_wait_without_sacct_is_one_error_not_an_endless_poll(tiny_table, tmp_path, monkeypatch):
    out = tmp_path / "runs"
    p = tables.plan(tiny_table, preset="smoke", out=out, only=("base",), extra=TINY)
    (job,) = p.jobs.values()
    write_submission(job.run_dir, "slurm", "4242")
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(GBenchError, match="sacct, which is not on PATH"):
        tables.table_status("test-cluster", preset="smoke", out=out, only=("base",), extra=TINY, wait=True, poll=0.05, timeout=5,
                            console=Console(quiet=True))


def test_slurm_jobs_get_the_cells_resources_and_are_not_submitted_twice(tiny_table, tmp_path, monkeypatch):
    _fake_slurm(tmp_path, monkeypatch)
    out = tmp_path / "runs"
    options = launchers.ClusterOptions(partition="gpu", gpus_per_cell=16, nodes_per_cell=2, time="2-00:00:00", account="gan", qos="high",
                                       extra=("constraint=a100", "cpus_per_task=10", "exclusive"))
    p = tables.plan(tiny_table, preset="smoke", out=out, only=("base",), extra=TINY)
    console = Console(record=True, width=200)
    assert tables.run_missing(p, launcher="slurm", cluster=options, wait=False, console=console) == []
    (job,) = p.jobs.values()
    assert (read_submission(job.run_dir)["launcher"], read_submission(job.run_dir)["job_id"]) == ("slurm", "4242")
    sbatch = (job.run_dir / "jobs" / "4242_submission.sh").read_text()
    flags = {line.split()[1] for line in sbatch.splitlines() if line.startswith("#SBATCH")}
    assert {"--nodes=2", "--ntasks-per-node=8", "--gpus-per-node=8", "--time=2880", "--partition=gpu", "--account=gan", "--qos=high",
            "--constraint=a100", "--cpus-per-task=10", "--exclusive", "--requeue", "--signal=USR2@300"} <= flags
    assert f"--job-name=gbench-dcgan-{job.run_dir.name}" in flags
    assert "srun" in sbatch and "submitit.core._submit" in sbatch
    assert "as Slurm job 4242" in console.export_text()

    (tmp_path / "sacct.json").write_text(json.dumps({"4242": "PENDING"}))
    console = Console(record=True, width=200)
    tables.run_missing(tables.plan(tiny_table, preset="smoke", out=out, only=("base",), extra=TINY), launcher="slurm", cluster=options,
                       wait=False, console=console)
    assert (tmp_path / "sbatch.count").read_text() == "1"  # queued already: not submitted again
    log = console.export_text()
    assert "already queued" in log and "pending (job 4242)" in log and "nothing new to submit" in log


def test_threads_pin_the_cpu_threads_of_submitit_local_jobs():
    default = launchers.local_slots(2, launchers.ClusterOptions(), "cpu")[2]
    assert launchers.local_slots(2, launchers.ClusterOptions(), "cpu", threads=default + 3)[2] == default + 3


def test_cluster_options_and_their_errors():
    assert [launchers.time_minutes(t) for t in ("90", "10:30", "48:00:00", "1-12", "2-00:00:01")] == [90, 11, 2880, 2160, 2881]
    with pytest.raises(GBenchError, match="--time must look like"):
        launchers.time_minutes("two days")
    with pytest.raises(GBenchError, match="use --partition"):
        launchers.extra_sbatch_options(("partition=gpu",))
    with pytest.raises(GBenchError, match="does not split evenly"):
        launchers.ClusterOptions(gpus_per_cell=6, nodes_per_cell=4).check("slurm")
    with pytest.raises(GBenchError, match="--nodes-per-cell must be 1"):
        launchers.ClusterOptions(gpus_per_cell=2, nodes_per_cell=2).check("submitit-local")
    params = launchers.slurm_parameters(launchers.ClusterOptions(gpus_per_cell=0), "job", after=("11", "12"))
    assert params["dependency"] == "afterok:11:12" and "gpus_per_node" not in params and params["ntasks_per_node"] == 1


def test_without_submitit_the_cluster_launchers_say_what_to_install(tiny_table, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit -> ImportError
    p = tables.plan(tiny_table, preset="smoke", out=tmp_path, only=("base",), extra=TINY)
    for launcher in ("slurm", "submitit-local"):
        with pytest.raises(GBenchError, match=r'needs submitit, which is not installed: pip install -e "\.\[cluster\]"'):
            tables.run_missing(p, launcher=launcher, console=Console(quiet=True))
    result = CliRunner().invoke(app, ["reproduce", "test-cluster", "--preset", "smoke", "--out", str(tmp_path), "--launcher", "slurm",
                                      *sum((["--set", s] for s in TINY), [])])
    assert result.exit_code == 1  # a missing optional package: a failure while running, not a usage error
    assert 'error: --launcher slurm needs submitit, which is not installed: pip install -e ".[cluster]"' in result.output
    assert "Traceback" not in result.output


def test_launcher_environments_become_torchrun_variables():
    step = {"SLURM_JOB_ID": "123456", "SLURM_PROCID": "9", "SLURM_LOCALID": "1", "SLURM_STEP_NUM_TASKS": "16",
            "SLURM_NTASKS": "16", "SLURM_STEP_NODELIST": "gpu[007-008]", "SLURM_JOB_NODELIST": "gpu[007-008]"}
    assert distributed.launcher_variables(step) == {"RANK": "9", "WORLD_SIZE": "16", "LOCAL_RANK": "1", "MASTER_ADDR": "gpu007",
                                                    "MASTER_PORT": str(20000 + 123456 % 10000)}
    batch_script = {k: v for k, v in step.items() if k != "SLURM_STEP_NUM_TASKS"}  # sbatch's own shell is not an srun step
    assert distributed.launcher_variables(batch_script) == {}
    assert distributed.launcher_variables({**step, "WORLD_SIZE": "2"}) == {}  # torchrun's variables win
    assert distributed.launcher_variables({**step, "MASTER_PORT": "29400"})["MASTER_PORT"] == "29400"
    local = {"SUBMITIT_EXECUTOR": "local", "SUBMITIT_LOCAL_GLOBALID": "1", "SUBMITIT_LOCAL_LOCALID": "1", "SUBMITIT_LOCAL_NTASKS": "2",
             "SUBMITIT_LOCAL_JOB_ID": "4321"}
    assert distributed.launcher_variables(local) == {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
                                                     "MASTER_PORT": "24321"}
    assert [distributed.first_host(n) for n in ("node1", "gpu[007-009,012],cpu1", "a[1,3]-ib,b2", "x[10-11]")] == [
        "node1", "gpu007", "a1-ib", "x10"]


RANK_SCRIPT = """
import json, sys, torch
from gbench import distributed
rank, world = distributed.init_from_env("cpu")
norm = torch.nn.BatchNorm2d(3)
norm.running_mean.fill_(float(rank + 1))
distributed.broadcast_buffers(norm)
stop = distributed.any_rank(rank == 1)  # only rank 1 was signalled
json.dump({"rank": rank, "world": world, "mean": norm.running_mean.tolist(), "stop": stop}, open(sys.argv[1] + f"/{rank}.json", "w"))
distributed.destroy()
"""


def test_a_submitit_local_job_s_tasks_form_one_process_group(tmp_path):
    """Two tasks as submitit's local executor starts them: one gloo group from SUBMITIT_LOCAL_*; a stop on one rank stops
    both; every rank takes rank 0's running buffers (what the checkpoint holds)."""
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "ranks.py"
    script.write_text(RANK_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    env.update(SUBMITIT_EXECUTOR="local", SUBMITIT_LOCAL_NTASKS="2", SUBMITIT_LOCAL_JOB_ID="1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    tasks = [subprocess.Popen([sys.executable, str(script), str(tmp_path)], env={**env, "SUBMITIT_LOCAL_GLOBALID": str(r),
                                                                                 "SUBMITIT_LOCAL_LOCALID": str(r)}) for r in (0, 1)]
    assert [t.wait(timeout=300) for t in tasks] == [0, 0]
    results = [json.loads((tmp_path / f"{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["world"], r["stop"]) for r in results] == [(0, 2, True), (1, 2, True)]
    assert results[0]["mean"] == results[1]["mean"] == [1.0, 1.0, 1.0]
