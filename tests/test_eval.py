"""`gbench eval` and the evaluation stream: sample stream invariances, every source (run, checkpoint,
PNG folder, module:callable), bad sample folders, --seeds, eval.json and the leaderboard line.

Everything runs under `test-toy`, a small variant of the toy-shapes32 protocol (1000 generated vs 1000
reference images, toy classifier features), registered for these tests only.
"""

import csv
import dataclasses
import io
import json
import re
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gbench import distributed as dist
from gbench.cli import app
from gbench.errors import GBenchError
from gbench.evaluation import evaluate
from gbench.metrics.inception_score import inception_score_from_logits
from gbench.evaluation.sources import LEADERBOARD_COLUMNS, open_sample_folder
from gbench.bench.eval_throughput import write_pngs
from gbench.protocols import PROTOCOLS

runner = CliRunner()
PROTOCOL = "test-toy"

USER_MODULE = textwrap.dedent('''
    import torch
    from torch import nn


    class UserGenerator(nn.Module):
        """z (B, 8) [+ labels] -> (B, 3, 32, 32) in [-1, 1]: a coarse 8x8 image, upsampled."""

        def __init__(self, num_classes=0, size=32):
            super().__init__()
            self.latent_dim, self.num_classes, self.size = 8, num_classes, size
            self.net = nn.Linear(8 + num_classes, 3 * 8 * 8)
            self.seen_labels = []

        def forward(self, z, y=None):
            if self.num_classes:
                self.seen_labels.append(y.clone())
                z = torch.cat([z, nn.functional.one_hot(y, self.num_classes).float()], dim=1)
            x = torch.tanh(3 * self.net(z)).view(-1, 3, 8, 8)
            return nn.functional.interpolate(x, size=(self.size, self.size), mode="nearest")


    def make():
        torch.manual_seed(0)
        return UserGenerator()


    def make_without_latent_dim():
        G = make()
        del G.latent_dim
        return G


    def make_conditional():
        torch.manual_seed(0)
        return UserGenerator(num_classes=3)


    def make_wrong_size():
        torch.manual_seed(0)
        return UserGenerator(size=16)


    NOT_CALLABLE = 3
''')


@pytest.fixture(autouse=True)
def test_protocol(monkeypatch):
    toy = PROTOCOLS["toy-shapes32"]
    small = dataclasses.replace(toy, id=PROTOCOL, n_gen=1000, n_ref=1000, is_splits=5, kid_subsets=10, kid_subset_size=100)
    monkeypatch.setitem(PROTOCOLS, PROTOCOL, small)
    return small


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_gen.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import importlib
    import sys

    sys.modules.pop("user_gen", None)
    module = importlib.import_module("user_gen")
    yield module
    sys.modules.pop("user_gen", None)


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result, " ".join(result.output.split())


def close(a: dict, b: dict, rel=1e-12):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=rel, abs=1e-12), k


# ----------------------------------------------------------------------------- the sample stream


@pytest.mark.parametrize("world", [1, 2, 3])
def test_rank_shards_partition_the_stream(world, monkeypatch):
    n = 2 * evaluate.STREAM_CHUNK + 7
    seen = []
    for rank in range(world):
        monkeypatch.setattr(dist, "rank", lambda rank=rank: rank)
        monkeypatch.setattr(dist, "world_size", lambda: world)
        seen += evaluate.my_chunks(n)
    assert sorted(seen) == [(i, s, e) for i, (s, e) in enumerate(evaluate.chunk_bounds(n))]
    assert evaluate.chunk_bounds(n)[-1] == (2 * evaluate.STREAM_CHUNK, n)


def test_latent_chunks_are_seeded_by_seed_and_index(user_module):
    G = user_module.make()
    z, y = evaluate.latent_chunk(G, 0, 1, 40)
    assert z.shape == (40, 8) and y is None
    assert torch.equal(z, evaluate.latent_chunk(G, 0, 1, 40)[0])
    assert not torch.equal(z, evaluate.latent_chunk(G, 0, 2, 40)[0])
    assert not torch.equal(z, evaluate.latent_chunk(G, 1, 1, 40)[0])
    Gc = user_module.make_conditional()
    _, labels = evaluate.latent_chunk(Gc, 0, 0, 300)
    assert labels.min() == 0 and labels.max() == 2


