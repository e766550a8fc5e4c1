"""Super-resolution: data (EDSR layout, folders, procedural crops), the sr-x4-y protocol path against
scikit-image, the bicubic baseline, external models, the VGG54 loss, the SR trainer and the smoke runs."""

import dataclasses
import hashlib
import json
import tarfile
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import reference_models
from gbench.config import apply_overrides
from gbench import inventory
from gbench.data import download
from gbench.data.sr import PackedImages, downscale_uint8, load_benchmark_set, load_sr_training_images, procedural_hr_images
from gbench.errors import GBenchError
from gbench.experiments import get_experiment, resolve_config
from gbench.runs import run_experiment
from gbench.metrics import rgb_to_y
from gbench.evaluation.sr import evaluate_bicubic, evaluate_sr_model, load_sr_model, sr_image_metrics, sr_results_markdown
from gbench.train.gan import StepLog
from gbench.runs import run_dir_for
from gbench.evaluation.sr import trained_sr_model
from gbench.train.sr import VGG54_SCALE, SRTrainer, VGG54Loss
from reference_models.srgan import UnitRangeSR

TINY_G = {"model.g_kwargs.g_channels": 8, "model.g_kwargs.n_blocks": 1}


def _photo(h, w, seed=0):
    """A smooth colour image with texture and an edge (uint8 H x W x 3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * x + 1), np.cos(5 * y), np.sin(4 * (x + y))], -1) * 90 + 128
    base[h // 3 :, : w // 2] += 40
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def _save(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


# ----------------------------------------------------------------------------- metrics on fixtures


def test_y_conversion_and_border_crop_on_fixture():
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(pixels)[0], [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-9)
    hr = _photo(32, 40)
    sr = hr.copy()
    sr[:4] = 255 - sr[:4]  # damage only the 4-pixel border band
    sr[:, -4:] = 0
    assert sr_image_metrics(sr, hr, crop_border=4) == {"psnr_y": float("inf"), "ssim_y": 1.0, "psnr_rgb": float("inf")}
    damaged = sr_image_metrics(sr, hr, crop_border=3)
    assert damaged["psnr_y"] < 30 and damaged["ssim_y"] < 1  # one damaged ring left in


def test_protocol_metrics_match_scikit_image():
    hr = _photo(48, 60, seed=1)
    rng = np.random.default_rng(2)
    sr = np.clip(hr.astype(float) + rng.normal(0, 8, hr.shape), 0, 255).astype(np.uint8)
    got = sr_image_metrics(sr, hr, crop_border=4)
    hr_c, sr_c = hr[4:-4, 4:-4], sr[4:-4, 4:-4]
    y_hr, y_sr = rgb2ycbcr(hr_c)[..., 0], rgb2ycbcr(sr_c)[..., 0]
    assert got["psnr_y"] == pytest.approx(peak_signal_noise_ratio(y_hr, y_sr, data_range=255), abs=1e-9)
    ref_ssim = structural_similarity(y_hr, y_sr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert got["ssim_y"] == pytest.approx(ref_ssim, abs=1e-9)
    assert got["psnr_rgb"] == pytest.approx(peak_signal_noise_ratio(hr_c, sr_c, data_range=255), abs=1e-9)


# ----------------------------------------------------------------------------- data and the bicubic baseline


def _edsr_fixture(root, with_lr=("Set5",)):
    """benchmark/<Set>/HR/*.png with odd sizes; LR_bicubic/X4/<stem>x4.png (made with PIL bicubic) for `with_lr`."""
    sizes = {"Set5": [(37, 53), (40, 44)], "Set14": [(45, 31)], "B100": [(33, 50), (48, 48)]}
    for i, (folder, shapes) in enumerate(sizes.items()):
        for j, (h, w) in enumerate(shapes):
            hr = _photo(h, w, seed=10 * i + j)
            _save(root / "benchmark" / folder / "HR" / f"img{j}.png", hr)
            if folder in with_lr:
                crop = hr[: h - h % 4, : w - w % 4]
                lr = np.asarray(Image.fromarray(crop).resize((crop.shape[1] // 4, crop.shape[0] // 4), Image.BICUBIC))
                _save(root / "benchmark" / folder / "LR_bicubic" / "X4" / f"img{j}x4.png", lr)


def test_benchmark_loader_uses_shipped_lr_and_crops_hr(tmp_path):
    _edsr_fixture(tmp_path)
    set5 = load_benchmark_set(tmp_path, "Set5")
    assert [im.shape for im in set5.hr] == [(36, 52, 3), (40, 44, 3)] and [im.shape for im in set5.lr] == [(9, 13, 3), (10, 11, 3)]
    assert "LR_bicubic/X4" in set5.lr_source
    shipped = np.asarray(Image.open(tmp_path / "benchmark/Set5/LR_bicubic/X4/img0x4.png"))
    np.testing.assert_array_equal(set5.lr[0], shipped)
    bsd = load_benchmark_set(tmp_path, "BSD100")  # the EDSR folder is B100; no LR files: torch bicubic
    assert bsd.name == "BSD100" and "torch bicubic" in bsd.lr_source and bsd.lr[0].shape == (8, 12, 3)
    (tmp_path / "benchmark/Set5/LR_bicubic/X4/img1x4.png").unlink()
    with pytest.raises(GBenchError, match="img1x4.png is missing"):
        load_benchmark_set(tmp_path, "Set5")
    with pytest.raises(GBenchError, match="gbench data fetch sr-benchmark"):
        load_benchmark_set(tmp_path / "empty", "Set5")


def test_bicubic_baseline_on_edsr_fixture(tmp_path):
    _edsr_fixture(tmp_path)
    result = evaluate_bicubic("sr-x4-y", root=tmp_path)
    assert result["model"] == "bicubic" and result["n_gen"] == 5 and result["fingerprint"].startswith("sr-x4-y@")
    assert set(result["metrics"]) == {f"{m}/{s}" for m in ("psnr_y", "ssim_y", "psnr_rgb") for s in ("Set5", "Set14", "BSD100")}
    assert "daala" in result["notes"][0] and result["test_sets"]["Set5"]["lr_source"].startswith("LR_bicubic")
    # independent recomputation of Set5: shipped LR -> torch antialiased bicubic x4 -> uint8 -> scikit-image on Y
    psnrs = []
    for j in range(2):
        hr = np.array(Image.open(tmp_path / f"benchmark/Set5/HR/img{j}.png"))
        lr = np.array(Image.open(tmp_path / f"benchmark/Set5/LR_bicubic/X4/img{j}x4.png"))
        up = F.interpolate(torch.from_numpy(lr).permute(2, 0, 1)[None].double() / 255, scale_factor=4, mode="bicubic", antialias=True)
        up = (up.clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
        hr = hr[: up.shape[0], : up.shape[1]]
        psnrs.append(peak_signal_noise_ratio(rgb2ycbcr(hr[4:-4, 4:-4])[..., 0], rgb2ycbcr(up[4:-4, 4:-4])[..., 0], data_range=255))
    assert result["metrics"]["psnr_y/Set5"] == pytest.approx(np.mean(psnrs), abs=0.02)  # float32 vs float64 resize: ~1e-3 dB
    assert result["per_image"]["Set5"][0]["psnr_y"] == pytest.approx(psnrs[0], abs=0.02)
    table = sr_results_markdown(result)
    assert "Set14 PSNR-Y" in table and "| bicubic |" in table and "daala" in table
    # the fingerprint covers the test data: a changed LR file changes it
    _save(tmp_path / "benchmark/Set5/LR_bicubic/X4/img0x4.png", np.zeros((9, 13, 3), np.uint8))
    assert evaluate_bicubic("sr-x4-y", root=tmp_path)["fingerprint"] != result["fingerprint"]


def test_model_shapes_for_odd_sizes_and_external_models(tmp_path, monkeypatch):
    torch.manual_seed(0)
    G = reference_models.build_generator("srresnet", g_channels=8, n_blocks=1)
    assert G(torch.rand(2, 3, 7, 11)).shape == (2, 3, 28, 44)
    model = UnitRangeSR(G).train()
    for j, (h, w) in enumerate([(37, 53), (29, 30)]):
        _save(tmp_path / "photos" / f"p{j}.png", _photo(h, w, seed=j))
    state = torch.get_rng_state()
    result = evaluate_sr_model(model, "sr-x4-y", folder=tmp_path / "photos", label="tiny")
    assert torch.equal(torch.get_rng_state(), state) and model.training and G.training  # RNG untouched, mode restored
    assert result["protocol"] == "sr-x4-y+folder" and "not comparable" in result["comparable_to"]
    assert [r["image"] for r in result["per_image"]["photos"]] == ["p0", "p1"] and np.isfinite(result["metrics"]["psnr_y/photos"])
    assert result["baseline"]["metrics"]["psnr_y/photos"] > result["metrics"]["psnr_y/photos"]  # untrained G loses to bicubic
    with pytest.raises(GBenchError, match=r"expected a tensor shaped \(1, 3, 36, 52\)"):
        evaluate_sr_model(lambda lr: F.interpolate(lr, scale_factor=2), "sr-x4-y", folder=tmp_path / "photos")
    (tmp_path / "mysr.py").write_text(textwrap.dedent("""
        import torch.nn.functional as F
        def upscale(lr):
            return F.interpolate(lr, scale_factor=4, mode="nearest")
        def make_model():
            return upscale
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    for spec in ("mysr:upscale", "mysr:make_model"):
        out = evaluate_sr_model(load_sr_model(spec), "sr-x4-y", folder=tmp_path / "photos", baseline=False)
        assert out["baseline"] is None and 15 < out["metrics"]["psnr_y/photos"] < 40
    with pytest.raises(GBenchError, match="module:callable"):
        load_sr_model("mysr")


def test_training_crops_are_distinct_images_at_random_positions():
    torch.manual_seed(0)
    images = procedural_hr_images(6, 40, seed=3)
    assert images.shape == (6, 3, 40, 40) and images.dtype == torch.uint8 and images.float().std() > 30
    packed = PackedImages.from_tensor(images, "p", "c")
    crops = packed.random_crops(torch.tensor([4, 1, 5]), 16)
    assert crops.shape == (3, 3, 16, 16)
    for crop, i in zip(crops, (4, 1, 5)):  # each crop is a window of its own image
        windows = images[i].unfold(1, 16, 1).unfold(2, 16, 1)  # (3, 25, 25, 16, 16)
        assert (windows == crop[:, None, None]).flatten(3).all(-1).all(0).any()
    assert downscale_uint8(crops, 4).shape == (3, 3, 4, 4)
    assert torch.equal(procedural_hr_images(6, 40, seed=3), images)
    with pytest.raises(GBenchError, match="folder:<path>"):
        load_sr_training_images("imagenet")


def test_catalogue_fetches_and_extracts_the_benchmark_archive(tmp_path, monkeypatch):
    _edsr_fixture(tmp_path / "src")
    archive = tmp_path / "benchmark.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(tmp_path / "src" / "benchmark", arcname="benchmark")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    info = download.DATASETS["sr-benchmark"]
    remote = dataclasses.replace(info.remotes[0], urls=(archive.as_uri(),), md5=md5)
    monkeypatch.setitem(download.DATASETS, "sr-benchmark", dataclasses.replace(info, remotes=(remote,)))
    monkeypatch.delenv("GBENCH_OFFLINE", raising=False)
    folder = inventory.fetch("sr-benchmark", tmp_path / "data")
    assert folder == tmp_path / "data" / "benchmark" and len(load_benchmark_set(tmp_path / "data", "Set14")) == 1
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    with pytest.raises(GBenchError, match="DIV2K_train_HR.zip"):
        inventory.fetch("div2k", tmp_path / "data")


# ----------------------------------------------------------------------------- losses and the trainer


def test_vgg54_loss_loads_asset_weights_and_scales_features(tmp_path, monkeypatch):
    random_vgg = VGG54Loss("random")
    state = {f"features.{k}": v.clone() for k, v in random_vgg.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # a full torchvision file also holds the classifier: ignored
    torch.save(state, tmp_path / "vgg19-dcbb9e9d.pth")
    monkeypatch.setattr("gbench.train.sr.asset_path", lambda name: tmp_path / "vgg19-dcbb9e9d.pth")
    loss = VGG54Loss("imagenet")
    assert len(loss.features) == 36 and isinstance(loss.features[34], torch.nn.Conv2d) and isinstance(loss.features[35], torch.nn.ReLU)
    assert loss.features[34].in_channels == 512 and torch.equal(loss.features[34].weight, random_vgg.features[34].weight)
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32) * 2 - 1
    sr = (hr + 0.2 * torch.randn_like(hr)).requires_grad_(True)
    value = loss(sr, hr)
    norm = lambda x: ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)  # noqa: E731
    expected = F.mse_loss(loss.features(norm(sr)) * VGG54_SCALE, loss.features(norm(hr)) * VGG54_SCALE)
    assert value.item() == pytest.approx(expected.item(), rel=1e-5) and value.item() > 0
    value.backward()
    assert sr.grad.abs().sum() > 0 and all(p.grad is None for p in loss.parameters())
    assert loss(hr, hr).item() == 0.0
    monkeypatch.undo()
    monkeypatch.setattr("gbench.assets.torch_hub_checkpoints", lambda: tmp_path / "hub")  # ignore a real torch-hub download
    with pytest.raises(GBenchError, match="missing asset vgg19.*gbench data fetch vgg19"):  # no weights in the test GBENCH_HOME
        VGG54Loss("imagenet")


def _tiny_cfg(name, *overrides, **extra):
    cfg = resolve_config(name, "smoke", [f"{k}={v}" for k, v in TINY_G.items()] + list(overrides))
    return apply_overrides(cfg, {"data.size": 8, "data.resolution": 16, "train.batch_size_g": 4, "train.batch_size_d": 4, **extra})


def test_one_train_step_of_each_stage_and_srgan_init_from_srresnet(tmp_path):
    torch.manual_seed(0)
    srresnet = SRTrainer(_tiny_cfg("srresnet-x4"), torch.device("cpu"))
    before = [p.detach().clone() for p in srresnet.G.parameters()]
    log = StepLog()
    srresnet.train_step(log)
    assert srresnet.step == 1 and srresnet.D is None and set(log.sums) == {"loss_g", "mse"}
    assert any(not torch.equal(a, b) for a, b in zip(before, srresnet.G.parameters()))
    torch.save({"trainer": srresnet.state_dict()}, tmp_path / "srresnet.pt")

    cfg = _tiny_cfg("srgan-x4", "model.d_kwargs.d_channels=8", "model.d_kwargs.d_dense=16",
                    **{"train.pretrain_steps": 0, "train.init_from": str(tmp_path / "srresnet.pt")})
    srgan = SRTrainer(cfg, torch.device("cpu"))
    assert srgan.D.input_size == 16
    srgan._ensure_init()
    assert all(torch.equal(a, b) for a, b in zip(srgan.G.state_dict().values(), srresnet.G.state_dict().values()))
    assert srgan.init["step"] == 1 and srgan.init["path"].endswith("srresnet.pt")
    d_before = [p.detach().clone() for p in srgan.D.parameters()]
    log = StepLog()
    srgan.train_step(log)
    assert {"loss_d", "loss_adv", "loss_content", "d_real", "d_fake"} <= set(log.sums)
    assert all(np.isfinite(v) for v in log.means().values())
    assert any(not torch.equal(a, b) for a, b in zip(d_before, srgan.D.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(srgan.G.state_dict().values(), srresnet.G.state_dict().values()))
    assert srgan.learning_rates() == {"lr_g": 1e-3, "lr_d": 1e-3}  # smoke: lr 1e-3 until lr_step_at = 300


def test_srgan_init_errors_are_clear(tmp_path):
    def first_step(init_from, **extra):
        cfg = _tiny_cfg("srgan-x4", "model.d_kwargs.d_channels=8", "model.d_kwargs.d_dense=16",
                        **{"train.pretrain_steps": 0, "train.init_from": str(init_from), **extra})
        SRTrainer(cfg, torch.device("cpu")).train_step(StepLog())

    with pytest.raises(GBenchError, match="does not exist.*gbench run srresnet-x4"):
        first_step(tmp_path / "runs" / "srresnet-x4" / "paper-00000000")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(GBenchError, match="no readable checkpoint"):
        first_step(tmp_path / "empty_run")
    torch.save({"G": reference_models.build_generator("srresnet", g_channels=16, n_blocks=1).state_dict()}, tmp_path / "other.pt")
    with pytest.raises(GBenchError, match="does not fit srgan"):
        first_step(tmp_path / "other.pt")


def test_recipes_and_paper_table():
    srresnet, srgan = get_experiment("srresnet-x4"), get_experiment("srgan-x4")
    assert srresnet.task == srgan.task == "sr" and {"smoke", "quick"} <= set(srgan.presets)
    paper = srgan.config("paper")
    assert paper.train.init_from == str(run_dir_for(srresnet.config("paper"), "runs"))
    assert (paper.train.content_loss, paper.train.adv_weight, paper.train.lr_step_at, paper.train.betas_g[0]) == ("vgg54", 1e-3, 100_000, 0.9)
    assert srgan.config("quick").train.init_from == str(run_dir_for(srresnet.config("quick"), "runs"))
    from gbench.recipes.srgan import TABLES

    table = TABLES["srgan-x4"]
    assert table["protocol"] == "sr-x4-y" and len(table["cells"]) == len(table["rows"]) * len(table["columns"]) == 18
    cell = {(c["row"], c["column"]): c for c in table["cells"]}
    assert cell[("SRResNet", "Set5 PSNR")] == {"row": "SRResNet", "column": "Set5 PSNR", "experiment": "srresnet-x4",
                                               "baseline": None, "overrides": {}, "metric": "psnr_y/Set5", "paper": 32.05}
    assert cell[("bicubic", "BSD100 SSIM")]["baseline"] == "bicubic" and cell[("bicubic", "BSD100 SSIM")]["paper"] == 0.6935
    assert cell[("SRGAN", "Set14 SSIM")]["metric"] == "ssim_y/Set14" and cell[("SRGAN", "Set14 SSIM")]["paper"] == 0.7397


# ----------------------------------------------------------------------------- smoke runs


@pytest.mark.parametrize("name", ["srresnet-x4", "srgan-x4"])
def test_short_smoke_run(tmp_path, name):
    extra = {"train.steps": 20, "train.checkpoint_every": 10, "train.sample_every": 10}
    if name == "srgan-x4":
        extra.update({"train.pretrain_steps": 10, "train.lr_step_at": 10, "train.eval_every": 10, "model.d_kwargs.d_channels": 8,
                      "model.d_kwargs.d_dense": 16})
    cfg = _tiny_cfg(name, **extra)
    run_dir = run_experiment(cfg, out=tmp_path, device="cpu")
    ev = json.loads((run_dir / "eval.json").read_text())
    steps = [e["step"] for e in ev["evaluations"]]
    assert steps == ([0, 10, 20] if name == "srgan-x4" else [0, 20])
    first, final = ev["evaluations"][0], ev["final"]
    assert final["fingerprint"].startswith("sr-x4-y-skimage@") and final["fingerprint"] == first["fingerprint"]
    assert final["baseline"]["name"] == "bicubic" and final["comparable_to"].startswith("not comparable")
    assert np.isfinite(final["metrics"]["ssim_y/skimage"]) and final["metrics"] != first["metrics"]
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    mse = [r["mse"] for r in log if "mse" in r]
    assert len(mse) == 2
    if name == "srresnet-x4":
        assert mse[1] < mse[0]  # the pixel loss fell (20 tiny steps do not yet move PSNR reliably)
        model, details = trained_sr_model(run_dir)  # what `gbench eval --run` scores: the same numbers
        assert details["step"] == 20 and evaluate_sr_model(model, "sr-x4-y-skimage")["metrics"] == final["metrics"]
    else:  # MSE stage, then the SRGAN stage at the stepped LR
        assert [r["lr_g"] for r in log if "lr_g" in r] == [1e-3, 1e-4] and "loss_d" in log[-2] and "loss_d" not in log[1]
    assert "not comparable" in (run_dir / "report.md").read_text() and list((run_dir / "samples").glob("*.png"))
    table = sr_results_markdown(ev["evaluations"])
    assert table.index("| bicubic |") < table.index("| step 0 (G) |") < table.index("| step 20 (G) |") and "not comparable" in table
