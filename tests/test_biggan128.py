"""BigGAN ImageNet architecture (reference_models/biggan.py ImageNetGenerator / ImageNetDiscriminator), its Table 1
switches, standing statistics and orthogonal regularisation (gbench/losses.py)."""

import contextlib
import copy
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrizations, parametrize

import reference_models as R
from gbench.losses import d_loss, g_loss, orthogonal_regularization
from reference_models.biggan import (IMAGENET_CONFIGS, ConditionalBatchNorm, ImageNetGenerator, SelfAttention,
                                     accumulate_standing_stats)

# BigGAN paper Table 1 (shared/reference/paper_tables.md): Param (M) = G + D, and the switches of each row.
TABLE1 = [  # (registered model, overrides, paper params M, shared, hier)
    ("biggan-imagenet128-ch64-baseline", {}, 81.5, False, False),  # rows 1-4 (batch 256..2048)
    ("biggan-imagenet128-ch64-baseline", {"init": "xavier", "sn_eps": 1e-8}, 81.5, False, False),  # row 1: SA-GAN
    ("biggan-imagenet128-ch96-baseline", {}, 173.5, False, False),  # row 5
    ("biggan-imagenet128-ch96-shared", {}, 160.6, True, False),  # row 6
    ("biggan-imagenet128", {}, 158.3, True, True),  # rows 7-8 (row 8 adds orthogonal regularisation)
    ("biggan-imagenet128-ch64", {}, 71.3, True, True),  # row 9
]
TINY = dict(resolution=32, g_ch=4, d_ch=4, latent_dim=32, shared_dim=16, num_classes=5, g_attention=(16,), d_attention=(16,))


def tiny_pair(**overrides):
    torch.manual_seed(0)
    cfg = {**TINY, **overrides}
    return R.build_generator("biggan-smoke32", **cfg), R.build_discriminator("biggan-smoke32", **cfg)


@contextlib.contextmanager
def meta_device_fast():
    """Build on the meta device without spectral norm's 15-step u/v warm-up (slow through meta decompositions;
    it adds no parameters, so the counts are unchanged)."""
    with mock.patch.object(parametrizations._SpectralNorm, "_power_method", lambda self, weight, n: None), torch.device("meta"):
        yield


@pytest.fixture(scope="module")
def table1_models():
    built = {}
    with meta_device_fast():
        for name, overrides, *_ in TABLE1:
            key = (name, tuple(sorted(overrides.items())))
            built[key] = (R.build_generator(name, **overrides), R.build_discriminator(name, **overrides))
    return built


@pytest.mark.parametrize(("name", "overrides", "paper_m", "shared", "hier"), TABLE1,
                         ids=["rows1-4", "row1-sagan", "row5", "row6", "rows7-8", "row9"])
def test_table1_parameter_counts_within_half_percent(table1_models, name, overrides, paper_m, shared, hier):
    g, d = table1_models[(name, tuple(sorted(overrides.items())))]
    total = R.count_parameters(g) + R.count_parameters(d)
    assert abs(total / 1e6 - paper_m) / paper_m < 0.005, (name, total)
    assert (g.shared is not None, g.cfg.hier) == (shared, hier)
    assert g.resolution == 128 and g.num_classes == 1000


def test_full_model_matches_official_launch_script(table1_models):
    cfg = IMAGENET_CONFIGS["biggan-imagenet128"]
    # scripts/launch_BigGAN_bs256x8.sh: --G_ch 96 --D_ch 96 --hier --dim_z 120 --shared_dim 128 --G_attn 64 --D_attn 64
    # --SN_eps 1e-6 --BN_eps 1e-5 --G_init ortho --D_init ortho --G_shared
    assert (cfg.g_ch, cfg.d_ch, cfg.latent_dim, cfg.shared_dim, cfg.g_attention, cfg.d_attention) == (96, 96, 120, 128, (64,), (64,))
    assert (cfg.sn_eps, cfg.bn_eps, cfg.init, cfg.shared, cfg.hier) == (1e-6, 1e-5, "ortho", True, True)
    g, d = table1_models[("biggan-imagenet128", ())]
    assert g.z_chunk == 20 and g.num_slots == 6
    assert [b.conv1.out_channels for b in g.blocks] == [1536, 768, 384, 192, 96]
    assert list(g.attention) == ["3"] and g.attention["3"].channels == 192  # after the 64x64 block
    assert g.blocks[0].norm1.gain.in_features == 128 + 20  # shared embedding + one z chunk
    assert [b.conv2.out_channels for b in d.blocks] == [96, 192, 384, 768, 1536, 1536]
    assert list(d.attention) == ["0"] and d.attention["0"].channels == 96  # after the block with 64x64 output


