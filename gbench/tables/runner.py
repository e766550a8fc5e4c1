"""`gbench reproduce`: plan a table's cells onto run directories, train the missing runs, collect the measurements.

Two kinds of job: a training run (the cell's experiment + overrides, one run directory per training seed) and, for a
cell naming a released checkpoint (`Cell.release`), an evaluation of that file under the release's protocol
(`gbench.official.verify`), written as `<out>/published/<release>/<protocol>-<sha8 of the file>/verify.json`. A
release whose file is not on disk is a "not available" cell naming the command that fetches it.
"""


from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from gbench.errors import GBenchError, UsageError
from gbench.tables.jobfiles import job_status
from gbench.tables.launchers import LAUNCHERS
from gbench.tables.specs import Cell, Table, get_table


@dataclass
class Job:
    """One training run (a run directory) that one or more cells read."""

    cfg: object  # RunConfig
    run_dir: Path
    status: str  # "finished" | "interrupted at step N" | "new"
    depends: list = field(default_factory=list)  # run dirs this run starts from (train.init_from)
    error: str = ""
    release: str = ""  # a released checkpoint to evaluate (run_dir holds verify.json) instead of a run to train
    checkpoint: Path | None = None  # the release's file
    seeds: int = 1  # sample seeds of a release evaluation
    inversion: dict | None = None  # a `gbench invert` job (gbench.invert.run_inversion keywords); run_dir is its output folder


@dataclass
class PlannedCell:
    cell: Cell
    jobs: list  # one Job per seed ([] when not available)
    unavailable: str = ""


@dataclass
class Plan:
    table: Table
    preset: str
    seeds: int
    out: Path
    extra: tuple  # extra --set overrides (they make every cell "not comparable")
    cells: list
    jobs: dict  # run dir -> Job, in the order cells first need them
    only: tuple = ()  # --only row selection
    threads: int = 0  # --threads: CPU threads of each training process (0 = torch's default); recorded in the report


def _reroot_init_from(cfg, out: Path):
    """`train.init_from` under ./runs (SRGAN starts from the SRResNet run of the same preset) follows --out."""
    init = cfg.train.init_from
    if not init or Path(init).is_absolute():
        return cfg
    parts = Path(init).parts
    if parts and parts[0] == "runs" and Path(out).resolve() != Path("runs").resolve():
        cfg = replace(cfg, train=replace(cfg.train, init_from=str(Path(out, *parts[1:]))))
    return cfg


def _resolve(cell: Cell, preset: str, extra: tuple, seed_offset: int, out: Path):
    from gbench.config import apply_overrides
    from gbench.experiments import get_experiment

    cfg = get_experiment(cell.experiment).config(preset)
    if cell.overrides:
        cfg = apply_overrides(cfg, dict(cell.overrides))
    scaled = dict(cell.preset_overrides).get(preset)
    if scaled:
        cfg = apply_overrides(cfg, dict(scaled))
    if extra:
        cfg = apply_overrides(cfg, list(extra))
    cfg = replace(cfg, seed=cfg.seed + seed_offset)
    return _reroot_init_from(cfg, out)


def select_rows(rows: tuple, only: tuple) -> set:
    """Rows named by --only: an exact (case-insensitive) label, else every label containing the text."""
    if not only:
        return set(rows)
    chosen = set()
    for o in only:
        exact = {r for r in rows if r.lower() == o.lower()}
        chosen |= exact or {r for r in rows if o.lower() in r.lower()}
    return chosen


