"""The `gbench` command line: thin commands that parse, call one library function, and print.

User errors (unknown names, bad overrides, missing data or weights, NaN outputs) print one line
and exit with status 2, no traceback.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from gbench.errors import GBenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                  help="gbench: train faithful reference GANs, evaluate them under fingerprinted protocols, reproduce paper tables.\n\n"
                       "Start with `gbench run transgan-s --preset smoke` (CPU, offline, under a minute).")
console = Console()
err_console = Console(stderr=True)


def user_errors(fn):
    """Turn a GBenchError into one red line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GBenchError as exc:
            err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@user_errors
def models() -> None:
    """List the experiments: paper, parameter counts of G and D, datasets, presets.

    Example: `gbench models`
    """
    from gbench.experiments import experiments
    from gbench.inspect import parameter_counts

    registry = experiments()
    table = Table(title="gbench experiments", show_lines=False)
    table.add_column("experiment", no_wrap=True, min_width=max(len(name) for name in registry))
    for col in ("model", "G params", "D params", "paper data / protocol", "presets"):
        table.add_column(col, no_wrap=col.endswith("params"), min_width=8 if col.endswith("params") else None, overflow="fold")
    for exp in registry.values():
        g, d = parameter_counts(exp.paper)
        table.add_row(exp.name, exp.title, f"{g / 1e6:.3f}M", f"{d / 1e6:.3f}M" if d else "-",
                      f"{exp.paper.data.dataset} / {exp.paper.eval.protocol}", "paper, " + ", ".join(exp.presets))
    console.print(table)


@app.command()
@user_errors
def protocols(protocol: Optional[str] = typer.Argument(None, help="show every constant of one protocol")) -> None:
    """List the evaluation protocols and their constants.

    Examples: `gbench protocols`, `gbench protocols cifar10-50k`
    """
    from gbench.protocols import PROTOCOLS, get_protocol

    if protocol:
        p = get_protocol(protocol)
        table = Table(title=f"protocol {p.id}")
        table.add_column("constant", no_wrap=True)
        table.add_column("value")
        for k, v in p.constants().items():
            table.add_row(k, str(v))
        console.print(table)
        return
    wide = console.width >= 140  # descriptions only where they fit; `gbench protocols ID` always shows them
    table = Table(title="gbench protocols", caption=None if wide else "`gbench protocols ID` shows a protocol's description and constants")
    table.add_column("id", no_wrap=True, min_width=max(len(p) for p in PROTOCOLS))
    for col in ("extractor", "reference", "n_gen", "n_ref", "metrics", *(["description"] if wide else [])):
        table.add_column(col, overflow="fold")
    for p in PROTOCOLS.values():
        table.add_row(p.id, p.extractor, f"{p.reference}/{p.reference_split}", str(p.n_gen), str(p.n_ref or "all"),
                      ",".join(p.metrics), *([p.description] if wide else []))
    console.print(table)


