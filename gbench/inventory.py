"""Everything `gbench data` can list or fetch: the catalogued datasets and the pretrained weights.

Datasets are fetched by gbench/data/download.py (and their own modules), weights by gbench/assets.py;
this module only puts the two catalogues side by side for `gbench data list` / `fetch` and `doctor`.
"""

from __future__ import annotations

from pathlib import Path

from gbench.assets import ASSETS, asset_status, fetch_asset
from gbench.data.download import DATASETS, dataset_status, fetch_command, fetch_dataset, resolve_root
from gbench.errors import UsageError


def _megabytes(size: int | None) -> str:
    return "" if not size else f"{size / 1e6:,.0f} MB"


def data_inventory(root: Path | str | None = None) -> list[dict]:
    """`gbench data list`: every catalogued dataset and asset with present/missing, its path, download size
    and the command that fetches it (existence checks only, no hashing)."""
    rows = [{"kind": "dataset", "name": "shapes32", "present": True, "path": "procedural (generated in memory)", "size": "", "fetch": ""}]
    for name, present, folder in dataset_status(root):
        info = DATASETS[name]
        size = _megabytes(sum(r.size or 0 for r in info.remotes))
        how = fetch_command(name, None if root is None else resolve_root(root)) + (f" (or by hand: {info.manual})" if info.manual else "")
        rows.append({"kind": "dataset", "name": name, "present": present, "path": folder, "size": size, "fetch": "" if present else how})
    for name, present, path in asset_status():
        rows.append({"kind": "weights", "name": name, "present": present, "path": path, "size": _megabytes(ASSETS[name].size),
                     "fetch": "" if present else fetch_command(name)})
    return rows


def fetch(name: str, root: Path | str | None = None) -> Path:
    """`gbench data fetch NAME`: a dataset (into `root`) or an asset such as `inception` (into $GBENCH_HOME/assets)."""
    if name in ASSETS:
        return fetch_asset(name)
    if name in DATASETS:
        return fetch_dataset(name, root)
    raise UsageError(f"unknown dataset or asset {name!r}; known: {', '.join([*DATASETS, *ASSETS])}")
