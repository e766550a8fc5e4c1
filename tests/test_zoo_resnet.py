"""ResNet-family CIFAR GANs: AutoGAN, SN-GAN, WGAN-GP, BigGAN (reference_models/{autogan,sngan,wgan_gp,biggan,layers}.py)."""

from __future__ import annotations

import io
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reference_models as rm
from reference_models.layers import ClassConditionalBatchNorm2d, raw_weight

# models.md sections 1, 2, 4, 11: (G, D) trainable parameters.
PARAM_COUNTS = {
    "autogan": (4_405_251, 1_053_824),
    "autogan-stl10": (5_065_731, 1_053_824),
    "sngan": (4_276_739, 1_053_824),
    "wgan-gp": (1_204_483, 1_053_825),
    "biggan": (4_304_387, 4_207_361),
}
RESOLUTION = {"autogan-stl10": 48}
# (model name, extra overrides) for the small smoke builds; "sngan" with classes exercises the projection path.
VARIANTS = [(name, {}) for name in PARAM_COUNTS] + [("sngan", {"num_classes": 10})]
VARIANT_IDS = [name + ("-cond" if kw else "") for name, kw in VARIANTS]


def small_pair(name: str, width: int = 16, **overrides) -> tuple[nn.Module, nn.Module]:
    g = rm.build_generator(name, g_channels=width, **overrides)
    d = rm.build_discriminator(name, d_channels=width, **overrides)
    return g, d


def sample(g: nn.Module, batch: int, y: torch.Tensor | None = None) -> torch.Tensor:
    z = torch.randn(batch, g.latent_dim)
    return g(z, y) if g.num_classes else g(z)


def critic(d: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    return d(x, y) if d.num_classes else d(x)


def sn_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if hasattr(m, "parametrizations") and "weight" in m.parametrizations]


# --------------------------------------------------------------------------- sizes and shapes


@pytest.mark.parametrize("name", list(PARAM_COUNTS))
def test_parameter_counts_match_reference(name):
    g_target, d_target = PARAM_COUNTS[name]
    assert rm.count_parameters(rm.build_generator(name)) == g_target
    assert rm.count_parameters(rm.build_discriminator(name)) == d_target


def test_sngan_projection_adds_one_embedding_table():
    d = rm.build_discriminator("sngan", num_classes=10)
    assert rm.count_parameters(d) == 1_053_824 + 10 * 128


@pytest.mark.parametrize(("name", "overrides"), VARIANTS, ids=VARIANT_IDS)
def test_output_shapes_and_generator_contract(name, overrides):
    torch.manual_seed(0)
    g, d = small_pair(name, **overrides)
    res = RESOLUTION.get(name, 32)
    assert (g.resolution, g.channels, g.latent_dim, g.latent_distribution) == (res, 3, 128, "normal")
    assert g.num_classes == d.num_classes == overrides.get("num_classes", 10 if name == "biggan" else 0)
    y = torch.randint(0, 10, (3,)) if g.num_classes else None
    x = sample(g, 3, y)
    assert x.shape == (3, 3, res, res)
    assert x.abs().max() <= 1.0 and torch.isfinite(x).all()
    logits = critic(d, x, y)
    assert logits.shape == (3,) and torch.isfinite(logits).all()


def test_latent_dim_and_unknown_override():
    g = rm.build_generator("wgan-gp", g_channels=8, latent_dim=32)
    assert sample(g, 2).shape == (2, 3, 32, 32)
    with pytest.raises(TypeError):
        rm.build_generator("autogan", not_a_field=1)


# --------------------------------------------------------------------------- class conditioning


def test_conditional_generator_images_depend_on_label():
    torch.manual_seed(0)
    g, _ = small_pair("biggan")
    g.eval()  # no power iterations, no batch statistics: the same call gives the same image
    z = torch.randn(4, g.latent_dim)
    with torch.no_grad():
        a = g(z, torch.zeros(4, dtype=torch.long))
        b = g(z, torch.ones(4, dtype=torch.long))
        a_again = g(z, torch.zeros(4, dtype=torch.long))
    assert torch.allclose(a, a_again)
    assert (a - b).abs().max() > 1e-4


@pytest.mark.parametrize(("name", "overrides"), [("biggan", {}), ("sngan", {"num_classes": 10})], ids=["biggan", "sngan-cond"])
def test_projection_discriminator_depends_on_label(name, overrides):
    torch.manual_seed(0)
    _, d = small_pair(name, **overrides)
    x = torch.randn(4, 3, 32, 32)
    d.eval()
    with torch.no_grad():
        delta = d(x, torch.zeros(4, dtype=torch.long)) - d(x, torch.full((4,), 3))
    assert delta.abs().max() > 1e-5
    with pytest.raises(ValueError):
        d(x)


def test_conditional_sngan_generator_needs_labels():
    g, _ = small_pair("sngan", num_classes=10)
    assert any(isinstance(m, ClassConditionalBatchNorm2d) for m in g.modules())
    with pytest.raises(ValueError):
        g(torch.randn(2, g.latent_dim))


# --------------------------------------------------------------------------- one optimisation step


