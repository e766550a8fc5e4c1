"""Captioned image sets for the text-to-image GAN (Reed et al. 2016): CUB-200-2011 and Oxford-102 with the
authors' char-CNN-RNN caption embeddings, the captioned shapes32 smoke set, and the official batch sampling.

Layout under the data root (what the official archives extract to; ``scripts/train_cub.sh`` + ``CONFIG``):
  CUB      ``CUB_200_2011/images/<class>/<name>.jpg`` (CUB_200_2011.tgz) and ``cub_icml/`` (cub_icml.tar.gz)
  Oxford   ``oxford102/jpg/image_<n>.jpg`` (102flowers.tgz, extracted into ``oxford102/``) and ``flowers_icml/``
The caption folders hold one sub-folder per class (``001.Black_footed_Albatross``, ``class_00001``, ...) with one
Torch7 ``.t7`` file per image, and the class lists ``trainvalclasses.txt``, ``testclasses.txt`` (also
``trainclasses.txt`` / ``valclasses.txt``): the authors' zero-shot split by class (CUB 150 train+val / 50 test
classes, Oxford 82 / 20). The official loader (``data/donkey_folder_txt.lua``) reads ``allclasses.txt`` and
``trainvalids.txt`` (1-based line numbers into it): the same train+val classes. Each ``.t7`` file is a table
  ``img``  the image path relative to the image folder (CUB: ``<class>/<name>.jpg``),
  ``txt``  FloatTensor (captions, 1024): one char-CNN-RNN embedding per caption (10 per image in the release),
  ``char`` ByteTensor (201, captions): the captions as 1-based indices into ``ALPHABET`` (0 = padding).
They are read with ``gbench.data.t7``, a strict parser of the Torch7 binary format that builds numpy arrays and
dicts, runs nothing from the file and checks every length (see there why not the ``torchfile`` package). The image path is
resolved against the image folder, trying each suffix of ``img`` (so ``jpg/image_00001.jpg`` and ``image_00001.jpg``
both resolve under Oxford's ``oxford102/jpg``).

Images are decoded with PIL (RGB, as Torch's ``image.load(path, 3)``) and resized to ``load_size`` x ``load_size``
(76 for training, the official ``loadSize``; the aspect ratio is not kept, as ``image.scale(img, 76, 76)``) with PIL
bilinear, which antialiases where Torch's ``image.scale`` does not. Birds are not cropped to their bounding boxes
(the official GAN-INT-CLS loader does not; StackGAN does).

Sampling (``sample_training_batch``) follows ``trainLoader:sample_no_repl`` (the scripts set ``replicate=0``):
each real image is drawn by picking a class uniformly and then an image of it uniformly (not uniformly over
images); its conditioning is the mean of ``num_captions`` (4) of its caption embeddings drawn with replacement;
the mismatched ("wrong") image is drawn the same way from a *different class* (the code draws two distinct
classes per sample), so a caption is never paired with an image of its own class; real and wrong images each get
a random 64x64 crop of the 76x76 image and a horizontal flip with probability 0.5.

The smoke set (``load_captioned_shapes``) is shapes32 with template captions built from each image's drawn
attributes ("a large red triangle on a dark narrow-striped background", five per image) and embedded by
``SmokeTextEncoder``, a deterministic hashed bag of words and word pairs into 1024 dimensions (not a learned
encoder: it only lets conditioning, mismatched pairs and interpolation run on a CPU).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from gbench.data.base import ImageSet
from gbench.data.download import DATASETS, download, extract_archive, fetch_command, require_files, resolve_root
from gbench.data.t7 import T7Error, load_t7
from gbench.errors import GBenchError

EMBEDDING_DIM = 1024
# The official alphabet (icml2016 data/donkey_folder_txt.lua): index i >= 1 is ALPHABET[i - 1]; 0 pads.
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "
LOAD_SIZE = 76  # official loadSize
CROP_SIZE = 64  # official fineSize
NUM_CAPTIONS = 4  # official numCaption in train_cub.sh / train_flowers.sh
VERSION = 1  # bump when decoding, resizing or captioning changes: it is part of the checksum


@dataclass(frozen=True)
class CaptionSource:
    """Where one real captioned dataset lives under the data root."""

    name: str
    title: str
    image_dir: str  # relative to the data root
    caption_dir: str  # relative to the data root: class folders of .t7 files + class lists
    classes: dict  # split -> number of classes in the authors' split


SOURCES = {
    "cub": CaptionSource("cub", "CUB-200-2011 captions", "CUB_200_2011/images", "cub_icml",
                         {"trainval": 150, "test": 50, "train": 100, "val": 50}),
    "flowers": CaptionSource("flowers", "Oxford-102 captions", "oxford102/jpg", "flowers_icml",
                             {"trainval": 82, "test": 20, "train": 62, "val": 20}),
}
SPLIT_FILES = {"trainval": "trainvalclasses.txt", "test": "testclasses.txt", "train": "trainclasses.txt", "val": "valclasses.txt"}


@dataclass
class CaptionedImageSet:
    """Images with several captions each. Caption embeddings are flat (M, E); image i owns rows
    ``caption_offsets[i]:caption_offsets[i + 1]`` (at least one). ``labels`` index ``class_names``."""

    images: torch.Tensor  # uint8 (N, C, S, S)
    labels: torch.Tensor  # int64 (N,)
    embeddings: torch.Tensor  # float32 (M, E)
    caption_offsets: torch.Tensor  # int64 (N + 1,)
    class_names: tuple
    captions: tuple | None = None  # M caption strings, or None when the source has no text
    name: str = ""
    checksum: str = ""

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"{self.name}: images must be uint8 (N, C, H, W)")
        if self.labels.shape != (n,) or self.caption_offsets.shape != (n + 1,):
            raise ValueError(f"{self.name}: {n} images but labels {tuple(self.labels.shape)}, offsets {tuple(self.caption_offsets.shape)}")
        counts = self.caption_offsets.diff()
        if n and (counts.min() < 1 or self.caption_offsets[0] != 0 or self.caption_offsets[-1] != len(self.embeddings)):
            raise ValueError(f"{self.name}: every image needs at least one caption and the offsets must cover the embeddings")
        if self.captions is not None and len(self.captions) != len(self.embeddings):
            raise ValueError(f"{self.name}: {len(self.captions)} captions for {len(self.embeddings)} embeddings")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def embedding_dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def caption_image(self) -> torch.Tensor:
        """(M,) the image index of every caption."""
        return torch.repeat_interleave(torch.arange(len(self)), self.caption_offsets.diff())

    def image_set(self) -> ImageSet:
        """The images alone (e.g. the reference set of an evaluation protocol)."""
        return ImageSet(self.images, self.labels, self.name, self.checksum)


# ------------------------------------------------------------------------------------------ .t7 caption files


class CaptionRecord(NamedTuple):
    image: str  # path relative to the image folder, as stored
    embeddings: np.ndarray  # float32 (captions, E)
    captions: tuple | None  # decoded text, when the file has the `char` field


def decode_chars(codes: np.ndarray) -> tuple[str, ...]:
    """(captions, length) 1-based alphabet indices (0 = padding) -> caption strings."""
    table = np.array(["", *ALPHABET], dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and (codes.min() < 0 or codes.max() > len(ALPHABET)):
        raise ValueError(f"character codes outside 0..{len(ALPHABET)}")
    return tuple("".join(row) for row in table[codes])


def read_caption_t7(path: Path | str) -> CaptionRecord:
    """One per-image ``.t7`` table of the authors' release -> (image path, embeddings, captions or None).
    Unreadable files and wrong contents are one-line GBenchErrors naming the file."""
    path = Path(path)
    try:
        table = load_t7(path)
    except (T7Error, OSError) as e:
        raise GBenchError(f"corrupt caption file {path}: {e}") from None
    if not isinstance(table, dict) or "img" not in table or "txt" not in table:
        raise GBenchError(f"caption file {path} is not a table with 'img' and 'txt' fields (the cub_icml / flowers_icml format)")
    image, embeddings = table["img"], table["txt"]
    if not isinstance(image, str) or not isinstance(embeddings, np.ndarray) or embeddings.ndim != 2 or len(embeddings) == 0:
        raise GBenchError(f"caption file {path}: expected 'img' a path and 'txt' a (captions, embedding_dim) tensor")
    embeddings = embeddings.astype(np.float32)
    captions = None
    chars = table.get("char")
    if chars is not None:
        n = len(embeddings)
        if isinstance(chars, np.ndarray) and chars.ndim == 2 and chars.shape[1] == n and chars.shape[0] != n:
            chars = chars.T  # the release stores (length, captions): one caption per column
        if not isinstance(chars, np.ndarray) or chars.ndim != 2 or chars.shape[0] != n:
            raise GBenchError(f"caption file {path}: 'char' does not hold {n} captions")
        try:
            captions = decode_chars(chars)
        except ValueError as e:
            raise GBenchError(f"caption file {path}: {e}") from None
    return CaptionRecord(image, embeddings, captions)


def read_class_list(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise GBenchError(f"class list {path} is empty")
    return names


def resolve_image(image_dir: Path, stored: str) -> Path:
    """The file a record's ``img`` names: ``image_dir / suffix`` for the longest suffix of the stored path that exists."""
    parts = Path(stored).parts
    for k in range(len(parts)):
        candidate = image_dir.joinpath(*parts[k:])
        if candidate.is_file():
            return candidate
    raise GBenchError(f"image {stored!r} named by a caption file is not under {image_dir}; is the image archive extracted there?")


