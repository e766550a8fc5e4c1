"""The text-to-image trainer, its caption protocols and `gbench sample --caption` (GAN-INT-CLS, issue 17)."""

import json

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from gbench.cli import app
from gbench.config import RunConfig
from gbench.data import text2image as t2i
from gbench.errors import GBenchError
from gbench.evaluation import captions as cap
from gbench.evaluation.evaluate import evaluate_generator, latent_chunk
from gbench.experiments import get_experiment, resolve_config
from gbench.protocols import get_protocol
from gbench.train.gan import StepLog
from gbench.train.text2image import OBJECTIVES, Text2ImageTrainer

TINY = ["data.size=96", "train.batch_size_d=8", "train.batch_size_g=8", "model.g_kwargs.g_channels=8", "model.d_kwargs.d_channels=8",
        "train.log_every=2", "train.sample_every=0"]


def tiny_trainer(*overrides):
    cfg = resolve_config("text2image-cub", "smoke", TINY + list(overrides))
    torch.manual_seed(0)
    return Text2ImageTrainer(cfg, torch.device("cpu"))


def test_experiments_presets_and_the_official_recipe():
    for name, dataset, per_epoch in (("text2image-cub", "cub", 139), ("text2image-flowers", "flowers", 110)):
        exp = get_experiment(name)
        assert exp.task == "text2image" and set(exp.presets) == {"smoke", "quick"}
        paper = exp.config("paper")
        t, d = paper.train, paper.data
        assert (d.dataset, d.resolution, d.load_size, d.flip, d.num_captions) == (dataset, 64, 76, True, 4)
        assert (t.objective, t.batch_size_d, t.lr_g, t.lr_d, t.betas_g, t.betas_d) == ("gan-int-cls", 64, 2e-4, 2e-4, (0.5, 0.999), (0.5, 0.999))
        assert (t.lr_schedule, t.lr_step_every_epochs, t.lr_step_factor, t.ema) == ("epoch-decay", 100, 0.5, False)
        assert t.steps == 600 * per_epoch and t.style_steps == 100 * per_epoch
        assert paper.eval.protocol == f"{dataset}-is-fid"
        smoke = exp.config("smoke")
        assert smoke.data.dataset == "shapes32" and smoke.eval.protocol == "toy-shapes32-captions"


def test_new_config_fields_enter_the_hash_only_when_set():
    base = RunConfig(experiment="x")
    assert "objective" in base.to_dict()["train"]
    assert base.hash() == RunConfig(experiment="x", train=base.train).hash()
    from gbench.config import apply_overrides

    assert apply_overrides(base, {"train.objective": "gan"}).hash() != base.hash()
    assert apply_overrides(base, {"data.num_captions": 1}).hash() != base.hash()


