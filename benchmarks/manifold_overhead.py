"""k-NN metrics overhead benchmark (not a test): what precision/recall/density/coverage add to an evaluation's time and memory.

See gbench/bench/manifold_overhead.py for what is timed. Prints the seconds and peak memory of a base evaluation, its
`+pr` variant, the k-NN metrics alone and the one-off reference radii, and the overhead in percent.

    python benchmarks/manifold_overhead.py                          # toy protocol, 50k vs 50k, CPU
    python benchmarks/manifold_overhead.py --n 10000 --repeats 3
    python benchmarks/manifold_overhead.py --protocol cifar10-50k --device cuda    # needs CIFAR-10 and the Inception weights
"""

from __future__ import annotations

import argparse
import sys

from gbench.bench import run_benchmark_script
from gbench.bench.manifold_overhead import manifold_overhead, print_overhead


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="toy-shapes32", help="base protocol; its +pr variant is derived as the registered ones")
    parser.add_argument("--n", type=int, default=50_000, help="generated images")
    parser.add_argument("--n-ref", type=int, default=None, help="reference images (default: --n)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--batch-size", type=int, default=500, help="images per generator/extractor batch")
    parser.add_argument("--experiment", default=None, help="experiment whose (randomly initialised) generator is timed; default dcgan")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of base / +pr / k-NN alone; the fastest of each is reported")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    return run_benchmark_script(lambda console: manifold_overhead(args.protocol, n=args.n, n_ref=args.n_ref, device=args.device,
                                                                  batch_size=args.batch_size, experiment=args.experiment,
                                                                  repeats=args.repeats, console=console),
                                print_overhead, args.json)


if __name__ == "__main__":
    sys.exit(main())
