"""DDP training with 2 CPU processes on gloo (torchrun): ranks stay in sync, rank 0 writes, every rank's RNG is saved."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import torch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args, tmp_path, timeout=300):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


SETS = ["data.size=256", "train.steps=4", "train.checkpoint_every=2", "eval.at_start=false", "train.sample_every=0",
        "model.g_kwargs.embed_dim=32", "model.d_kwargs.embed_dim=32", "model.d_kwargs.depth=1"]


def test_ranks_stay_in_sync_and_split_the_batch(tmp_path):
    script = tmp_path / "ddp_check.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys, torch
        from gbench import distributed as dist
        from gbench.experiments import resolve_config
        from gbench.io import sha256_state_dict
        from gbench.train.gan import GANTrainer, StepLog
        rank, world = dist.init_from_env("cpu")
        torch.manual_seed(0)
        cfg = resolve_config("transgan-s", "smoke", {SETS!r})
        trainer = GANTrainer(cfg, torch.device("cpu"), rank=rank, world_size=world)
        torch.manual_seed(1 + rank)  # different noise per rank, as the run loop does
        log = StepLog()
        for _ in range(2):
            trainer.train_step(log)
        hashes = dist.all_gather_object([sha256_state_dict(trainer.G.state_dict()), sha256_state_dict(trainer.D.state_dict()),
                                         sha256_state_dict(trainer.ema.model.state_dict())])
        share = len(trainer.sampler.next_indices())
        if rank == 0:
            json.dump({{"hashes": hashes, "share": share, "world": world}}, open(sys.argv[1], "w"))
        dist.destroy()
    """))
    done = _torchrun([str(script), str(tmp_path / "out.json")], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["world"] == 2
    assert out["hashes"][0] == out["hashes"][1]  # G, D and EMA identical on both ranks after two steps
    assert out["share"] == 16 // 2  # each rank takes half of the global D batch


def test_gbench_run_under_torchrun_writes_once_and_checkpoints_every_rank(tmp_path):
    args = ["-m", "gbench", "run", "transgan-s", "--preset", "smoke", "--device", "cpu", "--out", str(tmp_path / "runs")]
    for s in SETS:
        args += ["--set", s]
    done = _torchrun(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = next((tmp_path / "runs" / "transgan-s").iterdir())
    ev = json.loads((run_dir / "eval.json").read_text())
    assert ev["world_size"] == 2 and ev["final"]["step"] == 4
    state = torch.load(sorted((run_dir / "checkpoints").glob("*.pt"))[-1], weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])  # each rank has its own noise stream
    assert done.stdout.count("done ") == 1  # only rank 0 prints
