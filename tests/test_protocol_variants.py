"""Protocol variants with more metrics: `<id>+pr` (precision/recall/density/coverage on the base's features) and
`<id>-dinov2` (Stein et al. 2023). Their derivation and fingerprints, the single streaming pass (every generated
image extracted once, the k-NN metrics computed from the very features FID and KID use), the seeded k-NN
subsample and the cached reference radii, `gbench eval` with every source kind, and the leaderboard groups.

Small variants (`test-variants`, derived with the same functions as the registered ones) keep these tests fast;
one test runs the registered `toy-shapes32+pr` itself through the CLI.
"""

import dataclasses
import json
import textwrap

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from gbench.cli import app
from gbench.evaluation import evaluate
from gbench.evaluation.features import Extractor, build_extractor
from gbench.metrics.manifold import manifold_metrics, nearest_neighbour_radii
from gbench.protocols import (DINOV2_EXTRACTOR, PROTOCOLS, VARIANT_OF, base_protocol_id, fingerprint, in_dinov2_space,
                              with_manifold_metrics)

runner = CliRunner()
BASE = "test-variants"
VARIANT = f"{BASE}+pr"
MANIFOLD_KEYS = ("precision", "recall", "density", "coverage")

USER_MODULE = textwrap.dedent('''
    import torch
    from torch import nn


    class UserGenerator(nn.Module):
        latent_dim = 8

        def __init__(self):
            super().__init__()
            self.net = nn.Linear(8, 3 * 8 * 8)

        def forward(self, z):
            x = torch.tanh(3 * self.net(z)).view(-1, 3, 8, 8)
            return nn.functional.interpolate(x, size=(32, 32), mode="nearest")


    def make():
        torch.manual_seed(0)
        return UserGenerator()
''')


class Coarse(nn.Module):
    """z (B, 8) -> a coarse 8x8 image upsampled to 32x32, in [-1, 1]."""

    latent_dim = 8

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(8, 3 * 8 * 8)

    def forward(self, z):
        return nn.functional.interpolate(torch.tanh(3 * self.net(z)).view(-1, 3, 8, 8), size=(32, 32), mode="nearest")


@pytest.fixture(autouse=True)
def small_protocols(monkeypatch):
    """`test-variants` (600 generated vs 700 reference toy images) and its `+pr` variant, derived as the registered ones."""
    base = dataclasses.replace(PROTOCOLS["toy-shapes32"], id=BASE, n_gen=600, n_ref=700, is_splits=5, kid_subsets=5, kid_subset_size=100)
    monkeypatch.setitem(PROTOCOLS, BASE, base)
    monkeypatch.setitem(PROTOCOLS, VARIANT, with_manifold_metrics(base))
    return base


@pytest.fixture
def counting(monkeypatch):
    """The toy extractor, counting the images it sees and keeping the features it returns, in call order."""
    real = build_extractor("toy-shapes32", "cpu")
    seen = {"images": 0, "features": []}

    def forward(images):
        seen["images"] += len(images)
        features, logits = real.forward(images)
        seen["features"].append(features.detach().clone())
        return features, logits

    monkeypatch.setattr(evaluate, "build_extractor", lambda name, device="cpu": Extractor(real.name, real.sha256, forward, real.device))
    return seen


def generator():
    torch.manual_seed(0)
    return Coarse()


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, " ".join(result.output.split())


# ----------------------------------------------------------------------------- derivation and fingerprints


