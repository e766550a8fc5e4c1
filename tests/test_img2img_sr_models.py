"""pix2pix, CycleGAN and SRGAN reference models: parameter counts, shapes, PatchGAN receptive fields measured by
gradient, input-size errors, and one optimisation step each (shared/reference/models.md sections 6-8)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reference_models as R
from reference_models.srgan import UnitRangeSR

# (kind, name, overrides, trainable parameters); targets from models.md 6-8, the encoder-decoder one derived below.
PARAMETER_COUNTS = [
    ("G", "pix2pix", {}, 54_413_955),
    ("G", "pix2pix-unet128", {}, 41_828_995),
    # U-Net-256 minus the skip halves of the non-innermost up-conv inputs (16 = 4x4 kernel):
    # 16 * (64*3 + 128*64 + 256*128 + 512*256 + 3 * 512*512) = 15,338,496.
    ("G", "pix2pix-encoder-decoder", {}, 54_413_955 - 15_338_496),
    ("D", "pix2pix", {"receptive_field": 1}, 9_024),
    ("D", "pix2pix", {"receptive_field": 16}, 139_585),
    ("D", "pix2pix", {}, 2_768_705),
    ("D", "pix2pix", {"receptive_field": 286}, 11_159_361),
    ("G", "cyclegan", {}, 11_378_179),
    ("G", "cyclegan-resnet6", {}, 7_837_699),
    ("D", "cyclegan", {}, 2_764_737),
    ("G", "srgan", {}, 1_549_462),
    ("G", "srresnet", {}, 1_549_462),
    ("D", "srgan", {}, 23_565_505),
]


def build(kind, name, **overrides):
    return (R.build_generator if kind == "G" else R.build_discriminator)(name, **overrides)


@pytest.fixture(scope="module")
def unet256():
    torch.manual_seed(0)
    return R.build_generator("pix2pix")


@pytest.mark.parametrize("kind,name,overrides,expected", PARAMETER_COUNTS)
def test_parameter_counts_are_exact(kind, name, overrides, expected, unet256):
    model = unet256 if (kind, name, overrides) == ("G", "pix2pix", {}) else build(kind, name, **overrides)
    assert R.count_parameters(model) == expected


def test_registry_names_and_generator_attributes():
    assert {"pix2pix", "pix2pix-unet128", "pix2pix-encoder-decoder", "cyclegan", "cyclegan-resnet6", "srgan", "srresnet"} <= set(R.generator_names())
    assert {"pix2pix", "cyclegan", "srgan"} <= set(R.discriminator_names())
    small = {"pix2pix": dict(g_channels=4, num_downs=5), "cyclegan": dict(g_channels=4, n_blocks=1), "srgan": dict(g_channels=4, n_blocks=1)}
    tasks = {"pix2pix": "paired", "cyclegan": "unpaired", "srgan": "super_resolution"}
    for name, overrides in small.items():
        g = R.build_generator(name, **overrides)
        assert g.task == tasks[name] and (g.in_channels, g.out_channels) == (3, 3)
        assert not hasattr(g, "latent_dim")
    assert R.build_generator("srgan", g_channels=4, n_blocks=1).scale == 4
    with pytest.raises(TypeError):
        R.build_generator("pix2pix", latent_dim=100)
    with pytest.raises(ValueError, match="receptive_field"):
        R.build_discriminator("pix2pix", receptive_field=34)
    with pytest.raises(ValueError, match="power of two"):
        R.build_generator("srgan", scale=3)


# ---------------------------------------------------------------- pix2pix


def test_unet256_layout_and_full_size_output(unet256):
    # Official parity: skips read the LeakyReLU-activated encoder outputs; the bottleneck output goes on raw.
    assert all(isinstance(level[-1], nn.LeakyReLU) for level in unet256.encoder[:-1])
    assert isinstance(unet256.encoder[-1][-1], nn.Conv2d) and isinstance(unet256.decoder[-1][0], nn.ReLU)
    norms = [m for m in unet256.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 6 + 7  # encoder levels 2-7 (not outermost, not innermost) + every decoder level but the last
    dropouts = [m for m in unet256.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 3 and all(d.p == 0.5 for d in dropouts)
    assert _dropout_levels(unet256) == [5, 6, 7]  # the paper's Torch code: d1-d3, the innermost up block (decoder[7]) included
    convs = [m for m in unet256.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [m for m in convs if m.bias is not None] == [unet256.decoder[0][1]]  # only the final ConvT, batch norm
    assert isinstance(unet256.decoder[0][-1], nn.Tanh)
    big = unet256.decoder[7][1].weight  # 512x512x4x4 innermost up-conv: N(0, 0.02)
    assert abs(big.mean().item()) < 1e-3 and 0.0195 < big.std().item() < 0.0205
    bn_weight = torch.cat([m.weight for m in norms])
    assert 0.99 < bn_weight.mean().item() < 1.01 and 0.015 < bn_weight.std().item() < 0.025
    unet256.eval()
    with torch.no_grad():
        out = unet256(torch.rand(1, 3, 256, 256) * 2 - 1)
    assert out.shape == (1, 3, 256, 256) and out.abs().max() <= 1


def _dropout_levels(unet) -> list[int]:
    return [level for level, block in enumerate(unet.decoder) if any(isinstance(m, nn.Dropout) for m in block)]


def test_dropout_levels_paper_vs_pytorch_port():
    """The paper's Torch U-Net drops out on the three decoder levels nearest the bottleneck; the PyTorch port skips the
    innermost one and drops out on num_downs - 5 levels further out. Same parameters, different networks."""
    torch.manual_seed(0)
    paper = R.build_generator("pix2pix", g_channels=4)
    port = R.build_generator("pix2pix", g_channels=4, dropout_levels="pytorch")
    assert _dropout_levels(paper) == [5, 6, 7] and _dropout_levels(port) == [4, 5, 6]
    assert sum(p.numel() for p in paper.parameters()) == sum(p.numel() for p in port.parameters())
    port.load_state_dict(paper.state_dict())
    a = torch.rand(2, 3, 256, 256) * 2 - 1
    for g in (paper, port):
        g.train()
    torch.manual_seed(1)
    out_paper = paper(a)
    torch.manual_seed(1)
    out_port = port(a)
    assert not torch.allclose(out_paper, out_port)  # same weights and RNG: the masks land on other layers
    paper.eval(), port.eval()
    torch.testing.assert_close(paper(a), port(a))  # without dropout the two are the same network
    assert _dropout_levels(R.build_generator("pix2pix-unet128", g_channels=4)) == [4, 5, 6]
    assert _dropout_levels(R.build_generator("pix2pix-unet128", g_channels=4, dropout_levels="pytorch")) == [4, 5]
    with pytest.raises(ValueError, match="dropout_levels"):
        R.build_generator("pix2pix", g_channels=4, dropout_levels="torch")


def test_unet128_dropout_and_small_variants():
    g = R.build_generator("pix2pix-unet128", g_channels=4, dropout_levels="pytorch")
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == 2  # num_downs - 5, as the PyTorch port
    assert g.resolution == 128 and g(torch.randn(2, 3, 128, 128)).shape == (2, 3, 128, 128)
    assert sum(isinstance(m, nn.Dropout) for m in R.build_generator("pix2pix", g_channels=4, dropout=False).modules()) == 0
    encdec = R.build_generator("pix2pix-encoder-decoder", g_channels=4)
    assert encdec(torch.randn(2, 3, 256, 256)).shape == (2, 3, 256, 256)
    inorm = R.build_generator("pix2pix", g_channels=4, num_downs=5, norm="instance")
    convs = [m for m in inorm.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(m.bias is not None for m in convs) and not any(isinstance(m, nn.BatchNorm2d) for m in inorm.modules())
    with pytest.raises(ValueError, match="divisible by 64"):
        R.build_generator("pix2pix", g_channels=4, num_downs=6)(torch.randn(1, 3, 48, 48))


@pytest.mark.parametrize("rf,out_side", [(1, 256), (16, 126), (70, 30), (286, 6)])
def test_patchgan_output_map_at_256(rf, out_side):
    d = R.build_discriminator("pix2pix", receptive_field=rf, d_channels=4)
    assert d.in_channels == 6  # concat(A, B)
    assert d(torch.randn(2, 6, 256, 256)).shape == (2, 1, out_side, out_side)


def measured_receptive_field(disc: nn.Module, size: int) -> tuple[int, int]:
    """Backprop from the central output unit; return the (rows, cols) extent of nonzero input gradient.
    Eval mode, because train-mode BN mixes every pixel of the batch into every output."""
    disc.eval()
    x = torch.randn(1, disc.in_channels, size, size, requires_grad=True)
    out = disc(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    touched = x.grad[0].abs().sum(0) > 0
    rows, cols = touched.any(1).nonzero().flatten(), touched.any(0).nonzero().flatten()
    for idx in (rows, cols):  # the field must lie strictly inside the input, else the measurement is clipped
        assert idx.min() > 0 and idx.max() < size - 1
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("rf,size,width", [(1, 9, 64), (16, 64, 64), (70, 128, 64), (286, 320, 4)])
def test_patchgan_receptive_field_by_gradient(rf, size, width):
    torch.manual_seed(0)
    d = R.build_discriminator("pix2pix", receptive_field=rf, d_channels=width)  # width does not change the field
    assert measured_receptive_field(d, size) == (rf, rf)


# ---------------------------------------------------------------- CycleGAN


@pytest.mark.parametrize("side,out_side", [(64, 64), (72, 72), (70, 72)])
def test_cyclegan_generator_is_fully_convolutional(side, out_side):
    g = R.build_generator("cyclegan", g_channels=8, n_blocks=2)
    assert g(torch.randn(1, 3, side, side + 8)).shape == (1, 3, out_side, out_side + 8)


def test_cyclegan_layout():
    g = R.build_generator("cyclegan")
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in g.modules()) == 2 + 2 * 9
    norms = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in g.modules())
    d_cycle, d_pix = R.build_discriminator("cyclegan"), R.build_discriminator("pix2pix")
    geometry = lambda d: [(m.kernel_size, m.stride, m.padding) for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert geometry(d_cycle) == geometry(d_pix) and d_cycle.in_channels == 3  # same 70x70 field, one image
    assert d_cycle(torch.randn(1, 3, 256, 256)).shape == (1, 1, 30, 30)


# ---------------------------------------------------------------- SRGAN


@pytest.mark.parametrize("scale,overrides", [(4, {}), (2, dict(g_channels=8, n_blocks=2)), (8, dict(g_channels=8, n_blocks=2))])
def test_srresnet_any_lr_size(scale, overrides):
    g = R.build_generator("srresnet", scale=scale, **overrides).eval()
    with torch.no_grad():
        assert g(torch.rand(2, 3, 23, 17)).shape == (2, 3, 23 * scale, 17 * scale)


def test_srresnet_layout_and_unit_range_view():
    torch.manual_seed(0)
    g = R.build_generator("srgan").eval()
    prelus = [m for m in g.modules() if isinstance(m, nn.PReLU)]
    assert len(prelus) == 1 + 16 + 2 and all(p.weight.numel() == 1 for p in prelus)
    assert sum(isinstance(m, nn.PixelShuffle) for m in g.modules()) == 2
    view = UnitRangeSR(g)
    assert R.count_parameters(view) == R.count_parameters(g) and view.scale == 4
    lr = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        raw, hr = g(lr), view(lr)
    assert hr.shape == (1, 3, 48, 40) and hr.min() >= 0 and hr.max() <= 1
    torch.testing.assert_close(hr, ((raw + 1) / 2).clamp(0, 1))


def test_srgan_discriminator_input_size_is_fixed():
    d = R.build_discriminator("srgan", d_channels=4, d_dense=8)
    assert d(torch.randn(2, 3, 96, 96)).shape == (2,)
    with pytest.raises(ValueError, match=r"96x96.*got 64x64"):
        d(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match="got 96x80"):
        d(torch.randn(2, 3, 96, 80))
    assert R.build_discriminator("srgan", d_channels=4, d_dense=8, input_size=64)(torch.randn(2, 3, 64, 64)).shape == (2,)
    with pytest.raises(ValueError, match="multiple of 16"):
        R.build_discriminator("srgan", input_size=90)


# ---------------------------------------------------------------- one optimisation step each


def step_and_check(loss: torch.Tensor, model: nn.Module) -> None:
    """Backprop ``loss`` into ``model`` only, take one Adam step, and require that every parameter moved."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    before = [p.detach().clone() for p in model.parameters()]
    opt.zero_grad()
    assert torch.isfinite(loss)
    loss.backward(inputs=list(model.parameters()))
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    opt.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def bce(logits, real: bool):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