@app.command()
@user_errors
def run(
    experiment: str = typer.Argument(..., help="experiment name, see `gbench models`"),
    preset: str = typer.Option("paper", "--preset", "-p", help="paper | quick | smoke"),
    set_: List[str] = typer.Option([], "--set", "-s", help="override a config key, e.g. train.steps=200 (repeatable)"),
    out: Path = typer.Option(Path("runs"), "--out", help="root folder of run directories"),
    seed: Optional[int] = typer.Option(None, "--seed", help="training seed (default: the experiment's, 0)"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
) -> None:
    """Train an experiment (resuming automatically), evaluate it, write eval.json and a report.

    Examples:

    * `gbench run dcgan --preset smoke`
    * `gbench run dcgan --set train.steps=2000 --set train.batch_size_d=64 --seed 1`
    """
    from gbench import distributed
    from gbench.experiments import resolve_config
    from gbench.runs import run_experiment

    cfg = resolve_config(experiment, preset, set_, seed)
    run_experiment(cfg, out=out, device=device, console=console)
    distributed.destroy()  # under torchrun: leave the process group together (no-op otherwise)


@app.command()
@user_errors
def sample(
    experiment: Optional[str] = typer.Argument(None, help="experiment; its newest run under --runs is used unless --run/--checkpoint"),
    class_label: Optional[int] = typer.Option(None, "--class", help="class-conditional models: draw every sample of this class"),
    n: int = typer.Option(64, "--n", help="number of samples"),
    seed: int = typer.Option(0, "--seed", help="seed of z (and labels)"),
    run: Optional[Path] = typer.Option(None, "--run", help="a run directory (its EMA generator)"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="a gbench checkpoint or a generator state_dict"),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="with --checkpoint: the preset the weights were trained with"),
    set_: List[str] = typer.Option([], "--set", "-s", help="with --checkpoint: config override"),
    runs: Path = typer.Option(Path("runs"), "--runs", help="root of run directories"),
    out: Path = typer.Option(Path("samples.png"), "--out", help="PNG grid to write"),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
    truncation: Optional[float] = typer.Option(None, "--truncation", help="style-based generators: truncation psi "
                                               "(w' = w_avg + psi (w - w_avg) on the coarse layers; StyleGAN's figures use 0.7)"),
) -> None:
    """Draw samples from a trained generator into a PNG grid (all of one class with --class).

    Examples: `gbench sample cdcgan --class 3 --out cats.png`, `gbench sample --run runs/dcgan/smoke-8de5c27f`,
    `gbench sample stylegan-ffhq --truncation 0.7 --out faces.png`
    """
    from gbench.sample import sample as draw

    result = draw(experiment, class_label=class_label, n=n, seed=seed, run=run, checkpoint=checkpoint, preset=preset, overrides=set_,
                  runs_root=runs, out=out, device=device, truncation=truncation)
    console.print(f"{len(result.images)} samples from {result.source} -> {result.path}", soft_wrap=True, highlight=False)


@app.command()
@user_errors
def report(path: Path = typer.Argument(..., help="a run directory")) -> None:
    """Re-render the report of a run (report.md, report.html, plots/).

    Example: `gbench report runs/dcgan/smoke-8de5c27f`
    """
    from gbench.report.run_report import render_run_report

    if not (path / "config.json").exists():
        raise GBenchError(f"{path} is not a run directory (no config.json)")
    md, html = render_run_report(path)
    console.print(f"wrote {md} and {html}")


