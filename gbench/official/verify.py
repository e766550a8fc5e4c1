"""`gbench verify NAME`: import a release, evaluate it under its protocol, set the measured numbers beside the published.

``verify_release`` finds the release's file (``--checkpoint FILE``, else the registry's place under
``$GBENCH_HOME/assets/releases``, fetched when missing unless ``download=False``), imports it with
``gbench.official.import_checkpoint`` (the registry's overrides, then whatever the file needs), evaluates the
generator the file holds (its EMA weights when it has them) under ``Release.protocol`` through the same code as
``gbench eval`` (``gbench.evaluation.sources``; translation protocols through ``gbench.evaluation.translation``)
and compares every published number: Δ = measured − published, reproduced when |Δ| <= max(the source's stated
error, the stated tolerance) (``Published.reproduced_by``). ``comparable`` says whether the release's paper
protocol is the one gbench measured; a number can be reproduced and still not comparable, and the report says so.

The result is a dict (written as JSON by the CLI and by ``gbench reproduce published-checkpoints``): the file
and its sha256 (never called verified without a published hash), what the import inferred, the fingerprint,
every per-seed result and ``metrics`` (each metric's mean over sample seeds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gbench.errors import GBenchError, UsageError
from gbench.official.common import ImportResult
from gbench.official.fetch import describe_file, fetch_release, local_release_file
from gbench.official.registry import Published, Release, get_release


def release_problem(release: Release) -> str:
    """Why the release cannot be evaluated by gbench ("" when it can)."""
    if release.experiment is None or release.protocol is None:
        return f"not verifiable yet: {release.comparable_note}"
    return ""


def evaluate_imported(result: ImportResult, protocol_id: str, *, seeds: int = 1, device="cpu", batch_size: int = 250,
                      progress=None, reference_progress=None) -> dict:
    """Evaluate the generator of an import (G_ema when the file has it) under `protocol_id`; an eval.json-style report."""
    from gbench.evaluation.sources import Source, evaluate_source, make_report
    from gbench.evaluation.translation import evaluate_translation, is_translation_protocol
    from gbench.experiments import resolve_config
    from gbench.protocols import get_protocol

    protocol = get_protocol(protocol_id)
    which = "G_ema" if "G_ema" in result.modules else "G"
    G = result.modules[which]
    source = Source("checkpoint", result.experiment, f"imported {result.format} release, {which} generator",
                    f"published checkpoint {result.source}", generator=G,
                    details={"checkpoint": result.source, "experiment": result.experiment, "overrides": list(result.overrides),
                             "generator": which, "format": result.format})
    if is_translation_protocol(protocol):
        if seeds != 1:
            raise GBenchError(f"{protocol.id} translates one fixed set of inputs: --seeds must be 1")
        cfg = resolve_config(result.experiment, "paper", list(result.overrides)).eval  # the recipe's batch: BN runs on batch statistics
        results = [evaluate_translation(G.to(device), protocol.id, device=device, batch_size=cfg.batch_size, segmenter=cfg.segmenter)]
    else:
        results = evaluate_source(source, protocol.id, seeds=seeds, device=device, batch_size=batch_size, progress=progress,
                                  reference_progress=reference_progress)
    return make_report(source, results)


def compare(published: tuple[Published, ...], metrics: dict) -> list[dict]:
    """One row per published number: the value, the measured mean, Δ and whether it is within the accepted error."""
    rows = []
    for p in published:
        measured = metrics.get(p.metric)
        by_error = p.error is not None and p.error >= p.tolerance
        row = {"metric": p.metric, "published": p.value, "error": p.error, "tolerance": p.tolerance, "accepted": max(p.error or 0.0, p.tolerance),
               "tolerance_basis": "the source's stated error" if by_error else p.tolerance_basis,
               "source": p.source, "measured": measured, "delta": None, "within": None}
        if measured is not None:
            row["delta"] = measured - p.value
            row["within"] = p.reproduced_by(measured)
        rows.append(row)
    return rows


def verify_release(name: str, *, checkpoint: str | Path | None = None, seeds: int = 1, device: str = "auto", batch_size: int = 250,
                   download: bool = True, progress=None, reference_progress=None) -> dict:
    """Import + evaluate + compare one release (see the module docstring)."""
    from gbench.distributed import resolve_device
    from gbench.official import import_checkpoint

    release = get_release(name)
    problem = release_problem(release)
    if problem:
        raise GBenchError(f"release {name} is {problem}")
    if seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {seeds}")
    if checkpoint is not None:
        file = describe_file(release, Path(checkpoint)) if Path(checkpoint).is_file() else None
        if file is None:
            raise GBenchError(f"{checkpoint} does not exist" if not Path(checkpoint).exists() else f"{checkpoint} is not a file")
    else:
        file = fetch_release(name) if download else local_release_file(name)
    result = import_checkpoint(release.format, file.path, release.experiment, release.overrides)
    report = evaluate_imported(result, release.protocol, seeds=seeds, device=resolve_device(device), batch_size=batch_size,
                               progress=progress, reference_progress=reference_progress)
    metrics = {key: float(np.mean([r["metrics"][key] for r in report["results"]])) for key in report["results"][0]["metrics"]
               if all(isinstance(r["metrics"].get(key), (int, float)) for r in report["results"])}
    return {
        "release": release.name,
        "description": release.description,
        "format": release.format,
        "experiment": result.experiment,
        "protocol": release.protocol,
        "fingerprint": report["fingerprint"],
        "paper_protocol": release.paper_protocol,
        "comparable": release.comparable,
        "comparable_note": release.comparable_note,
        "file": {**file.record(), "published_sha256": release.sha256},
        "import": {"overrides": list(result.overrides), "notes": list(result.notes), "tensors": dict(result.tensors),
                   "generator": report["source"]["generator"]},
        "seeds": report["seeds"],
        "metrics": metrics,
        "comparisons": compare(release.published, metrics),
        "evaluation": report,
    }
