"""Relaxed GAN inversion: optimise z only, and Deep Generative Prior (DGP; Pan et al., ECCV 2020 / TPAMI 2021).

Written from the paper and XingangPan/deep-generative-prior (``models/dgp.py``, ``utils/losses.py``,
``utils/common_utils.py`` ``LRScheduler``, ``models/biggan.py`` ``get_params``, the scripts under
``experiments/imagenet1k_128/``). Given a degraded observation ``target = observe(x)`` of images x, a pre-trained
class-conditional generator G (``class_embedding(y)``, ``synthesize(z, c)``, ``stages()``: the BigGAN API of
``reference_models/biggan.py``) and its discriminator D (``block_features(x)``), find z (and, for DGP, per-image
fine-tuned copies of G's weights) such that ``operator(G(z))`` matches the target; ``G(z)`` is the restoration.

Per step and per image (each image has its own z, its own copy of the fine-tuned weights and its own Adam state):

    loss = w_d * sum over the deepest ``ftr_num`` D features f of mean |f(operator(G(z))) - f(target)|
         + w_mse * mean (operator(G(z)) - target)^2 + w_nll * mean(z^2 / 2)

- Latent selection (``DGP.select_z``): ``select_num`` candidates z ~ N(0, sample_std^2) per image (with a random
  class each when the label is unknown), scored by the feature loss over the 3 deepest D features of ``observe(G(z))``
  (the official code applies its target-side degradation here), the best kept. ``select_num`` 0 starts from z = 0,
  1 from one z ~ N(0, 1).
- Progressive reconstruction: the schedule is a list of stages (iterations, G lr, z lr, ``ft_num``, ``lr_ratio``,
  ``ftr_num``, ``w_d``, ``w_mse``). G's parameters form ``len(blocks) + 1`` groups from shallow to deep (the first
  linear layer, then each block with its attention); in a stage group i has lr ``G_lr * lr_ratio ** i`` if
  i < ft_num and 0 otherwise, so deeper blocks join the optimisation stage by stage. The output layer (BN + conv)
  is in no group, as in the official optimiser, and stays fixed. One Adam (betas (0, 0.999), eps 1e-8) holds all
  groups: groups at lr 0 still update their moments, as in the official code. z has its own Adam.
- ``update_embed``: the image's class embedding ``G.shared(y)`` joins group 0 (the official code puts the whole
  shared table in group 0; only row y receives gradient, and Adam is elementwise, so this is the same update).
- ``instance_norm`` (the official ``--use_in``): every conditional BN of G's blocks becomes an instance norm whose
  affine (weight = per-channel std, unbiased, bias = mean) is frozen at the BN's output for the selected z in the
  first forward (layer by layer, as ``GBlock.init_in``); the class-conditional gain/bias then no longer act.
- ``update_g=False`` is the optimise-z-only baseline (the official ``--update_G`` off, as in issue #9/#10's setups).

Batching: images are independent problems solved together. The fine-tuned weights are stacked along a leading
image axis and G runs under ``torch.func.vmap`` + ``functional_call`` (one batch-1 forward per image, vectorised;
G is in eval mode, so BN uses its running statistics and nothing mixes images); D is shared and frozen and runs on
the whole batch. The total loss is the sum of the per-image losses, so each image gets exactly its own gradient,
and Adam on the stacked tensors equals one Adam per image.

Labels: -1 marks an unknown class, chosen with the latent among random classes (the official ``select_y``).

Deviations: no early stop on ``stop_mse`` / ``stop_ftr`` (official defaults 0 never stop); spectral norm in eval mode uses
the stored u/v (PyTorch's parametrization; the official recomputes one power step from u without storing it).
The encoder baselines (b)/(c) of the paper need an encoder trained to invert the BigGAN (GPU-days): not here.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field, replace
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from gbench.errors import GBenchError
from gbench.inversion.degradations import Degradation
from reference_models.biggan import ConditionalBatchNorm

SELECT_FTR_NUM = 3  # DGP.select_z compares the 3 deepest D features
IN_EPS = 1e-5  # nn.InstanceNorm2d default


@dataclass(frozen=True)
class Stage:
    """One stage of the progressive schedule (one entry of each per-stage list of the official scripts)."""

    iterations: int
    g_lr: float
    z_lr: float
    ft_num: int = 1000  # G groups (shallow to deep) with a non-zero lr
    lr_ratio: float = 1.0  # lr of group i = g_lr * lr_ratio ** i
    ftr_num: int = 8  # deepest D features in the feature loss
    w_d: float = 1.0
    w_mse: float = 1.0


@dataclass(frozen=True)
class InversionConfig:
    stages: tuple[Stage, ...]
    update_g: bool = True
    w_nll: float = 0.02
    select_num: int = 500
    sample_std: float = 0.3
    update_embed: bool = False
    instance_norm: bool = False
    betas: tuple[float, float] = (0.0, 0.999)
    adam_eps: float = 1e-8
    select_chunk: int = 64  # candidate images per forward pass during latent selection


def stages_from_lists(*, iterations, g_lrs, z_lrs, ft_num, lr_ratio, ftr_num, w_d, w_mse) -> tuple[Stage, ...]:
    """Stages from the official scripts' per-stage argument lists (all of one length)."""
    lists = (iterations, g_lrs, z_lrs, ft_num, lr_ratio, ftr_num, w_d, w_mse)
    if len({len(v) for v in lists}) != 1:
        raise ValueError("every per-stage list must have one entry per stage")
    return tuple(Stage(*values) for values in zip(*lists))


