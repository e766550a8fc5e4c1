"""pix2pix (Isola et al., CVPR 2017): U-Net generators and the PatchGAN discriminator family.

Follows junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py`` (``UnetGenerator``, ``NLayerDiscriminator``,
``PixelDiscriminator``) with the defaults ``pix2pix_model.py`` forces: ngf = ndf = 64, batch norm, dropout on.
Spec and counts: shared/reference/models.md section 6.

Generators (``task = "paired"``): ``forward(a)`` maps an image A in [-1, 1], (B, in_channels, H, W), to an image B
in [-1, 1] (tanh), same H x W; H and W must be multiples of 2**num_downs. There is no z: the dropout, kept on at
test time in the paper, is the only noise.
- ``pix2pix``: U-Net-256, 8 stride-2 downs (256 -> 1x1 bottleneck). 54,413,955 parameters.
- ``pix2pix-unet128``: U-Net-128, 7 downs. 41,828,995.
- ``pix2pix-encoder-decoder``: U-Net-256 without skips (the paper's encoder-decoder ablation). 39,075,459.
Encoder C64-C128-C256-C512-C512-C512-C512-C512 (4x4, stride 2), BN on all but the first and the innermost
(a 1x1 bottleneck at batch size 1 would be zeroed by BN); decoder ReLU -> ConvT -> BN [-> Dropout(0.5)], the last
ConvT has a bias and a tanh. Where the dropout sits (``dropout_levels``):
- ``"paper"`` (default): the three decoder levels nearest the bottleneck, the innermost included: the paper's
  appendix (decoder CD512-CD1024-CD1024-C1024-...) and the Torch code its tables came from (phillipi/pix2pix
  ``models.lua`` ``defineG_unet``: Dropout on d1, d2, d3).
- ``"pytorch"``: the PyTorch port (``UnetGenerator``): the ``num_downs - 5`` levels just outside the innermost one,
  which has none (d2, d3, d4 for U-Net-256; two levels for U-Net-128).
Both place three Dropout layers in U-Net-256 and neither has parameters, so the counts are the same.
Convolutions carry a bias only when the norm is instance norm (BN's shift makes it redundant).

Discriminator (every name above): a PatchGAN that sees concat(A, B) (6 channels, A first, as ``pix2pix_model.py``
concatenates) and returns a map of per-patch logits (B, 1, H', W'), no sigmoid: the loss averages over patches.
``receptive_field`` picks the variant (4x4 convs, padding 1, LeakyReLU 0.2, widths 64 * min(2**i, 8)):
1 = PixelGAN (1x1 convs, 9,024), 16 = n_layers 1 (139,585), 70 = n_layers 3, the default (2,768,705),
286 = n_layers 5 (11,159,361; its field only fits inputs of at least 286x286, so at 256x256 it sees 255).
``PatchGAN`` is shared with ``cyclegan.py``.

Init as the official ``init_weights('normal', 0.02)``: conv weights N(0, 0.02), BN weight N(1, 0.02), biases 0.

Deviations / notes:
- The Torch code also batch-normalises the innermost encoder level (e8), which at batch 1 and 1x1 zeroes the
  bottleneck; gbench follows the PyTorch port there (no norm on the innermost level).
- The official U-Net is built recursively from nested blocks; ours keeps the same layers in two flat lists
  (``encoder``, ``decoder``), so state-dict keys differ from official checkpoints.
- The official blocks apply ``LeakyReLU(0.2, inplace=True)`` to a block's input and then concatenate that same
  tensor as the skip, so the skips carry LeakyReLU-activated encoder features. We reproduce that behaviour
  explicitly: each non-innermost encoder level ends with its LeakyReLU and the skip reads its output.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn


@dataclass(frozen=True)
class Pix2PixConfig:
    in_channels: int = 3  # A (the condition)
    out_channels: int = 3  # B (the target)
    g_channels: int = 64  # ngf: width of the first encoder level
    num_downs: int = 8  # 8: U-Net-256 (256 -> 1x1), 7: U-Net-128; at least 5
    skip_connections: bool = True  # False: the paper's encoder-decoder
    dropout: bool = True
    dropout_levels: str = "paper"  # "paper": the 3 decoder levels nearest the bottleneck (Torch code); "pytorch": the port's
    norm: str = "batch"  # "batch" (pix2pix) or "instance"
    d_channels: int = 64  # ndf
    receptive_field: int = 70  # PatchGAN variant: 1, 16, 70 or 286
    conditional_discriminator: bool = True  # D sees concat(A, B); False: B only


def normalization(kind: str, channels: int) -> nn.Module:
    """The official norm layers: BN, or InstanceNorm without affine parameters or running statistics."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    raise ValueError(f"norm must be 'batch' or 'instance', got {kind!r}")


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """Official ``init_weights(net, 'normal', 0.02)``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def dropout_levels(num_downs: int, convention: str) -> set[int]:
    """Decoder levels (``decoder[level]`` undoes ``encoder[level]``; ``num_downs - 1`` is the innermost) with Dropout."""
    if convention == "paper":
        return set(range(max(num_downs - 3, 1), num_downs))
    if convention == "pytorch":
        return set(range(4, num_downs - 1))
    raise ValueError(f"dropout_levels must be 'paper' or 'pytorch', got {convention!r}")


class UNetGenerator(nn.Module):
    """U-Net (or encoder-decoder) with ``num_downs`` 4x4 stride-2 levels; level i halves, decoder level i doubles."""

    task = "paired"

    def __init__(self, cfg: Pix2PixConfig):
        super().__init__()
        n = cfg.num_downs
        if n < 5:
            raise ValueError(f"num_downs must be at least 5 (64-128-256-512 plus a bottleneck), got {n}")
        dropped = dropout_levels(n, cfg.dropout_levels) if cfg.dropout else set()
        self.cfg = cfg
        self.in_channels, self.out_channels, self.channels = cfg.in_channels, cfg.out_channels, cfg.out_channels
        self.resolution = 2**n  # the side whose bottleneck is 1x1 (the training size)
        self.input_range = self.output_range = (-1.0, 1.0)
        widths = [cfg.g_channels * m for m in (1, 2, 4, 8)] + [cfg.g_channels * 8] * (n - 4)
        bias = cfg.norm == "instance"

        self.encoder = nn.ModuleList()
        for level in range(n):
            c_in = cfg.in_channels if level == 0 else widths[level - 1]
            layers: list[nn.Module] = [nn.Conv2d(c_in, widths[level], 4, 2, 1, bias=bias)]
            if 0 < level < n - 1:
                layers.append(normalization(cfg.norm, widths[level]))
            if level < n - 1:  # the next level's input activation; the skip reads it too (see module docstring)
                layers.append(nn.LeakyReLU(0.2))
            self.encoder.append(nn.Sequential(*layers))

        self.decoder = nn.ModuleList()  # decoder[level] undoes encoder[level]; forward runs it innermost first
        for level in range(n):
            outermost, innermost = level == 0, level == n - 1
            c_in = widths[level] * (2 if cfg.skip_connections and not innermost else 1)
            c_out = cfg.out_channels if outermost else widths[level - 1]
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias or outermost)]
            if outermost:
                layers.append(nn.Tanh())
            else:
                layers.append(normalization(cfg.norm, c_out))
            if level in dropped:
                layers.append(nn.Dropout(0.5))
            self.decoder.append(nn.Sequential(*layers))
        init_normal(self)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        step = 2 ** len(self.encoder)
        if a.shape[-2] % step or a.shape[-1] % step:
            raise ValueError(f"U-Net with {len(self.encoder)} downs needs H and W divisible by {step}, got {tuple(a.shape[-2:])}")
        features = []
        h = a
        for down in self.encoder:
            h = down(h)
            features.append(h)
        for level in reversed(range(len(self.decoder))):
            h = self.decoder[level](h)
            if level > 0 and self.cfg.skip_connections:
                h = torch.cat([features[level - 1], h], dim=1)
        return h


PATCHGAN_N_LAYERS = {16: 1, 70: 3, 286: 5}  # receptive field -> NLayerDiscriminator n_layers; 1 is the PixelGAN


class PatchGAN(nn.Module):
    """PatchGAN: logits for overlapping square patches of side ``receptive_field``, shaped (B, 1, H', W')."""

    def __init__(self, in_channels: int, width: int = 64, receptive_field: int = 70, norm: str = "batch"):
        super().__init__()
        self.in_channels, self.receptive_field = in_channels, receptive_field
        bias = norm == "instance"
        if receptive_field == 1:  # PixelGAN: 1x1 convolutions only
            layers: list[nn.Module] = [
                nn.Conv2d(in_channels, width, 1), nn.LeakyReLU(0.2),
                nn.Conv2d(width, 2 * width, 1, bias=bias), normalization(norm, 2 * width), nn.LeakyReLU(0.2),
                nn.Conv2d(2 * width, 1, 1, bias=bias),
            ]
        elif receptive_field in PATCHGAN_N_LAYERS:
            n_layers = PATCHGAN_N_LAYERS[receptive_field]
            widths = [width * min(2**i, 8) for i in range(n_layers + 1)]
            layers = [nn.Conv2d(in_channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]
            for i in range(1, n_layers + 1):
                stride = 2 if i < n_layers else 1
                layers += [nn.Conv2d(widths[i - 1], widths[i], 4, stride, 1, bias=bias), normalization(norm, widths[i]), nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 1))
        else:
            raise ValueError(f"receptive_field must be one of 1, {', '.join(map(str, PATCHGAN_N_LAYERS))}; got {receptive_field}")
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_discriminator(cfg: Pix2PixConfig) -> PatchGAN:
    in_channels = cfg.out_channels + (cfg.in_channels if cfg.conditional_discriminator else 0)
    return PatchGAN(in_channels, cfg.d_channels, cfg.receptive_field, cfg.norm)


CONFIGS = {
    "pix2pix": Pix2PixConfig(),
    "pix2pix-unet128": Pix2PixConfig(num_downs=7),
    "pix2pix-encoder-decoder": Pix2PixConfig(skip_connections=False),
}


def _builder(build, name):
    return lambda **overrides: build(replace(CONFIGS[name], **overrides))


GENERATORS = {name: _builder(UNetGenerator, name) for name in CONFIGS}
DISCRIMINATORS = {name: _builder(build_discriminator, name) for name in CONFIGS}