def test_every_image_protocol_has_its_variants_each_with_its_own_fingerprint():
    image = [p for p in PROTOCOLS.values() if "fid" in p.metrics and p.id not in VARIANT_OF and not p.id.startswith("test-")]
    assert {p.id for p in image} >= {"cifar10-50k", "cifar10-10k-test", "stl10-48-50k", "celeba64-50k", "mnist-10k", "toy-shapes32"}
    prints = {pid: fingerprint(p, "0" * 64, "ref") for pid, p in PROTOCOLS.items()}
    assert len(set(prints.values())) == len(prints)  # every protocol, base or variant, its own fingerprint
    for base in image:
        pr = PROTOCOLS[f"{base.id}+pr"]
        assert base_protocol_id(pr.id) == base.id and pr.metrics == (*base.metrics, "prdc") and (pr.pr_k, pr.dc_k) == (3, 5)
        assert (pr.knn_subsample, pr.constants()["knn_seed"]) == (10_000, 2020)  # at most 10k rows of each set, seeded
        same = {k: v for k, v in base.constants().items() if k not in ("id", "description", "metrics", "comparable")}
        assert {k: pr.constants()[k] for k in same} == same  # the same images, features and reference as the base
        if base.extractor == "inception-v3-compat":
            dino = PROTOCOLS[f"{base.id}-dinov2"]
            assert dino.extractor == DINOV2_EXTRACTOR and dino.metrics == ("fd_dinov2", "kd_dinov2", "prdc")
            assert (dino.pr_k, dino.dc_k, dino.knn_subsample) == (5, 5, 10_000) and "224" in dino.resize
            assert (dino.reference, dino.reference_split, dino.n_gen, dino.n_ref) == (base.reference, base.reference_split, base.n_gen, base.n_ref)
            assert "is_splits" not in dino.constants()
        else:
            assert f"{base.id}-dinov2" not in PROTOCOLS  # the toy protocol has no DINOv2 variant (no real weights in smoke)
    # only the CIFAR-10 50k-vs-train variant names Stein et al.'s table as its published counterpart
    assert "Stein et al. 2023" in PROTOCOLS["cifar10-50k-dinov2"].comparable and not PROTOCOLS["cifar10-10k-test-dinov2"].comparable
    assert with_manifold_metrics(PROTOCOLS["cifar10-50k"]) == PROTOCOLS["cifar10-50k+pr"]
    assert in_dinov2_space(PROTOCOLS["cifar10-50k"]) == PROTOCOLS["cifar10-50k-dinov2"]


def test_the_protocols_cli_lists_and_explains_the_variants():
    result, text = cli("protocols", "cifar10-50k-dinov2")
    assert result.exit_code == 0 and "dinov2-vitl14" in text and "knn_subsample" in text and "10000" in text
    result, text = cli("protocols", "toy-shapes32+pr")
    assert result.exit_code == 0 and "pr_k" in text and "dc_k" in text and "prdc" in text
    result, text = cli("protocols", "toy-shapes32+rp")
    assert result.exit_code == 2 and "did you mean 'toy-shapes32+pr'" in text


# ----------------------------------------------------------------------------- one streaming pass


def test_one_streaming_pass_scores_the_extra_metrics_from_the_same_features(counting):
    G = generator()
    result = evaluate.evaluate_generator(G, VARIANT)  # reference computed (and cached) first, then the stream
    assert counting["images"] == 700 + 600
    counting.update(images=0, features=[])
    again = evaluate.evaluate_generator(G, VARIANT)  # cached reference: only the generated images are extracted, each once
    assert counting["images"] == 600 and again["metrics"] == result["metrics"]
    generated = torch.cat(counting["features"])
    assert generated.shape == (600, 64)

    protocol = PROTOCOLS[VARIANT]
    reference = evaluate.load_reference(protocol, evaluate.build_extractor("toy-shapes32")).load_rows()
    expected = manifold_metrics(real=reference["features"], fake=generated, pr_k=3, dc_k=5)
    assert {k: result["metrics"][k] for k in MANIFOLD_KEYS} == expected  # the very features FID and KID see
    assert torch.equal(reference["knn_radii"], nearest_neighbour_radii(reference["features"], (3, 5)))  # cached with the reference
    assert 0 < expected["precision"] < 1 and 0 <= expected["recall"] < 1

    base = evaluate.evaluate_generator(G, BASE)  # IS/FID/KID of the variant are the base protocol's, exactly
    assert {k: result["metrics"][k] for k in base["metrics"]} == base["metrics"]
    assert set(result["metrics"]) == set(base["metrics"]) | set(MANIFOLD_KEYS)
    assert result["fingerprint"].startswith(f"{VARIANT}@") and result["fingerprint"] != base["fingerprint"]


