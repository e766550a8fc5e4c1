"""Evaluation throughput and memory: gbench's streaming path vs torch-fidelity fed from a PNG folder.

`gbench bench --eval` and benchmarks/eval_throughput.py. One process, the same generator, the same images
(gbench's chunk-seeded stream), the same reference images, the same batch size:

1. gbench: `evaluate_generator` streams generator -> uint8 -> extractor -> float64 sums, keeping only the
   IS logits and KID rows, and scores.
2. PNG dump: the same images written as PNG files (what torch-fidelity needs as input), timed on its own.
3. torch-fidelity: `calculate_metrics(input1=<PNG folder>, input2=<reference PNG folder>)` with the same
   extractor weights, IS splits and KID subsets, the same conventions: `samples_shuffle=True` with `rng_seed=2020`
   (in torch-fidelity 0.4 the option only shuffles the IS logits before the splits, which gbench always does with
   RandomState(2020); the files are read in sorted-name order, the stream order) and KID subsets drawn from
   RandomState(2020) as gbench draws them, `save_cpu_ram=True` (no worker processes). Its timed call includes
   building its extractor, which it does on every call.

Untimed warm-up first: both tools' reference statistics are computed and cached, gbench's extractor is
built, and the generator runs once. Peak memory per phase: CUDA `max_memory_allocated` above the
allocation at its start, and host peak RSS (VmHWM from /proc/self/status, reset through
/proc/self/clear_refs) above the RSS at its start. Since the images are identical, the two tools' metrics
must agree (to float tolerance); the printout shows both.

Everything runs in a temporary GBENCH_HOME (the real assets and datasets are linked in), so benchmark
protocols never enter the user's cache. Without the real Inception weights, `random_weights=True` writes a
structure-compatible file with He-normal conv weights (`write_random_inception`): the timings are real, the
numbers are not metrics. Without the protocol's reference dataset, that mode stands in shapes32 images.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gbench.errors import GBenchError, UsageError

TORCH_FIDELITY_TOY = "gbench-toy-shapes32"
SAME_SEED = 2020  # torch-fidelity's rng_seed: its IS shuffle and KID subsets then match gbench's (ISC_SHUFFLE_SEED, KID_SEED)


# ----------------------------------------------------------------------------- memory


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int | None:
    kib = _proc_status_kib("VmRSS")
    return None if kib is None else kib * 1024


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc), so each phase starts from the same footing."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _RssSampler(threading.Thread):
    """Fallback where VmHWM cannot be reset: poll VmRSS every few milliseconds."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = rss_bytes() or 0, threading.Event()

    def run(self):
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes() or 0)


@contextmanager
def measured(device: torch.device):
    """Time a block and measure its peak memory above its start: {'seconds', 'cpu_seconds' (this process, all threads),
    'rss_peak_mib', 'cuda_peak_mib'}."""
    gc.collect()
    _trim_heap()
    stats: dict = {}
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        cuda_start = torch.cuda.memory_allocated(device)
    exact = _reset_peak_rss()
    start_rss = rss_bytes()
    sampler = None if exact else _RssSampler()
    if sampler:
        sampler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        yield stats
    finally:
        if cuda:
            torch.cuda.synchronize(device)
        stats["seconds"] = time.perf_counter() - started
        stats["cpu_seconds"] = time.process_time() - cpu_started
        if sampler:
            sampler.stop.set()
            sampler.join()
        peak = (_proc_status_kib("VmHWM") or 0) * 1024 if exact else (sampler.peak if sampler else 0)
        stats["rss_peak_mib"] = None if start_rss is None else max(peak - start_rss, 0) / 2**20
        stats["cuda_peak_mib"] = (torch.cuda.max_memory_allocated(device) - cuda_start) / 2**20 if cuda else None


# ----------------------------------------------------------------------------- random Inception weights (timing/tests only)


