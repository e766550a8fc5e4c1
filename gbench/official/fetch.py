"""The authors' released checkpoints on disk: where each lives, `gbench data fetch ckpt:NAME`, and what its hash means.

A release's file is ``$GBENCH_HOME/assets/releases/<name>/<filename>`` (one folder per release: several zoo files are
all called ``latest_net_G.pth``). Fetching tries the release's downloads in order: plain URLs through gbench's own
streaming download, Google Drive files and folders through ``gdown`` (the optional extra ``pip install
'gbench[official]'``; a Drive folder is listed first and only the release's file is downloaded). Offline
(``GBENCH_OFFLINE=1``), or when every download fails, it is one line saying where to put the file by hand.

Checksums: no author publishes one (``Release.sha256`` is None everywhere so far). Such a file is never called
verified: its sha256 is computed, shown, written to ``fetched.json`` beside it and recorded in every verification's
output, so two people can tell whether they evaluated the same bytes. Where a release does carry a sha256, a file
that does not match it is refused (a fresh download is removed; a file put there by hand is named and left).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gbench.data.download import cached_sha256, download, download_unpublished, is_offline, missing_file_message
from gbench.errors import GBenchError
from gbench.io import atomic_write_json
from gbench.official.registry import Download, Release, get_release
from gbench.paths import assets_dir

PREFIX = "ckpt:"  # `gbench data fetch ckpt:NAME` / `gbench data list` name of a release


@dataclass(frozen=True)
class ReleaseFile:
    """A release's file on disk and what its sha256 means."""

    release: str
    path: Path
    sha256: str
    verified: bool  # True only when the registry holds a sha256 and the file matches it
    note: str  # one line: verified, or why not

    def record(self) -> dict:
        """What a verification writes about the file it evaluated."""
        return {"path": str(self.path), "sha256": self.sha256, "verified": self.verified, "checksum": self.note}


def fetch_command(name: str) -> str:
    return f"gbench data fetch {PREFIX}{name}"


def release_path(release: Release) -> Path:
    """Where the release's file is looked for and fetched to."""
    return assets_dir() / "releases" / release.name / release.downloads[0].filename


def checksum_text(release: Release) -> str:
    return f"sha256 {release.sha256}" if release.sha256 else "no published sha256"


def release_status() -> list[tuple[Release, bool, Path]]:
    """(release, present, path) for every registry release, by existence only (no hashing), for `gbench data list`."""
    from gbench.official.registry import RELEASES

    return [(r, release_path(r).is_file(), release_path(r)) for r in RELEASES.values()]


def missing_message(release: Release, reason: str) -> str:
    return missing_file_message(release_path(release), checksum_text(release), fetch_command(release.name), reason)


def describe_file(release: Release, path: Path) -> ReleaseFile:
    """Hash `path` and say what the hash means for `release` (a mismatch with a published sha256 is an error)."""
    digest = cached_sha256(path)
    if release.sha256 is None:
        note = "not verified: the authors publish no sha256; this file's sha256 is recorded"
        return ReleaseFile(release.name, path, digest, False, note)
    if digest != release.sha256.lower():
        raise GBenchError(f"{path} has sha256 {digest}, but release {release.name} is {release.sha256}; "
                          f"delete it (or replace it with a good copy) and run `{fetch_command(release.name)}`")
    return ReleaseFile(release.name, path, digest, True, "verified: matches the registry's sha256")


def local_release_file(name: str) -> ReleaseFile:
    """The release's file already on disk (no download): a one-line error naming where to put it when absent."""
    release = get_release(name)
    path = release_path(release)
    if not path.is_file():
        raise GBenchError(missing_message(release, "not downloaded"))
    return describe_file(release, path)


def fetch_release(name: str) -> ReleaseFile:
    """`gbench data fetch ckpt:NAME`: the release's file, downloaded unless present; see the module docstring."""
    release = get_release(name)
    dest = release_path(release)
    if dest.is_file():
        return describe_file(release, dest)
    if is_offline():
        raise GBenchError(missing_message(release, "offline (GBENCH_OFFLINE=1)"))
    failures = []
    for source in release.downloads:  # a plain URL's failure is already a full line; a Drive failure tries the next source
        try:
            _download(release, source, dest)
            break
        except _DriveFailed as exc:
            failures.append(str(exc))
    else:
        raise GBenchError(missing_message(release, "; ".join(failures)))
    try:
        found = describe_file(release, dest)
    except GBenchError:
        dest.unlink(missing_ok=True)  # a fresh download that does not match the published hash is never kept
        raise
    record = {"release": release.name, "url": next(d.url for d in release.downloads), "file": dest.name, "sha256": found.sha256,
              "published_sha256": release.sha256, "verified": found.verified, "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_json(record, dest.parent / "fetched.json")
    return found


class _DriveFailed(Exception):
    """A Google Drive download failed (network, quota, a folder without the file): the reason, for the one line."""


def _download(release: Release, source: Download, dest: Path) -> None:
    command = fetch_command(release.name)
    if source.drive_id is None:
        if release.sha256:
            download(source.url, dest, sha256=release.sha256, command=command)
        else:
            download_unpublished(source.url, dest, command=command)
        return
    gdown = _gdown(source, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".fetch-"))
    try:
        file_id = source.drive_id
        if source.drive_kind == "folder":
            listing = gdown.download_folder(id=source.drive_id, output=str(staging / "listing"), quiet=True, skip_download=True)
            match = [f for f in listing or [] if Path(f.path).name == source.filename]
            if not match:
                names = ", ".join(sorted(Path(f.path).name for f in listing or [])[:12]) or "nothing"
                raise _DriveFailed(f"the Drive folder {source.url} has no {source.filename} (it lists {names})")
            file_id = match[0].id
        part = staging / source.filename
        gdown.download(id=file_id, output=str(part), quiet=False)
        if not part.is_file():
            raise _DriveFailed(f"gdown wrote no file for {source.url}")
        os.replace(part, dest)
    except _DriveFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - gdown and requests raise many types; one line for the user
        raise _DriveFailed(f"download of {source.url} through gdown failed ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _gdown(source: Download, dest: Path):
    try:
        import gdown
    except ImportError:
        raise GBenchError(f"{source.url} is on Google Drive, which needs gdown: `pip install 'gbench[official]'` (or `pip install gdown`), "
                          f"or download {source.filename} by hand and put it at {dest}") from None
    return gdown
