"""The text-to-image trainer (task "text2image"): GAN, GAN-CLS, GAN-INT and GAN-INT-CLS (Reed et al., ICML 2016),
then the style encoder S.

Followed: reedscot/icml2016 ``main_cls_int.lua`` (the generic script for all four objectives) as run by
``scripts/train_cub.sh`` / ``train_flowers.sh``. One step is the script's loop body, ``optim.adam(fDx)`` then
``optim.adam(fGx)``:

- batch (``gbench.data.text2image.sample_training_batch``): B real images drawn class first, each with the mean of
  ``data.num_captions`` (4) of its caption embeddings h, and B "wrong" images of other classes; crop
  ``data.resolution`` (64) of ``data.load_size`` (76) and a horizontal flip, for both;
- D step (fDx): fake = G(z, h) with fresh z ~ N(0, I) (G in training mode); D is called three separate times, on
  (real, h), (wrong, h) and (fake, h), so each call has its own batch-norm statistics, as the script's three
  ``netD:forward`` calls; L_D = BCE(real, 1) + cls_weight BCE(wrong, 0) + (1 - cls_weight) BCE(fake, 0);
- G step (fGx): the 3B/2 conditioning [h; (h[i] + h[i + B/2]) / 2] with 3B/2 fresh z; D scores the 3B/2 fakes in one
  call; L_G = (sum over the B matched fakes + interp_weight x sum over the B/2 interpolated) of -log D, / (3B/2);
- objectives: ``gan`` (cls_weight 0, interp_weight 0), ``gan-cls`` (0.5, 0), ``gan-int`` (0, 1), ``gan-int-cls``
  (0.5, 1). Without INT the script still runs the 3B/2 G batch with weight 0 on the interpolated half; so do we;
- Adam lr 2e-4, betas (0.5, 0.999) for G and D; the LR is multiplied by 0.5 at the start of every 100th epoch
  (1-based, ``epoch % decay_every == 0``: epochs 1-99 at 2e-4, 100-199 at 1e-4, ...), an epoch being
  ceil(N / B) steps over the N training images (the script's ``for i = 1, data:size(), batchSize``);
- no EMA; evaluation and samples use G in eval mode (batch-norm running statistics), as ``txt2img_demo.lua``.

The official closures zero every convolution bias before each forward; the reference models have none
(reference_models/text2image.py). gbench's sampler uses a private generator seeded by the run seed (its state is in
every checkpoint); the script seeds with ``torch.random(1, 10000)``.

Style encoder (paper section 4.4; no official code): after the ``train.steps`` GAN steps the same run trains S for
``train.style_steps`` more steps with G frozen in eval mode: z ~ N(0, I), h = the mean of ``num_captions`` captions
of a class-first training image, x = G(z, h), loss = batch mean of ||z - S(x)||^2, Adam with G's lr and betas,
batch ``batch_size_g``. A second stage of the same run rather than a separate experiment: S is defined by the G it
inverts, so one run directory holds both, resumes across the stage boundary, and writes the style-transfer grid
G(S(x), phi(t)) next to the caption grids; G's evaluation is untouched by the S stage (G does not change).

Deviations: no DDP (single process); D returns logits and the losses are BCE-with-logits (the same loss).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gbench import losses
from gbench.config import RunConfig
from gbench.errors import GBenchError
from gbench.models import build_models
from gbench.train.gan import StepLog

OBJECTIVES = {  # train.objective -> (cls_weight, interp_weight), train_cub.sh's CLS / INT values
    "gan": (0.0, 0.0),
    "gan-cls": (losses.CLS_WEIGHT, 0.0),
    "gan-int": (0.0, losses.INTERP_WEIGHT),
    "gan-int-cls": (losses.CLS_WEIGHT, losses.INTERP_WEIGHT),
}
LR_SCHEDULES = ("constant", "epoch-decay")
GRID_SEED = 20_240_601  # fixed z and captions of the sample grids
GRID_CAPTIONS = 8  # rows of the caption grid (test captions)
GRID_COLUMNS = 8  # samples per caption (one fixed z per column, shared by the rows)
STYLE_IMAGES = 6  # style-transfer grid: query images (columns)
STYLE_MSE_SAMPLES = 500  # evaluation of S: fresh (z, test caption) pairs


def style_encoder_name(cfg: RunConfig) -> str:
    return cfg.model.generator


class Text2ImageTrainer:
    """Trainer of task "text2image" (the interface of gbench/runs.py; see GANTrainer)."""

    def __init__(self, cfg: RunConfig, device: torch.device, rank: int = 0, world_size: int = 1):
        from gbench.data.text2image import load_captioned

        t, d = cfg.train, cfg.data
        if world_size != 1:
            raise GBenchError("the text-to-image trainer runs in one process (no DDP)")
        if t.objective not in OBJECTIVES:
            raise GBenchError(f"train.objective must be one of {', '.join(OBJECTIVES)}, not {t.objective!r}")
        if t.lr_schedule not in LR_SCHEDULES:
            raise GBenchError(f"the text-to-image trainer supports lr_schedule {' or '.join(LR_SCHEDULES)}, not {t.lr_schedule!r}")
        if t.lr_schedule == "epoch-decay" and t.lr_step_every_epochs < 1:
            raise GBenchError("lr_schedule epoch-decay needs train.lr_step_every_epochs >= 1 (icml2016: 100)")
        if t.batch_size_d != t.batch_size_g or t.batch_size_d % 2:
            raise GBenchError("the text-to-image trainer draws one batch per step for D and G (train.batch_size_d = batch_size_g), "
                              "and GAN-INT pairs its two halves: the batch size must be even")
        if t.n_critic != 1 or t.ema:
            raise GBenchError("the text-to-image recipe makes one D and one G update per step and keeps no EMA: "
                              "set train.n_critic=1 and train.ema=false")
        if d.num_captions < 1:
            raise GBenchError(f"data.num_captions must be at least 1, got {d.num_captions}")
        self.cfg, self.device = cfg, device
        self.cls_weight, self.interp_weight = OBJECTIVES[t.objective]
        self.data = load_captioned(d.dataset, d.split, root=d.root, load_size=d.load_size, resolution=d.resolution, size=d.size)
        self.G, self.D = (m.to(device) for m in build_models(cfg))
        if not getattr(self.G, "embedding_dim", 0):
            raise GBenchError(f"{cfg.model.generator} is not a text-conditional generator (no embedding_dim)")
        if self.G.embedding_dim != self.data.embedding_dim:
            raise GBenchError(f"{cfg.model.generator} takes {self.G.embedding_dim}-d caption embeddings, {self.data.name} has "
                              f"{self.data.embedding_dim}-d ones")
        if self.data.images.shape[-1] < d.resolution:
            raise GBenchError(f"{self.data.name} images are {self.data.images.shape[-1]} px, smaller than data.resolution {d.resolution}")
        self.S = None
        if t.style_steps:
            from reference_models.text2image import STYLE_ENCODERS

            try:
                self.S = STYLE_ENCODERS[style_encoder_name(cfg)](**cfg.model.g_kwargs).to(device)
            except (KeyError, TypeError, ValueError) as exc:
                raise GBenchError(f"cannot build the style encoder of {cfg.experiment}: {exc}") from None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=t.lr_g, betas=tuple(t.betas_g))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=tuple(t.betas_d))
        self.opt_s = torch.optim.Adam(self.S.parameters(), lr=t.lr_g, betas=tuple(t.betas_g)) if self.S is not None else None
        self.rng = torch.Generator().manual_seed(cfg.seed)  # batch sampling (classes, images, captions, crops, flips)
        self.steps_per_epoch = math.ceil(len(self.data) / t.batch_size_d)
        self.total_steps = t.steps + t.style_steps
        self.step = 0
        self._grid = None  # (captions, embeddings, z) of the sample grids, built once
        self._style_queries = None  # real test images of the style-transfer grid, loaded once

    # -- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"step": self.step, "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": None,
                "S": self.S.state_dict() if self.S is not None else None,
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "opt_s": self.opt_s.state_dict() if self.opt_s is not None else None,
                "sampler": {"rng": self.rng.get_state()}}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.S is not None:
            self.S.load_state_dict(state["S"])
            self.opt_s.load_state_dict(state["opt_s"])
        self.rng.set_state(state["sampler"]["rng"])

    @property
    def generator_label(self) -> str:
        return "G"

    @property
    def data_epoch(self) -> float:
        return min(self.step, self.cfg.train.steps) / self.steps_per_epoch

    @property
    def images_per_step(self) -> int:
        return self.cfg.train.batch_size_d

    def learning_rate(self, base: float) -> float:
        """LR of the current GAN step: icml2016 multiplies by lr_decay when the 1-based epoch is a multiple of decay_every."""
        t = self.cfg.train
        if t.lr_schedule == "constant":
            return base
        epoch = self.step // self.steps_per_epoch + 1
        return base * t.lr_step_factor ** (epoch // t.lr_step_every_epochs)

    def learning_rates(self) -> dict[str, float]:
        out = {"lr_g": self.opt_g.param_groups[0]["lr"], "lr_d": self.opt_d.param_groups[0]["lr"]}
        if self.opt_s is not None and self.step > self.cfg.train.steps:
            out["lr_s"] = self.opt_s.param_groups[0]["lr"]
        return out

    # -- one step ------------------------------------------------------------------------------------
    def train_step(self, log: StepLog) -> None:
        if self.step < self.cfg.train.steps:
            terms = self.gan_step()
        else:
            terms = self.style_step()
        self.step += 1
        log.add(**terms)

    def gan_step(self) -> dict:
        from gbench.data.text2image import sample_training_batch

        t, G, D = self.cfg.train, self.G, self.D
        for opt, base in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
            for group in opt.param_groups:
                group["lr"] = self.learning_rate(base)
        G.train()
        batch = sample_training_batch(self.data, t.batch_size_d, self.rng, self.cfg.data.num_captions, self.cfg.data.resolution,
                                      flip=self.cfg.data.flip)
        real, h, wrong = (x.to(self.device) for x in (batch.real, batch.embedding, batch.wrong))
        b = real.shape[0]

        # D (fDx): three separate calls, each with its own batch-norm statistics
        with torch.no_grad():
            fake = G(torch.randn(b, G.latent_dim, device=self.device), h)
        d_real = D(real, h)
        d_wrong = D(wrong, h) if self.cls_weight > 0 else None
        d_fake = D(fake, h)
        loss_d = losses.gan_cls_d_loss(d_real, d_wrong, d_fake, self.cls_weight)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.total.backward()
        self.opt_d.step()

        # G (fGx): B matched + B/2 interpolated embeddings, fresh z, one D call on the 3B/2 fakes
        D.requires_grad_(False)
        conditioning = losses.with_interpolations(h)
        logits = D(G(torch.randn(len(conditioning), G.latent_dim, device=self.device), conditioning), conditioning)
        loss_g = losses.gan_int_g_loss(logits[:b], logits[b:], self.interp_weight)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        D.requires_grad_(True)
        terms = {"loss_d": loss_d.total, "loss_d_real": loss_d.real, "loss_d_fake": loss_d.fake, "loss_g": loss_g,
                 "d_real": torch.sigmoid(d_real).mean(), "d_fake": torch.sigmoid(d_fake).mean()}
        if d_wrong is not None:
            terms.update(loss_d_wrong=loss_d.wrong, d_wrong=torch.sigmoid(d_wrong).mean())
        return terms

    def style_step(self) -> dict:
        """One update of S on fresh (z, caption) pairs through the frozen G (eval mode)."""
        from gbench.data.text2image import class_uniform_indices, mean_caption_embeddings

        t, G, S = self.cfg.train, self.G, self.S
        G.eval()
        S.train()
        index = class_uniform_indices(self.data.labels, t.batch_size_g, self.rng)
        h = mean_caption_embeddings(self.data.embeddings, self.data.caption_offsets, index, self.cfg.data.num_captions, self.rng)
        z = torch.randn(len(index), G.latent_dim, device=self.device)
        with torch.no_grad():
            x = G(z, h.to(self.device))
        loss = losses.style_loss(S(x), z)
        self.opt_s.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_s.step()
        return {"loss_style": loss}

    # -- evaluation and samples ------------------------------------------------------------------
    def evaluate(self, step: int) -> dict:
        from gbench.evaluation.evaluate import evaluate_generator

        result = evaluate_generator(self.G, self.cfg.eval.protocol, device=self.device, batch_size=self.cfg.eval.batch_size)
        if self.S is not None and step > self.cfg.train.steps:
            result["style_encoder"] = self.style_error()
        return result

    def _test_pool(self):
        from gbench.data.text2image import load_caption_pool

        return load_caption_pool(self.cfg.data.dataset, "test", root=self.cfg.data.root)

    @torch.no_grad()
    def style_error(self) -> dict:
        """Mean ||z - S(G(z, h))||^2 on STYLE_MSE_SAMPLES fresh z and test captions (a fixed seed), and the same for
        a constant guess z_hat = 0 (= the latent dimension in expectation), the error S must beat."""
        pool = self._test_pool()
        g = torch.Generator().manual_seed(GRID_SEED + 1)
        z = torch.randn(STYLE_MSE_SAMPLES, self.G.latent_dim, generator=g)
        h = pool.embeddings[torch.randint(0, len(pool.embeddings), (STYLE_MSE_SAMPLES,), generator=g)]
        modes = self.G.training, self.S.training
        self.G.eval(), self.S.eval()
        try:
            z_hat = self.S(self.G(z.to(self.device), h.to(self.device))).cpu()
        finally:
            self.G.train(modes[0]), self.S.train(modes[1])
        return {"mse": float(losses.style_loss(z_hat, z)), "mse_of_zero": float(z.pow(2).sum(1).mean()),
                "n": STYLE_MSE_SAMPLES, "captions": pool.name}

    def _grid_inputs(self):
        if self._grid is None:
            pool = self._test_pool()
            g = torch.Generator().manual_seed(GRID_SEED)
            rows = torch.randperm(len(pool.embeddings), generator=g)[:GRID_CAPTIONS]
            captions = [pool.captions[i] if pool.captions else f"test caption {int(i)}" for i in rows]
            z = torch.randn(GRID_COLUMNS, self.G.latent_dim, generator=g)
            self._grid = (captions, pool.embeddings[rows], z)
        return self._grid

    @torch.no_grad()
    def save_samples(self, path) -> None:
        """Rows of test captions x columns of fixed z (the same z in every row and at every step); once S is trained,
        also the style-transfer grid ``style-transfer-step-*.png`` next to it."""
        from gbench.sampling import caption_grid_image, to_uint8

        captions, embeddings, z = self._grid_inputs()
        was_training = self.G.training
        self.G.eval()
        try:
            with torch.random.fork_rng(devices=[]):
                images = self.G(z.repeat(len(captions), 1).to(self.device),
                                embeddings.repeat_interleave(len(z), 0).to(self.device))
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            caption_grid_image(to_uint8(images).cpu(), captions, len(z)).save(path)
            if self.S is not None and self.step > self.cfg.train.steps:
                self.save_style_transfer(path.with_name(f"style-transfer-{path.name}"))
        finally:
            self.G.train(was_training)

    @torch.no_grad()
    def save_style_transfer(self, path: Path) -> None:
        """Top row: real test images x; below, one row per test caption t: G(S(x), phi(t)) (paper Figure 6)."""
        from gbench.data.text2image import centre_crop, load_captioned
        from gbench.sampling import caption_grid_image, to_uint8

        if self._style_queries is None:
            d = self.cfg.data
            test = load_captioned(d.dataset, "test", root=d.root, load_size=d.load_size, resolution=d.resolution, size=STYLE_IMAGES)
            pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(GRID_SEED))[:STYLE_IMAGES]
            self._style_queries = centre_crop(test.images[pick], d.resolution)  # the evaluation's view of a test image
        queries = self._style_queries
        captions, embeddings, _ = self._grid_inputs()
        modes = self.G.training, self.S.training
        self.G.eval(), self.S.eval()
        try:
            style = self.S(queries.to(self.device).float() / 127.5 - 1)
            images = self.G(style.repeat(len(captions), 1), embeddings.repeat_interleave(len(style), 0).to(self.device))
        finally:
            self.G.train(modes[0]), self.S.train(modes[1])
        tiles = torch.cat([queries, to_uint8(images).cpu()])
        caption_grid_image(tiles, ["query images (style)", *captions], len(style)).save(path)
