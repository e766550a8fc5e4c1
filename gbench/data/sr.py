"""Super-resolution data: HR training images (DIV2K, any folder, procedural), the Set5/Set14/BSD100 test sets
from the EDSR `benchmark.tar`, and a mini test set of the photos bundled with scikit-image.

How LR images are made (the `lr_source` string of every set goes into the SR protocol fingerprints):

- The EDSR benchmark archive ships `benchmark/<Set>/LR_bicubic/X4/<name>x4.png`, made with MATLAB `imresize`
  (bicubic, antialiased). When every image of a set has one, those files are used as they are.
- Everywhere else (training crops, any folder, the scikit-image set, a benchmark set without LR files) LR =
  `torch.nn.functional.interpolate(hr, scale_factor=1/4, mode="bicubic", antialias=True, align_corners=False)`,
  rounded to uint8. With `antialias=True` torch uses the Keys cubic with a = -0.5 stretched by the scale factor,
  the kernel of PIL's `BICUBIC` and of MATLAB's `imresize`; at the borders torch and PIL renormalise the cut
  kernel while MATLAB mirrors the image. Measured on astronaut (512x512 -> 128x128): mean |torch - PIL| 0.10
  grey levels. (Without antialias torch's bicubic is a = -0.75 and does not widen the kernel: not used.)
- The bicubic baseline upscales with the same call (`scale_factor=4`, antialias=True: the a = -0.5 kernel).

HR images are cropped to a multiple of the scale, keeping the top-left corner (EDSR's `hr[:h_lr*s, :w_lr*s]`,
BasicSR's `mod_crop`). Grey images are replicated to three channels (EDSR's `set_channel`, OpenCV's
`IMREAD_COLOR`), so Y is computed from (v, v, v) as those pipelines do.

Training images are held in memory as one flat uint8 buffer (`PackedImages`, images of any size) so that a
batch of random crops is one gather, without a Python loop over the batch. DIV2K train HR is ~6.6 GB this way.

Substitution: the SRGAN paper trained on 350k ImageNet images; gbench trains on DIV2K's 800 train HR images
(ImageNet needs a licence; DIV2K is the standard SR training set since 2017).
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gbench.data.download import DATASETS, download, extract_archive, fetch_command, require_files, resolve_root
from gbench.errors import GBenchError, UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
TORCH_BICUBIC = "torch bicubic antialias=True (Keys a=-0.5, like PIL BICUBIC / MATLAB imresize; renormalised borders), rounded to uint8"
BENCHMARK_LR_FILES = "LR_bicubic/X{scale} PNGs shipped in the EDSR benchmark.tar (MATLAB imresize bicubic)"
BENCHMARK_FOLDERS = {"Set5": "Set5", "Set14": "Set14", "BSD100": "B100", "B100": "B100", "Urban100": "Urban100"}
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
PROCEDURAL_SIDE = 128  # side of procedural HR images (at least twice the crop)
PROCEDURAL_VERSION = 1  # bump when the rendering changes (it is part of the checksum)


# ----------------------------------------------------------------------------- resizing


def bicubic_resize(images: torch.Tensor, scale_factor: float) -> torch.Tensor:
    """Float images (B, C, H, W) in [0, 1] resized by `scale_factor` with the antialiased a=-0.5 bicubic, clamped."""
    return F.interpolate(images, scale_factor=scale_factor, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def downscale_uint8(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """uint8 HR (B, C, H, W) -> uint8 LR (B, C, H/scale, W/scale): the training and fallback test LR."""
    if hr.shape[-1] % scale or hr.shape[-2] % scale:
        raise ValueError(f"HR size {tuple(hr.shape[-2:])} is not a multiple of the scale {scale}")
    return bicubic_resize(hr.float() / 255, 1 / scale).mul(255).round().to(torch.uint8)


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop an H x W (x C) image to multiples of `scale`, keeping the top-left corner."""
    h, w = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    if h == 0 or w == 0:
        raise GBenchError(f"image of {image.shape[0]}x{image.shape[1]} pixels is smaller than the scale {scale}")
    return image[:h, :w]


