"""Run configuration: frozen dataclasses per section, presets as override dicts, `--set` parsing, hashing.

A run is fully described by a `RunConfig`. Experiments (gbench/experiments.py) give the `paper`
config and each preset as a dict of dotted overrides on top of it; users add `--set a.b=c`.
The resolved config is hashed (device and output folder excluded) to name the run directory, so
the same command lands in the same directory and resumes.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import typing
from dataclasses import dataclass, field, fields, replace
from typing import Any

from gbench.errors import GBenchError

PRESETS = ("paper", "quick", "smoke")


@dataclass(frozen=True)
class ModelConfig:
    generator: str = "dcgan"  # a reference_models name
    discriminator: str = "dcgan"
    g_kwargs: dict = field(default_factory=dict)  # overrides of the generator's config dataclass
    d_kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "shapes32"
    split: str = "train"
    root: str = ""  # "" = $GBENCH_HOME/datasets
    resolution: int = 32
    flip: bool = False  # random horizontal flip of real images
    size: int = 0  # procedural sets: number of images (0 = the dataset's default)
    dequantize: bool = False  # add U(0, 1/128) to real images (WGAN-GP's loader)
    # image-to-image (gbench/data/paired.py): both images are resized to load_size, then cropped to `resolution` at random
    load_size: int = 0  # bicubic resize before the random crop (pix2pix / CycleGAN: 286 for 256 crops); 0 = resolution
    direction: str = "AtoB"  # AtoB: translate A (left half / trainA) into B; BtoA: the reverse (official --direction)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000  # generator steps
    n_critic: int = 1  # D steps per G step
    batch_size_d: int = 64
    batch_size_g: int = 64
    loss: str = "ns"  # ns | minimax | hinge | wgan | wgan-gp | wgan-gp-eps | lsgan
    gp_weight: float = 10.0  # wgan-gp, wgan-gp-eps
    drift_weight: float = 1e-3  # wgan-gp-eps: weight of (batch-mean real logit)^2
    r1_gamma: float = 0.0  # R1 penalty on reals, (gamma/2)*||grad||^2; 0 = off
    r1_after_augment: bool = False  # R1 gradient w.r.t. the augmented reals (DiffAugment-stylegan2), not through the augmentation
    # Order of the updates inside one step: "d-first" (n_critic D steps, then G), "g-first" (G, then n_critic D steps:
    # StyleGAN2's training loop, the PyTorch-GAN cgan port), "g-first-skip0" (as g-first with no G step at step 0:
    # WGAN-GP's gan_cifar_resnet.py loop, so `steps` iterations make steps - 1 G updates), "simultaneous" (one batch of
    # fakes, D and G gradients taken at the same weights and applied together: goodfeli/adversarial; n_critic must be 1)
    loop_order: str = "d-first"
    optimizer: str = "adam"  # adam | sgd
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas_g: tuple = (0.5, 0.999)
    betas_d: tuple = (0.5, 0.999)
    momentum: float = 0.0  # sgd only
    momentum_final: float = 0.0  # sgd: ramp momentum linearly to this over momentum_ramp_epochs (0 = no ramp)
    momentum_ramp_epochs: tuple = (1.0, 250.0)  # (start, end) data epochs of the ramp (Goodfellow et al. 2014)
    lr_schedule: str = "constant"  # constant | linear (to 0 over `steps`) | exponential (/ lr_decay per step)
    lr_decay: float = 1.000004  # exponential schedule: lr_t = lr / lr_decay**t, floored at lr_min
    lr_min: float = 1e-6
    grad_clip: float = 0.0  # max global grad norm for G and D; 0 = off
    ema: bool = True
    ema_decay: float = 0.999  # per G step, when ema_halflife_kimg == 0
    ema_halflife_kimg: float = 0.0  # > 0: beta = 0.5 ** (batch / (halflife*1000)), TransGAN/StyleGAN style
    ema_rampup: float = 0.0  # > 0: half-life capped at rampup * images seen (TransGAN's ema_warmup)
    ema_start_step: int = 0  # EMA copies G until this G step (BigGAN: 1000)
    augment: str = "none"  # none | diffaug | diffaug-transgan
    augment_policy: str = "color,translation,cutout"
    co_train_sr: bool = False  # TransGAN MT-CT auxiliary super-resolution loss
    co_train_sr_weight: float = 50.0
    local_init: str = ""  # TransGAN locality-aware init: off | band | window ("" = the model's default)
    precision: str = "fp32"  # fp32 | bf16 (autocast of forward passes; penalties stay differentiable)
    compile: bool = False  # torch.compile the G and D forward passes
    checkpoint_every: int = 1000
    sample_every: int = 1000
    eval_every: int = 0  # 0 = evaluate only at step 0 and at the end
    log_every: int = 10
    # super-resolution trainer (task "sr", gbench/train/sr.py)
    content_loss: str = "mse"  # "mse" pixel loss (SRResNet) | "vgg54" VGG19 conv5_4 features / 12.75 (SRGAN) | "vgg54-random" (same net, fixed random weights: smoke only)
    adv_weight: float = 0.0  # weight of the adversarial G term (SRGAN 1e-3); 0 = no discriminator
    init_from: str = ""  # start G from this run dir (its latest checkpoint) or checkpoint file (SRGAN starts from SRResNet)
    pretrain_steps: int = 0  # the first G steps use pixel MSE only, without D (a self-contained SRResNet stage)
    lr_step_at: int = 0  # lr_schedule "step" (sr trainer): from this G step on, LR = lr * lr_step_factor
    lr_step_factor: float = 0.1
    # image-to-image trainers (tasks "paired" / "unpaired", gbench/train/img2img.py)
    pix2pix_objective: str = "l1+cgan"  # l1 | gan | cgan | l1+gan | l1+cgan (pix2pix Table 1; "gan": D sees B alone)
    lambda_l1: float = 100.0  # pix2pix: weight of ||B - G(A)||_1
    lambda_cycle: float = 10.0  # CycleGAN: weight of each cycle-consistency L1 term
    lambda_identity: float = 0.5  # CycleGAN: identity L1 weight relative to lambda_cycle (0.5 -> 5 per direction); 0 = off
    pool_size: int = 0  # history of generated images D is fed (CycleGAN 50); 0 = the current fakes
    epochs_constant: int = 0  # LR by data epochs: this many epochs at the base LR ...
    epochs_decay: int = 0  # ... then linear decay to 0 over this many (pix2pix / CycleGAN 100 + 100); 0 = lr_schedule
    # WGAN-GP's gradient-norm target (Progressive GAN's CIFAR-10 run: 750); the penalty is gp_weight * (||g|| - t)^2 / t^2
    gp_target: float = 1.0
    # progressive growing (task "progressive", gbench/train/progressive.py), the official TrainingSchedule's names: the
    # first phase runs at lod_initial_resolution; each phase shows lod_training_kimg thousand real images, then fades the
    # next resolution in over lod_transition_kimg. Minibatch and learning rates per resolution as "res:value,..." (the
    # official minibatch_dict / G_lrate_dict / D_lrate_dict); unlisted resolutions use batch_size_d / lr_g / lr_d.
    lod_initial_resolution: int = 4
    lod_training_kimg: float = 600.0
    lod_transition_kimg: float = 600.0
    minibatch_per_res: str = ""
    lr_g_per_res: str = ""
    lr_d_per_res: str = ""
    minibatch_repeats: int = 4  # the schedule (lod, minibatch, learning rates) is re-read every this many minibatches
    reset_opt_for_new_lod: bool = True  # Adam state reset whenever floor(lod) or ceil(lod) changes


@dataclass(frozen=True)
class EvalConfig:
    protocol: str = "toy-shapes32"
    at_start: bool = True  # evaluate the untrained generator (step 0) too
    use_ema: bool = True
    batch_size: int = 250
    segmenter: str = ""  # FCN-score protocols: "" = the protocol's own; a checkpoint path or module:callable


@dataclass(frozen=True)
class RunConfig:
    experiment: str
    preset: str = "paper"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """sha256 of the canonical JSON of everything that changes the result (`LATE_FIELDS` at their defaults left out)."""
        data = self.to_dict()
        for section, names in LATE_FIELDS.items():
            defaults = SECTIONS[section]()
            for name in names:
                if data[section][name] == getattr(defaults, name):
                    del data[section][name]
        blob = json.dumps(data, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig, "eval": EvalConfig}
# Fields added after tests/snapshots/hashes.json was taken: while they hold their default they are left out of the config
# hash, so every existing experiment keeps its run directory (and resumes) across the addition.
LATE_FIELDS = {"train": ("gp_target", "lod_initial_resolution", "lod_training_kimg", "lod_transition_kimg", "minibatch_per_res",
                         "lr_g_per_res", "lr_d_per_res", "minibatch_repeats", "reset_opt_for_new_lod")}


def _parse_value(text: str, like: Any, where: str) -> Any:
    """Parse `text` into the type of the current value `like` (bool, int, float, str, tuple)."""
    try:
        if isinstance(like, bool):
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(like, int):
            return int(text)
        if isinstance(like, float):
            return float(text)
        if isinstance(like, tuple):
            parts = json.loads(text) if text.strip().startswith("[") else [p for p in text.split(",") if p.strip()]
            kind = type(like[0]) if like else float
            return tuple(kind(p) for p in parts)
        if isinstance(like, str):
            return text
    except (ValueError, json.JSONDecodeError):
        pass
    raise GBenchError(f"--set {where}: cannot read {text!r} as {type(like).__name__}")


def _parse_literal(text: str) -> Any:
    """Values inside model kwargs have no declared type here: read JSON literals, else keep the string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        low = text.lower()
        return {"true": True, "false": False}.get(low, text)
    return tuple(value) if isinstance(value, list) else value


