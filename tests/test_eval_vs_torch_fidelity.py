"""The whole `gbench eval` pipeline and `torch_fidelity.calculate_metrics` on the same PNG files, with the same
random-weight Inception file (the real inception-v3-compat architecture, He-normal weights: a test fixture, never
a metric), agree on IS, FID and KID to 1e-5 relative.

KID: torch-fidelity computes its polynomial kernels in float32 (gbench in float64, gbench/metrics/kid.py), so the two
agree to about 1e-7 absolute whatever the value: KID mean and std are held to 1e-5 relative or 3e-7 absolute. With
blocky noise against noise (KID 2.6e-3) the means differed by 8e-8 (3e-5 relative); with the colour ramps used here
the mean agrees to 1e-5 relative and the std (1.0e-2) by 1.1e-7 absolute.

50 generated and 50 reference images: the fewest that keep every convention in play: 5 IS splits of 10 (so the
split shuffle matters), KID subsets of 25 drawn from 50 (so the subset draws matter), FID from 2048-d features.
Each image goes through Inception at 299x299 once per tool and set (200 forwards, about a minute on one CPU core),
hence the slow marker.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch_fidelity
from datafiles import write_cifar
from typer.testing import CliRunner

from gbench import assets
from gbench.bench.eval_throughput import TORCH_FIDELITY_KEYS, _torch_fidelity_kwargs, write_pngs, write_random_inception
from gbench.cli import app
from gbench.data import load_dataset
from gbench.data.download import file_digests
from gbench.evaluation.features import build_extractor
from gbench.protocols import PROTOCOLS

N = 50
PROTOCOL = "test-eval-vs-torch-fidelity"
KID_FLOAT32_ROUNDOFF = 3e-7


@pytest.fixture
def random_inception_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GBENCH_HOME", str(home))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    path = write_random_inception(home / "assets" / assets.ASSETS["inception"].filename, seed=0)
    monkeypatch.setitem(assets.ASSETS, "inception", dataclasses.replace(
        assets.ASSETS["inception"], sha256=file_digests(path, ("sha256",))["sha256"], sha256_prefix=None, size=path.stat().st_size))
    write_cifar(home / "datasets", per_batch=1, test_count=N, seed=1)
    protocol = dataclasses.replace(PROTOCOLS["cifar10-10k-test"], id=PROTOCOL, n_gen=N, n_ref=N, is_splits=5, kid_subsets=10,
                                   kid_subset_size=25, comparable="")
    monkeypatch.setitem(PROTOCOLS, PROTOCOL, protocol)
    build_extractor.cache_clear()
    yield path, protocol
    build_extractor.cache_clear()


def test_bench_passes_the_same_conventions_to_torch_fidelity(tmp_path):
    kwargs = _torch_fidelity_kwargs(PROTOCOLS["toy-shapes32"], __import__("torch").device("cpu"), 64, tmp_path)
    assert kwargs["samples_shuffle"] is True and kwargs["rng_seed"] == 2020  # gbench always shuffles IS with RandomState(2020)


@pytest.mark.slow
def test_gbench_eval_equals_torch_fidelity_on_the_same_pngs(random_inception_home, tmp_path):
    weights, protocol = random_inception_home
    assert protocol.reference == "cifar10" and protocol.reference_split == "test"
    import torch

    rng = np.random.default_rng(0)  # smooth colour ramps, far from the reference's noise (KID well above float32 round-off)
    ramp = np.linspace(0.0, 1.0, 32)[None, None, :, None] * rng.uniform(-1, 1, (N, 3, 1, 1)) + rng.uniform(0.2, 0.8, (N, 3, 1, 1))
    generated = torch.from_numpy((255 * np.clip(ramp + np.zeros((N, 3, 32, 32)), 0, 1)).round().astype(np.uint8))
    write_pngs([generated], tmp_path / "samples")
    reference = load_dataset("cifar10", "test", resolution=32, size=N).images[:N]
    write_pngs([reference], tmp_path / "reference")

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["eval", "--protocol", PROTOCOL, "--samples", str(tmp_path / "samples"), "--device", "cpu",
                                      "--batch-size", "25", "--out", str(out)])
    assert result.exit_code == 0, result.output
    ours = json.loads(out.read_text())["results"][0]["metrics"]
    theirs = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "samples"), input2=str(tmp_path / "reference"), cuda=False, batch_size=25, isc=True, fid=True, kid=True,
        feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(weights), isc_splits=5, kid_subsets=10,
        kid_subset_size=25, samples_shuffle=True, rng_seed=2020, save_cpu_ram=True, verbose=False, cache=False)
    assert ours["fid"] > 1 and ours["is_std"] > 0 and ours["kid_std"] > 0  # nothing degenerate: every convention is tested
    compared = {key: theirs_key for key, theirs_key in TORCH_FIDELITY_KEYS.items() if key in ours}
    assert set(compared) == {"is_mean", "is_std", "fid", "kid_mean", "kid_std"}  # precision/recall are not in this protocol
    for key, theirs_key in compared.items():
        floor = KID_FLOAT32_ROUNDOFF if key.startswith("kid") else 0.0
        assert ours[key] == pytest.approx(float(theirs[theirs_key]), rel=1e-5, abs=floor), key
