"""CelebA aligned faces (Liu et al. 2015; https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) at 64x64.

Layout (torchvision's): `<root>/celeba/img_align_celeba/000001.jpg ... 202599.jpg` (178 wide x 218
high) and `<root>/celeba/list_eval_partition.txt` (lines `000001.jpg 0`; 0 train 162,770, 1 valid
19,867, 2 test 19,962). Split "all" is every listed image in file order.

Preprocessing (the usual GAN one, e.g. DCGAN-tensorflow's `--input_height 108 --crop`): centre crop
108x108 (top = (218-108)//2 = 55, left = (178-108)//2 = 35, as torchvision `CenterCrop(108)`), then
anti-aliased bilinear resize to `resolution` (the same PIL-compatible resize as STL-10, see
`gbench.data.stl10.resize_images`). JPEGs are decoded with PIL (libjpeg-turbo, RGB; it gave the same pixels
as `torchvision.io.decode_jpeg`, whose image decoding torchvision deprecated in 0.29, when checked),
in batches of 512 that are cropped and resized as one tensor each.

Decoding 200k JPEGs takes minutes, so the result is cached as uint8 `.npy` next to the data,
`<root>/celeba/cache/celeba-<split>-<resolution>-v<VERSION>.npy`, written atomically, with a JSON
sidecar holding the content checksum (sha256 of every image's name and bytes as they were decoded,
plus the partition file's sha256). The cache is trusted while the partition file is unchanged; delete
the cache folder after editing the images.

Download: torchvision's Google-Drive route is tried when torchvision is importable and we are online;
Drive is often quota-limited, and then the error explains the manual download and where to put the
zip (which `gbench data fetch celeba` verifies and extracts offline).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gbench.data.base import ImageSet
from gbench.data.download import (
    DATASETS, describe_checksum, extract_archive, fetch_command, file_digests, is_offline, progress_bar, require_files, resolve_root,
)
from gbench.data.stl10 import resize_images
from gbench.errors import GBenchError, UsageError
from gbench.io import atomic_save_npy, atomic_write_json

FOLDER = "celeba"
IMAGES = "img_align_celeba"
PARTITION = "list_eval_partition.txt"
SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
CROP = 108
BATCH = 512
VERSION = 1  # bump when decoding/cropping/resizing changes: it is in the cache key and the checksum


def read_partition(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """list_eval_partition.txt -> (file names, partition ids 0/1/2)."""
    tokens = path.read_text().split()
    try:
        names, parts = np.array(tokens[0::2]), np.array(tokens[1::2], dtype=np.int64)
    except ValueError:
        names, parts = None, None
    if names is None or len(names) != len(parts) or not np.isin(parts, (0, 1, 2)).all():
        raise GBenchError(f"corrupt CelebA partition file {path}: expected lines '<name>.jpg <0|1|2>'")
    return names, parts


def _decode_batch(paths: list[Path], digest) -> torch.Tensor:
    """JPEG files -> uint8 (n, 3, CROP, CROP) centre crops; every file's name and bytes go into `digest`."""
    decoded = []
    for path in paths:  # reading and decoding is inherently per file; the pixel work below is batched
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data)
        try:
            with Image.open(io.BytesIO(data)) as image:
                decoded.append(np.asarray(image.convert("RGB")))
        except (OSError, SyntaxError) as e:  # PIL reports broken files as OSError (UnidentifiedImageError) or SyntaxError
            raise GBenchError(f"cannot decode CelebA image {path}: {e}") from None
    first = decoded[0].shape
    odd = next(((p, im) for p, im in zip(paths, decoded) if im.shape != first), None)
    if odd is not None:
        raise GBenchError(
            f"CelebA image {odd[0]} is {odd[1].shape[1]}x{odd[1].shape[0]} but {paths[0].name} is {first[1]}x{first[0]}; "
            f"the aligned set is uniformly 178x218"
        )
    if first[0] < CROP or first[1] < CROP:
        raise GBenchError(f"CelebA images such as {paths[0]} are {first[1]}x{first[0]}, smaller than the {CROP}px crop")
    batch = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2)  # (n, H, W, 3) -> (n, 3, H, W)
    top, left = (batch.shape[2] - CROP) // 2, (batch.shape[3] - CROP) // 2
    return batch[:, :, top : top + CROP, left : left + CROP]


