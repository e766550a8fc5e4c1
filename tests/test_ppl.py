"""Perceptual path length: the pure aggregation (gbench/metrics/ppl.py) and StyleGAN's sampling under a protocol
(gbench/evaluation/ppl.py) against a slow computation written out pair by pair, with a random-weight LPIPS stand-in
written in the real files' layout (LPIPS v0.1 linear weights + torchvision VGG16 `features.*`), never the network."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reference_models
from gbench import assets
from gbench.errors import GBenchError
from gbench.evaluation.ppl import VGG16_LAYERS, build_lpips, evaluate_ppl, group_seed
from gbench.metrics.ppl import perceptual_path_length
from gbench.protocols import fingerprint, get_protocol

LPIPS_CHANNELS = (64, 128, 256, 512, 512)
LPIPS_TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in torchvision's VGG16 features


def test_aggregation_drops_outside_the_lower_and_higher_percentiles():
    rng = np.random.default_rng(0)
    d = np.concatenate([rng.uniform(1, 2, 250), [1e3, 5e4, 1e-9]]) * 1e-8
    eps = 1e-4
    scaled = sorted(d / eps**2)
    n = len(scaled)
    lo, hi = scaled[math.floor((n - 1) * 0.01)], scaled[math.ceil((n - 1) * 0.99)]  # numpy's 'lower' / 'higher'
    kept = [x for x in scaled if lo <= x <= hi]
    assert perceptual_path_length(d, eps) == pytest.approx(sum(kept) / len(kept), rel=1e-12)
    assert n == 253 and len(kept) == 249  # ranks 2..250 of 0..252 kept: the two lowest and the two highest dropped
    assert max(kept) < 1e3 * 1e-8 / eps**2 and min(kept) > 1e-9 * 1e-8 / eps**2
    with pytest.raises(GBenchError, match="NaN or inf"):
        perceptual_path_length([1.0, float("nan")], eps)


@pytest.fixture
def lpips_stand_in(tmp_path, monkeypatch):
    """Random LPIPS files in the real layout in a private GBENCH_HOME, registered under their own sha256."""
    from torchvision.models.vgg import make_layers

    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home" / "assets"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    lin = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(LPIPS_CHANNELS)}
    features = make_layers(list(VGG16_LAYERS), batch_norm=False)
    vgg = {f"features.{k}": v for k, v in features.state_dict().items()}
    for name, state in (("lpips-vgg16", lin), ("vgg16", vgg)):
        path = folder / assets.ASSETS[name].filename
        torch.save(state, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        monkeypatch.setitem(assets.ASSETS, name, dataclasses.replace(assets.ASSETS[name], sha256=digest, sha256_prefix=None))
    build_lpips.cache_clear()
    yield lin, features.eval()
    build_lpips.cache_clear()


def lpips_by_hand(x0: torch.Tensor, x1: torch.Tensor, features, lin) -> float:
    """LPIPS of one pair written out: ImageNet-style scaling of 0..255 inputs, VGG16 relu taps, unit-normalised channels,
    squared difference weighted by the linear layer, spatial mean, summed over the five taps."""
    shift = ((1 + torch.tensor([-0.030, -0.088, -0.188])) * 255 / 2).view(1, 3, 1, 1)
    scale = (2 / (torch.tensor([0.458, 0.448, 0.450]) * 255)).view(1, 3, 1, 1)
    a, b = (x0 - shift) * scale, (x1 - shift) * scale
    total = 0.0
    for index, layer in enumerate(features):
        if index > LPIPS_TAPS[-1]:
            break
        a, b = layer(a), layer(b)
        if index in LPIPS_TAPS:
            k = LPIPS_TAPS.index(index)
            na = a / (a.square().sum(1, keepdim=True).sqrt() + 1e-10)
            nb = b / (b.square().sum(1, keepdim=True).sqrt() + 1e-10)
            weight = lin[f"lin{k}.model.1.weight"].view(1, -1, 1, 1)
            total += float(((na - nb).square() * weight).sum(1).mean())
    return total


def _toy_stylegan():
    torch.manual_seed(1)
    return reference_models.build_generator("stylegan-ffhq", resolution=32, fmap_base=128, fmap_max=16, latent_dim=16, w_dim=16,
                                            mapping_fmaps=16, mapping_layers=2)


def ppl_by_hand(G, protocol, features, lin) -> float:
    """The protocol's PPL one pair at a time, from the same per-group draws (z, t, noise maps)."""
    n, eps = protocol.ppl_pairs_per_noise, protocol.ppl_epsilon
    noise = [b for name, b in G.named_buffers() if name.endswith("noise_const")]
    scaled = []
    with torch.no_grad():
        for group in range(protocol.n_gen // n):
            gen = torch.Generator().manual_seed(group_seed(protocol.sample_seed, group))
            z = torch.randn(2 * n, G.latent_dim, generator=gen)
            t = torch.rand(n, generator=gen) if protocol.ppl_sampling == "full" else torch.zeros(n)
            maps = [torch.randn(b.shape, generator=gen) for b in noise]
            saved = [b.clone() for b in noise]
            for b, m in zip(noise, maps):
                b.copy_(m)
            for i in range(n):
                z0, z1 = z[2 * i : 2 * i + 1], z[2 * i + 1 : 2 * i + 2]
                if protocol.ppl_space == "w":
                    w0, w1 = G.mapping(z0), G.mapping(z1)
                    wa, wb = w0 + (w1 - w0) * t[i], w0 + (w1 - w0) * (t[i] + eps)
                else:
                    u0, u1 = z0 / z0.norm(), z1 / z1.norm()
                    angle = torch.acos((u0 * u1).sum())
                    ortho = (u1 - (u0 * u1).sum() * u0) / (u1 - (u0 * u1).sum() * u0).norm()
                    ends = [u0 * torch.cos(s * angle) + ortho * torch.sin(s * angle) for s in (t[i], t[i] + eps)]
                    wa, wb = (G.mapping(e / e.norm()) for e in ends)
                images = [G.synthesis(w[:, None].expand(-1, G.num_ws, -1), noise_mode="const") for w in (wa, wb)]
                c = images[0].shape[2] // 8
                crops = [(im[:, :, 3 * c : 7 * c, 2 * c : 6 * c] + 1) * 127.5 for im in images]
                scaled.append(lpips_by_hand(*crops, features, lin) / eps**2)
            for b, old in zip(noise, saved):
                b.copy_(old)
    scaled = sorted(scaled)
    lo, hi = scaled[math.floor((len(scaled) - 1) * 0.01)], scaled[math.ceil((len(scaled) - 1) * 0.99)]
    kept = [x for x in scaled if lo <= x <= hi]
    return sum(kept) / len(kept)


@pytest.mark.parametrize("pid", ["ffhq-ppl-wfull", "ffhq-ppl-zend"])
def test_ppl_equals_the_pair_by_pair_computation(pid, lpips_stand_in):
    lin, features = lpips_stand_in
    G = _toy_stylegan()
    # two groups of 16 pairs; epsilon 1e-2 keeps float32 round-off far below the tolerance (1e-4 is the protocol's)
    protocol = dataclasses.replace(get_protocol(pid), n_gen=32, resolution=32, ppl_epsilon=1e-2)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    result = evaluate_ppl(G, protocol)
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())  # noise maps restored, nothing else touched
    assert result["metrics"]["ppl"] == pytest.approx(ppl_by_hand(G, protocol, features, lin), rel=2e-4)
    digest = hashlib.sha256(f"{assets.ASSETS['lpips-vgg16'].sha256}:{assets.ASSETS['vgg16'].sha256}".encode()).hexdigest()
    assert result["extractor_sha256"] == digest and result["fingerprint"] == fingerprint(protocol, digest, "none")
    again = evaluate_ppl(G, protocol, seed_offset=1)
    assert again["sample_seed"] == 1 and again["metrics"]["ppl"] != result["metrics"]["ppl"]


