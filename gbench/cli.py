"""The `gbench` command line: thin commands that parse, call one library function, and print.

Every command goes through one handler (`user_errors`): an error is one line on stderr and no traceback
(set GBENCH_DEBUG=1 to see it); exit status 2 for a usage or config error, 1 for a failure while running,
130 on Ctrl-C. gbench's warnings are one `warning:` line each. Heavy modules (torch, the models) are imported
inside the commands, so `--help`, `models`, `protocols`, `leaderboard` and config errors answer quickly.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gbench.errors import GBenchError, GBenchWarning, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown", pretty_exceptions_enable=False,
                  help="gbench: train faithful reference GANs, evaluate them under fingerprinted protocols, reproduce paper tables.\n\n"
                       "Start with `gbench run transgan-s --preset smoke` (CPU, offline, under a minute).")
console = Console()
err_console = Console(stderr=True)

RESUMABLE = "interrupted; the run keeps its last checkpoint: the same command resumes it"


def _debug() -> bool:
    return os.environ.get("GBENCH_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, GBenchWarning):
        err_console.print(f"[yellow]warning:[/yellow] {_one_line(message)}", highlight=False, soft_wrap=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def user_errors(fn=None, *, interrupted: str = "interrupted"):
    """The one error handler of every command: GBenchError -> its one line and exit status (2 usage, 1 runtime);
    Ctrl-C -> 130 with `interrupted`; any other exception -> one line and 1 (GBENCH_DEBUG=1 re-raises)."""
    if fn is None:
        return functools.partial(user_errors, interrupted=interrupted)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        shown, warnings.showwarning = warnings.showwarning, _show_warning
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            err_console.print(f"[bold red]{interrupted}[/bold red]", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        except GBenchError as exc:
            if _debug():
                raise
            err_console.print(f"[bold red]error:[/bold red] {escape(_one_line(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            if _debug():
                raise
            err_console.print(f"[bold red]error:[/bold red] {type(exc).__name__}: {escape(_one_line(exc)[:300])} (unexpected: set "
                              "GBENCH_DEBUG=1 for the traceback and report it)", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        finally:
            warnings.showwarning = shown

    return wrapper


@app.command()
@user_errors
def models() -> None:
    """List the experiments: paper, parameter counts of G and D, datasets, presets.

    Example: `gbench models`
    """
    from gbench.experiments import experiments
    from gbench.inspect import parameter_count_table

    registry = experiments()
    counts = parameter_count_table([exp.paper for exp in registry.values()])
    table = Table(title="gbench experiments", show_lines=False)
    table.add_column("experiment", no_wrap=True, min_width=max(len(name) for name in registry))
    for col in ("model", "G params", "D params", "paper data / protocol", "presets"):
        table.add_column(col, no_wrap=col.endswith("params"), min_width=8 if col.endswith("params") else None, overflow="fold")
    for exp, (g, d) in zip(registry.values(), counts):
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
@user_errors(interrupted=RESUMABLE)
def run(
    experiment: str = typer.Argument(..., help="experiment name, see `gbench models`"),
    preset: str = typer.Option("paper", "--preset", "-p", help="paper | quick | smoke"),
    set_: List[str] = typer.Option([], "--set", "-s", help="override a config key, e.g. train.steps=200 (repeatable)"),
    out: Path = typer.Option(Path("runs"), "--out", help="root folder of run directories"),
    seed: Optional[int] = typer.Option(None, "--seed", help="training seed (default: the experiment's, 0)"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    force_eval: bool = typer.Option(False, "--force-eval", help="a finished run: evaluate its final generator again"),
) -> None:
    """Train an experiment (resuming automatically), evaluate it, write eval.json and a report. The whole config is
    checked before anything runs; rerunning a finished run prints its results (`--force-eval` recomputes them).

    Examples:

    * `gbench run dcgan --preset smoke`
    * `gbench run dcgan --set train.steps=2000 --set train.batch_size_d=64 --seed 1`
    * `gbench run transgan-s --preset smoke --set train.steps=0` (evaluate the untrained model only)
    """
    from gbench.experiments import resolve_config

    cfg = resolve_config(experiment, preset, set_, seed)  # refused here, before torch is even imported
    from gbench import distributed
    from gbench.runs import run_experiment

    run_experiment(cfg, out=out, device=device, console=console, force_eval=force_eval)
    distributed.destroy()  # under torchrun: leave the process group together (no-op otherwise)


@app.command()
@user_errors
def sample(
    experiment: Optional[str] = typer.Argument(None, help="experiment; its newest run under --runs is used unless --run/--checkpoint"),
    class_label: Optional[int] = typer.Option(None, "--class", help="class-conditional models: draw every sample of this class"),
    caption: List[str] = typer.Option([], "--caption", help="text-to-image models: a caption (repeat for more); one row of samples each"),
    text_encoder: Optional[str] = typer.Option(None, "--text-encoder", help="text-to-image on CUB / Oxford-102: module:callable "
                                               "returning a function list[str] -> (N, 1024) caption embeddings"),
    n: Optional[int] = typer.Option(None, "--n", help="number of samples (default 64; with --caption: per caption, default 8)"),
    seed: int = typer.Option(0, "--seed", help="seed of z (and labels)"),
    run: Optional[Path] = typer.Option(None, "--run", help="a run directory (its EMA generator)"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="a gbench checkpoint or a generator state_dict"),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="with --checkpoint: the preset the weights were trained with"),
    set_: List[str] = typer.Option([], "--set", "-s", help="with --checkpoint: config override"),
    runs: Path = typer.Option(Path("runs"), "--runs", help="root of run directories"),
    out: Path = typer.Option(Path("samples.png"), "--out", help="PNG grid to write"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    truncation: Optional[float] = typer.Option(None, "--truncation", help="style-based generators: truncation psi "
                                               "(w' = w_avg + psi (w - w_avg) on the coarse layers; StyleGAN's figures use 0.7)"),
) -> None:
    """Draw samples from a trained generator into a PNG grid (all of one class with --class; one row per --caption).

    Examples: `gbench sample cdcgan --class 3 --out cats.png`, `gbench sample --run runs/dcgan/smoke-8de5c27f`,
    `gbench sample text2image-cub --caption "this bird is completely red" --caption "a small yellow bird with black wings"`
    `gbench sample stylegan-ffhq --truncation 0.7 --out faces.png`
    """
    from gbench.sample import sample as draw

    result = draw(experiment, class_label=class_label, n=n, seed=seed, run=run, checkpoint=checkpoint, preset=preset, overrides=set_,
                  runs_root=runs, out=out, device=device, captions=caption, text_encoder=text_encoder, truncation=truncation)
    rows = len(result.captions or ())
    per_caption = f" ({len(result.images) // rows} per caption x {rows} caption{'s' if rows > 1 else ''})" if rows else ""
    console.print(f"{len(result.images)} samples{per_caption} from {result.source} -> {result.path}", soft_wrap=True, highlight=False)


@app.command()
@user_errors
def invert(
    experiment: str = typer.Argument(..., help="a BigGAN ImageNet-architecture experiment, e.g. biggan-imagenet128"),
    task: str = typer.Option(..., "--task", "-t", help="reconstruct | colorization | inpainting | sr4"),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="restoration protocol: dgp-imagenet128, dgp-imagenet128-100, "
                                                                    "dgp-shapes32, dgp-skimage32 (`gbench protocols`)"),
    images: Optional[Path] = typer.Option(None, "--images", help="a folder of images (optional labels.txt: '<file> <class>' lines)"),
    method: str = typer.Option("dgp", "--method", "-m", help="dgp | optimize-z"),
    preset: str = typer.Option("paper", "--preset", "-p", help="paper | quick (official schedules) | smoke (5% of the iterations)"),
    run: Optional[Path] = typer.Option(None, "--run", help="a run directory of EXPERIMENT (its EMA generator and D)"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="a gbench checkpoint with G_ema/G and D (e.g. imported released weights)"),
    set_: List[str] = typer.Option([], "--set", "-s", help="config override of the experiment the weights belong to"),
    schedule: str = typer.Option("", "--schedule", help="another official DGP schedule, e.g. sr4-mse (default: the task's)"),
    limit: int = typer.Option(0, "--limit", help="restore only the first N images (0 = all)"),
    batch_size: int = typer.Option(16, "--batch-size", "-b", help="images restored together"),
    out: Path = typer.Option(Path("runs/invert"), "--out", help="root folder of the outputs"),
    runs: Path = typer.Option(Path("runs"), "--runs", help="where the experiment's runs are (the default generator)"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
) -> None:
    """Restore images by inverting a trained BigGAN (Deep Generative Prior or optimise-z): writes the restorations,
    per-image PSNR / SSIM / MSE, eval.json and a report with before/after grids, and prints img/s.

    Without --run/--checkpoint the experiment's run at --preset is used (the smoke one is trained first if missing).

    Examples:

    * `gbench invert biggan-imagenet128 --preset smoke --task colorization --protocol dgp-shapes32`
    * `gbench invert biggan-imagenet128 --preset smoke --task inpainting --protocol dgp-skimage32 --method optimize-z`
    * `gbench invert biggan-imagenet128 --task reconstruct --protocol dgp-imagenet128 --checkpoint biggan128-released.pt --device cuda`
    """
    from gbench.invert import run_inversion

    run_inversion(experiment, task, method=method, preset=preset, protocol=protocol, images=images, run=run, checkpoint=checkpoint,
                  overrides=set_, schedule=schedule, limit=limit, batch_size=batch_size, out=out, runs_root=runs, device=device,
                  console=console)


@app.command()
@user_errors
def report(path: Path = typer.Argument(..., help="a run directory")) -> None:
    """Re-render the report of a run (report.md, report.html, plots/).

    Example: `gbench report runs/dcgan/smoke-8de5c27f`
    """
    from gbench.report.run_report import render_run_report

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
    * `gbench eval --protocol toy-shapes32+pr --run runs/dcgan/smoke-8de5c27f` (adds precision/recall/density/coverage)
    * `gbench eval --protocol cifar10-50k-dinov2 --samples fakes/ --device cuda` (FD/KD and P/R/D/C in DINOv2 space)
    * `gbench eval --protocol sr-x4-y --baseline bicubic` (SR: `--generator` maps LR [0, 1] to HR [0, 1])
    """
    from gbench.io import ensure_writable_file
    from gbench.protocols import get_protocol

    if get_protocol(protocol).scale:  # super-resolution: PSNR/SSIM per test set, always beside bicubic
        from gbench.evaluation.sr import run_sr_eval, sr_results_markdown

        path = ensure_writable_file(out or default_sr_output(protocol, run), "--out")
        result = run_sr_eval(protocol, baseline=baseline, run=run, checkpoint=checkpoint, experiment=experiment, preset=preset,
                             overrides=set_, generator=generator, device=device)
        console.out(sr_results_markdown(result), highlight=False)
        _write_result(result, path)
        return
    if baseline:
        raise UsageError(f"--baseline applies to super-resolution protocols, not {protocol}")
    from gbench import distributed as dist
    from gbench.evaluation.sources import default_output, leaderboard_csv, run_eval

    path = ensure_writable_file(out or default_output(protocol, run), "--out") if dist.is_main() else None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

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
        _print_eval(report)
        _write_result(report, path)
        if run is not None and path.resolve().parent == run.resolve() and (run / "report.md").is_file():
            _rerender_run_report(run)
        console.print("leaderboard line (CSV):")
        console.out(leaderboard_csv(report["leaderboard"]), highlight=False, end="")
    dist.destroy()  # under torchrun: leave the process group together (no-op otherwise)


