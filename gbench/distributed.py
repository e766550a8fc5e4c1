"""Small helpers for running under `torchrun` (one process per device), shared by evaluation and training.

`torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `init_from_env()` reads them and
starts the default process group (NCCL when the processes use CUDA, gloo on the CPU). Without those
variables everything here is the single-process no-op: rank 0 of a world of 1, gathers return `[obj]`,
barriers return at once. So library code calls these helpers unconditionally.

Processes started by another launcher are read the same way: inside a Slurm step (`srun`, which is how
submitit's Slurm executor starts the tasks of a job, one per GPU) and under submitit's local executor,
`launcher_variables()` translates the launcher's variables (SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID,
the first host of the step's node list; SUBMITIT_LOCAL_*) into torchrun's names before the group starts.
torchrun's own variables always win, and a Slurm batch script that is not an `srun` step stays one process.

Gathers return per-rank lists in rank order; callers that need a data order other than rank order (the
evaluation's z stream) tag their pieces and sort, so results never depend on the world size.
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist

from gbench.errors import GBenchError, UsageError

TIMEOUT = datetime.timedelta(minutes=60)  # the main rank may compute reference statistics while the others wait


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but torch sees no CUDA device (use --device cpu or auto)")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda[:N], not {name!r}")
    return torch.device(name)


def env_world_size() -> int:
    """WORLD_SIZE as torchrun sets it (1 when absent)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise GBenchError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not an integer") from None


MASTER_PORT_BASE = 20000  # a job's rendezvous port is MASTER_PORT_BASE + job id % 10000 (below Linux's ephemeral range)


def first_host(nodelist: str) -> str:
    """The first host name of a Slurm node list: "gpu[007-009,012],cpu1" -> "gpu007"."""
    head, depth = "", 0
    for char in nodelist.strip():
        if char == "," and depth == 0:
            break
        depth += {"[": 1, "]": -1}.get(char, 0)
        head += char
    if "[" not in head:
        return head
    prefix, _, rest = head.partition("[")
    ranges, _, suffix = rest.partition("]")
    return prefix + ranges.split(",")[0].split("-")[0] + suffix


def launcher_variables(environ=None) -> dict[str, str]:
    """torchrun's variables for a process that Slurm (inside an `srun` step) or submitit's local executor started.

    Empty when torchrun's WORLD_SIZE is already set, or when neither launcher started this process. MASTER_ADDR
    is the step's first host (127.0.0.1 locally); MASTER_PORT is derived from the job id, so every task of a job
    agrees without talking; both keep a value the user exported. A Slurm batch script outside `srun` has no
    SLURM_STEP_NUM_TASKS and stays a single process even when the allocation has several tasks.
    """
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" in env:
        return {}
    if env.get("SLURM_STEP_NUM_TASKS") and env.get("SLURM_PROCID"):
        found = {"RANK": env["SLURM_PROCID"], "WORLD_SIZE": env["SLURM_STEP_NUM_TASKS"], "LOCAL_RANK": env.get("SLURM_LOCALID", "0")}
        host, job = first_host(env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST") or "127.0.0.1"), env.get("SLURM_JOB_ID", "")
    elif env.get("SUBMITIT_EXECUTOR") == "local" and env.get("SUBMITIT_LOCAL_GLOBALID"):
        found = {"RANK": env["SUBMITIT_LOCAL_GLOBALID"], "WORLD_SIZE": env.get("SUBMITIT_LOCAL_NTASKS", "1"),
                 "LOCAL_RANK": env.get("SUBMITIT_LOCAL_LOCALID", "0")}
        host, job = "127.0.0.1", env.get("SUBMITIT_LOCAL_JOB_ID", "")
    else:
        return {}
    job_number = int("".join(c for c in job if c.isdigit()) or 0)
    return {**found, "MASTER_ADDR": env.get("MASTER_ADDR", host),
            "MASTER_PORT": env.get("MASTER_PORT", str(MASTER_PORT_BASE + job_number % 10000))}


def init_from_env(device: str | torch.device | None = None) -> tuple[int, int]:
    """Join the process group that torchrun (or Slurm / submitit, see `launcher_variables`) describes in the
    environment; returns (rank, world_size).

    No-op when WORLD_SIZE is absent or 1, or when a group already exists. `device`: "cuda" (or a CUDA
    device) selects NCCL and pins this process to its local GPU; anything else selects gloo.
    """
    if dist.is_available() and dist.is_initialized():
        return rank(), world_size()
    os.environ.update(launcher_variables())  # torchrun's names from here on, for every helper below
    if env_world_size() <= 1:
        return 0, 1
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise GBenchError(f"WORLD_SIZE is {env_world_size()} but {', '.join(missing)} is not set; launch with `torchrun --nproc_per_node N ...`")
    use_cuda = device is not None and torch.device(device).type == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_cuda_index())
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=TIMEOUT)
    return rank(), world_size()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def local_cuda_index() -> int:
    """This process's GPU: cuda:LOCAL_RANK when the node's GPUs are all visible, cuda:0 when the scheduler shows each
    task only its own GPU (e.g. Slurm with --gpus-per-task or GPU binding)."""
    count = torch.cuda.device_count()
    if count == 1:
        return 0
    if local_rank() >= count:
        raise GBenchError(f"local rank {local_rank()} but this process sees {count} GPU(s): start one process per GPU")
    return local_rank()


