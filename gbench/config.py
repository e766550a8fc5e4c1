"""Run configuration: frozen dataclasses per section, presets as override dicts, `--set` parsing, validation, hashing.

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

from gbench.errors import GBenchError, UsageError

PRESETS = ("paper", "quick", "smoke")


def added_field(default: Any) -> Any:
    """A config field added after runs existed: left at its default it stays out of the config hash, so existing
    run directories (and tests/snapshots/hashes.json) keep their names; set to anything else it is hashed."""
    return field(default=default, metadata={"hash_omits_default": True})


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
    # text-to-image (gbench/train/text2image.py): each image's conditioning is the mean of this many of its caption embeddings
    num_captions: int = added_field(4)  # icml2016 numCaption (train_cub.sh / train_flowers.sh: 4)


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
    compile: bool = False  # torch.compile the G and D forward passes (penalties take their double backward through the plain modules)
    # TransGAN's official loop zeroes D's gradients only before each D step's backward is applied and after it: the G step
    # backpropagates through a trainable D, so the first D update after each G step also receives the G loss's gradient
    d_grad_carryover: bool = added_field(False)
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
    # text-to-image trainer (task "text2image", gbench/train/text2image.py)
    objective: str = added_field("")  # gan | gan-cls | gan-int | gan-int-cls (Reed et al. 2016); "" = not a text-to-image run
    lr_step_every_epochs: int = added_field(0)  # lr_schedule "epoch-decay": LR x lr_step_factor at every this-many-th epoch (1-based)
    style_steps: int = added_field(0)  # steps of the style encoder S after the `steps` GAN steps (G frozen); 0 = no S
    # BigGAN (gbench/recipes/biggan.py)
    ortho_reg: float = added_field(0.0)  # BigGAN orthogonal regularisation strength on G (BigGAN-PyTorch --G_ortho; paper 1e-4); 0 = off
    adam_eps: float = added_field(1e-8)  # Adam's epsilon for G and D (BigGAN-PyTorch's ImageNet scripts: 1e-6)
    accumulations: int = added_field(1)  # gradient accumulation: each D and G step sums `accumulations` micro-batches of batch / accumulations
    # WGAN-GP's gradient-norm target (Progressive GAN's CIFAR-10 run: 750); the penalty is gp_weight * (||g|| - t)^2 / t^2
    # WGAN-GP's gradient-norm target (Progressive GAN's CIFAR-10 run: 750); the penalty is gp_weight * (||g|| - t)^2 / t^2
    gp_target: float = added_field(1.0)
    # progressive growing (task "progressive", gbench/train/progressive.py), the official TrainingSchedule's names: the
    # first phase runs at lod_initial_resolution; each phase shows lod_training_kimg thousand real images, then fades the
    # next resolution in over lod_transition_kimg. Minibatch and learning rates per resolution as "res:value,..." (the
    # official minibatch_dict / G_lrate_dict / D_lrate_dict); unlisted resolutions use batch_size_d / lr_g / lr_d.
    lod_initial_resolution: int = added_field(4)
    lod_training_kimg: float = added_field(600.0)
    lod_transition_kimg: float = added_field(600.0)
    minibatch_per_res: str = added_field("")
    lr_g_per_res: str = added_field("")
    lr_d_per_res: str = added_field("")
    minibatch_repeats: int = added_field(4)  # the schedule (lod, minibatch, learning rates) is re-read every this many minibatches
    reset_opt_for_new_lod: bool = added_field(True)  # Adam state reset whenever floor(lod) or ceil(lod) changes


@dataclass(frozen=True)
class EvalConfig:
    protocol: str = "toy-shapes32"
    at_start: bool = True  # evaluate the untrained generator (step 0) too
    use_ema: bool = True
    batch_size: int = 250
    segmenter: str = ""  # FCN-score protocols: "" = the protocol's own; a checkpoint path or module:callable
    # Sample the generator in train mode (batch-norm batch statistics over batches of g_train_mode_batch images, drawn in
    # stream order; buffers restored after every 500-image chunk): BigGAN-PyTorch's sampling without --G_eval_mode
    g_train_mode: bool = added_field(False)
    g_train_mode_batch: int = added_field(50)
    standing_stats: int = added_field(0)  # > 0: BatchNorm statistics of G re-estimated over this many batches of batch_size before each evaluation (BigGAN)


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
        """sha256 of the canonical JSON of everything that changes the result (fields added later omitted at their default)."""
        data = self.to_dict()
        for name, section in SECTIONS.items():
            for f in fields(section):
                if f.metadata.get("hash_omits_default") and data[name][f.name] == f.default:
                    del data[name][f.name]
        blob = json.dumps(data, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig, "eval": EvalConfig}


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
    raise UsageError(f"--set {where}: cannot read {text!r} as {type(like).__name__}")


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
    return UsageError(f"unknown {kind} {name!r}{tail}")


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any] | list[str], *, from_text: bool = False) -> RunConfig:
    """Apply dotted overrides, e.g. {"train.steps": 100} or ["train.steps=100"] (from the CLI).

    Unknown sections or keys are errors (with a suggestion); CLI strings are parsed to the key's type.
    `model.g_kwargs.<name>` / `model.d_kwargs.<name>` set model-config fields (checked when built).
    """
    if isinstance(overrides, list):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise UsageError(f"--set expects key=value, got {item!r}")
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
                raise UsageError(f"--set {key}: {section_name}.{name} has no sub-keys")
            new_value = {**current, rest[0]: _parse_literal(value) if from_text else value}
        else:
            new_value = _parse_value(value, current, key) if from_text and isinstance(value, str) else value
            if isinstance(current, dict):
                raise UsageError(f"--set {key}: set single fields, e.g. {key}.<field>=<value>")
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


# ----------------------------------------------------------------------------- validation

# The names the trainers accept: losses.py, train/img2img.py and train/sr.py use these tuples; augment.POLICIES names
# the op lists of AUGMENT_OPS "original" and "transgan".
LOSSES = ("ns", "minimax", "hinge", "wgan", "wgan-gp", "wgan-gp-eps", "wgan-gp-drift", "lsgan")
LOOP_ORDERS = ("d-first", "g-first", "g-first-skip0", "simultaneous")
LR_SCHEDULES = ("constant", "linear", "exponential", "step", "epoch-decay")
TEXT2IMAGE_OBJECTIVES = ("", "gan", "gan-cls", "gan-int", "gan-int-cls")
AUGMENTS = ("none", "diffaug", "diffaug-transgan")
AUGMENT_OPS = {"diffaug": ("color", "translation", "cutout"), "diffaug-transgan": ("color", "translation", "cutout", "stl_erase_ratio")}
PIX2PIX_OBJECTIVES = ("l1", "gan", "cgan", "l1+gan", "l1+cgan")
CONTENT_LOSSES = ("mse", "vgg54", "vgg54-random")


def _rule(test, wants: str):
    return test, wants


def _at_least(low):
    return _rule(lambda v: v >= low, f">= {low}")


def _positive():
    return _rule(lambda v: v > 0, "> 0")


def _unit(closed_high: bool = False):
    return _rule((lambda v: 0 <= v <= 1) if closed_high else (lambda v: 0 <= v < 1), "in [0, 1]" if closed_high else "in [0, 1)")


def _one_of(*choices):
    return _rule(lambda v: v in choices, "one of " + ", ".join(repr(c) if c == "" else str(c) for c in choices))


def _pair(test, wants: str):
    return _rule(lambda v: len(v) == 2 and all(test(x) for x in v), f"two values, each {wants}")


def _policy_ops(policy: str) -> list[str]:
    return [op.strip() for op in policy.split(",") if op.strip()]


_ANY = _rule(lambda v: True, "")
# Every field of every section has a rule (a test checks), so a new field must say what it accepts.
RULES: dict[str, tuple] = {
    "seed": _rule(lambda v: 0 <= v < 2**32, "in [0, 2**32)"),
    "preset": _one_of(*PRESETS),
    "experiment": _ANY,
    "model.generator": _rule(bool, "a model name (`gbench models`)"), "model.discriminator": _ANY,
    "model.g_kwargs": _ANY, "model.d_kwargs": _ANY,  # checked against the model's config dataclass when the models are built
    "data.dataset": _rule(bool, "a dataset name"), "data.split": _rule(bool, "a split name"), "data.root": _ANY,
    "data.resolution": _at_least(1), "data.flip": _ANY, "data.size": _at_least(0), "data.dequantize": _ANY,
    "data.load_size": _at_least(0), "data.direction": _one_of("AtoB", "BtoA"), "data.num_captions": _at_least(1),
    "train.steps": _at_least(0), "train.n_critic": _at_least(1), "train.batch_size_d": _at_least(1), "train.batch_size_g": _at_least(1),
    "train.loss": _one_of(*LOSSES), "train.gp_weight": _at_least(0), "train.drift_weight": _at_least(0), "train.r1_gamma": _at_least(0),
    "train.r1_after_augment": _ANY, "train.loop_order": _one_of(*LOOP_ORDERS), "train.optimizer": _one_of("adam", "sgd"),
    "train.lr_g": _positive(), "train.lr_d": _positive(), "train.betas_g": _pair(lambda x: 0 <= x < 1, "in [0, 1)"),
    "train.betas_d": _pair(lambda x: 0 <= x < 1, "in [0, 1)"), "train.momentum": _unit(), "train.momentum_final": _unit(),
    "train.momentum_ramp_epochs": _rule(lambda v: len(v) == 2 and 0 <= v[0] <= v[1], "(start, end) with 0 <= start <= end"),
    "train.lr_schedule": _one_of(*LR_SCHEDULES), "train.lr_decay": _at_least(1), "train.lr_min": _at_least(0),
    "train.grad_clip": _at_least(0), "train.ema": _ANY, "train.ema_decay": _unit(), "train.ema_halflife_kimg": _at_least(0),
    "train.ema_rampup": _at_least(0), "train.ema_start_step": _at_least(0), "train.augment": _one_of(*AUGMENTS),
    "train.augment_policy": _rule(lambda v: all(op in AUGMENT_OPS["diffaug-transgan"] for op in _policy_ops(v)),
                                  "comma-separated " + ", ".join(AUGMENT_OPS["diffaug-transgan"])),
    "train.co_train_sr": _ANY, "train.co_train_sr_weight": _at_least(0), "train.local_init": _one_of("", "off", "band", "window"),
    "train.precision": _one_of("fp32", "bf16"), "train.compile": _ANY, "train.d_grad_carryover": _ANY, "train.checkpoint_every": _at_least(1),
    "train.sample_every": _at_least(0), "train.eval_every": _at_least(0), "train.log_every": _at_least(1),
    "train.content_loss": _one_of(*CONTENT_LOSSES), "train.adv_weight": _at_least(0), "train.init_from": _ANY,
    "train.pretrain_steps": _at_least(0), "train.lr_step_at": _at_least(0), "train.lr_step_factor": _positive(),
    "train.pix2pix_objective": _one_of(*PIX2PIX_OBJECTIVES), "train.lambda_l1": _at_least(0), "train.lambda_cycle": _at_least(0),
    "train.lambda_identity": _at_least(0), "train.pool_size": _at_least(0), "train.epochs_constant": _at_least(0),
    "train.epochs_decay": _at_least(0), "train.objective": _one_of(*TEXT2IMAGE_OBJECTIVES), "train.lr_step_every_epochs": _at_least(0),
    "train.style_steps": _at_least(0), "train.gp_target": _positive(), "train.lod_initial_resolution": _at_least(4),
    "train.lod_training_kimg": _at_least(0), "train.lod_transition_kimg": _at_least(0), "train.minibatch_per_res": _ANY,
    "train.lr_g_per_res": _ANY, "train.lr_d_per_res": _ANY, "train.minibatch_repeats": _at_least(1), "train.reset_opt_for_new_lod": _ANY, "train.ortho_reg": _at_least(0), "train.adam_eps": _positive(), "train.accumulations": _at_least(1),
    "eval.protocol": _rule(bool, "a protocol id (`gbench protocols`)"), "eval.at_start": _ANY, "eval.use_ema": _ANY,
    "eval.batch_size": _at_least(1), "eval.segmenter": _ANY, "eval.g_train_mode": _ANY, "eval.g_train_mode_batch": _at_least(1),
    "eval.standing_stats": _at_least(0),
}


def _fields_of(cfg: RunConfig):
    for f in fields(RunConfig):
        if f.name in SECTIONS:
            section = getattr(cfg, f.name)
            for g in fields(section):
                yield f"{f.name}.{g.name}", getattr(section, g.name), SECTIONS[f.name].__dataclass_fields__[g.name].default
        else:
            yield f.name, getattr(cfg, f.name), None


def _type_ok(value, key: str, cfg_default) -> bool:
    """The value has the field's declared kind (bool is not a number here; ints pass for floats)."""
    like = cfg_default
    if like is None or like is dataclasses.MISSING or isinstance(like, dict):
        return True
    if isinstance(like, bool):
        return isinstance(value, bool)
    if isinstance(like, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and (isinstance(like, float) or isinstance(value, int))
    return isinstance(value, type(like))


def validate(cfg: RunConfig) -> RunConfig:
    """Refuse a config before anything runs: every field's type and range, then the rules between fields.
    Raises one UsageError naming the key, the value and what is accepted; returns `cfg` unchanged."""
    for key, value, default in _fields_of(cfg):
        if key not in RULES:
            raise UsageError(f"{key} has no validation rule (gbench/config.py RULES)")
        if not _type_ok(value, key, default):
            raise UsageError(f"{key} = {value!r}: expected {type(default).__name__}")
        test, wants = RULES[key]
        try:
            ok = test(value)
        except TypeError:
            ok = False
        if not ok:
            raise UsageError(f"{key} = {value!r}: must be {wants}")
    t, d = cfg.train, cfg.data
    rules = [
        (t.loop_order == "simultaneous" and t.n_critic != 1, "train.loop_order simultaneous takes one D and one G update per step: "
                                                              f"train.n_critic must be 1, not {t.n_critic}"),
        (t.loop_order == "simultaneous" and (t.batch_size_g != t.batch_size_d or t.r1_gamma > 0 or t.loss in ("wgan-gp", "wgan-gp-eps", "wgan-gp-drift")),
         "train.loop_order simultaneous takes both updates from one batch: it needs train.batch_size_g = train.batch_size_d and no "
         "gradient penalty (R1, WGAN-GP)"),
        (t.co_train_sr and t.loop_order != "d-first", "train.co_train_sr (MT-CT) uses the reals of the step's last D batch: "
                                                       f"it needs train.loop_order d-first, not {t.loop_order}"),
        (t.r1_after_augment and t.r1_gamma == 0, "train.r1_after_augment is set but train.r1_gamma is 0 (no R1 penalty)"),
        (t.momentum_final > 0 and t.optimizer != "sgd", "train.momentum_final ramps SGD momentum: it needs train.optimizer sgd"),
        (bool(d.load_size) and d.load_size < d.resolution, f"data.load_size {d.load_size} is smaller than the crop "
                                                            f"data.resolution {d.resolution}"),
        (t.augment in AUGMENT_OPS and any(op not in AUGMENT_OPS[t.augment] for op in _policy_ops(t.augment_policy)),
         f"train.augment_policy {t.augment_policy!r}: {t.augment} takes " + ", ".join(AUGMENT_OPS.get(t.augment, ()))),
        (t.accumulations > 1 and t.loop_order == "simultaneous", "train.accumulations > 1 needs separate D and G steps: not with "
                                                                   "train.loop_order simultaneous"),
        (t.ortho_reg > 0 and t.loop_order == "simultaneous", "train.ortho_reg is added at the G step: not with train.loop_order "
                                                              "simultaneous"),
        (t.lod_initial_resolution & (t.lod_initial_resolution - 1) != 0, f"train.lod_initial_resolution {t.lod_initial_resolution} "
                                                                          "must be a power of two"),
        (t.lr_schedule == "epoch-decay" and t.lr_step_every_epochs < 1, "train.lr_schedule epoch-decay needs "
                                                                         "train.lr_step_every_epochs >= 1 (icml2016: 100)"),
        (t.ema_halflife_kimg == 0 and t.ema_rampup > 0, "train.ema_rampup caps the EMA half-life: it needs train.ema_halflife_kimg > 0"),
    ]
    for broken, message in rules:
        if broken:
            raise UsageError(message)
    from gbench.protocols import get_protocol

    get_protocol(cfg.eval.protocol)  # an unknown protocol id is an error with a suggestion
    return cfg
