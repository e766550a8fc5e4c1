"""FFHQ and CelebA-HQ: aligned face photographs as folders of images, decoded once into a uint8 cache.

FFHQ (Karras, Laine, Aila 2019; NVlabs/ffhq-dataset `download_ffhq.py`): `<root>/ffhq/images1024x1024/00000/00000.png`
... `69000/69999.png` (89.1 GB, `--images`) and/or the same names under `<root>/ffhq/thumbnails128x128/` (1.95 GB,
`--thumbs`: 128x128 PIL ANTIALIAS resizes of the 1024 images). Splits: "train" = all 70,000 images (StyleGAN trained
on all of them, dataset README), "training" = 00000-59999 and "validation" = 60000-69999 (the README's split). When
`ffhq-dataset-v2.json` (md5 425ae20f...) is in `<root>/ffhq/`, every file's md5 is checked against it while decoding.

CelebA-HQ (Karras et al. 2018): `<root>/celebahq/` holding the 30,000 images (1024x1024 PNG or JPEG) named by their index:
`00000.png` .. `29999.png` (the Progressive GAN exports) or `0.jpg` .. `29999.jpg` (CelebAMask-HQ's CelebA-HQ-img
folder, moved or linked there). Order: the numeric order of the file names. Split "train" = all 30,000.

Resolution: the source images are reduced as StyleGAN's `dataset_tool.py` builds its lower resolutions: 2x2 float box
averages applied repeatedly, then rounded (np.rint); gbench/train/progressive.py reduces training batches the same way.
FFHQ reads the 1024 images when present, else the 128 thumbnails (resolutions <= 128 only); which source was used is
part of the checksum, so the two never share a fingerprint.

Cache: `<root>/<name>/cache/<name>-<split>-<source>-<resolution>-v1.npy` (uint8, N x 3 x R x R) with a JSON sidecar
(count, checksum, the listing's signature = every file name and size). It is memory-mapped on load (copy-on-write), so a
1024 set is read from disk batch by batch: FFHQ at 1024 is 220 GB of pixels, as the official r10 TFRecord. The
checksum is the sha256 of every file's name and bytes in order (plus split, source and resolution). The cache is
trusted while the listing's signature is unchanged.

Download: gbench fetches neither by itself. FFHQ is 70,000 Google-Drive files behind a quota (download_ffhq.py);
`gbench data fetch ffhq` checks what is on disk and says what is missing. CelebA-HQ is generated from CelebA with the
Progressive GAN authors' script, or taken from CelebAMask-HQ.zip (1024x1024 JPEGs): with that zip placed in the data
root, `gbench data fetch celebahq` verifies its md5 and moves CelebA-HQ-img/ into place.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gbench.data.base import ImageSet, dataset_level
from gbench.data.download import DATASETS, extract_archive, fetch_command, file_digests, progress_bar, resolve_root
from gbench.errors import GBenchError
from gbench.io import atomic_write_json

VERSION = 1
BATCH = 64
FFHQ_IMAGES = 70_000
FFHQ_SPLITS = {"train": (0, 70_000), "training": (0, 60_000), "validation": (60_000, 70_000)}
FFHQ_SOURCES = {"images1024x1024": "image", "thumbnails128x128": "thumbnail"}  # folder -> key in ffhq-dataset-v2.json
FFHQ_JSON = "ffhq-dataset-v2.json"
FFHQ_JSON_MD5 = "425ae20f06a4da1d4dc0f46d40ba5fd6"  # download_ffhq.py json_spec
CELEBAHQ_IMAGES = 30_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


# ----------------------------------------------------------------------------------------------- listings


def ffhq_files(root: Path, split: str, resolution: int) -> tuple[str, list[Path]]:
    """(source folder name, the split's files in index order) for FFHQ at `resolution`."""
    if split not in FFHQ_SPLITS:
        raise GBenchError(f"FFHQ split must be one of {', '.join(FFHQ_SPLITS)}, got {split!r}")
    folder = root / "ffhq"
    present = [name for name in FFHQ_SOURCES if (folder / name).is_dir()]
    source = "images1024x1024" if "images1024x1024" in present else ("thumbnails128x128" if present else "")
    if not source:
        raise GBenchError(f"FFHQ not found: neither {folder / 'images1024x1024'} nor {folder / 'thumbnails128x128'} exists; run "
                          f"NVlabs/ffhq-dataset's `python download_ffhq.py --json --images` (or --thumbs) inside {folder}, then "
                          f"`{fetch_command('ffhq', root)}` checks the files")
    if source == "thumbnails128x128" and resolution > 128:
        raise GBenchError(f"FFHQ at {resolution}x{resolution} needs {folder / 'images1024x1024'}; only the 128x128 thumbnails are present")
    start, stop = FFHQ_SPLITS[split]
    stop = min(stop, FFHQ_IMAGES)
    files = [folder / source / f"{i // 1000 * 1000:05d}" / f"{i:05d}.png" for i in range(start, stop)]
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise GBenchError(f"FFHQ image {missing[0]} is missing ({len(missing)} of {len(files)} files of split {split!r} absent); "
                          f"complete the download with download_ffhq.py")
    return source, files


def celebahq_files(root: Path, split: str) -> list[Path]:
    """The 30,000 CelebA-HQ images in numeric order of their names."""
    if split != "train":
        raise GBenchError(f"CelebA-HQ has one split, 'train' (all {CELEBAHQ_IMAGES:,} images), got {split!r}")
    folder = root / "celebahq"
    if not folder.is_dir():
        raise GBenchError(f"CelebA-HQ not found: {folder} is missing; put CelebAMask-HQ.zip ({DATASETS['celebahq'].remotes[0].md5} md5) "
                          f"in {root} and run `{fetch_command('celebahq', root)}`, or put the {CELEBAHQ_IMAGES:,} images 00000.png .. "
                          f"29999.png of Progressive GAN's dataset_tool.py create_celebahq in {folder}")
    by_index: dict[int, Path] = {}
    for entry in os.scandir(folder):
        path = Path(entry.path)
        if entry.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and path.stem.isdigit():
            index = int(path.stem)
            if index in by_index:
                raise GBenchError(f"CelebA-HQ: {by_index[index].name} and {path.name} both claim image {index} in {folder}")
            by_index[index] = path
    expected = set(range(CELEBAHQ_IMAGES))
    if set(by_index) != expected:
        missing = sorted(expected - set(by_index))
        extra = sorted(set(by_index) - expected)
        what = f"image {missing[0]} is missing ({len(missing)} absent)" if missing else f"{by_index[extra[0]].name} is beyond {CELEBAHQ_IMAGES - 1}"
        raise GBenchError(f"CelebA-HQ in {folder}: {what}; expected files named 0..{CELEBAHQ_IMAGES - 1} (e.g. 00000.png or 0.jpg)")
    return [by_index[i] for i in range(CELEBAHQ_IMAGES)]


def _signature(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.parent.name}/{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------- decoding


def _ffhq_md5s(folder: Path, source: str) -> dict[str, str] | None:
    """{relative path: md5} from ffhq-dataset-v2.json when it is present (itself md5-checked), else None."""
    path = folder / FFHQ_JSON
    if not path.is_file():
        return None
    actual = file_digests(path, ("md5",))["md5"]
    if actual != FFHQ_JSON_MD5:
        raise GBenchError(f"{path} has md5 {actual}, expected {FFHQ_JSON_MD5} (download_ffhq.py --json); replace or remove it")
    key = FFHQ_SOURCES[source]
    entries = json.loads(path.read_text())
    return {entry[key]["file_path"]: entry[key]["file_md5"] for entry in entries.values() if key in entry}


def _decode(paths: list[Path], digest, md5s: dict[str, str] | None, base: Path, name: str) -> torch.Tensor:
    """Image files -> uint8 (n, 3, S, S); every file's name and bytes go into `digest`."""
    decoded = []
    for path in paths:  # reading and decoding is per file; the pixel work is batched by the caller
        data = path.read_bytes()
        relative = path.relative_to(base).as_posix()
        digest.update(relative.encode() + b"\0" + data)
        if md5s is not None:
            expected = md5s.get(relative)
            if expected is None or hashlib.md5(data).hexdigest() != expected:
                raise GBenchError(f"{name}: {path} does not match its md5 in {FFHQ_JSON} ({expected or 'not listed'}); re-download it")
        try:
            with Image.open(io.BytesIO(data)) as image:
                decoded.append(np.asarray(image.convert("RGB")))
        except (OSError, SyntaxError) as exc:
            raise GBenchError(f"cannot decode {name} image {path}: {exc}") from None
    shape = decoded[0].shape
    odd = next(((p, im) for p, im in zip(paths, decoded) if im.shape != shape), None)
    if odd is not None:
        raise GBenchError(f"{name} image {odd[0]} is {odd[1].shape[1]}x{odd[1].shape[0]} but {paths[0].name} is {shape[1]}x{shape[0]}")
    if shape[0] != shape[1] or shape[0] & (shape[0] - 1):
        raise GBenchError(f"{name} images must be square with a power-of-two side, {paths[0]} is {shape[1]}x{shape[0]}")
    return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2)


def _cached(name: str, split: str, source: str, resolution: int, files: list[Path], base: Path, read_md5s=lambda: None) -> ImageSet:
    """The decoded, reduced images (memory-mapped), built once and then read from the cache; `read_md5s()` (the
    per-file md5s to check, or None) is called only when the cache is (re)built."""
    folder = base / "cache"
    cache = folder / f"{name}-{split}-{source}-{resolution or 'native'}-v{VERSION}.npy"
    meta_path = cache.with_suffix(".json")
    signature = _signature(files)
    try:
        meta = json.loads(meta_path.read_text()) if cache.is_file() else {}
    except (OSError, ValueError):
        meta = {}
    if isinstance(meta, dict) and meta.get("signature") == signature and meta.get("count") == len(files):
        images = np.load(cache, mmap_mode="c")
        if images.ndim == 4 and images.shape[:2] == (len(files), 3) and images.dtype == np.uint8:
            return ImageSet(torch.from_numpy(images), None, f"{name}-{split}-{images.shape[-1]}", meta["checksum"])

    md5s = read_md5s()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(f"{name}-v{VERSION}-{split}-{source}-{resolution}-box2x2-rint".encode())
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    array = None
    try:
        with progress_bar() as progress:
            task = progress.add_task(f"{name} {split}: decode {source}" + (f", reduce to {resolution}" if resolution else ""), total=len(files))
            for start in range(0, len(files), BATCH):
                batch = _decode(files[start : start + BATCH], digest, md5s, base, name)
                side = batch.shape[-1]
                target = resolution or side
                if target > side or side % target or (side // target) & (side // target - 1):
                    raise GBenchError(f"{name}: cannot make {target}x{target} images from the {side}x{side} {source} images "
                                      "(a power-of-two reduction is needed)")
                batch = dataset_level(batch, side // target)
                if array is None:
                    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(files), 3, target, target))
                array[start : start + len(batch)] = batch.numpy()
                progress.advance(task, len(batch))
        array.flush()
        del array
        os.replace(tmp, cache)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    checksum = digest.hexdigest()[:16]
    atomic_write_json({"count": len(files), "signature": signature, "checksum": checksum, "source": source, "version": VERSION}, meta_path)
    images = np.load(cache, mmap_mode="c")
    return ImageSet(torch.from_numpy(images), None, f"{name}-{split}-{images.shape[-1]}", checksum)


# ----------------------------------------------------------------------------------------------- loaders


def load_ffhq(root: Path | str | None = None, split: str = "train", resolution: int = 0) -> ImageSet:
    """FFHQ `split` at `resolution` (0 = the source's) as uint8 (N, 3, R, R), via the memory-mapped cache."""
    root = resolve_root(root)
    source, files = ffhq_files(root, split, resolution)
    return _cached("ffhq", split, source, resolution, files, root / "ffhq", lambda: _ffhq_md5s(root / "ffhq", source))


def load_celebahq(root: Path | str | None = None, split: str = "train", resolution: int = 0) -> ImageSet:
    """CelebA-HQ at `resolution` (0 = the images' own) as uint8 (30000, 3, R, R), via the memory-mapped cache."""
    root = resolve_root(root)
    files = celebahq_files(root, split)
    return _cached("celebahq", split, "images", resolution, files, root / "celebahq")


def fetch_ffhq(root: Path | str | None = None) -> Path:
    """`gbench data fetch ffhq`: check the files on disk (no automatic download: see the module docstring)."""
    root = resolve_root(root)
    ffhq_files(root, "train", 0)
    return root / "ffhq"


def fetch_celebahq(root: Path | str | None = None) -> Path:
    """`gbench data fetch celebahq`: with `<root>/CelebAMask-HQ.zip` placed by hand, verify its md5 and move its
    CelebA-HQ-img/ (0.jpg .. 29999.jpg) to `<root>/celebahq`; then check the images (no download: module docstring)."""
    root = resolve_root(root)
    folder, archive = root / "celebahq", root / "CelebAMask-HQ.zip"
    if not folder.exists() and archive.is_file():
        remote = DATASETS["celebahq"].remotes[0]
        actual = file_digests(archive, ("md5",))["md5"]
        if actual != remote.md5:
            raise GBenchError(f"{archive} has md5 {actual}, expected {remote.md5}; replace it with a good copy and run "
                              f"`{fetch_command('celebahq', root)}`")
        staging = root / ".celebamask-hq"
        try:
            extract_archive(archive, staging, "CelebAMask-HQ")
            images = staging / "CelebAMask-HQ" / "CelebA-HQ-img"
            if not images.is_dir():
                raise GBenchError(f"{archive} has no CelebAMask-HQ/CelebA-HQ-img/ folder; is it CelebAMask-HQ.zip?")
            os.replace(images, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    celebahq_files(root, "train")
    return folder
