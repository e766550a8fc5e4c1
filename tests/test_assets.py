"""Checksummed atomic downloads, offline errors, safe extraction and the asset store (no network)."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import socket
import tarfile
import urllib.error
from pathlib import Path

import pytest
import torch

from gbench import assets, inventory, paths
from gbench.data import download
from gbench.errors import GBenchError


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GBENCH_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))


def make_file(path: Path, payload: bytes = b"gbench test payload " * 1000) -> tuple[Path, str, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path, hashlib.md5(payload).hexdigest(), hashlib.sha256(payload).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix in (".part", ".tmp"))


# ----------------------------------------------------------------------------- verify and download


def test_verify_accepts_good_and_rejects_bad(tmp_path):
    path, md5, sha = make_file(tmp_path / "f.bin")
    assert download.verify(path, md5=md5)
    assert download.verify(path, sha256=sha)
    assert download.verify(path, sha256_prefix=sha[:8])
    assert download.verify(path, md5=md5, sha256=sha)
    assert not download.verify(path, md5="0" * 32)
    assert not download.verify(path, sha256="0" * 64)
    assert not download.verify(path, md5=md5, sha256="0" * 64)
    assert not download.verify(path, sha256_prefix="00000000" if not sha.startswith("00000000") else "ffffffff")
    assert not download.verify(tmp_path / "absent.bin", md5=md5)


def test_download_file_url_is_atomic_and_verified(tmp_path, monkeypatch):
    src, md5, sha = make_file(tmp_path / "src" / "archive.tar.gz")
    dest = tmp_path / "out" / "archive.tar.gz"
    assert download.download(src.as_uri(), dest, md5=md5, sha256=sha) == dest
    assert dest.read_bytes() == src.read_bytes()
    assert leftovers(dest.parent) == []
    assert download.cached_sha256(dest) == sha

    # already present and verified: the network is not consulted again
    monkeypatch.setattr(download, "_open_url", lambda url: pytest.fail("re-downloaded a verified file"))
    assert download.download("https://example.invalid/x", dest, md5=md5) == dest


def test_download_checksum_mismatch_leaves_nothing(tmp_path):
    src, md5, _ = make_file(tmp_path / "src" / "w.pth")
    dest = tmp_path / "out" / "w.pth"
    with pytest.raises(GBenchError) as err:
        download.download(src.as_uri(), dest, sha256="ab" * 32, command="gbench data fetch inception")
    msg = str(err.value)
    assert "sha256 is" in msg and "ab" * 32 in msg and "gbench data fetch inception" in msg and "\n" not in msg
    assert not dest.exists() and leftovers(dest.parent) == []


def test_interrupted_download_removes_temp_file(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        headers = {"Content-Length": str(10 * download.CHUNK_BYTES)}

        def read(self, n=-1):
            if self.tell() >= download.CHUNK_BYTES:
                raise ConnectionResetError("peer reset")
            return super().read(n)

    monkeypatch.setattr(download, "_open_url", lambda url: Broken(b"x" * (10 * download.CHUNK_BYTES)))
    dest = tmp_path / "out" / "big.bin"
    with pytest.raises(GBenchError, match="download of https://example.org/big.bin failed .*peer reset.*big.bin .*md5 "):
        download.download("https://example.org/big.bin", dest, md5="1" * 32)
    assert not dest.exists() and leftovers(dest.parent) == []

    class CutShort(Broken):  # the server closes the connection early
        def read(self, n=-1):
            if self.tell() >= download.CHUNK_BYTES:
                raise http.client.IncompleteRead(b"", 5)
            return io.BytesIO.read(self, n)

    monkeypatch.setattr(download, "_open_url", lambda url: CutShort(b"x" * (10 * download.CHUNK_BYTES)))
    with pytest.raises(GBenchError, match="IncompleteRead"):
        download.download("https://example.org/big.bin", dest, md5="1" * 32)
    assert not dest.exists() and leftovers(dest.parent) == []


def test_network_failure_is_one_line_with_file_hash_and_command(tmp_path, monkeypatch):
    def unreachable(url):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download, "_open_url", unreachable)
    dest = tmp_path / "data" / "cifar-10-python.tar.gz"
    with pytest.raises(GBenchError) as err:
        download.download("https://www.cs.toronto.edu/x", dest, md5="c58f30108f718f92721af3b95e74349a", command="gbench data fetch cifar10")
    msg = str(err.value)
    for needle in ("cifar-10-python.tar.gz", "md5 c58f30108f718f92721af3b95e74349a", str(dest), "`gbench data fetch cifar10`", "name resolution"):
        assert needle in msg
    assert "\n" not in msg


def test_offline_never_opens_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    assert download.is_offline()
    monkeypatch.setattr(download, "_open_url", lambda url: pytest.fail("opened a url while offline"))
    dest = tmp_path / "data" / "stl10_binary.tar.gz"
    with pytest.raises(GBenchError) as err:
        download.download("http://example.org/stl.tgz", dest, md5="91f7769df0f17e558f3565bffb0c7dfb", command="gbench data fetch stl10")
    msg = str(err.value)
    for needle in ("GBENCH_OFFLINE=1", "stl10_binary.tar.gz", "91f7769df0f17e558f3565bffb0c7dfb", str(dest), "gbench data fetch stl10"):
        assert needle in msg
    monkeypatch.setenv("GBENCH_OFFLINE", "0")
    assert not download.is_offline()


def test_dataset_fetch_offline_names_archive_hash_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    with pytest.raises(GBenchError) as err:
        inventory.fetch("cifar10", tmp_path / "data")
    msg = str(err.value)
    assert "cifar-10-python.tar.gz" in msg and "c58f30108f718f92721af3b95e74349a" in msg
    assert f"gbench data fetch cifar10 --root {tmp_path / 'data'}" in msg
    # the default root is $GBENCH_HOME/datasets and then needs no --root
    with pytest.raises(GBenchError, match=r"run `gbench data fetch mnist` with network access"):
        inventory.fetch("mnist")
    assert paths.datasets_dir() == tmp_path / "home" / "datasets"


def test_extract_refuses_path_traversal_and_links(tmp_path):
    def tar_with(member: tarfile.TarInfo, data: bytes = b"") -> Path:
        path = tmp_path / f"evil-{member.name.replace('/', '_')}.tar"
        with tarfile.open(path, "w") as tf:
            ok = tarfile.TarInfo("pkg/ok.txt")
            ok.size = 2
            tf.addfile(ok, io.BytesIO(b"ok"))
            member.size = len(data)
            tf.addfile(member, io.BytesIO(data))
        return path

    dest = tmp_path / "dest"
    with pytest.raises(GBenchError, match="outside"):
        download.extract_archive(tar_with(tarfile.TarInfo("pkg/../../escaped.txt"), b"pwn"), dest, "pkg")
    assert not (tmp_path / "escaped.txt").exists()
    link = tarfile.TarInfo("pkg/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(GBenchError, match="link"):
        download.extract_archive(tar_with(link), dest, "pkg")
    assert not (dest / "pkg").exists() and leftovers(dest) == []

    good = tar_with(tarfile.TarInfo("pkg/more.txt"), b"more")
    assert download.extract_archive(good, dest, "pkg") == dest / "pkg"
    assert (dest / "pkg" / "more.txt").read_bytes() == b"more" and leftovers(dest) == []
    truncated = tmp_path / "trunc.tar.gz"
    with tarfile.open(truncated, "w:gz") as tf:
        tf.add(dest / "pkg", arcname="pkg")
    truncated.write_bytes(truncated.read_bytes()[:40])
    with pytest.raises(GBenchError, match="trunc.tar.gz"):
        download.extract_archive(truncated, tmp_path / "dest2", "pkg")


# ----------------------------------------------------------------------------- assets


def fake_asset(monkeypatch, tmp_path, *, full_hash: bool) -> tuple[assets.Asset, bytes]:
    payload = b"structure-compatible fake weights " * 100
    sha = hashlib.sha256(payload).hexdigest()
    src = tmp_path / "remote" / f"fake-{sha[:8]}.pth"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(payload)
    asset = assets.Asset("fake", src.name, src.as_uri(), "test asset", sha256=sha if full_hash else None, sha256_prefix=sha[:8])
    monkeypatch.setitem(assets.ASSETS, "fake", asset)
    return asset, payload


def test_registry_names_carry_their_hash_prefix():
    inception, vgg = assets.ASSETS["inception"], assets.ASSETS["vgg19"]
    assert inception.filename == "weights-inception-2015-12-05-6726825d.pth"
    assert inception.url.endswith(inception.filename) and vgg.url.endswith("vgg19-dcbb9e9d.pth")
    for asset in (inception, vgg):
        assert f"-{asset.sha256_prefix}." in asset.filename
        assert asset.sha256 is None or asset.sha256.startswith(asset.sha256_prefix)


def test_gbench_home_and_asset_lookup_in_gbench_home(tmp_path, monkeypatch):
    assert paths.gbench_home() == tmp_path / "home" and paths.assets_dir() == tmp_path / "home" / "assets"
    monkeypatch.delenv("GBENCH_HOME")
    assert paths.gbench_home() == Path.home() / ".cache" / "gbench"
    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "home"))

    asset, payload = fake_asset(monkeypatch, tmp_path, full_hash=True)
    local = paths.assets_dir() / asset.filename
    local.parent.mkdir(parents=True)
    local.write_bytes(payload)
    assert assets.asset_path("fake") == local
    assert assets.asset_sha256(local) == hashlib.sha256(payload).hexdigest()


def test_asset_lookup_in_torch_hub_and_wrong_prefix_rejected(tmp_path, monkeypatch):
    asset, payload = fake_asset(monkeypatch, tmp_path, full_hash=False)
    hub_file = tmp_path / "hub" / "checkpoints" / asset.filename
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(payload)
    assert assets.asset_path("fake") == hub_file

    hub_file.write_bytes(b"truncated")
    with pytest.raises(GBenchError) as err:
        assets.asset_path("fake")
    msg = str(err.value)
    assert "rejected" in msg and str(hub_file) in msg and asset.sha256_prefix in msg and "gbench data fetch fake" in msg

    # the real registry: a random file under the Inception name fails its sha256
    real = tmp_path / "hub" / "checkpoints" / assets.ASSETS["inception"].filename
    real.write_bytes(b"not the inception weights")
    with pytest.raises(GBenchError) as err:
        assets.asset_path("inception")
    msg = str(err.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in msg and assets.ASSETS["inception"].sha256 in msg
    assert str(paths.assets_dir()) in msg and "gbench data fetch inception" in msg and "\n" not in msg


def test_asset_download_only_when_asked_and_online(tmp_path, monkeypatch):
    asset, payload = fake_asset(monkeypatch, tmp_path, full_hash=True)
    with pytest.raises(GBenchError, match="missing asset fake"):
        assets.asset_path("fake")
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    with pytest.raises(GBenchError, match="offline .*put it in .*gbench data fetch fake"):
        assets.fetch_asset("fake")
    monkeypatch.delenv("GBENCH_OFFLINE")
    path = inventory.fetch("fake")
    assert path == paths.assets_dir() / asset.filename and path.read_bytes() == payload
    assert [row for row in assets.asset_status() if row[0] == "fake"] == [("fake", True, path)]


def test_asset_sha256_is_cached_by_path_mtime_size(tmp_path, monkeypatch):
    path, _, sha = make_file(tmp_path / "w.pth")
    assert assets.asset_sha256(path) == sha
    real_digests = download.file_digests
    monkeypatch.setattr(download, "file_digests", lambda *a, **k: pytest.fail("re-hashed an unchanged file"))
    assert assets.asset_sha256(path) == sha
    monkeypatch.setattr(download, "file_digests", real_digests)
    stat = path.stat()
    path.write_bytes(b"changed, and of another size")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: the size alone must invalidate
    assert assets.asset_sha256(path) == hashlib.sha256(b"changed, and of another size").hexdigest()
    path.write_bytes(b"CHANGED, and of another size")  # same size, new mtime
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert assets.asset_sha256(path) == hashlib.sha256(b"CHANGED, and of another size").hexdigest()
    assert (tmp_path / "home" / "cache" / "sha256.json").is_file()


def test_unknown_asset_is_a_user_error():
    with pytest.raises(GBenchError, match="unknown asset 'nope'; known: inception, lpips-vgg16, vgg16, vgg19"):
        assets.asset_path("nope")