def _write_result(result: dict, path: Path) -> None:
    """Write eval.json after the results were printed, so a failing write loses nothing on screen."""
    from gbench.io import atomic_write_json

    try:
        atomic_write_json(result, path)
    except OSError as exc:
        raise GBenchError(f"the results above could not be written to {path} ({exc.strerror or exc})") from None
    console.print(f"wrote {path}", soft_wrap=True, highlight=False)


def _rerender_run_report(run: Path) -> None:
    """The run's report lists its `gbench eval --run` results ("Further evaluations"): render it again. A report that
    cannot be rendered costs a warning, never the evaluation just written."""
    from gbench.report.run_report import render_run_report

    try:
        console.print(f"updated {render_run_report(run)[0]} (further evaluations)", soft_wrap=True, highlight=False)
    except Exception as exc:  # noqa: BLE001 - the eval report is already written
        err_console.print(f"[yellow]warning:[/yellow] could not re-render the report of {run}: {type(exc).__name__}: {exc}",
                          highlight=False, soft_wrap=True)


def default_sr_output(protocol: str, run: Optional[Path]) -> Path:
    return (run / f"eval-{protocol}.json") if run else Path(f"eval-{protocol}.json")


def _print_eval(report: dict) -> None:
    first = report["results"][0]
    table = Table(title=f"{report['model']} under {report['fingerprint']}", caption=(
        f"{report['setting']}; n_gen {first['n_gen']}, n_ref {first['n_ref']} ({first['reference']}), {first['extractor']}; "
        f"{first['comparable_to']}"))
    for col in ("metric", "value", "± std", "std over", "per seed"):
        table.add_column(col, no_wrap=col != "per seed", justify="right" if col in ("value", "± std") else "left")
    from gbench.leaderboard.boards import DISPLAY_SCALE

    for s in report["summary"]:
        label, scale = DISPLAY_SCALE.get(s["metric"], (s["metric"], 1))
        per_seed = ", ".join(f"{v * scale:.4g}" for v in s["values"]) if len(s["values"]) > 1 else ""
        table.add_row(label, f"{s['value'] * scale:.4f}", "" if s["std"] is None else f"{s['std'] * scale:.4f}", s["std_over"], per_seed)
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
        where = str(row["path"]) + (f"\n→ {row['fetch']}" if row["fetch"] else "") + (f"\n({row['note']})" if row.get("note") else "")
        table.add_row(row["name"], row["kind"], "[green]present[/green]" if row["present"] else "[red]missing[/red]", row["size"], where)
    console.print(table)