def _record_batches(module):
    sizes = []
    module.register_forward_hook(lambda m, args, out: sizes.append(args[0].shape[0]))
    return sizes


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_one_step_of_each_objective(objective):
    trainer = tiny_trainer(f"train.objective={objective}")
    cls_weight, interp_weight = OBJECTIVES[objective]
    d_batches, g_batches = _record_batches(trainer.D), _record_batches(trainer.G)
    before_g = [p.clone() for p in trainer.G.parameters()]
    before_d = [p.clone() for p in trainer.D.parameters()]
    log = StepLog()
    trainer.train_step(log)
    # D: real, (wrong,) fake as separate calls of B; G step: one call on the 3B/2 fakes (interpolated half always there)
    assert d_batches == ([8, 8, 8, 12] if cls_weight else [8, 8, 12])
    assert g_batches == [8, 12]
    values = log.means()
    assert ("loss_d_wrong" in values) == (cls_weight > 0)
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())
    assert values["loss_d"] == pytest.approx(values["loss_d_real"] + values.get("loss_d_wrong", 0) + values["loss_d_fake"], rel=1e-5)
    assert all(not torch.equal(a, b) for a, b in zip(before_d, trainer.D.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(before_g, trainer.G.parameters()))
    assert trainer.interp_weight == interp_weight and trainer.step == 1


def test_the_learning_rate_halves_at_every_100th_epoch_counted_from_one():
    trainer = tiny_trainer("train.lr_step_every_epochs=100", "data.size=16")  # 16 images / batch 8: two steps per epoch
    assert trainer.steps_per_epoch == 2
    for step, factor in ((0, 1), (197, 1), (198, 0.5), (397, 0.5), (398, 0.25)):  # step 198 starts epoch 100
        trainer.step = step
        assert trainer.learning_rate(2e-4) == pytest.approx(2e-4 * factor), step


def test_the_style_stage_trains_s_on_a_frozen_generator():
    trainer = tiny_trainer("train.steps=1", "train.style_steps=2")
    assert trainer.total_steps == 3
    trainer.train_step(StepLog())
    frozen = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    s_before = [p.clone() for p in trainer.S.parameters()]
    log = StepLog()
    trainer.train_step(log)
    trainer.train_step(log)
    assert set(log.means()) == {"loss_style"}
    assert all(torch.equal(frozen[k], v) for k, v in trainer.G.state_dict().items())  # weights and BN running statistics
    assert all(not torch.equal(a, b) for a, b in zip(s_before, trainer.S.parameters()))


def test_trainer_errors_are_one_line():
    with pytest.raises(GBenchError, match="train.objective = .gan-xyz.: must be one of"):
        tiny_trainer("train.objective=gan-xyz")
    with pytest.raises(GBenchError, match="even"):
        tiny_trainer("train.batch_size_d=7", "train.batch_size_g=7")
    with pytest.raises(GBenchError, match="no captions"):
        tiny_trainer("data.dataset=cifar10")


def test_resume_in_the_style_stage_matches_an_uninterrupted_run(tmp_path):
    """The trainer's checkpointed state (models, optimizers, sampler generator) plus the global RNG states that
    gbench/runs.py saves make a resumed run equal to an uninterrupted one (the run loop's part: tests/test_resume.py)."""
    from gbench.checkpoint import rng_state, set_rng_state

    steps = ["train.steps=3", "train.style_steps=3"]
    full = tiny_trainer(*steps)
    for _ in range(6):
        full.train_step(StepLog())
    part = tiny_trainer(*steps)
    for _ in range(4):  # 3 GAN steps, 1 S step
        part.train_step(StepLog())
    torch.save({"trainer": part.state_dict(), "rng": rng_state()}, tmp_path / "ckpt.pt")
    for _ in range(2):  # what the killed process did after its checkpoint: lost
        part.train_step(StepLog())
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    resumed = tiny_trainer(*steps)
    resumed.load_state_dict(state["trainer"])
    set_rng_state(state["rng"])
    for _ in range(2):
        resumed.train_step(StepLog())
    a, b = full.state_dict(), resumed.state_dict()
    for name in ("G", "D", "S"):
        assert all(torch.equal(a[name][k], b[name][k]) for k in a[name]), name
    assert resumed.step == 6 and torch.equal(a["sampler"]["rng"], b["sampler"]["rng"])


# ----------------------------------------------------------------------------- caption protocols


class LookupGenerator(nn.Module):
    """An 'oracle' text-to-image G: returns the test image whose caption embedding it is given (z ignored), or a
    constant image (`constant=True`). Under the captioned protocol its R-precision is the encoder's on real images."""

    def __init__(self, pool_embeddings, images, caption_image, constant=False):
        super().__init__()
        self.latent_dim, self.num_classes, self.embedding_dim = 100, 0, pool_embeddings.shape[1]
        self.image_of = {row.numpy().tobytes(): int(caption_image[k]) for k, row in enumerate(pool_embeddings)}  # caption -> image
        self.images, self.constant = images, constant

    def forward(self, z, text_embedding):
        if self.constant:
            return torch.zeros(len(z), 3, 32, 32)
        index = torch.tensor([self.image_of[row.numpy().tobytes()] for row in text_embedding.cpu()])
        return self.images[index].float() / 127.5 - 1


@pytest.fixture(scope="module")
def smoke_pool():
    protocol = get_protocol("toy-shapes32-captions")
    data = t2i.load_captioned_shapes(protocol.n_ref, "test")
    assert torch.equal(cap.caption_pool(protocol).embeddings, data.embeddings)
    return protocol, data


def test_the_stream_draws_captions_per_chunk_and_feeds_their_embeddings(smoke_pool):
    protocol, data = smoke_pool
    oracle = LookupGenerator(data.embeddings, data.images, data.caption_image)
    seen = []
    oracle.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    conditioned = cap.condition_on_captions(oracle, protocol)
    assert conditioned.num_classes == len(data.embeddings)
    z, index = latent_chunk(conditioned, 0, 3, 40)
    assert index.shape == (40,) and torch.equal(latent_chunk(conditioned, 0, 3, 40)[1], index)  # seeded per chunk
    assert not torch.equal(latent_chunk(conditioned, 0, 4, 40)[1], index)
    conditioned(z, index)
    assert torch.equal(seen[-1], data.embeddings[index])


def test_caption_protocol_scores_an_oracle_far_above_a_constant_generator(smoke_pool):
    protocol, data = smoke_pool
    oracle = LookupGenerator(data.embeddings, data.images, data.caption_image)
    result = evaluate_generator(oracle, protocol.id, batch_size=500)
    constant = evaluate_generator(LookupGenerator(data.embeddings, data.images, data.caption_image, constant=True), protocol.id,
                                  batch_size=500)
    assert result["fingerprint"].startswith("toy-shapes32-captions@") and result["fingerprint"] == constant["fingerprint"]
    assert result["matching"]["fingerprint"].startswith("toy-shapes32-captions+r-precision@")
    assert result["metrics"]["fid"] < 5 < constant["metrics"]["fid"]  # the oracle draws (with repeats) from the reference images
    assert result["metrics"]["r_precision"] > 10 and constant["metrics"]["r_precision"] < 5  # percent; chance is 1


def test_matching_hits_rank_the_own_caption_against_99_others():
    torch.manual_seed(0)
    texts = torch.randn(300, 16)
    index = torch.arange(20)
    assert cap.matching_hits(texts[index] * 3.0, index, texts, seed=1) == 20  # cosine: own caption identical in direction
    assert cap.matching_hits(-texts[index], index, texts, seed=1) == 0
    with pytest.raises(GBenchError, match="100 captions"):
        cap.matching_hits(texts[:5], torch.arange(5), texts[:50], seed=1)


def test_caption_protocol_mismatches_are_one_line_errors():
    plain = nn.Linear(100, 3 * 32 * 32)
    plain.latent_dim, plain.num_classes = 100, 0
    with pytest.raises(GBenchError, match="needs a text-conditional generator"):
        cap.condition_on_captions(plain, get_protocol("toy-shapes32-captions"))
    text = LookupGenerator(torch.zeros(1, 1024), torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.zeros(1, dtype=torch.long))
    with pytest.raises(GBenchError, match="caption protocol"):
        cap.condition_on_captions(text, get_protocol("toy-shapes32"))


def test_matching_score_is_off_without_an_encoder(monkeypatch):
    monkeypatch.delenv(cap.MATCHING_ENV, raising=False)
    assert cap.matching_encoder(get_protocol("cub-is-fid")) is None
    monkeypatch.setenv(cap.MATCHING_ENV, "no_such_module_xyz:make")
    with pytest.raises(GBenchError, match=cap.MATCHING_ENV):
        cap.matching_encoder(get_protocol("cub-is-fid"))


# ----------------------------------------------------------------------------- smoke run, report, gbench sample --caption


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("t2i_runs")
    result = CliRunner().invoke(app, ["run", "text2image-cub", "--preset", "smoke", "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return next((out / "text2image-cub").iterdir())


def test_smoke_run_end_to_end(smoke_run):
    ev = json.loads((smoke_run / "eval.json").read_text())
    first, final = ev["evaluations"][0], ev["final"]
    assert first["step"] == 0 and final["step"] == 260 and final["generator"] == "G"
    assert final["fingerprint"].startswith("toy-shapes32-captions@") and final["fingerprint"] == first["fingerprint"]
    assert final["metrics"]["fid"] < 0.9 * first["metrics"]["fid"]
    assert 0 <= final["metrics"]["r_precision"] <= 100 and final["matching"]["encoder"] == "toy-shapes32-ridge"
    style = final["style_encoder"]
    assert style["mse"] < style["mse_of_zero"]  # S learned something about z in 100 steps
    log = [json.loads(line) for line in (smoke_run / "metrics.jsonl").read_text().splitlines()]
    assert any("loss_d_wrong" in r for r in log) and any("loss_style" in r for r in log)
    assert [r["lr_g"] for r in log if r.get("step") in (120, 130)] == [5e-4, 2.5e-4]  # 63 steps per epoch: epoch 3 starts at step 126
    report = (smoke_run / "report.md").read_text()
    assert "## Style transfer" in report and "style-transfer-step-00000260.png" in report
    assert (smoke_run / "samples" / "step-00000260.png").exists()


def test_leaderboard_rows_put_r_precision_under_the_matching_fingerprint(smoke_run):
    from gbench.leaderboard.rows import rows_from_run

    data = json.loads((smoke_run / "eval.json").read_text())
    rows = {r.metric: r for r in rows_from_run(smoke_run, data)}
    assert rows["R-precision"].protocol == data["final"]["matching"]["fingerprint"] != rows["FID"].protocol
    assert rows["FID"].protocol == data["final"]["fingerprint"]


def test_cli_sample_with_captions(smoke_run, tmp_path):
    out = tmp_path / "captions.png"
    captions = ["a red triangle on a striped background", "a large blue disk on a dark wide-striped background"]
    args = ["sample", "text2image-cub", "--run", str(smoke_run), "--n", "4", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--caption", captions[0], "--caption", captions[1]])
    assert result.exit_code == 0, result.output
    assert "8 samples (4 per caption x 2 captions)" in result.output and out.exists()
    from gbench.sample import sample

    drawn = sample(run=smoke_run, captions=captions, n=4)
    again = sample(run=smoke_run, captions=captions[::-1], n=4)
    assert torch.equal(drawn.images[:4], again.images[4:])  # same z per column whatever the caption order
    assert not torch.equal(drawn.images[:4], drawn.images[4:])  # the caption changes the images
    no_caption = CliRunner().invoke(app, ["sample", "--run", str(smoke_run), "--out", str(tmp_path / "x.png")])
    assert no_caption.exit_code != 0 and "--caption" in no_caption.output and "Traceback" not in no_caption.output


# ----------------------------------------------------------------------------- CUB format (fixture tree in the released layout)


def test_cub_caption_pool_reference_view_and_caption_lookup(tmp_path, monkeypatch):
    from test_text2image import make_cub_fixture

    from gbench.data import load_dataset

    root = tmp_path / "home" / "datasets"
    _, expected = make_cub_fixture(root)
    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "home"))
    test_class = "003.Sooty_Albatross"
    pool = t2i.load_caption_pool("cub", "test")  # .t7 files only: the two test images' 2 + 3 captions
    assert pool.embeddings.shape == (5, 1024) and pool.captions == expected[(test_class, 0)][1] + expected[(test_class, 1)][1]
    assert torch.equal(pool.embeddings[2:], torch.from_numpy(expected[(test_class, 1)][0]))

    reference = load_dataset("cub", "test", resolution=16)  # resized to 19 (16 x 76/64), centre 16x16
    full = t2i.load_text2image("cub", root, "test", load_size=19)
    assert torch.equal(reference.images, full.images[:, :, 1:17, 1:17]) and reference.checksum != full.checksum

    text = LookupGenerator(pool.embeddings, torch.zeros(5, 3, 64, 64, dtype=torch.uint8), torch.arange(5))
    conditioned = cap.condition_on_captions(text, get_protocol("cub-is-fid"))
    assert conditioned.num_classes == 5 and torch.equal(conditioned.embeddings, pool.embeddings)

    wanted = expected[("002.Laysan_Albatross", 1)][1][2]  # a train+val caption, typed with other case and spacing
    found = t2i.encode_captions("cub", [wanted.upper().replace(" ", "  "), pool.captions[0]], 1024)
    assert torch.equal(found[0], torch.from_numpy(expected[("002.Laysan_Albatross", 1)][0][2]))
    assert torch.equal(found[1], pool.embeddings[0])
    with pytest.raises(GBenchError, match=r"no embedding for 'this bird is completely red'.*--text-encoder.*e\.g\. 'caption 0 of"):
        t2i.encode_captions("cub", ["this bird is completely red"], 1024)
    own = t2i.encode_captions("cub", ["this bird is completely red"], 1024, text_encoder=lambda texts: torch.ones(len(texts), 1024))
    assert torch.equal(own, torch.ones(1, 1024))
    with pytest.raises(GBenchError, match="returned shape"):
        t2i.encode_captions("cub", ["x"], 1024, text_encoder=lambda texts: torch.ones(len(texts), 7))


def test_caption_grid_labels_each_row():
    from gbench.sampling import CAPTION_WIDTH, caption_grid_image

    images = torch.zeros(6, 3, 32, 32, dtype=torch.uint8)
    grid = caption_grid_image(images, ["a caption that is long enough to wrap over two lines or more in the column", "b"], 3)
    assert grid.size == (CAPTION_WIDTH + 3 * 34 + 2, 2 * 34 + 2)
    pixels = torch.from_numpy(np.asarray(grid).copy())
    assert (pixels[:34, :CAPTION_WIDTH] < 128).any() and (pixels[36:, :CAPTION_WIDTH] < 128).any()  # text in both rows
    assert (pixels[:, CAPTION_WIDTH + 2 : CAPTION_WIDTH + 34] == 0).all(dim=-1).any()  # the images, right of the text
    with pytest.raises(GBenchError, match="do not fill"):
        caption_grid_image(images, ["a"], 3)
