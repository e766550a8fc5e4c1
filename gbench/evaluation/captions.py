"""Text-to-image evaluation: conditioning on the protocol's captions, and the text-image matching score.

Conditioning. A text-to-image protocol (`Protocol.captions = "<dataset>/<split>"`) names a caption pool: every caption
embedding of that split (CUB test: 2,933 images x 10 captions). `CaptionConditioned` presents G(z, phi(t)) to the
sample stream as a class-conditional generator whose "classes" are the pool's captions, so each chunk of the stream
draws its z and then its caption indices (uniform over the pool) from the chunk's private generator
(`gbench.evaluation.evaluate.latent_chunk`): the captions are a function of (sample seed, chunk) only, like labels,
whatever the batch size or the number of processes. Protocols without captions never see this module.

Matching score (R-precision, AttnGAN / TISE style, R = 1): for every generated image, its own caption and 99 other
captions of the pool (drawn per chunk from a generator seeded by the sample seed and chunk index) are ranked by the
cosine similarity of an image-text encoder's image and caption vectors; the score is the percentage of images whose own
caption ranks strictly first (ties count as misses; chance is 1%). The encoder is pluggable (`Protocol.matching_encoder`):
- `toy-shapes32-ridge` (smoke protocol): image vector = a ridge-regression map from the toy classifier's 64 features and
  a 64-bin colour histogram to the 1024-d caption embedding space, fit in closed form on 2,000 captioned shapes32
  training images (the target is each image's mean caption embedding); caption vector = the embedding itself;
- `pluggable`: `GBENCH_TEXT_IMAGE_ENCODER=module:callable`, where `callable()` returns an object with
  `encode_images(uint8 (B, 3, H, W)) -> (B, D)` and `encode_captions(embeddings (B, E)) -> (B, D)` (and optionally a
  `sha256` string naming its weights); unset: the score is off and the result says so.
The score's own fingerprint (`matching_fingerprint`) adds the encoder's identity to the protocol's.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from gbench.errors import GBenchError
from gbench.protocols import Protocol

MATCHING_ENV = "GBENCH_TEXT_IMAGE_ENCODER"
MATCHING_CANDIDATES = 100  # the true caption and 99 others
MATCHING_BLOCK = 100  # images scored at once
RIDGE_TRAIN_IMAGES = 2_000
RIDGE_LAMBDA = 1.0
HISTOGRAM_LEVELS = 4  # per colour channel: 4^3 = 64 bins


class CaptionConditioned(nn.Module):
    """G(z, phi(t)) as a generator with `num_classes` = the pool size: label k means the pool's k-th caption embedding."""

    def __init__(self, G: nn.Module, embeddings: torch.Tensor):
        super().__init__()
        self.G, self.embeddings = G, embeddings
        self.latent_dim, self.num_classes = G.latent_dim, len(embeddings)
        self.latent_distribution = getattr(G, "latent_distribution", "normal")
        self.resolution, self.channels = getattr(G, "resolution", None), getattr(G, "channels", 3)

    def forward(self, z: torch.Tensor, caption_index: torch.Tensor) -> torch.Tensor:
        return self.G(z, self.embeddings[caption_index.cpu()].to(z.device))


def split_spec(protocol: Protocol) -> tuple[str, str]:
    dataset, _, split = protocol.captions.partition("/")
    return dataset, split or "test"


@functools.lru_cache(maxsize=4)
def _pool(dataset: str, split: str, size: int, datasets_dir: str):  # datasets_dir: only part of the cache key
    from gbench.data.text2image import load_caption_pool

    return load_caption_pool(dataset, split, size=size)


def caption_pool(protocol: Protocol):
    """The protocol's caption pool (`gbench.data.text2image.CaptionPool`), loaded once per process."""
    from gbench.paths import datasets_dir

    dataset, split = split_spec(protocol)
    return _pool(dataset, split, protocol.n_ref if dataset == "shapes32" else 0, str(datasets_dir()))


def condition_on_captions(G: nn.Module, protocol: Protocol) -> nn.Module:
    """`G` itself for protocols without captions; a text-conditional G wrapped as `CaptionConditioned` for caption
    protocols. A mismatch either way is one clear error."""
    text = getattr(G, "embedding_dim", 0)
    if not protocol.captions:
        if text:
            raise GBenchError(f"this generator is text-conditional: evaluate it under a caption protocol (e.g. "
                              f"{', '.join(captioned_protocols())}), not {protocol.id}")
        return G
    if not text:
        raise GBenchError(f"protocol {protocol.id} conditions every sample on a caption: it needs a text-conditional generator "
                          "(an `embedding_dim` attribute and forward(z, text_embedding))")
    pool = caption_pool(protocol)
    if pool.embeddings.shape[1] != text:
        raise GBenchError(f"the generator takes {text}-d caption embeddings; the captions of {protocol.id} are "
                          f"{pool.embeddings.shape[1]}-d")
    return CaptionConditioned(G, pool.embeddings)


def captioned_protocols() -> list[str]:
    from gbench.protocols import PROTOCOLS

    return [p.id for p in PROTOCOLS.values() if p.captions]


# ----------------------------------------------------------------------------- matching score


@dataclass
class MatchingEncoder:
    name: str
    sha256: str
    encode_images: Callable[[torch.Tensor], torch.Tensor]  # uint8 (B, 3, H, W) -> (B, D)
    encode_captions: Callable[[torch.Tensor], torch.Tensor]  # caption embeddings (B, E) -> (B, D)