def test_pix2pix_training_step():
    torch.manual_seed(0)
    g = R.build_generator("pix2pix", g_channels=8, num_downs=6)
    d = R.build_discriminator("pix2pix", d_channels=8)
    a, b = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    fake = g(a)
    step_and_check(0.5 * (bce(d(torch.cat([a, b], 1)), True) + bce(d(torch.cat([a, fake.detach()], 1)), False)), d)
    step_and_check(bce(d(torch.cat([a, fake], 1)), True) + 100 * F.l1_loss(fake, b), g)


def test_cyclegan_training_step():
    torch.manual_seed(0)
    g_ab, g_ba = R.build_generator("cyclegan", g_channels=8, n_blocks=2), R.build_generator("cyclegan", g_channels=8, n_blocks=2)
    d_b = R.build_discriminator("cyclegan", d_channels=8)
    x, y = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1
    fake_y = g_ab(x)
    step_and_check(0.5 * ((d_b(y) - 1).pow(2).mean() + d_b(fake_y.detach()).pow(2).mean()), d_b)
    step_and_check((d_b(fake_y) - 1).pow(2).mean() + 10 * F.l1_loss(g_ba(fake_y), x), nn.ModuleList([g_ab, g_ba]))


def test_srgan_training_step():
    torch.manual_seed(0)
    g = R.build_generator("srgan", g_channels=16, n_blocks=2)
    d = R.build_discriminator("srgan", d_channels=8, d_dense=32, input_size=64)
    lr, hr = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 64, 64) * 2 - 1
    sr = g(lr)
    step_and_check(bce(d(hr), True) + bce(d(sr.detach()), False), d)
    step_and_check(F.mse_loss(sr, hr) + 1e-3 * bce(d(sr), True), g)
