"""`gbench import`, `gbench verify`, `gbench data fetch ckpt:NAME` and `gbench reproduce published-checkpoints`, offline.

Releases are synthetic: an AutoGAN generator in the official layout (its state dict, as `test.py` loads it) with small
widths, registered in the registry for the test, evaluated under `toy-shapes32`. Published values are chosen so that
one is within its tolerance whatever the measurement and one is outside whatever it is: the verdict logic is tested
both ways without hard-coding a metric value.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import pickle
import sys
import types

import pytest
import torch
from typer.testing import CliRunner

from gbench.cli import app
from gbench.errors import GBenchError
from gbench.experiments import resolve_config
from gbench.models import build_models
from gbench.official import fetch
from gbench.official.registry import RELEASES, Download, Published, Release

runner = CliRunner()
SMALL = ("model.g_kwargs.g_channels=8", "model.d_kwargs.d_channels=8")


def autogan_file(path, seed=0):
    """The AutoGAN release layout: the generator's state dict (gbench's AutoGAN keeps the official names)."""
    G, _ = build_models(resolve_config("autogan", "paper", list(SMALL)))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in G.parameters():  # random weights; BatchNorm statistics keep their (valid) initial values
            t.copy_(torch.randn(t.shape, generator=g) * 0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(G.state_dict(), path)
    return path


def synthetic_release(name, url="file:///nonexistent/G.pth", drive=None):
    downloads = (Download(url, "G.pth"),) if drive is None else (Download(f"https://drive.google.com/drive/folders/{drive}", "G.pth", drive, "folder"),)
    return Release(name, "autogan", "autogan", "a synthetic AutoGAN release for the tests", downloads, "toy-shapes32", "paper:unspecified",
                   (Published("fid", 10.0, "nowhere", None, 1e9, "accepts anything"), Published("is_mean", 1000.0, "nowhere", None, 0.0, "exact")),
                   False, "synthetic: toy protocol", overrides=SMALL)


def one_line_error(result, *fragments, code=1):
    assert result.exit_code == code, result.output  # 2: usage error, 1: failure while running
    text = " ".join(result.output.split())
    assert "error:" in text and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in text, text


def test_import_then_eval_and_verify_agree_without_extra_flags(tmp_path, monkeypatch):
    official_file = autogan_file(tmp_path / "autogan_cifar10_a.pth")
    out = tmp_path / "imported.pt"
    result = runner.invoke(app, ["import", "autogan", str(official_file), *sum((["--set", s] for s in SMALL), []), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "experiment: autogan (inferred)" in result.output and "mapped: G 31 tensors" in result.output
    assert "overrides: " + " ".join(SMALL) in result.output and f"wrote {out}" in " ".join(result.output.split())
    # the written file carries its experiment and overrides: eval needs neither --experiment nor --set
    result = runner.invoke(app, ["eval", "--protocol", "toy-shapes32", "--checkpoint", str(out), "--device", "cpu",
                                 "--out", str(tmp_path / "eval.json")])
    assert result.exit_code == 0, result.output
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert evaluated["source"]["overrides"] == list(SMALL) and evaluated["source"]["imported"]["format"] == "autogan"
    result = runner.invoke(app, ["eval", "--protocol", "toy-shapes32", "--checkpoint", str(out), "--experiment", "sngan"])
    one_line_error(result, "was imported for experiment autogan, not sngan", code=2)
    result = runner.invoke(app, ["sample", "--checkpoint", str(out), "--n", "4", "--out", str(tmp_path / "grid.png")])
    assert result.exit_code == 0 and (tmp_path / "grid.png").exists(), result.output

    # verify imports the same file itself and measures exactly what gbench eval measured
    monkeypatch.setitem(RELEASES, "synthetic-autogan", synthetic_release("synthetic-autogan"))
    report_path = tmp_path / "verify.json"
    result = runner.invoke(app, ["verify", "synthetic-autogan", "--checkpoint", str(official_file), "--device", "cpu", "--out", str(report_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["fingerprint"] == evaluated["fingerprint"] and report["fingerprint"] in " ".join(result.output.split())
    fid = evaluated["results"][0]["metrics"]["fid"]
    assert report["metrics"]["fid"] == fid
    by_metric = {c["metric"]: c for c in report["comparisons"]}
    assert by_metric["fid"]["delta"] == pytest.approx(fid - 10.0) and by_metric["fid"]["within"] is True
    assert by_metric["is_mean"]["within"] is False and by_metric["is_mean"]["accepted"] == 0.0
    assert report["file"]["sha256"] == hashlib.sha256(official_file.read_bytes()).hexdigest()
    assert report["file"]["verified"] is False and "not verified" in report["file"]["checksum"]
    assert report["comparable"] is False and "NO" in result.output and "not verified" in result.output


def test_help_has_examples():
    for command in (["import"], ["verify"], ["data", "fetch"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "gbench " + command[0] in result.output


def test_verify_without_the_file_and_releases_that_cannot_be_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    result = runner.invoke(app, ["verify", "autogan-cifar10"])
    one_line_error(result, "offline", str(fetch.release_path(RELEASES["autogan-cifar10"])), "gbench data fetch ckpt:autogan-cifar10")
    one_line_error(runner.invoke(app, ["verify", "biggan-imagenet128"]), "offline", "BigGAN_ch96_bs256x8_138k.zip",
                   "gbench data fetch ckpt:biggan-imagenet128")  # mapped now: only the file is missing
    pending = dataclasses.replace(synthetic_release("synthetic-pending"), experiment=None, comparable_note="no gbench experiment")
    monkeypatch.setitem(RELEASES, "synthetic-pending", pending)
    one_line_error(runner.invoke(app, ["verify", "synthetic-pending"]), "not verifiable yet: no gbench experiment")
    one_line_error(runner.invoke(app, ["verify", "autogan-cifar"]), "did you mean 'autogan-cifar10'", code=2)
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 0 and "transgan-xl-cifar10" in result.output and "sngan-cifar10" in result.output


def test_import_refuses_wrong_layouts_and_code_in_one_line(tmp_path):
    official_file = autogan_file(tmp_path / "G.pth")
    one_line_error(runner.invoke(app, ["import", "transgan-v1", str(official_file)]), "does not fit format transgan-v1",
                   "looks like format autogan")
    one_line_error(runner.invoke(app, ["import", "autogen", str(official_file)]), "did you mean 'autogan'", code=2)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": Evil()}))
    one_line_error(runner.invoke(app, ["import", "stylegan2-ada", str(tmp_path / "evil.pkl")]), "system")
    torch.save({"gen_state_dict": {"l1.weight": torch.zeros(1)}, "payload": Evil()}, tmp_path / "evil.pth")
    one_line_error(runner.invoke(app, ["import", "autogan", str(tmp_path / "evil.pth")]), "weights-only load refuses")
    assert not marker.exists()


def test_data_fetch_ckpt_offline_without_gdown_over_http_and_from_a_drive_folder(tmp_path, monkeypatch):
    from gbench.inventory import data_inventory

    assert runner.invoke(app, ["data", "list"]).exit_code == 0
    row = next(r for r in data_inventory() if r["name"] == "ckpt:autogan-cifar10")
    assert row["kind"] == "checkpoint" and not row["present"] and row["fetch"] == "gbench data fetch ckpt:autogan-cifar10"
    assert row["note"].startswith("no published sha256")
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    one_line_error(runner.invoke(app, ["data", "fetch", "ckpt:autogan-cifar10"]), "offline (GBENCH_OFFLINE=1)",
                   "no published sha256", f"put it at {fetch.release_path(RELEASES['autogan-cifar10'])}",
                   "gbench data fetch ckpt:autogan-cifar10")
    monkeypatch.delenv("GBENCH_OFFLINE")
    monkeypatch.setitem(sys.modules, "gdown", None)  # not installed: one line before any network access
    one_line_error(runner.invoke(app, ["data", "fetch", "ckpt:autogan-cifar10"]), "needs gdown", "pip install 'gbench[official]'")

    served = autogan_file(tmp_path / "served" / "G.pth", seed=3)
    monkeypatch.setitem(RELEASES, "synthetic-http", synthetic_release("synthetic-http", served.as_uri()))
    result = runner.invoke(app, ["data", "fetch", "ckpt:synthetic-http"])
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(served.read_bytes()).hexdigest()
    dest = fetch.release_path(RELEASES["synthetic-http"])
    assert dest.read_bytes() == served.read_bytes() and digest in result.output and "not verified" in result.output
    assert json.loads((dest.parent / "fetched.json").read_text())["sha256"] == digest
    # a release that publishes a sha256 refuses a file that does not match it
    monkeypatch.setitem(RELEASES, "synthetic-http", dataclasses.replace(RELEASES["synthetic-http"], sha256="0" * 64))
    one_line_error(runner.invoke(app, ["data", "fetch", "ckpt:synthetic-http"]), f"has sha256 {digest}", "delete it")

    calls = []
    fake = types.ModuleType("gdown")
    fake.download_folder = lambda id, output, quiet, skip_download: (calls.append(("list", id)), [
        types.SimpleNamespace(id="id-readme", path="README.txt"), types.SimpleNamespace(id="id-g", path="G.pth")])[1]
    fake.download = lambda id, output, quiet: (calls.append(("get", id)), open(output, "wb").write(served.read_bytes()))
    monkeypatch.setitem(sys.modules, "gdown", fake)
    monkeypatch.setitem(RELEASES, "synthetic-drive", synthetic_release("synthetic-drive", drive="folder-id"))
    result = runner.invoke(app, ["data", "fetch", "ckpt:synthetic-drive"])
    assert result.exit_code == 0, result.output
    assert calls == [("list", "folder-id"), ("get", "id-g")]  # only the release's file is downloaded
    assert fetch.release_path(RELEASES["synthetic-drive"]).read_bytes() == served.read_bytes()
    fake.download_folder = lambda id, output, quiet, skip_download: [types.SimpleNamespace(id="x", path="other.pth")]
    monkeypatch.setitem(RELEASES, "synthetic-drive2", synthetic_release("synthetic-drive2", drive="folder-2"))
    one_line_error(runner.invoke(app, ["data", "fetch", "ckpt:synthetic-drive2"]), "has no G.pth (it lists other.pth)")


def test_reproduce_published_checkpoints_evaluates_present_files_and_names_missing_ones(tmp_path, monkeypatch):
    monkeypatch.setitem(RELEASES, "synthetic-table", synthetic_release("synthetic-table"))
    monkeypatch.setitem(RELEASES, "synthetic-missing", synthetic_release("synthetic-missing"))
    autogan_file(fetch.release_path(RELEASES["synthetic-table"]), seed=5)
    args = ["reproduce", "published-checkpoints", "--only", "synthetic", "--out", str(tmp_path / "runs"), "--reports",
            str(tmp_path / "reports"), "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = {(r["row"], r["column"]): r for r in csv.DictReader(open(tmp_path / "reports" / "published-checkpoints.csv"))}
    fid, is_ = rows[("synthetic-table", "FID")], rows[("synthetic-table", "IS")]
    report = json.loads(next((tmp_path / "runs" / "published" / "synthetic-table").glob("toy-shapes32-*/verify.json")).read_text())
    assert float(fid["measured"]) == pytest.approx(report["metrics"]["fid"], rel=1e-5) and fid["paper"] == "10.0"
    assert float(fid["delta"]) == pytest.approx(report["metrics"]["fid"] - 10.0, rel=1e-5)
    assert fid["comparable"] == "no" and "Δ within" in fid["why"] and "Δ outside ±0" in is_["why"]
    assert fid["fingerprints"] == report["fingerprint"] and report["file"]["verified"] is False
    missing = rows[("synthetic-missing", "FID")]
    assert missing["status"].startswith("not available: fetch with `gbench data fetch ckpt:synthetic-missing`")
    assert {r for r, _ in rows} == {"synthetic-table", "synthetic-missing"}
    result = runner.invoke(app, args)  # a finished evaluation is not repeated
    assert result.exit_code == 0 and "(finished)" in result.output and "released checkpoint synthetic-table" not in result.output


def test_verify_scores_translation_releases_as_the_official_test_script(tmp_path):
    """A pix2pix release goes through the translation protocols (train-mode G, batch statistics, buffers restored)."""
    from gbench.official.common import ImportResult
    from gbench.official.verify import compare, evaluate_imported

    overrides = ("model.g_kwargs.num_downs=6", "model.g_kwargs.g_channels=8", "model.d_kwargs.d_channels=8")
    G, _ = build_models(resolve_config("pix2pix-cityscapes", "paper", list(overrides)))
    buffers = {k: v.clone() for k, v in G.named_buffers()}
    result = ImportResult("pix2pix-cyclegan", "pix2pix-cityscapes", {"G": G.eval()}, overrides, [], "latest_net_G.pth")
    report = evaluate_imported(result, "toyscapes-fcn", device="cpu")
    metrics = report["results"][0]["metrics"]
    assert report["fingerprint"].startswith("toyscapes-fcn@") and 0 <= metrics["pixel_acc"] <= 1 and "gt_pixel_acc" in metrics
    assert all(torch.equal(v, buffers[k]) for k, v in G.named_buffers()) and not G.training
    rows = compare((Published("pixel_acc", metrics["pixel_acc"] + 0.01, "nowhere", None, 0.02, "2 points"),), metrics)
    assert rows[0]["within"] is True and rows[0]["delta"] == pytest.approx(-0.01)
    with pytest.raises(GBenchError, match="--seeds must be 1"):
        evaluate_imported(result, "toyscapes-fcn", seeds=2)
