"""Declarative tables: specs resolve to experiments + overrides + run directories, and `reproduce` skips
finished cells and resumes an interrupted one."""

import json

import pytest
import torch
from rich.console import Console

from gbench import tables
from gbench.errors import GBenchError
from gbench.leaderboard import load_published
from gbench.train.gan import GANTrainer
from gbench.runs import train_and_evaluate

# tiny dcgan cells: a few steps each (the reproduce machinery is under test, not the model)
TINY = ("train.steps=4", "train.checkpoint_every=2", "train.log_every=2", "train.sample_every=4", "eval.at_start=false",
        "data.size=128", "train.batch_size_d=16", "train.batch_size_g=16", "model.g_kwargs.g_channels=8", "model.d_kwargs.d_channels=8")


def test_transgan_tables_resolve_to_experiments_and_overrides(tmp_path):
    p = tables.plan(tables.get_table("transgan-table3"), preset="paper", out=tmp_path)
    cfgs = {pc.cell.row: pc.jobs[0].cfg for pc in p.cells if pc.cell.column == "FID"}
    assert {c.experiment for c in cfgs.values()} == {"transgan-s"} and len(p.jobs) == 3
    da, mtct, full = cfgs["TransGAN + DA (*)"], cfgs["(*) + MT-CT"], cfgs["(*) + MT-CT + local init"]
    assert (da.train.augment, da.train.co_train_sr, da.train.local_init) == ("diffaug-transgan", False, "off")
    assert (mtct.train.co_train_sr, mtct.train.local_init) == (True, "off")
    assert (full.train.co_train_sr, full.train.local_init) == (True, "band")
    # the last row is exactly the paper's transgan-s recipe: the same run directory as Table 4's first row
    t4 = tables.plan(tables.get_table("transgan-table4"), preset="paper", out=tmp_path)
    t4_dirs = {pc.cell.row: pc.jobs[0].run_dir for pc in t4.cells}
    assert p.cells[-1].jobs[0].run_dir == t4_dirs["TransGAN-S"]
    assert {pc.jobs[0].cfg.experiment for pc in t4.cells} == {"transgan-s", "transgan-m", "transgan-l", "transgan-xl"}
    # a run shared between tables trains once: Table 2's TransGAN + DA is Table 3's (*)
    assert tables.select_rows(("TransGAN", "TransGAN + DA", "AutoGAN"), ("transgan",)) == {"TransGAN"}  # exact label wins
    assert tables.select_rows(("TransGAN + DA", "AutoGAN + DA"), ("+ DA",)) == {"TransGAN + DA", "AutoGAN + DA"}
    t2 = tables.plan(tables.get_table("transgan-table2"), preset="smoke", out=tmp_path, only=("TransGAN + DA",))
    t3 = tables.plan(tables.get_table("transgan-table3"), preset="smoke", out=tmp_path, only=("(*)",))
    assert list(t2.jobs) == [t3.cells[0].jobs[0].run_dir]
    assert all(pc.cell.paper_protocol == "cifar10-50k" for pc in p.cells)


def test_missing_experiments_and_unknown_tables_are_named():
    fake = tables.Table("t-missing", "t", "src", ("a",), ("IS", "FID"), tables.is_fid_cells("a", "no-such-gan", {}, 8.0, 0.1, 20.0))
    p = tables.plan(fake, preset="smoke")
    assert all(pc.unavailable == "experiment 'no-such-gan' is not in this gbench (yet)" for pc in p.cells) and not p.jobs
    with pytest.raises(GBenchError, match="did you mean 'transgan-table3'"):
        tables.get_table("transgan-tabel3")
    bad_key = tables.Table("t-bad", "t", "src", ("a",), ("FID",), (tables.Cell("a", "FID", "fid", 1.0, "dcgan", (("train.nope", 1),)),))
    assert "unknown train key" in tables.plan(bad_key).cells[0].unavailable
    with pytest.raises(GBenchError, match="matches no row"):
        tables.plan(tables.get_table("transgan-table4"), only=("TransGAN-XXL",))


def test_paper_values_agree_with_the_leaderboard():
    published = load_published("cifar10")
    for name in ("transgan-table1", "transgan-table2", "transgan-table3", "transgan-table4", "transgan-table5"):
        for cell in tables.get_table(name).cells:
            metric = {"is_mean": "IS", "fid": "FID"}[cell.metric]
            assert cell.paper is not None or metric == "FID", (name, cell.row)
            if cell.paper is not None:
                assert any(r.metric == metric and r.value == cell.paper for r in published), (name, cell.row, metric, cell.paper)
    t5 = tables.get_table("transgan-table5")
    assert t5.cell("TransGAN-XL", "FID").paper == 11.89 and t5.cell("LRGAN (Yang et al., 2017)", "FID").paper is None
    assert t5.cell("StyleGAN v2 (Zhao et al., 2020)", "FID").paper_protocol == "cifar10-10k-test"


