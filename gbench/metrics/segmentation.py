"""FCN-score for pix2pix labels→photo (Isola et al., 2017): confusion matrix and the three scores.

Follows junyanz/pytorch-CycleGAN-and-pix2pix `scripts/eval_cityscapes/` (shared/reference/metrics.md §4):
a confusion matrix H (rows = ground truth, columns = prediction) accumulated with one np.bincount over
num_classes·gt + pred, then

    pixel_acc = Σ H_ii / Σ H
    class_acc = mean_i H_ii / Σ_j H_ij
    class_iou = mean_i H_ii / (Σ_j H_ij + Σ_j H_ji − H_ii)

with +1e-12 in every denominator, so a class absent from both GT and prediction counts as 0, not NaN.

Deviation (default mode): predictions outside [0, num_classes) and GT values other than
[0, num_classes) ∪ {ignore_index} raise ValueError. The official scorer silently drops such GT pixels,
never checks predictions (a prediction of `num_classes` aliases into the next GT row, and on the last GT
class overflows the histogram so the whole frame is skipped); `reference_compatible=True` reproduces that.
"""

from __future__ import annotations

import numpy as np

CITYSCAPES_NUM_CLASSES = 19
IGNORE_INDEX = 255
DENOMINATOR_EPS = 1e-12


def confusion_matrix(
    gt, pred, num_classes: int, ignore_index: int = IGNORE_INDEX, *, reference_compatible: bool = False
) -> np.ndarray:
    """(num_classes, num_classes) int64 counts, rows = GT class, columns = predicted class."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"gt and pred differ in shape: {gt.shape} vs {pred.shape}")
    for name, labels in (("gt", gt), ("pred", pred)):
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{name} must hold integer class ids, got dtype {labels.dtype}")
    gt, pred = gt.ravel().astype(np.int64), pred.ravel().astype(np.int64)
    num_bins = num_classes * num_classes

    if reference_compatible:
        scored = (gt >= 0) & (gt < num_classes)
        counts = np.bincount(num_classes * gt[scored] + pred[scored], minlength=num_bins)
        if counts.size != num_bins:  # the official scorer skips a frame whose indices overflow
            return np.zeros((num_classes, num_classes), dtype=np.int64)
        return counts.reshape(num_classes, num_classes)

    scored = gt != ignore_index
    gt, pred = gt[scored], pred[scored]
    if gt.size and (gt.min() < 0 or gt.max() >= num_classes):
        bad = np.unique(gt[(gt < 0) | (gt >= num_classes)])[:5].tolist()
        raise ValueError(f"gt holds ids {bad} outside [0, {num_classes}) that are not ignore_index={ignore_index}")
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        bad = np.unique(pred[(pred < 0) | (pred >= num_classes)])[:5].tolist()
        raise ValueError(f"pred holds ids {bad} outside [0, {num_classes})")
    counts = np.bincount(num_classes * gt + pred, minlength=num_bins)
    return counts.reshape(num_classes, num_classes)


def fcn_scores(confusion) -> dict[str, float]:
    """Per-pixel accuracy, mean per-class accuracy and mean class IoU of a confusion matrix."""
    confusion = np.asarray(confusion, dtype=np.float64)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion must be square, got shape {confusion.shape}")
    correct = np.diag(confusion)
    gt_totals, pred_totals = confusion.sum(axis=1), confusion.sum(axis=0)
    pixel_acc = correct.sum() / (confusion.sum() + DENOMINATOR_EPS)
    class_acc = correct / (gt_totals + DENOMINATOR_EPS)
    class_iou = correct / (gt_totals + pred_totals - correct + DENOMINATOR_EPS)
    return {"pixel_acc": float(pixel_acc), "class_acc": float(class_acc.mean()), "class_iou": float(class_iou.mean())}