def test_result_does_not_depend_on_batch_size_and_leaves_rng_and_mode(user_module):
    G = user_module.make().train()
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    a = evaluate.evaluate_generator(G, PROTOCOL, batch_size=64)
    assert torch.equal(torch.get_rng_state(), rng) and G.training
    b = evaluate.evaluate_generator(G, PROTOCOL, batch_size=250)
    assert a["metrics"]["is_mean"] == b["metrics"]["is_mean"] and a["metrics"]["kid_mean"] == b["metrics"]["kid_mean"]
    close(a["metrics"], b["metrics"], rel=1e-10)
    assert a["fingerprint"].startswith(f"{PROTOCOL}@") and a["n_gen"] == 1000 and a["n_ref"] == 1000
    c = evaluate.evaluate_generator(G, PROTOCOL, batch_size=250, seed_offset=1)
    assert c["sample_seed"] == 1 and c["metrics"]["fid"] != a["metrics"]["fid"]


def test_blockwise_inception_score_equals_the_metric_function(monkeypatch):
    monkeypatch.setattr(evaluate, "IS_BLOCK_ROWS", 64)  # splits of ~100 rows: two blocks each
    logits = torch.from_numpy(np.random.default_rng(0).normal(0, 3, (1003, 17))).float()
    logits[5, :3] = -2000.0  # probabilities that underflow to exactly 0 (0 log 0 = 0 in both)
    ours = evaluate.inception_score_by_split(logits, 10)
    ref = inception_score_from_logits(logits, splits=10)
    assert ours[0] == pytest.approx(ref[0], rel=1e-12) and ours[1] == pytest.approx(ref[1], rel=1e-9)
    assert evaluate.inception_score_by_split(logits, 3)[0] != ours[0]


def test_corrupt_kid_rows_cache_is_recomputed_not_used(user_module):
    G = user_module.make()
    first = evaluate.evaluate_generator(G, PROTOCOL)
    folder = evaluate.cache_path("reference-kid-rows", PROTOCOL, "x").parent
    rows_files = [p for p in folder.glob("*.pt") if re.fullmatch(rf"{PROTOCOL}-[0-9a-f]{{16}}\.pt", p.name)]
    assert len(rows_files) == 1
    rows_files[0].write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="corrupt"):
        again = evaluate.evaluate_generator(G, PROTOCOL)
    close(first["metrics"], again["metrics"], rel=1e-12)


# ----------------------------------------------------------------------------- sources


def test_generator_callable_with_two_seeds_table_json_and_leaderboard_line(user_module, tmp_path):
    result, text = cli("eval", "--protocol", PROTOCOL, "--generator", "user_gen:make", "--seeds", 2, "--device", "cpu")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / f"eval-{PROTOCOL}.json").read_text())
    assert report["seeds"] == [0, 1] and len(report["results"]) == 2 and report["source"]["latent_dim"] == 8
    fid = next(s for s in report["summary"] if s["metric"] == "FID")
    per_seed = [r["metrics"]["fid"] for r in report["results"]]
    assert fid["values"] == per_seed and per_seed[0] != per_seed[1]
    assert fid["value"] == pytest.approx(np.mean(per_seed)) and fid["std"] == pytest.approx(np.std(per_seed))
    assert "2 seeds" in text and "±" in text and report["fingerprint"] in text
    # the pasted line: header + one row per metric, the fingerprint in `protocol`
    csv_text = result.output[result.output.index("board,model"):]
    rows = list(csv.reader(io.StringIO(csv_text)))
    assert tuple(rows[0]) == LEADERBOARD_COLUMNS
    table = [dict(zip(rows[0], r)) for r in rows[1:4]]
    assert [r["metric"] for r in table] == ["IS", "FID", "KID"]
    for r in table:
        assert r["protocol"] == report["fingerprint"] and r["n_gen"] == "1000" and r["n_ref"] == "1000"
        assert r["reference_split"] == "test" and r["board"] == "shapes32" and r["model"] == "make"
        assert "2 sample seeds" in r["notes"] and "not comparable" in r["notes"] and r["source"] == "local generator user_gen:make"
    assert float(table[1]["value"]) == pytest.approx(np.mean(per_seed), rel=1e-5)
    assert float(table[1]["std"]) == pytest.approx(np.std(per_seed), rel=1e-2)


