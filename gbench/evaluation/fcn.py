"""FCN-score protocols (pix2pix labels->photo): translate val label maps, segment the results, score them.

Follows junyanz/pytorch-CycleGAN-and-pix2pix `scripts/eval_cityscapes/evaluate.py` (shared/reference/metrics.md
section 4): every generated val photo is upsampled to its label map's resolution with PIL bilinear on uint8
(what `scipy.misc.imresize(im, label.shape)` did; 256x256 -> 1024x2048 for Cityscapes), segmented, and its
argmax is scored against the train-id map (never resized) with the confusion-matrix metrics of
`gbench.metrics.segmentation` (per-pixel acc, mean per-class acc, mean class IoU). The same path applied to
the real val photos at the protocol resolution gives the ground-truth row, reported with every result (it is
the ceiling the scores are read against, as in the paper). The ground-truth confusion matrix is cached per
(protocol, segmenter weights, reference data).

Segmenters (`eval.segmenter`, "" = the protocol's own):
- `toyscapes-segmenter`: a small CNN for the procedural toyscapes set, trained once with a fixed seed (about
  2 s on a CPU core), cached under `$GBENCH_HOME/assets/` with its sha256 in the fingerprint, like
  `gbench/evaluation/toy_classifier.py`.
- `fcn8s-cityscapes`: gbench's FCN-8s (VGG16 layout), trained by `gbench.train.segmenter` (`gbench train-segmenter
  cityscapes`) on the real train photos at 256x256, stored as `$GBENCH_HOME/assets/fcn8s-cityscapes.pt`.
- a checkpoint path written by `gbench train-segmenter`, or `module:callable`: the callable (no arguments) returns
  an nn.Module, or a pair (function, sha256). Either maps uint8 RGB images (B, 3, H, W) at label resolution
  to class scores (B, K, H, W) or class ids (B, H, W), and does its own preprocessing (the authors' Caffe
  FCN-8s, ported, would subtract the BGR mean). Only that network makes numbers comparable to the papers.

Deviations: the Caffe FCN-8s weights are not redistributable here, so the default Cityscapes segmenter is
gbench's own (scores are read relative to its ground-truth row, not against the paper's numbers). gbench's
FCN-8s uses same-padding convolutions and size-matched upsampling instead of Caffe's pad-100 and crop
offsets, works at 256x256 internally (its input is resized there with antialiasing and its scores are
upsampled bilinearly back to the label resolution), and is trained with Adam and a cross-entropy that ignores
255, not the original SGD schedule. Upsampling to label resolution goes through PIL one image at a time, as
the original script did (exact resampling and rounding).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gbench.errors import GBenchError
from gbench.io import sha256_state_dict
from gbench.metrics.segmentation import confusion_matrix, fcn_scores
from gbench.protocols import FCN_METRICS, FCN_RESIZE  # noqa: F401  (re-exported: the protocol constants live there)

CITYSCAPES_CHECKPOINT = "fcn8s-cityscapes.pt"
SEGMENT_BATCH = 50  # translated frames gathered per scoring batch (pix2pix translates one image at a time)
SEGMENT_PIXELS = 1 << 22  # at most this many label-resolution pixels per segmenter call (two 1024x2048 frames)


@dataclass
class Segmenter:
    name: str
    sha256: str
    predict: Callable[[torch.Tensor], torch.Tensor]  # uint8 (B, 3, H, W) on device -> int64 class ids (B, H, W)
    source: str  # what `eval.segmenter` named ("" = the protocol's own)


# ------------------------------------------------------------------------------------------------ the toy segmenter

TOY_VERSION = 1
TOY_TRAIN_SCENES = 512
TOY_TRAIN_BATCH = 4
TOY_TRAIN_LR = 3e-3
TOY_TRAIN_SEED = 4321


class ToySegmenter(nn.Module):
    """Per-pixel classifier for 64x64 toyscapes photos: a full-resolution stem plus a dilated half-resolution
    context branch (receptive field about 30 px), fused by 1x1 convolutions."""

    def __init__(self, num_classes: int = 7, stem: int = 8, context: int = 24):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, padding=1), nn.BatchNorm2d(stem), nn.ReLU())
        self.context = nn.Sequential(
            nn.Conv2d(stem, context, 3, stride=2, padding=1), nn.BatchNorm2d(context), nn.ReLU(),
            nn.Conv2d(context, context, 3, padding=2, dilation=2), nn.BatchNorm2d(context), nn.ReLU(),
            nn.Conv2d(context, context, 3, padding=4, dilation=4), nn.BatchNorm2d(context), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Conv2d(stem + context, context, 1), nn.BatchNorm2d(context), nn.ReLU(),
                                  nn.Conv2d(context, num_classes, 1))

    def forward(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> class scores (B, K, H, W)."""
        x = images_uint8.float() / 127.5 - 1
        local = self.stem(x)
        context = F.interpolate(self.context(local), size=local.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat([local, context], dim=1))


