"""Feature extractors behind the protocols: each maps uint8 images (B, 3, H, W) to
(pool features (B, D), logits (B, K)) and carries the sha256 of its weights for fingerprints.

- `inception-v3-compat`: torch-fidelity's TF-compatible InceptionV3 (2048-d pool3 for FID/KID,
  1008-way `logits_unbiased` for IS), with the weights file from gbench's offline asset store.
- `toy-shapes32`: the small shapes32 classifier (gbench/evaluation/toy_classifier.py).
- `dinov2-vitl14`: DINOv2 ViT-L/14 CLS features (1024-d) after dgm-eval's Pillow-bicubic resize to 224
  (gbench/evaluation/dinov2.py), weights from the asset store; it has no classifier, so its logits are
  an empty (B, 0) tensor and its protocols score no IS.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch

from gbench.errors import GBenchError


@dataclass
class Extractor:
    name: str
    sha256: str
    forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    device: torch.device

    @torch.no_grad()
    def __call__(self, images_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images_uint8.dtype != torch.uint8 or images_uint8.ndim != 4:
            raise GBenchError(f"extractor {self.name}: expected uint8 (B, C, H, W) images, got {images_uint8.dtype} {tuple(images_uint8.shape)}")
        if images_uint8.shape[1] == 1:  # grayscale (MNIST): replicate to RGB, as torch-fidelity requires
            images_uint8 = images_uint8.expand(-1, 3, -1, -1)
        if images_uint8.shape[1] != 3:
            raise GBenchError(f"extractor {self.name}: images must have 1 or 3 channels, got {images_uint8.shape[1]}")
        feats, logits = self.forward(images_uint8.to(self.device))
        return feats.float(), logits.float()


def _toy(device: torch.device) -> Extractor:
    from gbench.evaluation.toy_classifier import load_toy_classifier
    from gbench.paths import assets_dir

    model, digest = load_toy_classifier(assets_dir())
    model = model.to(device)
    return Extractor("toy-shapes32", digest, model, device)


def _inception(device: torch.device) -> Extractor:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from gbench.assets import asset_path, asset_sha256

    path = asset_path("inception")
    model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path))
    model = model.to(device).eval()
    return Extractor("inception-v3-compat", asset_sha256(path), lambda x: model(x), device)


def _dinov2(device: torch.device) -> Extractor:
    from gbench.assets import asset_path, asset_sha256
    from gbench.evaluation.dinov2 import load_dinov2

    path = asset_path("dinov2")
    model = load_dinov2(path, device=device)

    def forward(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return model(images), images.new_zeros((images.shape[0], 0), dtype=torch.float32)

    return Extractor("dinov2-vitl14", asset_sha256(path), forward, device)


EXTRACTORS = {"toy-shapes32": _toy, "inception-v3-compat": _inception, "dinov2-vitl14": _dinov2}


def build_extractor(name: str, device: str = "cpu") -> Extractor:
    """The extractor `name` on `device`, built once per (name, device, GBENCH_HOME) in a process."""
    from gbench.paths import gbench_home

    if name not in EXTRACTORS:
        raise GBenchError(f"unknown feature extractor {name!r}; known: {', '.join(EXTRACTORS)}")
    return _build(name, str(device), str(gbench_home()))


@functools.lru_cache(maxsize=4)
def _build(name: str, device: str, home: str) -> Extractor:  # `home` is only part of the cache key
    return EXTRACTORS[name](torch.device(device))


build_extractor.cache_clear = _build.cache_clear