def plan(table: Table, *, preset: str = "paper", seeds: int = 1, out: str | Path = "runs", only: tuple = (),
         extra: tuple = ()) -> Plan:
    """Resolve every cell of `table` (rows matching `only`) to run directories under `out`, one per training seed."""
    from gbench.experiments import experiments
    from gbench.runs import run_dir_for

    if seeds < 1:
        raise UsageError("--seeds must be at least 1")
    chosen = select_rows(table.rows, only)
    if not chosen:
        raise UsageError(f"--only {', '.join(only)} matches no row of {table.name}; rows: {'; '.join(table.rows)}")
    out = Path(out)
    known = experiments()
    cells, jobs = [], {}
    for cell in table.cells:
        if cell.row not in chosen:
            continue
        if cell.unavailable or table.unavailable:
            cells.append(PlannedCell(cell, [], cell.unavailable or table.unavailable))
            continue
        if cell.release:
            cells.append(_plan_release(cell, seeds, out, jobs))
            continue
        experiment = cell.experiment or _baseline_experiment(table, cell)
        if experiment is None:
            cells.append(PlannedCell(cell, [], "no gbench run measures this cell"))
            continue
        if experiment not in known:
            cells.append(PlannedCell(cell, [], f"experiment {experiment!r} is not in this gbench (yet)"))
            continue
        source = replace(cell, experiment=experiment, overrides=cell.overrides if cell.experiment else ())
        if cell.inversion is not None:
            cells.append(_plan_inversion(source, preset, seeds, out, extra, jobs))
            continue
        try:
            cfgs = [_resolve(source, preset, extra, i, out) for i in range(seeds)]
        except GBenchError as exc:
            cells.append(PlannedCell(cell, [], f"cannot resolve {experiment} with {_overrides_text(source.overrides)}: {exc}"))
            continue
        cell_jobs = []
        for cfg in cfgs:
            run_dir = run_dir_for(cfg, out)
            if run_dir not in jobs:
                jobs[run_dir] = Job(cfg, run_dir, job_status(run_dir, cfg.train.steps))
            cell_jobs.append(jobs[run_dir])
        cells.append(PlannedCell(cell, cell_jobs))
    for job in jobs.values():
        init = job.cfg.train.init_from
        if init and Path(init) in jobs:
            job.depends.append(Path(init))
    return Plan(table, preset, seeds, out, tuple(extra), cells, jobs, tuple(only))


def _plan_release(cell: Cell, seeds: int, out: Path, jobs: dict) -> PlannedCell:
    """The evaluation job of a released checkpoint, shared by the release's cells; "not available" without its file."""
    from gbench.data.download import cached_sha256
    from gbench.experiments import resolve_config
    from gbench.official.fetch import fetch_command, release_path
    from gbench.official.registry import get_release

    release = get_release(cell.release)
    path = release_path(release)
    if not path.is_file():
        return PlannedCell(cell, [], f"fetch with `{fetch_command(release.name)}` (no file at {path})")
    run_dir = out / "published" / release.name / f"{release.protocol}-{cached_sha256(path)[:8]}"
    if run_dir not in jobs:
        try:
            cfg = resolve_config(release.experiment, "paper", list(release.overrides))
        except GBenchError as exc:
            return PlannedCell(cell, [], f"cannot resolve {release.experiment} with the release's overrides: {exc}")
        jobs[run_dir] = Job(cfg, run_dir, _release_status(run_dir, seeds), release=release.name, checkpoint=path, seeds=seeds)
    return PlannedCell(cell, [jobs[run_dir]])