# The official ImageNet-128 settings (experiments/imagenet1k_128/*/train.sh; ``reconstruct`` is the script the author
# posted in issue #9 for the paper's Table 1). All: w_nll 0.02, select_num 500, 5 stages.
DGP_PRESETS = {
    "reconstruct": InversionConfig(
        stages_from_lists(iterations=(200,) * 5, g_lrs=(2e-4, 2e-4, 1e-4, 1e-4, 1e-5), z_lrs=(1e-3, 1e-3, 1e-4, 1e-4, 1e-5),
                          ft_num=(2, 3, 4, 5, 6), lr_ratio=(1,) * 5, ftr_num=(8,) * 5, w_d=(1, 1, 1, 0.1, 0.1),
                          w_mse=(10, 10, 10, 100, 100)),
        sample_std=0.3, instance_norm=True),
    "colorization": InversionConfig(
        stages_from_lists(iterations=(200, 200, 300, 400, 300), g_lrs=(5e-5, 5e-5, 5e-5, 5e-5, 2e-5),
                          z_lrs=(2e-3, 1e-3, 5e-4, 5e-5, 2e-5), ft_num=(2, 3, 4, 5, 6), lr_ratio=(0.7, 0.7, 0.8, 0.9, 1.0),
                          ftr_num=(7,) * 5, w_d=(1,) * 5, w_mse=(0,) * 5),
        sample_std=0.5),
    "inpainting": InversionConfig(
        stages_from_lists(iterations=(200,) * 5, g_lrs=(2e-4, 2e-4, 1e-4, 1e-4, 1e-5), z_lrs=(1e-3, 1e-3, 1e-4, 1e-4, 1e-5),
                          ft_num=(6,) * 5, lr_ratio=(1,) * 5, ftr_num=(8,) * 5, w_d=(1, 1, 1, 0.1, 0.1),
                          w_mse=(10, 10, 10, 100, 100)),
        sample_std=0.3, update_embed=True, instance_norm=True),
    # SR/D_biased (perceptually better) and SR/MSE_biased (higher PSNR).
    "sr4": InversionConfig(
        stages_from_lists(iterations=(200,) * 5, g_lrs=(5e-5, 5e-5, 2e-5, 1e-5, 1e-5), z_lrs=(2e-3, 1e-3, 2e-5, 1e-5, 1e-5),
                          ft_num=(2, 3, 4, 5, 6), lr_ratio=(1,) * 5, ftr_num=(8,) * 5, w_d=(1,) * 5, w_mse=(1,) * 5),
        sample_std=0.3),
    "sr4-mse": InversionConfig(
        stages_from_lists(iterations=(200,) * 5, g_lrs=(2e-4, 2e-4, 1e-4, 1e-4, 1e-5), z_lrs=(1e-3, 1e-3, 1e-4, 1e-4, 1e-5),
                          ft_num=(2, 3, 4, 5, 6), lr_ratio=(1,) * 5, ftr_num=(8,) * 5, w_d=(1, 1, 1, 0.5, 0.1),
                          w_mse=(10, 10, 10, 50, 100)),
        sample_std=0.3, instance_norm=True),
}
OFFICIAL_NUM_FEATURES = 8  # BigGAN-128 D: 6 blocks + 1 attention + the pooled vector


