"""Datasets by name. Real sets load from `--root` (default `$GBENCH_HOME/datasets`) after
`gbench data fetch NAME`; `shapes32` is procedural and needs nothing on disk.

`load_dataset` returns an in-memory `ImageSet` (uint8 images, optional labels, a checksum that
enters protocol fingerprints).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from gbench.data.base import ImageSet
from gbench.errors import GBenchError, UsageError
from gbench.paths import datasets_dir


def _shapes32(root, split, resolution, size):
    from gbench.data.shapes import load_shapes32

    return load_shapes32(size=size, split=split, resolution=resolution or 32)


def _shapes_gray(root, split, resolution, size):
    from gbench.data.shapes import load_shapes_gray

    return load_shapes_gray(size=size, split=split, resolution=resolution or 28)


def _cifar10(root, split, resolution, size):
    from gbench.data.cifar10 import load_cifar10

    return load_cifar10(root, split=split)


def _stl10(root, split, resolution, size):
    from gbench.data.stl10 import load_stl10

    return load_stl10(root, split=split, resolution=resolution or 48)


def _mnist(root, split, resolution, size):
    from gbench.data.mnist import load_mnist

    return load_mnist(root, split=split, resolution=resolution or 28)


def _celeba(root, split, resolution, size):
    from gbench.data.celeba import load_celeba

    return load_celeba(root, split=split, resolution=resolution or 64)


def _imagenet(root, split, resolution, size):
    from gbench.data.imagenet import load_imagenet

    return load_imagenet(root, split=split, resolution=resolution or 128, size=size)


def _ffhq(root, split, resolution, size):
    from gbench.data.faces import load_ffhq

    return load_ffhq(root, split=split, resolution=resolution)


def _celebahq(root, split, resolution, size):
    from gbench.data.faces import load_celebahq

    return load_celebahq(root, split=split, resolution=resolution)


def _img2img(name):
    """One domain of an image-to-image set: split "<split>A" or "<split>B" (gbench/data/paired.py)."""

    def load(root, split, resolution, size):
        from gbench.data.paired import load_domain

        return load_domain(name, split, root=root, resolution=resolution, size=size)

    return load


def _captioned(name):
    """The images of a captioned set (gbench/data/text2image.py) as the text-to-image protocols compare them: resized to
    76/64 x `resolution` (default 64; icml2016 loadSize 76 for fineSize 64) and centre-cropped to `resolution`;
    "train" is the authors' train+val classes. The captions come with `gbench.data.text2image.load_captioned`."""

    def load(root, split, resolution, size):
        from gbench.data.text2image import centre_cropped_images

        return centre_cropped_images(name, split, root=root, resolution=resolution or 64)

    return load


LOADERS = {"shapes32": _shapes32, "shapes-gray": _shapes_gray, "cifar10": _cifar10, "stl10": _stl10, "mnist": _mnist, "celeba": _celeba,
           "imagenet": _imagenet, "ffhq": _ffhq, "celebahq": _celebahq,
           **{name: _img2img(name) for name in ("facades", "maps", "cityscapes", "horse2zebra", "toyscapes")},
           **{name: _captioned(name) for name in ("cub", "flowers")}}


def load_dataset(name: str, split: str = "train", *, root: str | Path = "", resolution: int = 0, size: int = 0) -> ImageSet:
    if name not in LOADERS:
        hint = difflib.get_close_matches(name, LOADERS, n=1)
        raise UsageError(f"unknown dataset {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(LOADERS)}"))
    data = LOADERS[name](Path(root) if root else datasets_dir(), split, resolution, size)
    if resolution and data.resolution != resolution:
        raise GBenchError(f"dataset {name} has {data.resolution}x{data.resolution} images, the config asks for {resolution}")
    return data
