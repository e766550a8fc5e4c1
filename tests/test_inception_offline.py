"""The Inception protocols offline: the full `gbench eval` path end to end on a random-weights Inception
file, the one-line error when the weights are missing, and `gbench data list | fetch`.

The random-weights file has the exact keys and shapes of torch-fidelity's `inception-v3-compat` and
He-normal conv weights (so the 2048 features do not collapse), is generated here in a temporary
GBENCH_HOME with its own cache root, and is accepted only because these tests patch the asset registry
with its own sha256. It exercises the real code path (torch-fidelity's network, TF-compatible resize,
streaming statistics, caches, fingerprints); its numbers are NOT metrics and must never be reported.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch
from datafiles import write_cifar
from typer.testing import CliRunner

from gbench import assets
from gbench.bench.eval_throughput import write_random_inception
from gbench.cli import app
from gbench.data.download import file_digests
from gbench.protocols import PROTOCOLS

runner = CliRunner()
PROTOCOL = "test-cifar10-tiny"

@pytest.fixture
def random_inception(offline_home, monkeypatch):
    """The random-weights file under the real file name, accepted by its own sha256 (this test only)."""
    path = write_random_inception(offline_home / "assets" / assets.ASSETS["inception"].filename, seed=0)
    digest = file_digests(path, ("sha256",))["sha256"]
    monkeypatch.setitem(assets.ASSETS, "inception", dataclasses.replace(assets.ASSETS["inception"], sha256=digest, sha256_prefix=None,
                                                                         size=path.stat().st_size))
    write_cifar(offline_home / "datasets", per_batch=4, test_count=6)
    tiny = dataclasses.replace(PROTOCOLS["cifar10-50k"], id=PROTOCOL, n_gen=6, n_ref=8, is_splits=2, kid_subsets=3, kid_subset_size=3,
                               comparable="")
    monkeypatch.setitem(PROTOCOLS, PROTOCOL, tiny)
    return digest


def test_full_eval_path_on_random_weights_inception(random_inception, offline_home, tmp_path):
    out = tmp_path / "eval.json"
    result = runner.invoke(app, ["eval", "--protocol", PROTOCOL, "--generator", "tiny_gen:make", "--device", "cpu",
                                 "--batch-size", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text())["results"][0]
    assert res["extractor"] == "inception-v3-compat" and res["extractor_sha256"] == random_inception
    assert res["fingerprint"].startswith(f"{PROTOCOL}@") and res["n_gen"] == 6 and res["n_ref"] == 8
    m = res["metrics"]
    assert 1.0 < m["is_mean"] <= 3.0  # IS <= min(1008 classes, 3 samples per split)
    assert np.isfinite(m["fid"]) and m["fid"] > 0 and np.isfinite(m["kid_mean"])
    # the reference statistics went into this home's own cache: FID sums and the KID rows, which are
    # real 2048-d pool3 features, spread out across images (He init: no collapse to ~0)
    assert len(list((offline_home / "cache" / "reference-sums").glob(f"{PROTOCOL}-*.pt"))) == 1
    (rows_file,) = (offline_home / "cache" / "reference-kid-rows").glob(f"{PROTOCOL}-*.pt")
    rows = torch.load(rows_file, weights_only=True)["tensors"]["features"]
    assert rows.shape == (8, 2048) and rows.abs().mean() > 1e-3 and rows.std(dim=0).mean() > 1e-2 * rows.abs().mean()
    assert json.loads(out.read_text())["fingerprint"] == res["fingerprint"]


def test_missing_inception_weights_offline_is_one_line(offline_home):
    result = runner.invoke(app, ["eval", "--protocol", "cifar10-50k", "--generator", "tiny_gen:make", "--device", "cpu"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "missing asset inception" in text and "weights-inception-2015-12-05-6726825d.pth" in text
    assert "gbench data fetch inception" in text and str(offline_home / "assets") in text and "offline" in text
    assert "Traceback" not in result.output and result.output.count("error:") == 1


def test_data_list_and_fetch_offline(offline_home, tmp_path):
    result = runner.invoke(app, ["data", "fetch", "inception"])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "weights-inception-2015-12-05-6726825d.pth" in text and "Traceback" not in result.output
    root = tmp_path / "data"
    result = runner.invoke(app, ["data", "fetch", "cifar10", "--root", str(root)])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "cifar-10-python.tar.gz" in text and f"gbench data fetch cifar10 --root {root}" in text

    def status(name):
        result = runner.invoke(app, ["data", "list", "--root", str(root)], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        line = next(l for l in result.output.splitlines() if f" {name} " in l)
        return "present" if "present" in line else "missing" if "missing" in line else line

    assert status("cifar10") == "missing" and status("inception") == "missing" and status("shapes32") == "present"
    write_cifar(root, per_batch=4, test_count=6)
    assert status("cifar10") == "present"
    result = runner.invoke(app, ["data", "fetch", "cifar10", "--root", str(root)])  # present: no download, works offline
    assert result.exit_code == 0 and "cifar-10-batches-py" in result.output
    result = runner.invoke(app, ["data", "fetch", "lsun-bedroom"])
    assert result.exit_code == 2 and "unknown dataset or asset 'lsun-bedroom'" in " ".join(result.output.split())
