"""Perceptual path length under a protocol: StyleGAN's sampling (NVlabs/stylegan metrics/perceptual_path_length.py)
with torch-fidelity's LPIPS-VGG16 as the distance; the aggregation is gbench.metrics.perceptual_path_length.

The pairs come in groups of `ppl_pairs_per_noise` (16, the official minibatch_per_gpu). Group g draws, from a private
torch.Generator seeded with group_seed(sample seed, g), in this order: the 2n latents z (N(0, I)), the n interpolation
points t (U(0, 1) for "full", 0 for "end") and one map per noise input of a style-based generator. Then, as the
official graph does:
- space "w": w = mapping(z) (no truncation), w_e0 = lerp(w_0, w_1, t), w_e1 = lerp(w_0, w_1, t + epsilon), the same w on
  every layer; space "z": z_e0 = slerp(z_0, z_1, t), z_e1 = slerp(z_0, z_1, t + epsilon) (normalised vectors), mapped;
  a generator without a mapping network (Progressive GAN, any `--generator`) is only measured in Z, as G(z).
- synthesis with the group's noise maps shared by all its images (the official `randomize_noise=False` after
  re-initialising the noise variables per minibatch);
- the face crop images[:, :, 3c:7c, 2c:6c] with c = H // 8, box averages down to 256x256 when larger, [-1, 1] -> [0, 255];
- LPIPS(image_e0, image_e1), scaled by 1 / epsilon^2 in the aggregation, 1% / 99% percentile outliers dropped.

Under torchrun rank r measures groups r, r + W, ... and the distances are gathered in group order, so the result does
not depend on the number of processes.

The distance: torch-fidelity's `SampleSimilarityLPIPS` (sample_similarity_lpips.py; its tests match NVIDIA's vgg16 LPIPS
used by StyleGAN to 1e-5). Its constructor fetches its two weight files itself (torch hub's `load_state_dict_from_url`
and torchvision's pretrained VGG16); gbench hands it the verified offline assets `lpips-vgg16` and `vgg16` instead, by
replacing those two loaders for the duration of the constructor (no network, one-line error when a file is missing).
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from types import SimpleNamespace
from unittest import mock

import torch
from torch import nn

from gbench import distributed as dist
from gbench.errors import GBenchError
from gbench.metrics.ppl import perceptual_path_length
from gbench.protocols import Protocol, fingerprint

VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")  # torchvision cfg "D"


# ----------------------------------------------------------------------------- the distance


def _vgg16_features(state: dict) -> nn.Sequential:
    """torchvision's VGG16 `features` (cfg "D") with the `features.*` weights of an ImageNet VGG16 state dict."""
    from torchvision.models.vgg import make_layers

    features = make_layers(list(VGG16_LAYERS), batch_norm=False)
    wanted = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    try:
        features.load_state_dict(wanted, strict=True)
    except RuntimeError as exc:
        raise GBenchError(f"the vgg16 asset is not a torchvision VGG16 state dict ({str(exc).splitlines()[0]})") from None
    return features


def build_lpips(device: str = "cpu") -> tuple[nn.Module, str]:
    """(torch-fidelity's LPIPS-VGG16 with the verified offline weights, sha256 of the two weight files together)."""
    from gbench.paths import gbench_home

    return _build_lpips(str(device), str(gbench_home()))


