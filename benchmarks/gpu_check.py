"""One script that shows the paper-scale fast path works on a device, and writes what it measured.

    python benchmarks/gpu_check.py                          # one CUDA device, about 8 minutes
    python benchmarks/gpu_check.py --device cpu --quick     # tiny settings on a CPU: the script's own smoke test

Writes reports/gpu/<device-name>/gpu_check.json and .md (`--out` changes the folder) and exits non-zero if anything
failed. Three parts, all offline (procedural data, a random-weight Inception file, the toy protocol):

1. Training steps, every experiment's paper preset (models at full size, the paper's batch; data: the smoke preset's
   procedural set at the paper's resolution, image-to-image fixtures in the official layouts;
   gbench.bench.train_step.paper_scale_config): `--warmup` 3 + `--steps` 5 D and G steps per variant: fp32 with
   fused SDPA, fp32 with explicit attention (TransGAN: the official numerics), bf16 autocast, bf16 + torch.compile.
   D and G images/s, peak memory, the hours the paper's step count would take at that speed (timed D and G steps
   only), and any failure in one line. TransGAN-S runs first with every variant (the speed target: bf16 + compile
   at least x5 the explicit-attention fp32 step), then the plain variants of the others, then their compile
   variants while `--budget-s` lasts (inductor needs about a minute per model); rows that did not fit say so and
   do not count as failures.
2. Evaluation: IS/FID/KID of 10k samples of a TransGAN-S generator (paper size, random init) through the real
   Inception architecture with random weights (gbench.bench.eval_throughput.write_random_inception): gbench's
   streaming evaluation vs torch-fidelity fed the same uint8 tensors, under the same conventions, images/s and peak
   memory of each; the metrics must agree (relative 1e-5 on CPU, 1e-4 on CUDA where the two tools' batches may take
   other convolution algorithms; KID also within 1e-6 absolute: torch-fidelity computes its kernels in float32).
3. `torchrun --nproc_per_node 1` of a 20-step TransGAN-S run (paper model, procedural data, toy protocol) stopped
   after step 10 and resumed by `torchrun ... -m gbench run` to the end, beside an uninterrupted run of the same
   command; the two final evaluations are reported (equal on CPU; on CUDA kernels may not be bitwise reproducible).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file from a checkout
    sys.path.insert(0, str(ROOT))

from gbench.bench.eval_throughput import stream_vs_torch_fidelity
from gbench.bench.train_step import failed_timing, paper_scale_config, step_variants, time_steps, write_image_fixtures
from gbench.config import apply_overrides
from gbench.distributed import resolve_device
from gbench.experiments import experiments, get_experiment, resolve_config
from gbench.paths import source_commit

COMPILE_RESERVE_S = 90  # a compile variant starts only with this much of the budget left (inductor: about a minute)
KID_FLOAT32_ROUNDOFF = 1e-6  # torch-fidelity's KID kernels are float32 (gbench's float64): absolute agreement floor
QUICK_EXPERIMENTS = ("transgan-s", "srresnet-x4")  # the GAN trainer with explicit attention and compile; another trainer
QUICK_SMALL = {  # smoke-size models for --quick
    "transgan-s": ["model.g_kwargs.embed_dim=32", "model.g_kwargs.latent_dim=16", "model.g_kwargs.depths=[1,1,1]",
                   "model.d_kwargs.embed_dim=32", "model.d_kwargs.depth=1", "train.batch_size_d=4", "train.batch_size_g=4",
                   "train.n_critic=1", "train.local_init=off", "train.co_train_sr=false"],
    "srresnet-x4": ["model.g_kwargs.g_channels=8", "model.g_kwargs.n_blocks=1", "train.batch_size_d=2", "train.batch_size_g=2",
                    "data.resolution=32"],
}
RESUME_RUN = {  # part 3: TransGAN-S, paper model and recipe, on procedural data under the toy protocol
    "full": ["data.dataset=shapes32", "data.size=2048", "data.flip=false", "eval.protocol=toy-shapes32", "eval.at_start=false", "train.steps=20",
             "train.checkpoint_every=10", "train.sample_every=0", "train.log_every=5"],
    "quick": ["data.dataset=shapes32", "data.size=64", "data.flip=false", "eval.protocol=toy-shapes32", "eval.at_start=false", "train.steps=4",
              "train.checkpoint_every=2", "train.sample_every=0", "train.log_every=1", *QUICK_SMALL["transgan-s"]],
}


def device_folder_name(device: torch.device) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu-{platform.machine()}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:240]


# ----------------------------------------------------------------------------- 1. training steps


def train_config(name: str, quick: bool, fixtures: Path):
    if quick:
        return apply_overrides(paper_scale_config(name, images=16, fixture_root=fixtures), QUICK_SMALL[name])
    cfg = paper_scale_config(name, images=4 * 128, fixture_root=fixtures)
    batch = max(cfg.train.batch_size_d, cfg.train.batch_size_g)
    return apply_overrides(cfg, {"data.size": max(4 * batch, 8)})


def check_training(names, device, *, quick: bool, warmup: int, steps: int, deadline: float, fixtures: Path) -> list[dict]:
    """Rows: experiment x variant, within the budget: every variant of the first experiment (TransGAN-S: the speed
    target), then the plain variants of the others, then their compile variants (about a minute each)."""
    rows: list = []  # jobs (and rows of configs that did not build)
    deferred = []  # compile variants of all but the first experiment
    for index, name in enumerate(names):
        exp = get_experiment(name)
        try:
            cfg = train_config(name, quick, fixtures)
            variants = step_variants(cfg, device, exp.task)
        except Exception as exc:  # a config that does not even build: one line, go on
            rows.append({"experiment": name, "variant": "config", "error": one_line(exc)})
            continue
        if quick and device.type == "cpu" and exp.task == "gan" and name == QUICK_EXPERIMENTS[0]:
            variants["bf16 + torch.compile"] = {"train.precision": "bf16", "train.compile": True}  # the CPU check of the path
        for label, overrides in variants.items():
            job = (name, exp, cfg, label, overrides)
            (deferred if overrides.get("train.compile") and index > 0 else rows).append(job)
    done = []
    for job in rows + deferred:
        if isinstance(job, dict):
            done.append(job)
            continue
        name, exp, cfg, label, overrides = job
        row = {"experiment": name, "task": exp.task, "variant": label, "batch_d": cfg.train.batch_size_d, "batch_g": cfg.train.batch_size_g,
               "n_critic": cfg.train.n_critic, "paper_steps": exp.config("paper").train.steps}
        if time.monotonic() > deadline - (COMPILE_RESERVE_S if overrides.get("train.compile") and not quick else 0):
            done.append({**row, "skipped": "not timed: the time budget was spent (--budget-s; compile variants run last)"})
            continue
        torch._dynamo.reset()
        started = time.monotonic()
        try:
            timing = time_steps(apply_overrides(cfg, overrides), device, steps=steps, warmup=warmup, label=label, task=exp.task)
        except Exception as exc:
            timing = failed_timing(label, exc)
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        row.update(d_img_per_s=timing.d_img_per_s, g_img_per_s=timing.g_img_per_s, peak_memory_mb=timing.peak_memory_mb,
                   step_s=timing.step_s, wall_s=round(time.monotonic() - started, 1))
        if timing.error:
            row["error"] = timing.error
        elif math.isfinite(timing.step_s):
            row["projected_hours"] = timing.step_s * row["paper_steps"] / 3600
        done.append(row)
        print(f"  {name:24s} {label:26s} " + (f"failed: {row['error']}" if "error" in row else
              f"D {row['d_img_per_s']:9.1f} img/s  G {row['g_img_per_s']:9.1f} img/s  {row['peak_memory_mb']:8.0f} MB  "
              f"{row.get('projected_hours', float('nan')):8.1f} h"), flush=True)
    return done


# ----------------------------------------------------------------------------- 2. evaluation


def check_evaluation(device, *, quick: bool) -> dict:
    from gbench.models import build_models

    cfg = resolve_config("transgan-s", "paper", QUICK_SMALL["transgan-s"] if quick else [])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = build_models(cfg)[0]
    n, batch = (24, 12) if quick else (10_000, 250)
    result = stream_vs_torch_fidelity(G, "cifar10-10k", n=n, batch_size=batch, device=str(device), random_weights=True,
                                      kid_subset_size=n // 2 if quick else None)
    result["tolerance"] = tolerance = 1e-4 if device.type == "cuda" else 1e-5
    differ = [k for k, (ours, theirs) in result["metrics"].items()
              if result["relative_difference"][k] > tolerance and not (k.startswith("kid") and abs(ours - theirs) <= KID_FLOAT32_ROUNDOFF)]
    result["equal"] = not differ
    if differ:
        result["error"] = "gbench and torch-fidelity disagree on " + ", ".join(
            f"{k} (relative {result['relative_difference'][k]:.1e})" for k in differ) + f" beyond {tolerance:g}"
    return result


# ----------------------------------------------------------------------------- 3. torchrun with a resume


def _torchrun(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    torchrun = shutil.which("torchrun") or ""
    head = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    return subprocess.run([*head, "--nproc_per_node", "1", *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def check_torchrun(device, *, quick: bool, workdir: Path, timeout: float = 300) -> dict:
    """Stop a run after half its steps (this script as the torchrun worker, `--resume-worker`), finish it with
    `torchrun -m gbench run`, and run the same command uninterrupted elsewhere."""
    from gbench.runs import run_dir_for

    sets = RESUME_RUN["quick" if quick else "full"]
    cfg = resolve_config("transgan-s", "paper", sets)
    half = cfg.train.steps // 2
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    gbench_args = ["-m", "gbench", "run", "transgan-s", "--device", device.type, *[a for s in sets for a in ("--set", s)]]
    out = {"config_hash": cfg.hash()[:8], "steps": cfg.train.steps, "stopped_after": half}
    started = time.monotonic()
    stopped = _torchrun([str(Path(__file__).resolve()), "--resume-worker", str(workdir / "resumed"), "--device", device.type,
                         "--stop-after", str(half), *("--quick",) * quick], env, timeout)
    if stopped.returncode != 0:
        return {**out, "error": f"stopped run failed (exit {stopped.returncode}): {stopped.stderr.strip()[-400:]}"}
    resumed = _torchrun([*gbench_args, "--out", str(workdir / "resumed")], env, timeout)
    straight = _torchrun([*gbench_args, "--out", str(workdir / "straight")], env, timeout)
    out["wall_s"] = round(time.monotonic() - started, 1)
    for label, proc in (("resumed", resumed), ("uninterrupted", straight)):
        if proc.returncode != 0:
            return {**out, "error": f"{label} torchrun failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}"}
    if "resumed" not in resumed.stdout:
        return {**out, "error": "the second torchrun did not resume from the checkpoint"}
    finals = {}
    for label in ("resumed", "straight"):
        data = json.loads((run_dir_for(cfg, workdir / label) / "eval.json").read_text())
        finals[label] = {"step": data["final"]["step"], "metrics": data["final"]["metrics"], "world_size": data["world_size"]}
    out.update(final=finals, equal=finals["resumed"]["metrics"] == finals["straight"]["metrics"])
    if finals["resumed"]["step"] != cfg.train.steps:
        out["error"] = f"the resumed run ended at step {finals['resumed']['step']}, not {cfg.train.steps}"
    elif device.type == "cpu" and not out["equal"]:
        out["error"] = "on CPU the resumed run must end with the uninterrupted run's figures"
    return out


def resume_worker(out: str, device: str, stop_after: int, quick: bool) -> None:
    """Under torchrun: the part-3 run, returning after `stop_after` G steps (a checkpoint is written there)."""
    from gbench import distributed
    from gbench.runs import run_experiment

    cfg = resolve_config("transgan-s", "paper", RESUME_RUN["quick" if quick else "full"])
    run_experiment(cfg, out=out, device=device, stop_after=stop_after)
    distributed.destroy()


# ----------------------------------------------------------------------------- report


def render_markdown(report: dict) -> str:
    lines = [f"# gbench GPU check: {report['device_name']}", "",
             f"{report['started']}, torch {report['versions']['torch']}, CUDA {report['versions']['cuda']}, commit `{report['git_commit'][:10]}`; "
             f"{'QUICK (tiny settings), ' if report['quick'] else ''}{report['wall_s']:.0f} s in all; "
             f"{'**all checks passed**' if report['ok'] else '**FAILED: ' + '; '.join(report['failures']) + '**'}.", "",
             "## Training steps (" + ("QUICK: smoke-size models" if report["quick"] else "paper presets, models at full size, the paper's batch")
             + ", procedural data)", "",
             "| experiment | variant | batch D/G | D img/s | G img/s | peak MB | h to paper steps | note |", "|---|---|---|---|---|---|---|---|"]

    def num(value, fmt):
        return "" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, fmt)

    for r in report["training"]:
        note = r.get("error") or r.get("skipped") or ""
        lines.append(f"| {r['experiment']} | {r.get('variant', '')} | {r.get('batch_d', '')}/{r.get('batch_g', '')} | "
                     f"{num(r.get('d_img_per_s'), '.1f')} | {num(r.get('g_img_per_s'), '.1f')} | {num(r.get('peak_memory_mb'), '.0f')} | "
                     f"{num(r.get('projected_hours'), '.1f')} | {note} |")
    lines += ["", "Image-to-image and super-resolution trainers time their whole step (both columns); they have no "
              "bf16 / compile switch. Hours: timed D and G steps only (no EMA, logging, evaluation).", ""]
    ratios = report.get("ratios") or {}
    for name, ratio in ratios.items():
        lines.append(f"- {name}: bf16 + compile vs explicit-attention fp32, whole step: x{ratio:.2f} (target x5 for transgan-s)")
    e = report.get("evaluation") or {}
    lines += ["", "## Evaluation: gbench streaming vs torch-fidelity on the same uint8 tensors", ""]
    if "phases" in e:
        lines += [f"{e['n']} samples of a random-init TransGAN-S, Inception architecture with RANDOM weights (timing and agreement only), "
                  f"reference {e['bench_protocol']['reference']}/{e['bench_protocol']['reference_split']} "
                  f"{'(stand-in: ' + e['reference_stand_in'] + ')' if e['reference_stand_in'] else ''}, cached on both sides.", "",
                  "| path | seconds | images/s | peak CUDA +MiB | peak host RSS +MiB |", "|---|---|---|---|---|"]
        for key, phase in e["phases"].items():
            lines.append(f"| {key} | {phase['seconds']:.2f} | {e['n'] / phase['seconds']:.1f} | {num(phase['cuda_peak_mib'], '.0f')} | "
                         f"{num(phase['rss_peak_mib'], '.0f')} |")
        lines += ["", "| metric | gbench | torch-fidelity | relative difference |", "|---|---|---|---|"]
        for key, (ours, theirs) in e["metrics"].items():
            lines.append(f"| {key} | {ours:.8g} | {theirs:.8g} | {e['relative_difference'][key]:.1e} |")
        lines.append("")
        lines.append(f"Agreement within {e['tolerance']:g}: {'yes' if e.get('equal') else 'NO'}.")
    if e.get("error"):
        lines.append(f"Failure: {e['error']}")
    t = report.get("torchrun") or {}
    lines += ["", "## torchrun --nproc_per_node 1: a TransGAN-S run stopped and resumed", ""]
    if "final" in t:
        lines.append(f"{t['steps']} steps, stopped after {t['stopped_after']}, resumed by `torchrun -m gbench run` ({t['wall_s']} s for the "
                     f"three runs). Final metrics resumed {t['final']['resumed']['metrics']} vs uninterrupted "
                     f"{t['final']['straight']['metrics']}: {'equal' if t['equal'] else 'different (CUDA kernels need not be bitwise reproducible)'}.")
    if t.get("error"):
        lines.append(f"Failure: {t['error']}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny models and sample counts (the CPU check of this script)")
    parser.add_argument("--experiments", default="", help="comma-separated experiments (default: all; --quick: transgan-s,srresnet-x4)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps per variant (default 3; --quick 1)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 5; --quick 1)")
    parser.add_argument("--budget-s", type=float, default=330.0, help="seconds for part 1; compile variants that do not fit are skipped")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend of the compile variants (tests: aot_eager)")
    parser.add_argument("--out", default=str(ROOT / "reports" / "gpu"), help="reports go to OUT/<device-name>/")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: train, eval, torchrun")
    parser.add_argument("--resume-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--stop-after", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.resume_worker:
        resume_worker(args.resume_worker, args.device, args.stop_after, args.quick)
        return 0

    from gbench.train import gan

    device = resolve_device(args.device)
    gan.COMPILE_BACKEND = args.compile_backend
    names = [n for n in args.experiments.split(",") if n] or (list(QUICK_EXPERIMENTS) if args.quick else
                                                             ["transgan-s", *sorted(set(experiments()) - {"transgan-s"})])
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    steps = args.steps if args.steps is not None else (1 if args.quick else 5)
    skip = {s for s in args.skip.split(",") if s}
    started, wall = time.strftime("%Y-%m-%d %H:%M:%S"), time.monotonic()
    report = {"device_name": device_folder_name(device), "device": str(device), "started": started, "quick": args.quick,
              "git_commit": source_commit(), "compile_backend": args.compile_backend, "warmup": warmup, "steps": steps,
              "versions": {"torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version()},
              "training": [], "evaluation": None, "torchrun": None}
    with tempfile.TemporaryDirectory(prefix="gbench-gpu-check-") as tmp:
        tmp = Path(tmp)
        if "train" not in skip:
            print(f"1. training steps: {len(names)} experiments on {device}", flush=True)
            report["training"] = check_training(names, device, quick=args.quick, warmup=warmup, steps=steps,
                                                deadline=time.monotonic() + args.budget_s, fixtures=write_image_fixtures(tmp / "fixtures"))
        if "eval" not in skip:
            print("2. evaluation: gbench streaming vs torch-fidelity", flush=True)
            try:
                report["evaluation"] = check_evaluation(device, quick=args.quick)
            except Exception as exc:
                report["evaluation"] = {"error": one_line(exc), "traceback": traceback.format_exc()[-2000:]}
        if "torchrun" not in skip:
            print("3. torchrun --nproc_per_node 1, stopped and resumed", flush=True)
            try:
                report["torchrun"] = check_torchrun(device, quick=args.quick, workdir=tmp / "runs")
            except Exception as exc:
                report["torchrun"] = {"error": one_line(exc)}
    rows = {(r["experiment"], r.get("variant")): r for r in report["training"]}
    report["ratios"] = {}
    for name in names:
        explicit, fast = rows.get((name, "fp32 explicit attention")), rows.get((name, "bf16 + torch.compile"))
        if explicit and fast and explicit.get("step_s") and fast.get("step_s") and math.isfinite(fast["step_s"]):
            report["ratios"][name] = explicit["step_s"] / fast["step_s"]
    failures = [f"{r['experiment']} / {r.get('variant')}: {r['error']}" for r in report["training"] if r.get("error")]
    failures += [f"{part}: {report[part]['error']}" for part in ("evaluation", "torchrun") if report[part] and report[part].get("error")]
    report.update(ok=not failures, failures=failures, wall_s=time.monotonic() - wall)
    folder = Path(args.out) / report["device_name"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (folder / "gpu_check.md").write_text(render_markdown(report))
    print(f"{'ok' if report['ok'] else 'FAILED'}: {folder / 'gpu_check.md'} ({report['wall_s']:.0f} s)")
    for line in failures:
        print(f"  failed: {line}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    from gbench.errors import GBenchError

    try:
        sys.exit(main())
    except GBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