def _decode_resize(path: Path, size: int) -> tuple[np.ndarray, bytes]:
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
    except (OSError, SyntaxError) as e:
        raise GBenchError(f"cannot decode image {path}: {e}") from None
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.BILINEAR)
    return np.asarray(rgb), data


def load_text2image(name: str, root: Path | str | None = None, split: str = "trainval", load_size: int = LOAD_SIZE,
                    limit: int = 0) -> CaptionedImageSet:
    """The real set ``name`` ("cub" or "flowers"), split "trainval" (training), "test", "train" or "val", with images
    at ``load_size`` and every caption embedding. ``limit`` > 0 keeps the first files of each class (tests, quick looks)."""
    if name not in SOURCES:
        raise GBenchError(f"unknown captioned dataset {name!r}; known: {', '.join(SOURCES)}")
    if split not in SPLIT_FILES:
        raise GBenchError(f"{name} split must be one of {', '.join(SPLIT_FILES)}, got {split!r}")
    source = SOURCES[name]
    root = resolve_root(root)
    image_dir = root / source.image_dir
    require_files(name, root, [source.image_dir, f"{source.caption_dir}/{SPLIT_FILES[split]}"])
    digest = hashlib.sha256(f"text2image-v{VERSION}-{name}-{split}-{load_size}-bilinear-limit{limit}".encode())
    class_names, records, labels = _caption_records(name, root, split, limit, digest)

    paths = [resolve_image(image_dir, r.image) for r in records]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        decoded = list(pool.map(lambda p: _decode_resize(p, load_size), paths))
    for path, (_, data) in zip(paths, decoded):
        digest.update(path.name.encode() + hashlib.sha256(data).digest())
    images = torch.from_numpy(np.stack([d[0] for d in decoded])).permute(0, 3, 1, 2).contiguous()
    counts = torch.tensor([len(r.embeddings) for r in records])
    captions = None
    if all(r.captions is not None for r in records):
        captions = tuple(c for r in records for c in r.captions)
    return CaptionedImageSet(
        images=images, labels=torch.tensor(labels, dtype=torch.int64),
        embeddings=torch.from_numpy(np.concatenate([r.embeddings for r in records])),
        caption_offsets=torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)]),
        class_names=tuple(class_names), captions=captions, name=f"{name}-{split}-{load_size}", checksum=digest.hexdigest()[:16],
    )


