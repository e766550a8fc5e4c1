"""StyleGAN2 (DiffAugment CIFAR-10 configuration): parameter counts, resampling, modulation, truncation,
style mixing, minibatch-stddev and one training step."""

from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F

from reference_models import build_discriminator, build_generator, count_parameters
from reference_models.stylegan2 import fir_kernel, minibatch_stddev, modulated_conv2d, upfirdn2d, upsample_2d

SMALL = dict(latent_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32, resolution=16)


def small_pair(**overrides):
    torch.manual_seed(0)
    return build_generator("stylegan2", **SMALL, **overrides), build_discriminator("stylegan2", **SMALL, **overrides)


@pytest.fixture(scope="module")
def full_pair():
    torch.manual_seed(0)
    return build_generator("stylegan2"), build_discriminator("stylegan2")


def test_parameter_counts_match_the_official_port(full_pair):
    G, D = full_pair
    # models.md section 10 [M]
    assert count_parameters(G) == 13_506_963
    assert count_parameters(G.mapping) == 2_101_248
    assert count_parameters(G.synthesis) == 11_405_715
    assert count_parameters(D) == 13_918_849
    assert [count_parameters(b) for b in D.blocks] == [476_032, 1_901_312, 4_981_760]
    assert count_parameters(D.epilogue) == 6_559_745
    # Per-resolution synthesis figures, derived by hand from the official layer list (they sum to the above).
    assert [count_parameters(b) for b in G.synthesis.blocks] == [2_894_852, 5_509_125, 2_296_069, 705_669]
    assert G.num_ws == 8


def test_full_size_shapes_and_contract(full_pair):
    G, D = full_pair
    assert (G.latent_dim, G.num_classes, G.latent_distribution, G.resolution, G.channels) == (512, 0, "normal", 32, 3)
    G.eval()
    with torch.no_grad():
        x = G(torch.randn(2, 512))
        logits = D(x)
    assert x.shape == (2, 3, 32, 32) and torch.isfinite(x).all()
    assert 0.05 < x.std() < 20  # images on roughly the [-1, 1] scale at init, neither dead nor exploding
    assert logits.shape == (2,) and torch.isfinite(logits).all()


def test_equalized_lr_storage(full_pair):
    G, D = full_pair
    # Stored weights are N(0, 1) / lr_multiplier; the runtime gain restores the He scale.
    assert abs(G.mapping.layers[0].weight.std().item() - 100.0) < 2.0
    assert abs(G.synthesis.blocks[1].conv0.weight.std().item() - 1.0) < 0.02
    assert abs(D.blocks[1].conv0.weight.std().item() - 1.0) < 0.02
    assert torch.all(G.synthesis.blocks[0].conv1.affine.bias == 1.0)  # styles start at 1
    with pytest.raises(TypeError):
        build_generator("stylegan2", not_a_field=1)


def test_upfirdn2d_keeps_constants_and_sizes():
    k = fir_kernel([1, 3, 3, 1])
    assert torch.isclose(k.sum(), torch.tensor(1.0))
    x = torch.full((1, 2, 8, 8), 3.0)
    up = upsample_2d(x, k)
    assert up.shape == (1, 2, 16, 16)
    assert torch.allclose(up[:, :, 2:-2, 2:-2], torch.tensor(3.0))  # gain 4 after zero insertion keeps the mean
    down = upfirdn2d(x, k, down=2, pad=(1, 1))
    assert down.shape == (1, 2, 4, 4)
    assert torch.allclose(down[:, :, 1:-1, 1:-1], torch.tensor(3.0))
    assert not torch.allclose(down, torch.tensor(3.0))  # borders see the zero padding


def test_upfirdn2d_is_a_true_convolution():
    # An asymmetric kernel must be flipped: an impulse reproduces the kernel itself.
    k = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1.0
    y = upfirdn2d(x, k, pad=(1, 0))
    assert torch.equal(y[0, 0, 1:3, 1:3], k)


