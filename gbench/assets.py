"""The offline-first asset store: pretrained weights that metrics and losses need, found and verified.

`asset_path(name)` looks for the file in `$GBENCH_HOME/assets/` (default `~/.cache/gbench/assets`),
then in torch hub's checkpoint folder (`torch.hub.get_dir()/checkpoints/`, where torch-fidelity and
torchvision put their downloads), verifies its checksum, and returns it. It downloads only when asked
(`download=True`, as `gbench data fetch NAME` does) and not offline; otherwise a missing or wrong file
is a one-line GBenchError naming the file, its hash, where to put it and the command that fetches it.

Checksums. torch-hub file names carry the first 8 hex digits of the file's sha256 (`-6726825d.pth`);
that prefix alone is a 32-bit check (it catches truncation and corruption, not a crafted file).
- inception: the full sha256 `6726825d0af5...29b2` (95,628,359 bytes) is used. It was not computed
  here (no network); it is the value pinned by several independent public projects that verify the
  same file, and it agrees with the name's prefix. The pytorch-fid copy `pt_inception-2015-12-05-
  6726825d.pth` is published with the same sha256.
- vgg19: no trustworthy full hash was found offline, so only the name's prefix `dcbb9e9d` is checked.
- dinov2 (ViT-L/14, the DINOv2 protocols' extractor): Meta publishes no checksum and the file name carries
  no hash prefix (the official code loads it with `load_state_dict_from_url` and no `check_hash`). The full
  sha256 `d5383ea8...cf428` and the size 1,217,586,395 bytes used here were not computed here either (no
  network): they are the values pinned for this exact URL by several independent public projects that
  verify the file before loading it (e.g. finegrain-ai/refiners `src/refiners/conversion/models/dinov2.py`,
  and download manifests of unrelated projects that agree on both hash and size). A file that does not
  match is rejected like any other asset. If Meta ever replaced the file, every copy would be rejected
  with its actual hash in the message; the remedy is to check the new file and update this entry, which
  also changes every DINOv2 fingerprint, as it must.
- lpips-vgg16: Zhang et al.'s LPIPS v0.1 linear weights for VGG16 (richzhang/PerceptualSimilarity
  lpips/weights/v0.1/vgg.pth, 7,289 bytes), re-uploaded by torch-fidelity as weights-vgg16-lpips.pth; sha256
  `a78928a0...8432868` as pinned by several independent public projects (one of them checks the torch-fidelity copy
  against it, so the two are the same bytes); not recomputed here (no network).
- vgg16: torchvision's ImageNet VGG16 (the LPIPS backbone); sha256 `397923af...57a5bf0` as pinned by several public
  projects, agreeing with the name's prefix; not recomputed here.

`asset_sha256(path)` is the full sha256 that goes into protocol fingerprints; it is cached by
(path, mtime, size), because hashing 100-550 MB on every evaluation is wasteful.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from gbench.data.download import cached_sha256, describe_checksum, is_offline, verify
from gbench.data.download import download as download_file
from gbench.errors import GBenchError, UsageError
from gbench.paths import assets_dir, gbench_home  # noqa: F401  (gbench_home: re-exported)


def torch_hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


@dataclass(frozen=True)
class Asset:
    name: str
    filename: str
    url: str
    description: str
    sha256: str | None = None  # full hash when known from a trustworthy source
    sha256_prefix: str | None = None  # torch-hub name convention: first 8 hex digits of the sha256
    size: int | None = None

    @property
    def checksum(self) -> str:
        return describe_checksum(sha256=self.sha256, sha256_prefix=self.sha256_prefix)


ASSETS: dict[str, Asset] = {
    "inception": Asset(
        name="inception",
        filename="weights-inception-2015-12-05-6726825d.pth",
        url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
        description="TF Inception-v3 (2015-12-05) converted by torch-fidelity: the IS/FID/KID feature extractor",
        sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        sha256_prefix="6726825d",
        size=95_628_359,
    ),
    "lpips-vgg16": Asset(
        name="lpips-vgg16",
        filename="weights-vgg16-lpips.pth",
        url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-vgg16-lpips.pth",
        description="LPIPS v0.1 linear layers for VGG16 (Zhang et al. 2018), torch-fidelity's copy: the perceptual path length distance",
        sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        size=7_289,
    ),
    "vgg16": Asset(
        name="vgg16",
        filename="vgg16-397923af.pth",
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        description="torchvision VGG16 ImageNet weights: the LPIPS backbone of the perceptual path length",
        sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
        sha256_prefix="397923af",
    ),
    "vgg19": Asset(
        name="vgg19",
        filename="vgg19-dcbb9e9d.pth",
        url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        description="torchvision VGG19 ImageNet weights: the SRGAN perceptual (content) loss",
        sha256_prefix="dcbb9e9d",
    ),
    "dinov2": Asset(
        name="dinov2",
        filename="dinov2_vitl14_pretrain.pth",  # the name torch.hub caches it under, so a hub download is found too
        url="https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
        description="DINOv2 ViT-L/14 (Meta, Apache-2.0): the feature extractor of the *-dinov2 protocols (Stein et al. 2023)",
        sha256="d5383ea8f4877b2472eb973e0fd72d557c7da5d3611bd527ceeb1d7162cbf428",  # not published by Meta: see the docstring
        size=1_217_586_395,
    ),
}


def _asset(name: str) -> Asset:
    if name not in ASSETS:
        raise UsageError(f"unknown asset {name!r}; known: {', '.join(ASSETS)}")
    return ASSETS[name]


def asset_candidates(name: str) -> list[Path]:
    """Where `name` is looked for, in order."""
    filename = _asset(name).filename
    return [assets_dir() / filename, torch_hub_checkpoints() / filename]


def asset_path(name: str, *, download: bool = False) -> Path:
    """The verified local file of asset `name`; downloads it into `$GBENCH_HOME/assets` only when
    `download` is true and we are online. Otherwise raises a one-line GBenchError."""
    asset = _asset(name)
    rejected = []
    for path in asset_candidates(name):
        if path.is_file():
            if verify(path, sha256=asset.sha256, sha256_prefix=asset.sha256_prefix):
                return path
            rejected.append(f"{path} has sha256 {cached_sha256(path)}")
    dest = assets_dir() / asset.filename
    command = f"gbench data fetch {name}"
    wrong = f" ({'; '.join(rejected)}, rejected)" if rejected else ""
    if download and not is_offline():
        if dest.exists():  # present but wrong: move the bad copy aside rather than silently deleting it
            os.replace(dest, dest.with_name(dest.name + ".bad"))
        return download_file(asset.url, dest, sha256=asset.sha256, sha256_prefix=asset.sha256_prefix, command=command)
    reason = "offline (GBENCH_OFFLINE=1)" if is_offline() else "not downloaded"
    raise GBenchError(
        f"missing asset {name}: {asset.filename} ({asset.checksum}) is not in {assets_dir()} or "
        f"{torch_hub_checkpoints()}{wrong}; {reason}: put it in {assets_dir()} or run `{command}` with network access"
    )


def fetch_asset(name: str) -> Path:
    """`gbench data fetch NAME` for an asset: download and verify unless already present."""
    return asset_path(name, download=True)


def asset_sha256(path: Path | str) -> str:
    """Full sha256 of an asset file for fingerprints, cached by (path, mtime, size)."""
    return cached_sha256(path)


def asset_status() -> list[tuple[str, bool, Path]]:
    """(name, present, path) for each asset, by existence only (no hashing), for `gbench doctor`."""
    rows = []
    for name in ASSETS:
        found = [p for p in asset_candidates(name) if p.is_file()]
        rows.append((name, bool(found), found[0] if found else assets_dir() / ASSETS[name].filename))
    return rows
