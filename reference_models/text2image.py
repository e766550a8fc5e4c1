"""GAN-INT-CLS text-to-image GAN (Reed et al., ICML 2016) as in the official Torch code reedscot/icml2016.

Followed: ``main_cls_int.lua`` at HEAD (db3f0c6), the script ``scripts/train_cub.sh`` and ``train_flowers.sh``
run (ngf 128, ndf 64, nz 100, nt 128, txtSize 1024, fineSize 64). ``text2image-cub`` and ``text2image-flowers``
are the same networks; only the data differ. Inputs: z ~ N(0, I) (100-d, ``noise = 'normal'``) and a 1024-d
char-CNN-RNN caption embedding phi(t) (in training the mean of 4 captions of the image, see gbench.data.text2image).
Contract: the package's generator attributes (``num_classes`` 0) plus ``embedding_dim``; ``G(z, text_embedding)``,
``D(x, text_embedding)`` and, per name, ``STYLE_ENCODERS[name]()`` building S. The official sampler
(``txt2img_demo.lua``) puts G in evaluation mode (batch-norm running statistics) to sample.

Generator, top to bottom (64x64; state sizes in brackets):
  text projection  Linear(1024, 128) + LeakyReLU(0.2)            (``fcG``; no batch norm in G's projection)
  concat [z, proj]                                              [228 x 1 x 1]
  ConvT 4x4 (228 -> 8 ngf) + BN                                  [1024 x 4 x 4]   no activation here: the
  residual block (8 ngf, bottleneck 2 ngf) , then ReLU          [1024 x 4 x 4]   block's add is followed by ReLU
  ConvT 4x4 s2 (8 ngf -> 4 ngf) + BN                             [512 x 8 x 8]    (same pattern)
  residual block (4 ngf, bottleneck ngf), then ReLU             [512 x 8 x 8]
  ConvT 4x4 s2 (4 ngf -> 2 ngf) + BN + ReLU                      [256 x 16 x 16]
  ConvT 4x4 s2 (2 ngf -> ngf) + BN + ReLU                        [128 x 32 x 32]
  ConvT 4x4 s2 (ngf -> 3) + Tanh                                 [3 x 64 x 64]
A residual block is x + (Conv1x1 -> BN -> act -> Conv3x3 -> BN -> act -> Conv3x3 -> BN)(x), bottleneck width/4
(the official ``ConcatTable(Identity, conv)`` + ``CAddTable``), followed by the activation.

Discriminator (64x64):
  Conv 4x4 s2 (3 -> ndf) + LeakyReLU(0.2)                        [64 x 32 x 32]
  Conv 4x4 s2 (ndf -> 2 ndf) + BN + LeakyReLU(0.2)               [128 x 16 x 16]
  Conv 4x4 s2 (2 ndf -> 4 ndf) + BN                              [256 x 8 x 8]    no activation (as main_cls_int.lua;
  Conv 4x4 s2 (4 ndf -> 8 ndf) + BN                              [512 x 4 x 4]    main_cls.lua, the COCO script, has one)
  residual block (8 ndf, bottleneck 2 ndf), then LeakyReLU(0.2) [512 x 4 x 4]
  text: Linear(1024, 128) + BatchNorm1d(128) + LeakyReLU(0.2), replicated to 4x4 (``nn.Replicate(4,3)``, ``(4,4)``)
  concat [image features, text]                                 [640 x 4 x 4]
  Conv 1x1 (640 -> 8 ndf) + BN + LeakyReLU(0.2), Conv 4x4 valid (8 ndf -> 1)   -> one logit per image

Parameter counts of the official networks (Torch ``getParameters``: conv weights and biases, BN weight and bias,
Linear weight and bias), ngf 128, ndf 64:
  G = Linear 1024*128+128 = 131,200
      + ConvT 228*1024*16+1024 = 3,736,576 + BN 2,048
      + block 1: 1024*256+256 + 512 + 256*256*9+256 + 512 + 256*1024*9+1024 + 2,048 = 3,215,872
      + ConvT 1024*512*16+512 = 8,389,120 + BN 1,024
      + block 2: 512*128+128 + 256 + 128*128*9+128 + 256 + 128*512*9+512 + 1,024 = 805,120
      + ConvT 512*256*16+256 = 2,097,408 + BN 512 + ConvT 256*128*16+128 = 524,416 + BN 256
      + ConvT 128*3*16+3 = 6,147                                                      = 18,909,699
  D = Conv 3*64*16+64 = 3,136 + Conv 64*128*16+128 = 131,200 + BN 256 + Conv 128*256*16+256 = 524,544 + BN 512
      + Conv 256*512*16+512 = 2,097,664 + BN 1,024
      + block: 512*128+128 + 256 + 128*128*9+128 + 256 + 128*512*9+512 + 1,024 = 805,120
      + Linear 1024*128+128 = 131,200 + BN1d 256 + Conv 640*512+512 = 328,192 + BN 1,024 + Conv 512*16+1 = 8,193
                                                                                        = 4,032,321
Ours has no convolution biases (below): G 18,905,472 (-4,227, -0.022%), D 4,030,080 (-2,241, -0.056%).

Init as ``weights_init``: conv weights N(0, 0.02); BN (2-D and the 1-D one in D's text path) weight N(1, 0.02),
bias 0. Linear layers keep the default init, which in both Torch7 and PyTorch is U(-1/sqrt(fan_in), +) for
weight and bias.

Deviations / notes:
- No convolution biases. The official closures ``fDx`` and ``fGx`` zero every convolution bias before each
  forward pass, so in training they are always 0; dropping them keeps that behaviour (and BN follows all
  but three convolutions anyway). This is the whole parameter-count difference above.
- D returns a logit; the official net ends in a Sigmoid and trains with BCECriterion. BCE-with-logits is the
  same loss, numerically stabler.
- ``resolution=32`` (the CPU smoke variant, a gbench design) drops G's 2 ngf -> ngf stage and D's first
  (3 -> ndf) stage, so D starts at 2 ndf, as ``dcgan.py`` does for 32x32.
- The style encoder S(x) -> z of section 4.4 is not in the official code; ``StyleEncoder`` is a gbench design
  from the paper's words ("a convolutional network to invert G", squared loss on z): the DCGAN discriminator
  trunk (Conv 4x4 s2: 3 -> s -> 2s -> 4s -> 8s, BN and LeakyReLU(0.2) after all but the first) and a 4x4
  valid convolution (with bias) to the latent size. 64x64, s = 64: 3,576,676 parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn


@dataclass(frozen=True)
class Text2ImageConfig:
    resolution: int = 64  # fineSize; 32 is the smoke variant (one stage fewer in G, D and S)
    latent_dim: int = 100  # nz
    embedding_dim: int = 1024  # txtSize: the char-CNN-RNN caption embedding
    projected_dim: int = 128  # nt: the embedding after G's / D's Linear projection
    g_channels: int = 128  # ngf
    d_channels: int = 64  # ndf
    s_channels: int = 64  # style encoder width (gbench design)
    channels: int = 3


def _check(cfg: Text2ImageConfig) -> None:
    if cfg.resolution not in (32, 64):
        raise ValueError(f"the text-to-image GAN supports resolution 32 or 64, got {cfg.resolution}")


def _init_weights(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _check_embedding(text_embedding: torch.Tensor | None, batch: int, dim: int) -> None:
    if text_embedding is None:
        raise ValueError("the text-to-image GAN needs a text embedding (B, embedding_dim) as its second input")
    if text_embedding.shape != (batch, dim):
        raise ValueError(f"text embedding must have shape ({batch}, {dim}), got {tuple(text_embedding.shape)}")


class ResidualBlock(nn.Module):
    """x -> act(x + branch(x)), branch = 1x1 conv to width/4, 3x3 conv, 3x3 conv back to width, BN after each."""

    def __init__(self, width: int, activation):
        super().__init__()
        inner = width // 4
        self.branch = nn.Sequential(
            nn.Conv2d(width, inner, 1, bias=False), nn.BatchNorm2d(inner), activation(),
            nn.Conv2d(inner, inner, 3, padding=1, bias=False), nn.BatchNorm2d(inner), activation(),
            nn.Conv2d(inner, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
        )
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x + self.branch(x))


def _leaky():
    return nn.LeakyReLU(0.2)


class Generator(nn.Module):
    """G(z, phi(t)): z (B, latent_dim) and a caption embedding (B, embedding_dim) -> images (B, 3, R, R) in [-1, 1]."""

    def __init__(self, cfg: Text2ImageConfig):
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.latent_dim, self.num_classes, self.latent_distribution = cfg.latent_dim, 0, "normal"
        self.resolution, self.channels, self.embedding_dim = cfg.resolution, cfg.channels, cfg.embedding_dim
        ngf = cfg.g_channels
        self.project_text = nn.Sequential(nn.Linear(cfg.embedding_dim, cfg.projected_dim), _leaky())
        up = lambda c_in, c_out: nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)  # noqa: E731  doubles the side
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.latent_dim + cfg.projected_dim, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8),
            ResidualBlock(ngf * 8, nn.ReLU),  # 4x4
            up(ngf * 8, ngf * 4), nn.BatchNorm2d(ngf * 4),
            ResidualBlock(ngf * 4, nn.ReLU),  # 8x8
            up(ngf * 4, ngf * 2), nn.BatchNorm2d(ngf * 2), nn.ReLU(),  # 16x16
        ]
        if cfg.resolution == 64:
            layers += [up(ngf * 2, ngf), nn.BatchNorm2d(ngf), nn.ReLU()]  # 32x32
        layers += [up(ngf if cfg.resolution == 64 else ngf * 2, cfg.channels), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _init_weights(self)

    def forward(self, z: torch.Tensor, text_embedding: torch.Tensor | None = None) -> torch.Tensor:
        _check_embedding(text_embedding, z.shape[0], self.embedding_dim)
        joint = torch.cat([z, self.project_text(text_embedding)], dim=1)
        return self.net(joint[:, :, None, None])


class Discriminator(nn.Module):
    """D(x, phi(t)) -> one logit per image (B,): is x a real image that matches the caption?"""

    def __init__(self, cfg: Text2ImageConfig):
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.num_classes, self.embedding_dim = 0, cfg.embedding_dim
        ndf = cfg.d_channels
        down = lambda c_in, c_out: nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)  # noqa: E731  halves the side
        if cfg.resolution == 64:
            stem = [down(cfg.channels, ndf), _leaky(), down(ndf, ndf * 2), nn.BatchNorm2d(ndf * 2), _leaky()]
        else:
            stem = [down(cfg.channels, ndf * 2), _leaky()]
        self.image_features = nn.Sequential(
            *stem,
            down(ndf * 2, ndf * 4), nn.BatchNorm2d(ndf * 4),  # 8x8
            down(ndf * 4, ndf * 8), nn.BatchNorm2d(ndf * 8),  # 4x4
            ResidualBlock(ndf * 8, _leaky),
        )
        self.project_text = nn.Sequential(nn.Linear(cfg.embedding_dim, cfg.projected_dim), nn.BatchNorm1d(cfg.projected_dim), _leaky())
        self.joint = nn.Sequential(
            nn.Conv2d(ndf * 8 + cfg.projected_dim, ndf * 8, 1, bias=False), nn.BatchNorm2d(ndf * 8), _leaky(),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        )
        _init_weights(self)

    def forward(self, x: torch.Tensor, text_embedding: torch.Tensor | None = None) -> torch.Tensor:
        _check_embedding(text_embedding, x.shape[0], self.embedding_dim)
        features = self.image_features(x)
        text = self.project_text(text_embedding)[:, :, None, None].expand(-1, -1, *features.shape[-2:])
        return self.joint(torch.cat([features, text], dim=1)).flatten()


class StyleEncoder(nn.Module):
    """S(x) -> z (B, latent_dim): regresses the noise that produced G(z, phi(t)) (paper section 4.4; gbench design)."""

    def __init__(self, cfg: Text2ImageConfig):
        super().__init__()
        _check(cfg)
        self.cfg = cfg
        self.latent_dim = cfg.latent_dim
        s = cfg.s_channels
        widths = [s, s * 2, s * 4, s * 8] if cfg.resolution == 64 else [s * 2, s * 4, s * 8]
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, widths[0], 4, 2, 1, bias=False), _leaky()]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), _leaky()]
        layers += [nn.Conv2d(widths[-1], cfg.latent_dim, 4, 1, 0)]
        self.net = nn.Sequential(*layers)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


PAPER = Text2ImageConfig()
# The CPU smoke variant: same design at 32x32 with narrow widths (gbench's choice, used on shapes32).
SMOKE_OVERRIDES = {"resolution": 32, "g_channels": 16, "d_channels": 16, "s_channels": 16, "projected_dim": 32}

CONFIGS = {
    "text2image-cub": PAPER,
    "text2image-flowers": PAPER,
    "text2image-smoke": replace(PAPER, **SMOKE_OVERRIDES),
}


def _builder(cls, name):
    return lambda **overrides: cls(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(Generator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(Discriminator, name) for name in CONFIGS}
STYLE_ENCODERS = {name: _builder(StyleEncoder, name) for name in CONFIGS}