def is_main() -> bool:
    """True on rank 0 (the rank that writes files and prints)."""
    return rank() == 0


def device_for_rank(device: str | torch.device) -> torch.device:
    """`cuda` becomes this process's GPU (`local_cuda_index`) in a process group; other devices are returned as they are."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and is_distributed():
        return torch.device("cuda", local_cuda_index())
    return device


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Rank `src`'s buffers (BatchNorm running statistics, StyleGAN2's w_avg, ...) in `module` on every rank.

    Gradient averaging keeps parameters equal across ranks, but running buffers follow each rank's own batches; a
    checkpoint holds rank 0's. Evaluating with rank 0's buffers makes a sharded evaluation a function of the checkpoint.
    """
    if not is_distributed():
        return
    for buffer in module.buffers():
        home = buffer.device
        synced = buffer.detach().to(communication_device())
        dist.broadcast(synced, src=src)
        buffer.data.copy_(synced.to(home))


def any_rank(flag: bool) -> bool:
    """True on every rank when `flag` is true on at least one (one scalar all-reduce; just `flag` in one process)."""
    if not is_distributed():
        return bool(flag)
    box = torch.tensor([1.0 if flag else 0.0], device=communication_device())
    dist.all_reduce(box, op=dist.ReduceOp.MAX)
    return bool(box.item() > 0)


def all_gather_object(obj) -> list:
    """Every rank's `obj` (picklable), in rank order, on every rank."""
    if not is_distributed():
        return [obj]
    gathered = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj, src: int = 0):
    """Rank `src`'s `obj` on every rank (the other ranks' argument is ignored)."""
    if not is_distributed():
        return obj
    box = [obj if rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def communication_device() -> torch.device:
    """Where tensors must live for collectives: this rank's CUDA device under NCCL, else the CPU."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_gather_tensors(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's tensor (sizes along dim 0 may differ; other dims must agree), in rank order.

    Pads to the largest first dimension for the collective and trims afterwards; the pieces come back
    on `tensor`'s device (the collective itself runs on `communication_device()`).
    """
    if not is_distributed():
        return [tensor]
    home, tensor = tensor.device, tensor.to(communication_device())
    sizes = [int(n) for n in all_gather_object(int(tensor.shape[0]))]
    padded = torch.zeros((max(sizes), *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    padded[: tensor.shape[0]] = tensor
    slots = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(slots, padded)
    return [slot[:n].to(home) for slot, n in zip(slots, sizes)]


def main_first(fn, *args, **kwargs):
    """Run `fn` on the main rank only and share its outcome: its return value on every rank, or its
    GBenchError raised on every rank (so the others do not wait forever for a rank that failed)."""
    if not is_distributed():
        return fn(*args, **kwargs)
    outcome, failure = None, None
    if is_main():
        try:
            outcome = ("ok", fn(*args, **kwargs))
        except GBenchError as exc:
            outcome, failure = ("error", str(exc)), exc
        except Exception as exc:  # a crash on the main rank: tell the others, then raise it here with its traceback
            outcome, failure = ("crash", f"rank 0 failed: {type(exc).__name__}: {exc}"), exc
    outcome = broadcast_object(outcome)
    if failure is not None:
        raise failure
    if outcome[0] == "error":
        raise GBenchError(outcome[1])
    if outcome[0] == "crash":
        raise RuntimeError(outcome[1])
    return outcome[1]


def destroy() -> None:
    """Leave the process group at the end of a torchrun script.

    Every rank first waits at a barrier: a rank that exits while a peer still talks to it makes gloo's worker threads
    abort the process ("terminate called without an active exception").
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
