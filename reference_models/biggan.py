"""BigGAN (Brock et al., ICLR 2019), class-conditional, as in ajbrock/BigGAN-PyTorch: the CIFAR-10 model and the
ImageNet architecture (128x128 and the other official resolutions) with the switches of the paper's Table 1.

CIFAR-10 (``biggan``)
---------------------
Follows ``BigGAN.py`` + ``layers.py`` run by ``scripts/launch_cifar_ema.sh`` (and the DiffAugment fork's
``scripts/biggan-cifar10.sh``): resolution 32, G_ch = D_ch = 64 (so 4 * 64 = 256 channels everywhere; our
``g_channels`` / ``d_channels`` are that 256), dim_z 128, no self-attention, G_shared off, hier off, spectral norm
in G and D, BN eps 1e-5, SN eps 1e-8, init N02.

- ``biggan``: G 4,304,387 / D 4,207,361, ``num_classes`` 10; ``G.forward(z, y)``, ``D.forward(x, y)``.
- G: SN-Linear(z -> 4x4x256) -> 3x ``layers.GBlock``(256 -> 256) with class-conditional BN (gain = 1 + Embedding(10, C)[y],
  bias = Embedding(10, C)[y], no spectral norm on these tables) -> BN -> ReLU -> SN-conv3x3 256 -> 3 -> tanh.
  Every conv (3x3, 1x1 shortcuts, output) and the Linear carry spectral norm.
- D: ``layers.ResNetDiscriminator`` (256 channels): DBlock 3 -> 256 (down, no pre-activation, shortcut pool -> conv),
  DBlock 256 (down, pre-activation, shortcut conv -> pool), 2x DBlock 256 (identity shortcut) -> ReLU -> global sum
  pool -> SN-Linear(256 -> 1, with bias) + projection <SN-Embedding(10, 256)[y], h>. (ajbrock's DBlock, like the
  SN-GAN one, pools the residual after its second conv.)
- Init N02: N(0, 0.02) on every Conv2d, Linear and Embedding weight (the conditional-BN tables included, so gains
  start at 1 + N(0, 0.02)); biases keep PyTorch's default init; output BN gain 1, bias 0.

ImageNet (``biggan-imagenet128`` and the Table 1 rows)
------------------------------------------------------
Follows ``BigGAN.py`` (``G_arch``, ``D_arch``, ``Generator``, ``Discriminator``) and ``layers.py`` (``GBlock``,
``DBlock``, ``ccbn``, ``bn``, ``Attention``) as run by ``scripts/launch_BigGAN_bs256x8.sh`` (ch 96) and
``launch_BigGAN_ch64_bs256x8.sh`` (ch 64): ``--G_shared --shared_dim 128 --hier --dim_z 120 --G_attn 64 --D_attn 64
--SN_eps 1e-6 --BN_eps 1e-5 --G_init ortho --D_init ortho``.

- G (128): z (120) is split into 6 chunks of 20 (``hier``): chunk 0 feeds SN-Linear(20 -> 4x4x16ch); chunk i feeds
  block i, concatenated with the shared class embedding ``shared = Embedding(1000, 128)`` (no spectral norm, as
  the official code: "applying SN to G's embedding seems to randomly cripple G"). Five up-sampling ``GBlock``s
  16ch -> 16ch -> 8ch -> 4ch -> 2ch -> ch (4 -> 128 px), each BN -> ReLU -> nearest x2 -> SN-conv3x3 -> BN -> ReLU ->
  SN-conv3x3, shortcut nearest x2 -> SN-conv1x1. Every BN is class-conditional: gain = 1 + W_g c, bias = W_b c with
  W_g, W_b bias-free SN-Linear(128 + 20 -> C) projections of the block's conditioning vector c (``shared`` on), or
  per-class ``Embedding(1000, C)`` tables when ``shared`` is off (then c is the label). Self-attention (SA-GAN
  non-local block, ``layers.Attention``) after the block whose output is 64x64. Output: BN (gain, bias) -> ReLU ->
  SN-conv3x3 ch -> 3 -> tanh.
- D (128): six ``DBlock``s 3 -> ch -> 2ch -> 4ch -> 8ch -> 16ch -> 16ch (the first five halve the side: 64, 32, 16, 8,
  4, 4), "wide" (hidden width = output width), the first without pre-activation; self-attention after the 64x64
  block; ReLU -> global sum pool -> SN-Linear(16ch -> 1) + projection <SN-Embedding(1000, 16ch)[y], h>.
  Every conv, linear and embedding of D carries spectral norm.
- Attention (``layers.Attention``): theta, phi (C -> C/8), g (C -> C/2), o (C/2 -> C), bias-free SN 1x1 convs; phi
  and g are 2x2 max-pooled; softmax(theta^T phi) with **no** 1/sqrt(d) scaling (run through
  ``scaled_dot_product_attention`` with ``scale=1``); output ``gamma * o + x`` with a learned scalar gamma from 0.
- Init ``ortho``: ``nn.init.orthogonal_`` on every Conv2d, Linear and Embedding weight of G and D (the shared embedding
  and the per-class tables included); biases keep PyTorch's default init; BN gains 1, biases 0.
- ``G.forward(z, y)`` takes labels (``G.class_embedding(y)`` then ``G.synthesize(z, c)``; the official forward takes
  ``G.shared(y)``, so ``synthesize`` is the official ``forward``). ``D.block_features(x)`` returns the features
  Deep Generative Prior matches (XingangPan/deep-generative-prior ``models/biggan.py``: the output of every block
  and attention layer, then the ReLU-sum-pooled vector; 8 tensors at 128x128).
- ``accumulate_standing_stats(G, sample_fn, n)``: BN statistics averaged over n batches for evaluation
  (``utils.accumulate_standing_stats``, the paper's "standing statistics").
- ``G.ortho_weights()``: the weights ``utils.ortho`` regularises (every parameter with >= 2 dimensions except
  ``G.shared``); the penalty itself is ``gbench.losses.orthogonal_regularization``.

Table 1 (ImageNet 128, G + D parameters; paper's Param column in parentheses):
``biggan-imagenet128-ch64-baseline`` rows 1-4 (81.5M; row 1, the SA-GAN baseline, is this architecture with
``init="xavier", sn_eps=1e-8`` as ``launch_SAGAN_bs128x2_ema.sh``), ``biggan-imagenet128-ch96-baseline`` row 5
(173.5M), ``biggan-imagenet128-ch96-shared`` row 6 (160.6M), ``biggan-imagenet128`` rows 7-8 (158.3M; row 8 adds
orthogonal regularisation, a training option), ``biggan-imagenet128-ch64`` row 9 (71.3M). Rows without ``hier`` use
dim_z 128 (the official default and SA-GAN's). ``biggan-smoke32`` is the same architecture at 32x32 (official
``arch[32]``: 3 G blocks of 4ch, D 3 -> 4ch (down, down, -, -)) with ch 16, 10 classes, attention at 16x16.

Deviations (both models): spectral norm is PyTorch's parametrization, whose u/v are warmed up with 15 power iterations
at construction (ajbrock's ``SN`` starts from an un-normalised random u and keeps an extra logging-only ``sv0`` buffer);
both then run 1 iteration per training forward and normalise by u^T W v. ImageNet model only: ``hier`` with a
``latent_dim`` not divisible by (blocks + 1) is an error (the official code silently shrinks dim_z); ``hier``
requires ``shared`` (the official code would fail); D attention is placed by each block's true output side (the
official ``D_arch[32]`` labels all four blocks 16, which only matters for attention in a 32x32 D).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ClassConditionalBatchNorm2d, DBlock, GBlock, OptimizedDBlock, ResNetDiscriminator, add_spectral_norm


@dataclass(frozen=True)
class BigGANConfig:
    resolution: int = 32
    latent_dim: int = 128
    g_channels: int = 256  # 4 * G_ch
    d_channels: int = 256  # 4 * D_ch
    channels: int = 3
    num_classes: int = 10
    bn_eps: float = 1e-5
    sn_eps: float = 1e-8


def _init_n02(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)


def _check(cfg: BigGANConfig) -> None:
    if cfg.num_classes < 1:
        raise ValueError("BigGAN is class-conditional: num_classes must be >= 1")
    if cfg.resolution % 8:
        raise ValueError(f"BigGAN resolution must be divisible by 8, got {cfg.resolution}")


class Generator(nn.Module):
    def __init__(self, cfg: BigGANConfig):
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, cfg.num_classes, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        self.bottom_width = cfg.resolution // 8
        ch = cfg.g_channels
        self.linear = nn.Linear(cfg.latent_dim, self.bottom_width**2 * ch)
        self.blocks = nn.ModuleList(
            GBlock(ch, ch, lambda c: ClassConditionalBatchNorm2d(c, cfg.num_classes, eps=cfg.bn_eps)) for _ in range(3)
        )
        self.out_norm = nn.BatchNorm2d(ch, eps=cfg.bn_eps)
        self.out_conv = nn.Conv2d(ch, cfg.channels, 3, padding=1)
        _init_n02(self)
        add_spectral_norm(self, eps=cfg.sn_eps, kinds=(nn.Conv2d, nn.Linear))  # not the conditional-BN tables

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.linear(z).view(-1, self.cfg.g_channels, self.bottom_width, self.bottom_width)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))


def Discriminator(cfg: BigGANConfig) -> ResNetDiscriminator:
    """BigGAN CIFAR D: SN everywhere (eps 1e-8), sum pool, Linear with bias, SN-embedding projection."""
    _check(cfg)
    d = ResNetDiscriminator(
        channels=cfg.d_channels,
        in_channels=cfg.channels,
        resolution=cfg.resolution,
        num_classes=cfg.num_classes,
        pooling="sum",
        linear_bias=True,
        sn_eps=cfg.sn_eps,
        init=_init_n02,
    )
    d.cfg = cfg
    return d


# =========================================================================== ImageNet architecture

# BigGAN.py G_arch: per block (input, output) channel multipliers of G_ch; every block doubles the side from 4.
G_ARCH = {
    32: ((4, 4), (4, 4), (4, 4)),
    64: ((16, 16), (16, 8), (8, 4), (4, 2)),
    128: ((16, 16), (16, 8), (8, 4), (4, 2), (2, 1)),
    256: ((16, 16), (16, 8), (8, 8), (8, 4), (4, 2), (2, 1)),
}
# BigGAN.py D_arch: per block (input multiplier, 0 = the RGB input; output multiplier; halves the side).
D_ARCH = {
    32: ((0, 4, True), (4, 4, True), (4, 4, False), (4, 4, False)),
    64: ((0, 1, True), (1, 2, True), (2, 4, True), (4, 8, True), (8, 16, False)),
    128: ((0, 1, True), (1, 2, True), (2, 4, True), (4, 8, True), (8, 16, True), (16, 16, False)),
    256: ((0, 1, True), (1, 2, True), (2, 4, True), (4, 8, True), (8, 8, True), (8, 16, True), (16, 16, False)),
}
BOTTOM_WIDTH = 4
INITS = ("ortho", "N02", "xavier")


@dataclass(frozen=True)
class BigGANImageNetConfig:
    resolution: int = 128
    g_ch: int = 96  # G_ch: the channel multiplier (Table 1 "Ch.")
    d_ch: int = 96
    latent_dim: int = 120  # dim_z
    shared: bool = True  # G_shared: one class embedding, linearly projected to every BN's gain and bias
    shared_dim: int = 128
    hier: bool = True  # skip-z: z split into one chunk per block (+ one for the first linear layer)
    g_attention: tuple[int, ...] = (64,)  # sides after which G has self-attention (G_attn)
    d_attention: tuple[int, ...] = (64,)
    num_classes: int = 1000
    channels: int = 3
    bn_eps: float = 1e-5
    sn_eps: float = 1e-6
    init: str = "ortho"


def _check_imagenet(cfg: BigGANImageNetConfig) -> None:
    if cfg.resolution not in G_ARCH:
        raise ValueError(f"BigGAN ImageNet resolution must be one of {sorted(G_ARCH)}, got {cfg.resolution}")
    if cfg.num_classes < 1:
        raise ValueError("BigGAN is class-conditional: num_classes must be >= 1")
    if cfg.init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {cfg.init!r}")
    if cfg.hier and not cfg.shared:
        raise ValueError("hier (skip-z) concatenates z chunks to the shared class embedding: it needs shared=True")
    slots = len(G_ARCH[cfg.resolution]) + 1
    if cfg.hier and cfg.latent_dim % slots:
        raise ValueError(f"hier splits latent_dim into {slots} equal chunks at resolution {cfg.resolution}: "
                         f"latent_dim {cfg.latent_dim} is not divisible by {slots}")
    if min(cfg.g_ch, cfg.d_ch) < 1:
        raise ValueError("g_ch and d_ch must be >= 1")


def _init_weights(module: nn.Module, style: str) -> None:
    """BigGAN.py ``init_weights``: every Conv2d / Linear / Embedding weight; biases and BN affine keep their init."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            if m.weight.is_meta:  # parameter counting on the meta device: nothing to initialise
                continue
            if style == "ortho":
                nn.init.orthogonal_(m.weight)
            elif style == "N02":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(m.weight)


