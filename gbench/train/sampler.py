"""Resumable data order over an in-memory ImageSet.

Each epoch is a permutation drawn from a generator seeded by (seed, epoch); the position is
(epoch, offset). Batches that would straddle an epoch end are dropped (drop_last), so every batch
has the configured size. The state is two integers, saved in every checkpoint.
Under DDP each rank takes a rank-strided slice of the same global batch.
"""

from __future__ import annotations

import torch

from gbench.data.base import ImageSet


class EpochSampler:
    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} is larger than the dataset ({n} images)")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.offset = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))

    def next_indices(self) -> torch.Tensor:
        """Indices of the next global batch (this rank's strided share of it)."""
        if self.offset + self.batch_size > self.n:
            self.epoch, self.offset = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)
        idx = self._order[self.offset : self.offset + self.batch_size]
        self.offset += self.batch_size
        return idx[self.rank :: self.world_size]

    @property
    def data_epoch(self) -> float:
        """Fractional epochs consumed, e.g. 21.5 (drives TransGAN's locality schedule)."""
        return self.epoch + self.offset / self.n

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.offset, self.seed = state["epoch"], state["offset"], state["seed"]
        self._order = self._permutation(self.epoch)


def real_batch(data: ImageSet, idx: torch.Tensor, device, *, flip: bool = False, dequantize: bool = False):
    """uint8 images at `idx` -> floats in [-1, 1] on `device` (+ labels); flips/dequantization use the global RNG."""
    x = data.images[idx].to(device, non_blocking=True).float().div_(127.5).sub_(1)
    if flip:
        mask = torch.rand(x.shape[0], device=device) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(-1), x)
    if dequantize:
        x = x + torch.rand_like(x) / 128
    y = data.labels[idx].to(device) if data.labels is not None else None
    return x, y