def _train_toy_segmenter() -> ToySegmenter:
    from gbench.data.toyscapes import TOY_CLASSES, toy_scenes

    labels, photos = toy_scenes("train", TOY_TRAIN_SCENES, 64)
    return _fit_toy_segmenter(labels, photos, len(TOY_CLASSES))


def _fit_toy_segmenter(labels: torch.Tensor, photos: torch.Tensor, num_classes: int) -> ToySegmenter:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TOY_TRAIN_SEED)
        model = ToySegmenter(num_classes)
        opt = torch.optim.Adam(model.parameters(), lr=TOY_TRAIN_LR)
        order = torch.randperm(len(photos), generator=torch.Generator().manual_seed(TOY_TRAIN_SEED))
        for start in range(0, len(order), TOY_TRAIN_BATCH):
            idx = order[start : start + TOY_TRAIN_BATCH]
            loss = F.cross_entropy(model(photos[idx]), labels[idx].long(), ignore_index=255)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def load_toy_segmenter(assets_dir) -> tuple[ToySegmenter, str]:
    """The toyscapes segmenter (trained and cached on first use) and its weights' sha256."""
    from gbench.evaluation.cache import load_or_train

    return load_or_train(Path(assets_dir) / f"toyscapes-segmenter-v{TOY_VERSION}.pt", ToySegmenter, _train_toy_segmenter)


# ------------------------------------------------------------------------------------------------ FCN-8s (VGG16)

VGG16_LAYOUT = (64, 64, "pool", 128, 128, "pool", 256, 256, 256, "pool", 512, 512, 512, "pool", 512, 512, 512, "pool")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _bilinear_kernel(channels: int, size: int) -> torch.Tensor:
    """Per-channel bilinear upsampling weights for a ConvTranspose2d (the FCN initialisation)."""
    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    ramp = 1 - (torch.arange(size, dtype=torch.float32) - centre).abs() / factor
    weight = torch.zeros(channels, channels, size, size)
    weight[range(channels), range(channels)] = ramp[:, None] * ramp[None, :]
    return weight