@data_app.command("fetch")
@user_errors
def data_fetch(
    name: str = typer.Argument(..., help="cifar10 | stl10 | mnist | celeba | inception | vgg19 | ckpt:RELEASE (`gbench data list`)"),
    root: Optional[Path] = typer.Option(None, "--root", help="data root for datasets (default: $GBENCH_HOME/datasets)"),
) -> None:
    """Download and verify a dataset (into --root), weights (into $GBENCH_HOME/assets) or an authors' released
    checkpoint `ckpt:NAME` (into $GBENCH_HOME/assets/releases; Google Drive needs `pip install 'gbench[official]'`);
    no-op when present.

    Examples: `gbench data fetch cifar10`, `gbench data fetch inception`, `gbench data fetch ckpt:autogan-cifar10`
    """
    from gbench.inventory import fetched

    path, checksum = fetched(name, root)
    console.print(f"{name}: {path}", soft_wrap=True, highlight=False)
    if checksum:
        console.print(checksum, soft_wrap=True, highlight=False, markup=False)


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
        raise UsageError(f"only cityscapes needs preparing, not {name!r}")
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
            raise UsageError("name the experiment to time, e.g. `gbench bench transgan-s` (or use --eval)")
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
        raise UsageError(f"--format must be table, csv or md, not {format_!r}")
    if board is None:
        table = Table(title=f"gbench leaderboards (leaderboards/*.csv, plus local results under {runs})")
        for col in ("board", "title", "ranked by", "published rows", "local rows"):
            table.add_column(col, overflow="fold")
        for name, title, primary, published, local in lb.board_summary(runs=runs):
            table.add_row(name, title, primary, str(published), str(local))
        console.print(table)
        return
    skipped: list = []
    info, groups = lb.build_board(board, runs, metric=metric, skipped=skipped)
    if format_ == "csv":
        console.out(lb.render_csv(info, groups, metric), highlight=False, end="")
    elif format_ == "md":
        console.out(lb.render_markdown(info, groups, metric), highlight=False)
    else:
        for table in lb.rich_tables(info, groups, metric):
            console.print(table)
    for path, reason in skipped:
        err_console.print(f"[yellow]skipped[/yellow] {path}: {reason}", highlight=False, soft_wrap=True)