def test_leaderboard_tables_and_plain_data_formats():
    big = tables.get_table("biggan-imagenet128")
    assert big.trainable and len(big.rows) == 9 and all(c.experiment == "biggan-imagenet128" for c in big.cells)
    assert big.compute.startswith("needs a cluster")  # reproducible cell by cell, labelled with the paper's compute
    rows_spec = {"title": "T", "columns": ("pixel_acc",), "rows": (
        {"label": "L1", "experiment": "dcgan", "overrides": {"train.lr_g": 1e-3}, "paper": {"pixel_acc": 0.42}},
        {"label": "GT", "experiment": "dcgan", "overrides": {}, "metrics": {"pixel_acc": "gt_pixel_acc"}, "paper": None},
        {"label": "CoGAN", "experiment": None, "overrides": {}, "paper": {"pixel_acc": 0.40}})}
    rows, columns, cells = tables.specs._adapt_rows(rows_spec)
    assert rows == ("L1", "GT", "CoGAN") and cells[0].overrides == (("train.lr_g", 1e-3),) and cells[1].metric == "gt_pixel_acc"
    assert cells[1].paper is None and cells[2].unavailable.startswith("published only")
    cells_spec = {"protocol": "sr-x4-y", "rows": ("bicubic",), "columns": ("Set5 PSNR",), "cells": (
        {"row": "bicubic", "column": "Set5 PSNR", "experiment": None, "baseline": "bicubic", "overrides": {}, "metric": "psnr_y/Set5",
         "paper": 28.43},)}
    _, _, (cell,) = tables.specs._adapt_cells(cells_spec)
    assert cell.baseline == "bicubic" and cell.paper_protocol == "sr-x4-y" and not cell.unavailable
    missing = tables.specs._imported("no_such_recipe_module", "x")
    assert "could not be imported" in missing.unavailable and not missing.cells


def test_comparability_flags():
    from gbench.experiments import resolve_config

    cell = tables.is_fid_cells("a", "transgan-s", {}, 8.2, 0.1, 18.6)[1]
    assert tables.comparability(cell, resolve_config("transgan-s", "paper"), ())[0] is True
    ok, why = tables.comparability(cell, resolve_config("transgan-s", "smoke"), ())
    assert not ok and why.startswith("smoke preset: toy protocol toy-shapes32")
    ok, why = tables.comparability(cell, resolve_config("transgan-s", "quick"), ())
    assert not ok and "20,000 of 500,000 steps" in why
    assert tables.comparability(cell, resolve_config("transgan-s", "paper"), ("train.steps=10",))[0] is False
    other = tables.Cell("a", "FID", "fid", 9.89, "transgan-s", paper_protocol="cifar10-10k-test")
    assert "cifar10-10k-test" in tables.comparability(other, resolve_config("transgan-s", "paper"), ())[1]


def _fast_evaluate(self, step):
    """Stand-in for the protocol evaluation (metrics from the weights, so resumed and fresh runs can be told apart)."""
    total = float(sum(p.detach().abs().sum() for p in self.eval_generator.parameters()))
    return {"protocol": "toy-shapes32", "fingerprint": "toy-shapes32@00000000", "metrics": {"fid": total, "is_mean": 1.5, "is_std": 0.25},
            "n_gen": 8, "n_ref": 8, "reference": "shapes32/test", "extractor": "fake", "extractor_sha256": "0" * 64,
            "reference_checksum": "", "sample_seed": 0, "quantization": "", "resize": "", "comparable_to": "not comparable to any published number",
            "seconds": 0.0}


