"""The super-resolution trainer (task "sr"): SRResNet with pixel MSE and SRGAN with VGG54 + adversarial loss.

Follows Ledig et al., CVPR 2017 (there is no official code; spec in shared/reference/models.md section 8):
- a batch is `batch_size_g` (16) random `data.resolution` (96) HR crops from distinct images (one epoch-style
  permutation, gbench/train/sampler.py), LR = the antialiased bicubic x4 of each crop (gbench/data/sr.py);
  LR is fed in [0, 1], HR targets are on [-1, 1], as in the paper;
- SRResNet: loss = MSE(G(LR), HR);
- SRGAN: G starts from an SRResNet (`train.init_from`: a run dir or checkpoint file) and minimises
  VGG54 + 1e-3 * adversarial, where VGG54 = MSE of VGG19 `features[:36]` (conv5_4 after its ReLU, before the
  5th max-pool) of SR and HR, both feature maps scaled by 1/12.75, and the adversarial term is the
  non-saturating -log D(G(LR)); D and G alternate, one update each per step (k = 1), on the same batch;
- Adam with beta1 = 0.9; LR 1e-4, and for SRGAN 1e-5 from step 10^5 on (`lr_schedule="step"`).

VGG19 weights are torchvision's (`gbench data fetch vgg19`, prefix-checked by gbench/assets.py); ImageNet
mean/std normalisation is applied to [0, 1] images before the VGG. `content_loss="vgg54-random"` builds the same
network with fixed random weights (seed 0): a code-path check for smoke runs, not a perceptual loss.

`gbench.evaluation.sr.trained_sr_model(run_dir)` (or a checkpoint + experiment) gives the evaluation view of a trained G for
`gbench eval --protocol sr-x4-y --run DIR` (gbench/evaluation/sr.py scores it).

Deviations / choices where the paper is silent:
- losses are batch means (the paper writes sums over the batch: a constant factor absorbed by the LR);
- the LR crops are rounded to uint8 like the LR test images (the paper does not say);
- DIV2K's 800 images replace the paper's 350k ImageNet images (gbench/data/sr.py);
- `pretrain_steps` (smoke SRGAN): an SRResNet (MSE-only, no D) stage inside the same run, instead of a separate run;
- no EMA of G (the paper has none); DDP is not supported by this trainer (single process).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import reference_models
from gbench import losses
from gbench.assets import asset_path
from gbench.config import CONTENT_LOSSES, RunConfig
from gbench.data.sr import downscale_uint8, load_sr_training_images
from gbench.checkpoint import load_generator_state
from gbench.errors import GBenchError, UsageError
from gbench.train.gan import StepLog
from gbench.train.sampler import EpochSampler

VGG54_LAYERS = 36  # torchvision vgg19().features[:36] ends with the ReLU after conv5_4
VGG54_SCALE = 1 / 12.75  # the paper's rescaling of the feature maps
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_VGG_SEED = 0
SAMPLE_CROP = 96  # HR side of the crops shown in the sample grids


class VGG54Loss(nn.Module):
    """MSE between VGG19 conv5_4 (post-ReLU) feature maps of SR and HR, features scaled by 1/12.75.
    Inputs are on the [-1, 1] training scale. Frozen; gradients flow only into the SR image."""

    def __init__(self, weights: str = "imagenet"):
        super().__init__()
        import torchvision

        with torch.device("meta"):  # skip allocating and initialising the 120M-parameter classifier
            vgg = torchvision.models.vgg19()
        self.features = vgg.features[:VGG54_LAYERS].to_empty(device="cpu")
        if weights == "imagenet":
            state = torch.load(asset_path("vgg19"), map_location="cpu", weights_only=True)
            keep = {k.removeprefix("features."): v for k, v in state.items()
                    if k.startswith("features.") and int(k.split(".")[1]) < VGG54_LAYERS}
            self.features.load_state_dict(keep)
        elif weights == "random":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_VGG_SEED)
                for m in self.features.modules():
                    if isinstance(m, nn.Conv2d):  # He init on fan_in: keeps the forward activation scale through 16 convs
                        nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                        nn.init.zeros_(m.bias)
        else:
            raise ValueError(f"VGG54Loss weights must be imagenet or random, not {weights!r}")
        self.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> "VGG54Loss":
        return super().train(False)  # always in eval mode (no dropout/BN in features[:36] anyway)

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(((x + 1) / 2 - self.mean) / self.std) * VGG54_SCALE

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.feature_maps(hr)
        return F.mse_loss(self.feature_maps(sr), target)


def build_content_loss(name: str) -> nn.Module | None:
    """None for pixel MSE, else a VGG54Loss."""
    if name not in CONTENT_LOSSES:
        raise UsageError(f"train.content_loss must be one of {', '.join(CONTENT_LOSSES)}, not {name!r}")
    if name == "mse":
        return None
    return VGG54Loss("imagenet" if name == "vgg54" else "random")


class SRTrainer:
    """Trainer of task "sr" (the interface of gbench/runs.py; see GANTrainer)."""

    def __init__(self, cfg: RunConfig, device: torch.device, rank: int = 0, world_size: int = 1):
        t = cfg.train
        if world_size != 1:
            raise GBenchError("the super-resolution trainer runs in one process (no DDP)")
        if t.ema:
            raise GBenchError("the super-resolution trainer has no EMA (SRGAN uses none): set train.ema=false")
        if t.n_critic != 1 or (t.adv_weight > 0 and t.batch_size_d != t.batch_size_g):
            raise GBenchError("the super-resolution trainer alternates one D and one G update on the same batch: "
                              "set train.n_critic=1 and train.batch_size_d=train.batch_size_g")
        if t.lr_schedule not in ("constant", "step"):
            raise GBenchError(f"the super-resolution trainer supports lr_schedule constant or step, not {t.lr_schedule!r}")
        if t.pretrain_steps % t.log_every:
            raise UsageError("train.pretrain_steps must be a multiple of train.log_every (a log line must not mix the MSE and GAN stages)")
        self.cfg, self.device = cfg, device
        self.crop = cfg.data.resolution
        try:
            self.G = reference_models.build_generator(cfg.model.generator, **cfg.model.g_kwargs).to(device)
            self.D = None
            if t.adv_weight > 0:
                if not cfg.model.discriminator:
                    raise GBenchError("train.adv_weight > 0 needs a discriminator: set model.discriminator (e.g. srgan)")
                d_kwargs = {"input_size": self.crop, **cfg.model.d_kwargs}
                self.D = reference_models.build_discriminator(cfg.model.discriminator, **d_kwargs).to(device)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"cannot build the models of {cfg.experiment}: {exc.args[0] if exc.args else exc}") from None
        if getattr(self.G, "task", "") != "super_resolution":
            raise GBenchError(f"{cfg.model.generator} is not a super-resolution generator")
        self.scale = self.G.scale
        if self.crop % self.scale:
            raise GBenchError(f"data.resolution (HR crop) {self.crop} is not a multiple of the scale {self.scale}")
        if t.loss not in losses.LOSSES:
            raise UsageError(f"unknown loss {t.loss!r}; known: {', '.join(losses.LOSSES)}")
        self.content = build_content_loss(t.content_loss)
        if self.content is not None:
            self.content.to(device)
        self.images = load_sr_training_images(cfg.data.dataset, cfg.data.split, root=cfg.data.root, size=cfg.data.size,
                                              min_side=self.crop)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=t.lr_g, betas=tuple(t.betas_g))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=tuple(t.betas_d)) if self.D else None
        self.sampler = EpochSampler(len(self.images), t.batch_size_g, seed=cfg.seed)
        self.step = 0
        self.init: dict | None = None  # provenance of train.init_from, once loaded
        self._initialised = not t.init_from
        self._test_sets = None

    # -- state -------------------------------------------------------------------------------------
    def _ensure_init(self) -> None:
        """Load train.init_from into G before the first evaluation or step of a fresh run (not on resume)."""
        if self._initialised:
            return
        state, self.init = load_generator_state(self.cfg.train.init_from)
        try:
            self.G.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise GBenchError(f"train.init_from: {self.init['path']} does not fit {self.cfg.model.generator} "
                              f"with g_kwargs {self.cfg.model.g_kwargs} ({first})") from None
        self._initialised = True

    def state_dict(self) -> dict:
        return {"step": self.step, "G": self.G.state_dict(), "D": self.D.state_dict() if self.D else None,
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict() if self.opt_d else None,
                "sampler": self.sampler.state_dict(), "init": dict(self.init or {})}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]
        self.G.load_state_dict(state["G"])
        if self.D:
            self.D.load_state_dict(state["D"])
            self.opt_d.load_state_dict(state["opt_d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.sampler.load_state_dict(state["sampler"])
        self.init = state.get("init") or None
        self._initialised = True

    @property
    def generator_label(self) -> str:
        return "G"

    @property
    def data_epoch(self) -> float:
        return self.sampler.data_epoch

    @property
    def images_per_step(self) -> int:
        return self.cfg.train.batch_size_g

    def learning_rate(self, base: float) -> float:
        t = self.cfg.train
        return base * t.lr_step_factor if t.lr_schedule == "step" and self.step >= t.lr_step_at else base

    def learning_rates(self) -> dict[str, float]:
        out = {"lr_g": self.opt_g.param_groups[0]["lr"]}
        if self.opt_d:
            out["lr_d"] = self.opt_d.param_groups[0]["lr"]
        return out

    # -- one step ------------------------------------------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR in [0, 1], HR in [-1, 1]) for the next step: random crops from distinct images."""
        hr = self.images.random_crops(self.sampler.next_indices(), self.crop)
        lr = downscale_uint8(hr, self.scale)
        return lr.to(self.device).float().div_(255), hr.to(self.device).float().div_(127.5).sub_(1)

    def train_step(self, log: StepLog) -> None:
        self._ensure_init()
        t, G, D = self.cfg.train, self.G, self.D
        for opt, base in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
            for group in opt.param_groups if opt else ():
                group["lr"] = self.learning_rate(base)
        lr, hr = self.batch()
        adversarial = D is not None and self.step >= t.pretrain_steps
        terms: dict[str, torch.Tensor] = {}
        if adversarial:
            D.requires_grad_(True)
            with torch.no_grad():
                fake = G(lr)
            d_real, d_fake = D(hr), D(fake)
            loss_d = losses.d_loss(t.loss, d_real, d_fake)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            D.requires_grad_(False)
            terms.update(loss_d=loss_d, d_real=d_real.mean(), d_fake=d_fake.mean())

        sr = G(lr)
        mse = F.mse_loss(sr, hr)
        if self.step < t.pretrain_steps or self.content is None:
            loss_g = mse
        else:
            content = self.content(sr, hr)
            terms["loss_content"] = content
            loss_g = content
        if adversarial:
            adv = losses.g_loss(t.loss, D(sr))
            loss_g = loss_g + t.adv_weight * adv
            terms["loss_adv"] = adv
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if D is not None:
            D.requires_grad_(True)
        self.step += 1
        log.add(loss_g=loss_g, mse=mse.detach(), **terms)

    # -- evaluation and samples ------------------------------------------------------------------
    def eval_model(self) -> nn.Module:
        from reference_models.srgan import UnitRangeSR

        return UnitRangeSR(self.G)

    def evaluate(self, step: int) -> dict:
        from gbench.evaluation.sr import evaluate_sr_model

        self._ensure_init()
        result = evaluate_sr_model(self.eval_model(), self.cfg.eval.protocol, root=self.cfg.data.root, device=self.device,
                                   label=f"{self.cfg.experiment} G", baseline=True)
        if self.init:
            result["init_from"] = self.init
        return result

    def save_samples(self, path) -> None:
        """Rows of [LR (nearest x scale) | bicubic | SR | HR] for a centre crop of each of the first 4 test images."""
        from gbench.evaluation.sr import bicubic_upscaler, load_test_sets, sr_protocol, upscale_image
        from gbench.sampling import grid_image

        self._ensure_init()
        if self._test_sets is None:
            self._test_sets = load_test_sets(sr_protocol(self.cfg.eval.protocol), self.cfg.data.root)
        pairs = [(hr, lr) for test_set in self._test_sets for hr, lr in zip(test_set.hr, test_set.lr)][:4]
        s = self.scale
        side = min(SAMPLE_CROP // s, *(min(lr.shape[:2]) for _, lr in pairs))
        model, tiles = self.eval_model(), []
        was_training = self.G.training
        model.eval()
        try:
            with torch.random.fork_rng(devices=[]):
                for hr, lr in pairs:
                    top, left = max(lr.shape[0] // 2 - side // 2, 0), max(lr.shape[1] // 2 - side // 2, 0)
                    low = lr[top : top + side, left : left + side]
                    high = hr[top * s : (top + side) * s, left * s : (left + side) * s]
                    outputs = [low.repeat(s, 0).repeat(s, 1), upscale_image(bicubic_upscaler(s), low, s),
                               upscale_image(model, low, s, self.device), high]
                    tiles += [torch.from_numpy(o.copy()).permute(2, 0, 1) for o in outputs]
        finally:
            self.G.train(was_training)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        grid_image(torch.stack(tiles), nrow=4).save(path)