def _caption_records(name: str, root: Path, split: str, limit: int, digest) -> tuple[list[str], list[CaptionRecord], list[int]]:
    """(class names, one record per .t7 file in class then file-name order, class index of each); `digest` is updated
    with every file's name and bytes."""
    source = SOURCES[name]
    captions_dir = root / source.caption_dir
    class_names = read_class_list(captions_dir / SPLIT_FILES[split])
    records, labels = [], []
    for label, class_name in enumerate(class_names):
        folder = captions_dir / class_name
        files = sorted(folder.glob("*.t7")) if folder.is_dir() else []
        if not files:
            raise GBenchError(f"{source.title}: no .t7 files in {folder} (class {class_name} of {SPLIT_FILES[split]}); "
                              f"re-extract the caption archive with `{fetch_command(name, root)}`")
        for path in files[: limit or None]:  # parsing is per file; the numeric work is batched by the callers
            digest.update(f"{class_name}/{path.name}".encode() + hashlib.sha256(path.read_bytes()).digest())
            records.append(read_caption_t7(path))
            labels.append(label)
    dims = {r.embeddings.shape[1] for r in records}
    if len(dims) != 1:
        raise GBenchError(f"{source.title}: caption embeddings of different sizes {sorted(dims)} in {captions_dir}")
    return class_names, records, labels