def test_seeded_knn_subsample_and_its_cached_radii(counting, monkeypatch):
    sub = dataclasses.replace(PROTOCOLS[VARIANT], id=f"{BASE}-sub", knn_subsample=250, knn_seed=7, pr_k=5)
    monkeypatch.setitem(PROTOCOLS, sub.id, sub)
    result = evaluate.evaluate_generator(generator(), sub.id)
    generated = torch.cat(counting["features"][-3:])  # 600 generated rows in batches of 250, 250, 100, after the reference
    assert generated.shape == (600, 64)
    rows = evaluate.load_reference(sub, evaluate.build_extractor("toy-shapes32")).load_rows()
    rng = np.random.RandomState(7)  # real rows drawn first, then generated, as dgm-eval
    real_index, fake_index = rng.choice(700, 250, replace=False), rng.choice(600, 250, replace=False)
    real = rows["features"][torch.from_numpy(real_index)]
    assert torch.equal(rows["knn_radii"], nearest_neighbour_radii(real, (5, 5)))
    expected = manifold_metrics(real=real, fake=generated[torch.from_numpy(fake_index)], pr_k=5, dc_k=5)
    assert {k: result["metrics"][k] for k in MANIFOLD_KEYS} == expected
    whole = manifold_metrics(real=rows["features"], fake=generated, pr_k=5, dc_k=5)
    assert whole != expected  # the subsample is used, not every row


# ----------------------------------------------------------------------------- gbench eval, every source kind


def _dcgan_run(tmp_path):
    from gbench.checkpoint import save_checkpoint
    from gbench.experiments import resolve_config
    from gbench.io import atomic_write_json
    from gbench.models import build_models
    from gbench.report.run_report import render_run_report

    cfg = resolve_config("dcgan", "smoke")
    torch.manual_seed(3)
    G_ema = build_models(cfg)[0]
    run_dir = tmp_path / "runs" / "dcgan" / "smoke-test"
    atomic_write_json({"config": cfg.to_dict(), "config_hash": cfg.hash(), "device": "cpu", "git_commit": "",
                       "versions": {"gbench": "0", "torch": "0", "numpy": "0", "python": "3"}}, run_dir / "config.json")
    save_checkpoint(run_dir, 4, {"trainer": {"step": 4, "G": G_ema.state_dict(), "G_ema": G_ema.state_dict()}})
    render_run_report(run_dir)  # the run's report, as `gbench run` leaves it (before any evaluation here)
    return run_dir, G_ema


