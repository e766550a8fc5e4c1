"""Image-to-image data: aligned A|B folders, unaligned trainA/trainB folders, and the named sets built on them
(Cityscapes as prepared by gbench/data/cityscapes.py, toyscapes rendered by gbench/data/toyscapes.py).

Follows junyanz/pytorch-CycleGAN-and-pix2pix (`data/aligned_dataset.py`, `data/unaligned_dataset.py`,
`datasets/prepare_cityscapes_dataset.py`); shared/reference/models.md sections 6, 7 and 12.

Layouts under the data root (default `$GBENCH_HOME/datasets`):
- aligned (pix2pix): `<name>/<split>/*.jpg`, each file A and B side by side (A the left half).
  facades: train 400 / val 100 / test 106; maps: train 1,096 / val 1,098.
- unaligned (CycleGAN): `<name>/<split>A/*`, `<name>/<split>B/*`, unrelated images. horse2zebra: trainA 1,067,
  trainB 1,334, testA 120, testB 140.
- cityscapes, as `prepare_cityscapes` writes it from the official archives (the official prepare script's
  output plus what the FCN-score needs): `train/` and `test/` (= Cityscapes val, the official script's name)
  A|B pairs at 256x256 (A = photo, B = the gtFine colour label map), `trainA/ trainB/ testA/ testB/` for
  CycleGAN, `trainIds/<split>/<i>.png` full-resolution (1024x2048) train-id maps (19 classes, 255 =
  ignore) and `frames-<split>.txt` (line i = the Cityscapes frame of pair i). Split "val" reads "test".
- toyscapes: procedural street scenes (no files), see `gbench.data.toyscapes.render_toyscapes`.

Loading (`load_paired`, `load_unpaired`): every image is resized to `load_size` x `load_size` with PIL
bicubic once, when the set is loaded (the official loader does the same resize on every access, a
deterministic operation, so doing it once is equivalent); the trainer then crops `resolution` at a random
position and flips (`gbench.train.img2img.crop_and_flip`). `direction` "BtoA" swaps the two domains, so
`inputs` is always what the generator reads. `load_domain(name, "testB", resolution=...)` is one domain as
an `ImageSet` (what the FID protocols and `gbench.data.load_dataset` use), resized to `resolution` as the
official test loader does (load_size = crop_size, no crop, no flip).

Checksums hash every file's name and bytes as read plus the resize settings; they enter protocol
fingerprints. Files are decoded with PIL on a thread pool (one image per task: file I/O, not tensor code).

Deviations: `prepare_cityscapes` also writes the train-id maps and frame lists the FCN-score needs (the
official script writes the pairs only) and, like it, resizes with Pillow's default (bicubic); the catalogue
gives no automatic download for pix2pix's facades/maps tarballs, which have no published checksum.
"""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gbench.data.base import ImageSet
from gbench.data.cityscapes import colorize
from gbench.data.toyscapes import TOY_DEFAULT_SIZE, TOY_PALETTE, TOY_RESOLUTION, toy_checksum, toy_scenes, toy_split
from gbench.errors import GBenchError, UsageError

VERSION = 1  # bump when decoding/resizing changes: it is part of every checksum here
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff")  # the official IMG_EXTENSIONS, any case


@dataclass
class PairedSet:
    """Aligned pairs at load size: `inputs[i]` -> `targets[i]` (uint8 (N, C, H, W) each)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    name: str = ""
    checksum: str = ""

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass
class UnpairedSet:
    """Two unrelated image sets at load size: the input domain and the target domain."""

    inputs: torch.Tensor
    targets: torch.Tensor
    name: str = ""
    checksum: str = ""


@dataclass
class SegmentationSet:
    """What an FCN-score protocol needs: the translation inputs (label maps rendered as colours), the real
    photos (the ground-truth row), and per-frame train-id maps at their own (label) resolution."""

    inputs: torch.Tensor  # uint8 (N, 3, r, r)
    photos: torch.Tensor  # uint8 (N, 3, r, r)
    label_source: object  # uint8 tensor (N, H, W), or a list of PNG bytes decoded on demand
    name: str = ""
    checksum: str = ""

    def __len__(self) -> int:
        return len(self.inputs)

    def labels(self, start: int, stop: int) -> torch.Tensor:
        """Train-id maps of frames [start, stop) as uint8 (n, H, W) (255 = ignore)."""
        if isinstance(self.label_source, torch.Tensor):
            return self.label_source[start:stop]
        return torch.from_numpy(np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in self.label_source[start:stop]]))


# ------------------------------------------------------------------------------------------------ file reading
def _image_files(folder: Path) -> list[Path]:
    """Image files under `folder` (recursively), sorted by path as the official `make_dataset` + `sorted`."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _decode(path: Path) -> tuple[Image.Image, bytes]:
    data = path.read_bytes()
    try:
        return Image.open(io.BytesIO(data)).convert("RGB"), data
    except OSError as exc:
        raise GBenchError(f"cannot read image {path}: {exc}") from None


