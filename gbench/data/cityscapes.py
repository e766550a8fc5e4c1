"""Cityscapes for image-to-image work: the label table (ids -> 19 train ids), and `gbench data prepare cityscapes`,
which builds gbench's layout from the official archives (a login is needed, so nothing downloads automatically).

Follows cityscapesScripts `helpers/labels.py` and junyanz/pytorch-CycleGAN-and-pix2pix
`datasets/prepare_cityscapes_dataset.py`; the layout it writes is described in gbench/data/paired.py.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gbench.errors import GBenchError

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


# ------------------------------------------------------------------------------------------------ preparation
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
    from gbench.data.download import progress_bar
    from gbench.paths import datasets_dir

    root = Path(root) if root else datasets_dir()
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
