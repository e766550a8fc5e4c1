"""Image-to-image data: aligned A|B folders, unaligned trainA/trainB folders, Cityscapes, and a procedural toy set.

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
- toyscapes: procedural street scenes (no files), see `render_toyscapes`.

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
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gbench.data.base import ImageSet
from gbench.errors import GBenchError

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


# ------------------------------------------------------------------------------------------------ Cityscapes labels

# cityscapesScripts `helpers/labels.py`: (name, id, trainId, colour) for the 34 ids in gtFine labelIds PNGs.
CITYSCAPES_LABELS = (
    ("unlabeled", 0, 255, (0, 0, 0)), ("ego vehicle", 1, 255, (0, 0, 0)), ("rectification border", 2, 255, (0, 0, 0)),
    ("out of roi", 3, 255, (0, 0, 0)), ("static", 4, 255, (0, 0, 0)), ("dynamic", 5, 255, (111, 74, 0)),
    ("ground", 6, 255, (81, 0, 81)), ("road", 7, 0, (128, 64, 128)), ("sidewalk", 8, 1, (244, 35, 232)),
    ("parking", 9, 255, (250, 170, 160)), ("rail track", 10, 255, (230, 150, 140)), ("building", 11, 2, (70, 70, 70)),
    ("wall", 12, 3, (102, 102, 156)), ("fence", 13, 4, (190, 153, 153)), ("guard rail", 14, 255, (180, 165, 180)),
    ("bridge", 15, 255, (150, 100, 100)), ("tunnel", 16, 255, (150, 120, 90)), ("pole", 17, 5, (153, 153, 153)),
    ("polegroup", 18, 255, (153, 153, 153)), ("traffic light", 19, 6, (250, 170, 30)), ("traffic sign", 20, 7, (220, 220, 0)),
    ("vegetation", 21, 8, (107, 142, 35)), ("terrain", 22, 9, (152, 251, 152)), ("sky", 23, 10, (70, 130, 180)),
    ("person", 24, 11, (220, 20, 60)), ("rider", 25, 12, (255, 0, 0)), ("car", 26, 13, (0, 0, 142)),
    ("truck", 27, 14, (0, 0, 70)), ("bus", 28, 15, (0, 60, 100)), ("caravan", 29, 255, (0, 0, 90)),
    ("trailer", 30, 255, (0, 0, 110)), ("train", 31, 16, (0, 80, 100)), ("motorcycle", 32, 17, (0, 0, 230)),
    ("bicycle", 33, 18, (119, 11, 32)),
)  # ("license plate", -1, -1) never appears in a labelIds PNG
CITYSCAPES_CLASSES = tuple(name for name, _, train_id, _ in CITYSCAPES_LABELS if train_id != 255)  # the 19, in train-id order
IGNORE = 255

_ID_TO_TRAIN_ID = np.full(256, IGNORE, dtype=np.uint8)  # ids outside the table are ignored too
for _name, _id, _train_id, _ in CITYSCAPES_LABELS:
    _ID_TO_TRAIN_ID[_id] = _train_id


def label_ids_to_train_ids(label_ids):
    """gtFine labelIds (uint8 array or tensor) -> train ids 0..18, 255 = ignore; one table lookup.
    Same result as the official eval's sequential `label[label == id] = trainId` loop (ids ascend, and every
    train id is below its id, so no pixel is remapped twice)."""
    if isinstance(label_ids, torch.Tensor):
        return torch.from_numpy(_ID_TO_TRAIN_ID)[label_ids.long()]
    return _ID_TO_TRAIN_ID[np.asarray(label_ids, dtype=np.uint8)]


def colorize(train_ids: torch.Tensor, palette) -> torch.Tensor:
    """(N, H, W) class ids -> uint8 (N, 3, H, W) colours; ids outside the palette (255) are black."""
    table = torch.zeros(256, 3, dtype=torch.uint8)
    table[: len(palette)] = torch.tensor(palette, dtype=torch.uint8)
    return table[train_ids.long()].permute(0, 3, 1, 2).contiguous()


# ------------------------------------------------------------------------------------------------ toyscapes

TOY_CLASSES = ("road", "sidewalk", "building", "vegetation", "sky", "car", "pole")
TOY_PALETTE = tuple(next(c for n, _, _, c in CITYSCAPES_LABELS if n == name) for name in TOY_CLASSES)  # Cityscapes colours
TOY_RESOLUTION = 64
TOY_DEFAULT_SIZE = {"train": 1000, "val": 200}
TOY_CHUNK = 256  # scenes per seed: any prefix of a split is stable
TOY_SEEDS = {"train": 0, "val": 1_000_000, "train-unpaired": 2_000_000, "val-unpaired": 3_000_000}  # disjoint seed ranges
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, CAR, POLE = range(len(TOY_CLASSES))


def render_toyscapes(n: int, seed: int, resolution: int = TOY_RESOLUTION) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` street-like scenes: (class ids uint8 (n, R, R), 255 = ignore; photos uint8 (n, 3, R, R)).

    Layout: sky over a horizon; grass below it; a road widening towards the bottom with sidewalks on both
    sides; buildings (with window grids) and trees on the horizon; poles along the sidewalk; cars on the
    road; an ignored "ego vehicle" band at the bottom. Each class has its own texture (sky gradient, grass
    blotches, road grain, sidewalk tiles, windows, car colours), so a small segmenter can tell them apart.
    Vectorised over scenes; a few objects per scene are drawn one object index at a time.
    """
    g = torch.Generator().manual_seed(seed)
    R = resolution

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    def per_scene(t):  # (n,) -> (n, 1, 1)
        return t.view(n, 1, 1)

    axis = (torch.arange(R, dtype=torch.float32) + 0.5) / R
    v, u = (t.expand(n, R, R) for t in torch.meshgrid(axis, axis, indexing="ij"))  # v down, u right, in [0, 1]
    yi, xi = (t.expand(n, R, R) for t in torch.meshgrid(torch.arange(R), torch.arange(R), indexing="ij"))
    label = torch.full((n, R, R), SKY, dtype=torch.uint8)

    horizon = per_scene(0.35 + 0.2 * rand(n))
    ground = v >= horizon
    label[ground] = VEGETATION
    centre0, tilt, spread = per_scene(0.3 + 0.4 * rand(n)), per_scene(0.8 * (rand(n) - 0.5)), per_scene(0.45 + 0.4 * rand(n))

    def road_centre(d):  # road centre and half width at depth d below the horizon (perspective: linear in d)
        return centre0 + tilt * d

    def road_half(d):
        return 0.015 + spread * d

    depth = (v - horizon).clamp(min=0)
    off_centre = (u - road_centre(depth)).abs()
    label[ground & (off_centre < road_half(depth))] = ROAD
    label[ground & (off_centre >= road_half(depth)) & (off_centre < road_half(depth) * 1.45 + 0.02)] = SIDEWALK

    building_id = torch.full((n, R, R), -1)
    for k in range(4):
        left, width = per_scene(rand(n) * 1.1 - 0.1), per_scene(0.1 + 0.2 * rand(n))
        top = (horizon - per_scene(0.08 + 0.3 * rand(n))).clamp(min=0.02)
        inside = (u >= left) & (u < left + width) & (v >= top) & (v < horizon + 0.015)
        label[inside] = BUILDING
        building_id[inside] = k
    for _ in range(3):  # trees
        cu, cv, radius = per_scene(rand(n)), horizon - per_scene(0.1 * rand(n)), per_scene(0.04 + 0.07 * rand(n))
        label[(u - cu) ** 2 + (v - cv) ** 2 < radius**2] = VEGETATION
    for side in (-1, 1):  # a pole on each sidewalk, standing at depth `foot`
        foot = per_scene(0.1 + 0.25 * rand(n))
        pole_u = road_centre(foot) + side * (road_half(foot) * 1.2 + 0.01)
        inside = ((u - pole_u).abs() < 0.8 / R + 0.004) & (v > horizon - 0.22) & (v < horizon + foot)
        label[inside & (per_scene(rand(n)) < 0.8)] = POLE
    car_id = torch.full((n, R, R), -1)
    for k in range(2):  # cars on the road, sized by their depth
        cd = per_scene(0.12 + 0.4 * rand(n)) * (1 - horizon)
        cu = road_centre(cd) + (per_scene(rand(n)) - 0.5) * road_half(cd)
        w, h = 0.06 + 0.45 * cd, 0.035 + 0.22 * cd
        inside = ((u - cu).abs() < w / 2) & ((v - horizon - cd).abs() < h / 2) & ground
        label[inside] = CAR
        car_id[inside] = k
    ego = 1 - per_scene(0.07 * rand(n))
    label[v > ego] = IGNORE

    # Textures, one class at a time, written where that class is.
    light = per_scene(0.8 + 0.35 * rand(n)).unsqueeze(1)
    photo = torch.zeros(n, 3, R, R)

    def paint(cls, texture):
        mask = (label == cls).unsqueeze(1)
        photo.copy_(torch.where(mask, texture.expand_as(photo), photo))

    sky = torch.tensor([0.45, 0.62, 0.88]).view(1, 3, 1, 1) + 0.08 * (rand(n, 3, 1, 1) - 0.5)
    paint(SKY, sky + 0.3 * (v / horizon).clamp(max=1).unsqueeze(1))
    blotches = F.interpolate(rand(n, 1, 8, 8), size=(R, R), mode="bilinear", align_corners=False)
    paint(VEGETATION, torch.tensor([0.2, 0.45, 0.12]).view(1, 3, 1, 1) * (0.5 + 0.9 * blotches))
    paint(ROAD, 0.33 + 0.12 * (rand(n, 1, R, R) - 0.5) + torch.zeros(1, 3, 1, 1))
    tiles = ((xi % 5 == 0) | (yi % 4 == 0)).unsqueeze(1).float()
    paint(SIDEWALK, torch.tensor([0.7, 0.62, 0.56]).view(1, 3, 1, 1) * (1 - 0.3 * tiles))
    building_colour = 0.35 + 0.35 * rand(n, 4, 1) + torch.tensor([0.06, 0.02, -0.04]) * rand(n, 4, 1)  # (n, 4 buildings, 3)
    facade = building_colour.gather(1, building_id.clamp(min=0).view(n, -1, 1).expand(-1, -1, 3)).view(n, R, R, 3).permute(0, 3, 1, 2)
    windows = ((xi % 4) >= 2) & ((yi % 5) >= 2)
    paint(BUILDING, torch.where(windows.unsqueeze(1), torch.tensor([0.12, 0.16, 0.25]).view(1, 3, 1, 1), facade))
    car_colour = rand(n, 2, 3)
    car_colour = 0.9 * car_colour / car_colour.amax(-1, keepdim=True)  # saturated
    body = car_colour.gather(1, car_id.clamp(min=0).view(n, -1, 1).expand(-1, -1, 3)).view(n, R, R, 3).permute(0, 3, 1, 2)
    paint(CAR, body)
    paint(POLE, torch.full((1, 3, 1, 1), 0.22))
    photo = torch.where((label == IGNORE).unsqueeze(1), torch.full_like(photo, 0.05), photo * light)
    photo = photo + 0.04 * (rand(n, 3, R, R) - 0.5)
    return label, (photo.clamp(0, 1) * 255).round().to(torch.uint8)