@app.command()
@user_errors(interrupted=RESUMABLE)
def reproduce(
    table: Optional[str] = typer.Argument(None, help="table name, e.g. transgan-table3; omit to list the tables"),
    preset: str = typer.Option("paper", "--preset", "-p", help="paper | quick | smoke"),
    only: List[str] = typer.Option([], "--only", help="only this row (exact label, else every row containing the text; repeatable)"),
    seeds: int = typer.Option(1, "--seeds", help="training seeds per cell (seed, seed+1, ...); mean ± std over them"),
    jobs: int = typer.Option(1, "--jobs", "-j", help="cells trained at once in worker processes (one per visible GPU, else CPU workers)"),
    threads: int = typer.Option(0, "--threads", help="CPU threads per training process (default: the cores split between --jobs); "
                                "pin it to reproduce CPU numbers on another machine"),
    out: Path = typer.Option(Path("runs"), "--out", help="root folder of the cells' run directories"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    set_: List[str] = typer.Option([], "--set", "-s", help="extra config override for every cell (makes the cells not comparable)"),
    reports: Optional[Path] = typer.Option(None, "--reports", help="folder of the table report (default: reports/<preset>)"),
    no_run: bool = typer.Option(False, "--no-run", help="train nothing: render the table from the runs already there"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the cells, their run directories and what would run; write nothing"),
    launcher: str = typer.Option("local", "--launcher", help="local (here) | submitit-local (submitit jobs on this machine) | "
                                 "slurm (one Slurm job per run, through submitit)", rich_help_panel="Cluster"),
    partition: str = typer.Option("", "--partition", help="Slurm partition", rich_help_panel="Cluster"),
    gpus_per_cell: int = typer.Option(1, "--gpus-per-cell", help="GPUs (one process each) per cell's job, over its nodes",
                                      rich_help_panel="Cluster"),
    nodes_per_cell: int = typer.Option(1, "--nodes-per-cell", help="nodes per cell's job (multi-node DDP)", rich_help_panel="Cluster"),
    time_limit: str = typer.Option("24:00:00", "--time", help="time limit per job (HH:MM:SS or D-HH:MM:SS); runs checkpoint and "
                                   "requeue before it", rich_help_panel="Cluster"),
    account: str = typer.Option("", "--account", help="Slurm account", rich_help_panel="Cluster"),
    qos: str = typer.Option("", "--qos", help="Slurm QOS", rich_help_panel="Cluster"),
    slurm_extra: List[str] = typer.Option([], "--slurm-extra", help="another sbatch option, key=value or a flag key "
                                          "(e.g. constraint=a100, cpus-per-task=10, mem=0; repeatable)", rich_help_panel="Cluster"),
    max_timeouts: int = typer.Option(20, "--max-timeouts", help="time-limit requeues per job before it fails (preemptions do not count)",
                                     rich_help_panel="Cluster"),
    status: bool = typer.Option(False, "--status", help="train nothing: every run's state (pending, running at step N of M, requeued, "
                                "failed, done) and the table from whatever has finished", rich_help_panel="Cluster"),
    wait: bool = typer.Option(False, "--wait", help="with --status or --launcher slurm: poll until every job has ended",
                              rich_help_panel="Cluster"),
    poll: Optional[float] = typer.Option(None, "--poll", help="seconds between polls (default: 30 for --status --wait, 60 for slurm, "
                                         "2 for submitit-local)", rich_help_panel="Cluster"),
    also_eval: List[str] = typer.Option([], "--also-eval", help="also evaluate every finished run under this protocol (e.g. "
                                        "cifar10-50k+pr: precision/recall and a precision-recall scatter in the report; repeatable)"),
) -> None:
    """Reproduce a paper table: train the missing cells (finished ones are skipped, interrupted ones resume),
    then write paper vs measured (mean ± std over seeds, delta, comparability) as Markdown, HTML, CSV, LaTeX
    and a bar chart.

    Examples:

    * `gbench reproduce`
    * `gbench reproduce transgan-table3 --preset smoke --jobs 2 --threads 1`
    * `gbench reproduce transgan-table4 --seeds 3 --only XL --device cuda`
    * `gbench reproduce transgan-table4 --launcher slurm --partition gpu --gpus-per-cell 8 --time 48:00:00`
    * `gbench reproduce transgan-table4 --status --wait`
    * `gbench reproduce transgan-table3 --preset smoke --also-eval toy-shapes32+pr` (precision/recall of every cell's run)
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
        raise UsageError("--jobs must be at least 1")
    if status:
        from gbench.tables.status import status_table, summary

        plan, measured, states = tables.table_status(table, preset=preset, seeds=seeds, out=out, only=tuple(only), extra=tuple(set_),
                                                     wait=wait, poll=poll or 30.0, console=console)
        console.print(status_table(plan, states, measured))
        paths = render_table_report(plan, measured, reports or Path("reports") / preset)
        console.print(f"{summary(states) or 'no runs'}; wrote " + ", ".join(str(p) for p in paths.values()))
        return
    from gbench.io import ensure_writable_dir

    ensure_writable_dir(reports or Path("reports") / preset, "--reports")
    ensure_writable_dir(out, "--out")
    cluster = None
    if launcher != "local":
        from gbench.tables.launchers import ClusterOptions

        cluster = ClusterOptions(partition=partition, gpus_per_cell=gpus_per_cell, nodes_per_cell=nodes_per_cell, time=time_limit,
                                 account=account, qos=qos, extra=tuple(slurm_extra), max_timeouts=max_timeouts)
    plan, measured, failed = tables.reproduce(table, preset=preset, seeds=seeds, jobs=jobs, out=out, device=device, only=tuple(only),
                                              extra=tuple(set_), run=not no_run, threads=threads, also_eval=tuple(also_eval),
                                              console=console, launcher=launcher, cluster=cluster, wait=wait or launcher != "slurm",
                                              poll=poll)
    paths = render_table_report(plan, measured, reports or Path("reports") / preset)
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    if failed:
        raise GBenchError(f"{len(failed)} cell run(s) failed (see the table report): " + "; ".join(f"{j.run_dir}: {j.error}" for j in failed))


@app.command("import")
@user_errors
def import_(
    format_: str = typer.Argument(..., metavar="FORMAT", help="transgan-v1 | transgan-neurips | autogan | pix2pix-cyclegan | "
                                  "stylegan2-ada | biggan-pytorch | sngan-chainer"),
    file: Path = typer.Argument(..., help="the official checkpoint (a file, or a folder of G/D files)"),
    experiment: Optional[str] = typer.Option(None, "--experiment", "-e", help="the gbench experiment (default: inferred from the tensors)"),
    set_: List[str] = typer.Option([], "--set", "-s", help="config override the weights need beyond what the import infers"),
    out: Optional[Path] = typer.Option(None, "--out", help="gbench checkpoint to write (default: ./<name>-gbench.pt)"),
) -> None:
    """Convert an authors' released checkpoint into a gbench checkpoint that `gbench eval --checkpoint` and `gbench sample`
    read (nothing from the file is executed: weights-only loads, a restricted unpickler).

    Examples:

    * `gbench import autogan autogan_cifar10_a.pth --out autogan.pt`
    * `gbench eval --protocol cifar10-50k --checkpoint autogan.pt --experiment autogan`
    * `gbench import stylegan2-ada cifar10.pkl --experiment stylegan2`
    """
    from gbench.official import FORMATS, import_to_file

    result, path = import_to_file(format_, file, experiment, set_, out)
    console.print(f"{file} ({FORMATS[result.format].description})", soft_wrap=True, highlight=False, markup=False)
    console.print(f"experiment: {result.experiment}" + ("" if experiment else " (inferred)"), highlight=False, markup=False)
    console.print("mapped: " + ", ".join(f"{name} {count} tensors" for name, count in result.tensors.items()), highlight=False, markup=False)
    console.print("overrides: " + (" ".join(result.overrides) or "none"), soft_wrap=True, highlight=False, markup=False)
    for note in result.notes:
        console.print(f"note: {note}", soft_wrap=True, highlight=False, markup=False)
    console.print(f"wrote {path}", soft_wrap=True, highlight=False, markup=False)
    console.print(f"evaluate: gbench eval --protocol PROTOCOL --checkpoint {path} --experiment {result.experiment}", soft_wrap=True,
                  highlight=False, markup=False)


@app.command()
@user_errors
def verify(
    name: Optional[str] = typer.Argument(None, help="release name; omit to list the releases"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="the release's file, if not the fetched one"),
    seeds: int = typer.Option(1, "--seeds", help="repeat with N sample seeds (protocol seed + i); report mean ± std"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    batch_size: int = typer.Option(250, "--batch-size", help="images per generator/extractor batch"),
    out: Optional[Path] = typer.Option(None, "--out", help="report to write (default: ./verify-NAME.json)"),
) -> None:
    """Reproduce a published number by evaluation alone: fetch the authors' released checkpoint (unless --checkpoint),
    import it, evaluate it under the release's protocol and print published vs measured, Δ, and whether Δ is within the
    paper's stated error (or gbench's stated tolerance), with the fingerprint.

    Examples:

    * `gbench verify`
    * `gbench verify autogan-cifar10 --device cuda`
    * `gbench verify transgan-xl-cifar10 --checkpoint cifar_checkpoint.pth --seeds 3 --device cuda`
    """
    from gbench.official.registry import RELEASES

    if name is None:
        listing = Table(title="released checkpoints (`gbench verify NAME`)")
        for col in ("release", "format", "experiment", "protocol", "published", "comparable"):
            listing.add_column(col, overflow="fold", no_wrap=col == "release")
        for r in RELEASES.values():
            published = ", ".join(f"{p.metric} {p.value:g}" + (f" ± {p.error:g}" if p.error is not None else "") for p in r.published)
            listing.add_row(r.name, r.format, r.experiment or "–", r.protocol or "–", published or "none",
                            "yes" if r.comparable else "no")
        console.print(listing)
        return
    from gbench.io import atomic_write_json
    from gbench.official.verify import verify_release

    report = verify_release(name, checkpoint=checkpoint, seeds=seeds, device=device, batch_size=batch_size)
    path = out or Path(f"verify-{name}.json")
    atomic_write_json(report, path)
    _print_verify(report)
    console.print(f"wrote {path}", soft_wrap=True, highlight=False, markup=False)


def _print_verify(report: dict) -> None:
    file = report["file"]
    console.print(f"{report['release']}: {report['description']}", soft_wrap=True, highlight=False, markup=False)
    console.print(f"file {file['path']}\nsha256 {file['sha256']} ({file['checksum']})", soft_wrap=True, highlight=False, markup=False)
    imported = report["import"]
    console.print(f"imported as {report['experiment']} ({imported['generator']} generator)"
                  + (f" with {' '.join(imported['overrides'])}" if imported["overrides"] else ""), soft_wrap=True, highlight=False, markup=False)
    table = Table(title=f"{report['release']} under {report['fingerprint']}",
                  caption=f"comparable: {'yes' if report['comparable'] else 'no'}: {report['comparable_note']}")
    for col in ("metric", "published", "measured", "Δ", "within", "accepted ±", "source"):
        table.add_column(col, overflow="fold", justify="right" if col in ("published", "measured", "Δ", "accepted ±") else "left")
    for c in report["comparisons"]:
        published = f"{c['published']:g}" + (f" ± {c['error']:g}" if c["error"] is not None else "")
        measured = "–" if c["measured"] is None else f"{c['measured']:.4f}"
        table.add_row(c["metric"], published, measured, "–" if c["delta"] is None else f"{c['delta']:+.4f}",
                      {True: "yes", False: "NO", None: "–"}[c["within"]], f"{c['accepted']:g}", f"{c['source']} ({c['tolerance_basis']})")
    if not report["comparisons"]:
        for key, value in report["metrics"].items():
            table.add_row(key, "none published", f"{value:.4f}", "–", "–", "–", "")
    console.print(table)
    for note in imported["notes"]:
        console.print(f"import note: {note}", soft_wrap=True, highlight=False, markup=False)
    for warning in report["evaluation"]["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)


@app.command()
@user_errors
def compare(
    runs: List[Path] = typer.Argument(..., help="two or more run directories"),
    report: Path = typer.Option(Path("reports/compare"), "--report", help="folder of compare.md / compare.html"),
) -> None:
    """Side-by-side report of runs: config differences, metrics with fingerprints, curves and sample grids.

    Example: `gbench compare runs/transgan-s/smoke-1a2b3c4d runs/transgan-m/smoke-5e6f7a8b`
    """
    from gbench.io import ensure_writable_dir
    from gbench.report.compare import render_compare_report

    ensure_writable_dir(report, "--report")
    md, html = render_compare_report(runs, report)
    console.print(f"wrote {md} and {html}")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
