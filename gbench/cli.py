"""The `gbench` command line: thin commands that parse, call one library function, and print.

User errors (unknown names, bad overrides, missing data or weights, NaN outputs) print one line
and exit with status 2, no traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from gbench.errors import GBenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                  help="gbench: train faithful reference GANs, evaluate them under fingerprinted protocols, reproduce paper tables.\n\n"
                       "Start with `gbench run dcgan --preset smoke` (CPU, offline, under a minute).")
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

    table = Table(title="gbench experiments", show_lines=False)
    for col in ("experiment", "model", "G params", "D params", "paper data / protocol", "presets"):
        table.add_column(col, no_wrap=col != "model")
    for exp in experiments().values():
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
    table = Table(title="gbench protocols")
    for col in ("id", "extractor", "reference", "n_gen", "n_ref", "metrics", "description"):
        table.add_column(col, no_wrap=col != "description")
    for p in PROTOCOLS.values():
        table.add_row(p.id, p.extractor, f"{p.reference}/{p.reference_split}", str(p.n_gen), str(p.n_ref or "all"),
                      ",".join(p.metrics), p.description)
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
    from gbench.experiments import resolve_config, run_experiment

    cfg = resolve_config(experiment, preset, set_, seed)
    run_experiment(cfg, out=out, device=device, console=console)


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


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
