"""Small helpers for running under `torchrun` (one process per device), shared by evaluation and training.

`torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `init_from_env()` reads them and
starts the default process group (NCCL when the processes use CUDA, gloo on the CPU). Without those
variables everything here is the single-process no-op: rank 0 of a world of 1, gathers return `[obj]`,
barriers return at once. So library code calls these helpers unconditionally.

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


def init_from_env(device: str | torch.device | None = None) -> tuple[int, int]:
    """Join the process group that torchrun describes in the environment; returns (rank, world_size).

    No-op when WORLD_SIZE is absent or 1, or when a group already exists. `device`: "cuda" (or a CUDA
    device) selects NCCL and pins this process to cuda:LOCAL_RANK; anything else selects gloo.
    """
    if dist.is_available() and dist.is_initialized():
        return rank(), world_size()
    if env_world_size() <= 1:
        return 0, 1
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise GBenchError(f"WORLD_SIZE is {env_world_size()} but {', '.join(missing)} is not set; launch with `torchrun --nproc_per_node N ...`")
    use_cuda = device is not None and torch.device(device).type == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_rank())
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


def is_main() -> bool:
    """True on rank 0 (the rank that writes files and prints)."""
    return rank() == 0


def device_for_rank(device: str | torch.device) -> torch.device:
    """`cuda` becomes `cuda:LOCAL_RANK` under torchrun; other devices are returned as they are."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and is_distributed():
        return torch.device("cuda", local_rank())
    return device


def barrier() -> None:
    if is_distributed():
        dist.barrier()


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