def test_forward_shapes_and_discriminator_block_features():
    g = R.build_generator("biggan-imagenet128", g_ch=8, d_ch=8, num_classes=3).eval()
    d = R.build_discriminator("biggan-imagenet128", g_ch=8, d_ch=8, num_classes=3).eval()
    z, y = torch.randn(2, 120), torch.tensor([0, 2])
    with torch.no_grad():
        x = g(z, y)
        features = d.block_features(x)
        logits = d(x, y)
    assert x.shape == (2, 3, 128, 128) and x.abs().max() <= 1
    # DGP's feature list at 128: 6 blocks + the attention after block 0 + the pooled vector.
    assert [tuple(f.shape[1:]) for f in features] == [(8, 64, 64), (8, 64, 64), (16, 32, 32), (32, 16, 16), (64, 8, 8),
                                                      (128, 4, 4), (128, 4, 4), (128,)]
    assert torch.allclose(features[-1], F.relu(features[-2]).sum(dim=(2, 3)))
    expected = d.linear(features[-1]).flatten() + (d.embed(y) * features[-1]).sum(1)
    assert logits.shape == (2,) and torch.allclose(logits, expected)


def test_spectral_norm_placement():
    g, d = tiny_pair()
    sn = lambda m: parametrize.is_parametrized(m, "weight")
    assert not sn(g.shared)  # the official G's embedding never carries SN
    assert sn(g.linear) and sn(g.out_conv) and sn(g.blocks[0].conv1) and sn(g.blocks[0].shortcut)
    assert sn(g.blocks[0].norm1.gain) and sn(g.blocks[0].norm1.bias)  # SN-Linear CBN projections
    assert all(sn(c) for c in (g.attention["1"].theta, g.attention["1"].phi, g.attention["1"].g, g.attention["1"].o))
    assert sn(d.linear) and sn(d.embed) and all(sn(b.conv1) for b in d.blocks)
    g2, _ = tiny_pair(shared=False, hier=False)
    assert g2.shared is None and isinstance(g2.blocks[0].norm1.gain, torch.nn.Embedding) and not sn(g2.blocks[0].norm1.gain)


def test_ortho_init_makes_rows_orthonormal():
    g, _ = tiny_pair()
    w = g.linear.parametrizations.weight.original  # (256, 8): orthonormal columns
    assert torch.allclose(w.t() @ w, torch.eye(w.shape[1]), atol=1e-5)
    w = g.shared.weight  # (5, 16): orthonormal rows
    assert torch.allclose(w @ w.t(), torch.eye(5), atol=1e-5)


def test_attention_equals_official_matmul_softmax():
    torch.manual_seed(1)
    attn = SelfAttention(16)
    with torch.no_grad():
        attn.gamma.fill_(0.8)
    x = torch.randn(2, 16, 8, 8)
    theta = attn.theta(x).view(2, 2, 64)
    phi = F.max_pool2d(attn.phi(x), 2).view(2, 2, 16)
    g = F.max_pool2d(attn.g(x), 2).view(2, 8, 16)
    beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)  # layers.Attention: no 1/sqrt(d)
    expected = attn.gamma * attn.o(torch.bmm(g, beta.transpose(1, 2)).view(2, 8, 8, 8)) + x
    assert torch.allclose(attn(x), expected, atol=1e-5)


def test_hierarchical_z_feeds_one_chunk_per_block():
    g, _ = tiny_pair()  # 3 blocks -> 4 chunks of 8
    g.eval()
    outputs = []
    hooks = [b.register_forward_hook(lambda m, a, o: outputs.append(o)) for b in g.blocks]
    z, y = torch.randn(1, 32), torch.tensor([1])
    with torch.no_grad():
        g(z, y)
        base = list(outputs)
        outputs.clear()
        z2 = z.clone()
        z2[:, 16:24] += 1.0  # chunk 2 -> block 1
        g(z2, y)
    for hook in hooks:
        hook.remove()
    assert torch.equal(outputs[0], base[0])  # block 0 does not see chunk 2
    assert not torch.allclose(outputs[1], base[1])  # block 1 does
    assert g.blocks[1].norm1.gain.in_features == 16 + 8


def test_config_errors_are_one_line():
    with pytest.raises(ValueError, match="needs shared=True"):
        R.build_generator("biggan-smoke32", shared=False, hier=True)
    with pytest.raises(ValueError, match="not divisible by 4"):
        R.build_generator("biggan-smoke32", latent_dim=30)
    with pytest.raises(ValueError, match="resolution"):
        R.build_generator("biggan-smoke32", resolution=48)


@pytest.mark.parametrize(("shared", "hier", "ortho"), [(False, False, False), (True, False, False), (True, True, False), (True, True, True)],
                         ids=["baseline", "shared", "shared+hier", "shared+hier+ortho"])
