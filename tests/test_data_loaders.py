"""Real-dataset loaders on tiny fixture files written here in the real on-disk formats (no network)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import pickle
import socket
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from datafiles import write_cifar
from PIL import Image

from gbench import inventory
from gbench.data import celeba, cifar10, download, mnist, stl10
from gbench.errors import GBenchError


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GBENCH_OFFLINE", raising=False)


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def patch_remote(monkeypatch, name: str, **changes_by_file):
    """Point a catalogue entry's remote files at fixture urls/md5s: changes_by_file[filename] = dict(urls=..., md5=...)."""
    info = download.DATASETS[name]
    remotes = tuple(dataclasses.replace(r, **changes_by_file.get(r.filename, {})) for r in info.remotes)
    monkeypatch.setitem(download.DATASETS, name, dataclasses.replace(info, remotes=remotes))


# ----------------------------------------------------------------------------- CIFAR-10


def test_cifar10_pixels_labels_and_splits(tmp_path):
    rows = write_cifar(tmp_path, high=200)
    train = cifar10.load_cifar10(tmp_path, "train")
    test = cifar10.load_cifar10(tmp_path, "test")
    assert train.images.shape == (20, 3, 32, 32) and test.images.shape == (3, 3, 32, 32)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert train.name == "cifar10-train" and train.checksum != test.checksum

    # every pixel lands where the format says: row index c*1024 + y*32 + x (independent gather)
    data, labels = rows["data_batch_2"]
    n, c, y, x = np.meshgrid(np.arange(4), np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    expected = data[n, c * 1024 + y * 32 + x]
    assert np.array_equal(train.images[4:8].numpy(), expected)
    assert train.labels[4:8].tolist() == labels.tolist()
    assert test.labels.tolist() == rows["test_batch"][1].tolist()


def test_cifar10_known_pixel_and_checksum_tracks_content(tmp_path):
    write_cifar(tmp_path, high=200)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    batch = pickle.loads(path.read_bytes(), encoding="bytes")
    batch[b"data"][2, 2 * 1024 + 5 * 32 + 7] = 255  # blue plane, row 5, column 7 of image 2 (fixtures stay < 200)
    before = cifar10.load_cifar10(tmp_path, "test").checksum
    path.write_bytes(pickle.dumps(batch, protocol=2))
    loaded = cifar10.load_cifar10(tmp_path, "test")
    assert (loaded.images == 255).nonzero().tolist() == [[2, 2, 5, 7]]
    assert loaded.checksum != before


def test_cifar10_corrupt_and_malicious_pickles_name_the_file(tmp_path):
    write_cifar(tmp_path, high=200)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(GBenchError, match="corrupt CIFAR-10 file .*data_batch_3"):
        cifar10.load_cifar10(tmp_path, "train")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(GBenchError, match="data_batch_3.*not allowed"):
        cifar10.load_cifar10(tmp_path, "train")


def test_cifar10_missing_names_file_and_fetch_command(tmp_path):
    with pytest.raises(GBenchError) as err:
        cifar10.load_cifar10(tmp_path / "empty", "test")
    msg = str(err.value)
    assert "test_batch" in msg and "gbench data fetch cifar10 --root" in msg
    assert "c58f30108f718f92721af3b95e74349a" in msg and "\n" not in msg
    with pytest.raises(GBenchError, match="split"):
        cifar10.load_cifar10(tmp_path, "valid")


def test_fetch_cifar10_from_file_url_verifies_and_extracts(tmp_path, monkeypatch):
    write_cifar(tmp_path / "src", high=200)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    patch_remote(monkeypatch, "cifar10", **{"cifar-10-python.tar.gz": {"urls": (archive.as_uri(),), "md5": md5_of(archive)}})
    root = tmp_path / "data"
    assert [s[1] for s in download.dataset_status(root) if s[0] == "cifar10"] == [False]
    folder = cifar10.fetch_cifar10(root)
    assert folder == root / "cifar-10-batches-py"
    assert [s[1] for s in download.dataset_status(root) if s[0] == "cifar10"] == [True]
    assert torch.equal(cifar10.load_cifar10(root, "train").images, cifar10.load_cifar10(tmp_path / "src", "train").images)
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp files or staging folders left

    # the real md5 rejects the fixture archive, and the bad download is not kept
    patch_remote(monkeypatch, "cifar10", **{"cifar-10-python.tar.gz": {"urls": (archive.as_uri(),), "md5": "0" * 32}})
    with pytest.raises(GBenchError, match="md5"):
        cifar10.fetch_cifar10(tmp_path / "data2")
    assert not any((tmp_path / "data2").iterdir())


# ----------------------------------------------------------------------------- STL-10


def write_stl(root: Path, counts=(("train", 3), ("test", 2), ("unlabeled", 5)), seed: int = 0) -> dict[str, np.ndarray]:
    """Real layout: per image 3 x 96 x 96 bytes, each channel column-major (x slow, y fast); labels 1..10."""
    rng = np.random.default_rng(seed)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for part, count in counts:
        img = rng.integers(0, 200, (count, 3, 96, 96), dtype=np.uint8)  # (N, C, Y, X)
        (folder / f"{part}_X.bin").write_bytes(np.ascontiguousarray(img.transpose(0, 1, 3, 2)).tobytes())
        if part != "unlabeled":
            (folder / f"{part}_y.bin").write_bytes((np.arange(count) % 10 + 1).astype(np.uint8).tobytes())
        images[part] = img
    return images


def test_stl10_column_major_pixel_placement_and_labels(tmp_path):
    images = write_stl(tmp_path)
    raw = (tmp_path / "stl10_binary" / "train_X.bin").read_bytes()
    n, c, y, x = 1, 2, 10, 70
    assert raw[n * 27648 + c * 9216 + x * 96 + y] == images["train"][n, c, y, x]  # the fixture is column-major
    full = stl10.load_stl10(tmp_path, "train", resolution=96)
    assert full.images.shape == (3, 3, 96, 96) and full.images.dtype == torch.uint8
    assert full.images[n, c, y, x] == images["train"][n, c, y, x]
    assert np.array_equal(full.images.numpy(), images["train"])
    assert full.labels.tolist() == [0, 1, 2] and full.labels.dtype == torch.int64


def test_stl10_resize_matches_pil_bilinear_and_splits(tmp_path):
    images = write_stl(tmp_path)
    small = stl10.load_stl10(tmp_path, "test", resolution=48)
    assert small.images.shape == (2, 3, 48, 48) and small.name == "stl10-test-48"
    pil = np.stack([
        np.asarray(Image.fromarray(im.transpose(1, 2, 0)).resize((48, 48), Image.BILINEAR)).transpose(2, 0, 1)
        for im in images["test"]
    ])
    diff = np.abs(small.images.numpy().astype(int) - pil.astype(int))
    assert diff.max() <= 1  # torchvision Resize(48) on PIL images, within fixed-point rounding

    both = stl10.load_stl10(tmp_path, "train+unlabeled", resolution=48)
    assert both.images.shape == (8, 3, 48, 48) and both.labels is None
    assert torch.equal(both.images[:3], stl10.load_stl10(tmp_path, "train", resolution=48).images)
    assert torch.equal(both.images[3:], stl10.load_stl10(tmp_path, "unlabeled", resolution=48).images)
    assert both.checksum != stl10.load_stl10(tmp_path, "train+unlabeled", resolution=32).checksum


def test_stl10_corrupt_binaries_name_the_file(tmp_path):
    write_stl(tmp_path)
    path = tmp_path / "stl10_binary" / "test_X.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(GBenchError, match="corrupt STL-10 file .*test_X.bin"):
        stl10.load_stl10(tmp_path, "test")
    (tmp_path / "stl10_binary" / "train_y.bin").write_bytes(bytes([1, 2]))
    with pytest.raises(GBenchError, match="train_y.bin"):
        stl10.load_stl10(tmp_path, "train")
    with pytest.raises(GBenchError, match="gbench data fetch stl10"):
        stl10.load_stl10(tmp_path / "nowhere", "train")


# ----------------------------------------------------------------------------- MNIST


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


def write_mnist(root: Path, gz: bool = True, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, count in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 100, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count).astype(np.uint8)
        for name, blob in ((f"{prefix}-images-idx3-ubyte", idx_bytes(images, 0x803)), (f"{prefix}-labels-idx1-ubyte", idx_bytes(labels, 0x801))):
            (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(blob) if gz else blob)
        out[prefix] = (images, labels)
    return out


def test_mnist_idx_gz_pixels_labels_and_padding(tmp_path):
    data = write_mnist(tmp_path)
    images, labels = data["train"]
    native = mnist.load_mnist(tmp_path, "train")
    assert native.images.shape == (5, 1, 28, 28) and native.images.dtype == torch.uint8
    assert np.array_equal(native.images[:, 0].numpy(), images)
    assert native.labels.tolist() == labels.tolist() and native.labels.dtype == torch.int64
    assert mnist.load_mnist(tmp_path, "test").images.shape == (3, 1, 28, 28)

    padded = mnist.load_mnist(tmp_path, "train", resolution=32)
    assert padded.images.shape == (5, 1, 32, 32) and padded.name == "mnist-train-32pad"
    assert padded.images[2, 0, 3 + 2, 20 + 2] == images[2, 3, 20]  # 2-pixel zero border, content unscaled
    assert np.array_equal(padded.images[:, 0, 2:30, 2:30].numpy(), images)
    border = padded.images.clone()
    border[:, :, 2:30, 2:30] = 0
    assert border.sum() == 0

    resized = mnist.load_mnist(tmp_path, "train", resolution=32, upscale="resize")
    assert resized.images.shape == (5, 1, 32, 32) and resized.name == "mnist-train-32resize"
    assert len({native.checksum, padded.checksum, resized.checksum}) == 3
    pil = np.stack([np.asarray(Image.fromarray(im).resize((32, 32), Image.BILINEAR)) for im in images])
    assert np.abs(resized.images[:, 0].numpy().astype(int) - pil.astype(int)).max() <= 1


def test_mnist_raw_files_equal_gz_and_corruption(tmp_path):
    write_mnist(tmp_path / "gz", gz=True)
    write_mnist(tmp_path / "raw", gz=False)
    a, b = mnist.load_mnist(tmp_path / "gz", "test"), mnist.load_mnist(tmp_path / "raw", "test")
    assert torch.equal(a.images, b.images) and a.checksum == b.checksum

    path = tmp_path / "raw" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    blob = path.read_bytes()
    path.write_bytes(struct.pack(">I", 0x801) + blob[4:])
    with pytest.raises(GBenchError, match="t10k-images-idx3-ubyte.*magic"):
        mnist.load_mnist(tmp_path / "raw", "test")
    path.write_bytes(blob[:-10])
    with pytest.raises(GBenchError, match="t10k-images-idx3-ubyte.*truncated"):
        mnist.load_mnist(tmp_path / "raw", "test")
    with pytest.raises(GBenchError, match="resolution"):
        mnist.load_mnist(tmp_path / "gz", "test", resolution=64)


def test_fetch_mnist_falls_back_to_second_mirror(tmp_path, monkeypatch):
    write_mnist(tmp_path / "src")
    src = tmp_path / "src" / "MNIST" / "raw"
    changes = {
        p.name: {"urls": ((tmp_path / "no-such-mirror" / p.name).as_uri(), p.as_uri()), "md5": md5_of(p)}
        for p in src.iterdir()
    }
    patch_remote(monkeypatch, "mnist", **changes)
    mnist.fetch_mnist(tmp_path / "data")
    assert torch.equal(mnist.load_mnist(tmp_path / "data", "train").images, mnist.load_mnist(tmp_path / "src", "train").images)
    assert [s[1] for s in download.dataset_status(tmp_path / "data") if s[0] == "mnist"] == [True]


# ----------------------------------------------------------------------------- CelebA

BRIGHT, DARK = (220, 120, 20), (30, 60, 90)


def write_celeba(root: Path, parts=(0, 0, 0, 1, 1, 2)) -> Path:
    """Aligned-CelebA-style JPEGs (178 wide x 218 high) whose 108px centre crop (rows 55..162, cols
    35..142) has a BRIGHT top-left quadrant and is DARK elsewhere; outside the crop is grey."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, part in enumerate(parts, start=1):
        pixels = np.full((218, 178, 3), 128, np.uint8)
        pixels[55:163, 35:143] = DARK
        pixels[55:109, 35:89] = BRIGHT
        pixels[0, 0] = i  # makes each file distinct
        name = f"{i:06d}.jpg"
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name, quality=100, subsampling=0)
        lines.append(f"{name} {part}")
    (folder / "list_eval_partition.txt").write_text("\r\n".join(lines) + "\r\n")
    return folder


def test_celeba_crop_resize_splits(tmp_path):
    folder = write_celeba(tmp_path)
    train = celeba.load_celeba(tmp_path, "train", resolution=64)
    assert train.images.shape == (3, 3, 64, 64) and train.images.dtype == torch.uint8 and train.labels is None
    assert train.name == "celeba-train-64"
    assert [len(celeba.load_celeba(tmp_path, s)) for s in ("valid", "test", "all")] == [2, 1, 6]

    img = train.images[0].int()
    # quadrant boundary of the crop sits at 32 px: a crop misplaced by 10 source px would move it by 6
    for (yy, xx), colour in {(5, 5): BRIGHT, (28, 28): BRIGHT, (36, 36): DARK, (5, 36): DARK, (36, 5): DARK, (60, 60): DARK}.items():
        assert (img[:, yy, xx] - torch.tensor(colour)).abs().max() <= 6, (yy, xx, img[:, yy, xx])

    # independent reference: PIL crop + bilinear resize (what torchvision CenterCrop/Resize on PIL does)
    ref = Image.open(folder / "img_align_celeba" / "000001.jpg").convert("RGB").crop((35, 55, 143, 163)).resize((64, 64), Image.BILINEAR)
    assert np.abs(train.images[0].permute(1, 2, 0).numpy().astype(int) - np.asarray(ref).astype(int)).max() <= 1


def test_celeba_cache_is_used_and_invalidated(tmp_path, monkeypatch):
    folder = write_celeba(tmp_path)
    first = celeba.load_celeba(tmp_path, "train", resolution=32)
    cache = folder / "cache" / f"celeba-train-32-v{celeba.VERSION}.npy"
    assert cache.is_file() and cache.with_suffix(".json").is_file()
    assert not [p for p in cache.parent.iterdir() if p.name.startswith(".")]  # atomic writes leave no temp files

    def no_decoding(*args, **kwargs):
        raise AssertionError("cache not used")

    monkeypatch.setattr(celeba, "_decode_batch", no_decoding)
    again = celeba.load_celeba(tmp_path, "train", resolution=32)
    assert torch.equal(again.images, first.images) and again.checksum == first.checksum
    with pytest.raises(AssertionError, match="cache not used"):  # another resolution is another cache entry
        celeba.load_celeba(tmp_path, "train", resolution=64)

    monkeypatch.undo()
    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "home"))
    partition = folder / "list_eval_partition.txt"
    partition.write_text(partition.read_text().replace("000003.jpg 0", "000003.jpg 1"))
    assert len(celeba.load_celeba(tmp_path, "train", resolution=32)) == 2  # partition changed: rebuilt
    cache.with_suffix(".json").write_text("{ damaged")
    assert len(celeba.load_celeba(tmp_path, "train", resolution=32)) == 2  # damaged sidecar: rebuilt


def test_celeba_missing_image_and_offline_fetch_message(tmp_path, monkeypatch):
    folder = write_celeba(tmp_path)
    (folder / "img_align_celeba" / "000002.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(GBenchError, match="cannot decode CelebA image .*000002.jpg"):
        celeba.load_celeba(tmp_path, "train")
    (folder / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(GBenchError, match="000002.jpg is missing"):
        celeba.load_celeba(tmp_path, "train")

    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    with pytest.raises(GBenchError) as err:
        celeba.fetch_celeba(tmp_path / "fresh")
    msg = str(err.value)
    for needle in ("img_align_celeba.zip", "00d2c5bc6d35e252742224ab0c1e8fcb", str(tmp_path / "fresh" / "celeba"), "gbench data fetch celeba", "GBENCH_OFFLINE"):
        assert needle in msg
    assert "\n" not in msg


def test_celeba_fetch_manual_zip_and_drive_failure(tmp_path, monkeypatch):
    src = write_celeba(tmp_path / "src")
    dest = tmp_path / "data" / "celeba"
    dest.mkdir(parents=True)
    with zipfile.ZipFile(dest / "img_align_celeba.zip", "w") as zf:
        for p in sorted((src / "img_align_celeba").iterdir()):
            zf.write(p, f"img_align_celeba/{p.name}")
    (dest / "list_eval_partition.txt").write_bytes((src / "list_eval_partition.txt").read_bytes())

    with pytest.raises(GBenchError, match="img_align_celeba.zip has md5 .* expected 00d2c5bc"):
        celeba.fetch_celeba(tmp_path / "data")  # the real md5 rejects the fixture zip
    patch_remote(monkeypatch, "celeba", **{p.name: {"md5": md5_of(p)} for p in dest.iterdir()})
    monkeypatch.setenv("GBENCH_OFFLINE", "1")  # a manually placed zip needs no network
    celeba.fetch_celeba(tmp_path / "data")
    assert torch.equal(celeba.load_celeba(tmp_path / "data", "all").images, celeba.load_celeba(tmp_path / "src", "all").images)

    import torchvision.datasets.utils as tv_utils

    def quota_exceeded(*args, **kwargs):
        raise RuntimeError("Too many users have viewed or downloaded this file recently")

    monkeypatch.delenv("GBENCH_OFFLINE")
    monkeypatch.setattr(tv_utils, "download_file_from_google_drive", quota_exceeded)
    with pytest.raises(GBenchError, match="Google-Drive download of img_align_celeba.zip failed.*by hand.*gbench data fetch celeba"):
        celeba.fetch_celeba(tmp_path / "other")
    assert not [p for p in (tmp_path / "other" / "celeba").iterdir()]  # no staging leftovers


def test_dataset_catalogue_is_complete():
    for name, info in download.DATASETS.items():
        assert info.name == name and info.expected and info.remotes and info.used_by
        for r in info.remotes:  # every automatic download is verified; only manual-only files may lack a published checksum
            assert (r.md5 and len(r.md5) == 32) or (r.sha256 and len(r.sha256) == 64) or info.manual, (name, r.filename)
    assert download.DATASETS["cifar10"].remotes[0].md5 == "c58f30108f718f92721af3b95e74349a"
    assert download.DATASETS["celeba"].remotes[0].md5 == "00d2c5bc6d35e252742224ab0c1e8fcb"
    with pytest.raises(GBenchError, match="unknown dataset or asset"):
        inventory.fetch("lsun-bedroom")