def load_celeba(root: Path | str | None = None, split: str = "train", resolution: int = 64) -> ImageSet:
    """CelebA `split` ("train", "valid", "test" or "all") as uint8 (N, 3, R, R), unlabelled, via the cache."""
    if split not in SPLITS:
        raise UsageError(f"CelebA split must be one of {', '.join(SPLITS)}, got {split!r}")
    if not 1 <= resolution <= CROP:
        raise UsageError(f"CelebA resolution must be in 1..{CROP} (the crop size), got {resolution}")
    root = resolve_root(root)
    folder = root / FOLDER
    require_files("celeba", root, [f"{FOLDER}/{PARTITION}", f"{FOLDER}/{IMAGES}"])
    partition_sha = file_digests(folder / PARTITION, ("sha256",))["sha256"]
    cache = folder / "cache" / f"celeba-{split}-{resolution}-v{VERSION}.npy"
    meta_path = cache.with_suffix(".json")

    try:
        meta = json.loads(meta_path.read_text()) if cache.is_file() else {}
    except (OSError, ValueError):  # no sidecar, or a damaged one: rebuild
        meta = {}
    if isinstance(meta, dict) and meta.get("partition_sha256") == partition_sha:
        images = np.load(cache)
        if images.shape == (meta["count"], 3, resolution, resolution) and images.dtype == np.uint8:
            return ImageSet(torch.from_numpy(images), None, f"celeba-{split}-{resolution}", meta["checksum"])

    names, parts = read_partition(folder / PARTITION)
    if SPLITS[split] is not None:
        names = names[parts == SPLITS[split]]
    on_disk = set(os.listdir(folder / IMAGES))
    missing = [n for n in names if n not in on_disk]  # a set lookup per name: no pixel work
    if missing:
        raise GBenchError(
            f"CelebA image {folder / IMAGES / missing[0]} is missing ({len(missing)} of {len(names)} listed files absent); "
            f"re-extract img_align_celeba.zip with `{fetch_command('celeba', root)}`"
        )
    images = torch.empty((len(names), 3, resolution, resolution), dtype=torch.uint8)
    digest = hashlib.sha256(f"celeba-v{VERSION}-{split}-{resolution}-crop{CROP}-bilinear-antialias-{partition_sha}".encode())
    with progress_bar() as progress:
        task = progress.add_task(f"CelebA {split}: decode, crop {CROP}, resize {resolution}", total=len(names))
        for start in range(0, len(names), BATCH):
            paths = [folder / IMAGES / n for n in names[start : start + BATCH]]
            images[start : start + len(paths)] = resize_images(_decode_batch(paths, digest), resolution)
            progress.advance(task, len(paths))
    checksum = digest.hexdigest()[:16]
    atomic_save_npy(images.numpy(), cache)
    atomic_write_json({"count": len(names), "partition_sha256": partition_sha, "checksum": checksum, "version": VERSION}, meta_path)
    return ImageSet(images, None, f"celeba-{split}-{resolution}", checksum)


def _manual_error(folder: Path, root: Path, reason: str) -> GBenchError:
    wanted = " and ".join(f"{r.filename} ({describe_checksum(md5=r.md5)})" for r in DATASETS["celeba"].remotes)
    reason = " ".join(reason.split())
    return GBenchError(
        f"CelebA: {reason}; download {wanted} by hand from {DATASETS['celeba'].manual.split(' ')[0]}, "
        f"put them in {folder}, then run `{fetch_command('celeba', root)}`"
    )


def _fetch_from_drive(file_id: str, dest: Path, md5: str) -> None:
    """torchvision's Google-Drive downloader into a temp folder, then our md5 check and an atomic rename."""
    from torchvision.datasets.utils import download_file_from_google_drive  # ImportError handled by the caller

    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        download_file_from_google_drive(file_id, str(staging), dest.name)
        got = staging / dest.name
        actual = file_digests(got, ("md5",))["md5"] if got.is_file() else "no file"
        if actual != md5:
            raise RuntimeError(f"Google Drive returned {dest.name} with md5 {actual}, expected {md5} (quota page?)")
        os.replace(got, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_celeba(root: Path | str | None = None) -> Path:
    """Get img_align_celeba.zip + list_eval_partition.txt (a copy placed by hand in `<root>/celeba` is
    used as is), verify their md5s and extract the zip; no-op when the dataset is already present."""
    root = resolve_root(root)
    folder = root / FOLDER
    if all((root / rel).exists() for rel in DATASETS["celeba"].expected):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for remote in DATASETS["celeba"].remotes:
        dest = folder / remote.filename
        if dest.is_file():
            actual = file_digests(dest, ("md5",))["md5"]
            if actual != remote.md5:
                raise GBenchError(f"{dest} has md5 {actual}, expected {remote.md5}; replace it with a good copy and run `{fetch_command('celeba', root)}`")
            continue
        if is_offline():
            raise _manual_error(folder, root, f"offline (GBENCH_OFFLINE=1) and {remote.filename} is missing")
        try:
            _fetch_from_drive(remote.urls[0].removeprefix("gdrive:"), dest, remote.md5)
        except ImportError:
            raise _manual_error(folder, root, f"{remote.filename} is missing and torchvision's Google-Drive downloader is unavailable") from None
        except Exception as e:  # network errors, quota pages, md5 mismatch
            raise _manual_error(folder, root, f"Google-Drive download of {remote.filename} failed ({type(e).__name__}: {e})") from None
    extract_archive(folder / "img_align_celeba.zip", folder, IMAGES)
    return folder