def _fetch(name: str, root: Path | str | None, image_top: str, image_dest: str, caption_counts: dict[str, int]) -> Path:
    """Images: downloaded with their md5 and extracted. Captions: the authors' Google-Drive archive has no published
    checksum, so gbench extracts a copy the user downloaded and checks the class and file counts instead."""
    root = resolve_root(root)
    info, source = DATASETS[name], SOURCES[name]
    images_remote, captions_remote = info.remotes
    if not (root / source.image_dir).is_dir():
        archive = download(images_remote.urls, root / images_remote.filename, md5=images_remote.md5, command=fetch_command(name, root))
        extract_archive(archive, root / image_dest, image_top)
    captions_dir = root / source.caption_dir
    if not (captions_dir / SPLIT_FILES["trainval"]).is_file():
        archive = root / captions_remote.filename
        if not archive.is_file():
            raise GBenchError(f"{info.title}: {captions_remote.filename} has no published checksum, so gbench does not download it "
                              f"unverified; download it by hand from {info.manual} into {root} and run `{fetch_command(name, root)}` again")
        extract_archive(archive, root, source.caption_dir)
    found = {split: len(read_class_list(captions_dir / SPLIT_FILES[split])) for split in ("trainval", "test")}
    files = sum(1 for _ in captions_dir.glob("*/*.t7"))
    expected = {split: source.classes[split] for split in found}
    if found != expected or files != caption_counts["files"]:
        raise GBenchError(f"{info.title}: {captions_dir} has {found} classes and {files} .t7 files, expected {expected} and "
                          f"{caption_counts['files']}; is it the authors' {captions_remote.filename}?")
    return captions_dir


def fetch_cub(root: Path | str | None = None) -> Path:
    """CUB_200_2011.tgz (md5-verified download) + a hand-downloaded cub_icml.tar.gz, extracted and counted."""
    return _fetch("cub", root, "CUB_200_2011", "", {"files": 11_788})


def fetch_flowers(root: Path | str | None = None) -> Path:
    """102flowers.tgz (md5-verified download, extracted into oxford102/) + a hand-downloaded flowers_icml.tar.gz."""
    return _fetch("flowers", root, "jpg", "oxford102", {"files": 8_189})


# ------------------------------------------------------------------------------------------ smoke set


TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class SmokeTextEncoder:
    """A deterministic stand-in for the char-CNN-RNN: a caption's embedding is the L2-normalised sum of fixed
    random Gaussian vectors, one per lower-cased word and per pair of adjacent words; each vector is drawn from a
    generator seeded by blake2b(token, seed). Any text gets an embedding (unknown words included); equal text,
    seed and dim give equal embeddings on every machine."""

    def __init__(self, dim: int = EMBEDDING_DIM, seed: int = 0):
        self.dim, self.seed = dim, seed
        self._vectors: dict[str, torch.Tensor] = {}

    def _vector(self, token: str) -> torch.Tensor:
        if token not in self._vectors:
            key = hashlib.blake2b(f"{self.seed}\0{token}".encode(), digest_size=8).digest()
            g = torch.Generator().manual_seed(int.from_bytes(key, "little") & ((1 << 63) - 1))
            self._vectors[token] = torch.randn(self.dim, generator=g)
        return self._vectors[token]

    def encode_one(self, caption: str) -> torch.Tensor:
        words = TOKEN.findall(caption.lower())
        tokens = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
        if not tokens:
            return torch.zeros(self.dim)
        total = torch.stack([self._vector(t) for t in tokens]).sum(0)
        return total / total.norm().clamp_min(1e-12)

    def __call__(self, captions) -> torch.Tensor:
        """list of strings -> float32 (len, dim). Each distinct caption is encoded once."""
        captions = [captions] if isinstance(captions, str) else list(captions)
        unique = sorted(set(captions))
        table = torch.stack([self.encode_one(c) for c in unique]) if unique else torch.zeros(0, self.dim)
        index = {c: i for i, c in enumerate(unique)}
        return table[torch.tensor([index[c] for c in captions], dtype=torch.int64)]


SHAPE_WORDS = ("disk", "square", "triangle", "diamond", "plus sign", "ring", "cross", "frame", "ellipse", "half disk")
HUE_NAMES = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
HUE_EDGES = (15.0, 45.0, 70.0, 160.0, 200.0, 260.0, 290.0, 335.0)  # upper hue bound (degrees) of each name; red wraps
TEMPLATES = (
    "a {size} {colour} {shape} on a {background} background",
    "a {colour} {shape} over {background} stripes",
    "this {shape} is {colour} and {size}",
    "the picture shows a {size} {shape} coloured {colour}",
    "a {colour} {shape} with a {background} background",
)


