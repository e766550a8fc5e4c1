"""The DINOv2 protocols offline: the whole `gbench eval` path of a `-dinov2` protocol on a random-weight file of the
real ViT-L/14 architecture, the one-line error when the weights are missing, and the asset in `gbench data list`.

The random-weight file has the official key layout and the shapes of the released ViT-L/14 (304,368,640 parameters,
1.2 GB, written into a temporary GBENCH_HOME) and is accepted only because the test patches the asset registry with
its own sha256. It exercises the real code path (asset lookup and verification, strict weights_only loading,
Pillow-exact resize to 224, the ViT, streaming statistics, cached reference rows and k-NN radii, fingerprint); its
numbers are NOT metrics. The real architecture costs a few seconds per image on a CPU, so the protocol is cut to
2 generated and 2 reference images (k = 1, KID subsets of 2): the test takes about 20 s on a free CPU core, most of
it the four forward passes and writing the file.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch
from datafiles import write_cifar
from torch import nn
from typer.testing import CliRunner

from gbench import assets
from gbench.cli import app
from gbench.data.download import cached_sha256
from gbench.evaluation.dinov2 import VITL14, DinoV2ViT
from gbench.protocols import PROTOCOLS

runner = CliRunner()
PROTOCOL = "test-cifar10-tiny-dinov2"

@pytest.fixture
def random_dinov2(offline_home, monkeypatch):
    """A random-weight ViT-L/14 under the real file name, accepted by its own sha256 (this test only)."""
    path = offline_home / "assets" / assets.ASSETS["dinov2"].filename
    path.parent.mkdir(parents=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        vit = DinoV2ViT(VITL14)
        for token in (vit.cls_token, vit.pos_embed, vit.mask_token):  # the official init: trunc-normal-like small tokens
            nn.init.normal_(token, std=0.02)
    torch.save(vit.state_dict(), path)
    del vit
    digest = cached_sha256(path)
    monkeypatch.setitem(assets.ASSETS, "dinov2", dataclasses.replace(assets.ASSETS["dinov2"], sha256=digest, size=path.stat().st_size))
    write_cifar(offline_home / "datasets", per_batch=2, test_count=2)
    tiny = dataclasses.replace(PROTOCOLS["cifar10-50k-dinov2"], id=PROTOCOL, n_gen=2, n_ref=2, kid_subsets=2, kid_subset_size=2,
                               pr_k=1, dc_k=1, comparable="")
    monkeypatch.setitem(PROTOCOLS, PROTOCOL, tiny)
    return digest


def test_full_eval_path_on_a_random_weight_vitl14(random_dinov2, offline_home, tmp_path):
    out = tmp_path / "eval.json"
    result = runner.invoke(app, ["eval", "--protocol", PROTOCOL, "--generator", "tiny_gen:make", "--device", "cpu",
                                 "--batch-size", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    res = report["results"][0]
    assert res["extractor"] == "dinov2-vitl14" and res["extractor_sha256"] == random_dinov2
    assert res["fingerprint"].startswith(f"{PROTOCOL}@") and res["n_gen"] == 2 and res["n_ref"] == 2 and "224" in res["resize"]
    m = res["metrics"]
    assert set(m) == {"fd_dinov2", "kd_dinov2_mean", "kd_dinov2_std", "precision", "recall", "density", "coverage"}  # no IS
    assert all(np.isfinite(v) for v in m.values()) and m["fd_dinov2"] > 0
    assert {r["metric"] for r in report["leaderboard"]} == {"FD_DINOv2", "KD_DINOv2", "precision", "recall", "density", "coverage"}
    # the reference rows are real 1024-d CLS features, spread across images, cached with their k-NN radii
    (rows_file,) = (offline_home / "cache" / "reference-kid-rows").glob(f"{PROTOCOL}-*.pt")
    rows = torch.load(rows_file, weights_only=True)["tensors"]
    assert rows["features"].shape == (2, 1024) and rows["knn_radii"].shape == (2, 2)
    assert rows["features"].std(dim=0).mean() > 1e-3 * rows["features"].abs().mean() and (rows["knn_radii"] > 0).all()


def test_missing_dinov2_weights_offline_is_one_line(offline_home):
    result = runner.invoke(app, ["eval", "--protocol", "cifar10-50k-dinov2", "--generator", "tiny_gen:make", "--device", "cpu"])
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "missing asset dinov2" in text and "dinov2_vitl14_pretrain.pth" in text and "sha256 d5383ea8" in text
    assert "gbench data fetch dinov2" in text and str(offline_home / "assets") in text and "offline" in text
    assert "Traceback" not in result.output and result.output.count("error:") == 1


def test_a_file_that_is_not_the_release_is_rejected(offline_home):
    path = offline_home / "assets" / assets.ASSETS["dinov2"].filename
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the DINOv2 weights")
    result = runner.invoke(app, ["eval", "--protocol", "cifar10-50k-dinov2", "--generator", "tiny_gen:make", "--device", "cpu"])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "rejected" in text and cached_sha256(path) in text


def test_data_list_shows_the_dinov2_weights(offline_home):
    result = runner.invoke(app, ["data", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if " dinov2 " in line)
    assert "missing" in line and "1,218 MB" in line and "dinov2_vitl14_pretrain.pth" in line
