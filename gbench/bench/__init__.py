"""Speed and memory benchmarks (`gbench bench`): training steps per experiment, and streaming evaluation vs
torch-fidelity. Figures are printed, never asserted by tests."""

from gbench.bench.eval_throughput import eval_throughput, print_throughput
from gbench.bench.train_step import bench_train_step, format_step_timings

__all__ = ["bench_train_step", "eval_throughput", "format_step_timings", "print_throughput", "run_benchmark_script"]


def run_benchmark_script(measure, show, json_path=None) -> int:
    """The shared end of a `benchmarks/` script: `measure()` -> figures, `show(figures, console)`, optionally the figures
    as JSON; a GBenchError is one red line and exit status 2."""
    import json

    from rich.console import Console

    from gbench.errors import GBenchError

    console = Console()
    try:
        result = measure(console)
    except GBenchError as exc:
        Console(stderr=True).print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        return 2
    show(result, console)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return 0