def test_demodulation_normalises_output_std():
    torch.manual_seed(0)
    x = torch.randn(4, 64, 24, 24)
    weight = torch.randn(32, 64, 3, 3)
    styles = torch.exp(torch.randn(4, 64)) * 5.0  # large, uneven per-channel scales
    y = modulated_conv2d(x, weight, styles, demodulate=True)
    inner = y[:, :, 1:-1, 1:-1]
    per_channel_std = inner.std(dim=[2, 3])
    assert abs(inner.std().item() - 1.0) < 0.05
    assert per_channel_std.min() > 0.8 and per_channel_std.max() < 1.2
    raw = modulated_conv2d(x, weight, styles, demodulate=False)
    assert raw.std() > 20.0  # without demodulation the scale follows the styles


def test_modulated_conv_matches_per_sample_conv():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 5, 6, 6), torch.randn(4, 5, 3, 3), torch.randn(3, 5)
    y = modulated_conv2d(x, weight, styles, demodulate=False)
    for b in range(3):
        expected = F.conv2d(x[b : b + 1], weight * styles[b][None, :, None, None], padding=1)
        assert torch.allclose(y[b : b + 1], expected, atol=1e-5)


def test_upsampling_conv_equals_zero_insertion_then_conv_then_fir():
    torch.manual_seed(0)
    k = fir_kernel([1, 3, 3, 1])
    x, weight, styles = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3), torch.ones(2, 3)
    y = modulated_conv2d(x, weight, styles, demodulate=False, up=True, resample_filter=k)
    assert y.shape == (2, 4, 10, 10)
    # Reference: zero insertion without a trailing zero (2H - 1), full correlation, FIR with gain 4.
    u = torch.zeros(2, 3, 9, 9)
    u[:, :, ::2, ::2] = x
    ref = F.conv2d(F.pad(u, [2, 2, 2, 2]), weight)  # 11 x 11
    ref = upfirdn2d(ref, k, pad=(1, 1), gain=4.0)
    assert torch.allclose(y, ref, atol=1e-5)


def test_truncation_psi_zero_gives_the_average_image():
    G, _ = small_pair()
    G.eval()
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(G.cfg.w_dim))
        z1, z2 = torch.randn(3, 32), torch.randn(3, 32)
        a = G(z1, truncation_psi=0.0, noise_mode="const")
        b = G(z2, truncation_psi=0.0, noise_mode="const")
        free = G(z1, noise_mode="const")
        ws = G.mapping.w_avg[None, None].expand(3, G.num_ws, -1)
        from_avg = G.synthesis(ws, noise_mode="const")
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(a, from_avg, atol=1e-6)
    assert torch.allclose(a[0], a[1], atol=1e-6)
    assert not torch.allclose(a, free, atol=1e-3)


def test_w_avg_tracks_only_in_training_mode():
    G, _ = small_pair(style_mixing_prob=0.0)
    z = torch.randn(8, 32)
    G.eval()
    G(z)
    assert torch.all(G.mapping.w_avg == 0)
    G.train()
    G(z)
    with torch.no_grad():
        expected = G.mapping(z).mean(0) * (1 - 0.995)
    assert torch.allclose(G.mapping.w_avg, expected, atol=1e-6)


def _captured_ws(G, z):
    captured = {}

    def grab(module, args):
        captured["ws"] = args[0].detach()

    handle = G.synthesis.register_forward_pre_hook(grab)
    G(z)
    handle.remove()
    return captured["ws"]


