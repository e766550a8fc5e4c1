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

BigGAN's options (ajbrock/BigGAN-PyTorch train_fns.GAN_training_function, utils.ortho, sample.py):
`train.accumulations` k splits every D and G batch into k micro-batches whose gradients are summed (each loss / k)
before one optimiser step (--num_D_accumulations / --num_G_accumulations; the batch sizes stay the effective ones);
`train.ortho_reg` adds the orthogonal regularisation of G's weights (`G.ortho_weights()`, else every parameter with
>= 2 dimensions) once per G step, after the accumulations, as utils.ortho does; `eval.standing_stats` n re-estimates
the BatchNorm statistics of a copy of the evaluated generator over n batches (seeded) before every evaluation.
"""

from __future__ import annotations

import math
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gbench import losses
from gbench.config import RunConfig
from gbench.errors import GBenchError, UsageError
from gbench.models import build_models
from gbench.sampling import generate, grid_image, sample_grid, sample_labels, sample_latent
from gbench.train.ema import EMA
from gbench.train.sampler import EpochSampler, real_batch

GRID_SEED = 20_240_601  # fixed z of the sample grids
GRID_SIZE = 64
STANDING_STATS_SEED = 20_190_101  # z and labels of the standing-statistics batches (the same at every evaluation)
COMPILE_BACKEND = "inductor"  # torch.compile backend of train.compile (tests use lighter ones)


def compile_module(module: nn.Module) -> Callable:
    """torch.compile of a module's forward; `dynamic=False`: batch sizes are fixed within a run."""
    return torch.compile(module, backend=COMPILE_BACKEND, dynamic=False)


def power_iteration_outside(module: nn.Module, forward: Callable) -> Callable:
    """`forward` with the spectral-norm power iterations of `module` run before it, outside any compiled graph.

    PyTorch's spectral norm updates u and v in place during a training forward. Compiled by inductor, a graph keeps
    the buffer itself for its backward instead of the eager code's clone, so the next forward (D(real) then D(fake),
    or a penalty) changes a tensor the first backward needs and autograd refuses. Here the spectral-norm modules
    stay in eval mode (the graph only reads u and v) and each call first runs one power iteration per weight on
    fresh copies of u and v, as a training forward would: the same numbers, and saved tensors are never modified.
    Modules without spectral norm get `forward` back unchanged."""
    from torch.nn.utils.parametrizations import _SpectralNorm

    norms = [(p, plist) for m in module.modules() for plist in getattr(m, "parametrizations", {}).values()
             for p in plist if isinstance(p, _SpectralNorm)]
    if not norms:
        return forward

    def call(*args, **kwargs):
        with torch.no_grad():
            for norm, plist in norms:
                if module.training and plist.original.ndim > 1:
                    norm._u, norm._v = norm._u.clone(), norm._v.clone()  # new tensors: graphs that saved the old ones stay valid
                    norm._power_method(norm._reshape_weight_to_matrix(plist.original), norm.n_power_iterations)
                norm.eval()
        return forward(*args, **kwargs)

    return call


def make_augment(cfg: RunConfig) -> Callable[[torch.Tensor], torch.Tensor]:
    if cfg.train.augment == "none":
        return lambda x: x
    from gbench.augment import diff_augment

    variant = {"diffaug": "original", "diffaug-transgan": "transgan"}.get(cfg.train.augment)
    if variant is None:
        raise UsageError(f"train.augment must be none, diffaug or diffaug-transgan, not {cfg.train.augment!r}")
    return lambda x: diff_augment(x, cfg.train.augment_policy, variant=variant)


def learning_rate(t, base: float, step: int) -> float:
    """LR of G step `step` under `t.lr_schedule` (stateless: resume needs only the step)."""
    if t.lr_schedule == "constant":
        return base
    if t.lr_schedule == "linear":
        return base * max(0.0, 1.0 - step / t.steps)
    if t.lr_schedule == "exponential":
        return max(base * math.exp(-step * math.log(t.lr_decay)), t.lr_min)
    raise UsageError(f"train.lr_schedule must be constant, linear or exponential, not {t.lr_schedule!r}")


