"""What the k-NN metrics (precision/recall/density/coverage of a `+pr` protocol) add to an evaluation: time and memory.

`benchmarks/manifold_overhead.py`. One process, one generator, one temporary GBENCH_HOME (real datasets and weights
linked in, as `gbench bench --eval`), a benchmark copy of the protocol with `n` generated and `n_ref` reference images
(default: the toy protocol at 50k vs 50k, the size of a paper evaluation, on the toy classifier's 64-d features) and
its `+pr` variant derived with `with_manifold_metrics`, exactly as the registered variants are. The generator is the
experiment's `smoke` preset network (default dcgan: 16 channels), randomly initialised: the toy scale, where the
generator is cheap, so the k-NN share of the time is at its largest.

Untimed warm-up: both reference caches (the variant's includes its k-NN radii), the extractor, and the generated
features the k-NN-alone phase uses.
Timed, alternating and repeated (`repeats`; the fastest of each is kept, the machine may be shared):
1. base: `evaluate_generator` under the base protocol (generate + extract + IS/FID/KID);
2. variant: the same under `+pr` (the same plus the k-NN metrics from the same features, one pass);
3. k-NN alone: `manifold_metrics` on the variant's rows (at most 10k of each set, seeded) of the generated and reference
   features with the cached reference radii (the two distance passes an evaluation runs), with its peak memory;
4. once: the reference radii (the third pass), which the reference cache keeps, so no evaluation repeats it.
The overhead is (variant - base) / base, and, less noisy, k-NN alone / base, in wall-clock seconds and in this process's
CPU seconds (steadier on a shared machine). Peak memory per phase: host RSS above the phase's start (VmHWM, as
gbench/bench/eval_throughput.py measures) and CUDA `max_memory_allocated`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from gbench.errors import GBenchError


def _smoke_generator(experiment: str, resolution: int) -> torch.nn.Module:
    from gbench.experiments import resolve_config
    from gbench.models import build_models

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = build_models(resolve_config(experiment, "smoke"))[0]
    if getattr(G, "resolution", resolution) != resolution:
        raise GBenchError(f"{experiment}'s smoke generator makes {G.resolution}x{G.resolution} images; the protocol needs {resolution}x{resolution}")
    return G.eval()


def manifold_overhead(protocol_id: str = "toy-shapes32", *, n: int = 50_000, n_ref: int | None = None, device: str = "auto",
                      batch_size: int = 500, experiment: str | None = None, repeats: int = 1, console=None) -> dict:
    from gbench.bench.eval_throughput import bench_home, measured
    from gbench.distributed import resolve_device
    from gbench.evaluation.evaluate import (KNN_BLOCK_SIZE, _rows, build_extractor, evaluate_generator, generated_batches, knn_subsets,
                                            load_reference, reference_knn_radii)
    from gbench.metrics.manifold import manifold_metrics
    from gbench.protocols import PROTOCOLS, PRDC, get_protocol, with_manifold_metrics

    say = console.print if console else (lambda *a, **k: None)
    protocol = get_protocol(protocol_id)
    if "fid" not in protocol.metrics or PRDC in protocol.metrics or protocol.extractor not in ("toy-shapes32", "inception-v3-compat"):
        raise GBenchError(f"the overhead is measured on a base image protocol (toy-shapes32, cifar10-...), not {protocol.id}")
    if n < 10 or repeats < 1:
        raise GBenchError(f"--n must be >= 10 and --repeats >= 1 (got {n}, {repeats})")
    n_ref = n_ref or n
    dev = resolve_device(device)
    base = dataclasses.replace(protocol, id=f"bench-{protocol.id}", n_gen=n, n_ref=n_ref, is_splits=min(protocol.is_splits, n),
                               kid_subset_size=min(protocol.kid_subset_size, n, n_ref), description=f"benchmark copy of {protocol.id}",
                               comparable="")
    variant = with_manifold_metrics(base)
    G = _smoke_generator(experiment or "dcgan", protocol.resolution).to(dev)
    with bench_home(random_weights=False):
        PROTOCOLS[base.id], PROTOCOLS[variant.id] = base, variant
        try:
            say(f"[dim]warm-up (untimed): extractor, reference statistics of {base.reference}/{base.reference_split} "
                f"({n_ref} images) for both protocols, the generator[/dim]")
            extractor = build_extractor(base.extractor, str(dev))
            load_reference(base, extractor)
            rows = load_reference(variant, extractor).load_rows()
            real = rows["features"]
            fake = torch.cat([extractor(batch)[0].cpu() for batch in generated_batches(G, n, batch_size, base.sample_seed, dev)])
            real_index, fake_index = knn_subsets(variant, real.shape[0], fake.shape[0])
            phases = {"base": [], "variant": [], "knn": []}
            results = {}
            for i in range(repeats):
                say(f"[dim]round {i + 1}/{repeats}: base, +pr, k-NN alone[/dim]")
                with measured(dev) as phase:
                    results["base"] = evaluate_generator(G, base.id, device=dev, batch_size=batch_size)
                phases["base"].append(phase)
                with measured(dev) as phase:
                    results["variant"] = evaluate_generator(G, variant.id, device=dev, batch_size=batch_size)
                phases["variant"].append(phase)
                with measured(dev) as phase:
                    results["knn"] = manifold_metrics(real=_rows(real, real_index), fake=_rows(fake, fake_index), pr_k=variant.pr_k,
                                                      dc_k=variant.dc_k, block_size=KNN_BLOCK_SIZE, device=dev, real_radii=rows["knn_radii"])
                phases["knn"].append(phase)
            with measured(dev) as radii_phase:
                reference_knn_radii(variant, real, dev)
        finally:
            PROTOCOLS.pop(base.id, None)
            PROTOCOLS.pop(variant.id, None)

    best = {name: min(runs, key=lambda p: p["seconds"]) for name, runs in phases.items()}
    agree = {k: (results["variant"]["metrics"][k], v) for k, v in results["knn"].items()}
    same_as_base = all(results["variant"]["metrics"][k] == v for k, v in results["base"]["metrics"].items())
    dim = real.shape[1]
    return {
        "protocol": protocol.id, "n": n, "n_ref": n_ref, "device": str(dev), "batch_size": batch_size,
        "generator": f"{experiment or 'dcgan'} (smoke preset network, random weights)",
        "repeats": repeats, "feature_dim": dim, "knn_block_size": KNN_BLOCK_SIZE, "phases": best, "radii_once": radii_phase,
        "all_seconds": {name: [p["seconds"] for p in runs] for name, runs in phases.items()},
        "overhead": (best["variant"]["seconds"] - best["base"]["seconds"]) / best["base"]["seconds"],
        "knn_share": best["knn"]["seconds"] / best["base"]["seconds"],
        "cpu_overhead": (best["variant"]["cpu_seconds"] - best["base"]["cpu_seconds"]) / best["base"]["cpu_seconds"],
        "cpu_knn_share": best["knn"]["cpu_seconds"] / best["base"]["cpu_seconds"],
        "kept_generated_bytes": 4 * n * dim, "kept_reference_bytes": 4 * n_ref * dim,
        "knn_rows": (min(n_ref, variant.knn_subsample), min(n, variant.knn_subsample)),
        "tile_bytes": 4 * min(KNN_BLOCK_SIZE, n_ref, variant.knn_subsample) * min(KNN_BLOCK_SIZE, n, variant.knn_subsample),
        "metrics": results["variant"]["metrics"], "knn_agrees": agree, "base_metrics_unchanged": same_as_base,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "threads": torch.get_num_threads()},
    }


def print_overhead(result: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"k-NN metrics overhead: {result['protocol']} vs {result['protocol']}+pr, n={result['n']:,} generated vs "
                        f"{result['n_ref']:,} reference, {result['feature_dim']}-d features, {result['device']}, "
                        f"{result['versions']['threads']} threads, best of {result['repeats']}")
    for col in ("phase", "seconds", "CPU seconds", "peak host RSS +MiB", "peak CUDA +MiB"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    rows = " x ".join(f"{r:,}" for r in result["knn_rows"])
    names = {"base": "base evaluation (generate + extract + IS/FID/KID)", "variant": "+pr evaluation (the same + P/R/D/C, one pass)",
             "knn": f"k-NN metrics alone ({rows} rows, 2 distance passes, cached reference radii)"}
    for key, phase in [*result["phases"].items(), ("radii", result["radii_once"])]:
        cuda = "-" if phase["cuda_peak_mib"] is None else f"{phase['cuda_peak_mib']:.0f}"
        rss = "-" if phase["rss_peak_mib"] is None else f"{phase['rss_peak_mib']:.0f}"
        table.add_row(names.get(key, "reference radii (once per protocol, cached with its statistics)"), f"{phase['seconds']:.2f}",
                      f"{phase['cpu_seconds']:.2f}", rss, cuda)
    console.print(table)
    console.print(f"overhead of +pr: {100 * result['overhead']:+.1f}% of the base evaluation's wall time, "
                  f"{100 * result['cpu_overhead']:+.1f}% of its CPU time (k-NN alone: {100 * result['knn_share']:.1f}% / "
                  f"{100 * result['cpu_knn_share']:.1f}%); wall seconds of every round: {result['all_seconds']}")
    console.print(f"memory: generated features kept {result['kept_generated_bytes'] / 2**20:,.1f} MiB, reference rows "
                  f"{result['kept_reference_bytes'] / 2**20:,.1f} MiB (float32); one distance tile "
                  f"{result['tile_bytes'] / 2**20:,.0f} MiB (block {result['knn_block_size']:,}); at 50k Inception features (2048-d) "
                  f"the kept rows are {4 * 50_000 * 2048 / 2**20:,.0f} MiB per set")
    console.print("IS/FID/KID of +pr equal the base's: " + ("yes" if result["base_metrics_unchanged"] else "NO")
                  + "; P/R/D/C of the +pr evaluation equal manifold_metrics on the same features: "
                  + ("yes" if all(a == b for a, b in result["knn_agrees"].values()) else "NO"))
    console.print("  " + "  ".join(f"{k} {v:.4f}" for k, v in result["metrics"].items()))
