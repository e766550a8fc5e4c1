"""Image-to-image: losses, history pool, LR schedule, crops, dataset readers on fixture folders in the real
layouts, Cityscapes label ids, one step of each trainer, exact resume, and a short smoke run through the CLI."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from gbench.data import load_dataset
from gbench.data.cityscapes import CITYSCAPES_LABELS, label_ids_to_train_ids, prepare_cityscapes
from gbench.data.paired import load_domain, load_paired, load_segmentation_set, load_unpaired
from gbench.data.toyscapes import render_toyscapes
from gbench.errors import GBenchError
from gbench.experiments import resolve_config
from gbench.train import img2img
from gbench.train.gan import StepLog
from gbench.runs import train_and_evaluate

TINY_PAIRED = ["data.size=8", "data.resolution=32", "data.load_size=36", "model.g_kwargs.num_downs=5", "model.g_kwargs.g_channels=4",
               "model.d_kwargs.d_channels=4", "train.batch_size_d=2", "train.batch_size_g=2", "train.epochs_constant=1",
               "train.epochs_decay=2", "train.log_every=1", "train.sample_every=0"]
TINY_UNPAIRED = ["data.size=8", "data.resolution=32", "data.load_size=36", "model.g_kwargs.g_channels=4", "model.g_kwargs.n_blocks=1",
                 "model.d_kwargs.d_channels=4", "train.batch_size_d=2", "train.batch_size_g=2", "train.pool_size=3",
                 "train.epochs_constant=1", "train.epochs_decay=1", "train.log_every=1", "train.sample_every=0"]


# ------------------------------------------------------------------------------------------------ losses, pool, schedule, crops

def test_gan_losses_follow_the_official_ganloss():
    logits = torch.tensor([[-2.0, 0.0], [1.0, 3.0]])
    assert torch.allclose(img2img.gan_loss(logits, True, "ns"), F.softplus(-logits).mean())
    assert torch.allclose(img2img.gan_loss(logits, False, "ns"), F.softplus(logits).mean())
    assert torch.allclose(img2img.gan_loss(logits, True, "lsgan"), ((logits - 1) ** 2).mean())
    assert torch.allclose(img2img.gan_loss(logits, False, "lsgan"), (logits**2).mean())
    d = img2img.discriminator_loss(logits, -logits, "lsgan")
    assert torch.allclose(d, 0.5 * (((logits - 1) ** 2).mean() + (logits**2).mean()))
    assert img2img.parse_objective("l1+cgan") == (True, "cgan") and img2img.parse_objective("gan") == (False, "gan")
    assert img2img.parse_objective("l1") == (True, "")
    with pytest.raises(GBenchError, match="pix2pix_objective"):
        img2img.parse_objective("cgan+l1")
    with pytest.raises(GBenchError, match="ns .* or lsgan"):
        img2img.gan_loss(logits, True, "hinge")


def test_history_pool_fills_then_swaps_half_the_time():
    torch.manual_seed(0)
    pool = img2img.HistoryPool(4)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and pool.count == 3  # filling: returned as they are
    second = torch.tensor([10.0, 11.0]).view(2, 1, 1, 1)
    out = pool.query(second)
    assert out[0] == 10 and pool.count == 4  # the fourth image still fills the pool
    assert out[1] in (11.0, 0.0, 1.0, 2.0, 10.0)
    swapped, stored_before = 0, pool.images.clone()
    for step in range(400):
        new = torch.full((1, 1, 1, 1), 100.0 + step)
        out = pool.query(new)
        if out.item() != new.item():
            swapped += 1
            assert out.item() in stored_before.flatten().tolist() and new.item() in pool.images.flatten().tolist()
        stored_before = pool.images.clone()
    assert 150 < swapped < 250  # p = 1/2
    state = pool.state_dict()
    again = img2img.HistoryPool(0)
    again.load_state_dict(state)
    assert again.count == 4 and torch.equal(again.images, pool.images)
    passthrough = torch.randn(2, 3, 4, 4)
    assert img2img.HistoryPool(0).query(passthrough) is passthrough


def test_epoch_schedule_is_flat_then_linear():
    factors = [img2img.epoch_lr_factor(e, 100, 100) for e in range(202)]
    assert factors[:100] == [1.0] * 100
    assert math.isclose(factors[100], 100 / 101) and math.isclose(factors[199], 1 / 101) and factors[200] == factors[201] == 0.0


def test_crop_and_flip_apply_one_window_to_both_images():
    torch.manual_seed(0)
    a = torch.arange(6 * 6, dtype=torch.uint8).view(1, 1, 6, 6).repeat(64, 3, 1, 1)
    b = a.clone()
    out_a, out_b = img2img.crop_and_flip([a, b], 4, flip=True)
    assert out_a.shape == (64, 3, 4, 4) and torch.equal(out_a, out_b)
    values = ((out_a[:, 0] + 1) * 127.5).round().long()
    mirrored = values[:, 0, 0] > values[:, 0, 1]
    assert 10 < int(mirrored.sum()) < 54  # both flipped and plain crops occur
    window = torch.where(mirrored[:, None, None], values.flip(-1), values)
    top, left = window[:, 0, 0] // 6, window[:, 0, 0] % 6
    expected = (top[:, None, None] + torch.arange(4)[:, None]) * 6 + left[:, None, None] + torch.arange(4)
    assert torch.equal(window, expected)  # every crop is a contiguous 4x4 window of the 6x6 image


# ------------------------------------------------------------------------------------------------ dataset readers

def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=100, subsampling=0)


def test_aligned_and_unaligned_folders(tmp_path):
    for i in range(3):  # facades-style A|B jpgs: A red on the left, B blue on the right
        pair = np.zeros((20, 40, 3), dtype=np.uint8)
        pair[:, :20, 0] = 200 - 10 * i
        pair[:, 20:, 2] = 180
        _save(tmp_path / "facades" / "train" / f"{i + 1}.jpg", pair)
    paired = load_paired("facades", "train", root=tmp_path, load_size=16, direction="AtoB")
    assert paired.inputs.shape == paired.targets.shape == (3, 3, 16, 16)
    assert abs(int(paired.inputs[0, 0].float().mean()) - 200) <= 3 and int(paired.inputs[0, 2].float().mean()) <= 3
    swapped = load_paired("facades", "train", root=tmp_path, load_size=16, direction="BtoA")
    assert torch.equal(swapped.inputs, paired.targets) and swapped.checksum == paired.checksum
    domain = load_domain("facades", "trainB", root=tmp_path, resolution=8)
    assert domain.images.shape == (3, 3, 8, 8) and abs(int(domain.images[:, 2].float().mean()) - 180) <= 3
    _save(tmp_path / "facades" / "train" / "1.jpg", np.full((20, 40, 3), 7, dtype=np.uint8))
    assert load_paired("facades", "train", root=tmp_path, load_size=16).checksum != paired.checksum

    for split, n_a, n_b in (("train", 3, 5), ("test", 2, 1)):  # horse2zebra-style folders of different sizes
        for half, n in (("A", n_a), ("B", n_b)):
            for i in range(n):
                _save(tmp_path / "horse2zebra" / f"{split}{half}" / f"n{i:04d}.jpg", np.full((30, 24, 3), 40 if half == "A" else 220, np.uint8))
    unpaired = load_unpaired("horse2zebra", "train", root=tmp_path, load_size=12)
    assert unpaired.inputs.shape == (3, 3, 12, 12) and unpaired.targets.shape == (5, 3, 12, 12)
    reverse = load_unpaired("horse2zebra", "train", root=tmp_path, load_size=12, direction="BtoA")
    assert torch.equal(reverse.inputs, unpaired.targets)
    test_b = load_dataset("horse2zebra", "testB", root=tmp_path, resolution=8)
    assert test_b.images.shape == (1, 3, 8, 8) and abs(int(test_b.images.float().mean()) - 220) <= 3

    with pytest.raises(GBenchError, match="gbench data fetch maps"):
        load_paired("maps", "train", root=tmp_path)
    with pytest.raises(GBenchError, match="no aligned split"):
        load_paired("horse2zebra", "train", root=tmp_path)
    with pytest.raises(GBenchError, match="direction"):
        load_paired("facades", "train", root=tmp_path, direction="AB")


def test_label_ids_map_to_the_19_train_ids():
    ids = np.array([[0, 1, 6, 7, 8, 9], [11, 17, 18, 23, 26, 33], [34, 40, 255, 24, 25, 31]], dtype=np.uint8)
    expected = [[255, 255, 255, 0, 1, 255], [2, 5, 255, 10, 13, 18], [255, 255, 255, 11, 12, 16]]
    assert label_ids_to_train_ids(ids).tolist() == expected
    assert label_ids_to_train_ids(torch.from_numpy(ids)).tolist() == expected
    rng = np.random.default_rng(0)
    random_ids = rng.integers(0, 34, size=(50, 50)).astype(np.uint8)
    official = random_ids.astype(np.float32)  # the eval script's sequential loop over labels.py
    for _, label_id, train_id, _ in CITYSCAPES_LABELS:
        official[official == label_id] = train_id
    assert np.array_equal(label_ids_to_train_ids(random_ids), official.astype(np.uint8))
    assert sorted({t for _, _, t, _ in CITYSCAPES_LABELS} - {255}) == list(range(19))


def test_prepare_cityscapes_from_the_official_layout(tmp_path):
    source, root = tmp_path / "raw", tmp_path / "data"
    label_size = (16, 32)
    for split, city, n in (("train", "aachen", 3), ("val", "lindau", 2)):
        for i in range(n):
            frame = f"{city}_{i:06d}_000019"
            ids = np.full(label_size, 7, np.uint8)
            ids[:4] = 23
            ids[:, :3] = 26
            ids[-1] = 1
            colour = np.zeros((*label_size, 3), np.uint8)
            colour[ids == 7], colour[ids == 23], colour[ids == 26] = (128, 64, 128), (70, 130, 180), (0, 0, 142)
            photo = np.full((*label_size, 3), 30 * (i + 1), np.uint8)
            Image.fromarray(photo).save(_mk(source / "leftImg8bit" / split / city) / f"{frame}_leftImg8bit.png")
            Image.fromarray(colour).save(source / "gtFine" / split / city / f"{frame}_gtFine_color.png")
            Image.fromarray(ids).save(source / "gtFine" / split / city / f"{frame}_gtFine_labelIds.png")
    with pytest.raises(GBenchError, match="no photos"):
        prepare_cityscapes(root)  # nothing unzipped in the data root itself
    folder = prepare_cityscapes(root, source=source, size=8)
    assert sorted(p.name for p in folder.iterdir()) == ["frames-test.txt", "frames-train.txt", "test", "testA", "testB",
                                                        "train", "trainA", "trainB", "trainIds"]
    assert (folder / "frames-test.txt").read_text().split() == ["lindau_000000_000019", "lindau_000001_000019"]
    pair = np.asarray(Image.open(folder / "train" / "2.jpg"))
    assert pair.shape == (8, 16, 3) and abs(int(pair[:, :8].mean()) - 90) <= 2  # photo left (A), label colours right (B)
    train_ids = np.asarray(Image.open(folder / "trainIds" / "test" / "1.png"))
    assert train_ids.shape == label_size and train_ids[0, 5] == 10 and train_ids[8, 1] == 13 and train_ids[8, 8] == 0
    assert (train_ids[-1] == 255).all()

    pairs = load_paired("cityscapes", "train", root=root, load_size=8, direction="BtoA")  # labels -> photo
    assert pairs.inputs.shape == (3, 3, 8, 8) and abs(int(pairs.targets[2].float().mean()) - 90) <= 2
    unpaired = load_unpaired("cityscapes", "val", root=root, load_size=8)  # "val" reads the official script's "test"
    assert unpaired.inputs.shape == (2, 3, 8, 8)
    reference = load_segmentation_set("cityscapes", "val", root=root, resolution=8)
    assert len(reference) == 2 and reference.labels(0, 2).shape == (2, *label_size)
    assert abs(int(reference.photos[1].float().mean()) - 60) <= 2


def _mk(path):
    path.mkdir(parents=True, exist_ok=True)
    (path.parents[2] / "gtFine" / path.parent.name / path.name).mkdir(parents=True, exist_ok=True)
    return path


def test_toyscapes_scenes_are_deterministic_and_cover_every_class():
    labels, photos = render_toyscapes(64, seed=3, resolution=32)
    again, photos_again = render_toyscapes(64, seed=3, resolution=32)
    assert torch.equal(labels, again) and torch.equal(photos, photos_again)
    counts = torch.bincount(labels.flatten().long(), minlength=256)
    assert (counts[:7] > 0).all() and counts[255] > 0 and counts[7:255].sum() == 0
    assert photos.dtype == torch.uint8 and photos.shape == (64, 3, 32, 32)


# ------------------------------------------------------------------------------------------------ trainers

def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return all(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


@pytest.mark.parametrize("objective", ["l1+cgan", "gan", "l1"])
def test_one_pix2pix_step(objective):
    torch.manual_seed(0)
    cfg = resolve_config("pix2pix-cityscapes", "smoke", TINY_PAIRED + [f"train.pix2pix_objective={objective}", "train.steps=1"])
    trainer = img2img.Pix2PixTrainer(cfg, torch.device("cpu"))
    g_before = _params(trainer.G)
    log = StepLog()
    trainer.train_step(log)
    values = log.means()
    assert trainer.step == 1 and all(math.isfinite(v) for v in values.values())
    assert _changed(g_before, trainer.G)
    if objective == "l1":
        assert trainer.D is None and set(values) == {"loss_g", "loss_l1"}
        assert math.isclose(values["loss_g"], 100 * values["loss_l1"], rel_tol=1e-5)
    else:
        first_conv = trainer.D.net[0]
        assert first_conv.in_channels == (6 if objective == "l1+cgan" else 3)
        expected = values["loss_gan"] + 100 * values.get("loss_l1", 0.0)
        assert math.isclose(values["loss_g"], expected, rel_tol=1e-5) and "loss_d" in values
    assert trainer.learning_rates()["lr_g"] == 2e-4  # epoch 0 of 1 + 2: full LR


def test_one_cyclegan_step_updates_all_four_networks():
    torch.manual_seed(0)
    cfg = resolve_config("cyclegan-cityscapes", "smoke", TINY_UNPAIRED + ["train.steps=1"])
    trainer = img2img.CycleGANTrainer(cfg, torch.device("cpu"))
    before = {name: _params(getattr(trainer, name)) for name in ("G", "F", "D_X", "D_Y")}
    log = StepLog()
    trainer.train_step(log)
    values = log.means()
    assert all(_changed(before[name], getattr(trainer, name)) for name in before)
    assert math.isclose(values["loss_g"], values["loss_gan"] + values["loss_cycle"] + values["loss_idt"], rel_tol=1e-5)
    assert trainer.pool_x.count == trainer.pool_y.count == 2
    assert trainer.G.net[1].in_channels == 3 and trainer.D_Y.net[0].in_channels == 3


def test_pix2pix_rejects_contradicting_settings():
    cfg = resolve_config("pix2pix-cityscapes", "smoke", TINY_PAIRED + ["train.batch_size_g=3"])
    with pytest.raises(GBenchError, match="one batch"):
        img2img.Pix2PixTrainer(cfg, torch.device("cpu"))
    cfg = resolve_config("pix2pix-cityscapes", "smoke", TINY_PAIRED + ["model.d_kwargs.conditional_discriminator=false"])
    with pytest.raises(GBenchError, match="contradicts"):
        img2img.Pix2PixTrainer(cfg, torch.device("cpu"))
    cfg = resolve_config("pix2pix-cityscapes", "smoke", TINY_PAIRED + ["model.d_kwargs.receptive_field=286"])
    with pytest.raises(GBenchError, match="286x286 PatchGAN has no output at 32x32"):
        img2img.Pix2PixTrainer(cfg, torch.device("cpu"))


def _final(run_dir):
    return json.loads((run_dir / "eval.json").read_text())["final"]


def test_interrupted_cyclegan_run_resumes_to_identical_results(tmp_path):
    cfg = resolve_config("cyclegan-cityscapes", "smoke", TINY_UNPAIRED + ["train.steps=6", "train.checkpoint_every=2",
                                                                          "eval.at_start=false", "data.size=6"])
    full = train_and_evaluate(cfg, task="unpaired", out=tmp_path / "a", device="cpu")
    part = train_and_evaluate(cfg, task="unpaired", out=tmp_path / "b", device="cpu", stop_after=3)
    assert not (part / "eval.json").exists()
    resumed = train_and_evaluate(cfg, task="unpaired", out=tmp_path / "b", device="cpu")
    a, b = _final(full), _final(resumed)
    assert a["metrics"] == b["metrics"] and a["fingerprint"] == b["fingerprint"]
    from gbench.checkpoint import load_latest_checkpoint

    sa, sb = (load_latest_checkpoint(d)[0]["trainer"] for d in (full, resumed))
    assert all(torch.equal(sa["G"][k], sb["G"][k]) for k in sa["G"]) and torch.equal(sa["pool_y"]["images"], sb["pool_y"]["images"])


def test_pix2pix_smoke_run_through_the_cli(tmp_path):
    from gbench.cli import app

    overrides = ["train.steps=60", "train.epochs_constant=1", "train.epochs_decay=1", "data.size=120", "train.batch_size_d=4",
                 "train.batch_size_g=4", "train.sample_every=60", "train.checkpoint_every=60"]
    args = ["run", "pix2pix-cityscapes", "--preset", "smoke", "--out", str(tmp_path), "--device", "cpu"]
    result = CliRunner().invoke(app, args + [x for o in overrides for x in ("--set", o)])
    assert result.exit_code == 0, result.output
    run_dir = next((tmp_path / "pix2pix-cityscapes").iterdir())
    ev = json.loads((run_dir / "eval.json").read_text())
    first, final = ev["evaluations"][0], ev["final"]
    assert first["step"] == 0 and final["step"] == 60 and final["fingerprint"].startswith("toyscapes-fcn@")
    assert final["comparable_to"].startswith("not comparable") and final["metrics"]["gt_pixel_acc"] > 0.95
    assert final["metrics"]["pixel_acc"] > first["metrics"]["pixel_acc"] + 0.2  # training moved G towards the photos
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr_g"] for r in log if "lr_g" in r]
    assert lrs[0] == 2e-4 and math.isclose(lrs[-1], 1e-4)  # epoch 2 of 1 + 1: half the LR
    assert list((run_dir / "samples").glob("*.png")) and (run_dir / "report.md").exists()
    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    assert cfg["data"]["dataset"] == "toyscapes" and cfg["train"]["pix2pix_objective"] == "l1+cgan"


def test_translation_protocol_must_fit_the_model():
    cfg = resolve_config("pix2pix-cityscapes", "smoke", TINY_PAIRED + ["eval.protocol=toy-shapes32"])
    trainer = img2img.Pix2PixTrainer(cfg, torch.device("cpu"))
    with pytest.raises(GBenchError, match="cannot score a translation model"):
        trainer.evaluate(0)


def test_fetch_explains_manual_steps_and_checks_hand_downloaded_archives(tmp_path, monkeypatch):
    import tarfile

    from gbench import inventory

    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    with pytest.raises(GBenchError, match=r"login.*gtFine_trainvaltest\.zip.*leftImg8bit_trainvaltest\.zip.*gbench data prepare cityscapes --root"):
        inventory.fetch("cityscapes", tmp_path)
    with pytest.raises(GBenchError, match=r"no published checksum.*facades\.tar\.gz.*by hand"):
        inventory.fetch("facades", tmp_path)
    with pytest.raises(GBenchError, match=r"offline.*horse2zebra\.zip \(sha256 a74d9d39"):
        inventory.fetch("horse2zebra", tmp_path)
    staging = tmp_path / "staging" / "facades" / "train"
    _save(staging / "1.jpg", np.zeros((4, 8, 3), np.uint8))
    with tarfile.open(tmp_path / "facades.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "staging" / "facades", arcname="facades")
    with pytest.raises(GBenchError, match=r"extracted to \{'train': 1, 'val': 0, 'test': 0\}"):
        inventory.fetch("facades", tmp_path)