def test_generator_contract_errors(user_module):
    result, text = cli("eval", "--protocol", PROTOCOL, "--generator", "user_gen:make_without_latent_dim")
    assert result.exit_code == 2 and "--z-dim" in text and "Traceback" not in result.output
    result, text = cli("eval", "--protocol", PROTOCOL, "--generator", "user_gen:make_wrong_size", "--device", "cpu")
    assert result.exit_code == 1 and "(3, 16, 16)" in text and "(3, 32, 32)" in text
    for spec, message, code in [("user_gen", "module:callable", 2), ("user_gen:nope", "no attribute 'nope'", 2),
                                ("no_such_module_xyz:make", "cannot import", 1), ("user_gen:NOT_CALLABLE", "not a callable", 2)]:
        result, text = cli("eval", "--protocol", PROTOCOL, "--generator", spec)
        assert result.exit_code == code and message in text, (spec, text)


def test_generator_without_latent_dim_uses_z_dim_and_conditional_gets_labels(user_module, tmp_path):
    out = tmp_path / "e.json"
    result, _ = cli("eval", "--protocol", PROTOCOL, "--generator", "user_gen:make_without_latent_dim", "--z-dim", 8, "--device", "cpu",
                    "--out", out)
    assert result.exit_code == 0, result.output
    plain = json.loads(out.read_text())["results"][0]["metrics"]
    close(plain, evaluate.evaluate_generator(user_module.make(), PROTOCOL)["metrics"], rel=1e-12)
    from gbench.evaluation.sources import evaluate_source, from_callable

    source = from_callable("user_gen:make_conditional")
    evaluate_source(source, PROTOCOL)
    labels = torch.cat(source.generator.module.seen_labels)
    assert len(labels) == 1000 and set(labels.tolist()) == {0, 1, 2}