def _toy_scenes(split: str, size: int, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    base = TOY_SEEDS[split]
    labels, photos = [], []
    for start in range(0, size, TOY_CHUNK):
        lab, pho = render_toyscapes(TOY_CHUNK, seed=base + start // TOY_CHUNK, resolution=resolution)
        labels.append(lab[: size - start])
        photos.append(pho[: size - start])
    return torch.cat(labels), torch.cat(photos)


def _toy_checksum(*parts) -> str:
    return hashlib.sha256("-".join(map(str, ("toyscapes", VERSION, *parts))).encode()).hexdigest()[:16]


def _toy_split(split: str) -> str:
    base = split[:-1] if split.endswith(("A", "B")) else split
    if base not in ("train", "val"):
        raise GBenchError(f"toyscapes has splits train and val (and their A = photo / B = label colour halves), not {split!r}")
    return base


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


def _dataset_dir(name: str, root) -> Path:
    from gbench.data import default_root

    return (Path(root) if root else default_root()) / name


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
        raise GBenchError(f"data.direction must be AtoB or BtoA, not {direction!r}")


def load_paired(name: str, split: str = "train", *, root="", load_size: int = 286, direction: str = "AtoB",
                size: int = 0) -> PairedSet:
    """Aligned pairs of dataset `name` at load_size (A|B folders, or rendered toy scenes)."""
    _check_name(name)
    _check_direction(direction)
    if name == "toyscapes":
        split = _toy_split(split)
        labels, photos = _toy_scenes(split, size or TOY_DEFAULT_SIZE[split], load_size)
        a, b, checksum = photos, colorize(labels, TOY_PALETTE), _toy_checksum("paired", split, size, load_size)
    else:
        aligned, _ = FOLDER_DATASETS[name]
        folder_split = _folder_split(name, split)
        if folder_split not in aligned:
            raise GBenchError(f"{name} has no aligned split {split!r}; aligned splits: {', '.join(aligned) or 'none (unpaired only)'}")
        folder = _dataset_dir(name, root) / folder_split
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
        split = _toy_split(split)
        n = size or TOY_DEFAULT_SIZE[split]
        _, a = _toy_scenes(split, n, load_size)  # photos of one set of scenes, label maps of another: no pairs to find
        b = colorize(_toy_scenes(f"{split}-unpaired", n, load_size)[0], TOY_PALETTE)
        checksum = _toy_checksum("unpaired", split, n, load_size)
    else:
        _, unaligned = FOLDER_DATASETS[name]
        folder_split = _folder_split(name, split)
        if folder_split not in unaligned:
            raise GBenchError(f"{name} has no unaligned split {split!r}; unaligned splits: {', '.join(unaligned) or 'none (paired only)'}")
        base = _dataset_dir(name, root)
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
        labels, photos = _toy_scenes(_toy_split(base_split), size or TOY_DEFAULT_SIZE[_toy_split(base_split)], resolution)
        images = photos if half == "A" else colorize(labels, TOY_PALETTE)
        return ImageSet(images, name=f"toyscapes-{split}", checksum=_toy_checksum("domain", split, size, resolution))
    resolution = resolution or 256
    aligned, unaligned = FOLDER_DATASETS[name]
    folder_split = _folder_split(name, base_split)
    folder = _dataset_dir(name, root) / f"{folder_split}{half}"
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
    folder = _dataset_dir(name, root) / folder_split
    if not folder.is_dir():
        raise _missing(name, folder)
    return read_aligned_folder(folder, resolution, size)


def load_segmentation_set(name: str, split: str = "val", *, root="", resolution: int = 0, size: int = 0) -> SegmentationSet:
    """The FCN-score reference: label-colour inputs and real photos at `resolution`, train-id maps at label resolution.
    cityscapes: the prepared `test/` pairs (Cityscapes val) and `trainIds/test/*.png` (1024x2048, never resized).
    toyscapes: rendered val scenes; the label resolution is the image resolution."""
    if name == "toyscapes":
        resolution = resolution or TOY_RESOLUTION
        split = _toy_split(split)
        labels, photos = _toy_scenes(split, size or TOY_DEFAULT_SIZE[split], resolution)
        return SegmentationSet(colorize(labels, TOY_PALETTE), photos, labels, name=f"toyscapes-{split}",
                               checksum=_toy_checksum("segmentation", split, size, resolution))
    if name != "cityscapes":
        raise GBenchError(f"no segmentation labels for dataset {name!r} (FCN-scores need cityscapes or toyscapes)")
    folder_split = _folder_split(name, split)
    base = _dataset_dir(name, root)
    photos, colours, pair_sum = load_paired_arrays(name, folder_split, root, resolution or 256, size)
    n = len(photos)
    label_files = [base / "trainIds" / folder_split / f"{i}.png" for i in range(n)]
    missing = [p for p in label_files if not p.exists()]
    if missing:
        raise GBenchError(f"cityscapes: {missing[0]} is missing ({len(missing)} train-id maps); rerun `gbench data prepare cityscapes`")
    blobs = [p.read_bytes() for p in label_files]
    checksum = hashlib.sha256((pair_sum + _files_digest(base, label_files, blobs, "trainIds")).encode()).hexdigest()[:16]
    return SegmentationSet(colours, photos, blobs, name=f"cityscapes-{split}", checksum=checksum)


# ------------------------------------------------------------------------------------------------ Cityscapes preparation

def cityscapes_frames(source: Path, phase: str) -> list[tuple[str, Path, Path, Path]]:
    """(frame, photo, gtFine colour, gtFine labelIds) of `phase` in the official layout, sorted by path as
    the official prepare script sorts its globs."""
    photos = sorted((source / "leftImg8bit" / phase).glob("*/*_leftImg8bit.png"))
    frames = []
    for photo in photos:
        frame = photo.name.removesuffix("_leftImg8bit.png")
        gt = source / "gtFine" / phase / photo.parent.name
        frames.append((frame, photo, gt / f"{frame}_gtFine_color.png", gt / f"{frame}_gtFine_labelIds.png"))
    return frames


def prepare_cityscapes(root=None, *, source=None, size: int = 256, limit: int = 0) -> Path:
    """`gbench data prepare cityscapes --root DIR`: build `<root>/cityscapes/` from the official archives
    unzipped in `source` (default: `root`), i.e. `source/leftImg8bit/{train,val}/<city>/*_leftImg8bit.png`
    and `source/gtFine/{train,val}/<city>/*_gtFine_{color,labelIds}.png`.

    As `datasets/prepare_cityscapes_dataset.py`: photo and colour label map each resized to 256x256 (PIL
    bicubic, Pillow's default), saved side by side (photo left = A, labels right = B) as JPEG quality 100
    without chroma subsampling to `train/<i>.jpg` and `test/<i>.jpg` (val), and separately to
    `<split>A/<i>_A.jpg`, `<split>B/<i>_B.jpg`. Added for the FCN-score: `trainIds/<split>/<i>.png`, the
    labelIds mapped to train ids at full resolution, and `frames-<split>.txt`. Written to a temp folder and
    renamed into place. `limit` > 0 keeps the first frames of each split (tests). Returns the folder.
    """
    from gbench.data import default_root
    from gbench.data.download import progress_bar

    root = Path(root) if root else default_root()
    source = Path(source) if source else root
    plan = {}
    for phase, out_split in (("val", "test"), ("train", "train")):
        frames = cityscapes_frames(source, phase)[: limit or None]
        if not frames:
            raise GBenchError(f"cityscapes: no photos under {source / 'leftImg8bit' / phase}; unzip leftImg8bit_trainvaltest.zip "
                              f"and gtFine_trainvaltest.zip into {source} first (see `gbench data fetch cityscapes`)")
        lacking = [p for f in frames for p in f[2:] if not p.exists()]
        if lacking:
            raise GBenchError(f"cityscapes: {lacking[0]} is missing ({len(lacking)} gtFine files); unzip gtFine_trainvaltest.zip into {source}")
        plan[out_split] = frames
    final = root / "cityscapes"
    staging = root / ".cityscapes.preparing"
    shutil.rmtree(staging, ignore_errors=True)

    def work(args):
        out_split, i, (frame, photo_path, colour_path, ids_path) = args
        photo = Image.open(photo_path).convert("RGB").resize((size, size), Image.BICUBIC)
        colour = Image.open(colour_path).convert("RGB").resize((size, size), Image.BICUBIC)
        pair = Image.new("RGB", (2 * size, size))
        pair.paste(photo, (0, 0))
        pair.paste(colour, (size, 0))
        jpeg = {"format": "JPEG", "quality": 100, "subsampling": 0}
        pair.save(staging / out_split / f"{i}.jpg", **jpeg)
        photo.save(staging / f"{out_split}A" / f"{i}_A.jpg", **jpeg)
        colour.save(staging / f"{out_split}B" / f"{i}_B.jpg", **jpeg)
        Image.fromarray(label_ids_to_train_ids(np.asarray(Image.open(ids_path)))).save(staging / "trainIds" / out_split / f"{i}.png")
        return frame

    try:
        for out_split in plan:
            for sub in (out_split, f"{out_split}A", f"{out_split}B", f"trainIds/{out_split}"):
                (staging / sub).mkdir(parents=True, exist_ok=True)
        jobs = [(s, i, f) for s, frames in plan.items() for i, f in enumerate(frames)]
        with progress_bar() as progress, ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            task = progress.add_task("cityscapes pairs", total=len(jobs))
            done = {s: [] for s in plan}
            for job, frame in zip(jobs, pool.map(work, jobs)):
                done[job[0]].append(frame)
                progress.advance(task)
        for out_split, frames in done.items():
            (staging / f"frames-{out_split}.txt").write_text("".join(f + "\n" for f in frames))
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


# ------------------------------------------------------------------------------------------------ fetching

CITYSCAPES_STEPS = (
    "Cityscapes needs a login and cannot be downloaded automatically: "
    "(1) register and log in at https://www.cityscapes-dataset.com/login/ ; "
    "(2) from https://www.cityscapes-dataset.com/downloads/ download gtFine_trainvaltest.zip (241 MB) and "
    "leftImg8bit_trainvaltest.zip (11 GB) ; "
    "(3) unzip both into {root} (giving {root}/gtFine and {root}/leftImg8bit) ; "
    "(4) run `gbench data prepare cityscapes --root {root}` (or this command again), which writes {root}/cityscapes"
)


def fetch_cityscapes(root: Path) -> Path:
    """Prepared already: its folder. Official archives unzipped in root: prepare them. Otherwise the steps."""
    if (root / "cityscapes" / "trainIds" / "test").is_dir() and (root / "cityscapes" / "train").is_dir():
        return root / "cityscapes"
    if (root / "leftImg8bit" / "val").is_dir() and (root / "gtFine" / "val").is_dir():
        return prepare_cityscapes(root)
    raise GBenchError(CITYSCAPES_STEPS.format(root=root))


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

