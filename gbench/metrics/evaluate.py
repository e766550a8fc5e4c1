"""Evaluate a generator (or a stream of images) under a protocol: stream, extract, accumulate, score.

Generated images go straight from the generator into the extractor in batches (no PNG dump).
FID statistics accumulate as float64 sums; only what IS and KID need (logits; KID features) is
kept. Reference statistics are cached (gbench/metrics/cache.py). The result is a dict with the
metrics, the protocol fingerprint and the constants behind it, ready for eval.json.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from gbench.errors import GBenchError
from gbench.metrics.cache import cache_key, cache_path, load_cached, save_cached
from gbench.metrics.features import Extractor, build_extractor
from gbench.metrics.fid import fid_from_stats
from gbench.metrics.inception_score import inception_score_from_logits
from gbench.metrics.kid import kid_from_features
from gbench.metrics.stats import FeatureStats
from gbench.protocols import Protocol, fingerprint, get_protocol
from gbench.sampling import generate, sample_labels, sample_latent, to_uint8

Progress = Callable[[int], None]


def generated_batches(G: nn.Module, n: int, batch_size: int, seed: int, device) -> Iterator[torch.Tensor]:
    """uint8 batches of `n` images from `G`; z (and labels) drawn from a private generator seeded `seed`."""
    g = torch.Generator().manual_seed(seed)
    was_training = G.training
    G.eval()
    try:
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            z, y = sample_latent(G, b, g, device), sample_labels(G, b, g, device)
            with torch.no_grad():
                yield to_uint8(generate(G, z, y))
    finally:
        G.train(was_training)


def _accumulate(batches: Iterable[torch.Tensor], extractor: Extractor, keep: int, progress: Progress | None):
    stats, logits = FeatureStats(keep_features=keep), []
    for batch in batches:
        feats, lg = extractor(batch)
        stats.update(feats)
        logits.append(lg.double().cpu())
        if progress:
            progress(len(batch))
    return stats, torch.cat(logits) if logits else torch.empty(0)


def reference_statistics(protocol: Protocol, extractor: Extractor, batch_size: int = 250, progress: Progress | None = None):
    """(FeatureStats with kept features for KID, reference checksum): cached, else computed and cached."""
    from gbench.data import load_dataset

    data = load_dataset(protocol.reference, protocol.reference_split, resolution=protocol.resolution, size=protocol.n_ref)
    n_ref = protocol.n_ref or len(data)
    if len(data) < n_ref:
        raise GBenchError(f"protocol {protocol.id} needs {n_ref} reference images, {data.name} has {len(data)}")
    key = cache_key(protocol=protocol.constants(), extractor=extractor.sha256, data=data.checksum, n_ref=n_ref)
    path = cache_path("reference-stats", protocol.id, key)
    cached = load_cached(path, key)
    if cached is not None:
        return FeatureStats.from_state_dict(cached), data.checksum
    keep = n_ref if "kid" in protocol.metrics else 0
    batches = (data.images[i : i + batch_size] for i in range(0, n_ref, batch_size))
    stats, _ = _accumulate(batches, extractor, keep, progress)
    save_cached(path, key, stats.state_dict())
    return stats, data.checksum


def score(protocol: Protocol, gen_stats: FeatureStats, gen_logits: torch.Tensor, ref_stats: FeatureStats) -> dict:
    out: dict[str, float] = {}
    if "is" in protocol.metrics:
        out["is_mean"], out["is_std"] = inception_score_from_logits(gen_logits.numpy(), splits=protocol.is_splits)
    if "fid" in protocol.metrics:
        out["fid"] = fid_from_stats(gen_stats.mean(), gen_stats.cov(), ref_stats.mean(), ref_stats.cov())
    if "kid" in protocol.metrics:
        out["kid_mean"], out["kid_std"] = kid_from_features(
            gen_stats.features().double().numpy(), ref_stats.features().double().numpy(),
            subsets=protocol.kid_subsets, subset_size=protocol.kid_subset_size,
        )
    return {k: float(v) for k, v in out.items()}


def evaluate_batches(protocol_id: str, batches: Iterable[torch.Tensor], *, device="cpu", progress: Progress | None = None,
                     sample_seed: int | None = None) -> dict:
    """Score a stream of uint8 image batches (exactly the protocol's n_gen images) under `protocol_id`."""
    protocol = get_protocol(protocol_id)
    started = time.perf_counter()
    extractor = build_extractor(protocol.extractor, str(device))
    ref_stats, ref_checksum = reference_statistics(protocol, extractor, progress=None)
    keep = protocol.n_gen if "kid" in protocol.metrics else 0
    gen_stats, gen_logits = _accumulate(batches, extractor, keep, progress)
    if gen_stats.count != protocol.n_gen:
        raise GBenchError(f"protocol {protocol.id} needs exactly {protocol.n_gen} generated images, got {gen_stats.count}")
    metrics = score(protocol, gen_stats, gen_logits, ref_stats)
    return {
        "protocol": protocol.id,
        "fingerprint": fingerprint(protocol, extractor.sha256, ref_checksum),
        "metrics": metrics,
        "n_gen": protocol.n_gen,
        "n_ref": ref_stats.count,
        "reference": f"{protocol.reference}/{protocol.reference_split}",
        "extractor": protocol.extractor,
        "extractor_sha256": extractor.sha256,
        "reference_checksum": ref_checksum,
        "sample_seed": protocol.sample_seed if sample_seed is None else sample_seed,
        "quantization": protocol.quantization,
        "resize": protocol.resize,
        "comparable_to": protocol.comparable or "not comparable to any published number",
        "seconds": round(time.perf_counter() - started, 3),
    }


def evaluate_generator(G: nn.Module, protocol_id: str, *, device="cpu", batch_size: int = 250, seed_offset: int = 0,
                       progress: Progress | None = None) -> dict:
    """Generate the protocol's n_gen images from `G` (seeded by the protocol) and score them.

    Runs under `torch.random.fork_rng`, so evaluating mid-training leaves the training RNG untouched.
    """
    protocol = get_protocol(protocol_id)
    seed = protocol.sample_seed + seed_offset
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)  # for generators that draw noise internally (e.g. StyleGAN2 noise inputs)
        batches = generated_batches(G, protocol.n_gen, batch_size, seed, device)
        return evaluate_batches(protocol_id, batches, device=device, progress=progress, sample_seed=seed)


def mean_std(results: list[dict]) -> dict:
    """Mean and std (population) of each metric over repeated evaluations with different seeds."""
    keys = results[0]["metrics"].keys()
    return {k: (float(np.mean([r["metrics"][k] for r in results])), float(np.std([r["metrics"][k] for r in results]))) for k in keys}
