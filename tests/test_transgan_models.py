"""TransGAN reference models: parameter counts, shapes, attention paths, locality masks, MT-CT, one step."""

import pytest
import torch

import reference_models
from reference_models import build_discriminator, build_generator, count_parameters
from reference_models.transgan import (
    GeneratorConfig,
    downsample_to_bottom,
    locality_mask,
    locality_width,
)

# transgan.md section 5 (measured on the official classes), in millions: (G, D)
PAPER_COUNTS = {
    "transgan-s": (34.37, 12.46),
    "transgan-m": (49.86, 12.46),
    "transgan-l": (86.90, 12.46),
    "transgan-xl": (133.59, 12.46),
    "transgan-stl10": (150.06, 12.49),
    "transgan-celeba64": (132.93, 12.53),
    "transgan-neurips": (83.31, 10.21),
}
# Smoke size: 16x16 images (bottom 4) keep the last stage at 256 tokens, so CPU steps take milliseconds.
SMOKE_G = dict(latent_dim=16, embed_dim=32, depths=(1, 1, 1), bottom_width=4)
SMOKE_D = dict(embed_dim=32, depth=2, resolution=16)


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_parameter_counts_match_the_official_code(name):
    # Built on the meta device: exact shapes and counts, no memory, no init cost.
    with torch.device("meta"):
        g, d = build_generator(name), build_discriminator(name)
    for model, target in zip((g, d), PAPER_COUNTS[name]):
        measured = count_parameters(model) / 1e6
        assert abs(measured - target) / target < 0.005
        assert round(measured, 2) == target  # agrees to the precision transgan.md reports


def test_registered_in_the_package():
    assert set(PAPER_COUNTS) <= set(reference_models.generator_names())
    assert set(PAPER_COUNTS) <= set(reference_models.discriminator_names())
    with pytest.raises(TypeError):
        build_generator("transgan-s", no_such_field=1)


def test_full_size_small_model_forward():
    torch.manual_seed(0)
    g = build_generator("transgan-s")
    assert (g.latent_dim, g.num_classes, g.latent_distribution, g.resolution, g.channels) == (1024, 0, "normal", 32, 3)
    with torch.no_grad():
        x = g(torch.randn(1, 1024))
        assert x.shape == (1, 3, 32, 32) and torch.isfinite(x).all()
        assert build_discriminator("transgan-neurips")(x).shape == (1,)


@pytest.mark.parametrize("name,depths,side", [
    ("transgan-s", (1, 1, 1), 32), ("transgan-xl", (1, 2, 1), 32), ("transgan-stl10", (1, 1, 1), 48),
    ("transgan-celeba64", (1, 1, 1, 1), 64), ("transgan-neurips", (1, 1, 1), 32),
])
def test_smoke_shapes(name, depths, side):
    torch.manual_seed(0)
    g = build_generator(name, latent_dim=16, embed_dim=64, depths=depths)
    d = build_discriminator(name, embed_dim=32, depth=2)  # built for the paper resolution
    x = g(torch.randn(2, 16))
    assert x.shape == (2, 3, side, side) and g.resolution == side
    assert d(x).shape == (2,)
    assert d(torch.randn(2, 3, 32, 32)).shape == (2,)  # any multiple of the patch size


def test_generator_widths_and_heads():
    g = build_generator("transgan-xl", **{**SMOKE_G, "embed_dim": 256})
    assert g.widths == [256, 64, 16] and g.sides == [4, 8, 16] and g.resolution == 16
    assert [stage[0].attn.num_heads for stage in g.stages] == [4, 4, 4]
    tiny = build_generator("transgan-s", **SMOKE_G)  # widths 32 / 8 / 2: the last stage can have 2 heads only
    assert [stage[0].attn.num_heads for stage in tiny.stages] == [4, 4, 2]


@pytest.mark.parametrize("name,local_init", [("transgan-s", "band"), ("transgan-neurips", "off"), ("transgan-neurips", "window")])
def test_explicit_attention_equals_sdpa(name, local_init):
    torch.manual_seed(0)
    fused = build_generator(name, **SMOKE_G, local_init=local_init)  # neurips + window: bias and mask combined
    explicit = build_generator(name, **SMOKE_G, local_init=local_init, attention="explicit")
    explicit.load_state_dict(fused.state_dict())
    z = torch.randn(4, 16)
    if fused.locality is not None:
        assert fused.locality.width == 4  # the mask is active at epoch 0
    torch.testing.assert_close(explicit(z), fused(z), atol=1e-5, rtol=1e-5)

    d_fused = build_discriminator(name, **SMOKE_D)
    d_explicit = build_discriminator(name, **SMOKE_D, attention="explicit")
    d_explicit.load_state_dict(d_fused.state_dict())
    x = torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(d_explicit(x), d_fused(x), atol=1e-5, rtol=1e-5)