def _resize(img: Image.Image, size: int) -> np.ndarray:
    """PIL bicubic to size x size (the official `transforms.Resize([s, s], BICUBIC)` on a PIL image)."""
    if img.size != (size, size):
        img = img.resize((size, size), Image.BICUBIC)
    return np.asarray(img)


def _read_many(files: list[Path], work) -> list:
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(work, files))


def _stack(arrays) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _files_digest(root: Path, files: list[Path], blobs: list[bytes], *extra) -> str:
    h = hashlib.sha256(f"paired-v{VERSION}-{extra}".encode())
    for path, blob in zip(files, blobs):
        h.update(str(path.relative_to(root)).encode())
        h.update(hashlib.sha256(blob).digest())
    return h.hexdigest()[:16]


def read_aligned_folder(folder: Path, size: int, limit: int = 0) -> tuple[torch.Tensor, torch.Tensor, str]:
    """A|B files -> (A, B) uint8 at size x size and a checksum. The left half of each file is A."""
    files = _image_files(folder)[: limit or None]
    if not files:
        raise GBenchError(f"no images in {folder} (expected A|B pairs side by side)")

    def work(path):
        ab, blob = _decode(path)
        w, h = ab.size
        half = w // 2
        return _resize(ab.crop((0, 0, half, h)), size), _resize(ab.crop((half, 0, w, h)), size), blob

    out = _read_many(files, work)
    checksum = _files_digest(folder.parent, files, [o[2] for o in out], "aligned", size)
    return _stack([o[0] for o in out]), _stack([o[1] for o in out]), checksum


def read_image_folder(folder: Path, size: int, limit: int = 0) -> tuple[torch.Tensor, str]:
    """Every image under `folder` -> uint8 (N, 3, size, size) and a checksum."""
    files = _image_files(folder)[: limit or None]
    if not files:
        raise GBenchError(f"no images in {folder}")

    def work(path):
        img, blob = _decode(path)
        return _resize(img, size), blob

    out = _read_many(files, work)
    return _stack([o[0] for o in out]), _files_digest(folder.parent, files, [o[1] for o in out], "folder", size)


# ------------------------------------------------------------------------------------------------ named datasets
FOLDER_DATASETS = {  # name -> (aligned splits, unaligned splits); cityscapes "val" is its "test" folder
    "facades": (("train", "val", "test"), ()),
    "maps": (("train", "val"), ()),
    "cityscapes": (("train", "test"), ("train", "test")),
    "horse2zebra": ((), ("train", "test")),
}
IMG2IMG_DATASETS = (*FOLDER_DATASETS, "toyscapes")


def dataset_dir(name: str, root) -> Path:
    from gbench.paths import datasets_dir

    return (Path(root) if root else datasets_dir()) / name


def _folder_split(name: str, split: str) -> str:
    return "test" if name == "cityscapes" and split == "val" else split


def _missing(name: str, path: Path) -> GBenchError:
    return GBenchError(f"{name} not found: {path} is missing; run `gbench data fetch {name}`"
                       + (" (Cityscapes needs a login; it prints the steps)" if name == "cityscapes" else ""))


def _check_name(name: str) -> None:
    if name not in IMG2IMG_DATASETS:
        raise GBenchError(f"{name!r} is not an image-to-image dataset; known: {', '.join(IMG2IMG_DATASETS)}")


def _check_direction(direction: str) -> None:
    if direction not in ("AtoB", "BtoA"):
        raise UsageError(f"data.direction must be AtoB or BtoA, not {direction!r}")