def adapt_preset(config: InversionConfig, num_features: int, iteration_scale: float = 1.0) -> InversionConfig:
    """A preset for a D with ``num_features`` block features (e.g. a 32x32 smoke D) and a shorter schedule: each
    stage keeps leaving out the same number of shallowest features as at 128x128 (``ftr_num`` 7 of 8 = all but the
    first), and runs ``round(iterations * iteration_scale)`` (>= 1) iterations."""
    drop = OFFICIAL_NUM_FEATURES - num_features
    stages = tuple(replace(s, ftr_num=max(1, s.ftr_num - drop), iterations=max(1, round(s.iterations * iteration_scale)))
                   for s in config.stages)
    return replace(config, stages=stages)


@dataclass
class InversionResult:
    images: torch.Tensor  # (B, C, H, W): G(z) at the last step, in [-1, 1]
    z: torch.Tensor  # (B, latent_dim): the final latents
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> (steps, B)
    seconds: float = 0.0
    # DGP: the fine-tuned weights, per image (leading axis B), named as in G.named_parameters(); the weights not
    # listed (output layer, shared embedding) are G's own. Empty for optimise-z only.
    generator_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    class_embedding: torch.Tensor | None = None  # (B, shared_dim): the (fine-tuned with update_embed) embeddings
    labels: torch.Tensor | None = None  # (B,): the classes used (chosen by latent selection where the input said -1)

    @property
    def images_per_second(self) -> float:
        return self.images.shape[0] / self.seconds if self.seconds > 0 else float("inf")