def test_style_mixing_in_training_mode():
    G, _ = small_pair(style_mixing_prob=1.0)
    G.train()
    torch.manual_seed(1)
    z = torch.randn(4, 32)
    cutoffs = set()
    for _ in range(12):
        ws = _captured_ws(G, z)
        same_as_first = torch.isclose(ws, ws[:, :1]).all(dim=2).all(dim=0)  # (num_ws,)
        cutoff = int(same_as_first.float().argmin())
        assert 1 <= cutoff < G.num_ws
        assert same_as_first[:cutoff].all() and not same_as_first[cutoff:].any()
        assert torch.isclose(ws[:, cutoff:], ws[:, cutoff:cutoff + 1]).all()  # one second w for the tail
        cutoffs.add(cutoff)
    assert len(cutoffs) > 1  # the cutoff is random
    G.eval()
    ws = _captured_ws(G, z)
    assert torch.isclose(ws, ws[:, :1]).all()  # never mixes in eval mode
    G_nomix, _ = small_pair(style_mixing_prob=0.0)
    G_nomix.train()
    ws = _captured_ws(G_nomix, z)
    assert torch.isclose(ws, ws[:, :1]).all()


def test_noise_modes():
    G, _ = small_pair()
    G.eval()
    for m in G.modules():
        if hasattr(m, "noise_strength"):
            m.noise_strength.data.fill_(0.5)
    z = torch.randn(2, 32)
    with torch.no_grad():
        r1, r2 = G(z), G(z)
        c1, c2 = G(z, noise_mode="const"), G(z, noise_mode="const")
        n = G(z, noise_mode="none")
    assert not torch.allclose(r1, r2)
    assert torch.equal(c1, c2)
    assert not torch.allclose(c1, n)
    with pytest.raises(ValueError):
        G(z, noise_mode="bogus")


def _reference_mbstd(x, G):
    """Per-sample loop (test only): std over samples sharing n mod (N / G), averaged over C, H, W."""
    N = x.shape[0]
    n_groups = N // G
    out = []
    for n in range(N):
        members = x[[m for m in range(N) if m % n_groups == n % n_groups]]
        std = (members.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        out.append(std)
    return torch.stack(out)


@pytest.mark.parametrize("batch, expected_group", [(8, 4), (4, 4), (2, 2), (6, 3), (5, 1), (3, 3)])
def test_minibatch_stddev_groups(batch, expected_group):
    torch.manual_seed(0)
    x = torch.randn(batch, 6, 4, 4) * torch.arange(1, batch + 1).float()[:, None, None, None]
    y = minibatch_stddev(x, group_size=4, num_features=1)
    assert y.shape == (batch, 7, 4, 4)
    assert torch.equal(y[:, :6], x)
    feature = y[:, 6]
    assert torch.allclose(feature, feature[:, :1, :1].expand_as(feature))  # constant over pixels
    assert torch.allclose(feature[:, 0, 0], _reference_mbstd(x, expected_group), atol=1e-5)
    if expected_group == 1:
        assert torch.allclose(feature, torch.tensor(1e-4))


def test_discriminator_accepts_any_batch():
    _, D = small_pair()
    for batch in (1, 3, 5, 6, 8):
        assert D(torch.randn(batch, 3, 16, 16)).shape == (batch,)


def test_one_training_step_with_r1():
    G, D = small_pair()
    G.train(), D.train()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.0, 0.99), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.0, 0.99), eps=1e-8)
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    z = torch.randn(4, 32)

    # D step: non-saturating logistic loss + R1 (gamma 0.1).
    real.requires_grad_(True)
    real_logits = D(real)
    (r1_grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    loss_d = F.softplus(D(G(z).detach())).mean() + F.softplus(-real_logits).mean() + 0.05 * r1_grad.square().sum([1, 2, 3]).mean()
    opt_d.zero_grad()
    loss_d.backward()
    d_before = [p.detach().clone() for p in D.parameters()]
    opt_d.step()
    assert torch.isfinite(loss_d)
    assert all(not torch.equal(a, p) for a, p in zip(d_before, D.parameters()))

    # G step: every G parameter receives a gradient.
    loss_g = F.softplus(-D(G(z))).mean()
    opt_g.zero_grad()
    loss_g.backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    g_before = [p.detach().clone() for p in G.parameters()]
    opt_g.step()
    assert all(not torch.equal(a, p) for a, p in zip(g_before, G.parameters()))
