"""Image-to-image trainers: pix2pix (task "paired") and CycleGAN (task "unpaired").

Follow junyanz/pytorch-CycleGAN-and-pix2pix (`models/pix2pix_model.py`, `models/cycle_gan_model.py`,
`models/networks.py` GANLoss and get_scheduler, `util/image_pool.py`, `data/base_dataset.py`);
shared/reference/models.md sections 6 and 7.

pix2pix, one step: fake_B = G(A); D step on D(A, B) vs D(A, fake_B) with L_D = 1/2 [GAN(real) + GAN(fake)];
then G step on GAN(D(A, fake_B), real) + lambda_l1 |B - fake_B|_1. `train.pix2pix_objective` picks the
paper's Table 1 terms: l1 (no D), gan (D sees B alone), cgan (D sees A and B), l1+gan, l1+cgan (default,
lambda 100). No z: the generator's dropout is the noise, kept on at test time (below).

CycleGAN, one step: G: X -> Y and F: Y -> X; G step on LSGAN terms for G(x) and F(y), cycle terms
lambda_cycle |F(G(x)) - x|_1 + lambda_cycle |G(F(y)) - y|_1 and identity terms lambda_cycle * lambda_identity
(|G(y) - y|_1 + |F(x) - x|_1), with both discriminators frozen; then one D step for D_Y and D_X on the real
images against fakes drawn from 50-image history pools. One Adam for both generators, one for both
discriminators.

Both: GAN terms are the official GANLoss (`train.loss` "ns" = vanilla BCE-with-logits, "lsgan" = MSE, against
an all-real / all-fake patch map, averaged over patches); Adam 2e-4, betas (0.5, 0.999); LR flat for
`epochs_constant` data epochs, then linear to 0 over `epochs_decay` (lr factor of 0-based epoch e:
1 - max(0, e + 1 - epochs_constant) / (epochs_decay + 1)); images loaded at 286 (data.load_size), randomly
cropped to 256 (data.resolution) and flipped, A and B of a pair with the same crop and flip. Data order is an
EpochSampler over the pairs (pix2pix) or over max(|X|, |Y|) positions (CycleGAN: x = position mod |X|,
y drawn uniformly per position from a generator seeded by (seed, epoch), so resume needs two integers).

Evaluation and sample grids run the generator as the official test.py does without --eval: in train mode
(batch statistics, dropout on), so pix2pix recipes evaluate one image per batch as the official test did.
Buffers (BN running statistics) are restored afterwards and the RNG is forked, so evaluating never changes
training. Protocols: FCN-score protocols (`gbench.evaluation.fcn`), or protocols with a `source_split`, whose
images are translated and scored by `evaluate_batches` (FID/KID against the reference split).

Deviations:
- LR: the linear decay steps at epoch ends as in the repo before it moved `update_learning_rate()` to the
  start of each epoch (that move gives 99 flat epochs and a last epoch at LR 0); ours gives 100 flat epochs
  and ends at LR/101.
- The history pool is vectorised over the batch: when two images of one batch draw the same slot, both get
  the slot's old image and the later one is stored (the official per-image loop would hand the second one the
  first's image). Identical at batch 1, the paper's setting. Its randomness comes from torch, not `random`.
- Random crops, flips and the CycleGAN y draws use the torch RNG (saved in checkpoints), not Python's `random`.
- The resize to load_size happens once when the data are loaded (deterministic, so equivalent).
- One device only (the recipes use batch 1).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

import reference_models
from gbench.config import PIX2PIX_OBJECTIVES, RunConfig
from gbench.errors import GBenchError, UsageError
from gbench.evaluation.evaluate import in_train_mode
from gbench.evaluation.translation import evaluate_translation
from gbench.sampling import grid_image, to_uint8
from gbench.train.gan import StepLog, learning_rate
from gbench.train.sampler import EpochSampler

GRID_SEED = 20_240_601
GRID_EXAMPLES = 8
OBJECTIVES = PIX2PIX_OBJECTIVES


# ------------------------------------------------------------------------------------------------ losses

def gan_loss(logits: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """The official GANLoss: BCE-with-logits ("ns", vanilla) or MSE ("lsgan") against an all-1 (real) or all-0
    map of D's patch logits, averaged over every patch."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "ns":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise GBenchError(f"image-to-image trainers use train.loss ns (vanilla) or lsgan, not {mode!r}")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, mode: str) -> torch.Tensor:
    """L_D = 1/2 [GAN(D(real), real) + GAN(D(fake), fake)] (the official halving slows D relative to G)."""
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))


