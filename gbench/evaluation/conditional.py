"""Class-conditional evaluation: the protocol's metrics with uniform labels, and intra-class FID.

- `evaluate_conditional`: a class-conditional generator under a protocol. The protocol's sample stream already
  draws each chunk's labels uniformly from the same private generator as its z (`evaluate.latent_chunk`), so
  IS/FID/KID are those of `evaluate_generator`; the result records the label distribution, and adds intra-class
  FID when asked.
- `intra_class_fid`: for each class k, FID between `n_per_class` samples generated with label k and the
  protocol's reference images of class k (the first `n_ref` images of the reference split, as for the protocol's
  own statistics), averaged over classes (Miyato & Koyama, ICLR 2018, "intra-FID"; pfnet-research/sngan_projection
  `evaluations/calc_intra_FID.py` uses 5,000 samples per class against each class's training images). Default
  `n_per_class` = that class's reference count. Each class's z come from a private generator seeded by
  (protocol sample seed + `seed_offset`, class), so the numbers do not depend on the batch size.
  Per-class reference statistics are cached like the protocol's own (`$GBENCH_HOME/cache/intra-class-sums/`).

Intra-class FIDs are not comparable with the protocol's FID (fewer samples per Gaussian: biased upward), and
with published intra-FIDs only when the protocol matches theirs; the result says so.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import torch
from torch import nn

from gbench.errors import GBenchError
from gbench.evaluation.cache import cache_key, cache_path, load_cached, save_cached
from gbench.evaluation.evaluate import _cuda_devices, _seed_global_rng, evaluate_generator
from gbench.evaluation.features import Extractor, build_extractor
from gbench.metrics.fid import fid_from_stats
from gbench.metrics.stats import FeatureStats
from gbench.protocols import Protocol, fingerprint, get_protocol
from gbench.sampling import generate, sample_latent, to_uint8


def class_seed(seed: int, label: int) -> int:
    """Seed of class `label`'s z stream (63 bits of a sha256, namespaced apart from the protocol's chunk seeds)."""
    digest = hashlib.sha256(f"gbench-intra-class:{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def class_reference_statistics(protocol: Protocol, extractor: Extractor, num_classes: int,
                               batch_size: int = 250) -> tuple[dict[int, FeatureStats], str]:
    """({class: FeatureStats of its reference images}, reference checksum), cached under the same kind of key."""
    from gbench.data import load_dataset

    data = load_dataset(protocol.reference, protocol.reference_split, resolution=protocol.resolution, size=protocol.n_ref)
    if data.labels is None:
        raise GBenchError(f"intra-class FID needs class labels, and {data.name} (reference of {protocol.id}) has none")
    n_ref = protocol.n_ref or len(data)
    images, labels = data.images[:n_ref], data.labels[:n_ref]
    key = cache_key(protocol=protocol.constants(), extractor=extractor.sha256, data=data.checksum, n_ref=n_ref,
                    intra_class=num_classes)
    path = cache_path("intra-class-sums", protocol.id, key)
    cached = load_cached(path, key)
    if cached is None:
        cached = {}
        for k in range(num_classes):
            rows = images[labels == k]
            if len(rows) < 2:
                raise GBenchError(f"class {k} has {len(rows)} reference images in {data.name}: intra-class FID needs at least 2")
            stats = FeatureStats()
            for start in range(0, len(rows), batch_size):
                stats.update(extractor(rows[start : start + batch_size])[0])
            state = stats.state_dict()
            cached.update({f"{k}/{name}": state[name] for name in ("count", "sum", "outer")})
        try:
            save_cached(path, key, cached)
        except OSError:  # read-only cache: compute again next time
            pass
    per_class = {k: FeatureStats.from_state_dict({name: cached[f"{k}/{name}"] for name in ("count", "sum", "outer")})
                 for k in range(num_classes)}
    return per_class, data.checksum


@torch.no_grad()
def _class_features(G: nn.Module, extractor: Extractor, label: int, n: int, seed: int, device, batch_size: int) -> FeatureStats:
    g = torch.Generator().manual_seed(class_seed(seed, label))
    z = sample_latent(G, n, g)
    stats = FeatureStats()
    _seed_global_rng(class_seed(seed, label), device)  # noise drawn inside G; the caller forks the global RNG
    for start in range(0, n, batch_size):
        rows = z[start : start + batch_size]
        y = torch.full((len(rows),), label, dtype=torch.long, device=device)
        stats.update(extractor(to_uint8(generate(G, rows.to(device), y)))[0])
    return stats


def intra_class_fid(G: nn.Module, protocol_id: str, *, n_per_class: int | None = None, device="cpu", batch_size: int = 250,
                    seed_offset: int = 0) -> dict:
    """Mean over classes of FID(class-k samples, class-k reference images); see the module docstring."""
    num_classes = getattr(G, "num_classes", 0)
    if not num_classes:
        raise GBenchError("intra-class FID needs a class-conditional generator (num_classes > 0)")
    protocol = get_protocol(protocol_id)
    if "fid" not in protocol.metrics:
        raise GBenchError(f"protocol {protocol.id} has no FID: intra-class FID uses its extractor and reference set")
    started = time.perf_counter()
    extractor = build_extractor(protocol.extractor, str(device))
    reference, checksum = class_reference_statistics(protocol, extractor, num_classes, batch_size)
    seed = protocol.sample_seed + seed_offset
    per_class, n_gen = {}, {}
    was_training = G.training
    G.eval()
    try:
        with torch.random.fork_rng(devices=_cuda_devices(device)):
            for k in range(num_classes):
                n = n_per_class or reference[k].count
                if n < 2:
                    raise GBenchError(f"intra-class FID needs at least 2 samples per class, got {n}")
                generated = _class_features(G, extractor, k, n, seed, device, batch_size)
                per_class[k] = float(fid_from_stats(generated.mean(), generated.cov(), reference[k].mean(), reference[k].cov()))
                n_gen[k] = n
    finally:
        G.train(was_training)
    return {
        "protocol": protocol.id,
        "fingerprint": fingerprint(protocol, extractor.sha256, checksum),
        "metric": "intra_fid",
        "intra_fid": float(np.mean(list(per_class.values()))),
        "per_class": {str(k): v for k, v in per_class.items()},
        "n_gen_per_class": {str(k): v for k, v in n_gen.items()},
        "n_ref_per_class": {str(k): int(reference[k].count) for k in range(num_classes)},
        "reference": f"{protocol.reference}/{protocol.reference_split} (first {sum(r.count for r in reference.values())} images, by class)",
        "extractor": protocol.extractor,
        "sample_seed": seed,
        "comparable_to": "intra-class FID: not comparable to the protocol's FID; to published intra-FIDs only under their protocol",
        "seconds": round(time.perf_counter() - started, 3),
    }


def evaluate_conditional(G: nn.Module, protocol_id: str, *, intra_class: bool = False, n_per_class: int | None = None,
                         device="cpu", batch_size: int = 250, seed_offset: int = 0) -> dict:
    """The protocol's result for a class-conditional G (labels uniform over its classes), plus `intra_class` when asked."""
    num_classes = getattr(G, "num_classes", 0)
    if not num_classes:
        raise GBenchError("class-conditional evaluation needs a generator with num_classes > 0; use evaluate_generator")
    result = evaluate_generator(G, protocol_id, device=device, batch_size=batch_size, seed_offset=seed_offset)
    result["labels"] = f"uniform over {num_classes} classes, drawn with z from the sample stream"
    if intra_class:
        result["intra_class"] = intra_class_fid(G, protocol_id, n_per_class=n_per_class, device=device, batch_size=batch_size,
                                                seed_offset=seed_offset)
    return result