class FCN8s(nn.Module):
    """FCN-8s (Long et al., 2015) on VGG16: 13 conv layers whose `features` indices match torchvision's
    `vgg16().features` (so its ImageNet weights load), fc6/fc7 as 7x7 and 1x1 convolutions, class scores fused
    at stride 32, 16 (pool4) and 8 (pool3) with learned 2x, 2x and 8x upsampling. `width` scales every VGG width
    (64 = VGG16) and `fc_width` the fc layers (4096), for tiny test models."""

    def __init__(self, num_classes: int = 19, width: int = 64, fc_width: int = 4096):
        super().__init__()
        layers, c_in = [], 3
        for item in VGG16_LAYOUT:
            if item == "pool":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                c_out = item * width // 64
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True)]
                c_in = c_out
        self.features = nn.Sequential(*layers)  # pool3 = features[:17], pool4 = [17:24], pool5 = [24:31]
        self.fc = nn.Sequential(nn.Conv2d(c_in, fc_width, 7, padding=3), nn.ReLU(inplace=True), nn.Dropout(0.5),
                                nn.Conv2d(fc_width, fc_width, 1), nn.ReLU(inplace=True), nn.Dropout(0.5))
        self.score_fr = nn.Conv2d(fc_width, num_classes, 1)
        self.score_pool4 = nn.Conv2d(8 * width, num_classes, 1)
        self.score_pool3 = nn.Conv2d(4 * width, num_classes, 1)
        self.up_fr = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False)
        self.up_pool4 = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False)
        self.up_pool3 = nn.ConvTranspose2d(num_classes, num_classes, 16, 8, 4, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        for score in (self.score_fr, self.score_pool4, self.score_pool3):  # FCN: score layers start at zero
            nn.init.zeros_(score.weight)
        for up in (self.up_fr, self.up_pool4, self.up_pool3):
            up.weight.data.copy_(_bilinear_kernel(num_classes, up.kernel_size[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images (B, 3, H, W), H and W multiples of 32 -> class scores (B, K, H, W)."""
        pool3 = self.features[:17](x)
        pool4 = self.features[17:24](pool3)
        scores = self.score_fr(self.fc(self.features[24:](pool4)))
        scores = self.up_fr(scores) + self.score_pool4(pool4)
        scores = self.up_pool4(scores) + self.score_pool3(pool3)
        return self.up_pool3(scores)


def load_vgg16_backbone(model: FCN8s, path) -> None:
    """Copy torchvision's `vgg16` ImageNet weights (e.g. vgg16-397923af.pth) into `model` (width 64, fc 4096)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = {k: v for k, v in state.items() if k.startswith("features.")}
    own["fc.0.weight"] = state["classifier.0.weight"].view(-1, 512, 7, 7)
    own["fc.0.bias"] = state["classifier.0.bias"]
    own["fc.3.weight"] = state["classifier.3.weight"].view(*state["classifier.3.weight"].shape, 1, 1)
    own["fc.3.bias"] = state["classifier.3.bias"]
    model.load_state_dict(own, strict=False)


def _normalise(images_uint8: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN, device=images_uint8.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images_uint8.device).view(1, 3, 1, 1)
    return (images_uint8.float() / 255 - mean) / std


def fcn_predict(model: FCN8s, images_uint8: torch.Tensor, work_size: tuple[int, int]) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> class ids (B, H, W): resized to `work_size` (antialiased bilinear), padded to a
    multiple of 32, segmented, scores upsampled bilinearly back to (H, W)."""
    size = images_uint8.shape[-2:]
    x = _normalise(images_uint8)
    if tuple(size) != tuple(work_size):
        x = F.interpolate(x, size=work_size, mode="bilinear", align_corners=False, antialias=True)
    pad_h, pad_w = (-x.shape[-2]) % 32, (-x.shape[-1]) % 32
    scores = model(F.pad(x, (0, pad_w, 0, pad_h)))[..., : work_size[0], : work_size[1]]
    if tuple(size) != tuple(work_size):
        scores = F.interpolate(scores, size=size, mode="bilinear", align_corners=False)
    return scores.argmax(1)


def load_fcn_checkpoint(path, device) -> Segmenter:
    """A checkpoint written by `gbench train-segmenter` (gbench/train/segmenter.py)."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        with torch.random.fork_rng(devices=[]):
            model = FCN8s(blob["num_classes"], blob["width"], blob["fc_width"])
        model.load_state_dict(blob["weights"])
    except (OSError, KeyError, RuntimeError) as exc:
        raise GBenchError(f"cannot load segmenter checkpoint {path}: {exc}") from None
    digest = sha256_state_dict(blob["weights"])
    if digest != blob.get("sha256"):
        raise GBenchError(f"segmenter checkpoint {path} does not match its recorded sha256 (corrupt or edited)")
    model = model.to(device).eval()
    work_size = tuple(blob["work_size"])

    @torch.no_grad()
    def predict(images):
        return fcn_predict(model, images, work_size)

    return Segmenter(f"fcn8s:{blob.get('trained_on', path.name)}", digest, predict, str(path))


# ------------------------------------------------------------------------------------------------ choosing a segmenter

def _module_segmenter(spec: str, device) -> Segmenter:
    module_name, _, attr = spec.partition(":")
    try:
        made = getattr(importlib.import_module(module_name), attr)()
    except (ImportError, AttributeError) as exc:
        raise GBenchError(f"segmenter {spec!r}: cannot import {attr} from {module_name} ({exc})") from None
    if isinstance(made, nn.Module):
        model, digest = made.to(device).eval(), sha256_state_dict(made.state_dict())
        forward = model
    elif isinstance(made, tuple) and len(made) == 2 and callable(made[0]):
        forward, digest = made
    else:
        raise GBenchError(f"segmenter {spec!r} must return an nn.Module or a (function, sha256) pair, got {type(made).__name__}")

    @torch.no_grad()
    def predict(images):
        out = forward(images)
        return out.argmax(1) if out.ndim == 4 else out.long()

    return Segmenter(spec, str(digest), predict, spec)


def load_segmenter(spec: str, protocol, device="cpu") -> Segmenter:
    """The segmenter named by `spec` ("" = the protocol's own, `protocol.extractor`)."""
    from gbench.paths import assets_dir

    device = torch.device(device)
    if not spec:
        if protocol.extractor == "toyscapes-segmenter":
            model, digest = load_toy_segmenter(assets_dir())
            model = model.to(device)

            @torch.no_grad()
            def predict(images):
                return model(images).argmax(1)

            return Segmenter("toyscapes-segmenter", digest, predict, "")
        if protocol.extractor == "fcn8s-cityscapes":
            path = assets_dir() / CITYSCAPES_CHECKPOINT
            if not path.exists():
                raise GBenchError(f"no Cityscapes segmenter at {path}: train one with `gbench train-segmenter cityscapes` "
                                  f"(needs the prepared dataset), or pass --set eval.segmenter=<checkpoint or module:callable>")
            segmenter = load_fcn_checkpoint(path, device)
            segmenter.source = ""
            return segmenter
        raise GBenchError(f"protocol {protocol.id} names an unknown segmenter {protocol.extractor!r}")
    if Path(spec).expanduser().is_file():
        return load_fcn_checkpoint(Path(spec).expanduser(), device)
    if ":" in spec:
        return _module_segmenter(spec, device)
    raise GBenchError(f"eval.segmenter {spec!r} is neither a checkpoint file nor module:callable")


# ------------------------------------------------------------------------------------------------ scoring

def resize_to(images_uint8: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (B, 3, h, w) -> (B, 3, H, W) with PIL bilinear, one image at a time (scipy.misc.imresize's path)."""
    if tuple(images_uint8.shape[-2:]) == tuple(size):
        return images_uint8
    arrays = images_uint8.permute(0, 2, 3, 1).cpu().numpy()
    out = [np.asarray(Image.fromarray(a).resize((size[1], size[0]), Image.BILINEAR)) for a in arrays]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def segmentation_confusion(batches: Iterable[torch.Tensor], reference, segmenter: Segmenter, protocol, device) -> np.ndarray:
    """Confusion matrix of `batches` (uint8, in reference order, covering every frame) against the reference labels."""
    k = protocol.segmentation_classes
    total, seen = np.zeros((k, k), dtype=np.int64), 0
    for images in batches:
        labels = reference.labels(seen, seen + len(images)).numpy()
        if images.dtype != torch.uint8 or images.shape[1:] != reference.inputs.shape[1:]:
            raise GBenchError(f"{protocol.id}: translations must be uint8 {tuple(reference.inputs.shape[1:])}, got {images.dtype} {tuple(images.shape[1:])}")
        step = max(1, SEGMENT_PIXELS // (labels.shape[-2] * labels.shape[-1]))  # bound memory at label resolution
        pred = np.concatenate([segmenter.predict(resize_to(images[i : i + step], labels.shape[-2:]).to(device)).cpu().numpy()
                               for i in range(0, len(images), step)])
        try:
            if protocol.reference_compatible:  # the official scorer's quirks apply frame by frame
                for gt_frame, pred_frame in zip(labels, pred):
                    total += confusion_matrix(gt_frame, pred_frame, k, reference_compatible=True)
            else:
                total += confusion_matrix(labels, pred, k)
        except ValueError as exc:
            raise GBenchError(f"{protocol.id}: segmenter {segmenter.name}: {exc}") from None
        seen += len(images)
    if seen != len(reference):
        raise GBenchError(f"{protocol.id} needs all {len(reference)} frames, got {seen}")
    return total


def ground_truth_confusion(reference, segmenter: Segmenter, protocol, device, batch_size: int) -> np.ndarray:
    """The real photos through the same path (cached: it depends only on protocol, segmenter and data)."""
    from gbench.evaluation.cache import cache_key, cache_path, load_cached, save_cached

    key = cache_key(protocol=protocol.constants(), segmenter=segmenter.sha256, data=reference.checksum)
    path = cache_path("fcn-ground-truth", protocol.id, key)
    cached = load_cached(path, key)
    if cached is not None:
        return cached["confusion"].numpy()
    photos = (reference.photos[i : i + batch_size] for i in range(0, len(reference), batch_size))
    confusion = segmentation_confusion(photos, reference, segmenter, protocol, device)
    save_cached(path, key, {"confusion": torch.from_numpy(confusion)})
    return confusion


def _per_class(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    confusion = confusion.astype(np.float64)
    correct = np.diag(confusion)
    acc = correct / (confusion.sum(1) + 1e-12)
    iou = correct / (confusion.sum(1) + confusion.sum(0) - correct + 1e-12)
    return acc, iou


def evaluate_fcn(translate: Callable[[torch.Tensor], torch.Tensor], protocol_id: str, *, device="cpu", batch_size: int = 16,
                 segmenter: str = "") -> dict:
    """Score `translate` (uint8 label-colour batch (B, 3, r, r) -> uint8 photo batch) under an FCN-score protocol.

    Runs under `torch.random.fork_rng` seeded with the protocol's sample seed (dropout noise is reproducible
    and the training RNG is untouched). Returns an evaluate_batches-style dict whose metrics hold the scores
    and the ground-truth row (`gt_` prefix), plus per-class accuracy and IoU.
    """
    from gbench.data.cityscapes import CITYSCAPES_CLASSES
    from gbench.data.paired import load_segmentation_set
    from gbench.data.toyscapes import TOY_CLASSES
    from gbench.protocols import fingerprint, get_protocol

    protocol = get_protocol(protocol_id)
    if not protocol.segmentation_classes:
        raise GBenchError(f"protocol {protocol_id} is not an FCN-score protocol")
    started = time.perf_counter()
    reference = load_segmentation_set(protocol.reference, protocol.reference_split, resolution=protocol.resolution, size=protocol.n_ref)
    if len(reference) != protocol.n_gen:
        raise GBenchError(f"protocol {protocol.id} needs {protocol.n_gen} {protocol.reference} {protocol.reference_split} frames, found {len(reference)}")
    chosen = load_segmenter(segmenter, protocol, device)
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    chunk = batch_size * max(1, SEGMENT_BATCH // batch_size)  # translate in `batch_size` batches, segment in bigger ones

    def translated():
        for start in range(0, len(reference), chunk):
            stop = min(start + chunk, len(reference))
            yield torch.cat([translate(reference.inputs[i : min(i + batch_size, stop)]) for i in range(start, stop, batch_size)])

    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(protocol.sample_seed)
        generated = segmentation_confusion(translated(), reference, chosen, protocol, device)
    truth = ground_truth_confusion(reference, chosen, protocol, device, chunk)
    scores, truth_scores = fcn_scores(generated), fcn_scores(truth)
    names = CITYSCAPES_CLASSES if protocol.reference == "cityscapes" else TOY_CLASSES
    (acc, iou), (gt_acc, gt_iou) = _per_class(generated), _per_class(truth)
    per_class = {name: {"acc": float(acc[i]), "iou": float(iou[i]), "gt_acc": float(gt_acc[i]), "gt_iou": float(gt_iou[i])}
                 for i, name in enumerate(names[: protocol.segmentation_classes])}
    if chosen.source:
        comparable = (f"{protocol.comparable}, only if the plugged segmenter {chosen.source} is that network" if protocol.comparable
                      else "not comparable to any published number")
    else:
        comparable = ("not comparable to published numbers: gbench's own segmenter, not the authors' Caffe FCN-8s; "
                      "read the scores relative to the ground-truth row" if protocol.comparable else "not comparable to any published number")
    return {
        "protocol": protocol.id,
        "fingerprint": fingerprint(protocol, chosen.sha256, reference.checksum),
        "metrics": {**scores, **{f"gt_{k}": v for k, v in truth_scores.items()}},
        "ground_truth": truth_scores,
        "per_class": per_class,
        "n_gen": len(reference),
        "n_ref": len(reference),
        "reference": f"{protocol.reference}/{protocol.reference_split}",
        "extractor": chosen.name,
        "extractor_sha256": chosen.sha256,
        "segmenter": chosen.source or protocol.extractor,
        "reference_checksum": reference.checksum,
        "sample_seed": protocol.sample_seed,
        "quantization": protocol.quantization,
        "resize": protocol.resize,
        "comparable_to": comparable,
        "seconds": round(time.perf_counter() - started, 3),
    }