def write_random_inception(path: Path | str, seed: int = 0) -> Path:
    """Save a state_dict with the exact keys and shapes of torch-fidelity's `inception-v3-compat`, with
    random He-normal conv weights (PyTorch's default init makes all 2048 features collapse to ~0 after ~90
    layers). For tests and timing only: its numbers are not metrics."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class ArchitectureOnly(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):
            if state_dict:  # the constructor loads an empty dict here: keep the fresh modules
                return super().load_state_dict(state_dict, strict=strict, assign=assign)
            return None

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    empty = path.with_name(path.name + ".empty")
    torch.save({}, empty)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ArchitectureOnly("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
            for module in model.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                elif isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, std=0.05)
                    nn.init.zeros_(module.bias)
        torch.save(model.state_dict(), path)
    finally:
        empty.unlink(missing_ok=True)
    return path


@contextmanager
def bench_home(random_weights: bool):
    """A temporary GBENCH_HOME with the real datasets (and, unless `random_weights`, the real assets) linked in.
    With `random_weights`, the asset store accepts a random-weights Inception file (by its own sha256)."""
    from gbench import assets, paths
    from gbench.evaluation.features import build_extractor

    real_home = paths.gbench_home()
    old_env, old_asset = os.environ.get("GBENCH_HOME"), assets.ASSETS["inception"]
    with tempfile.TemporaryDirectory(prefix="gbench-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        for name in ("datasets", *(() if random_weights else ("assets",))):
            if (real_home / name).is_dir():
                (home / name).symlink_to((real_home / name).resolve(), target_is_directory=True)
        if random_weights:
            toy = real_home / "assets"
            (home / "assets").mkdir()
            for file in toy.glob("toy-shapes32-classifier-*.pt") if toy.is_dir() else []:
                (home / "assets" / file.name).symlink_to(file.resolve())
            weights = write_random_inception(home / "assets" / old_asset.filename)
            from gbench.data.download import file_digests

            assets.ASSETS["inception"] = dataclasses.replace(old_asset, sha256=file_digests(weights, ("sha256",))["sha256"], sha256_prefix=None,
                                                             size=weights.stat().st_size, description="RANDOM WEIGHTS: timing only, not a metric")
        os.environ["GBENCH_HOME"] = str(home)
        build_extractor.cache_clear()
        try:
            yield Path(tmp)
        finally:
            build_extractor.cache_clear()
            assets.ASSETS["inception"] = old_asset
            if old_env is None:
                os.environ.pop("GBENCH_HOME", None)
            else:
                os.environ["GBENCH_HOME"] = old_env


# ----------------------------------------------------------------------------- torch-fidelity side


def _register_toy_extractor() -> None:
    """Make the toy-shapes32 classifier available to torch-fidelity through its extractor registry."""
    from torch_fidelity import register_feature_extractor
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    if TORCH_FIDELITY_TOY in FEATURE_EXTRACTORS_REGISTRY:
        return

    class ToyShapesExtractor(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            from gbench.paths import assets_dir
            from gbench.evaluation.toy_classifier import load_toy_classifier

            super().__init__(name, features_list)
            self.model = load_toy_classifier(assets_dir())[0]

        @staticmethod
        def get_provided_features_list():
            return ("64", "logits")

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits", "fid": "64", "kid": "64", "prc": "64"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

        def forward(self, x):
            features, logits = self.model(x)
            named = {"64": features, "logits": logits}
            return tuple(named[f] for f in self.features_list)

    register_feature_extractor(TORCH_FIDELITY_TOY, ToyShapesExtractor)


def _torch_fidelity_kwargs(protocol, device: torch.device, batch_size: int, cache_root: Path) -> dict:
    from gbench.assets import asset_path

    from gbench.evaluation.evaluate import KNN_BLOCK_SIZE
    from gbench.protocols import PRDC

    # `+pr` protocols: torch-fidelity's precision/recall (its `prc`, on every row) beside gbench's; they agree exactly
    # while the sets are within the protocol's k-NN rows (10k)
    prc = dict(prc=True, prc_neighborhood=protocol.pr_k, prc_batch_size=KNN_BLOCK_SIZE) if PRDC in protocol.metrics else {}
    kwargs = dict(cuda=device.type == "cuda", batch_size=batch_size, isc="is" in protocol.metrics, fid="fid" in protocol.metrics,
                  **prc, kid="kid" in protocol.metrics, isc_splits=protocol.is_splits, kid_subsets=protocol.kid_subsets,
                  kid_subset_size=protocol.kid_subset_size, samples_shuffle=True, save_cpu_ram=True, verbose=False,
                  cache_root=str(cache_root), rng_seed=SAME_SEED)
    if protocol.extractor == "inception-v3-compat":
        kwargs.update(feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(asset_path("inception")))
    elif protocol.extractor == "toy-shapes32":
        _register_toy_extractor()
        kwargs.update(feature_extractor=TORCH_FIDELITY_TOY)
    else:
        raise UsageError(f"bench --eval times IS/FID/KID protocols; {protocol.id} uses {protocol.extractor}")
    return kwargs


def write_pngs(batches, folder: Path) -> int:
    """uint8 (B, C, H, W) batches -> folder/000000.png, ... in stream order (one file per image)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for batch in batches:
        array = batch.permute(0, 2, 3, 1).cpu().numpy()
        for image in array:  # one file per image: the PNG folder torch-fidelity reads
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / f"{count:06d}.png")
            count += 1
    return count


