"""Training gbench's FCN-8s segmenter for the `cityscapes-fcn` protocols (`gbench train-segmenter cityscapes`).

The network, its preprocessing and the scoring live in gbench/evaluation/fcn.py; this module only fits it to
the prepared Cityscapes train pairs and writes the checkpoint that protocol loads (its sha256 enters the
fingerprint).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gbench.data.cityscapes import CITYSCAPES_CLASSES
from gbench.data.paired import dataset_dir, load_paired_arrays, load_segmentation_set
from gbench.distributed import resolve_device
from gbench.errors import GBenchError, UsageError
from gbench.evaluation.fcn import (CITYSCAPES_CHECKPOINT, FCN8s, _normalise, fcn_scores, load_fcn_checkpoint, load_vgg16_backbone,
                                   segmentation_confusion)
from gbench.io import atomic_torch_save, sha256_state_dict
from gbench.paths import assets_dir
from gbench.protocols import get_protocol


def train_segmenter(dataset: str = "cityscapes", *, root="", out=None, epochs: int = 50, batch_size: int = 8, lr: float = 1e-4,
                    device: str = "auto", seed: int = 0, size: int = 0, backbone_weights: str = "", width: int = 64,
                    fc_width: int = 4096, work_size: int = 256, log: Callable[[str], None] = print) -> Path:
    """`gbench train-segmenter cityscapes`: train gbench's FCN-8s on the prepared Cityscapes train pairs.

    Inputs are the 256x256 train photos (the A halves of `train/<i>.jpg`) resized to `work_size`, targets the
    full-resolution train-id maps nearest-resized to it; random horizontal flips; Adam(lr, betas 0.9/0.999),
    cross-entropy ignoring 255; `backbone_weights` = torchvision's vgg16 ImageNet file to start from (else
    random init). Writes `{"weights", "sha256", "num_classes", "width", "fc_width", "work_size", ...}`
    atomically to `out` (default `$GBENCH_HOME/assets/fcn8s-cityscapes.pt`, the cityscapes-fcn protocol's
    segmenter), then logs its ground-truth row on the val frames if they are prepared. `size` > 0 uses the
    first `size` frames (tests). Returns the checkpoint path.
    """
    if dataset != "cityscapes":
        raise UsageError(f"train-segmenter knows cityscapes only (toyscapes has its own cached segmenter), not {dataset!r}")
    dev = resolve_device(device)
    base = dataset_dir("cityscapes", root)
    photos, _, data_checksum = load_paired_arrays("cityscapes", "train", root, work_size, size)
    label_files = [base / "trainIds" / "train" / f"{i}.png" for i in range(len(photos))]
    if not all(p.exists() for p in label_files):
        raise GBenchError(f"cityscapes: train-id maps missing under {base / 'trainIds' / 'train'}; run `gbench data prepare cityscapes`")
    labels = torch.from_numpy(np.stack([np.asarray(Image.open(p).resize((work_size, work_size), Image.NEAREST)) for p in label_files]))
    log(f"train-segmenter: {len(photos)} Cityscapes train frames at {work_size}x{work_size}, {epochs} epochs, batch {batch_size}, device {dev}")

    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FCN8s(len(CITYSCAPES_CLASSES), width, fc_width)
    if backbone_weights:
        load_vgg16_backbone(model, backbone_weights)
    model = model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        order, losses = torch.randperm(len(photos), generator=g), []
        for start in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            x, y = photos[idx].to(dev), labels[idx].to(dev).long()
            flip = (torch.rand(len(idx), generator=g) < 0.5).to(dev)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            y = torch.where(flip[:, None, None], y.flip(-1), y)
            loss = F.cross_entropy(model(_normalise(x)), y, ignore_index=255)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        log(f"  epoch {epoch + 1}/{epochs}: loss {float(torch.stack(losses).mean()) if losses else float('nan'):.4f}")
    model = model.cpu().eval()
    weights = model.state_dict()
    path = Path(out) if out else assets_dir() / CITYSCAPES_CHECKPOINT
    atomic_torch_save({"weights": weights, "sha256": sha256_state_dict(weights), "num_classes": len(CITYSCAPES_CLASSES),
                       "width": width, "fc_width": fc_width, "work_size": [work_size, work_size],
                       "trained_on": f"cityscapes-train-{data_checksum}", "epochs": epochs, "seed": seed}, path)
    log(f"train-segmenter: wrote {path}")
    if (base / "trainIds" / "test").is_dir():
        protocol = get_protocol("cityscapes-fcn")
        reference = load_segmentation_set("cityscapes", "val", root=root, resolution=protocol.resolution, size=size)
        segmenter = load_fcn_checkpoint(path, dev)
        batches = (reference.photos[i : i + 4] for i in range(0, len(reference), 4))
        truth = fcn_scores(segmentation_confusion(batches, reference, segmenter, protocol, dev))
        log("train-segmenter: ground-truth row on val: " + "  ".join(f"{k} {v:.3f}" for k, v in truth.items()))
    return path
