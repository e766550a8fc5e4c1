"""The known releases of authors' weights: where to get them, how to import them, what they should measure.

Every link below was read from the official README or script named in its ``notes`` (Google Drive folders and
files where that is where the authors put them). No release publishes a checksum: ``sha256`` is None for all of
them until someone records the hash of a verified download (``sha256_note`` says so).

``published``: the numbers the release should reproduce, each with its source (paper table, abstract or README),
the error the source prints (``error``; None when it prints none) and the tolerance gbench accepts when the source
states none or a smaller one (``tolerance``, with ``tolerance_basis``). A measured value reproduces a published one
when |measured - published| <= max(error or 0, tolerance). ``protocol`` is the gbench protocol a verification
evaluates under; ``paper_protocol`` is the ``gbench.leaderboard`` id of how the source measured, and
``comparable`` / ``comparable_note`` say whether the two match (a release can be importable and worth measuring
while its paper number was taken another way).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from gbench.errors import UsageError

NO_SHA256 = "not published by the authors; record the sha256 of the first verified download here"


@dataclass(frozen=True)
class Published:
    metric: str  # key of eval.json's metrics: "fid", "is_mean", "pixel_acc", ...
    value: float
    source: str
    error: float | None = None  # the +- the source prints
    tolerance: float = 0.0  # absolute tolerance gbench accepts (see tolerance_basis)
    tolerance_basis: str = ""

    def reproduced_by(self, measured: float) -> bool:
        return abs(measured - self.value) <= max(self.error or 0.0, self.tolerance)


@dataclass(frozen=True)
class Download:
    url: str
    filename: str  # the file to fetch (the name inside a Drive folder) and save as
    drive_id: str | None = None  # Google Drive id, when the file lives on Drive
    drive_kind: str | None = None  # "file" or "folder"


@dataclass(frozen=True)
class Release:
    name: str
    format: str  # gbench.official.FORMATS key
    experiment: str | None  # None: gbench has no experiment for it yet
    description: str
    downloads: tuple[Download, ...]
    protocol: str | None  # gbench protocol id a verification evaluates under
    paper_protocol: str  # gbench.leaderboard PAPER_PROTOCOLS id of how the published numbers were measured
    published: tuple[Published, ...]
    comparable: bool
    comparable_note: str
    overrides: tuple[str, ...] = ()  # --set strings known in advance (the import reports every one it needs)
    sha256: str | None = None
    sha256_note: str = NO_SHA256
    notes: tuple[str, ...] = ()

    @property
    def verify_command(self) -> str:
        return f"gbench verify {self.name} --device cuda"


def _drive_folder(folder_id: str, filename: str) -> Download:
    return Download(f"https://drive.google.com/drive/folders/{folder_id}", filename, folder_id, "folder")


def _drive_file(file_id: str, filename: str) -> Download:
    return Download(f"https://drive.google.com/file/d/{file_id}/view", filename, file_id, "file")


# FID/IS tolerances gbench states where a paper prints no error (the verdict rule is in the module docstring).
FID_50K = ("gbench's stated tolerance, not the paper's: 3% of the value. FID between TF-Inception ports and reference "
           "statistics varies by about 1% and seed-to-seed by ~0.1 at 50k samples; a wrong import moves it far more")
IS_50K = "gbench's stated tolerance, not the paper's: 2% of the value (TF-Inception port and split differences)"
DIFFAUG_10K = ("DiffAugment README: 'A standard deviation of less than 1% relatively is expected'; gbench accepts 2 of "
               "those standard deviations (2% of the value)")
TRANSGAN_V1 = "1Rv7ycxFKBzXPpoqw6bdjj0cNtmaei0lM"  # v1 README (c1524fb4): "download the checkpoint ... to ./pretrained_weight"
AUTOGAN = "1IYDNrKY3m97K3bx_uIzOL6vFmCjGNpYZ"  # AutoGAN README: "Pre-trained models are provided (Google Drive)"
DIFFAUG_MODELS = "https://hanlab.mit.edu/projects/data-efficient-gans/models/"  # eval.py: 'mit-han-lab:' prefix -> this URL
CYCLEGAN_ZOO = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/"  # scripts/download_cyclegan_model.sh
PIX2PIX_ZOO = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/"  # scripts/download_pix2pix_model.sh


def _fid(value, source, error=None, basis=FID_50K, rel=0.03):
    return Published("fid", value, source, error, round(rel * value, 3), basis)


def _is(value, source, error=None, basis=IS_50K, rel=0.02):
    return Published("is_mean", value, source, error, round(rel * value, 3), basis)


_TRANSGAN_V1_SOURCE = "Jiang et al. 2021, TransGAN arXiv v1"
_FCN_BASIS = "gbench's stated tolerance: 0.02 absolute (scores are printed to two decimals)"

RELEASES: dict[str, Release] = {r.name: r for r in [
    Release("transgan-xl-cifar10", "transgan-v1", "transgan-xl",
            "TransGAN v1 CIFAR-10 generator (TransGAN_8_8_1 = XL: {5,4,2}, width 1024, latent 1024) and ViT D",
            (_drive_folder(TRANSGAN_V1, "cifar_checkpoint.pth"),), "cifar10-50k", "paper:tf-inception-50k-train",
            (_is(8.63, f"{_TRANSGAN_V1_SOURCE}, Table 4 (TransGAN-XL)", 0.16), _fid(11.89, f"{_TRANSGAN_V1_SOURCE}, Table 4 (TransGAN-XL)")),
            True, "Table 4's protocol is taken to be TF-Inception, 50k samples vs the training set (HEAD test.py); the v1 "
            "cifar10_test.sh shipped with the checkpoint evaluated only 20k samples with a PyTorch FID",
            overrides=("train.co_train_sr=false",),
            notes=("v1 exps/cifar10_test.sh: --gen_model TransGAN_8_8_1 --load_path ./pretrained_weight/cifar_checkpoint.pth",
                   "the file is a training checkpoint; the EMA generator (avg_gen_state_dict) is evaluated, as test.py does")),
    Release("transgan-stl10", "transgan-v1", "transgan-stl10",
            "TransGAN v1 STL-10 48x48 generator (TransGAN_8_8_G2_1, bottom 12, width 768, latent 1024)",
            (_drive_folder(TRANSGAN_V1, "stl_checkpoint.pth"),), "stl10-48-50k", "paper:tf-inception-stl10-48-20k",
            (_is(10.10, f"{_TRANSGAN_V1_SOURCE}, abstract / Table 5 (STL-10)"), _fid(25.32, f"{_TRANSGAN_V1_SOURCE}, abstract / Table 5 (STL-10)")),
            False, "the official STL script evaluates 20k samples; gbench's stl10-48-50k uses 50k (FID is biased upward at 20k)",
            overrides=("train.co_train_sr=false",),
            notes=("v1 exps/stl10_test.sh: --gen_model TransGAN_8_8_G2_1 --bottom_width 12 --gf_dim 768 --load_path "
                   "./pretrained_weight/stl_checkpoint.pth --num_eval_imgs 20000",)),
    Release("transgan-celeba64", "transgan-v1", "transgan-celeba64",
            "TransGAN v1 CelebA 64x64 generator (Celeba64_TransGAN: four stages {5,3,3,2}, width 1024)",
            (_drive_folder(TRANSGAN_V1, "celeba64_checkpoint.pth"),), "celeba64-50k", "paper:unspecified",
            (_fid(12.23, f"{_TRANSGAN_V1_SOURCE}, abstract (CelebA 64x64)"),),
            False, "how the paper measured CelebA is not recorded (the v1 celeba64_test.sh passes --dataset stl10, i.e. the "
            "STL-10 statistics file, with 50k samples); gbench measures against its CelebA training split",
            overrides=("train.co_train_sr=false",),
            notes=("v1 exps/celeba64_test.sh: --gen_model Celeba64_TransGAN --load_path ./pretrained_weight/celeba64_checkpoint.pth",)),
    Release("transgan-neurips-cifar10", "transgan-neurips", "transgan-neurips",
            "TransGAN NeurIPS 2021 CIFAR-10 checkpoint of the HEAD code (ViT_custom_rp G, ViT_custom_scale2_rp_noise D)",
            (_drive_file("149I8kPnNOypp_4tU_27s7OAVdBR_ZR2Z", "cifar_checkpoint"),
             _drive_folder("1UEBGHyuDHqr0VzOE9ePx5kZX0zbLqWLh", "cifar_checkpoint")),
            "cifar10-50k", "paper:tf-inception-50k-train",
            (_is(9.02, "Jiang et al. 2021, TransGAN (NeurIPS 2021), abstract / CIFAR-10 result"),
             _fid(9.26, "Jiang et al. 2021, TransGAN (NeurIPS 2021), abstract / CIFAR-10 result")),
            True, "HEAD test.py: TF-Inception, 50k samples, training-set statistics; PaddleViT's port of the Aug-2021 checkpoint measured FID 9.31",
            notes=("HEAD README (6b85440c) links the file; the Oct 2021 - Nov 2022 README linked the folder",
                   "HEAD exps/cifar_test.py: --gen_model ViT_custom_rp --latent_dim 256 --gf_dim 1024 --g_depth 5,4,2 --load_path ./cifar_checkpoint",
                   "if the file is the Aug-2021 ViT_custom checkpoint (noise injection, no relative-position tables), the import "
                   "says so and adds model.g_kwargs.relative_position=false model.g_kwargs.noise_injection=true")),
    Release("autogan-cifar10", "autogan", "autogan",
            "AutoGAN discovered CIFAR-10 generator (autogan_cifar10_a)",
            (_drive_folder(AUTOGAN, "autogan_cifar10_a.pth"),), "cifar10-50k", "paper:tf-inception-50k-train",
            (_is(8.55, "Gong et al. 2019, AutoGAN, CIFAR-10 results", 0.10), _fid(12.42, "Gong et al. 2019, AutoGAN, CIFAR-10 results")),
            True, "AutoGAN test.py: TF-Inception (OpenAI IS, TTUR FID), 50k samples vs the training-set statistics",
            notes=("README: python test.py --gen_model autogan_cifar10_a --latent_dim 128 --gf_dim 256 --load_path /path/to/*.pth",
                   "the Drive folder's file names are as the README and test script use them; not verifiable offline")),
    Release("autogan-stl10", "autogan", "autogan-stl10",
            "AutoGAN generator trained on STL-10 48x48 (exps/autogan_cifar10_a2stl10.sh: bottom width 6)",
            (_drive_folder(AUTOGAN, "autogan_cifar10_a2stl10.pth"),), "stl10-48-50k", "paper:tf-inception-stl10-48-50k",
            (_is(9.16, "Gong et al. 2019, AutoGAN, STL-10 results", 0.12), _fid(31.01, "Gong et al. 2019, AutoGAN, STL-10 results")),
            True, "50k samples at 48x48 against the train+unlabeled statistics (stl10_train_unlabeled_fid_stats_48.npz)",
            notes=("the STL-10 file name inside the Drive folder is a guess from the script name (exp_name autogan_cifar10_a2stl10); "
                   "check the folder listing",)),
    Release("stylegan2-ada-cifar10", "stylegan2-ada", "stylegan2",
            "StyleGAN2-ADA class-conditional CIFAR-10 (train.py --cfg=cifar --cond=1), the PyTorch release pickle",
            (Download("https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/cifar10.pkl", "cifar10.pkl"),),
            "cifar10-50k", "paper:tf-inception-50k-train",
            (_fid(2.42, "Karras et al. 2020, ADA, CIFAR-10 conditional (README abstract: 'improve the record FID from 5.59 to 2.42')", 0.04),
             _is(10.14, "Karras et al. 2020, ADA, CIFAR-10 conditional table (recalled, not checked against the PDF)", 0.09)),
            True, "ADA's fid50k_full / is50k: 50k generated vs all 50k training images, TF-Inception; labels drawn uniformly, as gbench does",
            overrides=("model.generator=stylegan2-ada-cifar10", "model.discriminator=stylegan2-ada-cifar10"),
            notes=("README pretrained table: cifar10.pkl 'Class-conditional CIFAR-10 at 32x32'",
                   "gbench's stylegan2 experiment trains DiffAugment's unconditional config; this release is evaluated as the "
                   "stylegan2-ada-cifar10 model (reference_models/stylegan2.py lists the differences)")),
    *[Release(f"{name}-cifar10", "biggan-pytorch", "biggan",
              f"{title} on CIFAR-10 (DiffAugment-biggan-cifar, ajbrock's BigGAN-PyTorch code): the G_ema state dict",
              (Download(f"{DIFFAUG_MODELS}{file}", file),), "cifar10-10k-test", "paper:tf-inception-10k-test",
              (_is(is10k, "Zhao et al. 2020, DiffAugment-biggan-cifar README (is10k)", basis=DIFFAUG_10K),
               _fid(fid10k, "Zhao et al. 2020, DiffAugment-biggan-cifar README (fid10k)", basis=DIFFAUG_10K, rel=0.02)),
              False, "fid10k/is10k against the 10k test images as gbench's protocol, but the official eval.py runs G in train "
              "mode (batch statistics over its sampling batches) unless --G_eval_mode; gbench evaluates in eval mode",
              notes=("DiffAugment-biggan-cifar/eval.py: --network=mit-han-lab:" + file + " (the prefix resolves to " + DIFFAUG_MODELS + ")",))
      for name, title, file, is10k, fid10k in [
          ("biggan", "BigGAN", "biggan-cifar10.pth", 9.06, 9.59),
          ("biggan-diffaugment", "BigGAN + DiffAugment", "DiffAugment-biggan-cifar10.pth", 9.16, 8.70),
          ("cr-biggan", "CR-BigGAN", "cr-biggan-cifar10.pth", 9.20, 9.06),
          ("cr-biggan-diffaugment", "CR-BigGAN + DiffAugment", "DiffAugment-cr-biggan-cifar10.pth", 9.17, 8.49),
      ]],
    Release("biggan-imagenet128", "biggan-pytorch", "biggan-imagenet128",
            "ajbrock's BigGAN ImageNet 128x128 checkpoint (launch_BigGAN_bs256x8.sh: ch 96, BS256x8, 138k G iterations, just "
            "before collapse): G, G_ema and D in one zip; G_ema is evaluated",
            (_drive_file("1nAle7FCVFZdix2--ks0r5JBkFnKw8ctW", "BigGAN_ch96_bs256x8_138k.zip"),), "imagenet128-50k",
            "paper:is-tf-inception-50k",
            (_is(97.35, "ajbrock/BigGAN-PyTorch README (TF Inception Score, '+/- 1.79': the std over its 10 splits)", 1.79),),
            True, "the README's IS is the repo's TF measurement: sample.py --sample_npz (50k images of G_ema in eval mode, i.e. "
            "with its stored BatchNorm statistics (--use_ema --G_eval_mode in sample_BigGAN_bs256x8.sh; standing statistics "
            "only with --accumulate_stats), z ~ N(0, I), uniform labels, no truncation) scored by inception_tf13.py (OpenAI's IS "
            "code on the 2015 TF Inception graph, 10 splits); imagenet128-50k scores the imported G_ema the same way (eval mode, "
            "no standing statistics, 50k uniform-label samples, IS over 10 splits) with torch-fidelity's port of that graph. "
            "Left: the port vs TF 1.3, sample.py truncating to uint8 where gbench rounds (half a grey level), the sample draw. "
            "It is not the paper's Table 1 protocol (best-FID iteration, the paper's TF pipeline)",
            notes=("README: 'The main checkpoint is for a BigGAN trained on ImageNet at 128x128 ... TF Inception Score of 97.35 +/- 1.79'",
                   "the README does not name the archive; BigGAN_ch96_bs256x8_138k.zip with the weights in 138k/ is how "
                   "download scripts of other projects fetch and unpack it (not checked here). The import reads G.pth, "
                   "G_ema.pth and D.pth from the zip by name; the optimizer and state files are not read",
                   "the protocol also computes FID, so a verification needs gbench's ImageNet-train statistics (the ImageNet "
                   "training set); the README publishes no FID",
                   "for gbench invert and the dgp-inversion table: gbench import biggan-pytorch BigGAN_ch96_bs256x8_138k.zip "
                   "--experiment biggan-imagenet128 --out $GBENCH_HOME/assets/official/biggan-imagenet128.pt",
                   "an earlier checkpoint (100k G iterations) is Drive file 1dmZrcVJUAWkPBGza_XgswSuT-UODXZcO")),
    Release("pix2pix-facades-label2photo", "pix2pix-cyclegan", "pix2pix-facades",
            "pix2pix model zoo: facades labels -> photo (U-Net-256)", (Download(f"{PIX2PIX_ZOO}facades_label2photo.pth", "latest_net_G.pth"),),
            "facades-fid", "paper:unspecified", (), False, "the paper evaluates facades with an AMT study; gbench's FID/KID has no paper value",
            notes=("scripts/download_pix2pix_model.sh facades_label2photo",)),
    Release("pix2pix-sat2map", "pix2pix-cyclegan", "pix2pix-maps",
            "pix2pix model zoo: aerial photo -> map (U-Net-256)", (Download(f"{PIX2PIX_ZOO}sat2map.pth", "latest_net_G.pth"),),
            "maps-fid", "paper:unspecified", (), False, "the paper evaluates maps with AMT and pixel accuracy; gbench's FID/KID has no paper value",
            notes=("scripts/download_pix2pix_model.sh sat2map",)),
    Release("cyclegan-horse2zebra", "pix2pix-cyclegan", "cyclegan-horse2zebra",
            "CycleGAN model zoo: horse -> zebra (ResNet-9)", (Download(f"{CYCLEGAN_ZOO}horse2zebra.pth", "latest_net_G.pth"),),
            "horse2zebra-fid", "paper:unspecified", (), False, "the paper reports AMT studies for horse2zebra; gbench's FID/KID has no paper value",
            notes=("scripts/download_cyclegan_model.sh horse2zebra",)),
    Release("cyclegan-cityscapes-label2photo", "pix2pix-cyclegan", "cyclegan-cityscapes",
            "CycleGAN model zoo: Cityscapes labels -> photo", (Download(f"{CYCLEGAN_ZOO}cityscapes_label2photo.pth", "latest_net_G.pth"),),
            "cityscapes-fcn-128", "paper:fcn8s-caffe-128",
            (Published("pixel_acc", 0.52, "Zhu et al. 2017, CycleGAN, Table 2 (labels -> photo)", None, 0.02, _FCN_BASIS),
             Published("class_acc", 0.17, "Zhu et al. 2017, CycleGAN, Table 2 (labels -> photo)", None, 0.02, _FCN_BASIS),
             Published("class_iou", 0.11, "Zhu et al. 2017, CycleGAN, Table 2 (labels -> photo)", None, 0.02, _FCN_BASIS)),
            False, "the paper's numbers come from the original Torch models and the authors' Caffe FCN-8s; this is the PyTorch "
            "re-training, and gbench scores with its own FCN-8s unless the Caffe network is plugged in",
            notes=("scripts/download_cyclegan_model.sh cityscapes_label2photo",
                   "the zoo file's ResNet depth is read at import (the paper ran ResNet-6 at 128x128; an n_blocks override is added if it differs)")),
    Release("sngan-cifar10", "sngan-chainer", "sngan",
            "SN-GAN ResNet CIFAR-10 (configs/sn_cifar10_unconditional.yml) from pfnet's pretrained-models folder",
            (_drive_folder("1xZoL48uFOCnTxNGdknEYqE5YX0ZyoUej", "ResNetGenerator_50000.npz"),), "cifar10-50k", "paper:sngan",
            (_is(8.22, "Miyato et al. 2018, SN-GAN, CIFAR-10 ResNet (unconditional)", 0.05),
             _fid(21.7, "Miyato et al. 2018, SN-GAN, CIFAR-10 ResNet (unconditional)", 0.21)),
            False, "SN-GAN's FID is 10k generated vs 5k real images (paper:sngan), not gbench's 50k/50k; its IS is comparable in "
            "kind (TF-Inception, 10 splits)",
            notes=("the README links one 'Pretrained models' folder; that it holds a CIFAR-10 generator (and its file name) could "
                   "not be confirmed offline: check the folder listing before relying on this entry",)),
]}


def get_release(name: str) -> Release:
    if name not in RELEASES:
        hint = difflib.get_close_matches(name, list(RELEASES), n=1)
        raise UsageError(f"unknown release {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(RELEASES)}"))
    return RELEASES[name]