@functools.lru_cache(maxsize=2)
def _build_lpips(device: str, home: str) -> tuple[nn.Module, str]:  # `home` is only part of the cache key
    from torch_fidelity import sample_similarity_lpips as tf_lpips

    from gbench.assets import asset_path, asset_sha256

    lin_path, vgg_path = asset_path("lpips-vgg16"), asset_path("vgg16")
    lin_state = torch.load(lin_path, map_location="cpu", weights_only=True)
    features = _vgg16_features(torch.load(vgg_path, map_location="cpu", weights_only=True))
    with mock.patch.object(tf_lpips, "load_state_dict_from_url", lambda *args, **kwargs: lin_state), \
         mock.patch.object(tf_lpips, "torchvision_load_pretrained_vgg16", lambda **kwargs: SimpleNamespace(features=features)):
        try:
            model = tf_lpips.SampleSimilarityLPIPS("lpips-vgg16", sample_similarity_resize=None, sample_similarity_dtype=None)
        except RuntimeError as exc:
            raise GBenchError(f"the lpips-vgg16 asset {lin_path} is not LPIPS v0.1 VGG linear weights ({str(exc).splitlines()[0]})") from None
    digest = hashlib.sha256(f"{asset_sha256(lin_path)}:{asset_sha256(vgg_path)}".encode()).hexdigest()
    return model.to(device).eval(), digest


build_lpips.cache_clear = _build_lpips.cache_clear


# ----------------------------------------------------------------------------- sampling


def normalize(v: torch.Tensor) -> torch.Tensor:
    return v / v.square().sum(dim=-1, keepdim=True).sqrt()


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The official spherical interpolation of normalised vectors (t of shape (n, 1))."""
    a, b = normalize(a), normalize(b)
    d = (a * b).sum(dim=-1, keepdim=True)
    p = t * torch.acos(d)
    c = normalize(b - d * a)
    return normalize(a * torch.cos(p) + c * torch.sin(p))


def face_crop(images: torch.Tensor) -> torch.Tensor:
    """StyleGAN's PPL crop: rows 3c..7c, columns 2c..6c with c = H // 8 (a 512x512 face region at 1024)."""
    c = images.shape[2] // 8
    return images[:, :, 3 * c : 7 * c, 2 * c : 6 * c]