def test_eval_with_the_pr_variant_for_every_source_kind(tmp_path, monkeypatch):
    from gbench.bench.eval_throughput import write_pngs

    run_dir, G_ema = _dcgan_run(tmp_path)
    result, text = cli("eval", "--protocol", VARIANT, "--run", run_dir, "--device", "cpu")
    assert result.exit_code == 0, result.output
    by_run = json.loads((run_dir / f"eval-{VARIANT}.json").read_text())
    assert "updated" in text and "report.md" in text
    report = (run_dir / "report.md").read_text()  # the run report shows the further evaluation, precision/recall next to FID
    assert "### Further evaluations" in report and f"`{by_run['fingerprint']}`" in report
    assert "| fingerprint | generator | seeds | FID | precision | recall | IS | KID ×10³ | density | coverage |" in report

    torch.save(G_ema.state_dict(), tmp_path / "g.pt")
    result, _ = cli("eval", "--protocol", VARIANT, "--checkpoint", tmp_path / "g.pt", "--experiment", "dcgan", "--preset", "smoke",
                    "--out", tmp_path / "c.json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    by_checkpoint = json.loads((tmp_path / "c.json").read_text())

    write_pngs(evaluate.generated_batches(G_ema, 600, 128, 0, "cpu"), tmp_path / "samples")  # the same stream, as PNG files
    result, _ = cli("eval", "--protocol", VARIANT, "--samples", tmp_path / "samples", "--out", tmp_path / "s.json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    by_samples = json.loads((tmp_path / "s.json").read_text())

    (tmp_path / "user_gen.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result, text = cli("eval", "--protocol", VARIANT, "--generator", "user_gen:make", "--out", tmp_path / "g.json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    by_callable = json.loads((tmp_path / "g.json").read_text())
    assert "precision" in text and "coverage" in text  # the printed table

    for report in (by_run, by_checkpoint, by_samples, by_callable):
        metrics = report["results"][0]["metrics"]
        assert set(MANIFOLD_KEYS) <= set(metrics) and all(0.0 <= metrics[k] <= 1.0 for k in ("precision", "recall", "coverage"))
        assert report["fingerprint"].startswith(f"{VARIANT}@")
        assert {r["metric"] for r in report["leaderboard"]} == {"IS", "FID", "KID", *MANIFOLD_KEYS}
    same = by_run["results"][0]["metrics"]
    assert by_checkpoint["results"][0]["metrics"] == same  # the same weights
    assert by_samples["results"][0]["metrics"] == pytest.approx(same, rel=1e-9, abs=1e-12)  # the same images, read back from PNG
    assert by_callable["results"][0]["metrics"] != same


def test_the_registered_toy_variant_through_the_cli(tmp_path, monkeypatch):
    """`toy-shapes32+pr` itself (2000 generated vs 5000 reference images), as smoke users run it (~5 s on a free CPU)."""
    (tmp_path / "user_gen.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result, text = cli("eval", "--protocol", "toy-shapes32+pr", "--generator", "user_gen:make", "--device", "cpu")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval-toy-shapes32+pr.json").read_text())
    assert report["fingerprint"].startswith("toy-shapes32+pr@") and report["results"][0]["n_gen"] == 2000
    assert set(MANIFOLD_KEYS) <= set(report["results"][0]["metrics"])
    assert "toy-shapes32+pr@" in text and "precision" in text


# ----------------------------------------------------------------------------- leaderboard


def _fake_run(runs, protocol, metrics, name):
    run_dir = runs / "someexp" / name
    run_dir.mkdir(parents=True)
    final = {"step": 10, "generator": "ema", "protocol": protocol, "fingerprint": f"{protocol}@0123abcd", "metrics": metrics,
             "n_gen": 50000, "n_ref": 50000, "reference": "cifar10/train", "comparable_to": PROTOCOLS[protocol].comparable}
    (run_dir / "eval.json").write_text(json.dumps({"experiment": "someexp", "preset": "paper", "final": final, "evaluations": [final]}))
    return run_dir


def test_leaderboard_groups_dinov2_results_apart_and_ranks_them_by_fd_dinov2(tmp_path):
    from gbench.leaderboard import build_board, nearest_neighbours, render_markdown

    runs = tmp_path / "runs"
    dino = _fake_run(runs, "cifar10-50k-dinov2", {"fd_dinov2": 300.0, "kd_dinov2_mean": 0.4, "kd_dinov2_std": 0.01, "precision": 0.7,
                                                  "recall": 0.5, "density": 0.7, "coverage": 0.5}, "a")
    plus = _fake_run(runs, "cifar10-50k+pr", {"fid": 12.0, "is_mean": 8.0, "is_std": 0.1, "precision": 0.6, "recall": 0.55,
                                             "density": 0.9, "coverage": 0.8}, "b")
    board, groups = build_board("cifar10", runs)
    by_protocol = {g.protocol: g for g in groups}
    stein = by_protocol["paper:stein2023-dinov2-cifar10"]
    assert stein.metric == "FD_DINOv2" and stein.ranked and len(stein.entries) == 14
    assert [e.model for e in stein.entries[:2]] == ["real data (CIFAR-10 test set)", "PFGM++"] and stein.entries[0].rank == 1
    assert by_protocol["cifar10-50k-dinov2@0123abcd"].metric == "FD_DINOv2"
    assert by_protocol["cifar10-50k+pr@0123abcd"].metric == "FID"
    assert by_protocol["paper:tf-inception-50k-train"].metric == "FID"
    # rows of different protocols never share a group, so a DINOv2 number is never ranked against an Inception one
    assert all(len({e.protocol for e in g.entries}) == 1 for g in groups)
    md = render_markdown(board, groups)
    assert "## protocol paper:stein2023-dinov2-cifar10 (ranked by FD_DINOv2)" in md and "Groups without FID are ranked by FD_DINOv2" in md
    assert "knn_subsample 10000" in md  # the constants in which the Stein group differs are spelled out

    near = nearest_neighbours(dino)
    assert near["metric"] == "FD_DINOv2" and near["value"] == 300.0
    assert {e.protocol for e in near["nominal"]} == {"paper:stein2023-dinov2-cifar10"}  # flagged nominal match, never ranked with it
    assert [e.model for e in near["nominal"][:2]] == ["StyleGAN2-ada", "BigGAN"]  # nearest in FD_DINOv2 (305.92, 326.66)
    near = nearest_neighbours(plus)  # a `+pr` run's FID is its base protocol's: the base's paper protocol is its nominal match
    assert near["metric"] == "FID" and {e.protocol for e in near["nominal"]} == {"paper:tf-inception-50k-train"}
