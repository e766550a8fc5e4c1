"""FCN-score protocols: the toy segmenter, the full scoring path with its ground-truth row, label-resolution
resizing, pluggable segmenters, the reference-compatible scorer, and gbench's FCN-8s trainer at tiny size."""

import dataclasses
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gbench.data.cityscapes import IGNORE, prepare_cityscapes
from gbench.data.paired import SegmentationSet, load_segmentation_set
from gbench.errors import GBenchError
from gbench.evaluation import fcn
from gbench.train.segmenter import train_segmenter
from gbench.protocols import PROTOCOLS, get_protocol


def _in_order(images: torch.Tensor):
    """A 'translator' that returns the given images batch after batch, whatever it is fed."""
    position = 0

    def translate(batch):
        nonlocal position
        out = images[position : position + len(batch)]
        position += len(batch)
        return out

    return translate


@pytest.fixture(scope="module")
def toy_reference():
    protocol = get_protocol("toyscapes-fcn")
    return protocol, load_segmentation_set("toyscapes", "val", resolution=protocol.resolution, size=protocol.n_ref)


def test_toy_segmenter_is_cached_and_segments_real_photos_well(toy_reference):
    from gbench.assets import assets_dir

    protocol, reference = toy_reference
    segmenter = fcn.load_segmenter("", protocol)
    path = assets_dir() / f"toyscapes-segmenter-v{fcn.TOY_VERSION}.pt"
    mtime = path.stat().st_mtime_ns
    assert fcn.load_segmenter("", protocol).sha256 == segmenter.sha256 and path.stat().st_mtime_ns == mtime  # reused
    truth = fcn.fcn_scores(fcn.ground_truth_confusion(reference, segmenter, protocol, "cpu", 50))
    assert truth["pixel_acc"] > 0.95 and truth["class_iou"] > 0.8


def test_fcn_score_path_end_to_end_with_ground_truth_row(toy_reference):
    protocol, reference = toy_reference
    perfect = fcn.evaluate_fcn(_in_order(reference.photos), protocol.id, batch_size=64)
    m = perfect["metrics"]
    assert {"pixel_acc", "class_acc", "class_iou", "gt_pixel_acc", "gt_class_acc", "gt_class_iou"} <= set(m)
    assert [m[k] for k in fcn.FCN_METRICS] == [m[f"gt_{k}"] for k in fcn.FCN_METRICS]  # real photos score as the GT row
    assert perfect["ground_truth"] == {k: m[f"gt_{k}"] for k in fcn.FCN_METRICS}
    assert perfect["fingerprint"].startswith("toyscapes-fcn@") and perfect["n_gen"] == 200
    assert perfect["comparable_to"].startswith("not comparable") and set(perfect["per_class"]) == {
        "road", "sidewalk", "building", "vegetation", "sky", "car", "pole"}

    grey = fcn.evaluate_fcn(lambda batch: torch.full_like(batch, 128), protocol.id, batch_size=64)
    assert grey["fingerprint"] == perfect["fingerprint"]
    assert grey["metrics"]["gt_pixel_acc"] == m["gt_pixel_acc"]  # the ground-truth row does not depend on the model
    assert grey["metrics"]["pixel_acc"] < m["pixel_acc"] - 0.3 and grey["metrics"]["class_iou"] < 0.2

    with pytest.raises(GBenchError, match="uint8"):
        fcn.evaluate_fcn(lambda batch: batch.float(), protocol.id, batch_size=64)