def test_png_folder_gives_the_generators_numbers(user_module, tmp_path):
    G = user_module.make()
    write_pngs(evaluate.generated_batches(G, 1000, 250, 0, "cpu"), tmp_path / "fakes")
    (tmp_path / "fakes" / ".DS_Store").write_bytes(b"ignored")  # hidden files are not samples
    result, text = cli("eval", "--protocol", PROTOCOL, "--samples", tmp_path / "fakes", "--out", tmp_path / "s.json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["source"]["files"] == 1000 and report["results"][0]["sample_seed"] is None
    close(report["results"][0]["metrics"], evaluate.evaluate_generator(G, PROTOCOL)["metrics"], rel=1e-12)
    result, text = cli("eval", "--protocol", PROTOCOL, "--samples", tmp_path / "fakes", "--seeds", 2)
    assert result.exit_code == 2 and "fixed set of images" in text


def write_folder(folder, count, size=32, mode="RGB", suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    for i in range(count):
        array = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
        Image.fromarray(array[..., 0] if channels == 1 else array, mode).save(folder / f"{i:04d}{suffix}")
    return folder


@pytest.mark.parametrize("case, message", [
    ("wrong size", "is 16x16; protocol test-toy needs 32x32"),
    ("wrong channels", "has mode RGBA (4 channels)"),
    ("greyscale", "has mode L (1 channels)"),
    ("too few", "has 7 images; protocol test-toy needs 8"),
    ("corrupt", "0003.png is not a readable image"),
    ("non-image", "notes.txt is not a PNG image"),
])
def test_bad_sample_folders_name_the_problem(case, message, tmp_path, test_protocol):
    protocol = dataclasses.replace(test_protocol, n_gen=8)
    folder = tmp_path / "fakes"
    if case == "wrong size":
        write_folder(folder, 8, size=16)
    elif case == "wrong channels":
        write_folder(folder, 8, mode="RGBA")
    elif case == "greyscale":
        write_folder(folder, 8, mode="L")
    elif case == "too few":
        write_folder(folder, 7)
    elif case == "corrupt":
        write_folder(folder, 8)
        (folder / "0003.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    else:
        write_folder(folder, 8)
        (folder / "notes.txt").write_text("hello")
    with pytest.raises(GBenchError) as err:
        open_sample_folder(folder, protocol)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_folder_through_the_cli_is_one_line(tmp_path):
    folder = write_folder(tmp_path / "fakes", 1000, size=16)
    result, text = cli("eval", "--protocol", PROTOCOL, "--samples", folder)
    assert result.exit_code == 1 and "0000.png is 16x16" in text and "Traceback" not in result.output


def test_jpeg_samples_warn_and_first_n_sorted_are_used(tmp_path, test_protocol):
    protocol = dataclasses.replace(test_protocol, n_gen=8)
    folder = write_folder(tmp_path / "fakes", 6)
    write_folder(tmp_path / "more", 4, suffix=".jpg")
    for p in (tmp_path / "more").iterdir():
        p.rename(folder / ("z" + p.name))
    sample_folder, notes = open_sample_folder(folder, protocol)
    assert [p.name for p in sample_folder.files][-2:] == ["z0000.jpg", "z0001.jpg"] and len(sample_folder.files) == 8
    assert len(notes) == 1 and "2 of the 8 images are JPEG" in notes[0] and "changes FID" in notes[0]
    batch = next(sample_folder.images(0, 8, 8))
    assert batch.dtype == torch.uint8 and batch.shape == (8, 3, 32, 32)


# ----------------------------------------------------------------------------- runs and checkpoints


def dcgan_smoke_weights():
    from gbench.experiments import resolve_config
    from gbench.models import build_models

    cfg = resolve_config("dcgan", "smoke")
    torch.manual_seed(1)
    G, _ = build_models(cfg)
    torch.manual_seed(2)
    G_ema, _ = build_models(cfg)
    return cfg, G, G_ema


def test_run_uses_the_ema_generator_of_the_newest_checkpoint(tmp_path):
    from gbench.io import atomic_write_json
    from gbench.checkpoint import save_checkpoint

    cfg, G, G_ema = dcgan_smoke_weights()
    run_dir = tmp_path / "runs" / "dcgan" / "smoke-test"
    atomic_write_json({"config": cfg.to_dict(), "config_hash": cfg.hash()}, run_dir / "config.json")
    save_checkpoint(run_dir, 5, {"trainer": {"step": 5, "G": G_ema.state_dict(), "G_ema": G.state_dict()}})  # older: swapped
    save_checkpoint(run_dir, 7, {"trainer": {"step": 7, "G": G.state_dict(), "G_ema": G_ema.state_dict()}})
    result, text = cli("eval", "--protocol", PROTOCOL, "--run", run_dir, "--device", "cpu")
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / f"eval-{PROTOCOL}.json").read_text())
    assert report["source"]["step"] == 7 and report["source"]["generator"] == "EMA" and "step 7, EMA generator" in report["setting"]
    assert report["model"] == "dcgan"
    close(report["results"][0]["metrics"], evaluate.evaluate_generator(G_ema, PROTOCOL)["metrics"], rel=1e-12)

    # the same weights as a plain state_dict, and as a DDP-prefixed one, through --checkpoint
    torch.save({f"module.{k}": v for k, v in G_ema.state_dict().items()}, tmp_path / "g.pt")
    result, _ = cli("eval", "--protocol", PROTOCOL, "--checkpoint", tmp_path / "g.pt", "--experiment", "dcgan", "--preset", "smoke",
                    "--out", tmp_path / "c.json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    close(json.loads((tmp_path / "c.json").read_text())["results"][0]["metrics"], report["results"][0]["metrics"], rel=1e-12)


def test_checkpoint_errors_are_one_line(tmp_path):
    cfg, G, _ = dcgan_smoke_weights()
    torch.save(G.state_dict(), tmp_path / "g.pt")
    result, text = cli("eval", "--protocol", PROTOCOL, "--checkpoint", tmp_path / "g.pt", "--experiment", "dcgan")  # paper preset: wider G
    assert result.exit_code == 1 and "does not fit the generator of dcgan" in text
    (tmp_path / "bad.pt").write_bytes(b"truncated")
    result, text = cli("eval", "--protocol", PROTOCOL, "--checkpoint", tmp_path / "bad.pt", "--experiment", "dcgan")
    assert result.exit_code == 1 and "bad.pt is unreadable (truncated or corrupt" in text and "Traceback" not in result.output
    result, text = cli("eval", "--protocol", PROTOCOL, "--checkpoint", tmp_path / "g.pt")
    assert result.exit_code == 2 and "needs --experiment" in text
    result, text = cli("eval", "--protocol", PROTOCOL, "--run", tmp_path)
    assert result.exit_code == 2 and "not a run directory" in text


@pytest.mark.parametrize("args", [[], ["--samples", "x", "--generator", "m:f"]])
def test_exactly_one_source(args):
    result, text = cli("eval", "--protocol", PROTOCOL, *args)
    assert result.exit_code == 2 and "exactly one of --run, --checkpoint, --samples, --generator" in text


def test_help_has_examples():
    for cmd in (["eval"], ["data", "list"], ["data", "fetch"], ["bench"]):
        result = runner.invoke(app, [*cmd, "--help"])
        assert result.exit_code == 0 and "gbench " in result.output, cmd
