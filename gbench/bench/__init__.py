"""Speed and memory benchmarks (`gbench bench`): training steps per experiment, and streaming evaluation vs
torch-fidelity. Figures are printed, never asserted by tests."""

from gbench.bench.eval_throughput import eval_throughput, print_throughput
from gbench.bench.train_step import bench_train_step, format_step_timings

__all__ = ["bench_train_step", "eval_throughput", "format_step_timings", "print_throughput"]
