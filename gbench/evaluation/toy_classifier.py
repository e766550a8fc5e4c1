"""The feature extractor of the `toy-shapes32` protocols: a small CNN classifier trained on shapes32.

It plays the role Inception plays for CIFAR-10: logits for IS, penultimate (64-d) features for FID/KID,
through the same evaluation code path. Trained once with a fixed seed on one CPU thread (800 Adam steps with a
one-cycle schedule; about 45 s on a quiet CPU), cached under `$GBENCH_HOME/assets/`, its weights' sha256 in the protocol
fingerprint. Versions 2 and 3 reach 0.977 test accuracy on shapes32 (0.913 on the grey 28x28 renders), so real
images score an IS near the class count, and its features are standardised with the training set's
per-dimension mean and std (stored with the weights), so FID and KID are in readable units. A fifth of the
training images are shown in grey, so the grey MNIST stand-in (`toy-shapes-gray28`) is scored by a network that
has seen grey. Numbers under these protocols are not comparable to any paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VERSION = 3  # 3: trained on one CPU thread (version 2's weights depended on the thread count); same recipe as 2
TRAIN_IMAGES = 10_000
TRAIN_EPOCHS = 8
TRAIN_BATCH = 100
TRAIN_LR = 3e-3  # peak of the one-cycle schedule
TRAIN_SEED = 1234
GREY_FRACTION = 0.2  # training images shown in grey (BT.601 luma replicated)
FEATURE_DIM = 64
NUM_CLASSES = 10
WIDTH = 16
GREY_WEIGHTS = (0.299, 0.587, 0.114)


class ToyClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        w = WIDTH
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),  # 16x16
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),  # 8x8
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(), nn.MaxPool2d(2),  # 4x4: sees whole shapes
            nn.Conv2d(4 * w, FEATURE_DIM, 3, padding=1), nn.BatchNorm2d(FEATURE_DIM), nn.ReLU(),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),  # max: "is the shape anywhere", position-free
        )
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        self.register_buffer("feature_mean", torch.zeros(FEATURE_DIM))
        self.register_buffer("feature_scale", torch.ones(FEATURE_DIM))

    def forward(self, images_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, 3, H, W) -> (standardised penultimate features (B, 64), logits (B, 10)); resized to 32 if needed."""
        x = images_uint8.float() / 127.5 - 1
        if x.shape[-1] != 32 or x.shape[-2] != 32:
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
        raw = self.features(x)
        return (raw - self.feature_mean) / self.feature_scale, self.head(raw)


def _grey(images_uint8: torch.Tensor) -> torch.Tensor:
    luma = (images_uint8.float() * torch.tensor(GREY_WEIGHTS).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return luma.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)


def _train() -> ToyClassifier:
    from gbench.data.shapes import load_shapes32

    data = load_shapes32(TRAIN_IMAGES, split="train")
    steps = TRAIN_EPOCHS * (len(data) // TRAIN_BATCH)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TRAIN_SEED)
        model = ToyClassifier()
        opt = torch.optim.Adam(model.parameters(), lr=TRAIN_LR)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, TRAIN_LR, total_steps=steps)
        g = torch.Generator().manual_seed(TRAIN_SEED)
        for _ in range(TRAIN_EPOCHS):
            order = torch.randperm(len(data), generator=g)
            for start in range(0, len(order) - TRAIN_BATCH + 1, TRAIN_BATCH):
                idx = order[start : start + TRAIN_BATCH]
                grey = (torch.rand(len(idx), generator=g) < GREY_FRACTION)[:, None, None, None]
                images = torch.where(grey, _grey(data.images[idx]), data.images[idx])
                _, logits = model(images)
                loss = F.cross_entropy(logits, data.labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                schedule.step()
    model.eval()
    with torch.no_grad():
        raw = torch.cat([model.features(data.images[i : i + 1000].float() / 127.5 - 1) for i in range(0, len(data), 1000)])
        model.feature_mean.copy_(raw.mean(0))
        model.feature_scale.copy_(raw.std(0).clamp(min=1e-6))
    return model


def load_toy_classifier(assets_dir) -> tuple[ToyClassifier, str]:
    """Load (training and caching on first use) the classifier; returns (model, weights sha256)."""
    from pathlib import Path

    from gbench.evaluation.cache import load_or_train

    return load_or_train(Path(assets_dir) / f"toy-shapes32-classifier-v{VERSION}.pt", ToyClassifier, _train)


def accuracy(model: ToyClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(images)[1].argmax(1) == labels).float().mean())
