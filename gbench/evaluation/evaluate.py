"""Evaluate a generator (or a stream of images) under a protocol: stream, extract, accumulate, score.

Generated images go straight from the generator into the extractor in batches (no PNG dump).

The protocol's sample stream. The n_gen samples are cut into chunks of `STREAM_CHUNK` (500); chunk i
draws its z (then its labels) from a private `torch.Generator` seeded with `chunk_seed(sample_seed, i)`
and re-seeds the global torch RNG with the same value for generators that draw noise internally
(StyleGAN2 noise inputs). So the images are a function of (generator, sample seed, n_gen) only: not of
the batch size (batches never cross a chunk) and not of the number of processes.

Generator mode. Generators run in eval mode, except where the recipe samples in train mode as its official
code does (BigGAN-PyTorch without --G_eval_mode: `eval.g_train_mode`, batch-norm batch statistics over batches
of `eval.g_train_mode_batch` = 50). Then each chunk runs in train mode in batches of that size, whatever the
evaluation batch size, and every buffer (running statistics, spectral-norm u) is put back after the chunk, so the
images remain a function of (generator, sample seed, n_gen). The result records the mode under "sampling".

Distributed (torchrun): rank r takes chunks r, r + W, r + 2W, ... (W = world size), so the ranks'
parts are disjoint and their union is exactly the single-process stream. Each rank accumulates its
FeatureStats and kept rows; they are all-gathered and put back in chunk order, the main rank computes
the reference statistics (others wait) and the scores, and broadcasts the result, so every rank returns
the same dict. It equals the single-process result up to the order of the float64 sums (FID ~1e-12
relative); IS and KID see the very same rows in the very same order.

Memory stays flat in n: FID statistics are float64 sums (D + D² numbers); only what IS and the row-based
metrics (KID, and precision/recall/density/coverage of the `+pr` and `-dinov2` protocols) need is kept:
float32 logits (n x K) and float32 features (n x D), written in place into buffers sized once, so nothing
is concatenated or copied at the end. At 50k Inception samples that is 200 MB + 410 MB (DINOv2: no logits,
50k x 1024 features = 205 MB). The reference's rows are read back from the cache only when they are scored
(after IS has released the logits), once for KID and the k-NN metrics together, and IS is scored in blocks
of rows. Reference statistics are cached (gbench/evaluation/cache.py).

The k-NN metrics (gbench/metrics/manifold.py) come from the very features FID and KID use, in the same pass:
no second generation or extraction, on the protocol's `knn_subsample` rows of each set (at most 10k in the
registered variants, a seeded draw; every row of a smaller set). Their distances are computed in tiles of
`KNN_BLOCK_SIZE` x `KNN_BLOCK_SIZE` on the evaluation device (one 400 MB float32 tile at a time, plus the
two feature sets), and the reference's own k-NN radii are computed once with the reference statistics and
cached beside its rows, so an evaluation runs two of the three distance passes: generated-generated and
real-generated.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from gbench import distributed as dist
from gbench.errors import GBenchError
from gbench.evaluation.cache import cache_key, cache_path, load_cached, save_cached
from gbench.evaluation.features import Extractor, build_extractor
from gbench.metrics.fid import fid_from_stats
from gbench.metrics.inception_score import ISC_SHUFFLE_SEED
from gbench.metrics.kid import kid_from_features
from gbench.metrics.manifold import DEFAULT_BLOCK_SIZE, manifold_metrics, nearest_neighbour_radii
from gbench.metrics.stats import FeatureStats
from gbench.protocols import PRDC, STREAM_CHUNK, Protocol, fingerprint, get_protocol
from gbench.sampling import generate, sample_labels, sample_latent, to_uint8

Progress = Callable[[int], None]
ImagesOfChunk = Callable[[int, int, int], Iterable[torch.Tensor]]  # (chunk index, start, stop) -> uint8 batches


# ----------------------------------------------------------------------------- the sample stream


def chunk_bounds(n: int, chunk: int = STREAM_CHUNK) -> list[tuple[int, int]]:
    """[start, stop) of each chunk of an n-sample stream."""
    return [(start, min(start + chunk, n)) for start in range(0, n, chunk)]


def my_chunks(n: int) -> list[tuple[int, int, int]]:
    """(chunk index, start, stop) of the chunks this rank handles: every world_size-th, from its rank."""
    bounds = chunk_bounds(n)
    return [(i, *bounds[i]) for i in range(dist.rank(), len(bounds), dist.world_size())]


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk `index` of the stream seeded `seed` (63 bits of a sha256, so seeds never collide in practice)."""
    digest = hashlib.sha256(f"gbench-sample-stream:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def latent_chunk(G: nn.Module, seed: int, index: int, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """z (and labels, for a conditional G) of chunk `index`, on the CPU."""
    g = torch.Generator().manual_seed(chunk_seed(seed, index))
    return sample_latent(G, size, g), sample_labels(G, size, g)


def generated_chunk(G: nn.Module, seed: int, index: int, size: int, batch_size: int, device,
                    train_mode_batch: int = 0) -> Iterator[torch.Tensor]:
    """uint8 batches of chunk `index`; the caller forks the global RNG (it is re-seeded here). With
    `train_mode_batch` > 0 the chunk is generated in train mode in batches of that size (`batch_size` unused)."""
    z, y = latent_chunk(G, seed, index, size)
    _seed_global_rng(chunk_seed(seed, index), device)  # internal noise of the generator, same on every rank
    step = train_mode_batch or batch_size
    with in_train_mode(G) if train_mode_batch else contextlib.nullcontext():
        for start in range(0, size, step):
            rows = slice(start, start + step)
            with torch.no_grad():
                yield to_uint8(generate(G, z[rows].to(device), None if y is None else y[rows].to(device)))


@contextlib.contextmanager
def in_train_mode(*models: nn.Module):
    """Run the models in train mode (batch-norm batch statistics, spectral-norm power iterations, dropout: as
    BigGAN-PyTorch samples without --G_eval_mode and pix2pix/CycleGAN's test.py runs without --eval), then put back
    every buffer they changed (running statistics, u vectors) and their modes. Used per chunk, so each chunk's
    images depend on the generator and the chunk only: not on which chunks came before, the number of processes or
    the evaluation batch size."""
    saved = [([buffer.detach().clone() for buffer in m.buffers()], m.training) for m in models]
    for m in models:
        m.train()
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (buffers, training) in zip(models, saved):
                for buffer, value in zip(m.buffers(), buffers):
                    buffer.copy_(value)
                m.train(training)


def sampling_mode(train_mode_batch: int = 0) -> dict:
    """What eval.json records about how the generator was run (it changes the numbers)."""
    if train_mode_batch:
        return {"mode": "train", "batch": train_mode_batch,
                "note": f"generator in train mode: batch-norm batch statistics over batches of {train_mode_batch} "
                        "(BigGAN-PyTorch without --G_eval_mode); buffers restored after every chunk"}
    return {"mode": "eval"}


def generated_batches(G: nn.Module, n: int, batch_size: int, seed: int, device) -> Iterator[torch.Tensor]:
    """All n images of the stream seeded `seed`, in order, on one process (for dumps and benchmarks)."""
    was_training = G.training
    G.eval()
    try:
        with torch.random.fork_rng(devices=_cuda_devices(device)):
            for index, (start, stop) in enumerate(chunk_bounds(n)):
                yield from generated_chunk(G, seed, index, stop - start, batch_size, device)
    finally:
        G.train(was_training)


def _seed_global_rng(seed: int, device) -> None:
    """Seed the CPU generator and, on CUDA, only `device`'s (torch.manual_seed would touch every GPU's)."""
    torch.random.default_generator.manual_seed(seed)
    device = torch.device(device)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)


def _cuda_devices(device) -> list[int]:
    device = torch.device(device)
    return [device.index or 0] if device.type == "cuda" else []


# ----------------------------------------------------------------------------- extraction


class _Collector:
    """One rank's running FID statistics and, when the protocol needs them, its raw rows (in stream order),
    written into buffers allocated once for `capacity` rows."""

    def __init__(self, capacity: int, keep_features: bool, keep_logits: bool):
        self.capacity, self.keep_features, self.keep_logits = capacity, keep_features, keep_logits
        self.stats = FeatureStats()
        self.features: torch.Tensor | None = None
        self.logits: torch.Tensor | None = None
        self.rows = 0

    def add(self, feats: torch.Tensor, logits: torch.Tensor) -> None:
        n = feats.shape[0]
        if self.rows + n > self.capacity:
            raise GBenchError(f"got more than the {self.capacity} images this evaluation expects")
        self.stats.update(feats)
        if self.keep_features:
            if self.features is None:
                self.features = torch.empty(self.capacity, feats.shape[1], dtype=torch.float32)
            self.features[self.rows : self.rows + n] = feats.cpu()
        if self.keep_logits:
            if self.logits is None:
                self.logits = torch.empty(self.capacity, logits.shape[1], dtype=torch.float32)
            self.logits[self.rows : self.rows + n] = logits.cpu()
        self.rows += n

    def trimmed(self, tensor: torch.Tensor | None) -> torch.Tensor | None:
        return None if tensor is None else tensor[: self.rows]


@dataclass
class Generated:
    """The generated side, gathered: FID sums, and the rows IS (logits) and KID (features) need."""

    stats: FeatureStats
    logits: torch.Tensor | None
    features: torch.Tensor | None


ROW_METRICS = ("kid", "kd_dinov2", PRDC)  # metrics that need every feature row, not just the FID sums
KERNEL_METRICS = {"kid": "kid", "kd_dinov2": "kd_dinov2"}  # metric -> result key prefix (KID's estimator on the protocol's features)
FRECHET_METRICS = ("fid", "fd_dinov2")  # Fréchet distance on the protocol's features, under the feature space's name
KNN_BLOCK_SIZE = DEFAULT_BLOCK_SIZE  # torch-fidelity's prc_batch_size; fixed, so every device tiles the distances alike


def needs_rows(protocol: Protocol) -> bool:
    return any(m in protocol.metrics for m in ROW_METRICS)


def _needs(protocol: Protocol) -> tuple[bool, bool]:
    """(keep features, keep logits)."""
    return needs_rows(protocol), "is" in protocol.metrics


def knn_subsets(protocol: Protocol, n_real: int, n_generated: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Row indices the k-NN metrics use, (real, generated); None = every row. With `knn_subsample`, a set larger than
    it gives that many rows drawn without replacement by one np.random.RandomState(knn_seed), real first (as dgm-eval)."""
    if not protocol.knn_subsample:
        return None, None
    rng = np.random.RandomState(protocol.knn_seed)

    def draw(n: int) -> torch.Tensor | None:
        return None if n <= protocol.knn_subsample else torch.from_numpy(rng.choice(n, protocol.knn_subsample, replace=False))

    real = draw(n_real)
    return real, draw(n_generated)


def _rows(features: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    return features if index is None else features[index.to(features.device)]


def extract_chunks(protocol: Protocol, extractor: Extractor, images_of: ImagesOfChunk, n: int,
                   progress: Progress | None = None) -> Generated:
    """Extract this rank's chunks of an n-sample stream, then gather every rank's part in chunk order."""
    mine = my_chunks(n)
    keep_features, keep_logits = _needs(protocol)
    collector = _Collector(sum(stop - start for _, start, stop in mine), keep_features, keep_logits)
    for index, start, stop in mine:
        before = collector.rows
        for batch in images_of(index, start, stop):
            collector.add(*extractor(batch))
            if progress:
                progress(len(batch))
        if collector.rows - before != stop - start:
            raise GBenchError(f"chunk {index} of the sample stream gave {collector.rows - before} images, expected {stop - start}")
    return _gather(collector, mine, n)


def _gather(collector: _Collector, mine: list[tuple[int, int, int]], n: int) -> Generated:
    """Single process: this rank's buffers are the whole stream. Several: all-gather the FID sums and the
    kept rows, and write each rank's rows back at their chunks' positions in the stream."""
    features, logits = collector.trimmed(collector.features), collector.trimmed(collector.logits)
    if dist.world_size() == 1:
        return Generated(collector.stats, logits, features)
    widths = tuple(None if t is None else t.shape[1] for t in (features, logits))
    shards = dist.all_gather_object((collector.stats.state_dict() if collector.stats.count else None, mine, widths))
    stats = FeatureStats()
    for state, _, _ in shards:
        if state is not None:
            stats.merge(FeatureStats.from_state_dict(state))
    # a rank with no chunks (more ranks than chunks) still joins each collective, with 0 rows of the right width
    features_width, logits_width = (next((w[i] for _, _, w in shards if w[i] is not None), None) for i in range(2))
    keep_features, keep_logits = collector.keep_features, collector.keep_logits
    return Generated(stats, _in_stream_order(logits, logits_width, shards, n) if keep_logits else None,
                     _in_stream_order(features, features_width, shards, n) if keep_features else None)


def _in_stream_order(rows: torch.Tensor | None, width: int | None, shards, n: int) -> torch.Tensor:
    rows = rows if rows is not None else torch.empty(0, width or 0, dtype=torch.float32)
    pieces = dist.all_gather_tensors(rows)
    full = torch.empty(n, rows.shape[1], dtype=rows.dtype)
    for piece, (_, chunks, _) in zip(pieces, shards):
        offset = 0
        for _, start, stop in chunks:
            full[start:stop] = piece[offset : offset + stop - start]
            offset += stop - start
    return full


# ----------------------------------------------------------------------------- reference statistics


_REFERENCE_CHECKSUMS: dict[str, tuple[str, int]] = {}  # in-process memo: reference spec -> (data checksum, n_ref)


@dataclass
class Reference:
    """The reference side: FID sums in memory; the feature rows (KID, k-NN metrics) and the reference's own k-NN radii
    read from their own cache file only when they are scored."""

    stats: FeatureStats  # count / sum / outer
    checksum: str
    rows_file: Path | None
    key: str
    recompute: Callable[[], "Reference"]
    rows: dict | None = None  # {"features", ["knn_radii"]} when they could not be cached
    wants_radii: bool = False

    def load_rows(self) -> dict[str, torch.Tensor]:
        """{"features": (n_ref, D)} plus, for protocols with k-NN metrics, {"knn_radii": (rows used, 2)}."""
        if self.rows is not None:
            return self.rows
        cached = load_cached(self.rows_file, self.key)  # warns when corrupt
        if cached is not None and "features" in cached and (not self.wants_radii or "knn_radii" in cached):
            return cached
        return self.recompute().load_rows()


def load_reference(protocol: Protocol, extractor: Extractor, batch_size: int = 250, progress: Progress | None = None) -> Reference:
    """The protocol's reference statistics: from the cache, else computed (single process) and cached.

    Two cache files under one key (protocol constants + extractor sha256 + data checksum): the FID sums and
    the rows (410 MB at 50k Inception rows; with k-NN metrics also the reference's k-NN radii, computed here once
    on the extractor's device), so an evaluation reads the rows only when it scores KID or the k-NN metrics.
    The data checksum is remembered per process, so repeated evaluations (training) load the dataset once.
    """
    from gbench.data import load_dataset
    from gbench.paths import datasets_dir

    spec = f"{protocol.reference}|{protocol.reference_split}|{protocol.resolution}|{protocol.n_ref}|{datasets_dir()}"
    wants_rows, wants_radii = needs_rows(protocol), PRDC in protocol.metrics

    def dataset():
        data = load_dataset(protocol.reference, protocol.reference_split, resolution=protocol.resolution, size=protocol.n_ref)
        n_ref = protocol.n_ref or len(data)
        if len(data) < n_ref:
            raise GBenchError(f"protocol {protocol.id} needs {n_ref} reference images, {data.name} has {len(data)}")
        _REFERENCE_CHECKSUMS[spec] = (data.checksum, n_ref)
        return data

    data = None if spec in _REFERENCE_CHECKSUMS else dataset()
    checksum, n_ref = _REFERENCE_CHECKSUMS[spec]
    key = cache_key(protocol=protocol.constants(), extractor=extractor.sha256, data=checksum, n_ref=n_ref)
    sums_file, rows_file = cache_path("reference-sums", protocol.id, key), cache_path("reference-kid-rows", protocol.id, key)

    def compute() -> Reference:
        nonlocal data
        images, data = (data if data is not None else dataset()).images, None  # the closure must not keep the dataset alive
        stats = FeatureStats(keep_features=n_ref if wants_rows else 0)
        for start in range(0, n_ref, batch_size):
            batch = images[start : min(start + batch_size, n_ref)]
            stats.update(extractor(batch)[0])
            if progress:
                progress(len(batch))
        state = stats.state_dict()
        sums = {k: state[k] for k in ("count", "sum", "outer")}
        rows = {"features": state["features"]} if wants_rows else None
        if wants_radii:
            rows["knn_radii"] = reference_knn_radii(protocol, rows["features"], extractor.device)
        try:
            if wants_rows:
                save_cached(rows_file, key, rows)
            save_cached(sums_file, key, sums)  # written last: its presence means both files are complete
            rows = None
        except OSError:  # read-only cache: keep the rows in memory instead
            pass
        return Reference(FeatureStats.from_state_dict(sums), checksum, rows_file if wants_rows else None, key, compute, rows, wants_radii)

    sums = load_cached(sums_file, key)
    if sums is None or (wants_rows and not rows_file.exists()):
        return compute()
    data = None
    return Reference(FeatureStats.from_state_dict(sums), checksum, rows_file if wants_rows else None, key, compute,
                     wants_radii=wants_radii)


def reference_knn_radii(protocol: Protocol, features: torch.Tensor, device) -> torch.Tensor:
    """(rows used, 2): each used reference row's distance to its pr_k-th and dc_k-th nearest other used row (CPU)."""
    real_index, _ = knn_subsets(protocol, features.shape[0], 0)
    try:
        radii = nearest_neighbour_radii(_rows(features, real_index), (protocol.pr_k, protocol.dc_k), block_size=KNN_BLOCK_SIZE,
                                        device=device)
    except GBenchError as exc:
        raise GBenchError(f"protocol {protocol.id}, reference set: {exc}") from None
    return radii.cpu()


# ----------------------------------------------------------------------------- scoring


IS_BLOCK_ROWS = 1024  # rows per float64 softmax block when scoring IS


def inception_score_by_split(logits: torch.Tensor, splits: int, shuffle_seed: int = ISC_SHUFFLE_SEED) -> tuple[float, float]:
    """`inception_score_from_logits` (torch-fidelity's RandomState(2020) shuffle, contiguous splits,
    exp(mean KL(p(y|x) || p(y))) per split, population std over splits), evaluated in blocks of
    `IS_BLOCK_ROWS` rows so the float64 softmax never holds more than a block: at 50k x 1008 logits the
    one-shot version needs ~300 MB of temporaries. Equal to it up to the order of float64 sums (tested)."""
    n = logits.shape[0]
    if splits < 1 or n < splits:
        raise GBenchError(f"Inception Score needs at least {splits} samples (one per split), got {n}")
    order = torch.from_numpy(np.random.RandomState(shuffle_seed).permutation(n))
    scores = []
    for i in range(splits):
        rows = order[i * n // splits : (i + 1) * n // splits]
        blocks = [rows[start : start + IS_BLOCK_ROWS] for start in range(0, len(rows), IS_BLOCK_ROWS)]
        log_marginal = (sum(logits[b].double().softmax(dim=1).sum(dim=0) for b in blocks) / len(rows)).log()
        kl = 0.0
        for b in blocks:
            block = logits[b].double()
            p, log_p = block.softmax(dim=1), block.log_softmax(dim=1)
            kl += float(torch.where(p > 0, p * (log_p - log_marginal), 0.0).sum())  # 0 log 0 = 0, as the metric function
        scores.append(float(np.exp(kl / len(rows))))
    return float(np.mean(scores)), float(np.std(scores))


def score(protocol: Protocol, generated: Generated, reference: Reference, device="cpu") -> dict:
    """The protocol's metrics. Releases the generated logits after IS, before the reference rows are loaded (once, for
    KID and the k-NN metrics). KID's float64 kernels (100 x three 1000x1000x2048 products) run on `device`: about a
    minute on one CPU core; so do the k-NN distance tiles."""
    out: dict[str, float] = {}
    if "is" in protocol.metrics:
        out["is_mean"], out["is_std"] = inception_score_by_split(generated.logits, protocol.is_splits, protocol.is_shuffle_seed)
        generated.logits = None
    for name in FRECHET_METRICS:
        if name in protocol.metrics:
            out[name] = fid_from_stats(generated.stats.mean(), generated.stats.cov(), reference.stats.mean(), reference.stats.cov())
    if needs_rows(protocol):
        rows = reference.load_rows()
        fake, real = generated.features.to(device), rows["features"].to(device)
        for name, prefix in KERNEL_METRICS.items():
            if name in protocol.metrics:
                try:
                    out[f"{prefix}_mean"], out[f"{prefix}_std"] = kid_from_features(
                        fake, real, subsets=protocol.kid_subsets, subset_size=protocol.kid_subset_size, seed=protocol.kid_seed,
                        degree=protocol.kid_degree, coef0=protocol.kid_coef0)
                except ValueError as exc:
                    raise GBenchError(f"protocol {protocol.id}: {exc}") from None
        if PRDC in protocol.metrics:
            real_index, fake_index = knn_subsets(protocol, real.shape[0], fake.shape[0])
            try:
                out.update(manifold_metrics(real=_rows(real, real_index), fake=_rows(fake, fake_index), pr_k=protocol.pr_k,
                                            dc_k=protocol.dc_k, block_size=KNN_BLOCK_SIZE, device=device, real_radii=rows["knn_radii"]))
            except GBenchError as exc:
                raise GBenchError(f"protocol {protocol.id}: {exc}") from None
        del rows, fake, real
    return {k: float(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- entry points


def evaluate_chunks(protocol_id: str, images_of: ImagesOfChunk, *, device="cpu", progress: Progress | None = None,
                    sample_seed: int | None = None, reference_progress: Progress | None = None) -> dict:
    """Score the protocol's n_gen-sample stream, given as `images_of(chunk index, start, stop)` -> uint8
    batches; under torchrun each rank extracts its chunks (see the module docstring)."""
    protocol = get_protocol(protocol_id)
    started = time.perf_counter()
    extractor = build_extractor(protocol.extractor, str(dist.device_for_rank(device)))
    # The main rank loads (or computes and caches) the reference first, so a missing dataset fails before any
    # generation; the other ranks only learn its checksum and size.
    reference: Reference | None = None

    def load() -> tuple[str, int]:
        nonlocal reference
        reference = load_reference(protocol, extractor, progress=reference_progress)
        return reference.checksum, reference.stats.count

    ref_checksum, n_ref = dist.main_first(load)
    generated = extract_chunks(protocol, extractor, images_of, protocol.n_gen, progress)
    if generated.stats.count != protocol.n_gen:
        raise GBenchError(f"protocol {protocol.id} needs exactly {protocol.n_gen} images, got {generated.stats.count}")
    metrics = dist.main_first(score, protocol, generated, reference, extractor.device)
    del generated
    seed = protocol.sample_seed if sample_seed is None else sample_seed
    return _result(protocol, extractor, ref_checksum, n_ref, metrics, seed, started)


def evaluate_batches(protocol_id: str, batches: Iterable[torch.Tensor], *, device="cpu", progress: Progress | None = None,
                     sample_seed: int | None = None) -> dict:
    """Score a stream of uint8 image batches (exactly the protocol's n_gen images) under `protocol_id`, in one process."""
    protocol = get_protocol(protocol_id)
    started = time.perf_counter()
    extractor = build_extractor(protocol.extractor, str(device))
    reference = load_reference(protocol, extractor)
    collector = _Collector(protocol.n_gen, *_needs(protocol))
    for batch in batches:
        collector.add(*extractor(batch))
        if progress:
            progress(len(batch))
    if collector.rows != protocol.n_gen:
        raise GBenchError(f"protocol {protocol.id} needs exactly {protocol.n_gen} images, got {collector.rows}")
    generated = Generated(collector.stats, collector.logits, collector.features)
    metrics = score(protocol, generated, reference, extractor.device)
    seed = protocol.sample_seed if sample_seed is None else sample_seed
    return _result(protocol, extractor, reference.checksum, reference.stats.count, metrics, seed, started)


def evaluate_generator(G: nn.Module, protocol_id: str, *, device="cpu", batch_size: int = 250, seed_offset: int = 0,
                       progress: Progress | None = None, reference_progress: Progress | None = None,
                       train_mode_batch: int = 0) -> dict:
    """Generate the protocol's n_gen images from `G` (stream seeded by the protocol's sample seed +
    `seed_offset`) and score them. Runs under `torch.random.fork_rng` and puts G back in its mode, so
    evaluating mid-training leaves the training state and RNG untouched. Shards by rank under torchrun.
    G runs in eval mode, or with `train_mode_batch` > 0 in train mode in batches of that size (`in_train_mode`)."""
    from gbench.evaluation.captions import condition_on_captions

    protocol = get_protocol(protocol_id)
    if protocol.metrics == ("ppl",):  # perceptual path length: pairs of images, no reference set (gbench/evaluation/ppl.py)
        from gbench.evaluation.ppl import evaluate_ppl

        return evaluate_ppl(G, protocol, device=dist.device_for_rank(device), seed_offset=seed_offset, progress=progress)
    seed = protocol.sample_seed + seed_offset
    device = dist.device_for_rank(device)
    if train_mode_batch < 0:
        raise GBenchError(f"the train-mode sampling batch must be positive, got {train_mode_batch}")
    G = condition_on_captions(G, protocol)  # text-to-image protocols: captions drawn in the stream like labels

    encoder = None
    if protocol.matching_encoder:
        from gbench.evaluation.captions import matching_encoder

        encoder = matching_encoder(protocol, device)
    encoded: dict[int, list[torch.Tensor]] = {}  # chunk -> its images' matching vectors, taken as the images stream by
    encoding_seconds = [0.0]

    def images_of(index: int, start: int, stop: int) -> Iterator[torch.Tensor]:
        for batch in generated_chunk(G, seed, index, stop - start, batch_size, device, train_mode_batch):
            if encoder is not None:
                started = time.perf_counter()
                encoded.setdefault(index, []).append(encoder.encode_images(batch).cpu())
                encoding_seconds[0] += time.perf_counter() - started
            yield batch

    was_training = G.training
    G.eval()
    try:
        with torch.random.fork_rng(devices=_cuda_devices(device)):
            result = evaluate_chunks(protocol_id, images_of, device=device, progress=progress, sample_seed=seed,
                                     reference_progress=reference_progress)
            if protocol.matching_encoder:
                _add_matching_score(result, G, protocol, seed, encoder, encoded, encoding_seconds[0])
    finally:
        G.train(was_training)
    return {**result, "sampling": sampling_mode(train_mode_batch)}


def _add_matching_score(result: dict, G: nn.Module, protocol: Protocol, seed: int, encoder, encoded: dict, seconds: float) -> None:
    """The text-image matching score (gbench/evaluation/captions.py) of the n_gen samples just scored (`encoded`: their
    matching vectors per chunk), into result["metrics"]["r_precision"]; result["matching"] says which encoder, or why off."""
    from gbench.evaluation.captions import MATCHING_CANDIDATES, MATCHING_ENV, matching_fingerprint, matching_hits, matching_seed

    if encoder is None:
        result["matching"] = {"off": f"no image-text encoder: set {MATCHING_ENV}=module:callable to score text-image matching"}
        return
    started = time.perf_counter()
    caption_vectors = encoder.encode_captions(G.embeddings).cpu()
    hits = 0
    for index, start, stop in my_chunks(protocol.n_gen):
        _, caption_index = latent_chunk(G, seed, index, stop - start)
        hits += matching_hits(torch.cat(encoded[index]), caption_index, caption_vectors, matching_seed(seed, index))
    hits = sum(dist.all_gather_object(hits)) if dist.world_size() > 1 else hits
    result["metrics"]["r_precision"] = 100.0 * hits / protocol.n_gen  # percent, as AttnGAN and TISE print it
    result["matching"] = {"encoder": encoder.name, "encoder_sha256": encoder.sha256, "candidates": MATCHING_CANDIDATES,
                          "n": protocol.n_gen, "fingerprint": matching_fingerprint(result["fingerprint"], encoder),
                          "seconds": round(seconds + time.perf_counter() - started, 3)}


def _result(protocol: Protocol, extractor: Extractor, ref_checksum: str, n_ref: int, metrics: dict, sample_seed: int,
            started: float) -> dict:
    return {
        "protocol": protocol.id,
        "fingerprint": fingerprint(protocol, extractor.sha256, ref_checksum),
        "metrics": metrics,
        "n_gen": protocol.n_gen,
        "n_ref": n_ref,
        "reference": f"{protocol.reference}/{protocol.reference_split}",
        "extractor": protocol.extractor,
        "extractor_sha256": extractor.sha256,
        "reference_checksum": ref_checksum,
        "sample_seed": sample_seed,
        "quantization": protocol.quantization,
        "resize": protocol.resize,
        "comparable_to": protocol.comparable or "not comparable to any published number",
        "seconds": round(time.perf_counter() - started, 3),
    }


def mean_std(results: list[dict]) -> dict:
    """Mean and std (population, np.std) of each metric over repeated evaluations with different seeds."""
    keys = results[0]["metrics"].keys()
    return {k: (float(np.mean([r["metrics"][k] for r in results])), float(np.std([r["metrics"][k] for r in results]))) for k in keys}