def momentum(t, data_epoch: float) -> float:
    """SGD momentum, ramped linearly from `momentum` to `momentum_final` over `momentum_ramp_epochs`."""
    if not t.momentum_final:
        return t.momentum
    start, end = t.momentum_ramp_epochs
    frac = min(max((data_epoch - start) / max(end - start, 1e-9), 0.0), 1.0)
    return t.momentum + (t.momentum_final - t.momentum) * frac


def _optimizer(cfg: RunConfig, params, lr: float, betas: tuple) -> torch.optim.Optimizer:
    if cfg.train.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=cfg.train.adam_eps)
    if cfg.train.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.train.momentum)
    raise UsageError(f"train.optimizer must be adam or sgd, not {cfg.train.optimizer!r}")


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
            raise UsageError(f"unknown loss {t.loss!r}; known: {', '.join(losses.LOSSES)}")
        self.G, self.D = (m.to(device) for m in build_models(cfg))
        if hasattr(self.G, "init_output_bias"):  # gan-mlp: output bias from the data's mean image (pylearn2's init)
            self.G.init_output_bias(data.images.sum(0, dtype=torch.float64) / len(data) / 127.5 - 1, value_range=(-1.0, 1.0))
        if world_size > 1:
            if t.batch_size_d % world_size or t.batch_size_g % world_size:
                raise GBenchError(f"batch sizes {t.batch_size_d}/{t.batch_size_g} must divide evenly over {world_size} processes")
            _broadcast_from_main(self.G, self.D)
        _check_accumulations(cfg, world_size)
        self.conditional = getattr(self.G, "num_classes", 0) > 0
        if self.conditional and data.labels is None:
            raise GBenchError(f"{cfg.model.generator} is class-conditional but dataset {data.name} has no labels")
        self.opt_g = _optimizer(cfg, self.G.parameters(), t.lr_g, t.betas_g)
        self.opt_d = _optimizer(cfg, self.D.parameters(), t.lr_d, t.betas_d)
        self.ema = EMA(self.G, decay=t.ema_decay, halflife_kimg=t.ema_halflife_kimg, rampup=t.ema_rampup,
                       start_step=t.ema_start_step, images_per_step=t.batch_size_d) if t.ema else None
        self.sampler = EpochSampler(len(data), t.batch_size_d, seed=cfg.seed, rank=rank, world_size=world_size)
        self.augment = make_augment(cfg)
        self.autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=t.precision == "bf16")
        # Compiled callables share the modules' parameters; state dicts keep the plain modules' keys. aot_autograd has no
        # double backward, so gradient penalties (GP, R1) run through the plain D (`self.D`), everything else through D_fwd.
        self.G_fwd, self.D_fwd, self.D_plain = self.G, self.D, self.D
        if t.compile:
            self.G_fwd = power_iteration_outside(self.G, compile_module(self.G))
            self.D_fwd = power_iteration_outside(self.D, compile_module(self.D))
            self.D_plain = power_iteration_outside(self.D, self.D)
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
            # d_grad_carryover: the G loss's gradient waiting in D's .grad for the next D step (part of the state)
            **({"d_grad_carry": [None if p.grad is None else p.grad.detach().clone() for p in self.D.parameters()]}
               if self.cfg.train.d_grad_carryover else {}),
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
        for p, grad in zip(self.D.parameters(), state.get("d_grad_carry") or ()):
            p.grad = None if grad is None else grad.to(p.device)

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
        from gbench import distributed
        from gbench.evaluation.evaluate import evaluate_generator

        # under DDP every rank scores its shard with rank 0's running buffers: they are what the checkpoint holds, so a
        # resumed run (every rank loads rank 0's state) scores exactly as an uninterrupted one
        distributed.broadcast_buffers(self.eval_generator)
        e = self.cfg.eval
        G = standing_stats_copy(self.eval_generator, e.standing_stats, e.batch_size, self.device) if e.standing_stats else self.eval_generator
        return evaluate_generator(G, e.protocol, device=self.device, batch_size=e.batch_size,
                                  train_mode_batch=e.g_train_mode_batch if e.g_train_mode else 0)

    def save_samples(self, path) -> None:
        sample_grid(self.eval_generator, path, n=GRID_SIZE, seed=GRID_SEED, device=self.device)

    def save_real_samples(self, path) -> None:
        """The first GRID_SIZE training images, shown beside the samples in the report."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        grid_image(self.data.images[:GRID_SIZE]).save(path)

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
    def _critic(self, y, *, plain: bool = False):
        """x -> D(augment(x)) [with labels y]; `plain` uses the uncompiled D (gradient penalties need double backward:
        aot_autograd has none)."""
        D = self.D_plain if plain else self.D_fwd
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
        """One D update on a fresh real batch and fresh z (summed over `train.accumulations` micro-batches); returns
        the reals (MT-CT reuses them) and the loss terms."""
        t, D = self.cfg.train, self.D
        real, y_real = self.real_batch()
        y_real = y_real if self.conditional else None  # an unconditional D never sees labels
        if not t.d_grad_carryover:
            self.opt_d.zero_grad(set_to_none=True)
        k = t.accumulations
        terms: dict = {}
        for part, y_part in zip(real.chunk(k), y_real.chunk(k) if y_real is not None else [None] * k):
            loss_d, part_terms = self._d_loss(part, y_part)
            (loss_d / k if k > 1 else loss_d).backward()  # with d_grad_carryover, added to what the last G step left
            for key, value in {"loss_d": loss_d, **part_terms}.items():
                terms[key] = terms.get(key, 0.0) + value.detach() / k
        self._average_gradients(D)
        if t.grad_clip > 0:
            nn.utils.clip_grad_norm_(D.parameters(), t.grad_clip)
        self.opt_d.step()
        if t.d_grad_carryover:
            self.opt_d.zero_grad(set_to_none=True)
        return real, terms

    def _d_loss(self, real: torch.Tensor, y_real: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
        """D's loss on one (micro-)batch of reals and as many fresh fakes, with its penalties."""
        t, G = self.cfg.train, self.G
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
            gp = losses.gradient_penalty(self._critic(y_real, plain=True), real, fake, t.gp_target)  # interpolates carry the real labels
            loss_d = loss_d + t.gp_weight * gp
            terms["gp"] = gp
        if t.loss in ("wgan-gp-eps", "wgan-gp-drift"):
            drift = losses.drift_penalty(d_real) if t.loss == "wgan-gp-eps" else losses.mean_square_drift(d_real)
            loss_d = loss_d + t.drift_weight * drift
            terms["drift"] = drift
        if t.r1_gamma > 0:
            if t.r1_after_augment:  # DiffAugment-stylegan2's ns_r1_DiffAugment: gradient at the augmented reals
                plain = (lambda x: self.D_plain(x)) if y_real is None else (lambda x: self.D_plain(x, y_real))
                r1 = losses.r1_penalty(plain, self.augment(real), t.r1_gamma)
            else:
                r1 = losses.r1_penalty(self._critic(y_real, plain=True), real, t.r1_gamma)
            loss_d = loss_d + r1
            terms["r1"] = r1
        return loss_d, terms

    def g_step(self, real: torch.Tensor | None) -> dict:
        """One G update on fresh z (batch_size_g), plus MT-CT's super-resolution loss on `real` when switched on."""
        t, G, D = self.cfg.train, self.G, self.D
        D.requires_grad_(t.d_grad_carryover)  # carry-over: the G loss's gradient stays in D's .grad for the next D step
        k = t.accumulations
        bg = self.g_batch_size // self.world_size // k
        self.opt_g.zero_grad(set_to_none=True)
        terms: dict = {"loss_g": 0.0}
        for i in range(k):
            z, y_fake = sample_latent(G, bg, device=self.device), sample_labels(G, bg, device=self.device)
            with self.autocast():
                fake = generate(self.G_fwd, z, y_fake)
                loss_g = losses.g_loss(t.loss, self._critic(y_fake)(fake).float())
            loss = loss_g / k if k > 1 else loss_g
            if i == k - 1:  # the once-per-step terms ride on the last micro-batch's backward
                if t.co_train_sr:
                    low = F.avg_pool2d(real, real.shape[-1] // G.bottom_width)
                    with self.autocast():
                        sr = F.mse_loss(G.super_resolve(low).float(), real)
                    loss = loss + t.co_train_sr_weight * sr
                    terms["sr_mse"] = sr
                if t.ortho_reg > 0:  # after the accumulations, as utils.ortho edits the summed gradients
                    ortho = losses.orthogonal_regularization(ortho_weights(G), t.ortho_reg)
                    loss = loss + ortho
                    terms["ortho"] = ortho
            loss.backward()
            terms["loss_g"] = terms["loss_g"] + (loss_g.detach() / k if k > 1 else loss_g.detach())
        if t.co_train_sr:
            terms["loss_g"] = terms["loss_g"] + t.co_train_sr_weight * terms["sr_mse"].detach()
        self._average_gradients(G)
        if t.grad_clip > 0:
            nn.utils.clip_grad_norm_(G.parameters(), t.grad_clip)
        self.opt_g.step()
        D.requires_grad_(True)
        return terms

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


def _check_accumulations(cfg: RunConfig, world_size: int) -> None:
    """Micro-batches must split each process's batch evenly (the ranges of the BigGAN options are config.validate's)."""
    t = cfg.train
    if t.accumulations > 1:
        for name in ("batch_size_d", "batch_size_g"):
            per_rank = getattr(t, name) // world_size
            if per_rank % t.accumulations:
                raise UsageError(f"train.{name} {getattr(t, name)} (per process {per_rank}) must divide into "
                                 f"train.accumulations={t.accumulations} equal micro-batches")


def ortho_weights(G: nn.Module) -> list[torch.Tensor]:
    """The weights orthogonal regularisation acts on: `G.ortho_weights()` where the model defines it (BigGAN: every
    parameter with >= 2 dimensions but the shared class embedding, as utils.ortho), else every such parameter."""
    if hasattr(G, "ortho_weights"):
        return list(G.ortho_weights())
    return [p for p in G.parameters() if p.ndim >= 2 and p.requires_grad]


@torch.no_grad()
def standing_stats_copy(G: nn.Module, batches: int, batch_size: int, device) -> nn.Module:
    """A copy of G whose BatchNorm statistics are the average over `batches` batches of fresh z and uniform labels
    (BigGAN's standing statistics, reference_models.biggan.accumulate_standing_stats), drawn from a fixed seed so every
    evaluation uses the same batches and the training RNG is untouched. A G without BatchNorm is returned as it is."""
    import copy

    from reference_models.biggan import accumulate_standing_stats

    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in G.modules()):
        return G
    copied = copy.deepcopy(G)
    g = torch.Generator().manual_seed(STANDING_STATS_SEED)

    def sample():
        z = sample_latent(copied, batch_size, g, device)
        y = sample_labels(copied, batch_size, g, device)
        return (z,) if y is None else (z, y)

    return accumulate_standing_stats(copied, sample, batches)


def _broadcast_from_main(*modules: nn.Module) -> None:
    """Start every rank from rank 0's weights and buffers (they are equal by seeding; this makes it certain)."""
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.dtype != torch.bool:  # boolean buffers are masks derived from the config (TransGAN's locality mask)
                torch.distributed.broadcast(tensor.data, src=0)


def check_finite(values: dict[str, float], step: int) -> None:
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise GBenchError(f"training diverged at G step {step}: {', '.join(bad)} became NaN/inf; "
                          "the last good checkpoint is kept (lower the LR or check the data)")

