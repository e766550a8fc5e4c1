"""The in-memory image set every loader returns.

Images are kept as one uint8 tensor (N, C, H, W): CIFAR-10 is 150 MB, STL-10 at 48x48 is 0.7 GB.
Holding them in memory makes batching a tensor index (no Python loop over samples) and makes the
data-order position of a run two integers (epoch, offset), which is what full-state resume needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8, (N, C, H, W)
    labels: torch.Tensor | None = None  # int64, (N,), or None for unlabelled sets
    name: str = ""
    checksum: str = ""  # identifies the exact content (archive md5/sha or a hash of the generator's settings)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"ImageSet {self.name!r}: images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(f"ImageSet {self.name!r}: {len(self.labels)} labels for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return 0 if self.labels is None else int(self.labels.max()) + 1

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])


def dataset_level(images_uint8: torch.Tensor, factor: int) -> torch.Tensor:
    """A lower resolution as StyleGAN's / Progressive GAN's dataset_tool.py builds it: 2x2 float box averages applied
    log2(factor) times, then rounded to uint8 (np.rint rounds half to even, as torch.round)."""
    if factor == 1:
        return images_uint8
    if factor < 1 or factor & (factor - 1):
        raise ValueError(f"can only reduce images by a power of two, not {factor}")
    x = images_uint8.float()
    while factor > 1:
        x = torch.nn.functional.avg_pool2d(x, 2)
        factor //= 2
    return x.round().clamp(0, 255).to(torch.uint8)
