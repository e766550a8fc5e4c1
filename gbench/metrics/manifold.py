"""k-NN manifold metrics between a real and a generated feature set, computed block-wise.

Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
Assessing Generative Models", k = 3), exactly as torch-fidelity 0.4 computes `prc`
(`torch_fidelity/metric_prc.py`):
- the manifold of a set is the union of balls around its points whose radius is the distance to the
  k-th nearest neighbour *in the same set*, taken as the (k+1)-th smallest entry of the point's row of
  distances to the whole set, itself included (its own ~0 distance is the 1st; a duplicate of the point
  counts as a neighbour);
- distances are `torch.cdist` Euclidean distances in the features' dtype (its default compute mode:
  matrix products for blocks over 25 rows), over blocks of `block_size` rows and columns taken in
  order (`tensor.split(block_size)`, torch-fidelity's `prc_batch_size`, default 10000), the cross
  distances as cdist(real block, generated block) as in its default (`save_cpu_ram=False`) path, so
  at equal block sizes every distance is the same float;
- membership is inclusive: x is inside the ball of y when d(x, y) <= radius(y);
- precision = share of generated points inside the real manifold, recall = share of real points
  inside the generated manifold.
Deviation: the shares are count / N in float64; torch-fidelity takes a float32 mean (differences
below 1e-7).

Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative
Models", k = 5), per the paper's definitions and the official code (clovaai/generative-evaluation-prdc,
`prdc/prdc.py`): with real radii r_i (same (k+1)-th-smallest rule) and strict membership d < r_i,
    density  = 1/(k·M) · Σ_j #{i : d(real_i, fake_j) < r_i}
    coverage = 1/N · #{i : some fake_j has d(real_i, fake_j) < r_i}.
Strict membership makes density exactly 1 when the generated set equals the real one.

Memory stays bounded for 50k x 50k sets: the k-NN radii keep only the k+1 smallest distances per row
while scanning column blocks, and the membership pass reduces each (block x block) distance tile at
once, so peak memory is the two feature sets plus O(block_size²) on `device`. Block-wise results equal
the single-block (brute-force) computation whenever the distances are the same floats (always for
exactly representable arithmetic; otherwise up to cdist round-off at the ball boundaries).
"""

from __future__ import annotations

import numpy as np
import torch

from gbench.errors import GBenchError

PRECISION_RECALL_K = 3  # Kynkäänniemi et al. 2019; torch-fidelity `prc_neighborhood`
DENSITY_COVERAGE_K = 5  # Naeem et al. 2020
DEFAULT_BLOCK_SIZE = 10_000  # torch-fidelity `prc_batch_size`