def colour_names(rgb: torch.Tensor) -> list[str]:
    """(N, 3) RGB in [0, 1] -> the nearest of HUE_NAMES by hue, or white / grey when nearly unsaturated."""
    top, low = rgb.max(1).values, rgb.min(1).values
    chroma = top - low
    r, g, b = rgb.unbind(1)
    safe = chroma.clamp_min(1e-6)
    hue = torch.where(top == r, ((g - b) / safe) % 6, torch.where(top == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    bucket = torch.bucketize(hue, torch.tensor(HUE_EDGES)) % len(HUE_NAMES)
    grey = chroma < 0.12
    return [("white" if t > 0.75 else "grey") if is_grey else HUE_NAMES[k]
            for is_grey, t, k in zip(grey.tolist(), top.tolist(), bucket.tolist())]


def shape_captions(labels: torch.Tensor, attributes: dict) -> list[tuple[str, ...]]:
    """One tuple of len(TEMPLATES) captions per image, from its class and drawn attributes (gbench.data.shapes)."""
    colours = colour_names(attributes["colour"])
    sizes = torch.bucketize(attributes["size"], torch.tensor([0.48, 0.62])).tolist()
    dark = (attributes["background"].mean((1, 2)) < 0.4).tolist()
    width = torch.bucketize(attributes["frequency"], torch.tensor([2.67, 4.33])).tolist()
    out = []
    for label, colour, size, is_dark, w in zip(labels.tolist(), colours, sizes, dark, width):
        words = {"shape": SHAPE_WORDS[label], "colour": colour, "size": ("small", "medium", "large")[size],
                 "background": f"{'dark' if is_dark else 'light'} {('wide', 'medium', 'narrow')[w]}-striped"}
        out.append(tuple(t.format(**words) for t in TEMPLATES))
    return out


def load_captioned_shapes(size: int = 2048, split: str = "train", resolution: int = 32, embedding_dim: int = EMBEDDING_DIM,
                          encoder_seed: int = 0) -> CaptionedImageSet:
    """shapes32 with five template captions per image, embedded by SmokeTextEncoder(embedding_dim, encoder_seed)."""
    from gbench.data.shapes import CLASS_NAMES, load_shapes32_with_attributes

    shapes, attributes = load_shapes32_with_attributes(size, split, resolution)
    per_image = shape_captions(shapes.labels, attributes)
    captions = tuple(c for group in per_image for c in group)
    encoder = SmokeTextEncoder(embedding_dim, encoder_seed)
    offsets = torch.arange(len(shapes) + 1, dtype=torch.int64) * len(TEMPLATES)
    checksum = hashlib.sha256(f"captioned-shapes-v{VERSION}-{shapes.checksum}-{embedding_dim}-{encoder_seed}".encode()).hexdigest()[:16]
    return CaptionedImageSet(shapes.images, shapes.labels, encoder(captions), offsets, tuple(CLASS_NAMES), captions,
                             name=f"captioned-shapes-{split}", checksum=checksum)


# ------------------------------------------------------------------------------------------ official batch sampling


def class_uniform_indices(labels: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n image indices drawn as the official loader does: a class uniformly, then one of its images uniformly."""
    classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    order = torch.argsort(inverse, stable=True)  # image indices grouped by class
    starts = counts.cumsum(0) - counts
    cls = torch.randint(0, len(classes), (n,), generator=generator)
    offset = (torch.rand(n, generator=generator) * counts[cls]).long().clamp(max=counts[cls] - 1)
    return order[starts[cls] + offset]


def mismatched_indices(labels: torch.Tensor, indices: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each image index, an image of a different class: the class uniformly among the other classes of the set,
    then an image of it uniformly (the official ``sample_no_repl`` draws two distinct classes per sample)."""
    classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise GBenchError("mismatched (wrong-caption) pairs need at least two classes in the training set")
    order = torch.argsort(inverse, stable=True)
    starts = counts.cumsum(0) - counts
    own = inverse[indices]
    other = (own + torch.randint(1, len(classes), own.shape, generator=generator)) % len(classes)
    offset = (torch.rand(own.shape, generator=generator) * counts[other]).long().clamp(max=counts[other] - 1)
    return order[starts[other] + offset]


def mean_caption_embeddings(embeddings: torch.Tensor, caption_offsets: torch.Tensor, indices: torch.Tensor, num_captions: int = NUM_CAPTIONS,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, E): for each image index the mean of ``num_captions`` of its caption embeddings, drawn uniformly with
    replacement (the official loader draws each with ``randperm(#captions)[1]``; netR averages them)."""
    start, count = caption_offsets[indices], caption_offsets[indices + 1] - caption_offsets[indices]
    pick = (torch.rand(len(indices), num_captions, generator=generator) * count[:, None]).long().clamp(max=count[:, None] - 1)
    return embeddings[start[:, None] + pick].mean(1)


def random_crop_flip(images: torch.Tensor, crop: int, generator: torch.Generator | None = None, flip: bool = True) -> torch.Tensor:
    """uint8 (B, C, S, S) -> float (B, C, crop, crop) in [-1, 1]: one random crop position and a horizontal flip with
    probability 0.5 per image (the official ``trainHook``; ``flip=False`` draws the same numbers and flips nothing).
    crop == S keeps the whole image (flip only)."""
    b, _, s, _ = images.shape
    if not 0 < crop <= s:
        raise GBenchError(f"crop size {crop} must be in 1..{s} (the stored image size)")
    top = torch.randint(0, s - crop + 1, (b,), generator=generator)
    left = torch.randint(0, s - crop + 1, (b,), generator=generator)
    flip = (torch.rand(b, generator=generator) < 0.5) & flip
    rows = (top[:, None] + torch.arange(crop))[:, :, None]  # (B, crop, 1)
    cols = left[:, None] + torch.arange(crop)  # (B, crop)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]  # (B, 1, crop)
    out = images[torch.arange(b)[:, None, None], :, rows, cols]  # (B, crop, crop, C)
    return out.permute(0, 3, 1, 2).float() / 127.5 - 1.0


class TrainingBatch(NamedTuple):
    real: torch.Tensor  # float (B, C, crop, crop) in [-1, 1]
    embedding: torch.Tensor  # (B, E): the mean caption embedding of each real image
    wrong: torch.Tensor  # float (B, C, crop, crop): images of other classes, scored with `embedding` as fake
    real_index: torch.Tensor
    wrong_index: torch.Tensor


def sample_training_batch(data: CaptionedImageSet, batch_size: int, generator: torch.Generator | None = None,
                          num_captions: int = NUM_CAPTIONS, crop: int = CROP_SIZE, flip: bool = True) -> TrainingBatch:
    """One GAN-CLS training batch as ``trainLoader:sample_no_repl`` builds it (see the module docstring)."""
    real_index = class_uniform_indices(data.labels, batch_size, generator)
    embedding = mean_caption_embeddings(data.embeddings, data.caption_offsets, real_index, num_captions, generator)
    wrong_index = mismatched_indices(data.labels, real_index, generator)
    real = random_crop_flip(data.images[real_index], crop, generator, flip)
    wrong = random_crop_flip(data.images[wrong_index], crop, generator, flip)
    return TrainingBatch(real, embedding, wrong, real_index, wrong_index)



# ------------------------------------------------------------------------------------------ by name (trainer, protocols, CLI)


CAPTIONED = ("cub", "flowers", "shapes32")  # shapes32 = the captioned smoke set
SMOKE_POOL_SIZE = 2_000  # shapes32 images whose captions form a split's pool when no size is given


def _check_captioned(name: str) -> None:
    if name not in CAPTIONED:
        raise GBenchError(f"dataset {name!r} has no captions; the text-to-image GAN trains on {', '.join(CAPTIONED)}")


def load_captioned(name: str, split: str = "train", *, root: Path | str = "", load_size: int = 0, resolution: int = CROP_SIZE,
                   size: int = 0) -> CaptionedImageSet:
    """A captioned set by name: "cub" / "flowers" with the authors' class split ("train" = their train+val classes),
    images at ``load_size`` (0 = ``resolution``); "shapes32" = ``load_captioned_shapes(size, split, resolution)``."""
    _check_captioned(name)
    if name == "shapes32":
        return load_captioned_shapes(size or SMOKE_POOL_SIZE, split, resolution)
    return load_text2image(name, root or None, {"train": "trainval"}.get(split, split), load_size=load_size or resolution)


def centre_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """The centre size x size window of (N, C, S, S) images (the top-left of the two middles when S - size is odd)."""
    offset = (images.shape[-1] - size) // 2
    return images[..., offset : offset + size, offset : offset + size]


def centre_cropped_images(name: str, split: str = "test", *, root: Path | str = "", resolution: int = CROP_SIZE) -> ImageSet:
    """cub / flowers images resized to round(resolution * 76 / 64) and centre-cropped to ``resolution``: the mean of the
    training crops (icml2016 crops 64 of 76), the reference images of the cub-is-fid / flowers-is-fid protocols."""
    load_size = round(resolution * LOAD_SIZE / CROP_SIZE)
    data = load_captioned(name, split, root=root, load_size=load_size, resolution=resolution)
    checksum = hashlib.sha256(f"{data.checksum}-centre{resolution}".encode()).hexdigest()[:16]
    return ImageSet(centre_crop(data.images, resolution).contiguous(), data.labels, f"{data.name}-centre{resolution}", checksum)


@dataclass(frozen=True)
class CaptionPool:
    """Caption embeddings of one split, without images (what evaluation and sampling condition on)."""

    embeddings: torch.Tensor  # float32 (M, E)
    captions: tuple | None  # M strings, or None when the files carry no text
    checksum: str
    name: str


def load_caption_pool(name: str, split: str = "test", *, root: Path | str = "", size: int = 0) -> CaptionPool:
    """Every caption embedding of a split (cub / flowers: read from the .t7 files only, no image decoding;
    shapes32: the first ``size`` test images' template captions through the smoke encoder)."""
    _check_captioned(name)
    if name == "shapes32":
        data = load_captioned_shapes(size or SMOKE_POOL_SIZE, split)
        return CaptionPool(data.embeddings, data.captions, data.checksum, data.name)
    if split not in SPLIT_FILES and split != "train":
        raise GBenchError(f"{name} split must be one of {', '.join(SPLIT_FILES)}, got {split!r}")
    split = {"train": "trainval"}.get(split, split)
    root = resolve_root(root or None)
    require_files(name, root, [f"{SOURCES[name].caption_dir}/{SPLIT_FILES[split]}"])
    digest = hashlib.sha256(f"text2image-captions-v{VERSION}-{name}-{split}".encode())
    _, records, _ = _caption_records(name, root, split, 0, digest)
    captions = tuple(c for r in records for c in r.captions) if all(r.captions is not None for r in records) else None
    return CaptionPool(torch.from_numpy(np.concatenate([r.embeddings for r in records])), captions, digest.hexdigest()[:16],
                       f"{name}-{split}-captions")


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def encode_captions(name: str, texts: list[str], embedding_dim: int, *, root: Path | str = "", text_encoder=None) -> torch.Tensor:
    """(len(texts), embedding_dim) embeddings of free text for a model trained on captioned set ``name``.

    shapes32: the smoke encoder (any text). cub / flowers: ``text_encoder`` (a callable list[str] -> (N, E)) when given;
    otherwise the released char-CNN-RNN embedding of the same caption text found in the set's .t7 files (train+val,
    then test), since gbench cannot run the authors' Torch text encoder."""
    _check_captioned(name)
    if not texts:
        raise GBenchError("give at least one caption")
    if name == "shapes32":
        return SmokeTextEncoder(embedding_dim)(texts)
    if text_encoder is not None:
        out = torch.as_tensor(text_encoder(list(texts)), dtype=torch.float32)
        if out.shape != (len(texts), embedding_dim):
            raise GBenchError(f"the text encoder returned shape {tuple(out.shape)} for {len(texts)} captions; expected "
                              f"({len(texts)}, {embedding_dim})")
        return out
    wanted = {_normalise(t) for t in texts}
    found: dict[str, torch.Tensor] = {}
    example = ""
    for split in ("trainval", "test"):
        pool = load_caption_pool(name, split, root=root)
        if pool.captions is None:
            break
        example = example or pool.captions[0].strip()
        for caption, embedding in zip(pool.captions, pool.embeddings):
            key = _normalise(caption)
            if key in wanted and key not in found:
                found[key] = embedding
        if len(found) == len(wanted):
            break
    missing = [t for t in texts if _normalise(t) not in found]
    if missing:
        raise GBenchError(f"no embedding for {missing[0]!r}: gbench cannot run the char-CNN-RNN text encoder (a Torch7 model), so "
                          f"free text needs a text encoder (--text-encoder module:callable, list[str] -> (N, {embedding_dim})); "
                          f"captions of the {name} set work as they are" + (f", e.g. {example!r}" if example else ""))
    return torch.stack([found[_normalise(t)] for t in texts])