@contextlib.contextmanager
def _frozen(*modules: nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients for the duration; restores both afterwards."""
    saved = [(m, m.training, [(p, p.requires_grad) for p in m.parameters()]) for m in modules]
    for m in modules:
        m.eval()
        m.requires_grad_(False)
    try:
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, flag in flags:
                p.requires_grad_(flag)


def feature_loss(fake: list[torch.Tensor], real: list[torch.Tensor], ftr_num: int) -> torch.Tensor:
    """``utils.DiscriminatorLoss`` per image: sum over the ``ftr_num`` deepest features of the mean L1 distance. (B,)"""
    if not 1 <= ftr_num <= len(real):
        raise GBenchError(f"ftr_num {ftr_num} is outside 1..{len(real)} (the discriminator's block features)")
    return sum((f - r).abs().flatten(1).mean(1) for f, r in zip(fake[-ftr_num:], real[-ftr_num:]))


class _Synthesizer(nn.Module):
    """``functional_call`` runs ``forward``: this one is G's ``synthesize(z, class_embedding)``."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.g = generator

    def forward(self, z: torch.Tensor, class_embedding: torch.Tensor) -> torch.Tensor:
        return self.g.synthesize(z, class_embedding)


class _FrozenInstanceNorm(nn.Module):
    """DGP's ``use_in`` replacement of a conditional BN (``layers.GBlock`` ``in1`` / ``in2``): instance norm, then a
    fixed per-channel affine (buffers ``weight``, ``bias``; per image when G runs under vmap).

    ``calibrating``: the affine is first set from the replaced BN's own output on this input (``GBlock.init_in``:
    weight = its per-channel std (unbiased), bias = its mean), per image, and recorded in ``recorded``.
    """

    def __init__(self, replaced: ConditionalBatchNorm):
        super().__init__()
        num_features = replaced.norm.num_features
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        object.__setattr__(self, "replaced", replaced)  # not a submodule: its parameters stay out of the state
        self.calibrating = False
        self.recorded: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight, self.bias
        if self.calibrating:
            reference = self.replaced(x, cond).flatten(2)
            weight, bias = reference.std(dim=2), reference.mean(dim=2)  # (B, C)
            self.recorded = (weight, bias)
        shape = (-1, x.shape[1], 1, 1)
        return F.instance_norm(x, eps=IN_EPS) * weight.reshape(shape) + bias.reshape(shape)


def _check_generator(G: nn.Module) -> None:
    missing = [name for name in ("class_embedding", "synthesize", "stages") if not hasattr(G, name)]
    if missing:
        raise GBenchError(f"inversion needs a BigGAN-style generator with {', '.join(missing)} "
                          "(reference_models/biggan.py ImageNetGenerator)")


@torch.no_grad()
def select_latents(G: nn.Module, D: nn.Module, target: torch.Tensor, y: torch.Tensor, degradation: Degradation,
                   config: InversionConfig, generator: torch.Generator | list | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``DGP.select_z`` for every image: the best of ``select_num`` candidates z ~ N(0, sample_std^2), scored by the
    feature loss of ``observe(G(z))`` on the 3 deepest D features. Images whose label is -1 draw a uniform random class
    with each candidate and keep the best pair (``select_z(select_y=True)``). ``generator``: one torch.Generator for the
    batch, or a list of one per image (then each image's candidates do not depend on the batch it is in).
    Returns (z (B, dim_z), labels (B,))."""
    batch, dim = target.shape[0], G.latent_dim
    unknown = y < 0
    per_image = isinstance(generator, (list, tuple))
    if per_image and len(generator) != batch:
        raise GBenchError(f"one random generator per image: got {len(generator)} for {batch} images")
    if config.select_num <= 1:
        if bool(unknown.any()):
            raise GBenchError("images without a label need latent selection (select_num >= 2) to choose their class")
        if config.select_num <= 0:
            return torch.zeros(batch, dim, device=target.device), y
        if per_image:
            return torch.stack([torch.randn(dim, generator=g) for g in generator]).to(target.device), y
        return torch.randn(batch, dim, generator=generator).to(target.device), y
    k = config.select_num
    if per_image:  # a few RNG draws per image (no pixel work): each image's candidates independent of its batch
        candidates = torch.stack([torch.randn(k, dim, generator=g) for g in generator]) * config.sample_std
        random_labels = torch.stack([torch.randint(0, G.num_classes, (k,), generator=g) for g in generator])
    else:
        candidates = torch.randn(batch, k, dim, generator=generator) * config.sample_std
        random_labels = torch.randint(0, G.num_classes, (batch, k), generator=generator)
    candidates, random_labels = candidates.to(target.device), random_labels.to(target.device)
    labels = torch.where(unknown[:, None], random_labels, y[:, None].expand(batch, k))
    real = D.block_features(target)
    scores = torch.empty(batch * k, device=target.device)
    flat_z, flat_y = candidates.reshape(batch * k, dim), labels.reshape(batch * k)
    image_of = torch.arange(batch, device=target.device).repeat_interleave(k)
    for start in range(0, batch * k, config.select_chunk):
        idx = slice(start, start + config.select_chunk)
        fake = D.block_features(degradation.observe(G.synthesize(flat_z[idx], G.class_embedding(flat_y[idx]))))
        scores[idx] = feature_loss(fake, [r[image_of[idx]] for r in real], SELECT_FTR_NUM)
    best = scores.view(batch, k).argmin(dim=1)
    rows = torch.arange(batch, device=target.device)
    return candidates[rows, best], labels[rows, best]


@torch.no_grad()
def _instance_norm_affines(model: nn.Module, z: torch.Tensor, cond: torch.Tensor) -> dict[str, torch.Tensor]:
    """The per-image affines of every ``_FrozenInstanceNorm`` of ``model``, set in one forward pass at z in order
    (each from the BN output on the input its predecessors, already instance-normalised, produce), as the official
    first ``use_in`` forward does. Keys ``<module>.weight`` / ``<module>.bias``, values (B, C)."""
    norms = {name: m for name, m in model.named_modules() if isinstance(m, _FrozenInstanceNorm)}
    for m in norms.values():
        m.calibrating = True
    try:
        model.synthesize(z, cond)
    finally:
        for m in norms.values():
            m.calibrating = False
    affines = {}
    for name, m in norms.items():
        affines[f"{name}.weight"], affines[f"{name}.bias"] = m.recorded
        m.recorded = None
    return affines


def _with_instance_norm(G: nn.Module) -> nn.Module:
    """A copy of G whose blocks' conditional BNs are ``_FrozenInstanceNorm`` (the output layer's BN stays)."""
    copied = copy.deepcopy(G)
    for name, module in list(copied.named_modules()):
        if isinstance(module, ConditionalBatchNorm):
            parent_name, _, child = name.rpartition(".")
            setattr(copied.get_submodule(parent_name), child, _FrozenInstanceNorm(module))
    return copied


def _generator(G: nn.Module, z0: torch.Tensor, cond: torch.Tensor, config: InversionConfig):
    """``generate(z)``, the Adam of G's fine-tuned weights (None for optimise-z only), those weights (stacked per
    image, keys ``g.<name>``) and the class embeddings G is conditioned on.

    With ``update_g`` the trainable groups are per-image copies stacked on a leading image axis; with
    ``instance_norm`` the per-image frozen affines are per-image buffers; either way G runs per image under vmap.
    Otherwise (z only, BN as trained) the batch goes through G as it is.
    """
    if not config.update_g and not config.instance_norm:
        return (lambda latent: G.synthesize(latent, cond)), None, {}, cond
    batch = z0.shape[0]
    model = _with_instance_norm(G) if config.instance_norm else G
    wrapper = _Synthesizer(model)
    names_of = {id(p): f"g.{name}" for name, p in model.named_parameters()}
    stacked: dict[str, torch.Tensor] = {}
    param_groups = []
    if config.update_g:
        # The output layer is in no group: DGP's optimiser holds get_params(0 .. len(blocks)) only.
        for stage_modules in model.stages()[:-1]:
            tensors = []
            for module in stage_modules:
                for p in module.parameters():
                    tensor = p.detach()[None].repeat(batch, *([1] * p.ndim)).requires_grad_(True)
                    stacked[names_of[id(p)]] = tensor
                    tensors.append(tensor)
            param_groups.append({"params": tensors})
    embedding = cond
    if config.update_g and config.update_embed:
        embedding = cond.clone().requires_grad_(True)
        param_groups[0]["params"].append(embedding)
    shared = {f"g.{name}": p.detach() for name, p in model.named_parameters() if f"g.{name}" not in stacked}
    buffers = {f"g.{name}": b for name, b in model.named_buffers()}
    per_image_buffers: dict[str, torch.Tensor] = {}
    if config.instance_norm:
        per_image_buffers = {f"g.{k}": v for k, v in _instance_norm_affines(model, z0, cond).items()}
        for key in per_image_buffers:
            buffers.pop(key)

    def one_image(weights, image_buffers, z_i, cond_i):
        state = {**shared, **buffers, **weights, **image_buffers}
        return functional_call(wrapper, state, (z_i[None], cond_i[None]))[0]

    batched = vmap(one_image)
    optimizer = torch.optim.Adam(param_groups, lr=0.0, betas=config.betas, eps=config.adam_eps) if param_groups else None
    return (lambda latent: batched(stacked, per_image_buffers, latent, embedding)), optimizer, stacked, embedding


def invert(G: nn.Module, D: nn.Module, target: torch.Tensor, y: torch.Tensor, degradation: Degradation,
           config: InversionConfig, *, z_init: torch.Tensor | None = None, original: torch.Tensor | None = None,
           generator: torch.Generator | list | None = None) -> InversionResult:
    """Invert a batch: ``target`` (B, C, H, W) in [-1, 1] is ``degradation.observe(original)``, ``y`` (B,) the labels.

    ``z_init`` skips the latent selection; ``original`` (optional) adds the per-step ``mse_original`` on the [0, 1]
    scale (the official ``mse_loss_origin``); ``generator`` seeds the candidate latents (one, or a list of one per image).
    Labels of -1 are chosen by latent selection. G and D are not modified
    (the fine-tuned weights are copies); they are left in their own train/eval modes.
    """
    _check_generator(G)
    if target.ndim != 4 or y.shape != (target.shape[0],):
        raise GBenchError(f"target must be (B, C, H, W) and y (B,): got {tuple(target.shape)} and {tuple(y.shape)}")
    if not config.stages:
        raise GBenchError("the inversion schedule has no stages")
    if bool((y >= G.num_classes).any()):
        raise GBenchError(f"labels must be below the generator's {G.num_classes} classes (or -1: unknown), got {int(y.max())}")
    start_time = time.perf_counter()
    with _frozen(G, D):
        if z_init is not None:
            if bool((y < 0).any()):
                raise GBenchError("z_init needs every label (-1 = unknown is chosen by latent selection)")
            z0 = z_init.detach().clone()
        else:
            z0, y = select_latents(G, D, target, y, degradation, config, generator)
        cond = G.class_embedding(y).detach()
        z = z0.clone().requires_grad_(True)
        real_features = [f.detach() for f in D.block_features(target)]
        z_optim = torch.optim.Adam([z], lr=0.0, betas=config.betas, eps=config.adam_eps)

        generate, g_optim, weights, embedding = _generator(G, z0, cond, config)

        records: dict[str, list[torch.Tensor]] = {"loss": [], "feature": [], "mse": [], "nll": []}
        if original is not None:
            records["mse_original"] = []
        images = None
        for stage in config.stages:
            for _ in range(stage.iterations):
                for group_index, group in enumerate(g_optim.param_groups if g_optim else []):
                    group["lr"] = stage.g_lr * stage.lr_ratio**group_index if group_index < stage.ft_num else 0.0
                for group in z_optim.param_groups:
                    group["lr"] = stage.z_lr
                z_optim.zero_grad(set_to_none=True)
                if g_optim:
                    g_optim.zero_grad(set_to_none=True)
                images = generate(z)
                degraded = degradation.operator(images)
                ftr = feature_loss(D.block_features(degraded), real_features, stage.ftr_num)
                mse = (degraded - target).pow(2).flatten(1).mean(1)
                nll = (z.pow(2) / 2).mean(1)
                loss = stage.w_d * ftr + stage.w_mse * mse + config.w_nll * nll
                loss.sum().backward()
                z_optim.step()
                if g_optim:
                    g_optim.step()
                for key, value in (("loss", loss), ("feature", ftr), ("mse", mse), ("nll", nll)):
                    records[key].append(value.detach())
                if original is not None:
                    records["mse_original"].append((images.detach() - original).pow(2).flatten(1).mean(1) / 4)
    return InversionResult(images=images.detach(), z=z.detach(), losses={k: torch.stack(v) for k, v in records.items()},
                           seconds=time.perf_counter() - start_time, labels=y,
                           generator_weights={name[2:]: w.detach() for name, w in weights.items()},
                           class_embedding=embedding.detach())


def dgp(G: nn.Module, D: nn.Module, target: torch.Tensor, y: torch.Tensor, degradation: Degradation,
        config: InversionConfig | None = None, **kwargs) -> InversionResult:
    """Deep Generative Prior: joint, progressive fine-tuning of G and z (default: the task's official preset)."""
    config = config or DGP_PRESETS[degradation.name]
    return invert(G, D, target, y, degradation, replace(config, update_g=True), **kwargs)


def optimize_z(G: nn.Module, D: nn.Module, target: torch.Tensor, y: torch.Tensor, degradation: Degradation,
               config: InversionConfig | None = None, **kwargs) -> InversionResult:
    """Baseline (a): the same schedule and losses with G fixed (only z is optimised)."""
    config = config or DGP_PRESETS[degradation.name]
    return invert(G, D, target, y, degradation, replace(config, update_g=False), **kwargs)