TORCH_FIDELITY_KEYS = {"is_mean": "inception_score_mean", "is_std": "inception_score_std", "fid": "frechet_inception_distance",
                       "kid_mean": "kernel_inception_distance_mean", "kid_std": "kernel_inception_distance_std", "precision": "precision",
                       "recall": "recall"}


# ----------------------------------------------------------------------------- the benchmark


def _bench_protocol(protocol, n: int, random_weights: bool):
    """The protocol with n generated and n reference images (KID subsets and IS splits capped to fit);
    under random weights a missing reference dataset is replaced by shapes32 (timing only)."""
    from gbench.data import load_dataset

    n_ref = min(n, protocol.n_ref) if protocol.n_ref else n
    reference, split, stand_in = protocol.reference, protocol.reference_split, ""
    try:
        load_dataset(reference, split, resolution=protocol.resolution, size=n_ref)
    except GBenchError:
        if not random_weights:
            raise
        reference, split, stand_in = "shapes32", "test", f"{protocol.reference} is not on disk; shapes32 test images stand in (timing only)"
    bench = dataclasses.replace(protocol, id=f"bench-{protocol.id}", n_gen=n, n_ref=n_ref, reference=reference, reference_split=split,
                                is_splits=min(protocol.is_splits, n), kid_subset_size=min(protocol.kid_subset_size, n, n_ref),
                                description=f"benchmark variant of {protocol.id}", comparable="")
    return bench, stand_in


def _bench_generator(experiment: str, resolution: int) -> nn.Module:
    from gbench.experiments import resolve_config
    from gbench.models import build_models

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = build_models(resolve_config(experiment, "paper"))[0]
    if getattr(G, "resolution", resolution) != resolution:
        raise GBenchError(f"{experiment}'s generator makes {G.resolution}x{G.resolution} images; the protocol needs {resolution}x{resolution}")
    return G.eval()