@app.command("eval")
@user_errors
def eval_(
    protocol: str = typer.Option(..., "--protocol", help="protocol id, see `gbench protocols`"),
    run: Optional[Path] = typer.Option(None, "--run", help="a run directory: its EMA generator (G without EMA), newest checkpoint"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="a gbench checkpoint or a generator state_dict (needs --experiment)"),
    experiment: Optional[str] = typer.Option(None, "--experiment", "-e", help="with --checkpoint: the experiment whose generator it fits"),
    preset: str = typer.Option("paper", "--preset", "-p", help="with --checkpoint: the preset the weights were trained with"),
    set_: List[str] = typer.Option([], "--set", "-s", help="with --checkpoint: config override, e.g. model.g_kwargs.g_channels=16"),
    samples: Optional[Path] = typer.Option(None, "--samples", help="a folder of PNG images (the first n_gen in sorted name order)"),
    generator: Optional[str] = typer.Option(None, "--generator", help="module:callable returning an nn.Module, z (B, z_dim) -> images in [-1, 1]"),
    z_dim: Optional[int] = typer.Option(None, "--z-dim", help="with --generator: size of z when the module has no latent_dim attribute"),
    seeds: int = typer.Option(1, "--seeds", help="repeat with N sample seeds (protocol seed + i); report mean ± std"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    batch_size: int = typer.Option(250, "--batch-size", help="images per generator/extractor batch (lower it for Inception on a CPU)"),
    out: Optional[Path] = typer.Option(None, "--out", help="eval.json path (default: RUN/eval-PROTOCOL.json for --run, else ./eval-PROTOCOL.json)"),
    board: Optional[str] = typer.Option(None, "--board", help="leaderboard name in the pasted line (default: the reference dataset)"),
    model: Optional[str] = typer.Option(None, "--model", help="model name in the pasted line (default: the experiment, callable or folder name)"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="SR protocols: `bicubic` scores bicubic upsampling, no model"),
) -> None:
    """Evaluate a run, a checkpoint, a PNG folder or any generator under a protocol; write eval.json and a leaderboard line.

    The `--generator` contract: `module:callable` returns an nn.Module whose forward(z) (or forward(z, y)
    when it has `num_classes > 0`) maps z of shape (B, z_dim) to images (B, C, H, W) in [-1, 1]. Under
    `torchrun --nproc_per_node N -m gbench eval ...` generation is sharded by rank with the same result.

    Examples:

    * `gbench eval --protocol toy-shapes32 --run runs/dcgan/smoke-8de5c27f`
    * `gbench eval --protocol cifar10-50k --generator mypkg.models:make_generator --seeds 3`
    * `gbench eval --protocol cifar10-10k-test --samples fakes/ --device cuda`
    * `gbench eval --protocol sr-x4-y --baseline bicubic` (SR: `--generator` maps LR [0, 1] to HR [0, 1])
    """
    from gbench.protocols import get_protocol

    if get_protocol(protocol).scale:  # super-resolution: PSNR/SSIM per test set, always beside bicubic
        from gbench.io import atomic_write_json
        from gbench.evaluation.sr import run_sr_eval, sr_results_markdown

        result = run_sr_eval(protocol, baseline=baseline, run=run, checkpoint=checkpoint, experiment=experiment, preset=preset,
                             overrides=set_, generator=generator, device=device)
        path = out or default_sr_output(protocol, run)
        atomic_write_json(result, path)
        console.out(sr_results_markdown(result), highlight=False)
        console.print(f"wrote {path}", soft_wrap=True, highlight=False)
        return
    if baseline:
        raise GBenchError(f"--baseline applies to super-resolution protocols, not {protocol}")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from gbench import distributed as dist
    from gbench.io import atomic_write_json
    from gbench.evaluation.sources import default_output, leaderboard_csv, run_eval

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=True) as bars:

        def progress(description: str, total: Optional[int]):
            """A bar that appears on its first advance (a cached reference never shows one)."""
            if not dist.is_main():
                return None
            tasks = []

            def advance(n: int) -> None:
                if not tasks:
                    tasks.append(bars.add_task(description, total=total))
                bars.advance(tasks[0], n)

            return advance

        report = run_eval(protocol, run=run, checkpoint=checkpoint, experiment=experiment, preset=preset, overrides=set_, samples=samples,
                          generator=generator, z_dim=z_dim, seeds=seeds, device=device, batch_size=batch_size, board=board, model=model,
                          progress=progress)
    if dist.is_main():
        path = out or default_output(protocol, run)
        atomic_write_json(report, path)
        _print_eval(report)
        console.print(f"wrote {path}", soft_wrap=True, highlight=False)
        console.print("leaderboard line (CSV):")
        console.out(leaderboard_csv(report["leaderboard"]), highlight=False, end="")
    dist.destroy()  # under torchrun: leave the process group together (no-op otherwise)


def default_sr_output(protocol: str, run: Optional[Path]) -> Path:
    return (run / f"eval-{protocol}.json") if run else Path(f"eval-{protocol}.json")


