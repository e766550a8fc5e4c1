"""The feature extractor of the `toy-shapes32` protocol: a small CNN classifier trained on shapes32.

It plays the role Inception plays for CIFAR-10: logits for IS, penultimate (64-d) features for
FID/KID, through the same evaluation code path. It is trained once with a fixed seed (a few
seconds on CPU), cached under `$GBENCH_HOME/assets/`, and its weights' sha256 enters the
protocol fingerprint. Numbers under this protocol are not comparable to any paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VERSION = 1
TRAIN_IMAGES = 8_000
TRAIN_EPOCHS = 3
TRAIN_BATCH = 100
TRAIN_LR = 3e-3
TRAIN_SEED = 1234
FEATURE_DIM = 64
NUM_CLASSES = 10


class ToyClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 16x16
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 8x8
            nn.Conv2d(32, FEATURE_DIM, 3, padding=1), nn.BatchNorm2d(FEATURE_DIM), nn.ReLU(),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),  # max: "is the shape anywhere", position-free
        )
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, images_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, 3, H, W) -> (penultimate features (B, 64), logits (B, 10)); resized to 32 if needed."""
        x = images_uint8.float() / 127.5 - 1
        if x.shape[-1] != 32 or x.shape[-2] != 32:
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
        feats = self.features(x)
        return feats, self.head(feats)


def _train() -> ToyClassifier:
    from gbench.data.shapes import load_shapes32

    data = load_shapes32(TRAIN_IMAGES, split="train")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TRAIN_SEED)
        model = ToyClassifier()
        opt = torch.optim.Adam(model.parameters(), lr=TRAIN_LR)
        g = torch.Generator().manual_seed(TRAIN_SEED)
        for _ in range(TRAIN_EPOCHS):
            order = torch.randperm(len(data), generator=g)
            for start in range(0, len(order), TRAIN_BATCH):
                idx = order[start : start + TRAIN_BATCH]
                _, logits = model(data.images[idx])
                loss = F.cross_entropy(logits, data.labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return model.eval()


def load_toy_classifier(assets_dir) -> tuple[ToyClassifier, str]:
    """Load (training and caching on first use) the classifier; returns (model, weights sha256)."""
    from pathlib import Path

    from gbench.evaluation.cache import load_or_train

    return load_or_train(Path(assets_dir) / f"toy-shapes32-classifier-v{VERSION}.pt", ToyClassifier, _train)


def accuracy(model: ToyClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images)[1].argmax(1) == labels).float().mean())