def _unknown(kind: str, name: str, known) -> GBenchError:
    hint = difflib.get_close_matches(name, list(known), n=1)
    tail = f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(sorted(known))}"
    return GBenchError(f"unknown {kind} {name!r}{tail}")


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any] | list[str], *, from_text: bool = False) -> RunConfig:
    """Apply dotted overrides, e.g. {"train.steps": 100} or ["train.steps=100"] (from the CLI).

    Unknown sections or keys are errors (with a suggestion); CLI strings are parsed to the key's type.
    `model.g_kwargs.<name>` / `model.d_kwargs.<name>` set model-config fields (checked when built).
    """
    if isinstance(overrides, list):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise GBenchError(f"--set expects key=value, got {item!r}")
            key, value = item.split("=", 1)
            pairs[key.strip()] = value
        overrides, from_text = pairs, True
    top = {f.name for f in fields(RunConfig)} - set(SECTIONS)
    for key, value in overrides.items():
        parts = key.split(".")
        if len(parts) == 1:
            if parts[0] not in top:
                raise _unknown("config key", key, [*top, *(f"{s}.{f.name}" for s, c in SECTIONS.items() for f in fields(c))])
            current = getattr(cfg, parts[0])
            cfg = replace(cfg, **{parts[0]: _parse_value(value, current, key) if from_text else value})
            continue
        section_name, name, rest = parts[0], parts[1], parts[2:]
        if section_name not in SECTIONS:
            raise _unknown("config section", section_name, SECTIONS)
        section = getattr(cfg, section_name)
        known = {f.name for f in fields(section)}
        if name not in known:
            raise _unknown(f"{section_name} key", f"{section_name}.{name}", [f"{section_name}.{k}" for k in known])
        current = getattr(section, name)
        if rest:
            if not isinstance(current, dict) or len(rest) != 1:
                raise GBenchError(f"--set {key}: {section_name}.{name} has no sub-keys")
            new_value = {**current, rest[0]: _parse_literal(value) if from_text else value}
        else:
            new_value = _parse_value(value, current, key) if from_text and isinstance(value, str) else value
            if isinstance(current, dict):
                raise GBenchError(f"--set {key}: set single fields, e.g. {key}.<field>=<value>")
            if not from_text:
                _check_type(new_value, current, key)
        cfg = replace(cfg, **{section_name: replace(section, **{name: new_value})})
    return cfg