def colour_histogram(images_uint8: torch.Tensor, levels: int = HISTOGRAM_LEVELS) -> torch.Tensor:
    """(B, 3, H, W) uint8 -> (B, levels^3) fraction of pixels in each RGB cell."""
    q = (images_uint8.long() * levels) // 256  # (B, 3, H, W) in 0..levels-1
    cell = (q[:, 0] * levels + q[:, 1]) * levels + q[:, 2]
    counts = torch.zeros(len(images_uint8), levels**3).scatter_add_(1, cell.flatten(1), torch.ones(cell.flatten(1).shape))
    return counts / cell[0].numel()


def _toy_ridge(device: torch.device) -> MatchingEncoder:
    from gbench.data.text2image import load_captioned_shapes
    from gbench.evaluation.features import build_extractor

    toy = build_extractor("toy-shapes32", str(device))

    def features(images: torch.Tensor) -> torch.Tensor:
        f, _ = toy(images)
        return torch.cat([f.cpu().double(), colour_histogram(images.cpu()).double(), torch.ones(len(images), 1, dtype=torch.float64)], 1)

    data = load_captioned_shapes(RIDGE_TRAIN_IMAGES, "train")
    x = torch.cat([features(data.images[i : i + 500]) for i in range(0, len(data), 500)])
    y = torch.stack([data.embeddings[a:b].mean(0) for a, b in zip(data.caption_offsets[:-1], data.caption_offsets[1:])]).double()
    weight = torch.linalg.solve(x.T @ x + RIDGE_LAMBDA * torch.eye(x.shape[1], dtype=torch.float64), x.T @ y)
    digest = hashlib.sha256(weight.numpy().tobytes() + toy.sha256.encode()).hexdigest()
    return MatchingEncoder("toy-shapes32-ridge", digest, lambda images: (features(images) @ weight).float(), lambda e: e.float())


def build_from_spec(spec: str, what: str):
    """`callable()` for a `module:callable` spec (dotted attributes allowed; the current directory is importable);
    errors are one line that starts with `what`."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise GBenchError(f"{what} must be module:callable, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj()
    except Exception as exc:  # an import error or a failing constructor in user code: one line
        raise GBenchError(f"{what} {spec}: {type(exc).__name__}: {exc}") from None


def _from_environment() -> MatchingEncoder | None:
    spec = os.environ.get(MATCHING_ENV, "").strip()
    if not spec:
        return None
    encoder = build_from_spec(spec, MATCHING_ENV)
    for method in ("encode_images", "encode_captions"):
        if not callable(getattr(encoder, method, None)):
            raise GBenchError(f"{MATCHING_ENV}={spec}: the encoder has no {method}() method")
    sha = str(getattr(encoder, "sha256", "") or hashlib.sha256(spec.encode()).hexdigest())
    return MatchingEncoder(spec, sha, encoder.encode_images, encoder.encode_captions)


@functools.lru_cache(maxsize=4)
def _built(name: str, device: str, home: str) -> MatchingEncoder:  # home: only part of the cache key
    return _toy_ridge(torch.device(device))


def matching_encoder(protocol: Protocol, device="cpu") -> MatchingEncoder | None:
    """The protocol's image-text encoder, or None when its matching score is off (no encoder plugged in)."""
    from gbench.paths import gbench_home

    if not protocol.matching_encoder:
        return None
    if protocol.matching_encoder == "toy-shapes32-ridge":
        return _built(protocol.matching_encoder, str(device), str(gbench_home()))
    return _from_environment()


def matching_seed(seed: int, index: int) -> int:
    """Seed of chunk `index`'s mismatched captions (namespaced apart from the stream's chunk seeds)."""
    digest = hashlib.sha256(f"gbench-caption-matching:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def matching_hits(image_vectors: torch.Tensor, caption_index: torch.Tensor, caption_vectors: torch.Tensor, seed: int) -> int:
    """How many images rank their own caption strictly above 99 others of the pool (drawn with `seed`), by cosine."""
    n, pool = len(caption_index), len(caption_vectors)
    if pool < MATCHING_CANDIDATES:
        raise GBenchError(f"the matching score ranks among {MATCHING_CANDIDATES} captions; the pool has {pool}")
    g = torch.Generator().manual_seed(seed)
    others = torch.randint(0, pool - 1, (n, MATCHING_CANDIDATES - 1), generator=g)
    others = others + (others >= caption_index[:, None]).long()  # skip the own index: uniform over the other pool captions
    candidates = torch.cat([caption_index[:, None], others], 1)
    images = nn.functional.normalize(image_vectors.float().cpu(), dim=1)
    texts = nn.functional.normalize(caption_vectors.float().cpu(), dim=1)
    hits = 0
    for start in range(0, n, MATCHING_BLOCK):  # the gathered candidates are (rows, 100, D): a block at a time
        rows = slice(start, start + MATCHING_BLOCK)
        scores = torch.bmm(texts[candidates[rows]], images[rows, :, None])[..., 0]
        hits += int((scores[:, 0] > scores[:, 1:].max(1).values).sum())
    return hits


def matching_fingerprint(fingerprint: str, encoder: MatchingEncoder) -> str:
    digest = hashlib.sha256(f"{fingerprint}|{encoder.name}|{encoder.sha256}|{MATCHING_CANDIDATES}".encode()).hexdigest()[:8]
    return f"{fingerprint.partition('@')[0]}+r-precision@{digest}"
