"""Evaluation throughput benchmark (not a test): gbench's streaming path vs torch-fidelity on a PNG folder.

Same as `gbench bench --eval`; see gbench/bench/eval_throughput.py for what is timed and how memory is
measured. Prints images/s and peak memory of each path and the ratios, and optionally writes the
figures as JSON.

    python benchmarks/eval_throughput.py --n 2000                                  # toy protocol, CPU ok
    python benchmarks/eval_throughput.py --protocol cifar10-50k --n 10000 --device cuda
    python benchmarks/eval_throughput.py --protocol cifar10-10k --random-weights --n 256   # timing only
"""

from __future__ import annotations

import argparse
import sys

from gbench.bench import run_benchmark_script
from gbench.bench.eval_throughput import eval_throughput, print_throughput


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="toy-shapes32", help="protocol whose extractor and metrics are timed")
    parser.add_argument("--n", type=int, default=1000, help="generated images per timed run")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch, the same for both tools")
    parser.add_argument("--experiment", default=None, help="experiment whose (randomly initialised) generator is timed; default dcgan")
    parser.add_argument("--random-weights", action="store_true", help="random He-init Inception weights: timing only, not a metric")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    return run_benchmark_script(lambda console: eval_throughput(args.protocol, n=args.n, device=args.device, batch_size=args.batch_size,
                                                                experiment=args.experiment, random_weights=args.random_weights,
                                                                console=console),
                                print_throughput, args.json)


if __name__ == "__main__":
    sys.exit(main())
