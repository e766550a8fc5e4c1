"""ImageNet ILSVRC2012 (Russakovsky et al. 2015), class-conditional, from the user's own copy (the licence forbids a
download here): the training images for BigGAN and the validation images for Deep Generative Prior.

Layout under the data root (the ILSVRC2012 archives extracted as they come, the layout torchvision's ImageFolder
and BigGAN-PyTorch read):

    imagenet/train/<wnid>/<wnid>_<n>.JPEG               ILSVRC2012_img_train.tar, each inner <wnid>.tar extracted
    imagenet/val/ILSVRC2012_val_<8 digits>.JPEG         ILSVRC2012_img_val.tar, flat, with the devkit for labels:
    imagenet/ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt and .../data/meta.mat
    or imagenet/val/<wnid>/ILSVRC2012_val_<8 digits>.JPEG   (validation images sorted into class folders)

Labels are the index of the WordNet id in the sorted list of the 1,000 class ids (torchvision ImageFolder, BigGAN-
PyTorch and DGP's `imagenet_val_1k.txt` all number the classes so). Flat validation images take their label from the
devkit: the ground-truth file gives each image's ILSVRC2012_ID (1..1000) and meta.mat maps it to the WordNet id.

Splits: "train", "val", and "val-1k": the first (lowest-numbered) validation image of each class, in class order.
That is the list of XingangPan/deep-generative-prior `scripts/imagenet_val_1k.txt` (1,000 lines, label k on line k):
its file numbers are exactly the first occurrences (images 1..20 are all in it, mean number 963, max 4,971, as the
first of 50 per class among 50,000 shuffled images must be; the full check needs the ground truth, which is not here).

Preprocessing (BigGAN-PyTorch `utils.get_data_loaders` and DGP `dataset.ImageDataset`): `CenterCropLongEdge` (a square
of the short side's length at the centre, offsets rounded as torchvision's center_crop does), then
`transforms.Resize(resolution)`, i.e. PIL bilinear (antialiased) on the RGB image. No flips.

Decoding 1.28M JPEGs takes hours (BigGAN-PyTorch's make_hdf5.py does the same once), so the result is cached as
`imagenet/cache/imagenet-<split>-<resolution>[-n<size>]-v<VERSION>.npy` (+ labels and a JSON sidecar), written
atomically and memory-mapped on later loads (the 128x128 training set is 63 GB; BigGAN's --load_in_mem holds it in
RAM too). The cache is trusted while the listing of file names is unchanged; delete the cache folder after editing
images. `size` > 0 takes an evenly strided subset of the split's sorted file list (every class represented), e.g.
the 50k reference images of `imagenet128-10k`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gbench.data.base import ImageSet
from gbench.data.download import DATASETS, describe_checksum, progress_bar, resolve_root
from gbench.errors import GBenchError
from gbench.io import atomic_save_npy, atomic_write_json

FOLDER = "imagenet"
DEVKIT = "ILSVRC2012_devkit_t12"
GROUND_TRUTH = f"{DEVKIT}/data/ILSVRC2012_validation_ground_truth.txt"
META = f"{DEVKIT}/data/meta.mat"
SPLITS = ("train", "val", "val-1k")
SUFFIXES = (".jpeg", ".jpg", ".png")
VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})\.", re.IGNORECASE)
WNID = re.compile(r"n\d{8}")
VERSION = 1  # bump when decoding / cropping / resizing changes: it is in the cache key and the checksum
BATCH = 256  # images decoded per progress step

MANUAL = """ImageNet ILSVRC2012 is not in {root}: it needs a licence, so gbench never downloads it. Get the archives from \
https://image-net.org (ILSVRC2012_img_train.tar {train}, ILSVRC2012_img_val.tar {val}, ILSVRC2012_devkit_t12.tar.gz \
{devkit}) and extract them as {folder}/train/<wnid>/*.JPEG (untar the train archive, then each <wnid>.tar into its own \
folder), {folder}/val/*.JPEG and {folder}/{devkit_dir}/ (or validation images in {folder}/val/<wnid>/ folders); \
missing: {missing}"""


def _manual_error(root: Path, missing: Path) -> GBenchError:
    remotes = {r.filename: describe_checksum(md5=r.md5) for r in DATASETS["imagenet"].remotes}
    return GBenchError(" ".join(MANUAL.format(root=root, folder=root / FOLDER, devkit_dir=DEVKIT, missing=missing,
                                              train=remotes["ILSVRC2012_img_train.tar"], val=remotes["ILSVRC2012_img_val.tar"],
                                              devkit=remotes["ILSVRC2012_devkit_t12.tar.gz"]).split()))


def fetch_imagenet(root: Path | str | None = None) -> Path:
    """ImageNet cannot be fetched: its folder when the user's copy is in place, else the manual steps (one line)."""
    root = resolve_root(root)
    folder = root / FOLDER
    for split in ("train", "val"):
        if not (folder / split).is_dir():
            raise _manual_error(root, folder / split)
    return folder


# ----------------------------------------------------------------------------- file lists and labels


def _images_in(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.lower().endswith(SUFFIXES))


def _class_folders(split_dir: Path) -> list[str]:
    return sorted(name for name in os.listdir(split_dir) if WNID.fullmatch(name) and (split_dir / name).is_dir())


def _devkit_labels(folder: Path, names: list[str]) -> list[int]:
    """Labels of flat validation images from the devkit's ground truth (ILSVRC2012_ID per image number) and meta.mat."""
    from scipy.io import loadmat

    for rel in (GROUND_TRUTH, META):
        if not (folder / rel).is_file():
            raise GBenchError(f"ImageNet validation images in {folder / 'val'} are not in class folders, so their labels come "
                              f"from the devkit, and {folder / rel} is missing; extract ILSVRC2012_devkit_t12.tar.gz into {folder}")
    try:
        synsets = loadmat(folder / META, squeeze_me=True)["synsets"]
        leaves = [(int(s["ILSVRC2012_ID"]), str(s["WNID"])) for s in synsets if int(s["num_children"]) == 0]
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise GBenchError(f"cannot read the ImageNet class list {folder / META}: {type(exc).__name__}: {exc}") from None
    wnid_of_id = dict(leaves)
    index_of_wnid = {wnid: k for k, wnid in enumerate(sorted(wnid_of_id.values()))}
    truth = (folder / GROUND_TRUTH).read_text().split()
    labels = []
    for name in names:
        match = VAL_NAME.match(name)
        if match is None:
            raise GBenchError(f"{folder / 'val' / name}: a flat ImageNet validation image must be named ILSVRC2012_val_<8 digits>.JPEG")
        number = int(match.group(1))
        if not 1 <= number <= len(truth) or int(truth[number - 1]) not in wnid_of_id:
            raise GBenchError(f"{folder / GROUND_TRUTH} has no valid label for {name}")
        labels.append(index_of_wnid[wnid_of_id[int(truth[number - 1])]])
    return labels


def list_split(root: Path, split: str) -> tuple[list[Path], list[int]]:
    """(image files, labels) of a split in sorted order (class folders, then file names; flat val: by file name)."""
    if split not in SPLITS:
        raise GBenchError(f"ImageNet split must be one of {', '.join(SPLITS)}, got {split!r}")
    folder = root / FOLDER
    split_dir = folder / ("train" if split == "train" else "val")
    if not split_dir.is_dir():
        raise _manual_error(root, split_dir)
    classes = _class_folders(split_dir)
    if classes:
        files, labels = [], []
        for k, wnid in enumerate(classes):
            names = _images_in(split_dir / wnid)
            files += [split_dir / wnid / n for n in names]
            labels += [k] * len(names)
    elif split == "train":
        raise GBenchError(f"{split_dir} has no class folders (n########/): extract each <wnid>.tar of ILSVRC2012_img_train.tar "
                          "into its own folder")
    else:
        names = _images_in(split_dir)
        files, labels = [split_dir / n for n in names], _devkit_labels(folder, names)
    if not files:
        raise GBenchError(f"no images ({', '.join(SUFFIXES)}) in {split_dir}")
    if split == "val-1k":
        files, labels = first_per_class(files, labels)
    return files, labels


def _val_number(path: Path) -> int:
    match = VAL_NAME.match(path.name)
    return int(match.group(1)) if match else 1 << 62


def first_per_class(files: list[Path], labels: list[int]) -> tuple[list[Path], list[int]]:
    """The lowest-numbered validation image of each class, in class order (DGP's imagenet_val_1k.txt)."""
    first: dict[int, Path] = {}
    for path, label in zip(files, labels):
        if label not in first or _val_number(path) < _val_number(first[label]):
            first[label] = path
    order = sorted(first)
    return [first[k] for k in order], order


def strided_subset(n: int, size: int) -> list[int]:
    """`size` indices spread evenly over range(n) (floor(i * n / size)): every part of a class-sorted list is represented."""
    return [i * n // size for i in range(size)]


# ----------------------------------------------------------------------------- decoding


def center_crop_long_edge(image: Image.Image) -> Image.Image:
    """BigGAN-PyTorch `utils.CenterCropLongEdge`: torchvision center_crop to a square of the short side, whose offsets
    are int(round((size - crop) / 2)) (Python's round: halves go to the even integer)."""
    width, height = image.size
    side = min(width, height)
    top, left = int(round((height - side) / 2.0)), int(round((width - side) / 2.0))
    return image.crop((left, top, left + side, top + side))


def preprocess(data: bytes, resolution: int, where: Path) -> np.ndarray:
    """JPEG/PNG bytes -> uint8 (3, R, R): RGB, centre crop of the short side, PIL bilinear resize to R (transforms.Resize)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            square = center_crop_long_edge(image.convert("RGB"))
            resized = square.resize((resolution, resolution), Image.BILINEAR)
            return np.asarray(resized).transpose(2, 0, 1)
    except (OSError, SyntaxError, ValueError) as exc:
        raise GBenchError(f"cannot decode ImageNet image {where}: {exc}") from None


def _decode_all(files: list[Path], resolution: int, split: str, digest) -> np.ndarray:
    out = np.empty((len(files), 3, resolution, resolution), dtype=np.uint8)

    def work(i: int) -> bytes:
        data = files[i].read_bytes()
        out[i] = preprocess(data, resolution, files[i])
        return hashlib.sha256(data).digest()

    with progress_bar() as progress, ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        task = progress.add_task(f"ImageNet {split}: decode, crop, resize to {resolution}", total=len(files))
        for start in range(0, len(files), BATCH):
            indices = range(start, min(start + BATCH, len(files)))
            for i, file_hash in zip(indices, pool.map(work, indices)):  # in order: the checksum does not depend on threads
                digest.update(files[i].name.encode() + b"\0" + file_hash)
            progress.advance(task, len(indices))
    return out


def load_imagenet(root: Path | str | None = None, split: str = "train", resolution: int = 128, size: int = 0) -> ImageSet:
    """An ImageNet split as uint8 (N, 3, R, R) with labels 0..999, decoded once and then read from the cache."""
    if resolution < 1:
        raise GBenchError(f"ImageNet resolution must be >= 1, got {resolution}")
    root = resolve_root(root)
    files, labels = list_split(root, split)
    if size:
        if size > len(files):
            raise GBenchError(f"ImageNet {split} has {len(files)} images, {size} were asked for")
        keep = strided_subset(len(files), size)
        files, labels = [files[i] for i in keep], [labels[i] for i in keep]
    listing = hashlib.sha256("\n".join(f"{p.parent.name}/{p.name}" for p in files).encode()).hexdigest()
    tag = f"imagenet-{split}-{resolution}" + (f"-n{size}" if size else "")
    cache = root / FOLDER / "cache" / f"{tag}-v{VERSION}.npy"
    label_cache, meta_path = cache.with_suffix(".labels.npy"), cache.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text()) if cache.is_file() and label_cache.is_file() else {}
    except (OSError, ValueError):
        meta = {}
    if isinstance(meta, dict) and meta.get("listing_sha256") == listing:
        images = np.load(cache, mmap_mode="c")  # copy-on-write map: pages are read as batches touch them
        if images.shape == (len(files), 3, resolution, resolution) and images.dtype == np.uint8:
            return ImageSet(torch.from_numpy(images), torch.from_numpy(np.load(label_cache)), tag, meta["checksum"])
    digest = hashlib.sha256(f"imagenet-v{VERSION}-{split}-{resolution}-{size}-centercroplongedge-pil-bilinear".encode())
    images = _decode_all(files, resolution, split, digest)
    checksum = digest.hexdigest()[:16]
    cache.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_npy(images, cache)
    atomic_save_npy(np.asarray(labels, dtype=np.int64), label_cache)
    atomic_write_json({"count": len(files), "listing_sha256": listing, "checksum": checksum, "version": VERSION}, meta_path)
    return ImageSet(torch.from_numpy(images), torch.tensor(labels, dtype=torch.int64), tag, checksum)


def image_names(root: Path | str | None, split: str, size: int = 0) -> list[str]:
    """The file names of a split (in the loader's order), e.g. for per-image DGP results."""
    files, _ = list_split(resolve_root(root), split)
    if size:
        files = [files[i] for i in strided_subset(len(files), size)]
    return [p.name for p in files]
