"""FFHQ and CelebA-HQ loaders on small fixture files written in the real layouts (gbench/data/faces.py): the folder
structure and names, dataset_tool's reductions, the memory-mapped cache, md5 checks, and one-line errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gbench.data import download, faces, load_dataset
from gbench.data.base import dataset_level
from gbench.errors import GBenchError


def _write(path, rgb: np.ndarray, fmt="PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format=fmt)


def _ffhq(root, n=5, side=16, folder="images1024x1024", seed=0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(n)]
    for i, im in enumerate(images):
        _write(root / "ffhq" / folder / f"{i // 1000 * 1000:05d}" / f"{i:05d}.png", im)
    return images


@pytest.fixture
def small_ffhq(monkeypatch):
    monkeypatch.setattr(faces, "FFHQ_IMAGES", 5)


def test_ffhq_layout_resolution_and_cache(tmp_path, small_ffhq):
    images = _ffhq(tmp_path)
    full = load_dataset("ffhq", "train", root=tmp_path)
    expected = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    assert torch.equal(full.images, expected) and full.name == "ffhq-train-16" and len(full.checksum) == 16
    half = load_dataset("ffhq", "train", root=tmp_path, resolution=4)
    assert torch.equal(half.images, dataset_level(expected, 4)) and half.resolution == 4 and half.checksum != full.checksum
    cache = next((tmp_path / "ffhq" / "cache").glob("ffhq-train-images1024x1024-4-v1.npy"))
    again = load_dataset("ffhq", "train", root=tmp_path, resolution=4)  # from the memory-mapped cache this time
    assert torch.equal(again.images, half.images) and again.checksum == half.checksum and cache.exists()
    _write(tmp_path / "ffhq" / "images1024x1024" / "00000" / "00003.png", np.zeros((16, 16, 3), np.uint8))  # edited in place
    changed = load_dataset("ffhq", "train", root=tmp_path, resolution=4)
    assert changed.checksum != half.checksum and changed.images[3].sum() == 0


def test_ffhq_thumbnails_and_their_limits(tmp_path, small_ffhq):
    _ffhq(tmp_path, folder="thumbnails128x128")
    thumbs = load_dataset("ffhq", "train", root=tmp_path, resolution=8)
    assert thumbs.images.shape == (5, 3, 8, 8)
    with pytest.raises(GBenchError, match="needs .*images1024x1024; only the 128x128 thumbnails are present"):
        load_dataset("ffhq", "train", root=tmp_path, resolution=256)
    with pytest.raises(GBenchError, match="cannot make 32x32 images from the 16x16"):
        load_dataset("ffhq", "train", root=tmp_path, resolution=32)
    _ffhq(tmp_path)  # the 1024 folder wins when both are there: another source, another checksum
    assert load_dataset("ffhq", "train", root=tmp_path, resolution=8).checksum != thumbs.checksum


def test_ffhq_missing_files_and_bad_md5_are_one_line_errors(tmp_path, small_ffhq, monkeypatch):
    with pytest.raises(GBenchError, match=r"FFHQ not found: .*download_ffhq.py") as exc:
        load_dataset("ffhq", "train", root=tmp_path)
    assert "\n" not in str(exc.value)
    images = _ffhq(tmp_path)
    (tmp_path / "ffhq" / "images1024x1024" / "00000" / "00002.png").unlink()
    with pytest.raises(GBenchError, match=r"00002.png is missing \(1 of 5 files"):
        load_dataset("ffhq", "train", root=tmp_path)
    _write(tmp_path / "ffhq" / "images1024x1024" / "00000" / "00002.png", images[2])
    entries = {str(i): {"category": "training", "image": {"file_path": f"images1024x1024/00000/{i:05d}.png",
                                                         "file_md5": hashlib.md5((tmp_path / "ffhq" / "images1024x1024" / "00000" / f"{i:05d}.png").read_bytes()).hexdigest()}}
               for i in range(5)}
    entries["4"]["image"]["file_md5"] = "0" * 32  # as if the file on disk were corrupt
    meta = tmp_path / "ffhq" / "ffhq-dataset-v2.json"
    meta.write_text(json.dumps(entries))
    with pytest.raises(GBenchError, match="has md5 .* expected 425ae20f"):
        load_dataset("ffhq", "train", root=tmp_path)
    monkeypatch.setattr(faces, "FFHQ_JSON_MD5", hashlib.md5(meta.read_bytes()).hexdigest())
    with pytest.raises(GBenchError, match="00004.png does not match its md5 in ffhq-dataset-v2.json"):
        load_dataset("ffhq", "train", root=tmp_path)
    with pytest.raises(GBenchError, match="FFHQ split must be one of train, training, validation"):
        load_dataset("ffhq", "test", root=tmp_path)


def test_celebahq_folder_numeric_order_and_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(faces, "CELEBAHQ_IMAGES", 12)
    folder = tmp_path / "celebahq"
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(12)]
    for i, im in enumerate(images):
        _write(folder / f"{i}.png", im)  # CelebAMask-HQ style names: 10.png comes after 9.png
    data = load_dataset("celebahq", "train", root=tmp_path)
    assert torch.equal(data.images, torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)) and data.resolution == 8
    assert load_dataset("celebahq", "train", root=tmp_path, resolution=4).images.shape == (12, 3, 4, 4)
    (folder / "7.png").unlink()
    with pytest.raises(GBenchError, match=r"image 7 is missing \(1 absent\)"):
        load_dataset("celebahq", root=tmp_path)
    _write(folder / "00007.png", images[7])
    _write(folder / "7.png", images[7])
    with pytest.raises(GBenchError, match="both claim image 7"):
        load_dataset("celebahq", root=tmp_path)
    with pytest.raises(GBenchError, match="CelebA-HQ not found: .*CelebAMask-HQ"):
        load_dataset("celebahq", root=tmp_path / "elsewhere")


def test_celebahq_fetch_extracts_a_verified_celebamask_zip(tmp_path, monkeypatch):
    monkeypatch.setattr(faces, "CELEBAHQ_IMAGES", 3)
    archive = tmp_path / "CelebAMask-HQ.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(3):
            path = tmp_path / f"src{i}.jpg"
            _write(path, np.full((8, 8, 3), 40 * i, np.uint8), fmt="JPEG")
            zf.write(path, f"CelebAMask-HQ/CelebA-HQ-img/{i}.jpg")
        zf.writestr("CelebAMask-HQ/README.txt", "masks and images")
    with pytest.raises(GBenchError, match="has md5 .*expected f1d85e89"):
        faces.fetch_celebahq(tmp_path)
    remote = download.DATASETS["celebahq"].remotes[0]
    digest = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(download.DATASETS, "celebahq", dataclasses.replace(download.DATASETS["celebahq"],
                                                                         remotes=(dataclasses.replace(remote, md5=digest),)))
    folder = faces.fetch_celebahq(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["0.jpg", "1.jpg", "2.jpg"] and not (tmp_path / ".celebamask-hq").exists()
    assert load_dataset("celebahq", root=tmp_path).images.shape == (3, 3, 8, 8)


def test_catalogue_and_protocols_name_the_face_sets():
    from gbench.protocols import get_protocol

    assert download.DATASETS["ffhq"].remotes[0].md5 == faces.FFHQ_JSON_MD5
    for pid, reference, n_ref, res in (("ffhq-50k", "ffhq", 0, 1024), ("celebahq-50k", "celebahq", 0, 1024), ("ffhq128-10k", "ffhq", 0, 128)):
        p = get_protocol(pid)
        assert (p.reference, p.n_ref, p.resolution, p.metrics) == (reference, n_ref, res, ("fid", "kid"))
    assert "first 50k" in get_protocol("ffhq-50k").description and "cycled" in get_protocol("celebahq-50k").description