def _read_verify(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "verify.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _release_status(run_dir: Path, seeds: int) -> str:
    report = _read_verify(run_dir)
    return "finished" if report is not None and len(report.get("seeds", [])) >= seeds else "new"


def _plan_inversion(cell: Cell, preset: str, seeds: int, out: Path, extra: tuple, jobs: dict) -> PlannedCell:
    """An inversion cell: one `gbench invert` job per seed, each after the job that trains its generator (or on the
    experiment's released checkpoint at the presets that use it)."""
    from gbench.invert import inversion_folder, released_checkpoint
    from gbench.runs import run_dir_for

    inversion = cell.inversion
    protocol = inversion.protocol(preset)
    if protocol is None:
        return PlannedCell(cell, [], f"no restoration protocol for the {preset} preset")
    common = dict(experiment=cell.experiment, task=inversion.task, method=inversion.method, preset=preset, protocol=protocol,
                  out=str(out / "invert"), runs_root=str(out))
    cell_jobs = []
    if preset in inversion.released:
        checkpoint = released_checkpoint(cell.experiment)
        if checkpoint is None or not checkpoint.is_file():
            return PlannedCell(cell, [], f"needs the released generator and discriminator of {cell.experiment} as a gbench checkpoint "
                                         f"at {checkpoint} (write it from BigGAN-PyTorch's 128x128 release with `gbench import "
                                         f"biggan-pytorch BigGAN_ch96_bs256x8_138k.zip --experiment {cell.experiment} --out "
                                         f"{checkpoint}`, the zip or its unpacked folder) and the ImageNet validation set")
        if extra:
            return PlannedCell(cell, [], "--set overrides do not apply to a released checkpoint")
        from gbench.experiments import resolve_config

        cfg = resolve_config(cell.experiment, preset)
        folder = inversion_folder(cfg, checkpoint=checkpoint, **common)
        jobs.setdefault(folder, Job(cfg, folder, "finished" if (folder / "eval.json").is_file() else "new",
                                    inversion={**common, "checkpoint": str(checkpoint)}))
        return PlannedCell(cell, [jobs[folder]])
    try:
        cfgs = [_resolve(cell, preset, extra, i, out) for i in range(seeds)]
    except GBenchError as exc:
        return PlannedCell(cell, [], f"cannot resolve {cell.experiment}: {exc}")
    for cfg in cfgs:
        run_dir = run_dir_for(cfg, out)
        if run_dir not in jobs:
            jobs[run_dir] = Job(cfg, run_dir, job_status(run_dir, cfg.train.steps))
        folder = inversion_folder(cfg, run=run_dir, **common)
        if folder not in jobs:
            jobs[folder] = Job(cfg, folder, "finished" if (folder / "eval.json").is_file() else "new", depends=[run_dir],
                               inversion={**common, "run": str(run_dir)})
        cell_jobs.append(jobs[folder])
    return PlannedCell(cell, cell_jobs)


def _baseline_experiment(table: Table, cell: Cell) -> str | None:
    """A baseline cell (bicubic) reads the baseline every run of its protocol carries: take the table's first experiment."""
    if not cell.baseline:
        return None
    return next((c.experiment for c in table.cells if c.experiment), None)


def _overrides_text(overrides: tuple) -> str:
    return ", ".join(f"{k}={v}" for k, v in overrides) or "no overrides"




# ----------------------------------------------------------------------------- running the missing cells



_WORKER_DEVICE = "cpu"


def _worker_init(devices, threads: int) -> None:
    global _WORKER_DEVICE
    import torch

    _WORKER_DEVICE = devices.get()
    if threads:
        torch.set_num_threads(threads)


def _worker_run(cfg_dict: dict, out: str, log_path: str) -> tuple[str, str]:
    """Run one job in a worker process; its console goes to a log file beside the run directory."""
    from rich.console import Console

    from gbench.config import config_from_dict
    from gbench.runs import run_experiment

    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        try:
            run_experiment(config_from_dict(cfg_dict), out=out, device=_WORKER_DEVICE,
                           console=Console(file=log, width=120, force_terminal=False))
            return log_path, ""
        except GBenchError as exc:
            return log_path, str(exc)
        except Exception as exc:  # reported as the cell's failure; the other cells go on
            return log_path, f"{type(exc).__name__}: {exc}"


def _waves(jobs: list[Job]) -> list[list[Job]]:
    """Jobs in dependency order: each wave only needs runs of earlier waves (or runs that are already there)."""
    pending, done, waves = list(jobs), set(), []
    while pending:
        ready = [j for j in pending if all(d in done or d not in {p.run_dir for p in pending} for d in j.depends)]
        if not ready:
            ready = pending[:]  # a cycle cannot happen with init_from, but never loop forever
        waves.append(ready)
        done |= {j.run_dir for j in ready}
        pending = [j for j in pending if j not in ready]
    return waves


def _evaluate_release(job: Job, device: str) -> None:
    """Evaluate a released checkpoint into job.run_dir/verify.json."""
    from gbench.io import atomic_write_json
    from gbench.official.verify import verify_release

    report = verify_release(job.release, checkpoint=job.checkpoint, seeds=job.seeds, device=device, download=False)
    atomic_write_json(report, job.run_dir / "verify.json")


def worker_devices(jobs: int, device: str, threads: int = 0) -> tuple[list[str], int]:
    """One device per worker: visible GPUs (at most one worker each) for auto/cuda, else CPU workers splitting the cores
    (`threads` each when given: CPU numerics depend on the thread count, so a pinned count reproduces on any machine)."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        n = max(1, min(jobs, torch.cuda.device_count()))
        return [f"cuda:{i}" for i in range(n)], 0
    if device.startswith("cuda"):
        return [device] * max(1, jobs), 0
    return ["cpu"] * max(1, jobs), threads or max(1, (os.cpu_count() or 1) // max(1, jobs))


def run_missing(p: Plan, *, jobs: int = 1, device: str = "auto", console=None, launcher: str = "local", cluster=None,
                wait: bool = True, poll: float | None = None) -> list[Job]:
    """Train every job of the plan that is not finished (interrupted ones resume); returns the failed jobs. Released
    checkpoints are evaluated here first; restorations (`gbench invert` cells) run here after the training they need.

    `launcher`: "local" trains here (`jobs` > 1: in worker processes, `p.threads` CPU threads each when set); "slurm"
    and "submitit-local" make each training job a submitit job (gbench/tables/launchers.py, with `cluster` = its
    ClusterOptions); slurm returns after submitting unless `wait` (restorations then wait for the next reproduce).
    """
    from rich.console import Console

    if launcher not in LAUNCHERS:
        raise UsageError(f"--launcher must be local, submitit-local or slurm, not {launcher!r}")
    console = console or Console()
    todo = [j for j in p.jobs.values() if j.status != "finished"]
    for j in p.jobs.values():
        if j.status == "finished":
            console.print(f"[dim]skip[/dim] {j.run_dir} (finished)")
    failed = []
    for job in [j for j in todo if j.release]:  # evaluations of released checkpoints: in this process, one at a time
        console.print(f"[bold]evaluate[/bold] released checkpoint {job.release} -> {job.run_dir}")
        if not _attempt(job, lambda: _evaluate_release(job, device), console):
            failed.append(job)
    inversions = [j for j in todo if j.inversion is not None]
    todo = [j for j in todo if not j.release and j.inversion is None]
    if launcher != "local":
        from gbench.tables.launchers import ClusterOptions, dispatch

        if todo:
            failed += dispatch(p, _waves(todo), launcher, cluster or ClusterOptions(), jobs=jobs, device=device, wait_for_end=wait,
                               poll=poll, console=console)
        if inversions and not wait:
            console.print(f"{len(inversions)} restoration cell(s) run once their training has finished: run this command again then")
            return failed
    elif jobs <= 1 and todo:
        import torch

        from gbench.runs import run_experiment

        if p.threads:
            torch.set_num_threads(p.threads)
            console.print(f"training with {p.threads} CPU thread(s) (--threads)")
        for i, job in enumerate([j for wave in _waves(todo) for j in wave], start=1):
            console.print(f"[bold]cell run {i}/{len(todo)}[/bold] {job.cfg.experiment} -> {job.run_dir} ({job.status})")
            if not _attempt(job, lambda: run_experiment(job.cfg, out=p.out, device=device, console=console), console):
                failed.append(job)
    elif todo:
        failed += _run_in_workers(p, todo, jobs, device, console)
    for job in inversions:
        if any(d in {f.run_dir for f in failed} for d in job.depends):
            job.error = "its generator's training run failed"
            console.print(f"[red]failed[/red] {job.run_dir}: {job.error}")
            failed.append(job)
        elif not _attempt(job, lambda: _run_inversion_job(job, device, console), console):
            failed.append(job)
    return failed


def _attempt(job: Job, action, console) -> bool:
    """Run `action()`; a failure becomes `job.error` and one red line, since one failed cell must not lose the others."""
    try:
        action()
    except GBenchError as exc:
        job.error = str(exc)
    except Exception as exc:  # noqa: BLE001
        job.error = f"{type(exc).__name__}: {exc}"
    if job.error:
        console.print(f"[red]failed[/red] {job.run_dir}: {job.error}")
    return not job.error


def _run_in_workers(p: Plan, todo: list[Job], jobs: int, device: str, console) -> list[Job]:
    """Training jobs in `jobs` worker processes (one per visible GPU, else CPU workers), wave by wave; the failed ones."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    failed = []
    devices, threads = worker_devices(jobs, device, p.threads)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    for d in devices:
        queue.put(d)
    console.print(f"running {len(todo)} cell run(s) in {len(devices)} worker process(es) on {', '.join(sorted(set(devices)))}"
                  + (f", {threads} CPU thread(s) each" if threads and devices[0] == "cpu" else "")
                  + "; each worker's output goes to <run dir>.log")
    with ProcessPoolExecutor(max_workers=len(devices), mp_context=ctx, initializer=_worker_init, initargs=(queue, threads)) as pool:
        for wave in _waves(todo):
            futures = {pool.submit(_worker_run, j.cfg.to_dict(), str(p.out), str(j.run_dir) + ".log"): j for j in wave}
            for future in as_completed(futures):
                job = futures[future]
                log_path, job.error = future.result()
                if job.error:
                    console.print(f"[red]failed[/red] {job.run_dir}: {job.error} (log {log_path})")
                    failed.append(job)
                else:
                    console.print(f"[green]done[/green] {job.run_dir}")
    return failed


def _run_inversion_job(job: Job, device: str, console) -> None:
    from gbench.invert import run_inversion

    spec = dict(job.inversion)
    for key in ("run", "checkpoint"):
        if key in spec:
            spec[key] = Path(spec[key])
    folder = run_inversion(device=device, console=console, **spec)
    if folder != job.run_dir:  # the plan and the command must agree on where the result lives
        raise GBenchError(f"the inversion wrote {folder}, the table expected {job.run_dir}")


# ----------------------------------------------------------------------------- measured values



@dataclass
class Measured:
    row: str
    column: str
    cell: Cell
    values: list = field(default_factory=list)  # per training seed
    spread: float | None = None  # within-run std (IS splits) when one seed ran
    run_dirs: list = field(default_factory=list)
    fingerprints: list = field(default_factory=list)
    status: str = ""  # "" = measured; else why there is no number
    comparable: bool | None = None
    why: str = ""

    @property
    def mean(self) -> float | None:
        return sum(self.values) / len(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        """Population std over training seeds (as `gbench eval --seeds`); with one seed, the run's own spread."""
        if len(self.values) > 1:
            m = self.mean
            return (sum((v - m) ** 2 for v in self.values) / len(self.values)) ** 0.5
        return self.spread

    @property
    def delta(self) -> float | None:
        return None if self.mean is None or self.cell.paper is None else self.mean - self.cell.paper


def comparability(cell: Cell, cfg, extra: tuple) -> tuple[bool, str]:
    """Same protocol and recipe as the paper? (yes/no, and why)."""
    from gbench.experiments import get_experiment
    from gbench.protocols import PROTOCOLS

    protocol = PROTOCOLS.get(cfg.eval.protocol)
    extras = f"; extra overrides {', '.join(extra)}" if extra else ""
    if cfg.preset != "paper":
        paper = get_experiment(cfg.experiment).paper
        if cfg.data.dataset != paper.data.dataset and protocol is not None and not protocol.comparable:
            return False, f"{cfg.preset} preset: toy protocol {cfg.eval.protocol}, {cfg.data.dataset} data{extras}"
        return False, (f"{cfg.preset} preset: {cfg.train.steps:,} of {paper.train.steps:,} steps, protocol {cfg.eval.protocol}"
                       + ("" if protocol is None or protocol.comparable else " (matches no paper)") + extras)
    if extra:
        return False, extras.removeprefix("; ")
    if not cell.paper_protocol:
        return False, "the paper's protocol has no gbench equivalent"
    if cfg.eval.protocol != cell.paper_protocol:
        return False, f"protocol {cfg.eval.protocol}; the paper's numbers correspond to {cell.paper_protocol}"
    if protocol is not None and protocol.segmentation_classes and not cfg.eval.segmenter:
        return False, "gbench's own FCN-8s, not the authors' Caffe network: read against the ground-truth row"
    n = len(get_experiment(cfg.experiment).deviations)
    return True, f"paper recipe and protocol {cfg.eval.protocol}" + (f" ({n} documented deviations, `gbench models`)" if n else "")


def inversion_comparability(cell: Cell, preset: str, job: Job) -> tuple[bool, str]:
    """A restoration cell is comparable when it restored the paper's images with the released generator."""
    spec = job.inversion or {}
    if "checkpoint" not in spec:
        return False, f"{preset} preset: gbench's own {cell.experiment} {preset} run as the generator, protocol {spec.get('protocol')}"
    if spec.get("protocol") != cell.paper_protocol:
        return False, f"{preset} preset: protocol {spec.get('protocol')}; the paper's numbers correspond to {cell.paper_protocol}"
    return True, (f"released generator, official DGP schedule, protocol {cell.paper_protocol} (the paper's values are "
                  "unverified quotes: see the notes)")


def _read_final(run_dir: Path) -> dict | None:
    path = run_dir / "eval.json"
    try:
        return json.loads(path.read_text())["final"]
    except (OSError, json.JSONDecodeError, KeyError):
        return None


def _collect_release(job: Job, cell: Cell, m: Measured) -> str:
    """Read a release evaluation's verify.json into `m` (one value per sample seed); "" or why there is no number."""
    report = _read_verify(job.run_dir)
    if report is None:
        return "not run"
    results = report["evaluation"]["results"]
    if not all(cell.metric in r["metrics"] for r in results):
        return f"metric {cell.metric!r} not in {job.run_dir}/verify.json"
    m.values += [float(r["metrics"][cell.metric]) for r in results]
    if len(results) == 1 and cell.std_metric in results[0]["metrics"]:
        m.spread = float(results[0]["metrics"][cell.std_metric])
    if report["fingerprint"] not in m.fingerprints:
        m.fingerprints.append(report["fingerprint"])
    return ""


def release_comparability(cell: Cell, m: Measured) -> tuple[bool, str]:
    """The registry's comparability of the release, then whether Δ is within the accepted error."""
    from gbench.official.registry import get_release

    release = get_release(cell.release)
    why = release.comparable_note
    published = next((p for p in release.published if p.metric == cell.metric), None)
    if published is not None and m.mean is not None:
        accepted = max(published.error or 0.0, published.tolerance)
        why += f"; Δ {'within' if published.reproduced_by(m.mean) else 'outside'} ±{accepted:g}"
    return release.comparable, why


def collect(p: Plan, states: dict | None = None) -> list[Measured]:
    """The measured value of every cell (mean over seeds), its spread, runs, fingerprints and comparability.

    `states` (run dir -> status.RunState, from `gbench reproduce --status`): how an unfinished run stands.
    """
    out = []
    for pc in p.cells:
        cell = pc.cell
        m = Measured(cell.row, cell.column, cell)
        if pc.unavailable:
            m.status = f"not available: {pc.unavailable}"
            if cell.release and not cell.unavailable:  # a release not on disk: still say whether its paper number is comparable
                m.comparable, m.why = release_comparability(cell, m)
            out.append(m)
            continue
        problems = []
        for job in pc.jobs:
            m.run_dirs.append(str(job.run_dir))
            final = _read_final(job.run_dir)
            if job.error:
                problems.append(f"failed: {job.error}")
                continue
            if job.release:
                problem = _collect_release(job, cell, m)
                if problem:
                    problems.append(problem)
                continue
            if final is None or (job.inversion is None and final.get("step", -1) < job.cfg.train.steps):
                if states and job.run_dir in states:
                    problems.append(states[job.run_dir].text())
                else:
                    problems.append("not run" if job.status == "new" and final is None
                                    else f"incomplete ({job_status(job.run_dir, job.cfg.train.steps)})")
                continue
            metrics = (final.get("baseline") or {}).get("metrics", {}) if cell.baseline else final.get("metrics", {})
            if cell.metric not in metrics:
                problems.append(f"metric {cell.metric!r} not in {job.run_dir}/eval.json")
                continue
            m.values.append(float(metrics[cell.metric]))
            if cell.std_metric and cell.std_metric in metrics:
                m.spread = float(metrics[cell.std_metric])
            if final.get("fingerprint") and final["fingerprint"] not in m.fingerprints:
                m.fingerprints.append(final["fingerprint"])
        if problems:
            m.values, m.spread = [], None
            m.status = problems[0] if len(set(problems)) == 1 else "; ".join(dict.fromkeys(problems))
        if len(m.values) > 1:
            m.spread = None
        if pc.jobs and cell.release:
            m.comparable, m.why = release_comparability(cell, m)
        elif pc.jobs and cell.inversion is not None:
            m.comparable, m.why = inversion_comparability(cell, p.preset, pc.jobs[0])
        elif pc.jobs:
            m.comparable, m.why = comparability(cell, pc.jobs[0].cfg, p.extra)
            if cell.baseline:
                m.why = f"{cell.baseline} baseline under the run's protocol; " + m.why
        out.append(m)
    return out


def evaluate_also(p: Plan, protocols: tuple, *, device: str = "auto", console=None) -> list[Path]:
    """`--also-eval P`: every finished run of the plan evaluated under each protocol P as `gbench eval --protocol P --run DIR`
    does (eval-P.json in the run directory, its run report re-rendered); runs that already have eval-P.json are skipped.
    This adds e.g. precision/recall (`<protocol>+pr`) to a table's runs without changing their config hash."""
    from gbench.evaluation.sources import default_output, run_eval
    from gbench.io import atomic_write_json
    from gbench.report.run_report import render_run_report

    written = []
    for job in p.jobs.values():
        if job_status(job.run_dir, job.cfg.train.steps) != "finished":
            continue
        new = [protocol for protocol in protocols if not default_output(protocol, job.run_dir).exists()]
        for protocol in new:
            if console is not None:
                console.print(f"evaluating {job.run_dir} under {protocol}")
            path = default_output(protocol, job.run_dir)
            atomic_write_json(run_eval(protocol, run=job.run_dir, device=device), path)
            written.append(path)
        if new:  # one re-render of the run report for all its new evaluations
            render_run_report(job.run_dir)
    return written


def reproduce(name: str, *, preset: str = "paper", seeds: int = 1, jobs: int = 1, out: str | Path = "runs", device: str = "auto",
              only: tuple = (), extra: tuple = (), run: bool = True, threads: int = 0, also_eval: tuple = (), console=None,
              launcher: str = "local", cluster=None, wait: bool = True, poll: float | None = None) -> tuple[Plan, list[Measured], list[Job]]:
    """`gbench reproduce`: plan the table, run what is missing (unless run=False), evaluate the finished runs under the
    `also_eval` protocols, collect the measurements."""
    from gbench.protocols import get_protocol

    if threads < 0:
        raise UsageError(f"--threads must be >= 0, got {threads}")
    for protocol in also_eval:
        get_protocol(protocol)  # an unknown id fails before any training
    table = get_table(name)
    p = replace(plan(table, preset=preset, seeds=seeds, out=out, only=tuple(only), extra=tuple(extra)), threads=threads)
    failed = []
    if run:
        failed = run_missing(p, jobs=jobs, device=device, console=console, launcher=launcher, cluster=cluster, wait=wait, poll=poll)
    states = None
    if run and launcher != "local":  # unfinished runs read as their jobs stand (queued, running, ...), not as "not run"
        from gbench.tables.status import run_states

        states = run_states(p)
    if also_eval:
        evaluate_also(p, tuple(also_eval), device=device, console=console)
    return p, collect(p, states), failed


def table_status(name: str, *, preset: str = "paper", seeds: int = 1, out: str | Path = "runs", only: tuple = (), extra: tuple = (),
           wait: bool = False, poll: float = 30.0, console=None, timeout: float | None = None) -> tuple[Plan, list[Measured], dict]:
    """`gbench reproduce --status [--wait]`: every run's state (gbench/tables/status.py), waiting for the dispatched ones
    to end when `wait`, and the measurements of whatever has finished."""
    from gbench.tables import status as run_status

    p = plan(get_table(name), preset=preset, seeds=seeds, out=out, only=tuple(only), extra=tuple(extra))
    states = run_status.wait(p, poll=poll, console=console, timeout=timeout) if wait else run_status.run_states(p)
    return p, collect(p, states), states
