"""Report rendering: table reports (Markdown content, HTML with embedded images, CSV, LaTeX tabular shape),
run reports (fingerprint, neighbours, non-defaults, curves, grids, throughput) and `gbench compare`."""

import csv
import json
import re

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from gbench import tables
from gbench.cli import app
from gbench.experiments import resolve_config
from gbench.report.run_report import render_run_report
from gbench.report.table_report import render_table_report
from gbench.runs import run_dir_for


def fake_final(step, fid, fingerprint="toy-shapes32@abcdef12", is_mean=2.0):
    return {"step": step, "generator": "ema", "protocol": fingerprint.split("@")[0], "fingerprint": fingerprint,
            "metrics": {"fid": fid, "is_mean": is_mean, "is_std": 0.05, "kid_mean": 0.1, "kid_std": 0.01},
            "n_gen": 2000, "n_ref": 5000, "reference": "shapes32/test", "extractor": "toy-shapes32", "extractor_sha256": "ab" * 32,
            "sample_seed": 0, "resize": "none", "quantization": "uint8", "comparable_to": "not comparable to any published number"}


def fake_run(out, cfg, fids, fingerprint="toy-shapes32@abcdef12", grids=(50, 100)):
    """A finished run directory as gbench/runs.py writes it (no training)."""
    run_dir = run_dir_for(cfg, out)
    (run_dir / "samples").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({
        "config": cfg.to_dict(), "config_hash": cfg.hash(), "device": "cpu", "git_commit": "",
        "versions": {"gbench": "0", "torch": "0", "numpy": "0", "python": "3"}}, default=list))
    steps = np.linspace(0, cfg.train.steps, len(fids)).astype(int).tolist()
    evaluations = [fake_final(s, f, fingerprint) for s, f in zip(steps, fids)]
    (run_dir / "eval.json").write_text(json.dumps({"experiment": cfg.experiment, "preset": cfg.preset, "final": evaluations[-1],
                                                   "evaluations": evaluations}))
    log = [{"step": s, "loss_d": 1.0 / (s + 1), "loss_g": 2.0, "img_per_s": 100.0 + s, "gpu_mem_mb": 512.0} for s in range(10, 101, 10)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    rng = np.random.default_rng(0)
    for step in grids:
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(run_dir / "samples" / f"step-{step:08d}.png")
    return run_dir


def data_uri_images(html: str) -> tuple[int, int]:
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
    return sum(s.startswith("data:image/png;base64,") for s in sources), len(sources)


def test_table_report_markdown_html_csv_latex(tmp_path):
    table = tables.Table("test-report", "Report test table", "Someone 2021, Table 9", ("alpha", "beta", "gamma"), ("IS", "FID"), (
        *tables.is_fid_cells("alpha", "dcgan", {}, 8.15, 0.14, 19.85),
        *tables.is_fid_cells("beta", "dcgan", {"train.lr_g": 1e-3}, 8.20, None, 19.12),
        *tables.is_fid_cells("gamma", "no-such-gan", {}, 8.22, 0.12, 18.58)))
    p = tables.plan(table, preset="smoke", seeds=2, out=tmp_path / "runs")
    for job in p.jobs.values():  # two seeds per row: FID 100 + seed, 110 + seed
        fake_run(tmp_path / "runs", job.cfg, [500.0, (100.0 if job.cfg.train.lr_g == 2e-4 else 110.0) + job.cfg.seed])
    measured = tables.collect(p)
    alpha_fid = next(m for m in measured if (m.row, m.column) == ("alpha", "FID"))
    assert alpha_fid.values == [100.0, 101.0] and alpha_fid.mean == 100.5 and alpha_fid.std == 0.5
    assert alpha_fid.delta == 100.5 - 19.85

    paths = render_table_report(p, measured, tmp_path / "reports")
    md = paths["md"].read_text()
    assert md.startswith("# Report test table") and "**Smoke numbers are not comparable to the paper**" in md
    assert "| alpha | 8.15 ± 0.14 | 2.00 ± 0.00 (n=2) | -6.15 | 19.85 | 100.50 ± 0.50 (n=2) | +80.65 | no: smoke preset: toy protocol" in md
    assert "not available: experiment 'no-such-gan' is not in this gbench (yet)" in md
    assert "![paper vs measured](test-report.png)" in md and "`toy-shapes32@abcdef12`" in md
    assert "protocol fingerprints" not in md  # one fingerprint: no warning

    html = paths["html"].read_text()
    embedded, total = data_uri_images(html)
    assert total >= 1 and embedded == total  # self-contained: every image is a data URI
    assert "<table>" in html and "test-report.png" not in html

    rows = list(csv.DictReader(paths["csv"].read_text().splitlines()))
    assert len(rows) == 6 and {r["comparable"] for r in rows} == {"no", ""}
    beta = next(r for r in rows if (r["row"], r["column"]) == ("beta", "FID"))
    assert float(beta["measured"]) == 110.5 and beta["seeds"] == "2" and beta["overrides"] == "train.lr_g=0.001"

    tex = paths["tex"].read_text()
    spec = re.search(r"\\begin\{tabular\}\{([a-z]+)\}", tex).group(1)
    assert spec == "l" + "rrr" * 2 + "c" and tex.rstrip().splitlines()[-2] == r"\end{tabular}"
    body = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert len(body) == 2 + 3  # two header lines, three rows
    assert all(line.count("&") == len(spec) - 1 for line in body[1:])  # every line has one cell per column
    assert r"$\pm$" in tex and "±" not in tex


def test_table_report_warns_when_cells_have_different_fingerprints(tmp_path):
    table = tables.Table("test-fps", "fp table", "src", ("a", "b"), ("FID",), (
        tables.Cell("a", "FID", "fid", 10.0, "dcgan"), tables.Cell("b", "FID", "fid", 12.0, "dcgan", (("train.lr_g", 1e-3),))))
    p = tables.plan(table, preset="smoke", out=tmp_path / "runs")
    for job, fp in zip(p.jobs.values(), ("toy-shapes32@11111111", "toy-shapes32@22222222")):
        fake_run(tmp_path / "runs", job.cfg, [50.0, 40.0], fingerprint=fp)
    md = render_table_report(p, tables.collect(p), tmp_path / "reports")["md"].read_text()
    assert "scored under 2 protocol fingerprints** (`toy-shapes32@11111111`, `toy-shapes32@22222222`)" in md


def test_run_report_sections(tmp_path):
    cfg = resolve_config("dcgan", "smoke", ["train.steps=100", "train.lr_g=0.001"])
    run_dir = fake_run(tmp_path / "runs", cfg, [300.0, 200.0, 150.0])
    other = fake_run(tmp_path / "runs", resolve_config("dcgan", "smoke", ["train.steps=100"]), [300.0, 120.0])
    md_path, html_path = render_run_report(run_dir)
    md = md_path.read_text()
    assert "Protocol fingerprint: **`toy-shapes32@abcdef12`**" in md and "not comparable" in md
    assert "### Leaderboard neighbours" in md and "rank 2 of 2" in md and f"`{other}`" in md and "**(this run)**" in md
    assert "| train.lr_g | 0.001 | 0.0002 |" in md  # non-default values listed with the paper's
    assert "**train.lr_g**" in md
    assert "Training speed: median" in md and "Peak GPU memory: 512 MiB." in md
    assert "![losses](plots/losses.png)" in md and "![metric over training](plots/metric.png)" in md
    assert "Evaluated at steps 0, 50, 100." in md
    assert md.count("![samples at step") == 2
    embedded, total = data_uri_images(html_path.read_text())
    assert embedded == total == 4  # losses, metric curve, two grids


def test_compare_report(tmp_path):
    a = fake_run(tmp_path / "runs", resolve_config("dcgan", "smoke", ["train.steps=100"]), [300.0, 120.0])
    b = fake_run(tmp_path / "runs", resolve_config("dcgan", "smoke", ["train.steps=100", "train.lr_d=0.001"]), [300.0, 90.0])
    c = fake_run(tmp_path / "runs", resolve_config("transgan-s", "smoke"), [300.0, 80.0], fingerprint="toy-shapes32@99999999")
    result = CliRunner().invoke(app, ["compare", str(a), str(b), str(c), "--report", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "**Not all comparable:** the runs were scored under 2 protocol fingerprints" in md
    assert "| train.lr_d | 0.0002 | 0.001 | 0.0005 |" in md and "| model.generator | dcgan | dcgan | transgan-s |" in md
    assert "| A | 120.000 |" in md and "| B | 90.000 |" in md
    embedded, total = data_uri_images((tmp_path / "cmp" / "compare.html").read_text())
    assert embedded == total == 4  # curves + one grid per run
    single = CliRunner().invoke(app, ["compare", str(a)])
    assert single.exit_code == 2 and "at least two run directories" in single.output


def test_precision_recall_next_to_fid_in_run_and_table_reports(tmp_path):
    """A run scored under a `+pr` protocol shows precision/recall beside FID; a `gbench eval --run` report in the run
    directory adds its own row; the table report lists every run's precision/recall and draws one scatter panel per
    fingerprint."""
    table = tables.Table("test-pr", "P/R table", "src", ("a", "b"), ("FID",), (
        tables.Cell("a", "FID", "fid", 10.0, "dcgan"), tables.Cell("b", "FID", "fid", 12.0, "dcgan", (("train.lr_g", 1e-3),))))
    p = tables.plan(table, preset="smoke", out=tmp_path / "runs")
    md = render_table_report(p, tables.collect(p), tmp_path / "empty")["md"].read_text()
    assert "## Precision and recall" in md and "--also-eval <protocol>+pr" in md  # nothing measured yet: how to get it

    run_a, run_b = (fake_run(tmp_path / "runs", job.cfg, [300.0, 40.0], fingerprint="toy-shapes32+pr@12345678") for job in p.jobs.values())
    for run_dir, (precision, recall) in ((run_a, (0.8, 0.3)), (run_b, (0.6, 0.5))):
        data = json.loads((run_dir / "eval.json").read_text())
        for ev in data["evaluations"]:
            ev["metrics"].update(precision=precision, recall=recall, density=0.9, coverage=0.4)
        data["final"] = data["evaluations"][-1]
        (run_dir / "eval.json").write_text(json.dumps(data))
    extra = {"protocol": "other+pr", "fingerprint": "toy-shapes32-other+pr@87654321", "setting": "smoke preset, step 100, EMA generator",
             "results": [{"metrics": {"fid": 41.0, "precision": 0.7, "recall": 0.2, "density": 1.1, "coverage": 0.3}}]}
    (run_a / "eval-other+pr.json").write_text(json.dumps(extra))

    md = render_run_report(run_a)[0].read_text()
    assert "| step | generator | FID | precision | recall | IS | KID ×10³ | density | coverage |" in md  # P/R right after FID
    assert "| 200 | ema | 40.000 | 0.800 | 0.300 | 2.000 ± 0.050 | 100.000 ± 10.000 | 0.900 | 0.400 |" in md
    assert "### Further evaluations" in md and "| `toy-shapes32-other+pr@87654321` | smoke preset, step 100, EMA generator | 1 | 41.000 | 0.700 | 0.200 |" in md

    paths = render_table_report(p, tables.collect(p), tmp_path / "reports")
    md = paths["md"].read_text()
    assert "| a | FID 40.00 | 0.800 | 0.300 | 0.900 | 0.400 | `toy-shapes32+pr@12345678` | training run" in md
    assert "| a | FID 41.00 | 0.700 | 0.200 | 1.100 | 0.300 | `toy-shapes32-other+pr@87654321` | gbench eval (eval-other+pr.json)" in md
    assert "| b | FID 40.00 | 0.600 | 0.500 |" in md
    assert "![precision vs recall](test-pr-precision-recall.png)" in md and paths["precision_recall_png"].exists()
    with Image.open(paths["precision_recall_png"]) as image:
        assert image.size[0] > 1.6 * image.size[1]  # two panels side by side: one per fingerprint
    embedded, total = data_uri_images(paths["html"].read_text())
    assert embedded == total == 2  # bar chart and scatter, embedded