def to_lpips_input(images: torch.Tensor, crop: str) -> torch.Tensor:
    """Crop, box-average down to 256 when larger (integer factor H // 256), and map [-1, 1] to [0, 255] floats."""
    if crop == "face":
        images = face_crop(images)
    elif crop:
        raise GBenchError(f"unknown PPL crop {crop!r}; known: face")
    if images.shape[2] > 256:
        factor = images.shape[2] // 256
        n, ch, h, w = images.shape
        images = images.reshape(n, ch, h // factor, factor, w // factor, factor).mean(dim=(3, 5))
    return (images + 1) * (255 / 2)


def group_seed(seed: int, group: int) -> int:
    """The seed of group `group` of the PPL stream seeded `seed` (63 bits of a sha256, a stream of its own)."""
    digest = hashlib.sha256(f"gbench-ppl-stream:{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _style_based(G: nn.Module) -> nn.Module | None:
    """G itself, or the module wrapped in a ContractGenerator, when it has StyleGAN's mapping and synthesis."""
    for candidate in (G, getattr(G, "module", None)):
        if candidate is not None and hasattr(candidate, "mapping") and hasattr(candidate, "synthesis"):
            return candidate
    return None


def _noise_buffers(G: nn.Module) -> list[torch.Tensor]:
    return [buffer for name, buffer in G.named_buffers() if name.endswith("noise_const")]


@torch.no_grad()
def group_images(G: nn.Module, protocol: Protocol, seed: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The images at t and t + epsilon of one group of pairs (group seed `seed`), as LPIPS inputs (float, 0..255)."""
    n, eps = protocol.ppl_pairs_per_noise, protocol.ppl_epsilon
    style = _style_based(G)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(2 * n, G.latent_dim, generator=gen)
    t = torch.rand(n, generator=gen) if protocol.ppl_sampling == "full" else torch.zeros(n)
    t = t[:, None].to(device)
    z = z.to(device)
    if style is None:
        if protocol.ppl_space != "z":
            raise GBenchError(f"{protocol.id} interpolates in W: it needs a style-based generator (mapping + synthesis)")
        pair = torch.stack([slerp(z[0::2], z[1::2], t), slerp(z[0::2], z[1::2], t + eps)], dim=1).reshape(2 * n, -1)
        images = G(pair)
    else:
        if protocol.ppl_space == "w":
            w = style.mapping(z)
            w0, w1 = w[0::2], w[1::2]
            w_pair = torch.stack([torch.lerp(w0, w1, t), torch.lerp(w0, w1, t + eps)], dim=1).reshape(2 * n, -1)
        else:
            z_pair = torch.stack([slerp(z[0::2], z[1::2], t), slerp(z[0::2], z[1::2], t + eps)], dim=1).reshape(2 * n, -1)
            w_pair = style.mapping(z_pair)
        buffers = _noise_buffers(style)
        saved = [b.clone() for b in buffers]
        try:
            for buffer in buffers:  # one draw per group, shared by all of its images
                buffer.copy_(torch.randn(buffer.shape, generator=gen))
            images = style.synthesis(w_pair[:, None].expand(-1, style.num_ws, -1), noise_mode="const")
        finally:
            for buffer, old in zip(buffers, saved):
                buffer.copy_(old)
    images = to_lpips_input(images.float(), protocol.ppl_crop)
    return images[0::2], images[1::2]


def path_distances(G: nn.Module, protocol: Protocol, distance, *, seed: int, device, progress=None) -> torch.Tensor:
    """LPIPS distances (float64, unscaled) of the protocol's n_gen pairs, in group order (sharded by rank under torchrun)."""
    n_groups = math.ceil(protocol.n_gen / protocol.ppl_pairs_per_noise)
    if protocol.n_gen % protocol.ppl_pairs_per_noise:
        raise GBenchError(f"{protocol.id}: n_gen {protocol.n_gen} is not a multiple of {protocol.ppl_pairs_per_noise} pairs per noise draw")
    mine = list(range(dist.rank(), n_groups, dist.world_size()))
    rows = torch.empty(len(mine), protocol.ppl_pairs_per_noise, dtype=torch.float64)
    for row, group in enumerate(mine):
        img0, img1 = group_images(G, protocol, group_seed(seed, group), device)
        with torch.no_grad():
            rows[row] = distance(img0, img1).reshape(-1).double().cpu()
        if progress:
            progress(protocol.ppl_pairs_per_noise)
    if dist.world_size() == 1:
        return rows.reshape(-1)
    pieces = dist.all_gather_tensors(rows)
    full = torch.empty(n_groups, protocol.ppl_pairs_per_noise, dtype=torch.float64)
    for r, piece in enumerate(pieces):
        full[r :: dist.world_size()] = piece
    return full.reshape(-1)


def evaluate_ppl(G: nn.Module, protocol: Protocol, *, device="cpu", seed_offset: int = 0, progress=None,
                 distance: tuple[nn.Module, str] | None = None) -> dict:
    """The protocol's PPL of G (eval mode, global RNG untouched), as a result dict like every other evaluation's.
    `distance` = (module, sha256) replaces the LPIPS assets (tests)."""
    started = time.perf_counter()
    module, sha = distance or build_lpips(str(dist.device_for_rank(device)))
    seed = protocol.sample_seed + seed_offset
    was_training = G.training
    G.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            distances = path_distances(G, protocol, module, seed=seed, device=device, progress=progress)
    finally:
        G.train(was_training)
    value = perceptual_path_length(distances.numpy(), protocol.ppl_epsilon, tuple(protocol.ppl_percentiles))
    return {
        "protocol": protocol.id,
        "fingerprint": fingerprint(protocol, sha, "none"),
        "metrics": {"ppl": value},
        "n_gen": protocol.n_gen,
        "n_ref": 0,
        "reference": "none (perceptual path length)",
        "extractor": protocol.extractor,
        "extractor_sha256": sha,
        "reference_checksum": "none",
        "sample_seed": seed,
        "quantization": protocol.quantization,
        "resize": protocol.resize,
        "comparable_to": protocol.comparable or "not comparable to any published number",
        "seconds": round(time.perf_counter() - started, 3),
    }