def load_paired(name: str, split: str = "train", *, root="", load_size: int = 286, direction: str = "AtoB",
                size: int = 0) -> PairedSet:
    """Aligned pairs of dataset `name` at load_size (A|B folders, or rendered toy scenes)."""
    _check_name(name)
    _check_direction(direction)
    if name == "toyscapes":
        split = toy_split(split)
        labels, photos = toy_scenes(split, size or TOY_DEFAULT_SIZE[split], load_size)
        a, b, checksum = photos, colorize(labels, TOY_PALETTE), toy_checksum("paired", split, size, load_size)
    else:
        aligned, _ = FOLDER_DATASETS[name]
        folder_split = _folder_split(name, split)
        if folder_split not in aligned:
            raise GBenchError(f"{name} has no aligned split {split!r}; aligned splits: {', '.join(aligned) or 'none (unpaired only)'}")
        folder = dataset_dir(name, root) / folder_split
        if not folder.is_dir():
            raise _missing(name, folder)
        a, b, checksum = read_aligned_folder(folder, load_size, size)
    inputs, targets = (a, b) if direction == "AtoB" else (b, a)
    return PairedSet(inputs, targets, name=f"{name}-{split}-{direction}", checksum=checksum)


def load_unpaired(name: str, split: str = "train", *, root="", load_size: int = 286, direction: str = "AtoB",
                  size: int = 0) -> UnpairedSet:
    """Unrelated A and B images at load_size (`<split>A/`, `<split>B/` folders, or toy photos and label maps
    of different scenes)."""
    _check_name(name)
    _check_direction(direction)
    if name == "toyscapes":
        split = toy_split(split)
        n = size or TOY_DEFAULT_SIZE[split]
        _, a = toy_scenes(split, n, load_size)  # photos of one set of scenes, label maps of another: no pairs to find
        b = colorize(toy_scenes(f"{split}-unpaired", n, load_size)[0], TOY_PALETTE)
        checksum = toy_checksum("unpaired", split, n, load_size)
    else:
        _, unaligned = FOLDER_DATASETS[name]
        folder_split = _folder_split(name, split)
        if folder_split not in unaligned:
            raise GBenchError(f"{name} has no unaligned split {split!r}; unaligned splits: {', '.join(unaligned) or 'none (paired only)'}")
        base = dataset_dir(name, root)
        for half in "AB":
            if not (base / f"{folder_split}{half}").is_dir():
                raise _missing(name, base / f"{folder_split}{half}")
        a, sum_a = read_image_folder(base / f"{folder_split}A", load_size, size)
        b, sum_b = read_image_folder(base / f"{folder_split}B", load_size, size)
        checksum = hashlib.sha256(f"{sum_a}{sum_b}".encode()).hexdigest()[:16]
    inputs, targets = (a, b) if direction == "AtoB" else (b, a)
    return UnpairedSet(inputs, targets, name=f"{name}-{split}-{direction}-unpaired", checksum=checksum)


def load_domain(name: str, split: str, *, root="", resolution: int = 0, size: int = 0) -> ImageSet:
    """One domain as an ImageSet: split "<split>A" or "<split>B" (unaligned folders when present, else the
    A or B halves of the aligned folder), resized to `resolution` (default 256; toyscapes 64)."""
    _check_name(name)
    if split[-1:] not in ("A", "B"):
        raise GBenchError(f"{name}: name a domain, e.g. split '{split}A' or '{split}B' (A|B halves or trainA/trainB folders)")
    base_split, half = split[:-1], split[-1]
    if name == "toyscapes":
        resolution = resolution or TOY_RESOLUTION
        labels, photos = toy_scenes(toy_split(base_split), size or TOY_DEFAULT_SIZE[toy_split(base_split)], resolution)
        images = photos if half == "A" else colorize(labels, TOY_PALETTE)
        return ImageSet(images, name=f"toyscapes-{split}", checksum=toy_checksum("domain", split, size, resolution))
    resolution = resolution or 256
    aligned, unaligned = FOLDER_DATASETS[name]
    folder_split = _folder_split(name, base_split)
    folder = dataset_dir(name, root) / f"{folder_split}{half}"
    if folder_split in unaligned and folder.is_dir():
        images, checksum = read_image_folder(folder, resolution, size)
    elif folder_split in aligned:
        a, b, checksum = load_paired_arrays(name, folder_split, root, resolution, size)
        images = a if half == "A" else b
        checksum = hashlib.sha256(f"{checksum}{half}".encode()).hexdigest()[:16]
    else:
        raise _missing(name, folder) if folder_split in unaligned else GBenchError(f"{name} has no split {base_split!r}")
    return ImageSet(images, name=f"{name}-{split}", checksum=checksum)