@pytest.mark.parametrize(("name", "overrides"), VARIANTS, ids=VARIANT_IDS)
def test_one_training_step_updates_both_networks(name, overrides):
    torch.manual_seed(0)
    g, d = small_pair(name, width=8, **overrides)
    res = RESOLUTION.get(name, 32)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.0, 0.9))
    real = torch.rand(4, 3, res, res) * 2 - 1
    y = torch.randint(0, 10, (4,)) if g.num_classes else None

    def step(net, opt, loss):
        before = [p.detach().clone() for p in net.parameters()]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        assert torch.isfinite(loss)
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
        opt.step()
        for p, old in zip(net.parameters(), before):
            if p.grad.abs().sum() > 0:
                assert not torch.equal(p.detach(), old)

    fake = sample(g, 4, y).detach()
    if name == "wgan-gp":  # WGAN loss + gradient penalty (needs a double backward through the critic)
        alpha = torch.rand(4, 1, 1, 1)
        mix = (real + alpha * (fake - real)).requires_grad_(True)
        grad = torch.autograd.grad(d(mix).sum(), mix, create_graph=True)[0]
        loss_d = d(fake).mean() - d(real).mean() + 10 * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    else:  # hinge
        loss_d = F.relu(1 - critic(d, real, y)).mean() + F.relu(1 + critic(d, fake, y)).mean()
    step(d, opt_d, loss_d)
    step(g, opt_g, -critic(d, sample(g, 4, y), y).mean())


# --------------------------------------------------------------------------- spectral norm


def test_spectral_norm_u_is_persisted_updated_and_round_trips():
    torch.manual_seed(0)
    d = rm.build_discriminator("sngan", d_channels=16)
    u_keys = [k for k in d.state_dict() if k.endswith("_u")]
    assert len(u_keys) == 11  # 10 convs + the Linear head
    x = torch.randn(4, 3, 32, 32)

    d.eval()
    frozen = {k: v.clone() for k, v in d.state_dict().items() if k in u_keys}
    d(x)
    assert all(torch.equal(d.state_dict()[k], frozen[k]) for k in u_keys)  # eval forward: no power iteration
    with torch.no_grad():  # move the weights as a training step would, so the power iteration has work to do
        for p in d.parameters():
            p.add_(0.05 * torch.randn_like(p))
    d(x)
    assert all(torch.equal(d.state_dict()[k], frozen[k]) for k in u_keys)  # still eval: u untouched
    d.train()
    d(x)
    changed = [k for k in u_keys if not torch.equal(d.state_dict()[k], frozen[k])]
    # train forward: one power iteration per layer; the 1-output head's u is the constant [1] and cannot move
    assert changed == [k for k in u_keys if not k.startswith("linear.")]
    assert d.state_dict()["linear.parametrizations.weight.0._u"].shape == (1,)

    buffer = io.BytesIO()
    torch.save(d.state_dict(), buffer)
    torch.manual_seed(1)
    fresh = rm.build_discriminator("sngan", d_channels=16).eval()
    d.eval()
    with torch.no_grad():
        assert not torch.allclose(fresh(x), d(x))
        buffer.seek(0)
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
        assert all(torch.equal(fresh.state_dict()[k], d.state_dict()[k]) for k in u_keys)
        assert torch.allclose(fresh(x), d(x))


def test_spectral_norm_bounds_the_top_singular_value():
    torch.manual_seed(0)
    d = rm.build_discriminator("autogan", d_channels=16)
    layers = sn_layers(d)
    assert len(layers) == 11
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1.0) < 1e-2
        assert torch.linalg.matrix_norm(raw_weight(layer).detach().flatten(1), ord=2) > 0


def test_biggan_spectral_norm_placement_and_eps():
    g, d = small_pair("biggan")
    g_sn, d_sn = sn_layers(g), sn_layers(d)
    assert len(g_sn) == 1 + 3 * 3 + 1  # linear, 3 convs per block, output conv
    assert len(d_sn) == 10 + 2  # convs, linear head, projection embedding
    assert all(m.parametrizations.weight[0].eps == 1e-8 for m in g_sn + d_sn)
    assert isinstance(d.embed, nn.Embedding) and d.embed in d_sn
    ccbn_tables = [t for m in g.modules() if isinstance(m, ClassConditionalBatchNorm2d) for t in (m.gain, m.bias)]
    assert len(ccbn_tables) == 12 and not any(t in g_sn for t in ccbn_tables)
    assert all(m.norm.eps == 1e-5 for m in g.modules() if isinstance(m, ClassConditionalBatchNorm2d))


def test_sn_only_where_the_reference_has_it():
    assert sn_layers(rm.build_generator("autogan", g_channels=8)) == []
    assert sn_layers(rm.build_generator("sngan", g_channels=8)) == []
    g, d = small_pair("wgan-gp", width=8)
    assert sn_layers(g) == [] and sn_layers(d) == []
    assert len(sn_layers(rm.build_discriminator("autogan", d_channels=8, d_spectral_norm=False))) == 0


# --------------------------------------------------------------------------- heads, pooling and init