def test_locality_schedule_boundaries():
    expected_32 = [(0, 4), (21.99, 4), (22, 6), (31.99, 6), (32, 8), (41.99, 8), (42, 10), (59.99, 10), (60, None), (500, None)]
    for epoch, width in expected_32:
        assert locality_width(epoch, 32) == width, epoch
        assert locality_width(epoch, 48) == width, epoch  # STL v1 uses the 32x32 schedule
    expected_64 = [(0, 8), (4.99, 8), (5, 12), (9.99, 12), (10, 16), (14.99, 16), (15, 20), (19.99, 20), (20, None)]
    for epoch, width in expected_64:
        assert locality_width(epoch, 64) == width, epoch
    with pytest.raises(ValueError):
        locality_width(0, 128)


def test_band_and_window_masks():
    band, window = locality_mask(8, 1, "band"), locality_mask(8, 1, "window")
    assert band.shape == window.shape == (64, 64) and band.dtype == torch.bool
    assert band.diagonal().all() and window.diagonal().all()
    i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    assert torch.equal(band, (i - j).abs() <= 1)
    assert band[7, 8]  # the raster band wraps from the end of row 0 to the start of row 1 ...
    assert not window[7, 8]  # ... the 2-D window does not
    assert window[0, 9] and not band[0, 9]  # (0,0) -> (1,1): diagonal neighbour only in the window
    assert window[3 * 8 + 3].sum() == 9 and band[3 * 8 + 3].sum() == 3
    assert window[0].sum() == 4  # corner: clipped square


def test_mask_sits_on_the_last_block_and_follows_the_epoch():
    torch.manual_seed(0)
    g = build_generator("transgan-s", **{**SMOKE_G, "depths": (1, 1, 2)})
    global_g = build_generator("transgan-s", **{**SMOKE_G, "depths": (1, 1, 2)}, local_init="off")
    global_g.load_state_dict(g.state_dict(), strict=False)  # same weights; no epoch state
    z = torch.randn(2, 16)
    assert not torch.allclose(g(z), global_g(z), atol=1e-6)  # w = 4 at epoch 0
    mask = g.locality.mask(16, z.device)
    assert torch.equal(mask, locality_mask(16, 4, "band"))
    assert g.locality.mask(16, z.device) is mask  # cached, not rebuilt
    g.set_data_epoch(22)
    assert g.locality.width == 6 and g.locality.mask(16, z.device) is not mask
    g.set_data_epoch(60)
    assert g.locality.mask(16, z.device) is None
    torch.testing.assert_close(g(z), global_g(z))  # global from epoch 60

    g.set_data_epoch(0)
    masks_seen = []
    for stage in g.stages:
        for block in stage:
            block.register_forward_pre_hook(lambda module, args: masks_seen.append(args[2] is not None))
    g(z)
    assert masks_seen == [False, False, False, True]  # only the last block of the last stage

    # the epoch is part of the state dict, so a reloaded generator masks the same way
    g.set_data_epoch(33.5)
    fresh = build_generator("transgan-s", **{**SMOKE_G, "depths": (1, 1, 2)})
    fresh.load_state_dict(g.state_dict())
    assert fresh.locality.data_epoch == 33.5 and fresh.locality.width == 8


def test_window_locality_changes_output():
    torch.manual_seed(0)
    band = build_generator("transgan-s", **SMOKE_G)
    window = build_generator("transgan-s", **SMOKE_G, local_init="window")
    window.load_state_dict(band.state_dict())
    z = torch.randn(2, 16)
    assert not torch.allclose(band(z), window(z), atol=1e-6)
    with pytest.raises(ValueError):
        build_generator("transgan-s", **SMOKE_G, local_init="grid")


def test_relative_position_bias_only_in_neurips():
    neurips = build_generator("transgan-neurips", **SMOKE_G)
    v1 = build_generator("transgan-xl", **SMOKE_G)
    tables = [b.attn.relative_position.table.shape for stage in neurips.stages for b in stage]
    assert tables == [(4, 7, 7), (4, 15, 15), (2, 31, 31)]  # (heads, 2w - 1, 2w - 1), w = map side
    assert all(b.attn.relative_position is None for stage in v1.stages for b in stage)
    assert neurips.locality is None and v1.locality is not None