def _print_eval(report: dict) -> None:
    first = report["results"][0]
    table = Table(title=f"{report['model']} under {report['fingerprint']}", caption=(
        f"{report['setting']}; n_gen {first['n_gen']}, n_ref {first['n_ref']} ({first['reference']}), {first['extractor']}; "
        f"{first['comparable_to']}"))
    for col in ("metric", "value", "± std", "std over", "per seed"):
        table.add_column(col, no_wrap=col != "per seed", justify="right" if col in ("value", "± std") else "left")
    for s in report["summary"]:
        per_seed = ", ".join(f"{v:.4g}" for v in s["values"]) if len(s["values"]) > 1 else ""
        table.add_row(s["metric"], f"{s['value']:.4f}", "" if s["std"] is None else f"{s['std']:.4f}", s["std_over"], per_seed)
    console.print(table)
    seconds = sum(r["seconds"] for r in report["results"])
    console.print(f"{len(report['results'])} evaluation(s) in {seconds:.1f} s" + (f" on {report['world_size']} processes" if report["world_size"] > 1 else ""))
    for warning in report["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)


data_app = typer.Typer(no_args_is_help=True, help="Datasets and weights: what is on disk, and fetching them with checksums.")
app.add_typer(data_app, name="data")


@data_app.command("list")
@user_errors
def data_list(root: Optional[Path] = typer.Option(None, "--root", help="data root (default: $GBENCH_HOME/datasets)")) -> None:
    """Show which datasets and weights are present, with their paths and how to fetch the missing ones.

    Example: `gbench data list --root /data/torchvision`
    """
    from gbench.inventory import data_inventory

    table = Table(title="gbench data")
    for col in ("name", "kind", "status", "size", "path / how to fetch"):
        table.add_column(col, no_wrap=col != "path / how to fetch", overflow="fold")
    for row in data_inventory(root):
        where = str(row["path"]) + (f"\n→ {row['fetch']}" if row["fetch"] else "")
        table.add_row(row["name"], row["kind"], "[green]present[/green]" if row["present"] else "[red]missing[/red]", row["size"], where)
    console.print(table)


@data_app.command("fetch")
@user_errors
def data_fetch(
    name: str = typer.Argument(..., help="cifar10 | stl10 | mnist | celeba | inception | vgg19"),
    root: Optional[Path] = typer.Option(None, "--root", help="data root for datasets (default: $GBENCH_HOME/datasets)"),
) -> None:
    """Download and verify a dataset (into --root) or weights (into $GBENCH_HOME/assets); no-op when present.

    Examples: `gbench data fetch cifar10`, `gbench data fetch inception`
    """
    from gbench.inventory import fetch

    path = fetch(name, root)
    console.print(f"{name}: {path}", soft_wrap=True, highlight=False)


@data_app.command("prepare")
@user_errors
def data_prepare(
    name: str = typer.Argument(..., help="cityscapes"),
    root: Optional[Path] = typer.Option(None, "--root", help="folder holding the unzipped official archives (gtFine/, leftImg8bit/)"),
) -> None:
    """Build a dataset's training layout from archives downloaded by hand (Cityscapes needs a login).

    Example: `gbench data prepare cityscapes --root ~/data/cityscapes-official`
    """
    if name != "cityscapes":
        raise GBenchError(f"only cityscapes needs preparing, not {name!r}")
    from gbench.data.cityscapes import prepare_cityscapes

    console.print(f"prepared {prepare_cityscapes(root)}", soft_wrap=True, highlight=False)


@app.command("train-segmenter")
@user_errors
def train_segmenter(
    dataset: str = typer.Argument("cityscapes", help="cityscapes"),
    root: Optional[Path] = typer.Option(None, "--root", help="data root holding the prepared cityscapes/ folder"),
    epochs: int = typer.Option(50, "--epochs"),
    batch_size: int = typer.Option(8, "--batch-size"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    backbone_weights: str = typer.Option("", "--backbone-weights", help="optional torchvision VGG16 ImageNet state_dict for the encoder"),
) -> None:
    """Train gbench's FCN-8s segmenter for the `cityscapes-fcn` protocol on real train photos at 256x256
    (its sha256 enters the protocol fingerprint).

    Example: `gbench train-segmenter cityscapes --device cuda --epochs 50`
    """
    from gbench.train.segmenter import train_segmenter as train

    path = train(dataset, root=str(root or ""), epochs=epochs, batch_size=batch_size, device=device, backbone_weights=backbone_weights,
                 log=lambda line: console.print(line, highlight=False, soft_wrap=True))
    console.print(f"segmenter written to {path}", soft_wrap=True, highlight=False)


@app.command()
@user_errors
def bench(
    experiment: Optional[str] = typer.Argument(None, help="experiment whose generator to time (with --eval: default dcgan)"),
    eval_: bool = typer.Option(False, "--eval", help="time evaluation: generate + extract, gbench vs torch-fidelity from PNGs"),
    protocol: str = typer.Option("toy-shapes32", "--protocol", help="with --eval: protocol whose extractor and metrics are timed"),
    n: int = typer.Option(1000, "--n", help="with --eval: generated images per timed run"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    batch_size: int = typer.Option(64, "--batch-size", help="images per batch, the same for both tools"),
    random_weights: bool = typer.Option(False, "--random-weights", help="Inception protocols without the real weights: random He-init "
                                        "weights, timing only, not a metric"),
    preset: str = typer.Option("paper", "--preset", "-p", help="train-step mode: the preset whose model sizes and batches are timed"),
    set_: List[str] = typer.Option([], "--set", "-s", help="train-step mode: config override, e.g. train.batch_size_d=32"),
    steps: int = typer.Option(5, "--steps", help="train-step mode: timed steps per variant (after 2 warm-up steps)"),
) -> None:
    """Benchmark throughput. Without `--eval`: D-step and G-step images/s and peak memory of EXP's training, with
    fused SDPA vs explicit attention (and bf16 / torch.compile on CUDA) in one run, as ratios. `--eval`: images/s and
    peak memory of gbench's streaming evaluation vs torch-fidelity's calculate_metrics on a PNG folder of the same
    images, in one run, with the ratios.

    Examples:

    * `gbench bench transgan-s --device cuda`
    * `gbench bench transgan-s --preset smoke --device cpu --steps 3`

    * `gbench bench --eval --n 2000`
    * `gbench bench dcgan --eval --protocol cifar10-10k --random-weights --n 500 --device cuda`
    """
    if not eval_:
        if not experiment:
            raise GBenchError("name the experiment to time, e.g. `gbench bench transgan-s` (or use --eval)")
        from gbench.bench import bench_train_step, format_step_timings
        from gbench.experiments import resolve_config
        from gbench.distributed import resolve_device

        cfg = resolve_config(experiment, preset, set_)
        dev = resolve_device(device)
        console.out(format_step_timings(cfg, dev, bench_train_step(cfg, dev, steps=steps)), highlight=False)
        return
    from gbench.bench.eval_throughput import eval_throughput, print_throughput

    result = eval_throughput(protocol, n=n, device=device, batch_size=batch_size, experiment=experiment, random_weights=random_weights,
                             console=console)
    print_throughput(result, console)


@app.command()
@user_errors
def doctor() -> None:
    """Check the environment: torch and CUDA, GBENCH_HOME, assets, datasets, free disk.

    Example: `gbench doctor`
    """
    from gbench.inspect import doctor_report

    for section, rows in doctor_report().items():
        table = Table(title=section, show_header=False)
        table.add_column("item")
        table.add_column("status")
        for k, v in rows:
            table.add_row(k, v)
        console.print(table)


@app.command()
@user_errors
def leaderboard(
    board: Optional[str] = typer.Argument(None, help="board name (cifar10, stl10, celeba, cityscapes_labels2photo, ...); omit to list boards"),
    runs: Path = typer.Option(Path("runs"), "--runs", help="folder of run directories whose results join the board"),
    format_: str = typer.Option("table", "--format", help="table | csv | md"),
    metric: Optional[str] = typer.Option(None, "--metric", help="rank by this metric instead of the board's primary one"),
) -> None:
    """Published numbers (with their sources) plus your local runs, ranked within one protocol fingerprint.

    Rows measured under other protocols are listed in their own groups with the constants that differ;
    they are never ranked together. Local rows show their run directory and fingerprint.

    Examples:

    * `gbench leaderboard`
    * `gbench leaderboard cifar10 --runs runs --format md`
    """
    from gbench import leaderboard as lb

    if format_ not in ("table", "csv", "md"):
        raise GBenchError(f"--format must be table, csv or md, not {format_!r}")
    if board is None:
        table = Table(title="gbench leaderboards (leaderboards/*.csv)")
        for col in ("board", "title", "ranked by", "published rows"):
            table.add_column(col, overflow="fold")
        for name, title, primary, count in lb.board_summary():
            table.add_row(name, title, primary, str(count))
        console.print(table)
        return
    info, groups = lb.build_board(board, runs, metric=metric)
    if format_ == "csv":
        console.out(lb.render_csv(info, groups, metric), highlight=False, end="")
    elif format_ == "md":
        console.out(lb.render_markdown(info, groups, metric), highlight=False)
    else:
        for table in lb.rich_tables(info, groups, metric):
            console.print(table)


@app.command()
@user_errors
def reproduce(
    table: Optional[str] = typer.Argument(None, help="table name, e.g. transgan-table3; omit to list the tables"),
    preset: str = typer.Option("paper", "--preset", "-p", help="paper | quick | smoke"),
    only: List[str] = typer.Option([], "--only", help="only this row (exact label, else every row containing the text; repeatable)"),
    seeds: int = typer.Option(1, "--seeds", help="training seeds per cell (seed, seed+1, ...); mean ± std over them"),
    jobs: int = typer.Option(1, "--jobs", "-j", help="cells trained at once in worker processes (one per visible GPU, else CPU workers)"),
    out: Path = typer.Option(Path("runs"), "--out", help="root folder of the cells' run directories"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    set_: List[str] = typer.Option([], "--set", "-s", help="extra config override for every cell (makes the cells not comparable)"),
    reports: Optional[Path] = typer.Option(None, "--reports", help="folder of the table report (default: reports/<preset>)"),
    no_run: bool = typer.Option(False, "--no-run", help="train nothing: render the table from the runs already there"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the cells, their run directories and what would run; write nothing"),
) -> None:
    """Reproduce a paper table: train the missing cells (finished ones are skipped, interrupted ones resume),
    then write paper vs measured (mean ± std over seeds, delta, comparability) as Markdown, HTML, CSV, LaTeX
    and a bar chart.

    Examples:

    * `gbench reproduce`
    * `gbench reproduce transgan-table3 --preset smoke --jobs 2`
    * `gbench reproduce transgan-table4 --seeds 3 --only XL --device cuda`
    """
    from gbench import tables
    from gbench.report.table_report import render_table_report

    if table is None:
        listing = Table(title="gbench tables (`gbench reproduce TABLE`)")
        for col in ("table", "title", "cells"):
            listing.add_column(col, overflow="fold")
        for name in tables.table_names():
            t = tables.get_table(name)
            state = t.unavailable and f"not available: {t.unavailable}" or (
                f"{len(t.rows)} rows x {len(t.columns)} columns" + ("" if t.trainable else ", published values only"))
            listing.add_row(name, t.title, state)
        console.print(listing)
        return
    if dry_run:
        spec = tables.get_table(table)
        if spec.unavailable or not spec.trainable:
            console.print(f"{table}: nothing to train: " + (spec.unavailable or spec.notes[0]))
            return
        plan = tables.plan(spec, preset=preset, seeds=seeds, out=out, only=tuple(only), extra=tuple(set_))
        listing = Table(title=f"{table} ({preset} preset, {seeds} seed(s))")
        for col in ("row", "columns", "run directory / reason", "status"):
            listing.add_column(col, overflow="fold")
        lines: dict[tuple, list] = {}  # (row, run dir or reason, status) -> columns, so a row's IS and FID share a line
        for pc in plan.cells:
            keys = [(pc.cell.row, pc.unavailable, "not available")] if pc.unavailable else [
                (pc.cell.row, str(job.run_dir), job.status) for job in pc.jobs]
            for key in keys:
                lines.setdefault(key, []).append(pc.cell.column)
        for (row, where, status), columns in lines.items():
            listing.add_row(row, ", ".join(columns), where, status)
        console.print(listing)
        todo = [j for j in plan.jobs.values() if j.status != "finished"]
        console.print(f"{len(plan.jobs)} run(s): {len(plan.jobs) - len(todo)} finished, {len(todo)} to train")
        return
    if jobs < 1:
        raise GBenchError("--jobs must be at least 1")
    plan, measured, failed = tables.reproduce(table, preset=preset, seeds=seeds, jobs=jobs, out=out, device=device, only=tuple(only),
                                              extra=tuple(set_), run=not no_run, console=console)
    paths = render_table_report(plan, measured, reports or Path("reports") / preset)
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    if failed:
        raise GBenchError(f"{len(failed)} cell run(s) failed (see the table report): " + "; ".join(f"{j.run_dir}: {j.error}" for j in failed))


@app.command()
@user_errors
def compare(
    runs: List[Path] = typer.Argument(..., help="two or more run directories"),
    report: Path = typer.Option(Path("reports/compare"), "--report", help="folder of compare.md / compare.html"),
) -> None:
    """Side-by-side report of runs: config differences, metrics with fingerprints, curves and sample grids.

    Example: `gbench compare runs/transgan-s/smoke-1a2b3c4d runs/transgan-m/smoke-5e6f7a8b`
    """
    from gbench.report.compare import render_compare_report

    md, html = render_compare_report(runs, report)
    console.print(f"wrote {md} and {html}")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
