"""Progressive GAN and StyleGAN v1: parameter counts against the official layer definitions, equalized learning
rate, fused resampling, fade-in against the official "linear" graph, minibatch stddev, AdaIN, truncation, style
mixing, the lod buffer in state_dict, and forward at every lod of small configs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reference_models import build_discriminator, build_generator, count_parameters
from reference_models.progan import (
    EqualizedConv2d,
    EqualizedLinear,
    downscale2d,
    minibatch_stddev,
    pixel_norm,
    upscale2d,
)
from reference_models.stylegan import (
    Blur2d,
    LayerEpilogue,
    StyleGANConfig,
    adain,
    instance_norm,
)

# Small configs whose feature maps differ per level (64, 32, 16, 8 at 4, 8, 16, 32 px), so index mix-ups fail.
PROGAN_SMALL = dict(resolution=32, fmap_base=128, fmap_max=64)
STYLEGAN_SMALL = dict(resolution=32, fmap_base=128, fmap_max=64, latent_dim=16, w_dim=16, mapping_fmaps=16, mapping_layers=2)


def progan_pair(**overrides):
    torch.manual_seed(0)
    cfg = {**PROGAN_SMALL, **overrides}
    return build_generator("progan-cifar10", **cfg), build_discriminator("progan-cifar10", **cfg)


def stylegan_pair(**overrides):
    torch.manual_seed(0)
    cfg = {**STYLEGAN_SMALL, **overrides}
    return build_generator("stylegan-ffhq", **cfg), build_discriminator("stylegan-ffhq", **cfg)


# ------------------------------------------------------------------------------------------------------------
# Official parameter counts, from the layer definitions of networks.py (G_paper, D_paper) and
# training/networks_stylegan.py (G_mapping, G_synthesis, D_basic); trainable variables only, as tflib counts them.


def _nf(fmap_base: int, fmap_max: int):
    return lambda stage: min(int(fmap_base / 2.0**stage), fmap_max)


def official_progan_g(resolution: int, fmap_base: int = 8192, fmap_max: int = 512, channels: int = 3) -> int:
    nf, top = _nf(fmap_base, fmap_max), int(math.log2(resolution))
    n = nf(0) * nf(1) * 16 + nf(1)  # 4x4/Dense (latent_size = nf(0)); bias per feature map after the reshape
    n += 9 * nf(1) * nf(1) + nf(1)  # 4x4/Conv
    for r in range(3, top + 1):
        n += 9 * nf(r - 2) * nf(r - 1) + nf(r - 1)  # Conv0_up
        n += 9 * nf(r - 1) * nf(r - 1) + nf(r - 1)  # Conv1
    n += sum(nf(r - 1) * channels + channels for r in range(2, top + 1))  # ToRGB_lod*
    return n


def official_progan_d(resolution: int, fmap_base: int = 8192, fmap_max: int = 512, channels: int = 3, mbstd_features: int = 1) -> int:
    nf, top = _nf(fmap_base, fmap_max), int(math.log2(resolution))
    n = sum(channels * nf(r - 1) + nf(r - 1) for r in range(2, top + 1))  # FromRGB_lod*
    for r in range(3, top + 1):
        n += 9 * nf(r - 1) * nf(r - 1) + nf(r - 1)  # Conv0
        n += 9 * nf(r - 1) * nf(r - 2) + nf(r - 2)  # Conv1_down
    n += 9 * (nf(1) + mbstd_features) * nf(1) + nf(1)  # 4x4/Conv after the stddev map
    n += nf(1) * 16 * nf(0) + nf(0)  # Dense0
    n += nf(0) + 1  # Dense1 (one score)
    return n


def official_stylegan_g(resolution: int, fmap_base: int = 8192, fmap_max: int = 512, channels: int = 3, latent: int = 512,
                        dlatent: int = 512, mapping_layers: int = 8, mapping_fmaps: int = 512) -> tuple[int, int]:
    nf, top = _nf(fmap_base, fmap_max), int(math.log2(resolution))
    dims = [latent] + [mapping_fmaps] * (mapping_layers - 1) + [dlatent]
    mapping = sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))

    def epilogue(c):  # Noise/weight (c) + bias (c) + StyleMod dense dlatent -> 2c with bias
        return c + c + dlatent * 2 * c + 2 * c

    n = nf(1) * 16 + epilogue(nf(1))  # 4x4/Const/const + its epilogue
    n += 9 * nf(1) * nf(1) + epilogue(nf(1))  # 4x4/Conv (its bias is the epilogue's)
    for r in range(3, top + 1):
        n += 9 * nf(r - 2) * nf(r - 1) + epilogue(nf(r - 1))  # Conv0_up
        n += 9 * nf(r - 1) * nf(r - 1) + epilogue(nf(r - 1))  # Conv1
    n += sum(nf(r - 1) * channels + channels for r in range(2, top + 1))  # ToRGB_lod*
    return mapping, n


@pytest.fixture(scope="module")
def full_size_counts():
    counts = {}
    with torch.device("meta"):
        for name in ("progan-cifar10", "progan-celebahq", "stylegan-ffhq", "stylegan-celebahq"):
            G, D = build_generator(name), build_discriminator(name)
            counts[name] = (count_parameters(G), count_parameters(D), G)
    return counts


def test_progan_counts_equal_the_official_layer_arithmetic(full_size_counts):
    g, d, G = full_size_counts["progan-celebahq"]
    assert (g, d) == (official_progan_g(1024), official_progan_d(1024)) == (23_079_115, 23_087_249)
    # the paper (Table 2) states 23.1M for both at 1024
    assert abs(g - 23.1e6) / 23.1e6 < 0.005 and abs(d - 23.1e6) / 23.1e6 < 0.005
    g, d, G = full_size_counts["progan-cifar10"]
    assert (g, d) == (official_progan_g(32), official_progan_d(32)) == (20_719_628, 20_726_785)
    assert (G.latent_dim, G.num_classes, G.latent_distribution, G.resolution, G.channels) == (512, 0, "normal", 32, 3)


def test_stylegan_counts_equal_the_official_layer_arithmetic(full_size_counts):
    mapping, synthesis = official_stylegan_g(1024)
    for name in ("stylegan-ffhq", "stylegan-celebahq"):
        g, d, G = full_size_counts[name]
        assert count_parameters(G.mapping) == mapping == 2_101_248
        assert count_parameters(G.synthesis) == synthesis == 24_118_379
        assert g == 26_219_627 and d == official_progan_d(1024) == 23_087_249
        assert abs(g - 26.2e6) / 26.2e6 < 0.005 and abs(d - 23.1e6) / 23.1e6 < 0.005  # the paper's 26.2M / 23.1M
        assert G.num_ws == 18 and (G.latent_dim, G.resolution, G.num_classes) == (512, 1024, 0)


def test_table1_config_b_has_the_progan_generator_count():
    with torch.device("meta"):
        B = build_generator("stylegan-ffhq", use_styles=False, use_pixel_norm=True, use_instance_norm=False, mapping_layers=0,
                            const_input_layer=False, use_noise=False, style_mixing_prob=0.0)
    assert count_parameters(B) == official_progan_g(1024)  # the tuned baseline keeps ProGAN's generator layers
    with pytest.raises(ValueError, match="style mixing needs use_styles"):
        build_generator("stylegan-ffhq", **STYLEGAN_SMALL, use_styles=False)


def test_small_config_counts_follow_the_same_arithmetic():
    G, D = progan_pair()
    assert count_parameters(G) == official_progan_g(32, 128, 64) and count_parameters(D) == official_progan_d(32, 128, 64)
    G, D = stylegan_pair()
    assert sum(official_stylegan_g(32, 128, 64, latent=16, dlatent=16, mapping_layers=2, mapping_fmaps=16)) == count_parameters(G)
    assert count_parameters(D) == official_progan_d(32, 128, 64)
    with pytest.raises(TypeError):
        build_generator("progan-cifar10", not_a_field=1)


# ------------------------------------------------------------------------------------------------------------
# Equalized learning rate and resampling


def test_equalized_lr_runtime_weight_is_he_scaled():
    torch.manual_seed(0)
    conv = EqualizedConv2d(8, 4, 3)
    assert torch.equal(conv.runtime_weight(), conv.weight * math.sqrt(2 / (8 * 9)))
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 8, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * math.sqrt(2 / 72), conv.bias, padding=1), atol=1e-6)
    rgb = EqualizedConv2d(16, 3, 1, gain=1.0)
    assert torch.equal(rgb.runtime_weight(), rgb.weight * (1 / math.sqrt(16)))
    # StyleGAN's mapping layers: stored N(0, 1 / 0.01), runtime x 0.01 * sqrt(2 / fan_in); bias x 0.01
    fc = EqualizedLinear(512, 512, lr_multiplier=0.01)
    assert abs(fc.weight.std().item() - 100.0) < 1.0
    assert torch.allclose(fc.runtime_weight(), fc.weight * 0.01 * math.sqrt(2 / 512))
    with torch.no_grad():
        fc.bias.fill_(3.0)
    z = torch.randn(2, 512)
    assert torch.allclose(fc(z), z @ fc.runtime_weight().T + 0.03, atol=1e-5)
    # the first ProGAN layer uses gain sqrt(2)/4 over the latent fan-in
    G, _ = progan_pair()
    assert math.isclose(G.blocks[0].dense.weight_gain, math.sqrt(2) / 4 / math.sqrt(64))


def test_fused_resampling_equals_the_separate_ops():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 6, 6)
    up = EqualizedConv2d(4, 3, 3, resample="up", fused=True)
    w = up.runtime_weight()
    # the official fused transposed conv = nearest 2x then the conv with the spatially flipped kernel
    assert torch.allclose(up(x), F.conv2d(upscale2d(x), w.flip([2, 3]), up.bias, padding=1), atol=1e-5)
    plain = EqualizedConv2d(4, 3, 3, resample="up", fused=False)
    assert torch.allclose(plain(x), F.conv2d(upscale2d(x), plain.runtime_weight(), plain.bias, padding=1), atol=1e-6)
    down = EqualizedConv2d(4, 3, 3, resample="down")
    assert torch.allclose(down(x), F.avg_pool2d(F.conv2d(x, down.runtime_weight(), down.bias, padding=1), 2), atol=1e-5)
    assert upscale2d(x, 4).shape == (2, 4, 24, 24) and torch.allclose(downscale2d(upscale2d(x, 4), 4), x, atol=1e-6)


def test_blur_is_the_normalised_121_filter():
    impulse = torch.zeros(1, 2, 5, 5)
    impulse[:, :, 2, 2] = 1.0
    out = Blur2d(2)(impulse)
    expected = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    assert torch.allclose(out[0, 1, 1:4, 1:4], expected) and out.sum().item() == pytest.approx(2.0)


# ------------------------------------------------------------------------------------------------------------
# Minibatch stddev, pixel norm, AdaIN


def test_minibatch_stddev_on_a_hand_example():
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0], [7.0, 4.0]]).view(4, 2, 1, 1)
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (4, 3, 1, 1) and torch.equal(out[:, :2], x)
    # channel 0: values 1,3,5,7 -> population variance 5; channel 1: 0,0,0,4 -> variance 3; mean of the two stds
    expected = (math.sqrt(5 + 1e-8) + math.sqrt(3 + 1e-8)) / 2
    assert torch.allclose(out[:, 2], torch.full((4, 1, 1), expected))
    # 8 samples, groups of 4: sample n belongs to group n mod 2 (official reshape [G, M, ...])
    y = torch.tensor([0.0, 10, 2, 10, 4, 10, 6, 10]).view(8, 1, 1, 1).expand(8, 1, 2, 2)
    out = minibatch_stddev(y, group_size=4)
    assert out.shape == (8, 2, 2, 2)
    assert torch.allclose(out[0::2, 1], torch.tensor(math.sqrt(5 + 1e-8))) and torch.allclose(out[1::2, 1], torch.tensor(1e-4))
    assert minibatch_stddev(torch.randn(6, 4, 4, 4), 4).shape == (6, 5, 4, 4)  # batch 6 -> groups of 3


def test_pixel_norm_and_instance_norm():
    x = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
    assert torch.allclose(pixel_norm(x).flatten(), torch.tensor([3.0, 4.0]) / math.sqrt(12.5))
    y = torch.tensor([[1.0, 2.0], [3.0, 6.0]]).view(1, 1, 2, 2)
    mean, var = 3.0, ((1 - 3) ** 2 + (2 - 3) ** 2 + 0 + 3**2) / 4
    assert torch.allclose(instance_norm(y), (y - mean) / math.sqrt(var + 1e-8))


def test_adain_layer_epilogue_against_a_hand_computation():
    torch.manual_seed(0)
    cfg = StyleGANConfig(**STYLEGAN_SMALL)
    layer = LayerEpilogue(2, 2, cfg)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.5, -1.0]))
        layer.noise_strength.copy_(torch.tensor([0.3, 0.0]))
        layer.style.bias.copy_(torch.arange(4.0))
    x = torch.tensor([[[[1.0, -2.0], [0.5, 3.0]], [[0.0, 1.0], [2.0, -1.0]]]])
    w = torch.randn(1, 16)
    out = layer(x, w, noise_mode="const")
    style = (layer.style.weight * (1 / math.sqrt(16))) @ w[0] + torch.arange(4.0)  # "A": gain 1, fan-in 16
    noise = layer.noise_const[0, 0]
    for c in range(2):
        h = x[0, c] + noise * [0.3, 0.0][c] + [0.5, -1.0][c]
        h = torch.where(h >= 0, h, 0.2 * h)
        h = (h - h.mean()) / torch.sqrt(((h - h.mean()) ** 2).mean() + 1e-8)
        assert torch.allclose(out[0, c], h * (1 + style[c]) + style[2 + c], atol=1e-5)
    assert torch.allclose(adain(torch.ones(1, 2, 1, 1), torch.tensor([[1.0, 2.0, 3.0, 4.0]])).flatten(), torch.tensor([5.0, 7.0]))


# ------------------------------------------------------------------------------------------------------------
# Progressive growing


def _lerp_clip(a, b, t):
    return a + (b - a) * min(max(t, 0.0), 1.0)


def official_linear_progan_g(G, z, lod):
    """networks.py G_paper, structure='linear': every level runs, outputs blended with lerp_clip(lod_in - lod)."""
    x = G.blocks[0](pixel_norm(z))
    images = G.to_rgb[0](x)
    for k in range(1, G.max_lod + 1):
        x = G.blocks[k](x)
        images = _lerp_clip(G.to_rgb[k](x), upscale2d(images), lod - (G.max_lod - k))
    return images


def official_linear_d(D, images, lod):
    """D_paper / D_basic, structure='linear'."""
    x = F.leaky_relu(D.from_rgb[D.max_lod](images), 0.2)
    for k in range(D.max_lod, 0, -1):
        x = D.blocks[k](x)
        images = downscale2d(images)
        x = _lerp_clip(x, F.leaky_relu(D.from_rgb[k - 1](images), 0.2), lod - (D.max_lod - k))
    return D.blocks[0](x).flatten()


LODS = [3.0, 2.75, 2.5, 2.0, 1.6, 1.0, 0.5, 0.2, 0.0]


def test_progan_fade_in_matches_the_official_linear_graph_at_every_lod():
    G, D = progan_pair()
    z = torch.randn(4, G.latent_dim)
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        for lod in LODS:
            G.set_lod(lod)
            D.set_lod(lod)
            assert torch.allclose(G(z), official_linear_progan_g(G, z, lod), atol=1e-5), lod
            assert torch.allclose(D(images), official_linear_d(D, images, lod), atol=1e-4), lod


def test_fade_in_at_alpha_0_half_1_by_hand():
    G, D = progan_pair()
    z = torch.randn(2, G.latent_dim)
    with torch.no_grad():
        x8 = G.blocks[1](G.blocks[0](pixel_norm(z)))
        x16 = G.blocks[2](x8)
        new, old = G.to_rgb[2](x16), upscale2d(G.to_rgb[1](x8))  # 16x16 toRGB and the upsampled 8x8 one
        for alpha in (1.0, 0.5, 0.0):
            G.set_lod(1 + (1 - alpha))  # fading in 16x16 on a 32x32 network
            # alpha 0 is lod 2 exactly: the stable 8x8 phase (alpha 1 at 8x8)
            assert (G.fade_alpha, G.current_resolution) == ((alpha, 16) if alpha > 0 else (1.0, 8))
            expected = alpha * new + (1 - alpha) * old
            assert torch.allclose(G(z, full_resolution=False), expected if alpha > 0 else G.to_rgb[1](x8), atol=1e-5)
            assert torch.allclose(G(z), upscale2d(expected), atol=1e-5)
        # D at alpha 0.5: new 16x16 block blended with fromRGB of the 8x8 image
        img = torch.randn(2, 3, 16, 16)
        D.set_lod(1.5)
        h_new = D.blocks[2](F.leaky_relu(D.from_rgb[2](img), 0.2))
        h_old = F.leaky_relu(D.from_rgb[1](F.avg_pool2d(img, 2)), 0.2)
        assert torch.allclose(D(img), D.blocks[0](D.blocks[1](0.5 * h_new + 0.5 * h_old)).flatten(), atol=1e-5)


def test_forward_at_every_lod_gives_the_right_shapes():
    for G, D in (progan_pair(), stylegan_pair()):
        G.eval()
        z = torch.randn(4, G.latent_dim)
        kwargs = {"noise_mode": "const"} if hasattr(G, "mapping") else {}
        with torch.no_grad():
            for lod in LODS:
                G.set_lod(lod)
                D.set_lod(lod)
                native = 2 ** (5 - math.floor(lod))
                full, small = G(z, **kwargs), G(z, full_resolution=False, **kwargs)
                assert full.shape == (4, 3, 32, 32) and small.shape == (4, 3, native, native)
                assert G.current_resolution == D.current_resolution == native
                assert torch.allclose(full, upscale2d(small, 32 // native), atol=1e-6)
                logits = D(full)
                assert logits.shape == (4,) and torch.isfinite(logits).all()
                assert torch.allclose(D(small), logits, atol=1e-5)  # native-size and full-size inputs agree
                with pytest.raises(ValueError, match="needs square images"):
                    D(torch.zeros(4, 3, native // 2, native // 2))
    with pytest.raises(ValueError, match=r"lod must be in \[0, 3\]"):
        G.set_lod(3.5)


def test_lod_round_trips_through_state_dict_without_changing_structure():
    for G, D in (progan_pair(), stylegan_pair()):
        keys, params = list(G.state_dict()), [id(p) for p in G.parameters()]
        G.set_lod(1.37)
        D.set_lod(2.61)
        assert list(G.state_dict()) == keys and [id(p) for p in G.parameters()] == params
        G2, D2 = (progan_pair() if G.__class__.__module__.endswith("progan") else stylegan_pair())
        G2.load_state_dict(G.state_dict())
        D2.load_state_dict(D.state_dict())
        assert torch.equal(G2.lod, G.lod) and G2.lod.item() == torch.tensor(1.37).item()
        assert torch.equal(D2.lod, torch.tensor(2.61)) and D2.fade_alpha == D.fade_alpha
        G.eval(), G2.eval()
        z = torch.randn(2, G.latent_dim)
        kwargs = {"noise_mode": "const"} if hasattr(G, "mapping") else {}
        with torch.no_grad():
            assert torch.equal(G(z, **kwargs), G2(z, **kwargs))


def test_stylegan_synthesis_fade_matches_the_official_linear_graph():
    G, _ = stylegan_pair()
    G.eval()
    z = torch.randn(3, 16)
    S = G.synthesis
    with torch.no_grad():
        ws = G.mapping(z)[:, None].expand(-1, G.num_ws, -1)
        for lod in LODS:
            G.set_lod(lod)
            x = S.blocks[0](ws[:, 0:2], "const")
            expected = S.to_rgb[0](x)
            for k in range(1, S.max_lod + 1):
                x = S.blocks[k](x, ws[:, 2 * k : 2 * k + 2], "const")
                expected = _lerp_clip(S.to_rgb[k](x), upscale2d(expected), lod - (S.max_lod - k))
            assert torch.allclose(G(z, noise_mode="const"), expected, atol=1e-5), lod


def test_one_training_step_reaches_only_the_active_layers():
    G, D = progan_pair()
    G.set_lod(1.5)
    D.set_lod(1.5)
    loss = -D(G(torch.randn(4, G.latent_dim))).mean()
    loss.backward()
    assert G.to_rgb[3].weight.grad is None and G.blocks[3].conv1.weight.grad is None  # 32x32 not active yet
    assert G.to_rgb[1].weight.grad.abs().sum() > 0 and G.to_rgb[2].weight.grad.abs().sum() > 0  # both fade ends
    assert D.from_rgb[3].weight.grad is None and D.from_rgb[1].weight.grad.abs().sum() > 0
    assert all(torch.isfinite(p.grad).all() for p in G.parameters() if p.grad is not None)


# ------------------------------------------------------------------------------------------------------------
# StyleGAN: w_avg, truncation, mixing regularization, mixing figures


def test_w_avg_tracks_the_batch_mean_in_training_mode_only():
    G, _ = stylegan_pair(style_mixing_prob=0.0)
    z = torch.randn(8, 16)
    with torch.no_grad():
        w = G.mapping(z)
        G.mapping.w_avg.fill_(0.5)
        G.train()
        G(z)
        assert torch.allclose(G.mapping.w_avg, w.mean(0) + (0.5 - w.mean(0)) * 0.995, atol=1e-6)
        before = G.mapping.w_avg.clone()
        G.eval()
        G(z)
        assert torch.equal(G.mapping.w_avg, before)


def test_truncation_psi_0_gives_w_avg_psi_1_identity_and_respects_the_cutoff():
    G, _ = stylegan_pair()
    G.eval()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        z = torch.randn(3, 16)
        ws = G.mapping(z)[:, None].expand(-1, G.num_ws, -1)
        out = G.truncate(ws, 0.0, cutoff=5)
        assert torch.allclose(out[:, :5], G.mapping.w_avg.expand(3, 5, -1)) and torch.equal(out[:, 5:], ws[:, 5:])
        assert torch.allclose(G.truncate(ws, 1.0, cutoff=8), ws)
        half = G.truncate(ws, 0.7)  # default cutoff 8 = all 8 layers of a 32x32 network
        assert torch.allclose(half, G.mapping.w_avg + 0.7 * (ws - G.mapping.w_avg), atol=1e-6)
        # through forward: psi 1 (or None) is the plain generator; psi 0 with cutoff 8 is the image of w_avg
        assert torch.equal(G(z, truncation_psi=1.0, noise_mode="const"), G(z, noise_mode="const"))
        avg_image = G.synthesis(G.mapping.w_avg.expand(1, G.num_ws, -1), "const")
        assert torch.allclose(G(z, truncation_psi=0.0, noise_mode="const"), avg_image.expand(3, -1, -1, -1), atol=1e-5)


def test_mixing_regularization_switches_w_at_the_crossover():
    G, _ = stylegan_pair(style_mixing_prob=1.0)
    G.train()
    z = torch.randn(4, 16)
    with torch.no_grad():
        ws = G.mapping(z)[:, None].expand(-1, G.num_ws, -1)
        for lod, active in ((0.0, 8), (1.0, 6), (1.5, 6), (2.0, 4)):
            G.set_lod(lod)
            for seed in range(6):
                torch.manual_seed(seed)
                mixed = G.mix_styles(z, ws)
                torch.manual_seed(seed)  # replay the draws: coin, crossover, second z
                torch.rand([])
                crossover = int(torch.randint(1, active, []))
                w2 = G.mapping(torch.randn_like(z))
                assert 1 <= crossover < active
                assert torch.equal(mixed[:, :crossover], ws[:, :crossover])
                assert torch.equal(mixed[:, crossover:], w2[:, None].expand(-1, G.num_ws - crossover, -1))
                assert not torch.allclose(mixed[:, crossover], ws[:, crossover])
    G_off, _ = stylegan_pair(style_mixing_prob=0.0)  # training mode without mixing: one w for every layer
    G_off.train()
    with torch.no_grad():
        plain = G_off.synthesis(G_off.mapping(z)[:, None].expand(-1, G_off.num_ws, -1), "const")
        assert torch.equal(G_off(z, noise_mode="const"), plain)


def test_style_mixing_grid_layout():
    G, _ = stylegan_pair()
    G.eval()
    torch.manual_seed(1)
    z_dst, z_src = torch.randn(3, 16), torch.randn(2, 16)
    grid = G.style_mixing_grid(z_dst, z_src)
    assert grid.shape == (4, 3, 3, 32, 32) and torch.equal(grid[0, 0], torch.ones(3, 32, 32))
    with torch.no_grad():
        src = G(z_src, noise_mode="const")
        dst = G(z_dst, noise_mode="const")
        assert torch.allclose(grid[0, 1:], src, atol=1e-6) and torch.allclose(grid[1:, 0], dst, atol=1e-6)
        # row 0 takes the coarse styles (layers 0-3) of each source, the rest from the destination
        w_d, w_s = G.mapping(z_dst[:1]), G.mapping(z_src[1:2])
        ws = torch.cat([w_s[:, None].expand(-1, 4, -1), w_d[:, None].expand(-1, 4, -1)], dim=1)
        assert torch.allclose(grid[1, 2], G.synthesis(ws, "const")[0], atol=1e-4)
    assert G.style_ranges() == {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, 8)}
    assert torch.allclose(grid[3, 1:], dst[2:3].expand(2, -1, -1, -1), atol=1e-4)  # 'fine' is empty at 32x32
    with pytest.raises(ValueError, match="one entry per destination"):
        G.style_mixing_grid(z_dst, z_src, row_layers=["coarse"])
