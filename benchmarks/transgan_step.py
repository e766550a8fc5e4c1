"""TransGAN training-step throughput: D step and G step images/s and peak memory, fused SDPA vs
explicit matmul-softmax attention (and on CUDA bf16 autocast and torch.compile), in one process.

    python benchmarks/transgan_step.py --experiment transgan-s --preset paper --device cuda --steps 10
    python benchmarks/transgan_step.py --preset smoke --device cpu        # a laptop-sized look

Prints a table and the speed-up ratios relative to the fused fp32 path. Same as `gbench bench EXP`.
"""

from __future__ import annotations

import argparse

from gbench.bench import bench_train_step, format_step_timings
from gbench.experiments import resolve_config
from gbench.distributed import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="transgan-s")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--set", action="append", default=[], help="config override, e.g. train.batch_size_d=32")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    device = resolve_device(args.device)
    cfg = resolve_config(args.experiment, args.preset, args.set)
    rows = bench_train_step(cfg, device, steps=args.steps, warmup=args.warmup)
    print(format_step_timings(cfg, device, rows), end="")

if __name__ == "__main__":
    main()
