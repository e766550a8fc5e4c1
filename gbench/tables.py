"""Declarative paper tables and `gbench reproduce`: cells -> runs -> paper vs measured.

A `Table` is rows x columns of `Cell`s. A cell names an experiment, the config overrides that make the
paper's setting, the metric it reads from the run's eval.json and the paper's value (with the gbench protocol
that measures what the paper measured). Cells with the same experiment, overrides and seed are the same run
directory, so a run shared by two tables (TransGAN Table 2's "TransGAN + DA" is Table 3's first row) trains
once. `reproduce` resolves a table under a preset, runs the missing runs (finished ones are skipped,
interrupted ones resume: gbench/train/run.py does both), optionally several at a time in worker processes,
and collects mean +- std over training seeds, the delta to the paper and a comparability flag
(same protocol and recipe as the paper: yes or no, and why). gbench/report/table_report.py renders it.

Tables:
- `transgan-table1` .. `transgan-table5`: TransGAN v1 (Jiang et al. 2021) Tables 1-5 (paper_tables.md); Table 5
  takes its rows from leaderboards/cifar10.csv.
- `pix2pix-losses`, `pix2pix-patch`, `cyclegan-cityscapes`, `srgan-x4`: the plain-data `TABLES` of
  gbench/recipes/{pix2pix,cyclegan,srgan}.py, read defensively (a missing module makes the table "not available").
- `biggan-imagenet128`, `dgp-inversion`: published values only, from the leaderboard: gbench cannot train
  BigGAN at ImageNet 128x128 on one machine.

A cell whose experiment does not exist shows "not available" and the reason; it is never filled in.
Deviation: the TransGAN paper's WGAN-GP architecture in Tables 2 and 5 is not stated; gbench's `wgan-gp`
experiment (the WGAN-GP paper's ResNet) stands in for it.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from gbench.errors import GBenchError

# ----------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Cell:
    row: str
    column: str
    metric: str  # key of eval.json `final.metrics` ("fid", "is_mean", "psnr_y/Set5", "gt_pixel_acc")
    paper: float | None  # the published value (None: the paper printed none)
    experiment: str | None = None  # None: a published number gbench does not train
    overrides: tuple = ()  # ((dotted key, value), ...) applied on top of the chosen preset
    paper_std: float | None = None
    paper_protocol: str = ""  # the gbench protocol that measures what the paper measured ("" = none)
    std_metric: str = ""  # within-run spread shown when one seed ran (IS: is_std, as the papers print it)
    baseline: str = ""  # "bicubic": read the run's final["baseline"]["metrics"] instead of the model's
    unavailable: str = ""  # set by the table itself when the cell can never be measured


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    source: str  # paper and table the values come from
    rows: tuple
    columns: tuple
    cells: tuple
    notes: tuple = ()
    trainable: bool = True  # False: rendered from the leaderboard only
    unavailable: str = ""  # the whole table cannot be built (e.g. its recipe module is missing)

    def cell(self, row: str, column: str) -> Cell | None:
        return next((c for c in self.cells if c.row == row and c.column == column), None)


def _items(overrides: dict) -> tuple:
    return tuple(overrides.items())


def is_fid_cells(row: str, experiment: str | None, overrides: dict, is_: float | None, is_std: float | None, fid: float | None,
            protocol: str = "cifar10-50k") -> tuple[Cell, Cell]:
    """The IS and FID cells of one CIFAR-10 row (IS +- std over 10 splits, as the papers print it)."""
    return (Cell(row, "IS", "is_mean", is_, experiment, _items(overrides), is_std, protocol, std_metric="is_std"),
            Cell(row, "FID", "fid", fid, experiment, _items(overrides), None, protocol))


def gan_table(name: str, title: str, source: str, rows: list[tuple], notes: tuple = ()) -> Table:
    cells = tuple(c for r in rows for c in is_fid_cells(*r))
    return Table(name, title, source, tuple(dict.fromkeys(r[0] for r in rows)), ("IS", "FID"), cells, notes)


TRANSGAN = "Jiang, Chang, Wang 2021, TransGAN v1 (arXiv)"
NO_DA = {"train.augment": "none", "train.co_train_sr": False, "train.local_init": "off"}
WITH_DA = {"train.augment": "diffaug-transgan", "train.co_train_sr": False, "train.local_init": "off"}
DA_MTCT = {"train.augment": "diffaug-transgan", "train.co_train_sr": True, "train.local_init": "off"}
DA_MTCT_LOCAL = {"train.augment": "diffaug-transgan", "train.co_train_sr": True, "train.local_init": "band"}
CNN_NO_DA = {"train.augment": "none"}
CNN_DA = {"train.augment": "diffaug"}  # DiffAugment at the experiment's policy (TransGAN does not state one)
STYLEGAN2_DA = {"train.augment": "diffaug", "train.augment_policy": "color,cutout"}  # DiffAugment's 100%-data CIFAR policy


def _transgan_table1() -> Table:
    return gan_table("transgan-table1", "TransGAN Table 1: transformer vs AutoGAN generator and discriminator (no data augmentation)",
                      f"{TRANSGAN}, Table 1", [
                          ("AutoGAN G + AutoGAN D", "autogan", CNN_NO_DA, 8.55, 0.12, 12.42),
                          ("Transformer G + AutoGAN D", "transgan-g-autogan-d", CNN_NO_DA, 8.59, 0.10, 13.23),
                          ("AutoGAN G + Transformer D", "autogan-g-transgan-d", CNN_NO_DA, 6.17, 0.12, 49.83),
                          ("Transformer G + Transformer D", "transgan-s", NO_DA, 6.95, 0.13, 41.41),
                      ], notes=("The transformer G + D row is TransGAN-S without DiffAugment, MT-CT or locality init "
                                "(the same run as Table 2's TransGAN no-DA row).",))


def _transgan_table2() -> Table:
    return gan_table("transgan-table2", "TransGAN Table 2: data augmentation (DiffAugment) on CNN GANs and TransGAN, full CIFAR-10",
                      f"{TRANSGAN}, Table 2", [
                          ("WGAN-GP", "wgan-gp", CNN_NO_DA, 6.49, 0.09, 39.68),
                          ("WGAN-GP + DA", "wgan-gp", CNN_DA, 6.29, 0.10, 37.14),
                          ("AutoGAN", "autogan", CNN_NO_DA, 8.55, 0.12, 12.42),
                          ("AutoGAN + DA", "autogan", CNN_DA, 8.60, 0.10, 12.72),
                          ("StyleGAN v2", "stylegan2", CNN_NO_DA, 9.18, None, 11.07, "cifar10-10k-test"),
                          ("StyleGAN v2 + DA", "stylegan2", STYLEGAN2_DA, 9.40, None, 9.89, "cifar10-10k-test"),
                          ("TransGAN", "transgan-s", NO_DA, 6.95, 0.13, 41.41),
                          ("TransGAN + DA", "transgan-s", WITH_DA, 8.15, 0.14, 19.85),
                      ], notes=(
                          "StyleGAN v2 values are DiffAugment's fid10k / is10k (10k samples vs the test split), so their cells "
                          "use protocol cifar10-10k-test; the other rows are 50k samples vs the training split (cifar10-50k).",
                          "The paper does not state the WGAN-GP architecture or the DiffAugment policy for WGAN-GP and AutoGAN: "
                          "gbench uses its wgan-gp experiment and DiffAugment's color,translation,cutout.",
                          "TransGAN rows are TransGAN-S with MT-CT and locality init off; + DA uses TransGAN's DiffAugment variant."))


def _transgan_table3() -> Table:
    return gan_table("transgan-table3", "TransGAN Table 3: multi-task co-training (MT-CT) and locality-aware initialization",
                      f"{TRANSGAN}, Table 3", [
                          ("TransGAN + DA (*)", "transgan-s", WITH_DA, 8.15, 0.14, 19.85),
                          ("(*) + MT-CT", "transgan-s", DA_MTCT, 8.20, 0.14, 19.12),
                          ("(*) + MT-CT + local init", "transgan-s", DA_MTCT_LOCAL, 8.22, 0.12, 18.58),
                      ], notes=("All rows are TransGAN-S; the last row is the paper's transgan-s recipe (the switches are set "
                                "explicitly, so the smoke preset, which turns local init off for speed, runs it with the band init).",
                                "MT-CT is gbench's design (the official code never released it): see gbench/recipes/transgan.py."))


def _transgan_table4() -> Table:
    return gan_table("transgan-table4", "TransGAN Table 4: scaling up the generator (S / M / L / XL)", f"{TRANSGAN}, Table 4", [
        ("TransGAN-S", "transgan-s", {}, 8.22, 0.14, 18.58),
        ("TransGAN-M", "transgan-m", {}, 8.36, 0.12, 16.27),
        ("TransGAN-L", "transgan-l", {}, 8.50, 0.14, 14.46),
        ("TransGAN-XL", "transgan-xl", {}, 8.63, 0.16, 11.89),
    ], notes=("Each row is its experiment's own recipe (DA + MT-CT + local init at the paper preset). The smoke preset shrinks "
              "the widths to 96/128/192/256 (the paper's over 4) so the S < M < L < XL ordering is kept.",))


# Table 5: (row label, leaderboard model, leaderboard setting, experiment or None, overrides)
TABLE5_ROWS = (
    ("WGAN-GP (Gulrajani et al., 2017)", "WGAN-GP", "no DA, as reported by TransGAN", "wgan-gp", CNN_NO_DA),
    ("LRGAN (Yang et al., 2017)", "LRGAN", "unconditional", None, {}),
    ("DFM (Warde-Farley & Bengio, 2016)", "DFM", "unconditional", None, {}),
    ("Splitting GAN (Grinblat et al., 2017)", "Splitting GAN", "unconditional", None, {}),
    ("Improving MMD-GAN (Wang et al., 2018)", "Improving MMD-GAN", "unconditional", None, {}),
    ("MGAN (Hoang et al., 2018)", "MGAN", "unconditional", None, {}),
    ("SN-GAN (Miyato et al., 2018)", "SN-GAN", "ResNet, unconditional, hinge", "sngan", {}),
    ("Progressive-GAN (Karras et al., 2017)", "Progressive-GAN", "unconditional", None, {}),
    ("AutoGAN (Gong et al., 2019)", "AutoGAN", "unconditional, no augmentation", "autogan", {}),
    ("StyleGAN v2 (Zhao et al., 2020)", "StyleGAN2", "100% data, no DA", "stylegan2", CNN_NO_DA),
    ("TransGAN-XL", "TransGAN-XL", "depth {5,4,2}, dim 1024", "transgan-xl", {}),
)


def _transgan_table5() -> Table:
    from gbench.leaderboard import PAPER_PROTOCOLS, load_published

    published = load_published("cifar10")
    cells = []
    for label, model, setting, experiment, overrides in TABLE5_ROWS:
        for column, metric, std_metric in (("IS", "is_mean", "is_std"), ("FID", "fid", "")):
            row = next((r for r in published if (r.model, r.setting, r.metric) == (model, setting, column)), None)
            protocol = PAPER_PROTOCOLS[row.protocol].nominal if row is not None and row.protocol in PAPER_PROTOCOLS else ""
            cells.append(Cell(label, column, metric, row.value if row else None, experiment, _items(overrides),
                              row.std if row else None, protocol, std_metric=std_metric,
                              unavailable="" if experiment else "published only: gbench has no experiment for this model"))
    return Table("transgan-table5", "TransGAN Table 5: unconditional CIFAR-10, published methods (rows from leaderboards/cifar10.csv)",
                 f"{TRANSGAN}, Table 5; values and provenance in leaderboards/cifar10.csv", tuple(r[0] for r in TABLE5_ROWS),
                 ("IS", "FID"), tuple(cells), notes=(
                     "The published numbers were measured under different protocols (see `gbench leaderboard cifar10`); "
                     "only rows whose leaderboard protocol has a gbench equivalent can be flagged comparable.",
                     "StyleGAN v2's values are fid10k vs the test split (cifar10-10k-test)."))


def _from_leaderboard(name: str, title: str, board: str, columns: tuple, label: Callable, reason: str) -> Table:
    """A table of published values only (gbench cannot train it): rows and cells from leaderboards/<board>.csv."""
    from gbench.leaderboard import load_published

    published = load_published(board)
    rows = tuple(dict.fromkeys(label(r) for r in published))
    cells = tuple(Cell(label(r), r.metric, r.metric, r.value, None, (), r.std, unavailable=reason)
                  for r in published if r.metric in columns)
    source = "; ".join(dict.fromkeys(r.source for r in published))
    return Table(name, title, source, rows, columns, cells, notes=(reason, f"Values from leaderboards/{board}.csv."), trainable=False)


def _biggan() -> Table:
    return _from_leaderboard("biggan-imagenet128", "BigGAN: ImageNet 128x128 ablation (FID / IS)", "imagenet128", ("FID", "IS"),
                             lambda r: f"{r.model}: {r.setting}",
                             "published values only: gbench cannot train BigGAN on ImageNet 128x128 on one machine "
                             "(batch 2048, 70-170M parameters, 10^5 iterations on many accelerators)")


def _dgp() -> Table:
    return _from_leaderboard("dgp-inversion", "Deep Generative Prior: BigGAN inversion on ImageNet 128x128", "gan_inversion",
                             ("psnr", "ssim_x100", "mse_x1e-3"), lambda r: r.model,
                             "published values only: gbench has no ImageNet BigGAN to invert and cannot train one on one machine")


# ----------------------------------------------------------------------------- tables of other modules (plain data)


def _experiment_protocol(experiment: str | None, overrides: dict) -> str:
    if "eval.protocol" in overrides:
        return overrides["eval.protocol"]
    from gbench.experiments import experiments

    exp = experiments().get(experiment) if experiment else None
    return exp.paper.eval.protocol if exp else ""


def _adapt_rows(spec: dict) -> tuple[tuple, tuple, tuple]:
    """The row format (gbench/recipes/pix2pix.py): rows of {label, experiment, overrides, [metrics], paper}."""
    columns = tuple(spec["columns"])
    rows, cells = [], []
    for r in spec["rows"]:
        rows.append(r["label"])
        overrides = dict(r.get("overrides") or {})
        protocol = spec.get("protocol") or _experiment_protocol(r.get("experiment"), overrides)
        for column in columns:
            paper = (r.get("paper") or {}).get(column)
            cells.append(Cell(r["label"], column, (r.get("metrics") or {}).get(column, column), paper, r.get("experiment"),
                              _items(overrides), None, protocol,
                              unavailable="" if r.get("experiment") else "published only: gbench has no experiment for this method"))
    return tuple(rows), columns, tuple(cells)


def _adapt_cells(spec: dict) -> tuple[tuple, tuple, tuple]:
    """The cell format (gbench/recipes/srgan.py): cells of {row, column, experiment, baseline, overrides, metric, paper}."""
    cells = []
    for c in spec["cells"]:
        overrides = dict(c.get("overrides") or {})
        baseline = c.get("baseline") or ""
        protocol = spec.get("protocol") or _experiment_protocol(c.get("experiment"), overrides)
        unavailable = "" if c.get("experiment") or baseline else "published only: gbench has no experiment for this method"
        cells.append(Cell(c["row"], c["column"], c["metric"], c.get("paper"), c.get("experiment"), _items(overrides), None, protocol,
                          baseline=baseline, unavailable=unavailable))
    return tuple(spec["rows"]), tuple(spec["columns"]), tuple(cells)


def _imported(module: str, name: str) -> Table:
    """A table defined as plain data in gbench/recipes/<module>.py; "not available" (with the reason) when the
    module or the table is missing or its format is not understood."""
    where = f"gbench/recipes/{module}.py"
    try:
        spec = getattr(importlib.import_module(f"gbench.recipes.{module}"), "TABLES", {}).get(name)
    except Exception as exc:  # a module another change is still writing must not break every other table
        return Table(name, name, where, (), (), (), unavailable=f"{where} could not be imported ({type(exc).__name__}: {exc})")
    if spec is None:
        return Table(name, name, where, (), (), (), unavailable=f"{where} defines no table {name!r}")
    try:
        rows, columns, cells = _adapt_cells(spec) if "cells" in spec else _adapt_rows(spec)
    except (KeyError, TypeError, AttributeError) as exc:
        return Table(name, spec.get("title", name), where, (), (), (), unavailable=f"the format of {where}'s {name!r} is not understood ({exc!r})")
    return Table(name, spec.get("title", name), spec.get("source", where), rows, columns, cells, tuple(spec.get("notes", ())))


TABLES: dict[str, Callable[[], Table]] = {
    "transgan-table1": _transgan_table1,
    "transgan-table2": _transgan_table2,
    "transgan-table3": _transgan_table3,
    "transgan-table4": _transgan_table4,
    "transgan-table5": _transgan_table5,
    "pix2pix-losses": lambda: _imported("pix2pix", "pix2pix-losses"),
    "pix2pix-patch": lambda: _imported("pix2pix", "pix2pix-patch"),
    "cyclegan-cityscapes": lambda: _imported("cyclegan", "cyclegan-cityscapes"),
    "srgan-x4": lambda: _imported("srgan", "srgan-x4"),
    "biggan-imagenet128": _biggan,
    "dgp-inversion": _dgp,
}
EXTRA_TABLES: dict[str, Table] = {}  # registered at run time (tests, notebooks): name -> Table


def table_names() -> list[str]:
    return [*TABLES, *EXTRA_TABLES]


def register_table(table: Table) -> None:
    EXTRA_TABLES[table.name] = table


def get_table(name: str) -> Table:
    if name in EXTRA_TABLES:
        return EXTRA_TABLES[name]
    if name not in TABLES:
        hint = difflib.get_close_matches(name, table_names(), n=1)
        raise GBenchError(f"unknown table {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(table_names())}"))
    return TABLES[name]()


# ----------------------------------------------------------------------------- plan: cells -> run directories


@dataclass
class Job:
    """One training run (a run directory) that one or more cells read."""

    cfg: object  # RunConfig
    run_dir: Path
    status: str  # "finished" | "interrupted at step N" | "new"
    depends: list = field(default_factory=list)  # run dirs this run starts from (train.init_from)
    error: str = ""


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
    from gbench.train.checkpoint import checkpoint_paths

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
    from gbench.train.run import run_dir_for

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
    from gbench.experiments import run_experiment

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
        from gbench.experiments import run_experiment

        for i, job in enumerate([j for wave in _waves(todo) for j in wave], start=1):
            console.print(f"[bold]cell run {i}/{len(todo)}[/bold] {job.cfg.experiment} -> {job.run_dir} ({job.status})")
            try:
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
    return failed


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
            if final is None or final.get("step", -1) < job.cfg.train.steps:
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
        if pc.jobs:
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