class SelfAttention(nn.Module):
    """SA-GAN non-local block as in ``layers.Attention`` (keys/values max-pooled 2x2, unscaled softmax, gamma from 0)."""

    def __init__(self, channels: int):
        super().__init__()
        if channels < 8:
            raise ValueError(f"self-attention needs >= 8 channels (it projects to channels // 8), got {channels}")
        self.channels = channels
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.o = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        query = self.theta(x).flatten(2).transpose(1, 2)  # (B, HW, C/8)
        key = F.max_pool2d(self.phi(x), 2).flatten(2).transpose(1, 2)  # (B, HW/4, C/8)
        value = F.max_pool2d(self.g(x), 2).flatten(2).transpose(1, 2)  # (B, HW/4, C/2)
        attended = F.scaled_dot_product_attention(query[:, None], key[:, None], value[:, None], scale=1.0)[:, 0]
        return self.gamma * self.o(attended.transpose(1, 2).reshape(b, self.channels // 2, h, w)) + x


class ConditionalBatchNorm(nn.Module):
    """``layers.ccbn``: BN without affine, then ``(1 + gain(c)) * x_hat + bias(c)``.

    ``cond_dim`` > 0: gain and bias are bias-free Linear projections of a conditioning vector (G_shared; spectral
    norm is added by the generator). ``cond_dim`` == 0: they are per-class ``Embedding(num_classes, C)`` tables
    looked up with the labels.
    """

    def __init__(self, num_features: int, cond_dim: int, num_classes: int, eps: float):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, eps=eps, momentum=0.1, affine=False)
        if cond_dim:
            self.gain, self.bias = nn.Linear(cond_dim, num_features, bias=False), nn.Linear(cond_dim, num_features, bias=False)
        else:
            self.gain, self.bias = nn.Embedding(num_classes, num_features), nn.Embedding(num_classes, num_features)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * (1 + self.gain(cond))[:, :, None, None] + self.bias(cond)[:, :, None, None]


class ImageNetGBlock(nn.Module):
    """``layers.GBlock``: CBN-ReLU-up-conv3x3-CBN-ReLU-conv3x3 plus up-conv1x1 shortcut (always learnable: it up-samples)."""

    def __init__(self, in_channels: int, out_channels: int, make_norm: Callable[[int], ConditionalBatchNorm]):
        super().__init__()
        self.norm1 = make_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = make_norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, cond)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), cond)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class ImageNetGenerator(nn.Module):
    """BigGAN G (``BigGAN.Generator``): labels -> class embedding -> hierarchical z -> up-sampling blocks -> RGB."""

    def __init__(self, cfg: BigGANImageNetConfig):
        super().__init__()
        _check_imagenet(cfg)
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, cfg.num_classes, "normal"
        self.resolution, self.channels = cfg.resolution, cfg.channels
        arch = G_ARCH[cfg.resolution]
        self.num_slots = len(arch) + 1 if cfg.hier else 1
        self.z_chunk = cfg.latent_dim // self.num_slots if cfg.hier else 0
        cond_dim = (cfg.shared_dim + self.z_chunk) if cfg.shared else 0
        self.shared = nn.Embedding(cfg.num_classes, cfg.shared_dim) if cfg.shared else None

        def make_norm(c: int) -> ConditionalBatchNorm:
            return ConditionalBatchNorm(c, cond_dim, cfg.num_classes, cfg.bn_eps)

        first = arch[0][0] * cfg.g_ch
        self.linear = nn.Linear(cfg.latent_dim // self.num_slots, first * BOTTOM_WIDTH**2)
        self.blocks = nn.ModuleList(ImageNetGBlock(i * cfg.g_ch, o * cfg.g_ch, make_norm) for i, o in arch)
        sides = [BOTTOM_WIDTH * 2 ** (k + 1) for k in range(len(arch))]
        self.attention = nn.ModuleDict({str(k): SelfAttention(o * cfg.g_ch) for k, ((_, o), side) in enumerate(zip(arch, sides))
                                        if side in cfg.g_attention})
        last = arch[-1][1] * cfg.g_ch
        self.out_norm = nn.BatchNorm2d(last, eps=cfg.bn_eps)  # layers.bn: gain 1, bias 0, running stats
        self.out_conv = nn.Conv2d(last, cfg.channels, 3, padding=1)
        _init_weights(self, cfg.init)
        # SN on every conv and linear (the CBN projections included); never on the embeddings (shared or per-class).
        add_spectral_norm(self, eps=cfg.sn_eps, kinds=(nn.Conv2d, nn.Linear))

    def class_embedding(self, y: torch.Tensor) -> torch.Tensor:
        """The conditioning input of ``synthesize``: ``shared(y)`` with G_shared, else the labels themselves."""
        return self.shared(y) if self.shared is not None else y

    def synthesize(self, z: torch.Tensor, class_embedding: torch.Tensor) -> torch.Tensor:
        """The official ``Generator.forward(z, G.shared(y))``: images in [-1, 1]."""
        if self.cfg.hier:
            first, *chunks = torch.split(z, self.z_chunk, dim=1)
            conds = [torch.cat([class_embedding, chunk], dim=1) for chunk in chunks]
        else:
            first, conds = z, [class_embedding] * len(self.blocks)
        h = self.linear(first).view(z.shape[0], -1, BOTTOM_WIDTH, BOTTOM_WIDTH)
        for k, block in enumerate(self.blocks):
            h = block(h, conds[k])
            if str(k) in self.attention:
                h = self.attention[str(k)](h)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.synthesize(z, self.class_embedding(y))

    def stages(self) -> list[list[nn.Module]]:
        """G's modules from shallow to deep, as DGP's ``Generator.get_params(index)`` groups them: the first linear
        layer, then each block with its attention, then the output layer (BN + conv). The shared embedding is in no
        group (DGP adds it to group 0 only with ``--update_embed``)."""
        groups: list[list[nn.Module]] = [[self.linear]]
        for k, block in enumerate(self.blocks):
            groups.append([block] + ([self.attention[str(k)]] if str(k) in self.attention else []))
        groups.append([self.out_norm, self.out_conv])
        return groups

    def ortho_weights(self) -> list[torch.Tensor]:
        """The trainable weights ``utils.ortho`` regularises: every parameter with >= 2 dimensions except the shared
        embedding (``train_fns``: ``blacklist=G.shared.parameters()``). Convs, linears and the CBN projections (or
        per-class tables when ``shared`` is off, as the official code does) are in; biases, BN gains and attention's
        gamma are not. Spectrally normalised layers contribute their raw (un-normalised) weight, as in the official."""
        skip = {id(p) for p in self.shared.parameters()} if self.shared is not None else set()
        return [p for p in self.parameters() if p.ndim >= 2 and id(p) not in skip]


class ImageNetDiscriminator(nn.Module):
    """BigGAN D (``BigGAN.Discriminator``, wide DBlocks): projection discriminator with sum pooling; logits (B,)."""

    def __init__(self, cfg: BigGANImageNetConfig):
        super().__init__()
        _check_imagenet(cfg)
        self.cfg = cfg
        self.resolution, self.channels, self.num_classes = cfg.resolution, cfg.channels, cfg.num_classes
        blocks, attention, side = [], {}, cfg.resolution
        for k, (i, o, down) in enumerate(D_ARCH[cfg.resolution]):
            out = o * cfg.d_ch
            # The first block has no pre-activation and pools before its shortcut conv (OptimizedDBlock).
            blocks.append(OptimizedDBlock(cfg.channels, out) if i == 0 else DBlock(i * cfg.d_ch, out, down=down))
            side //= 2 if down else 1
            if side in cfg.d_attention:
                attention[str(k)] = SelfAttention(out)
        self.blocks = nn.ModuleList(blocks)
        self.attention = nn.ModuleDict(attention)
        last = D_ARCH[cfg.resolution][-1][1] * cfg.d_ch
        self.linear = nn.Linear(last, 1)
        self.embed = nn.Embedding(cfg.num_classes, last)
        _init_weights(self, cfg.init)
        add_spectral_norm(self, eps=cfg.sn_eps)  # every conv, linear and embedding

    def block_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unconditional features, shallow to deep: each block's output, each attention layer's output after its
        block, then ``sum(relu(h), (2, 3))`` (B, 16ch). This is DGP's ``Discriminator.forward`` feature list
        (XingangPan/deep-generative-prior ``models/biggan.py``), whose last ``ftr_num`` entries its loss matches."""
        features, h = [], x
        for k, block in enumerate(self.blocks):
            h = block(h)
            features.append(h)
            if str(k) in self.attention:
                h = self.attention[str(k)](h)
                features.append(h)
        features.append(F.relu(h).sum(dim=(2, 3)))
        return features

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        pooled = self.block_features(x)[-1]
        return self.linear(pooled).flatten() + (self.embed(y) * pooled).sum(dim=1)


def accumulate_standing_stats(G: nn.Module, sample_fn: Callable[[], tuple], n: int) -> nn.Module:
    """Standing statistics (BigGAN paper, ``utils.accumulate_standing_stats``): reset every BatchNorm's running
    statistics, run G on ``n`` batches ``G(*sample_fn())`` with the BNs in training mode and ``momentum=None``
    (PyTorch's cumulative average: the running mean/var become the plain average of the n batch means/variances),
    then leave G in eval mode so sampling uses them. Returns G.

    Differences from the official ``myBN`` accumulation: the averaged variances are PyTorch's unbiased batch
    variances (myBN averages biased ones: a factor N/(N-1), N = batch x H x W); only the BN modules run in training
    mode, so spectral norm's u/v do not move (the official runs the whole net in ``train()``).
    """
    if n < 1:
        raise ValueError(f"standing statistics need n >= 1 batches, got {n}")
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    G.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        for _ in range(n):
            G(*sample_fn())
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
        m.eval()
    return G


IMAGENET_CONFIGS = {
    # Table 1 rows 7-8 (158.3M) and the official launch_BigGAN_bs256x8.sh model.
    "biggan-imagenet128": BigGANImageNetConfig(),
    # Row 9 (71.3M): launch_BigGAN_ch64_bs256x8.sh.
    "biggan-imagenet128-ch64": BigGANImageNetConfig(g_ch=64, d_ch=64),
    # Row 6 (160.6M): shared embedding, no skip-z.
    "biggan-imagenet128-ch96-shared": BigGANImageNetConfig(hier=False, latent_dim=128),
    # Row 5 (173.5M): per-class BN tables, no skip-z.
    "biggan-imagenet128-ch96-baseline": BigGANImageNetConfig(shared=False, hier=False, latent_dim=128),
    # Rows 1-4 (81.5M): the SA-GAN-sized baseline (row 1 also: init="xavier", sn_eps=1e-8).
    "biggan-imagenet128-ch64-baseline": BigGANImageNetConfig(g_ch=64, d_ch=64, shared=False, hier=False, latent_dim=128),
    # CPU smoke model: the same architecture at 32x32 on shapes32's 10 classes.
    "biggan-smoke32": BigGANImageNetConfig(resolution=32, g_ch=16, d_ch=16, latent_dim=64, shared_dim=32,
                                           g_attention=(16,), d_attention=(16,), num_classes=10),
}

CONFIGS = {"biggan": BigGANConfig()}


def _builder(cls, configs, name):
    return lambda **overrides: cls(replace(configs[name], **overrides))


GENERATORS = {name: _builder(Generator, CONFIGS, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(Discriminator, CONFIGS, name) for name in CONFIGS}
GENERATORS.update({name: _builder(ImageNetGenerator, IMAGENET_CONFIGS, name) for name in IMAGENET_CONFIGS})
DISCRIMINATORS.update({name: _builder(ImageNetDiscriminator, IMAGENET_CONFIGS, name) for name in IMAGENET_CONFIGS})
