"""TransGAN training-step throughput: D step and G step images/s and peak memory, fused SDPA vs
explicit matmul-softmax attention (and on CUDA bf16 autocast and torch.compile), in one process.

    python benchmarks/transgan_step.py --experiment transgan-s --preset paper --device cuda --steps 10
    python benchmarks/transgan_step.py --preset smoke --device cpu        # a laptop-sized look

Prints a table and the speed-up ratios relative to the fused fp32 path. Same as `gbench bench EXP`.
"""

from __future__ import annotations

import argparse
import math

from gbench.bench import bench_train_step
from gbench.experiments import resolve_config
from gbench.train.run import resolve_device


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
    base = rows[0]
    print(f"{args.experiment} ({args.preset}) on {device}: D batch {cfg.train.batch_size_d}, G batch {cfg.train.batch_size_g}, "
          f"loss {cfg.train.loss}, augment {cfg.train.augment}, MT-CT {cfg.train.co_train_sr}, local init {cfg.train.local_init or 'model default'}")
    print(f"{'variant':28s} {'D img/s':>10s} {'G img/s':>10s} {'peak MB':>10s} {'D x':>6s} {'G x':>6s}")
    for r in rows:
        if r.error:
            print(f"{r.variant:28s} failed: {r.error}")
            continue
        dx, gx = base.d_img_per_s / r.d_img_per_s, base.g_img_per_s / r.g_img_per_s
        print(f"{r.variant:28s} {r.d_img_per_s:10.1f} {r.g_img_per_s:10.1f} {r.peak_memory_mb:10.0f} {1 / dx:6.2f} {1 / gx:6.2f}")
    explicit = next((r for r in rows if "explicit" in r.variant and not r.error), None)
    if explicit and not math.isnan(explicit.d_img_per_s):
        print(f"fused SDPA speed-up over explicit attention: D step x{base.d_img_per_s / explicit.d_img_per_s:.2f}, "
              f"G step x{base.g_img_per_s / explicit.g_img_per_s:.2f}")


if __name__ == "__main__":
    main()
