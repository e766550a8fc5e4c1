"""How fast the CLI answers: wall seconds of the commands a user types first, each in a fresh process.

    python benchmarks/cli_startup.py [--repeat 3]

Prints the median over `--repeat` runs per command. The target (issue 14) is well under 2 s for `--help`,
`models` (parameter counts cached after the first call), `protocols`, a config error and `leaderboard`.
Run it on a quiet machine: other processes on the cores move these figures a lot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = [
    ("gbench --help", ["--help"]),
    ("gbench models (counts cached)", ["models"]),
    ("gbench protocols", ["protocols"]),
    ("gbench protocols cifar10-50k", ["protocols", "cifar10-50k"]),
    ("config error (train.lr_g=-1)", ["run", "dcgan", "--set", "train.lr_g=-1"]),
    ("unknown experiment", ["run", "dcgn"]),
    ("model kwarg error (needs torch)", ["run", "transgan-s", "--preset", "smoke", "--set", "model.g_kwargs.g_channels=32"]),
    ("gbench leaderboard", ["leaderboard"]),
    ("gbench leaderboard cifar10", ["leaderboard", "cifar10"]),
]


def time_command(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gbench", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GBENCH_HOME": os.environ.get("GBENCH_HOME", home)}
        time_command(["models"], env)  # fills the parameter-count cache, as a user's first `gbench models` does
        print(f"{'command':40s} median s (of {args.repeat})")
        for label, command in COMMANDS:
            seconds = [time_command(command, env) for _ in range(args.repeat)]
            print(f"{label:40s} {statistics.median(seconds):6.2f}")


if __name__ == "__main__":
    main()