def eval_throughput(protocol_id: str = "toy-shapes32", *, n: int = 1000, device: str = "auto", batch_size: int = 64,
                    experiment: str | None = None, random_weights: bool = False, console=None) -> dict:
    """Run the three timed phases (gbench, PNG dump, torch-fidelity) and return their figures and ratios."""
    import torch_fidelity

    from gbench.data import load_dataset
    from gbench.evaluation.evaluate import evaluate_generator, generated_batches, needs_rows
    from gbench.evaluation.features import build_extractor
    from gbench.protocols import PROTOCOLS, get_protocol
    from gbench.distributed import resolve_device

    say = console.print if console else (lambda *a, **k: None)
    protocol = get_protocol(protocol_id)
    if random_weights and protocol.extractor != "inception-v3-compat":
        raise UsageError(f"--random-weights replaces the Inception weights; {protocol.id} uses {protocol.extractor}")
    if n < 2 or batch_size < 1:
        raise UsageError(f"--n must be >= 2 and --batch-size >= 1 (got {n}, {batch_size})")
    dev = resolve_device(device)
    G = _bench_generator(experiment or "dcgan", protocol.resolution).to(dev)

    with bench_home(random_weights) as tmp:
        bench, stand_in = _bench_protocol(protocol, n, random_weights)
        PROTOCOLS[bench.id] = bench
        try:
            say(f"[dim]warm-up (untimed): models; reference statistics of {bench.reference}/{bench.reference_split} "
                f"({bench.n_ref} images) for both tools[/dim]")
            extractor = build_extractor(bench.extractor, str(dev))
            feats, logits = extractor(next(generated_batches(G, 2, 2, bench.sample_seed, dev)))
            dim, classes = feats.shape[1], logits.shape[1]
            reference = load_dataset(bench.reference, bench.reference_split, resolution=bench.resolution, size=bench.n_ref)
            write_pngs([reference.images[: bench.n_ref]], tmp / "reference")
            del reference
            evaluate_generator(G, bench.id, device=dev, batch_size=batch_size)  # caches gbench's reference statistics
            tf_kwargs = _torch_fidelity_kwargs(bench, dev, batch_size, tmp / "fidelity-cache")
            torch_fidelity.calculate_metrics(input1=str(tmp / "reference"), input1_cache_name="gbench-bench-reference",
                                             input2=str(tmp / "reference"), input2_cache_name="gbench-bench-reference", **tf_kwargs)

            say(f"[dim]gbench: generate + extract + score {n} images[/dim]")
            with measured(dev) as gbench_phase:
                ours = evaluate_generator(G, bench.id, device=dev, batch_size=batch_size)
            say(f"[dim]PNG dump of the same {n} images[/dim]")
            with measured(dev) as dump_phase:
                write_pngs(generated_batches(G, n, batch_size, bench.sample_seed, dev), tmp / "generated")
            say(f"[dim]torch-fidelity: read PNGs + extract + score {n} images[/dim]")
            with measured(dev) as tf_phase:
                theirs = torch_fidelity.calculate_metrics(input1=str(tmp / "generated"), input2=str(tmp / "reference"),
                                                          input2_cache_name="gbench-bench-reference", **tf_kwargs)
        finally:
            PROTOCOLS.pop(bench.id, None)

    def rate(phase):
        return n / phase["seconds"]

    agreement = {k: (ours["metrics"][k], float(theirs[v])) for k, v in TORCH_FIDELITY_KEYS.items() if k in ours["metrics"] and v in theirs}
    return {
        "protocol": protocol.id, "bench_protocol": dataclasses.asdict(bench), "n": n, "batch_size": batch_size, "device": str(dev),
        "generator": experiment or "dcgan", "random_weights": random_weights, "reference_stand_in": stand_in,
        "phases": {"gbench": gbench_phase, "png_dump": dump_phase, "torch_fidelity": tf_phase},
        "images_per_s": {"gbench": rate(gbench_phase), "png_dump": rate(dump_phase), "torch_fidelity": rate(tf_phase),
                         "torch_fidelity_with_dump": n / (dump_phase["seconds"] + tf_phase["seconds"])},
        "ratios": {"gbench_vs_torch_fidelity": tf_phase["seconds"] / gbench_phase["seconds"],
                   "gbench_vs_dump_plus_torch_fidelity": (dump_phase["seconds"] + tf_phase["seconds"]) / gbench_phase["seconds"]},
        "metrics": agreement, "fingerprint": ours["fingerprint"],
        "kept_bytes_per_sample": 4 * (dim * needs_rows(bench) + classes * ("is" in bench.metrics)),
        "fid_sums_bytes": 8 * (dim + dim * dim),
        "versions": {"torch": torch.__version__, "torch_fidelity": torch_fidelity.__version__, "numpy": np.__version__},
    }