def _check_type(value: Any, like: Any, key: str) -> None:
    ok = isinstance(value, type(like)) or (isinstance(like, float) and isinstance(value, int) and not isinstance(value, bool))
    if isinstance(like, int) and not isinstance(like, bool) and isinstance(value, bool):
        ok = False
    if not ok:
        raise GBenchError(f"{key}: expected {type(like).__name__}, got {value!r}")


def config_from_dict(data: dict) -> RunConfig:
    """Rebuild a RunConfig from `to_dict()` output (config.json); lists become tuples again."""
    sections = {}
    for name, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        values = {}
        for key, value in data.get(name, {}).items():
            if key not in hints:
                raise GBenchError(f"config.json: unknown key {name}.{key} (written by another gbench version?)")
            values[key] = tuple(value) if isinstance(value, list) else value
        sections[name] = cls(**values)
    top = {k: data[k] for k in ("experiment", "preset", "seed") if k in data}
    return RunConfig(**top, **sections)


def non_defaults(cfg: RunConfig, base: RunConfig) -> set[str]:
    """Dotted keys whose value differs from `base` (the paper preset), for reports."""
    out = set()
    for name in SECTIONS:
        a, b = getattr(cfg, name), getattr(base, name)
        for f in fields(a):
            if getattr(a, f.name) != getattr(b, f.name):
                out.add(f"{name}.{f.name}")
    return out