def test_reproduce_skips_finished_cells_and_resumes_interrupted_ones(tmp_path, monkeypatch):
    torch.manual_seed(0)
    monkeypatch.setattr(GANTrainer, "evaluate", _fast_evaluate)
    tiny = tables.Table("test-tiny", "tiny", "test", ("base", "fast lr"), ("IS", "FID"), (
        *tables.is_fid_cells("base", "dcgan", {}, 8.0, 0.1, 20.0),
        *tables.is_fid_cells("fast lr", "dcgan", {"train.lr_g": 1e-3}, 7.0, None, 30.0)))
    tables.register_table(tiny)
    out = tmp_path / "runs"
    p = tables.plan(tiny, preset="smoke", out=out, extra=TINY)
    interrupted = p.cells[0].jobs[0]
    train_and_evaluate(interrupted.cfg, out=out, device="cpu", console=Console(quiet=True), stop_after=2)
    p = tables.plan(tiny, preset="smoke", out=out, extra=TINY)
    assert [j.status for j in p.jobs.values()] == ["interrupted at step 2", "new"]

    console = Console(record=True, width=200)
    p, measured, failed = tables.reproduce("test-tiny", preset="smoke", out=out, extra=TINY, device="cpu", console=console)
    log = console.export_text()
    assert not failed and f"resumed {interrupted.run_dir} from step 2" in log
    assert all(json.loads((j.run_dir / "eval.json").read_text())["final"]["step"] == 4 for j in p.jobs.values())
    values = {(m.row, m.column): m for m in measured}
    assert values[("base", "IS")].mean == 1.5 and values[("base", "IS")].std == 0.25  # one seed: the run's own IS spread
    assert values[("fast lr", "FID")].delta == pytest.approx(values[("fast lr", "FID")].mean - 30.0)
    assert values[("base", "FID")].comparable is False and "smoke preset" in values[("base", "FID")].why
    first = [m.mean for m in measured]

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr("gbench.runs.run_experiment", must_not_train)
    console = Console(record=True, width=200)
    _, again, failed = tables.reproduce("test-tiny", preset="smoke", out=out, extra=TINY, device="cpu", console=console)
    assert not failed and console.export_text().count("(finished)") == 2 and [m.mean for m in again] == first


def test_dependency_waves_and_worker_devices(tmp_path):
    a, b = tables.Job(None, tmp_path / "a", "new"), tables.Job(None, tmp_path / "b", "new", depends=[tmp_path / "a"])
    assert tables.runner._waves([b, a]) == [[a], [b]]
    devices, threads = tables.worker_devices(2, "cpu")
    assert devices == ["cpu", "cpu"] and threads >= 1


def test_reproduce_also_eval_adds_a_pr_protocol_to_finished_runs_once(tmp_path, monkeypatch):
    """`--also-eval P` scores every finished run of the table under P (as `gbench eval --run`), without changing the
    runs' config hashes, and the table report then shows their precision/recall."""
    import dataclasses

    from gbench.protocols import PROTOCOLS, with_manifold_metrics
    from gbench.report.table_report import render_table_report

    base = dataclasses.replace(PROTOCOLS["toy-shapes32"], id="test-also", n_gen=300, n_ref=300, is_splits=3, kid_subsets=3, kid_subset_size=50)
    monkeypatch.setitem(PROTOCOLS, base.id, base)
    monkeypatch.setitem(PROTOCOLS, "test-also+pr", with_manifold_metrics(base))
    monkeypatch.setattr(GANTrainer, "evaluate", _fast_evaluate)
    tiny = tables.Table("test-also-eval", "tiny", "test", ("base",), ("FID",), (tables.Cell("base", "FID", "fid", 20.0, "dcgan"),))
    tables.register_table(tiny)
    out = tmp_path / "runs"
    with pytest.raises(GBenchError, match="unknown protocol 'test-als\\+pr'"):  # a typo fails before any training
        tables.reproduce("test-also-eval", preset="smoke", out=out, extra=TINY, device="cpu", also_eval=("test-als+pr",))
    assert not out.exists()
    p, measured, failed = tables.reproduce("test-also-eval", preset="smoke", out=out, extra=TINY, device="cpu", also_eval=("test-also+pr",),
                                           console=Console(quiet=True))
    (job,) = p.jobs.values()
    report = json.loads((job.run_dir / "eval-test-also+pr.json").read_text())
    assert not failed and report["fingerprint"].startswith("test-also+pr@") and "precision" in report["results"][0]["metrics"]
    assert "### Further evaluations" in (job.run_dir / "report.md").read_text()
    md = render_table_report(p, measured, tmp_path / "reports")["md"].read_text()
    assert "| base | FID " in md and "`test-also+pr@" in md and "![precision vs recall]" in md
    before = (job.run_dir / "eval-test-also+pr.json").stat().st_mtime_ns
    tables.reproduce("test-also-eval", preset="smoke", out=out, extra=TINY, device="cpu", also_eval=("test-also+pr",))
    assert (job.run_dir / "eval-test-also+pr.json").stat().st_mtime_ns == before  # already there: not evaluated again