class UInt8Images(torch.utils.data.Dataset):
    """uint8 (N, C, H, W) images as the Dataset torch-fidelity reads (one (C, H, W) uint8 tensor per item)."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


def relative_differences(agreement: dict) -> dict:
    return {k: abs(ours - theirs) / max(abs(theirs), 1e-12) for k, (ours, theirs) in agreement.items()}


def stream_vs_torch_fidelity(G: nn.Module, protocol_id: str = "cifar10-10k", *, n: int = 10_000, batch_size: int = 250,
                             device: str = "auto", random_weights: bool = True, kid_subset_size: int | None = None,
                             console=None) -> dict:
    """gbench's streaming evaluation of `G` against torch-fidelity fed the very same uint8 images as tensors (no PNG
    files), under one protocol's extractor and conventions (`_torch_fidelity_kwargs`). Timed with cached reference
    statistics on both sides (computed in an untimed warm-up): gbench generates, extracts and scores in one stream;
    torch-fidelity extracts and scores the images generated beforehand (the generation is timed on its own). Returns
    each phase's seconds and peak memory, images/s, both tools' metrics and their relative differences."""
    import torch_fidelity

    from gbench.data import load_dataset
    from gbench.distributed import resolve_device
    from gbench.evaluation.evaluate import evaluate_generator, generated_batches
    from gbench.protocols import PROTOCOLS, get_protocol

    say = console.print if console else (lambda *a, **k: None)
    dev = resolve_device(device)
    G = G.to(dev).eval()
    with bench_home(random_weights) as tmp:
        bench, stand_in = _bench_protocol(get_protocol(protocol_id), n, random_weights)
        if kid_subset_size:  # below n, so the KID subsets differ (at n they are all the whole set)
            bench = dataclasses.replace(bench, kid_subset_size=kid_subset_size)
        PROTOCOLS[bench.id] = bench
        try:
            reference = load_dataset(bench.reference, bench.reference_split, resolution=bench.resolution, size=bench.n_ref)
            reference_images = UInt8Images(reference.images[: bench.n_ref])
            tf_kwargs = _torch_fidelity_kwargs(bench, dev, batch_size, tmp / "fidelity-cache")
            say(f"[dim]warm-up (untimed): reference statistics of {bench.reference}/{bench.reference_split} ({bench.n_ref} images), both tools[/dim]")
            evaluate_generator(G, bench.id, device=dev, batch_size=batch_size)
            torch_fidelity.calculate_metrics(input1=reference_images, input1_cache_name="gbench-check-reference", input2=reference_images,
                                             input2_cache_name="gbench-check-reference", **tf_kwargs)
            say(f"[dim]gbench: generate + extract + score {n} images[/dim]")
            with measured(dev) as gbench_phase:
                ours = evaluate_generator(G, bench.id, device=dev, batch_size=batch_size)
            say(f"[dim]generate the same {n} images as uint8 tensors[/dim]")
            with measured(dev) as generate_phase:
                images = torch.cat([b.cpu() for b in generated_batches(G, n, batch_size, bench.sample_seed, dev)])
            say(f"[dim]torch-fidelity: extract + score the {n} tensors[/dim]")
            with measured(dev) as tf_phase:
                theirs = torch_fidelity.calculate_metrics(input1=UInt8Images(images), input2=reference_images,
                                                          input2_cache_name="gbench-check-reference", **tf_kwargs)
        finally:
            PROTOCOLS.pop(bench.id, None)
    agreement = {k: (ours["metrics"][k], float(theirs[v])) for k, v in TORCH_FIDELITY_KEYS.items() if k in ours["metrics"] and v in theirs}
    return {
        "protocol": protocol_id, "bench_protocol": dataclasses.asdict(bench), "n": n, "batch_size": batch_size, "device": str(dev),
        "random_weights": random_weights, "reference_stand_in": stand_in, "fingerprint": ours["fingerprint"],
        "phases": {"gbench": gbench_phase, "generate": generate_phase, "torch_fidelity": tf_phase},
        "images_per_s": {"gbench": n / gbench_phase["seconds"], "torch_fidelity": n / tf_phase["seconds"],
                         "torch_fidelity_with_generation": n / (tf_phase["seconds"] + generate_phase["seconds"])},
        "metrics": agreement, "relative_difference": relative_differences(agreement),
        "versions": {"torch": torch.__version__, "torch_fidelity": torch_fidelity.__version__},
    }


def print_throughput(result: dict, console) -> None:
    from rich.table import Table

    label = " [bold red](RANDOM Inception weights: timing only, not a metric)[/bold red]" if result["random_weights"] else ""
    table = Table(title=f"evaluation throughput: {result['protocol']}, n={result['n']}, batch {result['batch_size']}, "
                        f"{result['device']}, generator {result['generator']}")
    for col in ("path", "seconds", "images/s", "peak host RSS +MiB", "peak CUDA +MiB"):
        table.add_column(col, justify="left" if col == "path" else "right")
    names = {"gbench": "gbench stream (generate+extract+score)", "png_dump": "PNG dump (generate+encode+write)",
             "torch_fidelity": "torch-fidelity (read PNG+extract+score)"}
    for key, phase in result["phases"].items():
        cuda = "-" if phase["cuda_peak_mib"] is None else f"{phase['cuda_peak_mib']:.0f}"
        rss = "-" if phase["rss_peak_mib"] is None else f"{phase['rss_peak_mib']:.0f}"
        table.add_row(names[key], f"{phase['seconds']:.2f}", f"{result['images_per_s'][key]:.1f}", rss, cuda)
    console.print(table)
    r = result["ratios"]
    console.print(f"speed-up of gbench: {r['gbench_vs_torch_fidelity']:.2f}x vs torch-fidelity on ready PNGs, "
                  f"{r['gbench_vs_dump_plus_torch_fidelity']:.2f}x vs dump + torch-fidelity{label}")
    console.print(f"gbench keeps {result['kept_bytes_per_sample']} bytes per sample (feature rows for KID and the k-NN metrics + IS logits, float32) and "
                  f"{result['fid_sums_bytes'] / 2**10:,.0f} KiB of float64 FID sums whatever n is")
    if result["reference_stand_in"]:
        console.print(f"[yellow]reference:[/yellow] {result['reference_stand_in']}")
    for key, (ours, theirs) in result["metrics"].items():
        rel = abs(ours - theirs) / max(abs(theirs), 1e-12)
        console.print(f"  {key:9s} gbench {ours:.6g}   torch-fidelity {theirs:.6g}   rel. diff {rel:.1e}{label if key == 'fid' else ''}")