def test_evaluation_leaves_the_global_rng_alone(toy_reference):
    protocol, _ = toy_reference
    torch.manual_seed(5)
    before = torch.get_rng_state()
    fcn.evaluate_fcn(lambda batch: batch[:, :, :, :] // 2 + torch.randint(0, 2, batch.shape, dtype=torch.uint8), protocol.id, batch_size=100)
    assert torch.equal(torch.get_rng_state(), before)


def test_images_are_upsampled_to_the_label_resolution_with_pil_bilinear():
    images = torch.randint(0, 256, (3, 3, 8, 12), dtype=torch.uint8)
    resized = fcn.resize_to(images, (16, 20))
    expected = np.asarray(Image.fromarray(images[1].permute(1, 2, 0).numpy()).resize((20, 16), Image.BILINEAR))
    assert resized.shape == (3, 3, 16, 20) and np.array_equal(resized[1].permute(1, 2, 0).numpy(), expected)
    assert fcn.resize_to(images, (8, 12)) is images


def _plugin(tmp_path, monkeypatch, body: str) -> str:
    (tmp_path / "my_segmenter.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_segmenter", None)
    return "my_segmenter:make"


def test_label_resolution_and_a_plugged_segmenter(tmp_path, monkeypatch):
    """Labels at twice the image size: images are upsampled before segmentation, labels are used as they are."""
    spec = _plugin(tmp_path, monkeypatch, (
        "import torch\n"
        "def make():\n"
        "    return (lambda images: (images[:, 0] > 127).long()), 'cafe' * 16\n"))
    protocol = dataclasses.replace(get_protocol("toyscapes-fcn"), segmentation_classes=2, n_gen=2, n_ref=2)
    small = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    small[0, 0, :, :2] = 255  # frame 0: left half bright -> class 1 on the left
    labels = torch.zeros(2, 8, 8, dtype=torch.uint8)
    labels[0, :, :4] = 1
    labels[1, :2] = IGNORE
    reference = SegmentationSet(small, small, labels)
    segmenter = fcn.load_segmenter(spec, protocol)
    confusion = fcn.segmentation_confusion([small], reference, segmenter, protocol, "cpu")
    assert segmenter.sha256 == "cafe" * 16
    assert confusion.tolist() == [[32 + 48, 0], [0, 32]]  # every scored pixel right; 16 ignored pixels left out
    with pytest.raises(GBenchError, match="neither a checkpoint"):
        fcn.load_segmenter("no-such-thing", protocol)


def test_reference_compatible_scorer_skips_frames_as_the_official_script():
    """A predicted id == num_classes on a frame with the last class overflows the official histogram: frame skipped."""
    protocol = dataclasses.replace(get_protocol("toyscapes-fcn"), segmentation_classes=2, n_gen=2, n_ref=2)
    labels = torch.tensor([[[0, 1]], [[0, 0]]], dtype=torch.uint8)
    pred = torch.tensor([[[0, 2]], [[0, 0]]])
    segmenter = fcn.Segmenter("fake", "0" * 64, lambda images: pred[: len(images)], "fake")
    images = torch.zeros(2, 3, 1, 2, dtype=torch.uint8)
    reference = SegmentationSet(images, images, labels)
    compatible = fcn.segmentation_confusion([images], reference, segmenter, dataclasses.replace(protocol, reference_compatible=True), "cpu")
    assert compatible.tolist() == [[2, 0], [0, 0]]  # only frame 1 counted
    with pytest.raises(GBenchError, match="outside"):
        fcn.segmentation_confusion([images], reference, segmenter, protocol, "cpu")


def _cityscapes_fixture(source, frames: dict[str, int], label_size=(32, 64)):
    """The official layout: leftImg8bit/<split>/<city>/*_leftImg8bit.png and gtFine colour + labelIds PNGs."""
    rng = np.random.default_rng(0)
    for split, n in frames.items():
        for i in range(n):
            city = "aachen" if split == "train" else "frankfurt"
            frame = f"{city}_{i:06d}_000019"
            ids = np.full(label_size, 7, dtype=np.uint8)  # road
            ids[: label_size[0] // 2] = 23  # sky on top
            ids[:, : label_size[1] // 4] = 11  # building on the left
            ids[-2:] = 1  # ego vehicle: ignored
            colour = np.zeros((*label_size, 3), dtype=np.uint8)
            colour[ids == 7], colour[ids == 23], colour[ids == 11] = (128, 64, 128), (70, 130, 180), (70, 70, 70)
            photo = np.clip(colour.astype(int) + rng.integers(-10, 10, colour.shape), 0, 255).astype(np.uint8)
            for kind, name, array in (("leftImg8bit", "leftImg8bit", photo), ("gtFine", "gtFine_color", colour),
                                      ("gtFine", "gtFine_labelIds", ids)):
                folder = source / kind / split / city
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(folder / f"{frame}_{name}.png")


def test_train_segmenter_at_tiny_size_and_score_with_its_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "home"))
    root = tmp_path / "home" / "datasets"
    _cityscapes_fixture(root, {"train": 4, "val": 2})
    prepare_cityscapes(root, size=32)
    lines = []
    path = train_segmenter("cityscapes", epochs=2, batch_size=2, width=4, fc_width=8, work_size=32, device="cpu", log=lines.append)
    assert path == tmp_path / "home" / "assets" / fcn.CITYSCAPES_CHECKPOINT and path.exists()
    assert any("ground-truth row on val" in line for line in lines)
    blob = torch.load(path, weights_only=True)
    assert blob["work_size"] == [32, 32] and blob["num_classes"] == 19

    protocol = dataclasses.replace(get_protocol("cityscapes-fcn"), n_gen=2, n_ref=2, resolution=32)
    monkeypatch.setitem(PROTOCOLS, protocol.id, protocol)
    reference = load_segmentation_set("cityscapes", "val", resolution=32)
    assert reference.labels(0, 2).shape == (2, 32, 64)  # full label resolution, never resized
    result = fcn.evaluate_fcn(lambda batch: batch, protocol.id, batch_size=2)  # the default segmenter is that checkpoint
    assert result["extractor_sha256"] == blob["sha256"] and result["segmenter"] == "fcn8s-cityscapes"
    assert result["comparable_to"].startswith("not comparable to published numbers: gbench's own segmenter")
    plugged = fcn.evaluate_fcn(lambda batch: batch, protocol.id, batch_size=2, segmenter=str(path))
    assert plugged["metrics"] == result["metrics"] and "only if the plugged segmenter" in plugged["comparable_to"]
    json.dumps(result)  # eval.json material

    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "empty-home"))
    with pytest.raises(GBenchError, match="gbench train-segmenter cityscapes"):
        fcn.load_segmenter("", protocol)
