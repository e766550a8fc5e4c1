"""The unconditional / class-conditional GAN trainer.

One G step = `n_critic` D steps (each on a fresh real batch of `batch_size_d` and fresh z) followed
by one G step on fresh z of `batch_size_g`. Differentiable augmentation wraps every D input (reals,
fakes, penalty interpolates, G-step fakes). EMA of G after each G step. TransGAN's extras
(locality schedule, MT-CT super-resolution loss) hook in when the experiment switches them on.

Deviation from the TransGAN/AutoGAN loop (which runs the G step when `d_step % n_critic == 0`, i.e.
D, G, D, D, D, D, G, ...): gbench runs n_critic D steps before each G step. Same ratio, one phase shift.
Recipes whose official loop orders the updates otherwise say so in `train.loop_order`: "g-first"
(StyleGAN2, PyTorch-GAN's cgan), "g-first-skip0" (WGAN-GP: no G step at iteration 0) and
"simultaneous" (the original GAN code: both gradients from one batch, applied together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gbench import losses
from gbench.config import RunConfig
from gbench.errors import GBenchError
from gbench.models import build_models
from gbench.sampling import generate, sample_grid, sample_labels, sample_latent
from gbench.train.ema import EMA
from gbench.train.sampler import EpochSampler, real_batch

GRID_SEED = 20_240_601  # fixed z of the sample grids
GRID_SIZE = 64


def make_augment(cfg: RunConfig) -> Callable[[torch.Tensor], torch.Tensor]:
    if cfg.train.augment == "none":
        return lambda x: x
    from gbench.augment import diff_augment

    variant = {"diffaug": "original", "diffaug-transgan": "transgan"}.get(cfg.train.augment)
    if variant is None:
        raise GBenchError(f"train.augment must be none, diffaug or diffaug-transgan, not {cfg.train.augment!r}")
    return lambda x: diff_augment(x, cfg.train.augment_policy, variant=variant)


def learning_rate(t, base: float, step: int) -> float:
    """LR of G step `step` under `t.lr_schedule` (stateless: resume needs only the step)."""
    if t.lr_schedule == "constant":
        return base
    if t.lr_schedule == "linear":
        return base * max(0.0, 1.0 - step / t.steps)
    if t.lr_schedule == "exponential":
        return max(base * math.exp(-step * math.log(t.lr_decay)), t.lr_min)
    raise GBenchError(f"train.lr_schedule must be constant, linear or exponential, not {t.lr_schedule!r}")


def momentum(t, data_epoch: float) -> float:
    """SGD momentum, ramped linearly from `momentum` to `momentum_final` over `momentum_ramp_epochs`."""
    if not t.momentum_final:
        return t.momentum
    start, end = t.momentum_ramp_epochs
    frac = min(max((data_epoch - start) / max(end - start, 1e-9), 0.0), 1.0)
    return t.momentum + (t.momentum_final - t.momentum) * frac


def _optimizer(cfg: RunConfig, params, lr: float, betas: tuple) -> torch.optim.Optimizer:
    if cfg.train.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas))
    if cfg.train.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.train.momentum)
    raise GBenchError(f"train.optimizer must be adam or sgd, not {cfg.train.optimizer!r}")


@dataclass
class StepLog:
    """Running sums of the logged quantities between two log lines (kept as tensors: no per-step sync)."""

    sums: dict = field(default_factory=dict)
    count: int = 0
    counts: dict = field(default_factory=dict)  # per key: a step may skip a term (WGAN-GP's loop has no G step at step 0)

    def add(self, **values: torch.Tensor) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v.detach().float()
            self.counts[k] = self.counts.get(k, 0) + 1
        self.count += 1

    def means(self) -> dict[str, float]:
        return {k: float(v) / max(self.counts.get(k, 0), 1) for k, v in self.sums.items()}


class GANTrainer:
    """Trainer of task "gan". The run loop (gbench/runs.py) needs from every trainer: `step`,
    `train_step(log)`, `state_dict()`/`load_state_dict()`, `evaluate(step)`, `save_samples(path)`,
    `learning_rates()`, `data_epoch`, `images_per_step` and `generator_label`."""

    def __init__(self, cfg: RunConfig, device: torch.device, rank: int = 0, world_size: int = 1):
        from gbench.data import load_dataset

        data = load_dataset(cfg.data.dataset, cfg.data.split, root=cfg.data.root, resolution=cfg.data.resolution, size=cfg.data.size)
        self.cfg, self.data, self.device = cfg, data, device
        t = cfg.train
        if t.loss not in losses.LOSSES:
            raise GBenchError(f"unknown loss {t.loss!r}; known: {', '.join(losses.LOSSES)}")
        self.G, self.D = (m.to(device) for m in build_models(cfg))
        if hasattr(self.G, "init_output_bias"):  # gan-mlp: output bias from the data's mean image (pylearn2's init)
            self.G.init_output_bias(data.images.sum(0, dtype=torch.float64) / len(data) / 127.5 - 1, value_range=(-1.0, 1.0))
        _check_loop_order(t)
        if world_size > 1:
            if t.batch_size_d % world_size or t.batch_size_g % world_size:
                raise GBenchError(f"batch sizes {t.batch_size_d}/{t.batch_size_g} must divide evenly over {world_size} processes")
            _broadcast_from_main(self.G, self.D)
        self.conditional = getattr(self.G, "num_classes", 0) > 0
        if self.conditional and data.labels is None:
            raise GBenchError(f"{cfg.model.generator} is class-conditional but dataset {data.name} has no labels")
        self.opt_g = _optimizer(cfg, self.G.parameters(), t.lr_g, t.betas_g)
        self.opt_d = _optimizer(cfg, self.D.parameters(), t.lr_d, t.betas_d)
        self.ema = EMA(self.G, decay=t.ema_decay, halflife_kimg=t.ema_halflife_kimg, rampup=t.ema_rampup,
                       start_step=t.ema_start_step, images_per_step=t.batch_size_d) if t.ema else None
        self.sampler = EpochSampler(len(data), t.batch_size_d, seed=cfg.seed, rank=rank, world_size=world_size)
        self.augment = make_augment(cfg)
        if t.co_train_sr and t.loop_order != "d-first":
            raise GBenchError("train.co_train_sr (MT-CT) trains on the reals of the step's last D batch: it needs train.loop_order=d-first")
        if t.precision not in ("fp32", "bf16"):
            raise GBenchError(f"train.precision must be fp32 or bf16, not {t.precision!r}")
        self.autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=t.precision == "bf16")
        # Compiled callables share the modules' parameters; state dicts keep the plain modules' keys.
        self.G_fwd = torch.compile(self.G) if t.compile else self.G
        self.D_fwd = torch.compile(self.D) if t.compile else self.D
        self.step = 0  # G steps done
        self.world_size = world_size

    # -- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.ema.model.state_dict() if self.ema else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "lr": {"g": self.opt_g.param_groups[0]["lr"], "d": self.opt_d.param_groups[0]["lr"]},
            "sampler": self.sampler.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.ema:
            self.ema.model.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sampler.load_state_dict(state["sampler"])

    @property
    def eval_generator(self) -> nn.Module:
        return self.ema.model if (self.ema and self.cfg.eval.use_ema) else self.G

    @property
    def generator_label(self) -> str:
        return "ema" if self.eval_generator is not self.G else "G"

    @property
    def data_epoch(self) -> float:
        return self.sampler.data_epoch

    @property
    def images_per_step(self) -> int:
        """Real images through D per G step (the img/s in the logs)."""
        return self.cfg.train.n_critic * self.cfg.train.batch_size_d

    def learning_rates(self) -> dict[str, float]:
        return {"lr_g": self.opt_g.param_groups[0]["lr"], "lr_d": self.opt_d.param_groups[0]["lr"]}

    def evaluate(self, step: int) -> dict:
        from gbench.evaluation.evaluate import evaluate_generator

        return evaluate_generator(self.eval_generator, self.cfg.eval.protocol, device=self.device, batch_size=self.cfg.eval.batch_size)

    def save_samples(self, path) -> None:

        sample_grid(self.eval_generator, path, n=GRID_SIZE, seed=GRID_SEED, device=self.device)

    def _average_gradients(self, module: nn.Module) -> None:
        """DDP by hand: one all-reduce of the flattened gradients per model and step. Unlike the
        DistributedDataParallel wrapper it works through gradient penalties (double backward) and
        through methods other than forward (TransGAN's super_resolve)."""
        if self.world_size == 1:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        flat = torch._utils._flatten_dense_tensors(grads)
        torch.distributed.all_reduce(flat)
        flat /= self.world_size
        for grad, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
            grad.copy_(synced)

    @property
    def g_batch_size(self) -> int:
        """Global batch of the G step (the progressive trainer's varies with the resolution)."""
        return self.cfg.train.batch_size_g

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next real batch in [-1, 1] (and its labels) from the resumable data order."""
        return real_batch(self.data, self.sampler.next_indices(), self.device, flip=self.cfg.data.flip,
                          dequantize=self.cfg.data.dequantize)

    # -- one G step ----------------------------------------------------------------------------------
    def _critic(self, y):
        D = self.D_fwd
        return lambda x: D(self.augment(x)) if y is None else D(self.augment(x), y)

    def train_step(self, log: StepLog) -> None:
        """n_critic D steps and one G step in `train.loop_order`, then the EMA update."""
        t, G = self.cfg.train, self.G
        for opt, base in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
            for group in opt.param_groups:
                group["lr"] = learning_rate(t, base, self.step)
                if t.optimizer == "sgd":
                    group["momentum"] = momentum(t, self.sampler.data_epoch)
        if hasattr(G, "set_data_epoch"):  # TransGAN locality schedule, also on the EMA copy that samples
            for model in (G, self.ema.model) if self.ema else (G,):
                model.set_data_epoch(self.sampler.data_epoch)
        g_terms: dict = {}
        if t.loop_order == "simultaneous":
            d_terms, g_terms = self.simultaneous_step()
        else:
            g_first = t.loop_order in ("g-first", "g-first-skip0")
            if g_first and not (t.loop_order == "g-first-skip0" and self.step == 0):
                g_terms = self.g_step(None)
            for _ in range(t.n_critic):
                real, d_terms = self.d_step()
            if not g_first:
                g_terms = self.g_step(real)
        if self.ema:
            images_seen = self.step * t.n_critic * t.batch_size_d
            self.ema.update(G, self.ema.beta(self.step, images_seen))
        self.step += 1
        log.add(**d_terms, **g_terms)

    def d_step(self) -> tuple[torch.Tensor, dict]:
        """One D update on a fresh real batch and fresh z; returns the reals (MT-CT reuses them) and the loss terms."""
        t, G, D = self.cfg.train, self.G, self.D
        real, y_real = self.real_batch()
        y_real = y_real if self.conditional else None  # an unconditional D never sees labels
        b = real.shape[0]
        z, y_fake = sample_latent(G, b, device=self.device), sample_labels(G, b, device=self.device)
        with torch.no_grad(), self.autocast():
            fake = generate(self.G_fwd, z, y_fake).float()
        with self.autocast():
            d_real = self._critic(y_real)(real).float()
            d_fake = self._critic(y_fake)(fake).float()
        loss_d = losses.d_loss(t.loss, d_real, d_fake)
        terms = {"d_real": d_real.mean(), "d_fake": d_fake.mean()}
        if t.loss in ("wgan-gp", "wgan-gp-eps", "wgan-gp-drift"):
            gp = losses.gradient_penalty(self._critic(y_real), real, fake, t.gp_target)  # interpolates carry the real labels
            loss_d = loss_d + t.gp_weight * gp
            terms["gp"] = gp
        if t.loss in ("wgan-gp-eps", "wgan-gp-drift"):
            drift = losses.drift_penalty(d_real) if t.loss == "wgan-gp-eps" else losses.mean_square_drift(d_real)
            loss_d = loss_d + t.drift_weight * drift
            terms["drift"] = drift
        if t.r1_gamma > 0:
            if t.r1_after_augment:  # DiffAugment-stylegan2's ns_r1_DiffAugment: gradient at the augmented reals
                plain = (lambda x: self.D_fwd(x)) if y_real is None else (lambda x: self.D_fwd(x, y_real))
                r1 = losses.r1_penalty(plain, self.augment(real), t.r1_gamma)
            else:
                r1 = losses.r1_penalty(self._critic(y_real), real, t.r1_gamma)
            loss_d = loss_d + r1
            terms["r1"] = r1
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self._average_gradients(D)
        if t.grad_clip > 0:
            nn.utils.clip_grad_norm_(D.parameters(), t.grad_clip)
        self.opt_d.step()
        return real, {"loss_d": loss_d, **terms}

    def g_step(self, real: torch.Tensor | None) -> dict:
        """One G update on fresh z (batch_size_g), plus MT-CT's super-resolution loss on `real` when switched on."""
        t, G, D = self.cfg.train, self.G, self.D
        D.requires_grad_(False)
        bg = self.g_batch_size // self.world_size
        z, y_fake = sample_latent(G, bg, device=self.device), sample_labels(G, bg, device=self.device)
        with self.autocast():
            fake = generate(self.G_fwd, z, y_fake)
            loss_g = losses.g_loss(t.loss, self._critic(y_fake)(fake).float())
        terms = {}
        if t.co_train_sr:
            low = F.avg_pool2d(real, real.shape[-1] // G.bottom_width)
            with self.autocast():
                sr = F.mse_loss(G.super_resolve(low).float(), real)
            loss_g = loss_g + t.co_train_sr_weight * sr
            terms["sr_mse"] = sr
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self._average_gradients(G)
        if t.grad_clip > 0:
            nn.utils.clip_grad_norm_(G.parameters(), t.grad_clip)
        self.opt_g.step()
        D.requires_grad_(True)
        return {"loss_g": loss_g, **terms}

    def simultaneous_step(self) -> tuple[dict, dict]:
        """goodfeli/adversarial's update (loop_order "simultaneous"): one real batch and one batch of fakes; D's and
        G's gradients are taken at the same weights from the same D outputs (dropout masks included) and applied together."""
        t, G, D = self.cfg.train, self.G, self.D
        real, y_real = real_batch(self.data, self.sampler.next_indices(), self.device, flip=self.cfg.data.flip,
                                  dequantize=self.cfg.data.dequantize)
        y_real = y_real if self.conditional else None
        b = real.shape[0]
        z, y_fake = sample_latent(G, b, device=self.device), sample_labels(G, b, device=self.device)
        with self.autocast():
            fake = generate(self.G_fwd, z, y_fake)
            d_real = self._critic(y_real)(real).float()
            d_fake = self._critic(y_fake)(fake).float()
        loss_d, loss_g = losses.d_loss(t.loss, d_real, d_fake), losses.g_loss(t.loss, d_fake)
        d_params = [p for p in D.parameters() if p.requires_grad]
        g_params = [p for p in G.parameters() if p.requires_grad]
        d_grads = torch.autograd.grad(loss_d, d_params, retain_graph=True, allow_unused=True)
        g_grads = torch.autograd.grad(loss_g, g_params, allow_unused=True)
        for p, grad in [*zip(d_params, d_grads), *zip(g_params, g_grads)]:
            p.grad = grad
        for module, opt in ((D, self.opt_d), (G, self.opt_g)):
            self._average_gradients(module)
            if t.grad_clip > 0:
                nn.utils.clip_grad_norm_(module.parameters(), t.grad_clip)
            opt.step()
        return {"loss_d": loss_d, "d_real": d_real.mean(), "d_fake": d_fake.mean()}, {"loss_g": loss_g}


LOOP_ORDERS = ("d-first", "g-first", "g-first-skip0", "simultaneous")


def _check_loop_order(t) -> None:
    if t.loop_order not in LOOP_ORDERS:
        raise GBenchError(f"train.loop_order must be one of {', '.join(LOOP_ORDERS)}, not {t.loop_order!r}")
    if t.co_train_sr and t.loop_order != "d-first":
        raise GBenchError("train.co_train_sr reuses the last D batch's reals: it needs train.loop_order=d-first")
    if t.loop_order == "simultaneous" and (t.n_critic != 1 or t.batch_size_g != t.batch_size_d or t.r1_gamma > 0
                                           or t.loss in ("wgan-gp", "wgan-gp-eps", "wgan-gp-drift")):
        raise GBenchError("train.loop_order=simultaneous makes one D and one G update from one batch: it needs n_critic 1, "
                          "batch_size_g = batch_size_d and no gradient penalty")


def _broadcast_from_main(*modules: nn.Module) -> None:
    """Start every rank from rank 0's weights and buffers (they are equal by seeding; this makes it certain)."""
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            torch.distributed.broadcast(tensor.data, src=0)


def check_finite(values: dict[str, float], step: int) -> None:
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise GBenchError(f"training diverged at G step {step}: {', '.join(bad)} became NaN/inf; "
                          "the last good checkpoint is kept (lower the LR or check the data)")