def read_rgb(path: Path) -> np.ndarray:
    """uint8 H x W x 3 (grey replicated, alpha dropped)."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise GBenchError(f"cannot read image {path}: {exc}") from None


def image_files(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise GBenchError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GBenchError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


# ----------------------------------------------------------------------------- test sets


@dataclass
class SRTestSet:
    """A named SR test set: uint8 H x W x 3 pairs with HR = scale x LR exactly."""

    name: str
    names: list[str]
    hr: list[np.ndarray]
    lr: list[np.ndarray]
    scale: int
    lr_source: str
    checksum: str = ""

    def __post_init__(self) -> None:
        for name, hr, lr in zip(self.names, self.hr, self.lr):
            if hr.shape != (lr.shape[0] * self.scale, lr.shape[1] * self.scale, 3):
                raise GBenchError(f"{self.name}/{name}: HR {hr.shape[:2]} is not {self.scale}x the LR {lr.shape[:2]}")
        if not self.checksum:
            h = hashlib.sha256(f"{self.name}|x{self.scale}|{self.lr_source}".encode())
            for name, hr, lr in zip(self.names, self.hr, self.lr):
                h.update(name.encode())
                h.update(np.ascontiguousarray(hr).tobytes())
                h.update(np.ascontiguousarray(lr).tobytes())
            self.checksum = h.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.hr)


def make_lr(hr_images: list[np.ndarray], scale: int) -> list[np.ndarray]:
    """LR by the torch bicubic (one image at a time: sizes differ)."""
    return [downscale_uint8(torch.from_numpy(np.array(hr)).permute(2, 0, 1)[None], scale)[0].permute(1, 2, 0).numpy()
            for hr in hr_images]


def hr_test_set(name: str, names: list[str], hr_images: list[np.ndarray], scale: int) -> SRTestSet:
    hr = [np.ascontiguousarray(modcrop(im, scale)) for im in hr_images]
    return SRTestSet(name, names, hr, make_lr(hr, scale), scale, TORCH_BICUBIC)


def load_folder_test_set(folder: Path | str, scale: int = 4, name: str = "") -> SRTestSet:
    """Any folder of HR images as a test set (LR made with the torch bicubic)."""
    files = image_files(Path(folder))
    return hr_test_set(name or Path(folder).name, [p.stem for p in files], [read_rgb(p) for p in files], scale)


def load_benchmark_set(root: Path | str | None, name: str, scale: int = 4) -> SRTestSet:
    """Set5 / Set14 / BSD100 (B100) / Urban100 from the EDSR layout `benchmark/<Set>/HR/*.png`
    (+ `LR_bicubic/X<scale>/<stem>x<scale>.png`, used when present for every image)."""
    if name not in BENCHMARK_FOLDERS:
        raise UsageError(f"unknown SR benchmark set {name!r}; known: {', '.join(BENCHMARK_FOLDERS)}")
    root = resolve_root(root)
    folder = root / "benchmark" / BENCHMARK_FOLDERS[name]
    require_files("sr-benchmark", root, [f"benchmark/{BENCHMARK_FOLDERS[name]}/HR"])
    files = image_files(folder / "HR")
    names = [p.stem for p in files]
    hr = [np.ascontiguousarray(modcrop(read_rgb(p), scale)) for p in files]
    lr_files = [folder / "LR_bicubic" / f"X{scale}" / f"{stem}x{scale}.png" for stem in names]
    present = [p.is_file() for p in lr_files]
    if not any(present):
        return SRTestSet(name, names, hr, make_lr(hr, scale), scale, TORCH_BICUBIC)
    if not all(present):
        missing = lr_files[present.index(False)]
        raise GBenchError(f"{name}: {missing} is missing while other LR_bicubic/X{scale} files exist; re-extract the benchmark archive")
    lr = [read_rgb(p) for p in lr_files]
    for stem, h, low in zip(names, hr, lr):
        if h.shape[:2] != (low.shape[0] * scale, low.shape[1] * scale):
            raise GBenchError(f"{name}/{stem}: LR file is {low.shape[1]}x{low.shape[0]}, HR (cropped to x{scale}) is {h.shape[1]}x{h.shape[0]}")
    return SRTestSet(name, names, hr, lr, scale, BENCHMARK_LR_FILES.format(scale=scale))


def load_skimage_set(scale: int = 4) -> SRTestSet:
    """The mini test set: colour photos bundled inside scikit-image (offline), cropped to multiples of `scale`."""
    import skimage.data

    return hr_test_set("skimage", list(SKIMAGE_PHOTOS), [getattr(skimage.data, n)() for n in SKIMAGE_PHOTOS], scale)


# ----------------------------------------------------------------------------- training images


@dataclass
class PackedImages:
    """Images of any size in one flat uint8 buffer (C x H x W each, back to back)."""

    data: torch.Tensor  # uint8, 1-D
    offsets: torch.Tensor  # int64 (N,): start of each image in `data`
    heights: torch.Tensor  # int64 (N,)
    widths: torch.Tensor  # int64 (N,)
    name: str = ""
    checksum: str = ""

    def __len__(self) -> int:
        return len(self.offsets)

    @classmethod
    def from_tensor(cls, images: torch.Tensor, name: str, checksum: str) -> "PackedImages":
        n, c, h, w = images.shape
        return cls(images.reshape(-1).contiguous(), torch.arange(n) * (c * h * w), torch.full((n,), h), torch.full((n,), w), name, checksum)

    def random_crops(self, indices: torch.Tensor, size: int) -> torch.Tensor:
        """uint8 (B, 3, size, size): one crop per index at a uniform random position (global torch RNG)."""
        h, w, start = self.heights[indices], self.widths[indices], self.offsets[indices]
        if bool((h < size).any() or (w < size).any()):
            raise GBenchError(f"{self.name}: an image is smaller than the {size}x{size} training crop")
        top = (torch.rand(len(indices)) * (h - size + 1)).long()
        left = (torch.rand(len(indices)) * (w - size + 1)).long()
        span = torch.arange(size)
        rows = (top[:, None] + span)[:, None, :, None]  # (B, 1, size, 1)
        cols = (left[:, None] + span)[:, None, None, :]  # (B, 1, 1, size)
        channel = torch.arange(3)[None, :, None, None]
        flat = start[:, None, None, None] + (channel * h[:, None, None, None] + rows) * w[:, None, None, None] + cols
        return self.data[flat]


def _read_into(path: Path, buffer: torch.Tensor, offset: int, shape: tuple[int, int]) -> None:
    image = read_rgb(path)
    if image.shape[:2] != shape:
        raise GBenchError(f"{path} changed size while loading")
    buffer[offset : offset + image.size] = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).reshape(-1)


def load_packed_folder(folder: Path | str, name: str = "", min_side: int = 0) -> PackedImages:
    """Every image of a folder, decoded straight into one preallocated buffer (threads overlap the PNG decoding).
    The checksum covers file names and byte sizes (hashing GBs of training PNGs each run would be slow)."""
    files = image_files(Path(folder))
    sizes = []
    for p in files:
        with Image.open(p) as im:
            sizes.append((im.height, im.width))
    small = [p.name for p, (h, w) in zip(files, sizes) if min(h, w) < min_side]
    if small:
        raise GBenchError(f"{len(small)} images in {folder} are smaller than the {min_side}x{min_side} crop (e.g. {small[0]})")
    heights = torch.tensor([h for h, _ in sizes], dtype=torch.int64)
    widths = torch.tensor([w for _, w in sizes], dtype=torch.int64)
    counts = 3 * heights * widths
    offsets = torch.cumsum(counts, 0) - counts
    data = torch.empty(int(counts.sum()), dtype=torch.uint8)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda i: _read_into(files[i], data, int(offsets[i]), sizes[i]), range(len(files))))
    digest = hashlib.sha256("|".join(f"{p.name}:{p.stat().st_size}" for p in files).encode()).hexdigest()[:16]
    return PackedImages(data, offsets, heights, widths, name or Path(folder).name, digest)


def procedural_hr_images(n: int, side: int = PROCEDURAL_SIDE, seed: int = 0, chunk: int = 8) -> torch.Tensor:
    """`n` uint8 (3, side, side) images with edges and textures for smoke training: a two-colour gradient with
    faint stripes, overlaid by 12 rotated ellipses, rectangles and thin bars, some striped at up to 48 cycles per image.
    Rendered at 2x and area-downsampled (antialiased edges). A pure function of (n, side, seed)."""
    out = []
    for first in range(0, n, chunk):  # chunks bound the (b, shapes, 2side, 2side) temporaries
        g = torch.Generator().manual_seed(seed * 1_000_003 + first)
        b, k, s = min(chunk, n - first), 12, 2 * side
        rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
        coord = (torch.arange(s) + 0.5) / s
        y, x = coord[None, :, None], coord[None, None, :]

        def stripes(freq, theta, phase):  # (b, ...) parameters -> (b, s, s) in [-1, 1]
            return torch.sin(2 * math.pi * freq * (x * torch.cos(theta) + y * torch.sin(theta)) + phase)

        direction = rand(b) * 2 * math.pi
        ramp = (x - 0.5) * torch.cos(direction)[:, None, None] + (y - 0.5) * torch.sin(direction)[:, None, None] + 0.5
        c0, c1 = rand(b, 3, 1, 1), rand(b, 3, 1, 1)
        background = c0 + (c1 - c0) * ramp[:, None]
        background = background + 0.08 * stripes(*(v[:, None, None] for v in (2 + 10 * rand(b), rand(b) * math.pi, rand(b) * 6.3)))[:, None]

        cx, cy, angle = rand(b, k, 1, 1), rand(b, k, 1, 1), rand(b, k, 1, 1) * math.pi
        rx, ry = 0.03 + 0.2 * rand(b, k, 1, 1), 0.03 + 0.2 * rand(b, k, 1, 1)
        kind = torch.randint(0, 3, (b, k, 1, 1), generator=g)
        dx, dy = x[None] - cx, y[None] - cy
        u, v = dx * torch.cos(angle) + dy * torch.sin(angle), dy * torch.cos(angle) - dx * torch.sin(angle)  # rotated frame
        disc = (u / rx) ** 2 + (v / ry) ** 2 <= 1
        rect = (u.abs() <= rx) & (v.abs() <= ry)
        bar = (u.abs() <= 0.004 + 0.1 * rx * ry) & (v.abs() <= 2 * ry)  # thin lines, 1 to 5 HR pixels wide at side 128
        inside = torch.where(kind == 0, disc, torch.where(kind == 1, rect, bar))  # (b, k, s, s)
        top = (inside * torch.arange(1, k + 1)[None, :, None, None]).amax(1)  # painter's order: last shape wins; 0 = none
        idx = (top - 1).clamp(min=0)

        def per_pixel(values):  # (b, k) shape parameters -> (b, s, s) values of the topmost shape
            return values.gather(1, idx.flatten(1)).view(b, s, s)

        colour = rand(b, k, 3)
        shape_colour = torch.stack([per_pixel(colour[..., c]) for c in range(3)], 1)
        amplitude = rand(b, k) * 0.35 * (rand(b, k) < 0.6)
        pattern = stripes(per_pixel(8 + 40 * rand(b, k)), per_pixel(rand(b, k) * math.pi), per_pixel(rand(b, k) * 6.3))
        foreground = shape_colour + (per_pixel(amplitude) * pattern)[:, None]
        image = torch.where((top > 0)[:, None], foreground, background)
        out.append(F.avg_pool2d(image, 2).clamp(0, 1).mul(255).round().to(torch.uint8))
    return torch.cat(out)


def load_sr_training_images(dataset: str, split: str = "train", *, root: str | Path = "", size: int = 0,
                            min_side: int = 0) -> PackedImages:
    """HR training images by `data.dataset`: "div2k" (split train|valid), "sr-procedural" (`size` images,
    default 64), or "folder:<path>" (every image in that folder)."""
    if dataset == "sr-procedural":
        n, side = size or 64, max(PROCEDURAL_SIDE, 2 * min_side)
        images = procedural_hr_images(n, side)
        checksum = hashlib.sha256(f"sr-procedural-v{PROCEDURAL_VERSION}-{n}-{side}".encode()).hexdigest()[:16]
        return PackedImages.from_tensor(images, "sr-procedural", checksum)
    if dataset == "div2k":
        if split not in ("train", "valid"):
            raise UsageError(f"DIV2K split must be train or valid, got {split!r}")
        base = resolve_root(root or None)
        require_files("div2k", base, [f"DIV2K/DIV2K_{split}_HR"])
        return load_packed_folder(base / "DIV2K" / f"DIV2K_{split}_HR", f"div2k-{split}-hr", min_side)
    if dataset.startswith("folder:"):
        return load_packed_folder(Path(dataset.removeprefix("folder:")).expanduser(), min_side=min_side)
    raise UsageError(f"unknown super-resolution training set {dataset!r}; use div2k, sr-procedural or folder:<path>")


# ----------------------------------------------------------------------------- downloads


def fetch_sr_benchmark(root: Path | str | None = None) -> Path:
    """Download the EDSR `benchmark.tar` (Set5, Set14, B100, Urban100 with HR and LR_bicubic) and extract it."""
    root = resolve_root(root)
    info = DATASETS["sr-benchmark"]
    if all((root / rel).exists() for rel in info.expected):
        return root / "benchmark"
    remote = info.remotes[0]
    archive = download(remote.urls, root / remote.filename, md5=remote.md5, command=fetch_command("sr-benchmark", root))
    return extract_archive(archive, root, "benchmark")


def fetch_div2k(root: Path | str | None = None) -> Path:
    """Download `DIV2K_train_HR.zip` (800 PNGs, md5-verified) and extract it to `DIV2K/DIV2K_train_HR`."""
    root = resolve_root(root)
    info = DATASETS["div2k"]
    if all((root / rel).exists() for rel in info.expected):
        return root / "DIV2K"
    remote = info.remotes[0]
    archive = download(remote.urls, root / info.archive_dir / remote.filename, md5=remote.md5, command=fetch_command("div2k", root))
    return extract_archive(archive, root / "DIV2K", "DIV2K_train_HR")

