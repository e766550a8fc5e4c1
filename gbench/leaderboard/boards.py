"""The boards and the published protocols: which numbers go where, and what each paper protocol measured.
"""


from __future__ import annotations

from dataclasses import dataclass

COLUMNS = ("board", "model", "setting", "metric", "value", "std", "protocol", "n_gen", "n_ref", "reference_split", "source", "notes")
LOWER_IS_BETTER = ("FID", "KID", "FD_", "KD_", "mse", "PPL")  # a metric named like these (prefix) ranks ascending; all others descending


def higher_is_better(metric: str) -> bool:
    """Distances rank ascending; scores (IS, precision, recall, coverage, FCN-scores, PSNR) descending. Density is shown
    with ↑ too, though above 1 it means generated samples crowd the dense parts of the real set rather than better fidelity."""
    return not metric.startswith(LOWER_IS_BETTER) and not metric.startswith(("fid", "kid", "fd_", "kd_", "ppl"))


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    primary: str  # the metric that ranks
    metrics: tuple  # display order (other metrics found in the rows follow)
    references: tuple = ()  # gbench datasets (protocol `reference`) whose local results belong on this board
    fallback: tuple = ()  # ranking metrics, in order, for protocol groups without `primary` (e.g. DINOv2 groups have no FID)


FCN = ("pixel_acc", "class_acc", "class_iou")
SR_METRICS = tuple(f"{m}/{s}" for s in ("Set5", "Set14", "BSD100") for m in ("psnr_y", "ssim_y"))

MANIFOLD = ("precision", "recall", "density", "coverage")  # k-NN metrics: fidelity (precision, density) and diversity (recall, coverage)
DINOV2 = ("FD_DINOv2", "KD_DINOv2")
GAN_METRICS = ("FID", "IS", "KID", *DINOV2, *MANIFOLD)  # a group shows the ones it has, in this order

BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("cifar10", "CIFAR-10 32x32 (unconditional unless the setting says otherwise)", "FID", GAN_METRICS, ("cifar10",),
          fallback=("FD_DINOv2",)),
    Board("stl10", "STL-10 48x48", "FID", GAN_METRICS, ("stl10",), fallback=("FD_DINOv2",)),
    Board("celeba", "CelebA (resolution in the setting)", "FID", GAN_METRICS, ("celeba",), fallback=("FD_DINOv2",)),
    Board("ffhq", "FFHQ 1024x1024 (unconditional)", "FID", ("FID", "KID", "PPL"), ("ffhq",)),
    Board("celebahq", "CelebA-HQ 1024x1024 (unconditional)", "FID", ("FID", "KID", "PPL"), ("celebahq",)),
    Board("cityscapes_labels2photo", "Cityscapes labels -> photo, FCN-scores", "pixel_acc", FCN, ("cityscapes",)),
    Board("cityscapes_photo2labels", "Cityscapes photo -> labels, label-map accuracy", "pixel_acc", FCN),
    Board("sr_x4", "x4 super-resolution, Y channel, 4-pixel border removed", "psnr_y/Set5", SR_METRICS, ("sr-benchmark",)),
    Board("imagenet128", "ImageNet 128x128 (class-conditional)", "FID", ("FID", "IS")),
    Board("gan_inversion", "GAN inversion: reconstruction of ImageNet 128x128 images", "psnr", ("psnr", "ssim_x100", "mse_x1e-3")),
    Board("cub", "CUB-200-2011 birds from captions (text-to-image; 64x64 unless the setting says otherwise)", "IS",
          ("IS", "FID", "IS*", "R-precision"), ("cub",)),
    Board("flowers", "Oxford-102 flowers from captions (text-to-image; 64x64 unless the setting says otherwise)", "IS",
          ("IS", "FID"), ("flowers",)),
)}


@dataclass(frozen=True)
class PaperProtocol:
    id: str
    description: str
    constants: dict  # the protocol constants the paper (or its code) states, named like gbench.protocols.Protocol fields
    nominal: str = ""  # the gbench protocol measuring the same thing nominally ("" = none)
    ranked: bool = True  # False: its rows were measured in unrecorded ways; listed, never ranked