def test_generators_without_a_mapping_are_measured_in_z_only():
    torch.manual_seed(0)
    G = reference_models.build_generator("progan-cifar10", fmap_base=64, fmap_max=8)
    mse = (lambda a, b: (a - b).square().mean(dim=(1, 2, 3)), "mse")
    protocol = dataclasses.replace(get_protocol("ffhq-ppl-zfull"), n_gen=16, resolution=32)
    assert math.isfinite(evaluate_ppl(G, protocol, distance=mse)["metrics"]["ppl"])
    with pytest.raises(GBenchError, match="interpolates in W: it needs a style-based generator"):
        evaluate_ppl(G, dataclasses.replace(protocol, id="ffhq-ppl-wfull", ppl_space="w"), distance=mse)


def test_protocol_constants_and_the_offline_error(tmp_path, monkeypatch):
    p = get_protocol("ffhq-ppl-wfull")
    assert (p.ppl_space, p.ppl_sampling, p.ppl_epsilon, p.ppl_crop, p.n_gen, p.ppl_pairs_per_noise, tuple(p.ppl_percentiles)) == \
        ("w", "full", 1e-4, "face", 100_000, 16, (1, 99))
    assert fingerprint(dataclasses.replace(p, ppl_epsilon=1e-3), "0", "none") != fingerprint(p, "0", "none")
    assert "ppl_space" not in get_protocol("cifar10-50k").constants()  # other protocols' fingerprints are unchanged
    monkeypatch.setenv("GBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    monkeypatch.setattr(assets, "torch_hub_checkpoints", lambda: tmp_path / "no-hub")
    build_lpips.cache_clear()
    with pytest.raises(GBenchError, match=r"missing asset lpips-vgg16: weights-vgg16-lpips.pth \(sha256 a78928a0") as exc:
        build_lpips()
    assert "\n" not in str(exc.value) and "gbench data fetch lpips-vgg16" in str(exc.value)


def test_face_crop_and_lpips_input_scaling():
    from gbench.evaluation.ppl import to_lpips_input

    images = torch.linspace(-1, 1, 1024 * 1024).reshape(1, 1, 1024, 1024).expand(1, 3, -1, -1)
    out = to_lpips_input(images, "face")
    crop = images[:, :, 384:896, 256:768]  # c = 128: rows 3c..7c, columns 2c..6c
    assert out.shape == (1, 3, 256, 256)
    assert torch.allclose(out, (F.avg_pool2d(crop, 2) + 1) * 127.5, atol=1e-4)


def test_the_eval_path_measures_ppl_on_the_raw_generator_and_reports_it(lpips_stand_in, monkeypatch):
    from gbench import protocols
    from gbench.evaluation.sources import Source, evaluate_source, make_report

    small = dataclasses.replace(get_protocol("ffhq-ppl-wfull"), n_gen=16, resolution=32)
    monkeypatch.setitem(protocols.PROTOCOLS, "ffhq-ppl-wfull", small)
    source = Source("generator", "toy-stylegan", "test", "tests", generator=_toy_stylegan())
    results = evaluate_source(source, "ffhq-ppl-wfull", seeds=2)  # W space reaches the mapping: no shape wrapper in between
    report = make_report(source, results)
    assert [r["sample_seed"] for r in results] == [0, 1] and report["summary"][0]["metric"] == "PPL"
    assert report["leaderboard"][0]["metric"] == "PPL" and report["leaderboard"][0]["protocol"].startswith("ffhq-ppl-wfull@")
    with pytest.raises(GBenchError, match="needs a generator"):
        evaluate_source(Source("samples", "pngs", "test", "tests", folder=object()), "ffhq-ppl-wfull")
