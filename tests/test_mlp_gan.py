"""MLP GANs: Goodfellow et al. 2014 MNIST nets (gan-mlp) and the PyTorch-GAN conditional MLP (cgan-mlp)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reference_models import build_discriminator, build_generator, count_parameters
from reference_models.mlp_gan import Maxout


@pytest.mark.parametrize(
    "name, overrides, g_params, d_params",
    [
        ("gan-mlp", {}, 2_503_984, 1_231_441),
        ("cgan-mlp", {}, 1_757_412, 1_055_845),
        ("cgan-mlp", {"resolution": 28}, 1_511_412, 932_965),
    ],
)
def test_parameter_counts(name, overrides, g_params, d_params):
    assert count_parameters(build_generator(name, **overrides)) == g_params
    assert count_parameters(build_discriminator(name, **overrides)) == d_params


def test_gan_mlp_contract_shapes_and_range():
    torch.manual_seed(0)
    G, D = build_generator("gan-mlp"), build_discriminator("gan-mlp")
    assert (G.latent_dim, G.num_classes, G.latent_distribution, G.resolution, G.channels) == (100, 0, "uniform", 28, 1)
    G.output.bias.data.fill_(30.0)  # saturate: the output is 2 * sigmoid - 1, so it must reach but not pass 1
    x = G(torch.rand(5, 100) * 2 - 1)
    assert x.shape == (5, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1 and torch.allclose(x, torch.ones_like(x))
    assert D(x).shape == (5,)


def test_gan_mlp_latent_scale_maps_gbench_uniform_to_unit_variance():
    G = build_generator("gan-mlp")
    assert math.isclose(G.cfg.latent_scale, math.sqrt(3))
    z = torch.rand(4, 100) * 2 - 1
    with torch.no_grad():
        direct = (2 * torch.sigmoid(G.output(G.hidden(z * math.sqrt(3)))) - 1).view(4, 1, 28, 28)
    assert torch.allclose(G(z), direct)
    unscaled = build_generator("gan-mlp", latent_scale=1.0)
    unscaled.load_state_dict(G.state_dict())
    assert not torch.allclose(unscaled(z), G(z))


def test_gan_mlp_init_ranges():
    torch.manual_seed(0)
    G, D = build_generator("gan-mlp"), build_discriminator("gan-mlp")
    assert G.hidden[0].weight.abs().max() <= 0.05 and G.hidden[0].weight.abs().max() > 0.045
    assert torch.all(G.hidden[0].bias == 0)
    first_maxout = D.net[1].linear
    assert first_maxout.weight.abs().max() <= 0.005 and first_maxout.weight.abs().max() > 0.0045


def test_init_output_bias_reproduces_the_mean_image():
    G = build_generator("gan-mlp")
    torch.manual_seed(0)
    marginals = torch.rand(1, 28, 28)
    marginals[0, 0, :3] = torch.tensor([0.0, 1.0, 0.5])
    G.init_output_bias(marginals)
    assert math.isclose(G.output.bias[0].item(), math.log(1e-7 / (1 - 1e-7)), rel_tol=1e-5)  # clipped like pylearn2
    assert G.output.bias[2].item() == 0.0
    G.output.weight.data.zero_()  # isolate the bias: the image becomes the (rescaled) mean image
    x = G(torch.zeros(2, 100))
    assert torch.allclose(x[0], 2 * marginals - 1, atol=1e-5)
    # The same means given in gbench's [-1, 1] range set the same bias.
    bias = G.output.bias.detach().clone()
    G.init_output_bias(2 * marginals - 1, value_range=(-1.0, 1.0))
    assert torch.allclose(G.output.bias, bias, atol=1e-4)
    with pytest.raises(ValueError):
        G.init_output_bias(torch.rand(10))


def test_maxout_takes_the_max_over_adjacent_pieces():
    torch.manual_seed(0)
    m = Maxout(6, units=3, pieces=4)
    x = torch.randn(5, 6)
    z = m.linear(x)
    expected = torch.stack([z[:, 4 * j : 4 * j + 4].max(dim=1).values for j in range(3)], dim=1)
    assert torch.equal(m(x), expected)


def test_gan_mlp_dropout_only_in_train_mode():
    torch.manual_seed(0)
    D = build_discriminator("gan-mlp")
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    D.eval()
    assert torch.equal(D(x), D(x))
    D.train()
    assert not torch.allclose(D(x), D(x))
    dropouts = [m for m in D.modules() if isinstance(m, torch.nn.Dropout)]
    assert [d.p for d in dropouts] == [0.2, 0.5, 0.5]


def test_gan_mlp_one_sgd_step_small():
    torch.manual_seed(0)
    small = dict(latent_dim=8, g_hidden=32, d_units=16, d_pieces=3, resolution=8)
    G, D = build_generator("gan-mlp", **small), build_discriminator("gan-mlp", **small)
    assert count_parameters(G) == (8 * 32 + 32) + (32 * 32 + 32) + (32 * 64 + 64)
    opt_g = torch.optim.SGD(G.parameters(), lr=0.1, momentum=0.5)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.1, momentum=0.5)
    real = torch.rand(10, 1, 8, 8) * 2 - 1
    z = torch.rand(10, 8) * 2 - 1
    loss_d = F.softplus(-D(real)).mean() + F.softplus(D(G(z).detach())).mean()
    opt_d.zero_grad()
    loss_d.backward()
    before = D.net[1].linear.weight.detach().clone()
    opt_d.step()
    assert torch.isfinite(loss_d) and not torch.equal(before, D.net[1].linear.weight)
    loss_g = -F.softplus(D(G(z))).mean()  # minimax: G minimises log(1 - D(G(z)))
    opt_g.zero_grad()
    loss_g.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    before = G.output.weight.detach().clone()
    opt_g.step()
    assert not torch.equal(before, G.output.weight)


def test_cgan_mlp_contract_and_structure():
    torch.manual_seed(0)
    G, D = build_generator("cgan-mlp"), build_discriminator("cgan-mlp")
    assert (G.latent_dim, G.num_classes, G.latent_distribution, G.resolution, G.channels) == (100, 10, "normal", 32, 1)
    assert D.num_classes == 10
    bns = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert [b.num_features for b in bns] == [256, 512, 1024] and all(b.eps == 0.8 for b in bns)
    y = torch.arange(4)
    x = G(torch.randn(4, 100), y)
    assert x.shape == (4, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert D(x, y).shape == (4,)
    G28 = build_generator("cgan-mlp", resolution=28)
    assert G28(torch.randn(2, 100), torch.tensor([0, 1])).shape == (2, 1, 28, 28)


def test_cgan_mlp_labels_change_outputs():
    torch.manual_seed(0)
    G, D = build_generator("cgan-mlp"), build_discriminator("cgan-mlp")
    G.eval(), D.eval()
    z = torch.randn(1, 100).expand(10, -1)
    with torch.no_grad():
        images = G(z, torch.arange(10))
        logits = D(images[:1].expand(10, -1, -1, -1), torch.arange(10))
    flat = images.flatten(1)
    assert (torch.cdist(flat, flat) + torch.eye(10)).min() > 1e-3  # every label gives a different image
    assert logits.unique().numel() == 10
    with torch.no_grad():
        same = G(z, torch.full((10,), 3))
    assert torch.allclose(same, same[:1].expand_as(same), atol=1e-6)


def test_cgan_mlp_one_adam_step_small():
    torch.manual_seed(0)
    small = dict(latent_dim=8, g_widths=(16, 32), d_width=16, resolution=8, num_classes=3)
    G, D = build_generator("cgan-mlp", **small), build_discriminator("cgan-mlp", **small)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    y = torch.randint(0, 3, (6,))
    z = torch.randn(6, 8)
    real = torch.rand(6, 1, 8, 8) * 2 - 1
    loss_g = F.mse_loss(D(G(z, y), y), torch.ones(6))  # LSGAN, as the port
    opt_g.zero_grad()
    loss_g.backward()
    emb_before = G.label_embedding.weight.detach().clone()
    opt_g.step()
    assert not torch.equal(emb_before, G.label_embedding.weight)
    loss_d = 0.5 * (F.mse_loss(D(real, y), torch.ones(6)) + F.mse_loss(D(G(z, y).detach(), y), torch.zeros(6)))
    opt_d.zero_grad()
    loss_d.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())
    emb_before = D.label_embedding.weight.detach().clone()
    opt_d.step()
    assert torch.isfinite(loss_d) and not torch.equal(emb_before, D.label_embedding.weight)
