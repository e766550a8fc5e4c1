"""`gbench reproduce`: plan a table's cells onto run directories, train the missing runs, collect the measurements.
"""


from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from gbench.errors import GBenchError
from gbench.tables.specs import Cell, Table, get_table


@dataclass
class Job:
    """One training run (a run directory) that one or more cells read."""

    cfg: object  # RunConfig
    run_dir: Path
    status: str  # "finished" | "interrupted at step N" | "new"
    depends: list = field(default_factory=list)  # run dirs this run starts from (train.init_from)
    error: str = ""
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


def job_status(run_dir: Path, steps: int) -> str:
    from gbench.checkpoint import checkpoint_paths

    eval_path = run_dir / "eval.json"
    if eval_path.exists():
        try:
            if json.loads(eval_path.read_text())["final"]["step"] >= steps:
                return "finished"
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    found = checkpoint_paths(run_dir) if run_dir.exists() else []
    if found:
        return f"interrupted at step {int(found[-1].stem.split('-')[1])}"
    return "new"


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
        raise GBenchError("--seeds must be at least 1")
    chosen = select_rows(table.rows, only)
    if not chosen:
        raise GBenchError(f"--only {', '.join(only)} matches no row of {table.name}; rows: {'; '.join(table.rows)}")
    out = Path(out)
    known = experiments()
    cells, jobs = [], {}
    for cell in table.cells:
        if cell.row not in chosen:
            continue
        if cell.unavailable or table.unavailable:
            cells.append(PlannedCell(cell, [], cell.unavailable or table.unavailable))
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
                                         f"at {checkpoint} (BigGAN-PyTorch's 128x128 G_ema.pth / D.pth through `gbench import "
                                         "biggan-pytorch`, whose key map for this model is pending) and the ImageNet validation set")
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


def worker_devices(jobs: int, device: str) -> tuple[list[str], int]:
    """One device per worker: visible GPUs (at most one worker each) for auto/cuda, else CPU workers splitting the cores."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        n = max(1, min(jobs, torch.cuda.device_count()))
        return [f"cuda:{i}" for i in range(n)], 0
    if device.startswith("cuda"):
        return [device] * max(1, jobs), 0
    return ["cpu"] * max(1, jobs), max(1, (os.cpu_count() or 1) // max(1, jobs))


def run_missing(p: Plan, *, jobs: int = 1, device: str = "auto", console=None) -> list[Job]:
    """Train every job of the plan that is not finished (interrupted ones resume); returns the failed jobs."""
    from rich.console import Console

    console = console or Console()
    todo = [j for j in p.jobs.values() if j.status != "finished"]
    for j in p.jobs.values():
        if j.status == "finished":
            console.print(f"[dim]skip[/dim] {j.run_dir} (finished)")
    if not todo:
        return []
    failed = []
    if jobs <= 1:
        from gbench.runs import run_experiment

        for i, job in enumerate([j for wave in _waves(todo) for j in wave], start=1):
            console.print(f"[bold]cell run {i}/{len(todo)}[/bold] {job.cfg.experiment} -> {job.run_dir} ({job.status})")
            try:
                if job.inversion is not None and any(d in {f.run_dir for f in failed} for d in job.depends):
                    job.error = "its generator's training run failed"
                elif job.inversion is not None:
                    _run_inversion_job(job, device, console)
                else:
                    run_experiment(job.cfg, out=p.out, device=device, console=console)
            except GBenchError as exc:
                job.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - one failed cell must not lose the others
                job.error = f"{type(exc).__name__}: {exc}"
            if job.error:
                console.print(f"[red]failed[/red] {job.run_dir}: {job.error}")
                failed.append(job)
        return failed

    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    inversions = [j for j in todo if j.inversion is not None]  # restorations run here, after the training they need
    todo = [j for j in todo if j.inversion is None]
    devices, threads = worker_devices(jobs, device)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    for d in devices:
        queue.put(d)
    console.print(f"running {len(todo)} cell run(s) in {len(devices)} worker process(es) on {', '.join(sorted(set(devices)))}; "
                  "each worker's output goes to <run dir>.log")
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
    for job in inversions:
        if any(d in {f.run_dir for f in failed} for d in job.depends):
            job.error = "its generator's training run failed"
        else:
            try:
                _run_inversion_job(job, device, console)
            except GBenchError as exc:
                job.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - one failed cell must not lose the others
                job.error = f"{type(exc).__name__}: {exc}"
        if job.error:
            console.print(f"[red]failed[/red] {job.run_dir}: {job.error}")
            failed.append(job)
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


def collect(p: Plan) -> list[Measured]:
    """The measured value of every cell (mean over seeds), its spread, runs, fingerprints and comparability."""
    out = []
    for pc in p.cells:
        cell = pc.cell
        m = Measured(cell.row, cell.column, cell)
        if pc.unavailable:
            m.status = f"not available: {pc.unavailable}"
            out.append(m)
            continue
        problems = []
        for job in pc.jobs:
            m.run_dirs.append(str(job.run_dir))
            final = _read_final(job.run_dir)
            if job.error:
                problems.append(f"failed: {job.error}")
                continue
            if final is None or (job.inversion is None and final.get("step", -1) < job.cfg.train.steps):
                problems.append("not run" if job.status == "new" and final is None else f"incomplete ({job_status(job.run_dir, job.cfg.train.steps)})")
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
        if pc.jobs and cell.inversion is not None:
            m.comparable, m.why = inversion_comparability(cell, p.preset, pc.jobs[0])
        elif pc.jobs:
            m.comparable, m.why = comparability(cell, pc.jobs[0].cfg, p.extra)
            if cell.baseline:
                m.why = f"{cell.baseline} baseline under the run's protocol; " + m.why
        out.append(m)
    return out


def reproduce(name: str, *, preset: str = "paper", seeds: int = 1, jobs: int = 1, out: str | Path = "runs", device: str = "auto",
              only: tuple = (), extra: tuple = (), run: bool = True, console=None) -> tuple[Plan, list[Measured], list[Job]]:
    """`gbench reproduce`: plan the table, run what is missing (unless run=False), collect the measurements."""
    table = get_table(name)
    p = plan(table, preset=preset, seeds=seeds, out=out, only=tuple(only), extra=tuple(extra))
    failed = run_missing(p, jobs=jobs, device=device, console=console) if run else []
    return p, collect(p), failed
