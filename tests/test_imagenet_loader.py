"""The ImageNet folder loader (gbench/data/imagenet.py) on fixture folders written in the ILSVRC2012 layout: class
folders for train, flat validation images with the devkit's ground truth and meta.mat, or validation class folders."""

import json

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from gbench.data import load_dataset
from gbench.data.imagenet import center_crop_long_edge, first_per_class, list_split, load_imagenet, strided_subset
from gbench.errors import GBenchError

WNIDS = ("n01440764", "n01443537", "n09193705")  # sorted: labels 0, 1, 2
# ILSVRC2012_IDs as the devkit numbers them (not in sorted-wnid order): id 3 is the first wnid, id 1 the second, id 2 the third
ILSVRC_ID = {"n01440764": 3, "n01443537": 1, "n09193705": 2}


def _image(seed: int, size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(array)
    return image.convert(mode)


def _write_meta(path, entries):
    """meta.mat as the devkit has it: a struct array `synsets` (ILSVRC2012_ID, WNID, words, ..., num_children)."""
    dtype = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("gloss", "O"), ("num_children", "O")]
    synsets = np.array([(i, w, f"class {w}", "", 0) for w, i in entries] + [(1001, "n00001740", "entity", "", 3)], dtype=dtype)
    scipy.io.savemat(path, {"synsets": synsets})


@pytest.fixture()
def imagenet_root(tmp_path):
    root = tmp_path / "data"
    for k, wnid in enumerate(WNIDS):
        folder = root / "imagenet" / "train" / wnid
        folder.mkdir(parents=True)
        for j in range(3):
            size = [(40, 30), (30, 41), (24, 24)][j]
            _image(10 * k + j, size, "L" if j == 2 else "RGB").save(folder / f"{wnid}_{j + 1}.JPEG", quality=95)
    val = root / "imagenet" / "val"
    val.mkdir(parents=True)
    truth_wnids = ["n09193705", "n01440764", "n09193705", "n01443537", "n01440764", "n01443537"]  # images 1..6
    for number in range(1, 7):
        _image(100 + number, (36, 28)).save(val / f"ILSVRC2012_val_{number:08d}.JPEG", quality=95)
    data = root / "imagenet" / "ILSVRC2012_devkit_t12" / "data"
    data.mkdir(parents=True)
    (data / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(f"{ILSVRC_ID[w]}\n" for w in truth_wnids))
    _write_meta(data / "meta.mat", ILSVRC_ID.items())
    return root


def test_train_split_labels_by_sorted_wordnet_id_and_preprocesses_like_biggan(imagenet_root):
    data = load_imagenet(imagenet_root, "train", resolution=16)
    assert data.images.shape == (9, 3, 16, 16) and data.images.dtype == torch.uint8
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] and data.num_classes == 3
    # CenterCropLongEdge then transforms.Resize(16) (PIL bilinear), computed here by hand from the file
    with Image.open(imagenet_root / "imagenet" / "train" / WNIDS[1] / f"{WNIDS[1]}_2.JPEG") as image:
        rgb = image.convert("RGB")
        assert rgb.size == (30, 41)
        top = int(round((41 - 30) / 2.0))  # 5.5 rounds to 6 (Python's round, as torchvision's center_crop)
        expected = np.asarray(rgb.crop((0, top, 30, top + 30)).resize((16, 16), Image.BILINEAR)).transpose(2, 0, 1)
    assert np.array_equal(data.images[4].numpy(), expected)
    assert torch.equal(data.images[2, 0], data.images[2, 1])  # the greyscale JPEG became RGB


def test_center_crop_rounds_like_torchvision():
    """Offsets are int(round((size - crop) / 2)): 1.5 -> 2 and 2.5 -> 2 (Python rounds halves to even)."""
    wide = np.tile(np.arange(7, dtype=np.uint8)[None, :, None], (4, 1, 3))  # pixel value = column index
    assert np.asarray(center_crop_long_edge(Image.fromarray(wide)))[0, :, 0].tolist() == [2, 3, 4, 5]
    tall = np.tile(np.arange(9, dtype=np.uint8)[:, None, None], (1, 4, 3))  # pixel value = row index
    assert np.asarray(center_crop_long_edge(Image.fromarray(tall)))[:, 0, 0].tolist() == [2, 3, 4, 5]


def test_flat_validation_labels_come_from_the_devkit(imagenet_root):
    files, labels = list_split(imagenet_root, "val")
    assert [f.name for f in files] == [f"ILSVRC2012_val_{n:08d}.JPEG" for n in range(1, 7)]
    assert labels == [2, 0, 2, 1, 0, 1]  # devkit ids mapped to wordnet ids, then to the sorted-wnid labels
    first_files, first_labels = list_split(imagenet_root, "val-1k")
    assert first_labels == [0, 1, 2] and [f.name[-13:-5] for f in first_files] == ["00000002", "00000004", "00000001"]


def test_validation_class_folders_need_no_devkit(tmp_path):
    root = tmp_path / "data"
    for k, wnid in enumerate(WNIDS[:2]):
        folder = root / "imagenet" / "val" / wnid
        folder.mkdir(parents=True)
        for number in (7 + k, 3 + k, 12):
            _image(number, (20, 20)).save(folder / f"ILSVRC2012_val_{number + 10 * k:08d}.JPEG")
    files, labels = list_split(root, "val-1k")
    assert labels == [0, 1] and [f.name for f in files] == ["ILSVRC2012_val_00000003.JPEG", "ILSVRC2012_val_00000014.JPEG"]
    assert first_per_class(files, labels) == (files, labels)


def test_cache_is_reused_and_a_subset_is_strided(imagenet_root, monkeypatch):
    first = load_dataset("imagenet", "train", root=imagenet_root, resolution=8)
    cache = sorted((imagenet_root / "imagenet" / "cache").glob("*.json"))
    assert len(cache) == 1 and json.loads(cache[0].read_text())["count"] == 9
    monkeypatch.setattr("gbench.data.imagenet.preprocess", lambda *a: (_ for _ in ()).throw(AssertionError("decoded again")))
    again = load_dataset("imagenet", "train", root=imagenet_root, resolution=8)
    assert torch.equal(first.images, again.images) and first.checksum == again.checksum
    assert strided_subset(9, 4) == [0, 2, 4, 6]
    monkeypatch.undo()
    subset = load_imagenet(imagenet_root, "train", resolution=8, size=4)
    assert subset.labels.tolist() == [0, 0, 1, 2] and torch.equal(subset.images, first.images[[0, 2, 4, 6]])
    assert subset.checksum != first.checksum


def test_missing_data_is_one_line_naming_the_layout(tmp_path, imagenet_root):
    with pytest.raises(GBenchError) as info:
        load_imagenet(tmp_path / "nothing", "train")
    message = str(info.value)
    assert "\n" not in message and "licence" in message and "1d675b47d978889d74fa0da5fadfb00e" in message
    assert "imagenet/train" in message
    (imagenet_root / "imagenet" / "ILSVRC2012_devkit_t12" / "data" / "meta.mat").unlink()
    with pytest.raises(GBenchError, match="meta.mat is missing"):
        list_split(imagenet_root, "val")
    with pytest.raises(GBenchError, match="split must be one of"):
        list_split(imagenet_root, "test")