def load_paired_arrays(name: str, folder_split: str, root, resolution: int, size: int):
    folder = dataset_dir(name, root) / folder_split
    if not folder.is_dir():
        raise _missing(name, folder)
    return read_aligned_folder(folder, resolution, size)


def load_segmentation_set(name: str, split: str = "val", *, root="", resolution: int = 0, size: int = 0) -> SegmentationSet:
    """The FCN-score reference: label-colour inputs and real photos at `resolution`, train-id maps at label resolution.
    cityscapes: the prepared `test/` pairs (Cityscapes val) and `trainIds/test/*.png` (1024x2048, never resized).
    toyscapes: rendered val scenes; the label resolution is the image resolution."""
    if name == "toyscapes":
        resolution = resolution or TOY_RESOLUTION
        split = toy_split(split)
        labels, photos = toy_scenes(split, size or TOY_DEFAULT_SIZE[split], resolution)
        return SegmentationSet(colorize(labels, TOY_PALETTE), photos, labels, name=f"toyscapes-{split}",
                               checksum=toy_checksum("segmentation", split, size, resolution))
    if name != "cityscapes":
        raise GBenchError(f"no segmentation labels for dataset {name!r} (FCN-scores need cityscapes or toyscapes)")
    folder_split = _folder_split(name, split)
    base = dataset_dir(name, root)
    photos, colours, pair_sum = load_paired_arrays(name, folder_split, root, resolution or 256, size)
    n = len(photos)
    label_files = [base / "trainIds" / folder_split / f"{i}.png" for i in range(n)]
    missing = [p for p in label_files if not p.exists()]
    if missing:
        raise GBenchError(f"cityscapes: {missing[0]} is missing ({len(missing)} train-id maps); rerun `gbench data prepare cityscapes`")
    blobs = [p.read_bytes() for p in label_files]
    checksum = hashlib.sha256((pair_sum + _files_digest(base, label_files, blobs, "trainIds")).encode()).hexdigest()[:16]
    return SegmentationSet(colours, photos, blobs, name=f"cityscapes-{split}", checksum=checksum)


# ------------------------------------------------------------------------------------------------ fetching

def _fetch_unchecked_archive(name: str, root: Path, counts: dict[str, int]) -> Path:
    """pix2pix's tarballs have no published checksum, so gbench does not download them itself: it extracts a
    copy the user downloaded and checks the file counts of every split instead."""
    from gbench.data.download import DATASETS, extract_archive

    folder = root / name
    if all(len(_image_files(folder / s)) == n for s, n in counts.items()):
        return folder
    remote = DATASETS[name].remotes[0]
    archive = root / remote.filename
    if not archive.exists():
        raise GBenchError(f"{name}: no published checksum exists for {remote.filename}, so gbench does not download it unverified; "
                          f"download {remote.urls[0]} by hand into {root} and run `gbench data fetch {name}` again to extract and check it")
    extract_archive(archive, root, name)
    found = {s: len(_image_files(folder / s)) for s in counts}
    if found != counts:
        raise GBenchError(f"{name}: {archive} extracted to {found} images per split, expected {counts}; is it the pix2pix archive?")
    return folder


def fetch_facades(root: Path) -> Path:
    return _fetch_unchecked_archive("facades", root, {"train": 400, "val": 100, "test": 106})


def fetch_maps(root: Path) -> Path:
    return _fetch_unchecked_archive("maps", root, {"train": 1096, "val": 1098})


def fetch_horse2zebra(root: Path) -> Path:
    """Download horse2zebra.zip (sha256 as pinned by TensorFlow Datasets' cycle_gan checksums) and extract it."""
    from gbench.data.download import DATASETS, download, extract_archive, fetch_command

    folder = root / "horse2zebra"
    if all((folder / s).is_dir() for s in ("trainA", "trainB", "testA", "testB")):
        return folder
    remote = DATASETS["horse2zebra"].remotes[0]
    archive = download(remote.urls, root / remote.filename, sha256=remote.sha256, command=fetch_command("horse2zebra", root))
    return extract_archive(archive, root, "horse2zebra")
