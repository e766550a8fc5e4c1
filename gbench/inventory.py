"""Everything `gbench data` can list or fetch: the catalogued datasets, the pretrained weights and the authors'
released checkpoints (`ckpt:NAME`).

Datasets are fetched by gbench/data/download.py (and their own modules), weights by gbench/assets.py, released
checkpoints by gbench/official/fetch.py; this module only puts the catalogues side by side for `gbench data list` /
`fetch` and `doctor`.
"""

from __future__ import annotations

from pathlib import Path

from gbench.assets import ASSETS, asset_status, fetch_asset
from gbench.data.download import DATASETS, dataset_status, fetch_command, fetch_dataset, resolve_root
from gbench.errors import UsageError
from gbench.official.fetch import PREFIX, checksum_text, fetch_release, release_status
from gbench.official.fetch import fetch_command as release_fetch_command


def _megabytes(size: int | None) -> str:
    return "" if not size else f"{size / 1e6:,.0f} MB"


def data_inventory(root: Path | str | None = None) -> list[dict]:
    """`gbench data list`: every catalogued dataset, asset and released checkpoint with present/missing, its path,
    download size and the command that fetches it (existence checks only, no hashing); `note` says when a release
    has no published checksum."""
    rows = [{"kind": "dataset", "name": "shapes32", "present": True, "path": "procedural (generated in memory)", "size": "", "fetch": ""}]
    for name, present, folder in dataset_status(root):
        info = DATASETS[name]
        size = _megabytes(sum(r.size or 0 for r in info.remotes))
        how = fetch_command(name, None if root is None else resolve_root(root)) + (f" (or by hand: {info.manual})" if info.manual else "")
        rows.append({"kind": "dataset", "name": name, "present": present, "path": folder, "size": size, "fetch": "" if present else how})
    for name, present, path in asset_status():
        rows.append({"kind": "weights", "name": name, "present": present, "path": path, "size": _megabytes(ASSETS[name].size),
                     "fetch": "" if present else fetch_command(name)})
    for release, present, path in release_status():
        note = "" if release.sha256 else f"{checksum_text(release)}: its hash is recorded when fetched, never verified"
        rows.append({"kind": "checkpoint", "name": PREFIX + release.name, "present": present, "path": path, "size": "",
                     "fetch": "" if present else release_fetch_command(release.name), "note": note})
    return rows


def fetch(name: str, root: Path | str | None = None) -> Path:
    """`gbench data fetch NAME`: a dataset (into `root`), an asset such as `inception` (into $GBENCH_HOME/assets) or a
    released checkpoint `ckpt:NAME` (into $GBENCH_HOME/assets/releases; `fetched` says what its hash means)."""
    return fetched(name, root)[0]


def fetched(name: str, root: Path | str | None = None) -> tuple[Path, str]:
    """(path, a line on its checksum or "") for `gbench data fetch NAME`."""
    if name.startswith(PREFIX):
        found = fetch_release(name[len(PREFIX):])
        return found.path, f"sha256 {found.sha256} ({found.note})"
    return _fetch_data(name, root), ""


def _fetch_data(name: str, root: Path | str | None = None) -> Path:
    if name in ASSETS:
        return fetch_asset(name)
    if name in DATASETS:
        return fetch_dataset(name, root)
    raise UsageError(f"unknown dataset or asset {name!r}; known: {', '.join([*DATASETS, *ASSETS])}, or ckpt:<release> "
                      "(`gbench data list` shows the releases)")