@pytest.mark.parametrize(("name", "pool", "has_bias"), [("autogan", "sum", False), ("sngan", "sum", False), ("wgan-gp", "mean", True), ("biggan", "sum", True)])
def test_discriminator_head_pooling_and_bias(name, pool, has_bias):
    torch.manual_seed(0)
    _, d = small_pair(name, width=8)
    d.eval()
    x = torch.randn(2, 3, 32, 32)
    y = torch.tensor([1, 2]) if d.num_classes else None
    with torch.no_grad():
        h = F.relu(d.blocks(x))
        assert h.shape == (2, 8, 8, 8)
        pooled = h.sum(dim=(2, 3)) if pool == "sum" else h.mean(dim=(2, 3))
        expected = d.linear(pooled).flatten()
        if y is not None:
            expected = expected + (d.embed(y) * pooled).sum(dim=1)
        assert torch.allclose(critic(d, x, y), expected, atol=1e-5)
    assert (d.linear.bias is not None) == has_bias


def _glorot_std(conv: nn.Conv2d, gain: float) -> float:
    w = raw_weight(conv)
    receptive = w[0, 0].numel()
    return gain * math.sqrt(2.0 / ((w.shape[0] + w.shape[1]) * receptive))


def test_initialisation_follows_each_official_code():
    torch.manual_seed(0)
    sqrt2 = math.sqrt(2.0)
    # WGAN-GP tflib: "He" (= Glorot gain sqrt 2) 3x3 block convs, Glorot 1x1 shortcut and output conv, zero biases.
    g = rm.build_generator("wgan-gp", g_channels=64)
    block = g.blocks[0]
    for conv, gain in [(block.conv1, sqrt2), (block.shortcut, 1.0), (g.out_conv, 1.0)]:
        assert conv.weight.std().item() == pytest.approx(_glorot_std(conv, gain), rel=0.1)
        assert torch.count_nonzero(conv.bias) == 0
    # SN-GAN Chainer: the same rule.
    g = rm.build_generator("sngan", g_channels=64)
    assert g.blocks[1].conv2.weight.std().item() == pytest.approx(_glorot_std(g.blocks[1].conv2, sqrt2), rel=0.1)
    assert g.out_norm.eps == 2e-5
    # AutoGAN: xavier gain 1 on convs, BN gamma ~ N(1, 0.02).
    g = rm.build_generator("autogan", g_channels=64)
    assert g.cell2.c1.weight.std().item() == pytest.approx(_glorot_std(g.cell2.c1, 1.0), rel=0.1)
    gamma = g.to_rgb[0].weight
    assert abs(gamma.mean().item() - 1.0) < 0.01 and 0.01 < gamma.std().item() < 0.03
    # BigGAN N02: conv weights and conditional-BN tables ~ N(0, 0.02).
    g, d = small_pair("biggan", width=64)
    assert raw_weight(g.blocks[0].conv1).std().item() == pytest.approx(0.02, rel=0.1)
    assert g.blocks[0].norm1.gain.weight.std().item() == pytest.approx(0.02, rel=0.15)
    assert raw_weight(d.blocks[1].conv2).std().item() == pytest.approx(0.02, rel=0.1)


# --------------------------------------------------------------------------- AutoGAN's in-place skip


def test_autogan_cell3_receives_cell2_skip_with_cross_scale_term():
    """The official Cell aliases ``skip = c1(h)`` then adds the resized skips in place, so the skip handed from
    Cell2 to Cell3 includes conv1x1(bilinear(skip1)). Recompute the whole G by hand and check that variant, and that
    the capture-before-add variant gives a different image."""
    torch.manual_seed(0)
    g = rm.build_generator("autogan", g_channels=8).eval()
    z = torch.randn(2, g.latent_dim)

    def up(t, mode):
        return F.interpolate(t, scale_factor=2, mode=mode)

    def resize(t, side, mode):
        return F.interpolate(t, size=(side, side), mode=mode)

    with torch.no_grad():
        h = g.l1(z).view(2, 8, 4, 4)
        c1, c2, c3 = g.cell1, g.cell2, g.cell3
        skip1 = c1.c1(up(F.relu(h), "nearest"))
        h1 = c1.c2(F.relu(skip1)) + c1.c_sc(up(h, "nearest"))
        c2_conv = c2.c1(up(F.relu(h1), "bilinear"))
        skip2 = c2_conv + c2.skip_in_ops[0](resize(skip1, 16, "bilinear"))
        h2 = c2.c2(F.relu(skip2)) + c2.c_sc(up(h1, "bilinear"))

        def finish(skip_from_cell2):
            a3 = c3.c1(up(F.relu(h2), "nearest"))
            a3 = a3 + c3.skip_in_ops[0](resize(skip1, 32, "nearest")) + c3.skip_in_ops[1](resize(skip_from_cell2, 32, "nearest"))
            return g.to_rgb(c3.c2(F.relu(a3)))

        out = g(z)
        returned_skip2, _ = c2(h1, (skip1,))
        assert torch.allclose(returned_skip2, skip2, atol=1e-6)
        assert torch.allclose(out, finish(skip2), atol=1e-5)
        assert (out - finish(c2_conv)).abs().max() > 1e-3
