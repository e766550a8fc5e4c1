"""DGP degradations (gbench/inversion/degradations.py) and relaxed GAN inversion (gbench/inversion/dgp.py)."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import reference_models as R
from gbench.data.shapes import render
from gbench.errors import GBenchError
from gbench.inversion.degradations import (DEGRADATIONS, center_hole_mask, dip_downsample, dip_lanczos2_kernel, hole_bounds,
                                            inpaint, pil_lanczos_resize, sr4_observe, sr4_operator, to_grey)
from gbench.inversion.dgp import (DGP_PRESETS, InversionConfig, Stage, _generator, adapt_preset, dgp, invert, optimize_z,
                                  select_latents)

TINY = dict(resolution=32, g_ch=4, d_ch=4, latent_dim=32, shared_dim=16, num_classes=5, g_attention=(16,), d_attention=(16,))


@pytest.fixture(scope="module")
def tiny_gan():
    torch.manual_seed(0)
    return R.build_generator("biggan-smoke32", **TINY).eval(), R.build_discriminator("biggan-smoke32", **TINY).eval()


@pytest.fixture(scope="module")
def shapes():
    images, labels = render(2, seed=1)
    return images.float() / 127.5 - 1, labels % TINY["num_classes"]


def psnr(a, b):  # per image, images in [-1, 1]
    return 10 * torch.log10(4 / (a - b).pow(2).flatten(1).mean(1))


def short(task, iteration_scale=0.05, **overrides):
    return replace(adapt_preset(DGP_PRESETS[task], num_features=6, iteration_scale=iteration_scale), select_num=8, **overrides)


# --------------------------------------------------------------------------- degradations


def test_grey_hand_computation():
    x = torch.tensor([0.5, -0.2, 1.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    grey = to_grey(x)
    assert grey.shape == (1, 3, 2, 2)
    assert torch.allclose(grey, torch.full_like(grey, 0.2989 * 0.5 - 0.5870 * 0.2 + 0.1140 * 1.0))


def test_inpainting_mask_is_dgp_central_square():
    assert hole_bounds(128, 128) == (43, 85)  # hole = 128 // 3 = 42, begin = (128 - 42) // 2
    assert hole_bounds(32, 32) == (11, 21)  # hole 10
    mask = center_hole_mask(32, 32)
    assert mask.sum() == 32 * 32 - 10 * 10 and mask[0, 0, 11:21, 11:21].sum() == 0
    x = torch.rand(2, 3, 32, 32) + 0.5
    out = inpaint(x)
    assert torch.equal(out[..., 11:21, 11:21], torch.zeros(2, 3, 10, 10))
    out[..., 11:21, 11:21] = x[..., 11:21, 11:21]
    assert torch.equal(out, x)


def test_dip_lanczos2_kernel_hand_computation():
    kernel = dip_lanczos2_kernel(4)
    assert kernel.shape == (16, 16) and kernel.sum().item() == pytest.approx(1.0)
    # get_kernel(phase=0.5): taps at distances |i + 0.5 - 9| / 4 for i = 1..16, 2 sin(pi d) sin(pi d / 2) / (pi d)^2
    taps = []
    for i in range(1, 17):
        d = abs(i + 0.5 - 9) / 4
        taps.append(2 * math.sin(math.pi * d) * math.sin(math.pi * d / 2) / (math.pi**2 * d * d))
    taps = torch.tensor(taps, dtype=torch.float64)
    expected = taps[:, None] * taps[None, :]
    assert torch.allclose(kernel, expected / expected.sum(), atol=1e-15)


def test_sr_operator_shapes_and_constant_images():
    x = torch.full((2, 3, 32, 32), 0.25)
    assert dip_downsample(x).shape == (2, 3, 8, 8)
    assert torch.allclose(dip_downsample(x), torch.full((2, 3, 8, 8), 0.25))
    assert torch.allclose(sr4_operator(x), x)
    assert sr4_observe(x).shape == x.shape


def _test_images():
    g = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:80]
    smooth = np.stack([127 + 100 * np.sin(xx / 7.0), 127 + 100 * np.cos(yy / 5.0), (xx + yy) % 256], axis=-1)
    return [np.clip(smooth + g.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8), g.integers(0, 256, (128, 128, 3), dtype=np.uint8)]


@pytest.mark.parametrize("index", [0, 1], ids=["smooth+noise-96x80", "noise-128"])
def test_pil_lanczos_resize_equals_pil(index):
    image = _test_images()[index]
    h, w = image.shape[:2]
    size = (h // 4, w // 4)
    reference = np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.LANCZOS)).astype(np.float64)
    tensor = torch.from_numpy(image.copy()).permute(2, 0, 1)[None]
    exact = pil_lanczos_resize(tensor, size, quantize=True)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(exact, reference)  # bit-exact 8-bit path
    approx = pil_lanczos_resize(tensor.double(), size, clip_range=(0, 255))[0].permute(1, 2, 0).numpy()
    assert np.abs(approx - reference).max() <= 1.0  # float path: within one grey level


def test_pil_lanczos_resize_on_a_photo():
    skimage_data = pytest.importorskip("skimage.data")
    photo = np.asarray(Image.fromarray(skimage_data.astronaut()).resize((128, 128), Image.BILINEAR))
    reference = np.asarray(Image.fromarray(photo).resize((32, 32), Image.LANCZOS))
    ours = pil_lanczos_resize(torch.from_numpy(photo.copy()).permute(2, 0, 1)[None], (32, 32), quantize=True)
    assert np.array_equal(ours[0].permute(1, 2, 0).numpy().astype(np.uint8), reference)


def test_sr4_observe_is_dgp_target_pipeline():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    expected = []
    for image in x:  # DGP.pre_process(target=True): np_to_pil (truncating) -> PIL ANTIALIAS -> pil_to_np -> [-1, 1]
        array = np.clip(((image.numpy() + 1) / 2) * 255, 0, 255).astype(np.uint8).transpose(1, 2, 0)
        low = np.asarray(Image.fromarray(array).resize((8, 8), Image.LANCZOS)).astype(np.float32) / 255.0
        expected.append(torch.from_numpy(low.transpose(2, 0, 1)) * 2 - 1)
    expected = F.interpolate(torch.stack(expected), scale_factor=4, mode="bilinear", align_corners=False)
    assert torch.allclose(sr4_observe(x), expected, atol=1e-6)


# --------------------------------------------------------------------------- inversion


def test_presets_follow_official_scripts():
    color = DGP_PRESETS["colorization"]
    assert [s.iterations for s in color.stages] == [200, 200, 300, 400, 300]
    assert [s.lr_ratio for s in color.stages] == [0.7, 0.7, 0.8, 0.9, 1.0] and {s.w_mse for s in color.stages} == {0}
    assert {s.ftr_num for s in color.stages} == {7} and color.sample_std == 0.5
    paint = DGP_PRESETS["inpainting"]
    assert paint.update_embed and paint.instance_norm and {s.ft_num for s in paint.stages} == {6}
    assert all(p.select_num == 500 and p.w_nll == 0.02 and p.betas == (0.0, 0.999) for p in DGP_PRESETS.values())
    adapted = adapt_preset(color, num_features=6, iteration_scale=0.1)
    assert [s.ftr_num for s in adapted.stages] == [5] * 5 and [s.iterations for s in adapted.stages] == [20, 20, 30, 40, 30]


def test_dgp_beats_optimize_z_on_reconstruction(tiny_gan, shapes):
    G, D = tiny_gan
    x, y = shapes
    task = DEGRADATIONS["reconstruct"]
    config = short("reconstruct")
    z_only = optimize_z(G, D, task.observe(x), y, task, config, generator=torch.Generator().manual_seed(0))
    relaxed = dgp(G, D, task.observe(x), y, task, config, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(z_only.losses["loss"][0], relaxed.losses["loss"][0], rtol=1e-5)  # same start (same selected z)
    assert psnr(relaxed.images, x).mean() > psnr(z_only.images, x).mean()
    assert relaxed.losses["loss"].shape == (sum(s.iterations for s in config.stages), 2)
    assert relaxed.images_per_second > 0


def test_batched_inversion_equals_one_image_at_a_time(tiny_gan, shapes):
    G, D = tiny_gan
    x, y = shapes
    task = DEGRADATIONS["inpainting"]  # update_embed and instance_norm on
    config = short("inpainting", iteration_scale=0.02)
    z0 = torch.randn(2, 32, generator=torch.Generator().manual_seed(5))
    both = dgp(G, D, task.observe(x), y, task, config, z_init=z0)
    for i in range(2):
        alone = dgp(G, D, task.observe(x[i:i + 1]), y[i:i + 1], task, config, z_init=z0[i:i + 1])
        assert torch.allclose(both.images[i:i + 1], alone.images, atol=1e-5)
        assert torch.allclose(both.losses["loss"][:, i], alone.losses["loss"][:, 0], rtol=1e-4, atol=1e-6)


def test_progressive_groups_and_generator_untouched(tiny_gan, shapes):
    G, D = tiny_gan
    x, y = shapes
    before = {k: v.clone() for k, v in G.state_dict().items()}
    G.train()
    config = InversionConfig(stages=(Stage(iterations=3, g_lr=1e-2, z_lr=1e-2, ft_num=2, ftr_num=6),), select_num=0)
    task = DEGRADATIONS["reconstruct"]
    result = dgp(G, D, x, y, task, config)
    assert G.training and not D.training  # modes restored
    G.eval()
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())  # G's own weights untouched
    params = dict(G.named_parameters())
    groups = [[n for n, p in params.items() if any(p is q for m in stage for q in m.parameters())] for stage in G.stages()]
    moved = lambda n: not torch.allclose(result.generator_weights[n], params[n].detach().expand_as(result.generator_weights[n]))
    assert all(moved(n) for n in groups[0] + groups[1] if n.endswith("original"))  # groups 0 and 1 have lr > 0
    assert not any(moved(n) for group in groups[2:-1] for n in group)  # deeper blocks: lr 0 in this stage
    assert not any(n in result.generator_weights for n in groups[-1])  # the output layer is never fine-tuned
    assert result.generator_weights["linear.bias"].shape == (2, *params["linear.bias"].shape)
    assert torch.equal(result.class_embedding, G.class_embedding(y))  # update_embed off


def test_update_embed_moves_the_class_embedding(tiny_gan, shapes):
    G, D = tiny_gan
    x, y = shapes
    config = InversionConfig(stages=(Stage(iterations=2, g_lr=1e-2, z_lr=1e-2, ftr_num=6),), select_num=0, update_embed=True)
    result = dgp(G, D, x, y, DEGRADATIONS["reconstruct"], config)
    assert not torch.allclose(result.class_embedding, G.class_embedding(y))


def test_instance_norm_starts_from_the_bn_output(tiny_gan):
    G, _ = tiny_gan
    G.requires_grad_(False)
    z, y = torch.randn(3, 32), torch.tensor([0, 1, 2])
    cond = G.class_embedding(y)
    generate, *_ = _generator(G, z, cond, InversionConfig(stages=(Stage(1, 0.0, 0.0),), update_g=False, instance_norm=True))
    at_start = (generate(z) - G.synthesize(z, cond)).abs().mean()
    elsewhere = (generate(z + 1) - G.synthesize(z + 1, cond)).abs().mean()
    G.requires_grad_(True)
    # The frozen affine is the BN output's mean and unbiased std (GBlock.init_in), so at the selected z the IN generator
    # reproduces the BN one up to the sqrt(N / (N - 1)) of the std; away from it the two differ.
    assert at_start < 0.05 and elsewhere > 5 * at_start


def test_select_latents_picks_the_best_candidate(tiny_gan, shapes):
    G, D = tiny_gan
    x, y = shapes
    task = DEGRADATIONS["colorization"]
    target = task.observe(x)
    config = InversionConfig(stages=(), select_num=7, sample_std=0.3, select_chunk=3)  # chunks straddle images
    chosen, labels = select_latents(G, D, target, y, task, config, torch.Generator().manual_seed(2))
    assert torch.equal(labels, y)
    candidates = torch.randn(2, 7, 32, generator=torch.Generator().manual_seed(2)) * 0.3
    with torch.no_grad():
        for i in range(2):
            real = D.block_features(target[i:i + 1])
            scores = []
            for k in range(7):
                fake = D.block_features(task.observe(G.synthesize(candidates[i, k:k + 1], G.class_embedding(y[i:i + 1]))))
                scores.append(sum((f - r).abs().mean() for f, r in zip(fake[-3:], real[-3:])))
            assert torch.equal(chosen[i], candidates[i, int(torch.stack(scores).argmin())])


def test_user_errors(tiny_gan, shapes):
    G, D = tiny_gan
    x, y = shapes
    with pytest.raises(GBenchError, match="ftr_num 8"):
        invert(G, D, x, y, DEGRADATIONS["reconstruct"], InversionConfig(stages=(Stage(1, 0.0, 0.0, ftr_num=8),), select_num=0))
    with pytest.raises(GBenchError, match="BigGAN-style generator"):
        invert(torch.nn.Linear(2, 2), D, x, y, DEGRADATIONS["reconstruct"], short("reconstruct"))


def test_restore_scores_every_image_independently_of_the_batch(tiny_gan):
    """gbench/inversion/restore.py: each image draws its candidates from its own seed, so batches of 1 and of 3 agree;
    unknown labels (-1) are chosen by latent selection."""
    from gbench.inversion.restore import RestorationImages, restore

    G, D = tiny_gan
    images, labels = render(3, seed=11)
    labels = torch.tensor([1, -1, 3])
    data = RestorationImages(images, labels, ["a", "b", "c"], "test", "checksum", seed=4)
    config = short("reconstruct", iteration_scale=0.01)
    one = restore(G, D, data, "reconstruct", config, batch_size=1)
    three = restore(G, D, data, "reconstruct", config, batch_size=3)
    assert torch.allclose(one.restored, three.restored, atol=1e-5)
    assert one.labels.tolist() == three.labels.tolist() and one.labels[0] == 1 and one.labels[2] == 3 and 0 <= one.labels[1] < 5
    assert np.allclose(one.per_image["psnr"], three.per_image["psnr"], atol=1e-3) and len(one.per_image["ssim_x100"]) == 3
    assert one.images_per_second > 0 and one.degraded.shape == images.shape


def test_restoration_protocol_images():
    from gbench.inversion.restore import protocol_images

    photos = protocol_images("dgp-skimage32")
    assert photos.images.shape == (5, 3, 32, 32) and photos.labels.tolist() == [-1] * 5 and photos.names[0] == "astronaut"
    shapes = protocol_images("dgp-shapes32")
    assert shapes.images.shape == (16, 3, 32, 32) and (shapes.labels >= 0).all()
    assert torch.equal(shapes.images, render(1024, seed=1_000_000)[0][:16])  # the held-out test split (disjoint seeds)
    assert shapes.first(4).checksum != shapes.checksum and len(shapes.first(4)) == 4
    with pytest.raises(GBenchError, match="not a restoration protocol"):
        protocol_images("toy-shapes32")