def _feature_matrix(features, name: str) -> torch.Tensor:
    """A detached floating (N, D) tensor (numpy arrays land on the CPU; integers become float32)."""
    if isinstance(features, torch.Tensor):
        tensor = features.detach()
    else:
        array = np.asarray(features)
        if not np.issubdtype(array.dtype, np.number):
            raise GBenchError(f"{name} features must be numeric, got dtype {array.dtype}")
        tensor = torch.from_numpy(array)
    if tensor.ndim != 2 or tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise GBenchError(f"{name} features must be a non-empty (N, D) matrix, got shape {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        tensor = tensor.float()
    if not torch.isfinite(tensor).all():
        raise GBenchError(f"{name} features contain NaN or inf; the k-NN metrics need finite features")
    return tensor


def _prepare(real, fake, ks: tuple[int, ...], device) -> tuple[torch.Tensor, torch.Tensor, torch.device]:
    real, fake = _feature_matrix(real, "real"), _feature_matrix(fake, "generated")
    if real.shape[1] != fake.shape[1]:
        raise GBenchError(f"feature dimensions differ: real {real.shape[1]} vs generated {fake.shape[1]}")
    for k in ks:
        if not isinstance(k, int) or k < 1:
            raise GBenchError(f"the neighbourhood size k must be a positive integer, got {k!r}")
    for name, features in (("real", real), ("generated", fake)):
        if features.shape[0] <= max(ks):
            raise GBenchError(f"k = {max(ks)} nearest neighbours need at least {max(ks) + 1} {name} samples, got {features.shape[0]}")
    device = torch.device(device) if device is not None else real.device
    dtype = torch.promote_types(real.dtype, fake.dtype)
    return real.to(device, dtype), fake.to(device, dtype), device


def _check_block_size(block_size: int) -> None:
    if not isinstance(block_size, int) or block_size < 1:
        raise GBenchError(f"block_size must be a positive integer, got {block_size!r}")


def _neighbour_distances(features: torch.Tensor, ks: tuple[int, ...], block_size: int) -> torch.Tensor:
    """(N, len(ks)): per row, the (k+1)-th smallest distance to all rows (itself included), per k.

    Each (rows x columns) tile is reduced to its own k+1 smallest first and then merged with the running
    k+1 smallest of the row, so at most one tile is alive at a time; the values are the same floats as
    one top-(k+1) over the whole row."""
    keep = max(ks) + 1
    columns = list(ks)  # 0-based column k of the ascending top-(k+1) is the (k+1)-th smallest
    radii = []
    for rows in features.split(block_size):
        smallest = None
        for cols in features.split(block_size):
            distances = torch.cdist(rows, cols)
            tile = distances.topk(min(keep, distances.shape[1]), dim=1, largest=False, sorted=False).values
            del distances
            merged = tile if smallest is None else torch.cat([smallest, tile], dim=1)
            smallest = merged.topk(min(keep, merged.shape[1]), dim=1, largest=False, sorted=True).values
        radii.append(smallest[:, columns])
    return torch.cat(radii)


def nearest_neighbour_radii(features, k: int | tuple[int, ...] = PRECISION_RECALL_K, *, block_size: int = DEFAULT_BLOCK_SIZE,
                            device=None) -> torch.Tensor:
    """Distance from each row of `features` to its k-th nearest other row, on `device`: (N,) for one k,
    (N, len(k)) for a tuple of k (one scan for all of them)."""
    _check_block_size(block_size)
    ks = (k,) if isinstance(k, int) else tuple(k)
    features, _, _ = _prepare(features, features, ks, device)
    radii = _neighbour_distances(features, ks, block_size)
    return radii[:, 0] if isinstance(k, int) else radii


def _scan(
    real: torch.Tensor,
    fake: torch.Tensor,
    block_size: int,
    *,
    pr_radii: tuple[torch.Tensor, torch.Tensor] | None = None,
    dc_real_radii: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """One pass over the (real block x generated block) distance tiles, reducing each tile at once."""
    n, m, device = real.shape[0], fake.shape[0], real.device
    out = {}
    if pr_radii is not None:
        out["fake_in_real"] = torch.zeros(m, dtype=torch.bool, device=device)
        out["real_in_fake"] = torch.zeros(n, dtype=torch.bool, device=device)
    if dc_real_radii is not None:
        out["balls"] = torch.zeros((), dtype=torch.int64, device=device)  # Σ_j #{i : d(real_i, fake_j) < r_i}: only the total is needed
        out["real_covered"] = torch.zeros(n, dtype=torch.bool, device=device)
    row_start = 0
    for real_rows in real.split(block_size):
        rows = slice(row_start, row_start + real_rows.shape[0])
        col_start = 0
        for fake_cols in fake.split(block_size):
            cols = slice(col_start, col_start + fake_cols.shape[0])
            distances = torch.cdist(real_rows, fake_cols)  # (rows, cols)
            if pr_radii is not None:
                real_radii, fake_radii = pr_radii
                out["fake_in_real"][cols] |= (distances <= real_radii[rows, None]).any(dim=0)
                out["real_in_fake"][rows] |= (distances <= fake_radii[None, cols]).any(dim=1)
            if dc_real_radii is not None:
                inside = distances < dc_real_radii[rows, None]
                out["balls"] += inside.sum()
                out["real_covered"][rows] |= inside.any(dim=1)
            col_start += fake_cols.shape[0]
        row_start += real_rows.shape[0]
    return out


def _share(flags: torch.Tensor) -> float:
    return int(flags.sum().item()) / flags.numel()


def manifold_metrics(
    *,
    real,
    fake,
    pr_k: int = PRECISION_RECALL_K,
    dc_k: int = DENSITY_COVERAGE_K,
    block_size: int = DEFAULT_BLOCK_SIZE,
    device=None,
    real_radii=None,
) -> dict[str, float]:
    """precision, recall (k = `pr_k`), density and coverage (k = `dc_k`) of generated features `fake`
    against `real` features (each (N, D), tensors or arrays), in one scan of the cross distances.

    `real_radii`: the real set's radii for (pr_k, dc_k) from `nearest_neighbour_radii(real, (pr_k, dc_k))`,
    when they were computed (and cached) beforehand with the reference features; it saves one of the three
    block-wise distance passes. Keyword-only because swapping the sets swaps precision and recall silently."""
    _check_block_size(block_size)
    real, fake, device = _prepare(real, fake, (pr_k, dc_k), device)
    ks = (pr_k, dc_k)
    if real_radii is None:
        real_radii = _neighbour_distances(real, ks, block_size)
    else:
        real_radii = torch.as_tensor(real_radii).to(device, real.dtype)
        if real_radii.shape != (real.shape[0], 2):
            raise GBenchError(f"real_radii must have shape ({real.shape[0]}, 2) for (pr_k, dc_k), got {tuple(real_radii.shape)}")
    fake_radii = _neighbour_distances(fake, (pr_k,), block_size)[:, 0]
    counts = _scan(real, fake, block_size, pr_radii=(real_radii[:, 0], fake_radii), dc_real_radii=real_radii[:, 1])
    return {
        "precision": _share(counts["fake_in_real"]),
        "recall": _share(counts["real_in_fake"]),
        "density": int(counts["balls"].item()) / (dc_k * fake.shape[0]),
        "coverage": _share(counts["real_covered"]),
    }


def precision_recall(
    *, real, fake, k: int = PRECISION_RECALL_K, block_size: int = DEFAULT_BLOCK_SIZE, device=None
) -> tuple[float, float]:
    """(precision, recall) of generated features `fake` against `real` (Kynkäänniemi et al. 2019)."""
    _check_block_size(block_size)
    real, fake, _ = _prepare(real, fake, (k,), device)
    real_radii = _neighbour_distances(real, (k,), block_size)[:, 0]
    fake_radii = _neighbour_distances(fake, (k,), block_size)[:, 0]
    counts = _scan(real, fake, block_size, pr_radii=(real_radii, fake_radii))
    return _share(counts["fake_in_real"]), _share(counts["real_in_fake"])


def density_coverage(
    *, real, fake, k: int = DENSITY_COVERAGE_K, block_size: int = DEFAULT_BLOCK_SIZE, device=None
) -> tuple[float, float]:
    """(density, coverage) of generated features `fake` against `real` (Naeem et al. 2020)."""
    _check_block_size(block_size)
    real, fake, _ = _prepare(real, fake, (k,), device)
    real_radii = _neighbour_distances(real, (k,), block_size)[:, 0]
    counts = _scan(real, fake, block_size, dc_real_radii=real_radii)
    return int(counts["balls"].item()) / (k * fake.shape[0]), _share(counts["real_covered"])