def test_co_training_super_resolution():
    torch.manual_seed(0)
    plain = build_generator("transgan-s", **SMOKE_G)
    g = build_generator("transgan-s", **SMOKE_G, co_train_sr=True)
    assert plain.sr_embed is None
    assert count_parameters(g) - count_parameters(plain) == 3 * 32 + 32  # only the 3 -> 32 embedding
    with pytest.raises(RuntimeError):
        plain.super_resolve(torch.zeros(2, 3, 4, 4))

    real = torch.rand(2, 3, 16, 16) * 2 - 1
    low = downsample_to_bottom(real, 4)
    assert low.shape == (2, 3, 4, 4)
    torch.testing.assert_close(low[:, :, 0, 0], real[:, :, :4, :4].mean(dim=(2, 3)))
    assert downsample_to_bottom(torch.rand(1, 3, 64, 64), 8).shape == (1, 3, 8, 8)
    out = g.super_resolve(low)
    assert out.shape == real.shape
    (50 * torch.nn.functional.mse_loss(out, real)).backward()
    assert g.sr_embed.weight.grad.abs().sum() > 0
    assert g.stages[0][0].attn.qkv.weight.grad.abs().sum() > 0  # shared trunk is trained too
    assert g.latent_to_tokens.weight.grad is None  # the z path is not used
    with pytest.raises(ValueError):
        g.super_resolve(torch.zeros(2, 3, 16, 16))


@pytest.mark.parametrize("name", ["transgan-s", "transgan-neurips"])
def test_one_optimisation_step(name):
    torch.manual_seed(0)
    g, d = build_generator(name, **SMOKE_G), build_discriminator(name, **SMOKE_D)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.0, 0.99))
    real, z = torch.rand(4, 3, 16, 16) * 2 - 1, torch.randn(4, 16)

    d_before = [p.detach().clone() for p in d.parameters()]
    d_loss = -d(real).mean() + d(g(z).detach()).mean()
    opt_d.zero_grad(); d_loss.backward(); opt_d.step()
    assert torch.isfinite(d_loss)
    assert all(p.grad is not None for p in d.parameters())  # noise strengths included
    assert any(not torch.equal(a, b) for a, b in zip(d_before, d.parameters()))

    g_before = [p.detach().clone() for p in g.parameters()]
    g_loss = -d(g(z)).mean()
    opt_g.zero_grad(); g_loss.backward(); opt_g.step()
    assert torch.isfinite(g_loss)
    assert all(p.grad is not None for p in g.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(g_before, g.parameters()))


def test_initialisation_follows_the_official_code():
    torch.manual_seed(0)
    g = build_generator("transgan-s", **SMOKE_G)
    d = build_discriminator("transgan-neurips", embed_dim=64, depth=1)
    assert all(p.abs().max() < 0.1 and 0.01 < p.std() < 0.03 for p in g.pos_embeds)  # trunc-normal .02
    fan_in = g.latent_to_tokens.in_features  # PyTorch default Linear init: U(+-1/sqrt(fan_in))
    assert g.latent_to_tokens.weight.abs().max() <= fan_in ** -0.5
    assert g.latent_to_tokens.bias.abs().max() > 0
    linear = d.blocks_fine[0].mlp.fc1
    assert 0.015 < linear.weight.std() < 0.025 and torch.all(linear.bias == 0)
    assert all(b.attn.noise_strength == 0 for b in [*d.blocks_fine, *d.blocks_coarse, d.last_block])
    assert d.last_block.attn.relative_position is None


def test_discriminator_accepts_other_sizes_and_validates():
    d = build_discriminator("transgan-s", **SMOKE_D)
    assert d(torch.randn(2, 3, 32, 32)).shape == (2,)
    assert d(torch.randn(2, 3, 16, 24)).shape == (2,)
    ms = build_discriminator("transgan-neurips", **SMOKE_D)
    assert ms(torch.randn(2, 3, 24, 24)).shape == (2,)
    with pytest.raises(ValueError):
        build_discriminator("transgan-s", relative_position=True)
    with pytest.raises(ValueError):
        build_generator("transgan-s", embed_dim=40)  # not divisible by 16
    assert GeneratorConfig(depths=[1, 2]).depths == (1, 2)