def test_one_training_step_per_switch(shared, hier, ortho):
    g, d = tiny_pair(shared=shared, hier=hier, latent_dim=32 if hier else 24)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.0, 0.999), eps=1e-6)
    opt_d = torch.optim.Adam(d.parameters(), lr=4e-4, betas=(0.0, 0.999), eps=1e-6)
    before = copy.deepcopy(g.state_dict())
    real, labels = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 3])
    z, y = torch.randn(4, g.latent_dim), torch.tensor([4, 3, 2, 1])
    loss_d = d_loss("hinge", d(real, labels), d(g(z, y).detach(), y))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = g_loss("hinge", d(g(z, y), y))
    if ortho:
        loss_g = loss_g + orthogonal_regularization(g.ortho_weights(), strength=1e-4)
    opt_g.zero_grad()
    loss_g.backward()
    if shared:
        assert g.shared.weight.grad is not None and g.shared.weight.grad.abs().sum() > 0
    opt_g.step()
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
    after = g.state_dict()
    assert not torch.equal(after["linear.parametrizations.weight.original"], before["linear.parametrizations.weight.original"])


def test_orthogonal_regularization_hand_computation():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    # W W^T = [[5, 11], [11, 25]]: off-diagonal squares 2 * 121; loss = strength / 2 * 242
    loss = orthogonal_regularization([w], strength=0.5)
    assert loss.item() == pytest.approx(0.25 * 242)
    loss.backward()
    # utils.ortho's update: strength * 2 * ((W W^T) * (1 - I)) W = 0.5 * 2 * [[0, 11], [11, 0]] @ W
    assert torch.allclose(w.grad, torch.tensor([[33.0, 44.0], [11.0, 22.0]]))


def test_orthogonal_regularization_gradient_equals_official_update_on_conv_weights():
    torch.manual_seed(0)
    weights = [torch.randn(6, 3, 3, 3, requires_grad=True), torch.randn(5, 7, requires_grad=True)]
    orthogonal_regularization(weights, strength=1e-4).backward()
    for w in weights:
        flat = w.detach().view(w.shape[0], -1)
        official = 2 * (flat @ flat.t() * (1.0 - torch.eye(flat.shape[0]))) @ flat
        assert torch.allclose(w.grad, 1e-4 * official.view_as(w), rtol=1e-5, atol=1e-9)


def test_ortho_weights_are_official_selection():
    g, _ = tiny_pair()
    chosen = {id(p) for p in g.ortho_weights()}
    names = {n for n, p in g.named_parameters() if id(p) in chosen}
    assert "shared.weight" not in names  # train_fns: blacklist=G.shared.parameters()
    assert all(p.ndim >= 2 for p in g.ortho_weights())
    assert {"linear.parametrizations.weight.original", "blocks.0.norm1.gain.parametrizations.weight.original",
            "attention.1.theta.parametrizations.weight.original"} <= names
    assert not any(n.endswith(("bias", "gamma", "out_norm.weight")) for n in names)


def test_standing_stats_average_the_batch_statistics():
    g, _ = tiny_pair()
    torch.manual_seed(3)
    batches = [(torch.randn(6, 32), torch.randint(0, 5, (6,))) for _ in range(4)]
    bn = g.blocks[1].norm2.norm
    seen = []
    hook = bn.register_forward_hook(lambda m, a, o: seen.append((a[0].mean(dim=(0, 2, 3)), a[0].var(dim=(0, 2, 3), unbiased=True))))
    u_before = g.linear.parametrizations.weight[0]._u.clone()
    g.train()
    feed = iter(batches)
    accumulate_standing_stats(g, lambda: next(feed), n=4)
    hook.remove()
    assert len(seen) == 4 and not g.training and not bn.training
    assert torch.allclose(bn.running_mean, torch.stack([m for m, _ in seen]).mean(0), atol=1e-6)
    assert torch.allclose(bn.running_var, torch.stack([v for _, v in seen]).mean(0), atol=1e-5)
    assert bn.momentum == 0.1 and int(bn.num_batches_tracked) == 4
    assert torch.equal(g.linear.parametrizations.weight[0]._u, u_before)  # SN vectors untouched
    # Evaluation now uses the standing statistics: a fixed batch gives the same output alone or inside another batch.
    with torch.no_grad():
        z, y = batches[0]
        assert torch.allclose(g(z[:2], y[:2]), g(z, y)[:2], atol=1e-5)


def test_conditional_bn_tables_or_projections():
    norm = ConditionalBatchNorm(4, cond_dim=0, num_classes=3, eps=1e-5).eval()
    with torch.no_grad():
        norm.gain.weight.copy_(torch.arange(12.0).view(3, 4) / 10)
        norm.bias.weight.fill_(0.5)
    x, y = torch.randn(2, 4, 3, 3), torch.tensor([2, 0])
    expected = norm.norm(x) * (1 + norm.gain.weight[y])[:, :, None, None] + 0.5
    assert torch.allclose(norm(x, y), expected)
    assert isinstance(ImageNetGenerator, type)