def parse_objective(objective: str) -> tuple[bool, str]:
    """pix2pix objective -> (use L1, adversarial term: "" | "gan" | "cgan")."""
    if objective not in OBJECTIVES:
        raise UsageError(f"train.pix2pix_objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    terms = objective.split("+")
    return "l1" in terms, next((t for t in terms if t != "l1"), "")


# ------------------------------------------------------------------------------------------------ history pool

class HistoryPool:
    """A buffer of past generated images (Shrivastava et al., 2017; official util/image_pool.py).

    While filling, each image is stored and returned as is; once full, each image is, with probability 1/2,
    swapped with a random stored one (the stored one is returned), else returned as is. Size 0 = pass-through.
    """

    def __init__(self, size: int):
        self.size, self.count = size, 0
        self.images: torch.Tensor | None = None

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return fakes
        fakes = fakes.detach()
        if self.images is None:
            self.images = torch.zeros(self.size, *fakes.shape[1:], dtype=fakes.dtype, device=fakes.device)
        out = fakes.clone()
        n_fill = min(len(fakes), self.size - self.count)
        self.images[self.count : self.count + n_fill] = fakes[:n_fill]
        self.count += n_fill
        rest = len(fakes) - n_fill
        if rest:
            swap = torch.rand(rest) > 0.5
            slots = torch.randint(0, self.size, (rest,))
            positions = (torch.arange(rest) + n_fill)[swap].to(fakes.device)
            slots = slots[swap].to(fakes.device)
            out[positions] = self.images[slots]
            self.images[slots] = fakes[positions]
        return out

    def state_dict(self) -> dict:
        return {"size": self.size, "count": self.count, "images": self.images if self.images is not None else torch.empty(0)}

    def load_state_dict(self, state: dict) -> None:
        self.size, self.count = state["size"], state["count"]
        self.images = state["images"] if state["images"].numel() else None


# ------------------------------------------------------------------------------------------------ schedule and data

def epoch_lr_factor(epoch: int, epochs_constant: int, epochs_decay: int) -> float:
    """Official `linear` policy: 1 for the first epochs_constant epochs, then down by 1/(epochs_decay+1) per epoch."""
    return max(0.0, 1.0 - max(0, epoch + 1 - epochs_constant) / (epochs_decay + 1))


def crop_and_flip(images: list[torch.Tensor], crop: int, flip: bool) -> list[torch.Tensor]:
    """uint8 batches (B, C, L, L) at load size -> floats in [-1, 1], (B, C, crop, crop): one random crop position
    and flip per sample, shared by every tensor in `images` (A and B of a pair); drawn from the global torch RNG."""
    b, _, h, w = images[0].shape
    if crop > min(h, w):
        raise GBenchError(f"data.resolution {crop} is larger than the loaded images ({h}x{w}); check data.load_size")
    rows = torch.randint(0, h - crop + 1, (b,))[:, None] + torch.arange(crop)
    cols = torch.randint(0, w - crop + 1, (b,))[:, None] + torch.arange(crop)
    if flip:
        mirrored = torch.rand(b) < 0.5
        cols = torch.where(mirrored[:, None], cols.flip(1), cols)
    batch = torch.arange(b)[:, None, None]
    # advanced indices around a slice: the result is (B, crop, crop, C)
    return [x[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).float().div(127.5).sub(1) for x in images]


def centre_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    top, left = (images.shape[-2] - crop) // 2, (images.shape[-1] - crop) // 2
    return images[..., top : top + crop, left : left + crop]


def _build(kind: str, name: str, kwargs: dict, cfg: RunConfig) -> nn.Module:
    try:
        build = reference_models.build_generator if kind == "G" else reference_models.build_discriminator
        return build(name, **kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        raise UsageError(f"cannot build the models of {cfg.experiment}: {msg}") from None


def _check_patch_map(D: nn.Module, channels: int, resolution: int, device) -> None:
    """A PatchGAN whose field outgrows the crop returns an empty map (286x286 needs crops of at least 128)."""
    was_training = D.training
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            empty = 0 in D.eval()(torch.zeros(1, channels, resolution, resolution, device=device)).shape
    except RuntimeError:  # a kernel larger than its input
        empty = True
    D.train(was_training)
    if empty:
        field = getattr(D, "receptive_field", "?")
        raise GBenchError(f"the {field}x{field} PatchGAN has no output at {resolution}x{resolution} crops (data.resolution); "
                          "use a smaller model.d_kwargs.receptive_field or larger crops")


# ------------------------------------------------------------------------------------------------ shared trainer parts

class _TranslationTrainer:
    """What both trainers share: schedule, properties, evaluation. Subclasses set G, optimizers, sampler."""

    generator_label = "G"

    def _check_common(self, cfg: RunConfig, world_size: int) -> None:
        t = cfg.train
        if world_size > 1:
            raise GBenchError("the image-to-image trainers run on one device (the recipes use batch 1); launch without torchrun")
        if t.batch_size_d != t.batch_size_g:
            raise GBenchError(f"image-to-image trainers use one batch for G and D: set train.batch_size_d = train.batch_size_g "
                              f"(got {t.batch_size_d} and {t.batch_size_g})")
        if t.loss not in ("ns", "lsgan"):
            raise GBenchError(f"image-to-image trainers use train.loss ns (vanilla) or lsgan, not {t.loss!r}")
        if t.optimizer != "adam":
            raise GBenchError("image-to-image trainers use Adam (train.optimizer adam)")

    def _set_learning_rates(self, epoch: int) -> None:
        t = self.cfg.train
        for opt, base in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
            if opt is None:
                continue
            if t.epochs_constant or t.epochs_decay:
                lr = base * epoch_lr_factor(epoch, t.epochs_constant, t.epochs_decay)
            else:
                lr = learning_rate(t, base, self.step)
            for group in opt.param_groups:
                group["lr"] = lr

    def learning_rates(self) -> dict[str, float]:
        rates = {"lr_g": self.opt_g.param_groups[0]["lr"]}
        if self.opt_d is not None:
            rates["lr_d"] = self.opt_d.param_groups[0]["lr"]
        return rates

    @property
    def data_epoch(self) -> float:
        return self.sampler.data_epoch

    @property
    def images_per_step(self) -> int:
        return self.cfg.train.batch_size_d

    def evaluate(self, step: int) -> dict:
        return evaluate_translation(self.G, self.cfg.eval.protocol, device=self.device, batch_size=self.cfg.eval.batch_size,
                                    segmenter=self.cfg.eval.segmenter)

    def _grid(self, rows: list[list[torch.Tensor]], path) -> None:
        from pathlib import Path


        columns = len(rows[0])
        tiles = torch.stack([to_uint8(t) for row in rows for t in row]).cpu()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        grid_image(tiles, nrow=2 * columns).save(path)

    @contextmanager
    def _forked_rng(self):
        with torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []):
            torch.manual_seed(GRID_SEED)
            yield

    def _examples(self, images: torch.Tensor) -> torch.Tensor:
        crop = self.cfg.data.resolution
        return centre_crop(images[:GRID_EXAMPLES], crop).to(self.device).float() / 127.5 - 1


# ------------------------------------------------------------------------------------------------ pix2pix

class Pix2PixTrainer(_TranslationTrainer):
    """Trainer of task "paired" (pix2pix)."""

    def __init__(self, cfg: RunConfig, device: torch.device, rank: int = 0, world_size: int = 1):
        from gbench.data.paired import load_paired

        self._check_common(cfg, world_size)
        t, d = cfg.train, cfg.data
        self.cfg, self.device, self.step = cfg, device, 0
        self.data = load_paired(d.dataset, d.split, root=d.root, load_size=d.load_size or d.resolution, direction=d.direction, size=d.size)
        self.use_l1, self.adversarial = parse_objective(t.pix2pix_objective)
        self.G = _build("G", cfg.model.generator, dict(cfg.model.g_kwargs), cfg).to(device)
        self.D = None
        if self.adversarial:
            d_kwargs = dict(cfg.model.d_kwargs)
            conditional = self.adversarial == "cgan"
            if d_kwargs.setdefault("conditional_discriminator", conditional) != conditional:
                raise GBenchError(f"model.d_kwargs.conditional_discriminator contradicts train.pix2pix_objective {t.pix2pix_objective}")
            self.D = _build("D", cfg.model.discriminator, d_kwargs, cfg).to(device)
            _check_patch_map(self.D, self.data.inputs.shape[1] + self.data.targets.shape[1] if conditional else self.data.targets.shape[1],
                             d.resolution, device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=t.lr_g, betas=tuple(t.betas_g))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=tuple(t.betas_d)) if self.D is not None else None
        self.pool = HistoryPool(t.pool_size)
        self.sampler = EpochSampler(len(self.data), t.batch_size_d, seed=cfg.seed)

    def state_dict(self) -> dict:
        return {"step": self.step, "G": self.G.state_dict(), "D": self.D.state_dict() if self.D is not None else None,
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict() if self.opt_d is not None else None,
                "pool": self.pool.state_dict(), "sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]
        self.G.load_state_dict(state["G"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.D is not None:
            self.D.load_state_dict(state["D"])
            self.opt_d.load_state_dict(state["opt_d"])
        self.pool.load_state_dict(state["pool"])
        self.sampler.load_state_dict(state["sampler"])

    def _d_input(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """What D judges: concat(A, B) for cgan (A first, as the official code), B alone for gan."""
        return torch.cat([a, b], dim=1) if self.adversarial == "cgan" else b

    def train_step(self, log: StepLog) -> None:
        t, G, D = self.cfg.train, self.G, self.D
        idx = self.sampler.next_indices()
        self._set_learning_rates(self.sampler.epoch)
        real_a, real_b = (x.to(self.device) for x in crop_and_flip([self.data.inputs[idx], self.data.targets[idx]],
                                                                     self.cfg.data.resolution, self.cfg.data.flip))
        fake_b = G(real_a)
        terms = {}
        loss_g = torch.zeros((), device=self.device)
        if D is not None:
            D.requires_grad_(True)
            d_real = D(self._d_input(real_a, real_b))
            d_fake = D(self.pool.query(self._d_input(real_a, fake_b.detach())))
            loss_d = discriminator_loss(d_real, d_fake, t.loss)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            D.requires_grad_(False)
            loss_gan = gan_loss(D(self._d_input(real_a, fake_b)), True, t.loss)
            loss_g = loss_g + loss_gan
            terms.update(loss_d=loss_d, loss_gan=loss_gan, d_real=d_real.mean(), d_fake=d_fake.mean())
        if self.use_l1:
            l1 = F.l1_loss(fake_b, real_b)
            loss_g = loss_g + t.lambda_l1 * l1
            terms["loss_l1"] = l1
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step += 1
        log.add(loss_g=loss_g, **terms)

    def save_samples(self, path) -> None:
        """Rows of (input, output, target) for the first training pairs, centre-cropped."""
        bs = self.cfg.eval.batch_size  # batches as in evaluation: train-mode BN normalises over the batch
        with in_train_mode(self.G), self._forked_rng(), torch.no_grad():
            a, b = self._examples(self.data.inputs), self._examples(self.data.targets)
            fake = torch.cat([self.G(a[i : i + bs]) for i in range(0, len(a), bs)])
        self._grid([[a[i], fake[i], b[i]] for i in range(len(a))], path)


# ------------------------------------------------------------------------------------------------ CycleGAN

class CycleGANTrainer(_TranslationTrainer):
    """Trainer of task "unpaired" (CycleGAN). `G` translates the input domain X into Y, `F` the reverse."""

    def __init__(self, cfg: RunConfig, device: torch.device, rank: int = 0, world_size: int = 1):
        from gbench.data.paired import load_unpaired

        self._check_common(cfg, world_size)
        t, d = cfg.train, cfg.data
        self.cfg, self.device, self.step = cfg, device, 0
        self.data = load_unpaired(d.dataset, d.split, root=d.root, load_size=d.load_size or d.resolution, direction=d.direction, size=d.size)
        cx, cy = self.data.inputs.shape[1], self.data.targets.shape[1]
        g_kwargs, d_kwargs = dict(cfg.model.g_kwargs), dict(cfg.model.d_kwargs)
        self.G = _build("G", cfg.model.generator, {**g_kwargs, "in_channels": cx, "out_channels": cy}, cfg).to(device)
        self.F = _build("G", cfg.model.generator, {**g_kwargs, "in_channels": cy, "out_channels": cx}, cfg).to(device)
        self.D_Y = _build("D", cfg.model.discriminator, {**d_kwargs, "out_channels": cy}, cfg).to(device)
        self.D_X = _build("D", cfg.model.discriminator, {**d_kwargs, "out_channels": cx}, cfg).to(device)
        generators = [*self.G.parameters(), *self.F.parameters()]
        self.opt_g = torch.optim.Adam(generators, lr=t.lr_g, betas=tuple(t.betas_g))
        self.opt_d = torch.optim.Adam([*self.D_Y.parameters(), *self.D_X.parameters()], lr=t.lr_d, betas=tuple(t.betas_d))
        self.pool_x, self.pool_y = HistoryPool(t.pool_size), HistoryPool(t.pool_size)
        self.n_x, self.n_y = len(self.data.inputs), len(self.data.targets)
        self.sampler = EpochSampler(max(self.n_x, self.n_y), t.batch_size_d, seed=cfg.seed)

    def state_dict(self) -> dict:
        return {"step": self.step, "G": self.G.state_dict(), "F": self.F.state_dict(), "D_Y": self.D_Y.state_dict(),
                "D_X": self.D_X.state_dict(), "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "pool_x": self.pool_x.state_dict(), "pool_y": self.pool_y.state_dict(), "sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]
        for name in ("G", "F", "D_Y", "D_X", "opt_g", "opt_d", "pool_x", "pool_y", "sampler"):
            getattr(self, name).load_state_dict(state[name])

    def _y_indices(self, positions: torch.Tensor) -> torch.Tensor:
        """The y paired with each position of this epoch: uniform, from a generator seeded by (seed, epoch)."""
        g = torch.Generator().manual_seed(self.cfg.seed * 100_003 + self.sampler.epoch + 7_919)
        return torch.randint(0, self.n_y, (self.sampler.n,), generator=g)[positions]

    def train_step(self, log: StepLog) -> None:
        t, G, F_, D_X, D_Y = self.cfg.train, self.G, self.F, self.D_X, self.D_Y
        idx = self.sampler.next_indices()
        self._set_learning_rates(self.sampler.epoch)
        start = self.sampler.offset - len(idx)
        y_idx = self._y_indices(torch.arange(start, self.sampler.offset))
        crop, flip = self.cfg.data.resolution, self.cfg.data.flip
        (real_x,), (real_y,) = crop_and_flip([self.data.inputs[idx % self.n_x]], crop, flip), crop_and_flip([self.data.targets[y_idx]], crop, flip)
        real_x, real_y = real_x.to(self.device), real_y.to(self.device)
        fake_y, fake_x = G(real_x), F_(real_y)
        rec_x, rec_y = F_(fake_y), G(fake_x)

        D_X.requires_grad_(False)
        D_Y.requires_grad_(False)
        loss_gan = gan_loss(D_Y(fake_y), True, t.loss) + gan_loss(D_X(fake_x), True, t.loss)
        loss_cycle = t.lambda_cycle * (F.l1_loss(rec_x, real_x) + F.l1_loss(rec_y, real_y))
        loss_g = loss_gan + loss_cycle
        terms = {"loss_gan": loss_gan, "loss_cycle": loss_cycle}
        if t.lambda_identity > 0:
            loss_idt = t.lambda_cycle * t.lambda_identity * (F.l1_loss(G(real_y), real_y) + F.l1_loss(F_(real_x), real_x))
            loss_g = loss_g + loss_idt
            terms["loss_idt"] = loss_idt
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()

        D_X.requires_grad_(True)
        D_Y.requires_grad_(True)
        loss_d_y = discriminator_loss(D_Y(real_y), D_Y(self.pool_y.query(fake_y.detach())), t.loss)
        loss_d_x = discriminator_loss(D_X(real_x), D_X(self.pool_x.query(fake_x.detach())), t.loss)
        self.opt_d.zero_grad(set_to_none=True)
        (loss_d_y + loss_d_x).backward()
        self.opt_d.step()
        self.step += 1
        log.add(loss_d=loss_d_x + loss_d_y, loss_g=loss_g, **terms)

    def save_samples(self, path) -> None:
        """Rows of (x, G(x), F(G(x))) and (y, F(y), G(F(y))) for the first training images, centre-cropped."""
        with in_train_mode(self.G, self.F), self._forked_rng(), torch.no_grad():
            x, y = self._examples(self.data.inputs)[: GRID_EXAMPLES // 2], self._examples(self.data.targets)[: GRID_EXAMPLES // 2]
            gx, fy = self.G(x), self.F(y)
            rows = [[x[i], gx[i], r] for i, r in enumerate(self.F(gx))] + [[y[i], fy[i], r] for i, r in enumerate(self.G(fy))]
        self._grid(rows, path)