TF_INCEPTION = "tf-inception-2015-12-05"
PAPER_PROTOCOLS: dict[str, PaperProtocol] = {p.id: p for p in (
    PaperProtocol("paper:tf-inception-50k-train", "TF-Inception (TTUR / OpenAI code), 50k generated images; FID against the 50k "
                  "CIFAR-10 training images' statistics; IS over 10 splits (AutoGAN, TransGAN test.py)",
                  {"extractor": TF_INCEPTION, "reference": "cifar10", "reference_split": "train", "n_gen": 50_000, "n_ref": 50_000,
                   "resolution": 32, "is_splits": 10}, nominal="cifar10-50k"),
    PaperProtocol("paper:tf-inception-10k-test", "DiffAugment's fid10k / is10k: 10k generated vs the 10k CIFAR-10 test images, "
                  "TF-Inception (StyleGAN's inception_v3_features.pkl)",
                  {"extractor": TF_INCEPTION, "reference": "cifar10", "reference_split": "test", "n_gen": 10_000, "n_ref": 10_000,
                   "resolution": 32, "is_splits": 10}, nominal="cifar10-10k-test"),
    PaperProtocol("paper:is-tf-inception-50k", "Inception score only: OpenAI's TF code, 50k images, 10 splits (Salimans et al. 2016)",
                  {"extractor": TF_INCEPTION, "n_gen": 50_000, "is_splits": 10}, nominal="cifar10-50k"),
    PaperProtocol("paper:stylegan-fid50k-ffhq", "StyleGAN's fid50k on FFHQ 1024x1024: 50k generated images (no truncation, "
                  "random noise) vs 50k training images (the first 50k of the 70k in dataset order, randomly mirrored), "
                  "TF-Inception (inception_v3_features.pkl); StyleGAN Tables 1-2 report the lowest value over training",
                  {"extractor": TF_INCEPTION, "reference": "ffhq", "reference_split": "train", "n_gen": 50_000, "n_ref": 50_000,
                   "resolution": 1024}, nominal="ffhq-50k"),
    PaperProtocol("paper:stylegan-fid50k-celebahq", "StyleGAN's fid50k on CelebA-HQ 1024x1024: 50k generated images vs 50k "
                  "draws from the 30k training images (the dataset repeats; randomly mirrored), TF-Inception; the lowest value "
                  "over training (StyleGAN Table 1)",
                  {"extractor": TF_INCEPTION, "reference": "celebahq", "reference_split": "train", "n_gen": 50_000, "n_ref": 50_000,
                   "resolution": 1024}, nominal="celebahq-50k"),
    PaperProtocol("paper:sngan", "SN-GAN (Chainer): TF-Inception; FID over 10k generated vs 5k real images",
                  {"extractor": TF_INCEPTION, "n_gen": 10_000, "n_ref": 5_000}),
    PaperProtocol("paper:unspecified", "numbers as printed in a comparison table; how each was measured is not recorded here", {},
                  ranked=False),
    PaperProtocol("paper:dcgan-feature-svm", "DCGAN: L2-SVM on discriminator features, CIFAR-10 test accuracy (%)", {}),
    PaperProtocol("torch-fidelity:inception-v3-compat-50k-train", "torch-fidelity's TF-compatible Inception on the 50k CIFAR-10 "
                  "training images (the extractor of gbench's cifar10-50k)",
                  {"extractor": "inception-v3-compat", "reference": "cifar10", "reference_split": "train", "n_gen": 50_000,
                   "resolution": 32, "is_splits": 10}, nominal="cifar10-50k"),
    PaperProtocol("paper:tf-inception-stl10-48-20k", "TransGAN's STL-10 evaluation: 20k generated at 48x48 vs train+unlabeled statistics",
                  {"extractor": TF_INCEPTION, "reference": "stl10", "reference_split": "train+unlabeled", "n_gen": 20_000, "resolution": 48}),
    PaperProtocol("paper:tf-inception-stl10-48-50k", "AutoGAN's STL-10 evaluation: 50k generated at 48x48 vs train+unlabeled statistics",
                  {"extractor": TF_INCEPTION, "reference": "stl10", "reference_split": "train+unlabeled", "n_gen": 50_000, "resolution": 48},
                  nominal="stl10-48-50k"),
    PaperProtocol("paper:fcn8s-caffe-256", "pix2pix FCN-score: the authors' Caffe FCN-8s on the 500 val label maps translated at 256x256",
                  {"extractor": "fcn8s-caffe (authors')", "reference": "cityscapes", "reference_split": "val", "n_gen": 500, "n_ref": 500,
                   "resolution": 256, "segmentation_classes": 19}, nominal="cityscapes-fcn"),
    PaperProtocol("paper:fcn8s-caffe-128", "CycleGAN FCN-score: the authors' Caffe FCN-8s on the 500 val label maps translated at 128x128",
                  {"extractor": "fcn8s-caffe (authors')", "reference": "cityscapes", "reference_split": "val", "n_gen": 500, "n_ref": 500,
                   "resolution": 128, "segmentation_classes": 19}, nominal="cityscapes-fcn-128"),
    PaperProtocol("paper:label-accuracy-256", "photo -> labels at 256x256: generated label maps scored against the ground truth directly",
                  {"extractor": "none (label maps compared directly)", "reference": "cityscapes", "reference_split": "val", "n_gen": 500,
                   "resolution": 256, "segmentation_classes": 19}),
    PaperProtocol("paper:label-accuracy-128", "photo -> labels at 128x128: generated label maps scored against the ground truth directly",
                  {"extractor": "none (label maps compared directly)", "reference": "cityscapes", "reference_split": "val", "n_gen": 500,
                   "resolution": 128, "segmentation_classes": 19}),
    PaperProtocol("paper:srgan-y-border4", "SRGAN: PSNR on the Y channel with a 4-pixel border removed; SSIM from daala",
                  {"extractor": "none", "reference": "sr-benchmark", "scale": 4, "crop_border": 4}, nominal="sr-x4-y"),
    PaperProtocol("paper:srgan-mos", "SRGAN: mean opinion score of 26 raters (1-5)", {}),
    PaperProtocol("paper:biggan-imagenet128", "BigGAN: TF-Inception IS/FID at 128x128 at the iteration of best FID",
                  {"extractor": TF_INCEPTION, "reference": "imagenet", "resolution": 128}, nominal="imagenet128-50k"),
    PaperProtocol("paper:stackgan-is-cub", "StackGAN's Inception score on CUB: Inception-v3 fine-tuned on the 50 CUB test classes "
                  "(hanzhanggit/StackGAN-inception-model, birds_valid299), images from test captions resized bilinearly to 299, softmax over "
                  "the 50 classes, 10 splits (gbench's cub-is-fid scores IS with the ImageNet Inception: a different measurement, so no "
                  "nominal equivalent)",
                  {"extractor": "inception-v3 fine-tuned on the CUB test classes (StackGAN)", "reference": "cub", "reference_split": "test",
                   "is_splits": 10}),
    PaperProtocol("paper:stackgan-is-flowers", "StackGAN's Inception score on Oxford-102: Inception-v3 fine-tuned on the 20 Oxford-102 test "
                  "classes (hanzhanggit/StackGAN-inception-model, flowers_valid299), bilinear resize to 299, softmax over the 20 classes, "
                  "10 splits (gbench's flowers-is-fid scores IS with the ImageNet Inception: a different measurement, so no nominal equivalent)",
                  {"extractor": "inception-v3 fine-tuned on the Oxford-102 test classes (StackGAN)", "reference": "flowers",
                   "reference_split": "test", "is_splits": 10}),
    PaperProtocol("paper:tise-cub", "TISE toolbox (Dinh et al. 2022) on CUB: FID by pytorch-fid against its bird_val.npz statistics; IS* with a "
                  "temperature-calibrated fine-tuned Inception; R-precision with its own image-text encoder; images from its test captions",
                  {"extractor": "pytorch-fid Inception (FID); calibrated fine-tuned Inception (IS*)", "reference": "cub"}),
    PaperProtocol("paper:dgp-reconstruction", "DGP: reconstruction of ImageNet 128x128 validation images through BigGAN "
                  "(PSNR, SSIM with old scikit-image defaults, MSE on [0, 1])",
                  {"reference": "imagenet", "reference_split": "val", "resolution": 128}, nominal="dgp-imagenet128"),
    PaperProtocol("paper:stein2023-dinov2-cifar10", "Stein et al. 2023 (dgm-eval defaults): DINOv2 ViT-L/14 CLS features of images "
                  "resized to 224 with PIL bicubic; FD on 50k generated vs the 50k CIFAR-10 training images; precision, recall, "
                  "density and coverage with k = 5 on 10k rows of each set drawn without a fixed seed",
                  {"extractor": "dinov2-vitl14", "reference": "cifar10", "reference_split": "train", "n_gen": 50_000, "n_ref": 50_000,
                   "resolution": 32, "pr_k": 5, "dc_k": 5, "knn_subsample": 10_000}, nominal="cifar10-50k-dinov2"),
)}

# the constants compared between protocol groups (names of gbench.protocols.Protocol fields)
COMPARED = ("extractor", "reference", "reference_split", "n_gen", "n_ref", "resolution", "is_splits", "scale", "crop_border",
            "segmentation_classes", "pr_k", "dc_k", "knn_subsample")

# local results: headline metric keys of eval.json -> leaderboard metric name (and the key of its spread)
RESULT_METRICS = {"is_mean": ("IS", "is_std"), "fid": ("FID", None), "kid_mean": ("KID", "kid_std"), "fd_dinov2": ("FD_DINOv2", None),
                  "kd_dinov2_mean": ("KD_DINOv2", "kd_dinov2_std"),
                  "r_precision": ("R-precision", None), "ppl": ("PPL", None)}  # precision, recall, density, coverage keep their names; R-precision in percent
# metrics shown scaled, as papers print them: stored raw in rows and eval.json, displayed as (label, factor)
DISPLAY_SCALE = {"KID": ("KID ×10³", 1e3), "KD_DINOv2": ("KD_DINOv2 ×10³", 1e3)}
SPREAD_KEYS = {"is_std", "kid_std", "kd_dinov2_std"}


def format_number(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.0f}"
