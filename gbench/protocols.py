"""Registry of fixed evaluation protocols and their fingerprints.

A protocol names every constant that changes a number: reference set and split, sample counts,
feature extractor, resize, quantization, IS splits, KID subsets, and the seed of generated samples.
Its fingerprint is `<id>@<hash8>`, the hash covering all those constants plus the extractor
weights' sha256 and the reference data's checksum. Rankings and comparisons never mix fingerprints.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass

from gbench.errors import UsageError

STREAM_CHUNK = 500  # samples per chunk of a protocol's z stream (the unit of seeding and of sharding)
# How generated samples are drawn (gbench/evaluation/evaluate.py); part of every fingerprint, since the same seed
# under another scheme gives other images. Bump the version when the scheme changes.
SAMPLE_STREAM = f"v2: chunks of {STREAM_CHUNK}, z then labels per chunk from sha256(seed, chunk index)"
QUANTIZATION = "uint8 = clamp(round((x + 1) * 127.5), 0, 255)"  # the one convention for generated images
INCEPTION_RESIZE = "TF1-compatible bilinear to 299x299 inside torch-fidelity's inception-v3-compat"
# super-resolution (gbench/data/sr.py, gbench/evaluation/sr.py)
SR_QUANTIZATION = "uint8 = clamp(round(x * 255), 0, 255) of the [0, 1] SR output"
SR_RESIZE = "none: HR cropped to a multiple of the scale (top-left kept); the model must return exactly scale x the LR size"
SR_LR_SOURCE = "torch bicubic antialias=True (Keys a=-0.5, like PIL BICUBIC / MATLAB imresize), rounded to uint8"
SR_METRICS = ("psnr_y", "ssim_y", "psnr_rgb")  # SSIM: MATLAB/BasicSR (11x11 Gaussian, sigma 1.5, valid region)
# image-to-image (gbench/evaluation/fcn.py)
FCN_METRICS = ("pixel_acc", "class_acc", "class_iou")
FCN_RESIZE = "PIL bilinear on uint8 to the label map's resolution before segmentation (scipy.misc.imresize); labels never resized"
# text-to-image (gbench/evaluation/captions.py): the caption of each sample is drawn like a class label, into the pool
CAPTION_STREAM = f"v1: chunks of {STREAM_CHUNK}, z then caption indices (uniform over the pool) per chunk from sha256(seed, chunk index)"
TEXT2IMAGE_RESIZE = ("test images: PIL bilinear to 76x76 (aspect not kept, icml2016 loadSize) and the centre 64x64 (the mean of the "
              "training crops); samples 64x64; both then TF1-compatible bilinear to 299x299 inside torch-fidelity's inception-v3-compat")
CHAR_CNN_RNN = "char-CNN-RNN (Reed et al., CVPR 2016): the embeddings released in the authors' caption archive, one per caption"
MATCHING_PLUGGABLE = "pluggable: GBENCH_TEXT_IMAGE_ENCODER=module:callable (off when unset)"


# perceptual path length (gbench/evaluation/ppl.py)
PPL_RESIZE = ("crop, then box-averaged to 256x256 when larger (factor H // 256); [-1, 1] -> [0, 255] floats into LPIPS "
              "(torch-fidelity lpips-vgg16, no resize inside)")
PPL_QUANTIZATION = "none: float images (no uint8 rounding), as the official metric"
PPL_STREAM = ("ppl v1: groups of ppl_pairs_per_noise pairs; group g draws z (2n), then t (n, 'full' only), then one map per "
              "noise input, from sha256('gbench-ppl-stream', seed, g)")


def _ppl(space: str, sampling: str) -> Protocol:
    return Protocol(
        f"ffhq-ppl-{space}{sampling}", f"StyleGAN's perceptual path length ppl_{space}{sampling} of a 1024x1024 face generator: "
        f"100k pairs {'in W (lerp of mapped w)' if space == 'w' else 'in Z (slerp)'} at t ~ {'U(0, 1)' if sampling == 'full' else '0'} "
        "and t + 1e-4, face crop, LPIPS-VGG16 / 1e-4^2, 1%/99% outliers dropped; no reference images",
        "lpips-vgg16", "ffhq", "", 100_000, 0, 1024, PPL_RESIZE, metrics=("ppl",), quantization=PPL_QUANTIZATION, sample_stream=PPL_STREAM,
        ppl_space=space, ppl_sampling=sampling, ppl_epsilon=1e-4, ppl_crop="face", ppl_pairs_per_noise=16, ppl_percentiles=(1, 99),
        comparable=f"StyleGAN's ppl_{space}{sampling} (metrics/perceptual_path_length.py, Tables 3-4) up to the LPIPS port: "
                   "torch-fidelity's lpips-vgg16, which its tests match to NVIDIA's vgg16 LPIPS to 1e-5")


@dataclass(frozen=True)
class Protocol:
    id: str
    description: str
    extractor: str  # "inception-v3-compat" or "toy-shapes32"
    reference: str  # dataset name (gbench.data)
    reference_split: str
    n_gen: int
    n_ref: int  # 0 = the whole split
    resolution: int
    resize: str
    metrics: tuple = ("is", "fid", "kid")
    is_splits: int = 10
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_seed: int = 2020  # numpy RandomState seed of the KID subsets (torch-fidelity's default)
    kid_degree: int = 3  # polynomial kernel (gamma x.y + coef0)^degree, gamma = 1 / feature dimension
    kid_coef0: float = 1.0
    is_shuffle_seed: int = 2020  # numpy RandomState seed of the shuffle before the IS splits (torch-fidelity's default)
    sample_seed: int = 0  # seed of the z (and label) stream of generated samples
    sample_stream: str = SAMPLE_STREAM
    quantization: str = QUANTIZATION
    comparable: str = ""  # which published numbers this protocol matches, "" = none
    # super-resolution protocols (gbench/evaluation/sr.py); zero/empty for the others
    scale: int = 0  # SR factor
    crop_border: int = 0  # pixels removed from every side before PSNR/SSIM (SR convention: = scale)
    test_sets: tuple = ()  # sets scored separately, each the mean over its images
    lr_source: str = ""  # how LR inputs are made when the data ships none (shipped LR files are named in the result)
    # image-to-image protocols (gbench/evaluation/fcn.py, gbench/train/img2img.py); zero/empty for the others
    source_split: str = ""  # translation protocols: the split of `reference` whose images are translated and scored
    segmentation_classes: int = 0  # FCN-score protocols: classes scored by the segmenter (`extractor`)
    reference_compatible: bool = False  # FCN-score: mimic the official scorer's quirks (gbench/metrics/segmentation.py)
    # k-NN manifold metrics (metric "prdc": precision, recall, density, coverage; gbench/metrics/manifold.py); zero for the others
    pr_k: int = 0  # neighbourhood size of precision/recall
    dc_k: int = 0  # neighbourhood size of density/coverage
    knn_subsample: int = 0  # rows of each set the k-NN metrics use, drawn at random without replacement; 0 = every row
    knn_seed: int = 0  # np.random.RandomState seed of those rows (real rows drawn first, then generated)
    # text-to-image protocols (gbench/evaluation/captions.py); empty for the others
    captions: str = ""  # "<dataset>/<split>": every sample is conditioned on one caption of this pool, drawn in the sample stream
    caption_encoder: str = ""  # what made the pool's embeddings
    matching_encoder: str = ""  # image-text encoder of the text-image matching score (R-precision); "" = no matching score
    # restoration protocols (gbench/inversion/restore.py); empty for the others
    scoring: str = ""  # how restored images are scored (per image, then averaged)
    # perceptual path length protocols (gbench/evaluation/ppl.py); zero/empty for the others
    ppl_space: str = ""  # "z": slerp between normalised z; "w": lerp between mapped w (every layer the same w)
    ppl_sampling: str = ""  # "full": t ~ U(0, 1); "end": t = 0
    ppl_epsilon: float = 0.0  # the step between the two images of a pair; distances are scaled by 1 / epsilon^2
    ppl_crop: str = ""  # "face": images[:, :, 3c:7c, 2c:6c] with c = H // 8 (StyleGAN's crop); "" = the whole image
    ppl_pairs_per_noise: int = 0  # pairs sharing one draw of the noise inputs (the official minibatch_per_gpu)
    ppl_percentiles: tuple = ()  # scaled distances outside [lower, upper] percentile are dropped before the mean

    def constants(self) -> dict:
        """Every constant, prose included (what `gbench protocols ID` shows)."""
        out = dataclasses.asdict(self)
        for name in ("scale", "crop_border", "test_sets", "lr_source",  # SR and img2img only: left out of other protocols' constants,
                     "source_split", "segmentation_classes", "reference_compatible",  # so their fingerprints (and reference-statistics
                     "pr_k", "dc_k", "knn_subsample",  # cache keys) did not change when SR, img2img and the k-NN metrics came;
                     "captions", "caption_encoder", "matching_encoder",  # text-to-image only
                     "scoring",  # restoration only
                     "ppl_space", "ppl_sampling", "ppl_epsilon", "ppl_crop", "ppl_pairs_per_noise", "ppl_percentiles",  # PPL only
                     "is_splits"):  # 0 only in protocols without IS (the DINOv2 ones)
            if not out[name]:
                del out[name]
        if not self.knn_subsample:
            del out["knn_seed"]
        return out


# ImageNet 128x128 (gbench/data/imagenet.py; BigGAN)
IMAGENET_RESIZE = f"CenterCropLongEdge, PIL bilinear to 128 (BigGAN-PyTorch get_data_loaders); then {INCEPTION_RESIZE}"
IMAGENET_CAVEATS = (" Caveats: the paper measured with TF Inception and its own statistics (torch-fidelity's port is TF-compatible, "
                    "the statistics are gbench's); BigGAN-PyTorch's own IS/FID use torchvision's Inception and are 'for monitoring "
                    "only' (README); scores move with the EMA, BatchNorm statistics (standing vs running) and truncation (none here); "
                    "Table 1 reports each run at its iteration of best FID.")
# Deep Generative Prior restoration (gbench/inversion/restore.py, XingangPan/deep-generative-prior models/dgp.py get_metrics)
DGP_SCORING = ("per image on RGB in [0, 1] ((x + 1) / 2 of the restoration, unrounded): PSNR with data range 1; SSIM with a 7x7 "
               "uniform window, sample covariance and data range 2 (old scikit-image compare_ssim defaults for float images), mean "
               "over channels; MSE; inpainting scores the central hole only; colorization replaces the restoration's Lab L by the "
               "original's first (skimage rgb2lab / lab2rgb); then the mean over images")
DGP_QUANTIZATION = "none: restorations are scored as floats"
DGP_SEED_STRIDE = 1_000_003
DGP_SAMPLE_STREAM = (f"v1: image i draws its latent candidates (and classes, when unknown) from torch.Generator seeded "
                     f"sample_seed * {DGP_SEED_STRIDE} + i")
DGP_TASKS = ("tasks: reconstruct (identity), colorization (grey 0.2989/0.5870/0.1140), inpainting (central square of side "
             "min(H, W) // 3 zeroed), sr4 (x4: PIL Lanczos on the uint8 target, DIP lanczos2 on the output, bilinear back up)")


def _cifar(id_: str, split: str, n_gen: int, n_ref: int, description: str, comparable: str) -> Protocol:
    return Protocol(id_, description, "inception-v3-compat", "cifar10", split, n_gen, n_ref, 32, INCEPTION_RESIZE, comparable=comparable)


PROTOCOLS: dict[str, Protocol] = {
    p.id: p
    for p in [
        _cifar("cifar10-50k", "train", 50_000, 50_000, "CIFAR-10: 50k generated vs the 50k training images (IS 10 splits, FID, KID 100x1000)",
               "AutoGAN / SN-GAN / TransGAN papers (TF-Inception, train statistics, 50k samples)"),
        _cifar("cifar10-10k-test", "test", 10_000, 10_000, "CIFAR-10: 10k generated vs the 10k test images (DiffAugment/StyleGAN2 fid10k)",
               "DiffAugment paper's fid10k / is10k (StyleGAN2, BigGAN)"),
        _cifar("cifar10-10k", "train", 10_000, 50_000, "CIFAR-10 quick check: 10k generated vs the training set; biased upward vs 50k", ""),
        Protocol("stl10-48-50k", "STL-10 48x48: 50k generated vs train+unlabeled (105k) resized to 48", "inception-v3-compat", "stl10",
                 "train+unlabeled", 50_000, 0, 48, INCEPTION_RESIZE, comparable="AutoGAN / TransGAN STL-10 numbers (48x48)"),
        Protocol("celeba64-50k", "CelebA 64x64 (crop 108, resize 64): 50k generated vs the training split", "inception-v3-compat",
                 "celeba", "train", 50_000, 0, 64, INCEPTION_RESIZE),
        Protocol("ffhq-50k", "FFHQ 1024x1024: 50k generated (no truncation) vs all 70k images, FID and KID; StyleGAN's fid50k "
                 "used the first 50k images in TFRecord order, each mirrored at random", "inception-v3-compat", "ffhq", "train",
                 50_000, 0, 1024, INCEPTION_RESIZE, metrics=("fid", "kid"),
                 comparable="nominally StyleGAN's fid50k on FFHQ (Tables 1-2): the same generated side; its reference was 50k of the "
                            "70k images, randomly mirrored (here all 70k, unmirrored), and the paper printed each run's best snapshot"),
        Protocol("celebahq-50k", "CelebA-HQ 1024x1024: 50k generated (no truncation) vs all 30k images, FID and KID; StyleGAN's "
                 "fid50k cycled the 30k to 50k (20k counted twice), each mirrored at random", "inception-v3-compat", "celebahq",
                 "train", 50_000, 0, 1024, INCEPTION_RESIZE, metrics=("fid", "kid"),
                 comparable="nominally StyleGAN's fid50k on CelebA-HQ (Table 1): the same generated side; its reference repeated "
                            "20k of the 30k images and mirrored at random (here each image once, unmirrored), and the paper printed "
                            "each run's best snapshot"),
        Protocol("ffhq128-10k", "FFHQ quick check at 128x128 (the quick presets): 10k generated vs all 70k images reduced to 128 "
                 "(2x2 box averages, as StyleGAN's dataset_tool); not comparable to the 1024x1024 papers", "inception-v3-compat",
                 "ffhq", "train", 10_000, 0, 128, INCEPTION_RESIZE, metrics=("fid", "kid")),
        Protocol("celebahq128-10k", "CelebA-HQ quick check at 128x128 (the quick presets): 10k generated vs all 30k images reduced "
                 "to 128 (2x2 box averages); not comparable to the 1024x1024 papers", "inception-v3-compat", "celebahq", "train",
                 10_000, 0, 128, INCEPTION_RESIZE, metrics=("fid", "kid")),
        Protocol("mnist-10k", "MNIST 28x28 replicated to 3 channels: 10k generated vs the 10k test images", "inception-v3-compat",
                 "mnist", "test", 10_000, 10_000, 28, INCEPTION_RESIZE),
        Protocol("sr-x4-y", "x4 super-resolution on Set5, Set14 and BSD100 (EDSR benchmark.tar): per-image PSNR/SSIM on Y "
                 "(BT.601, MATLAB rgb2ycbcr) with a 4-pixel border removed, averaged per set, plus RGB PSNR; bicubic row beside",
                 "none", "sr-benchmark", "Set5+Set14+BSD100", 119, 119, 0, SR_RESIZE, metrics=SR_METRICS, sample_seed=0,
                 quantization=SR_QUANTIZATION, scale=4, crop_border=4, test_sets=("Set5", "Set14", "BSD100"), lr_source=SR_LR_SOURCE,
                 comparable="SRGAN paper Table 2 PSNR (Y, 4-px border, x4); its SSIM came from daala (not MATLAB/BasicSR), "
                            "so SSIM deltas carry that caveat; BasicSR-convention SR papers (test_y_channel, crop_border 4)"),
        Protocol("sr-x4-y-skimage", "x4 SR smoke protocol: the sr-x4-y metrics on 5 photos bundled with scikit-image "
                 "(astronaut, coffee, chelsea, rocket, immunohistochemistry); offline; not comparable to any paper",
                 "none", "skimage-photos", "skimage", 5, 5, 0, SR_RESIZE, metrics=SR_METRICS, sample_seed=0,
                 quantization=SR_QUANTIZATION, scale=4, crop_border=4, test_sets=("skimage",), lr_source=SR_LR_SOURCE),
        Protocol("cityscapes-fcn", "Cityscapes labels->photo FCN-score: the 500 val label maps translated at 256x256, upsampled "
                 "to 1024x2048, segmented (19 classes, 255 ignored), scored against gtFine train ids; ground-truth row beside",
                 "fcn8s-cityscapes", "cityscapes", "val", 500, 500, 256, FCN_RESIZE, metrics=FCN_METRICS, segmentation_classes=19,
                 reference_compatible=True, comparable="pix2pix / CycleGAN papers' FCN-scores with the authors' Caffe FCN-8s"),
        Protocol("cityscapes-fcn-128", "cityscapes-fcn at 128x128 (the CycleGAN paper's Cityscapes resolution): val label maps "
                 "translated at 128x128, then the same upsampling, segmentation and scoring", "fcn8s-cityscapes", "cityscapes",
                 "val", 500, 500, 128, FCN_RESIZE, metrics=FCN_METRICS, segmentation_classes=19, reference_compatible=True,
                 comparable="CycleGAN paper's Cityscapes FCN-scores with the authors' Caffe FCN-8s"),
        Protocol("toyscapes-fcn", "toyscapes smoke protocol: 200 procedural val label maps translated at 64x64, segmented by a "
                 "small CNN trained on toyscapes photos (7 classes), exact FCN-score metrics; not comparable to any paper",
                 "toyscapes-segmenter", "toyscapes", "val", 200, 200, 64, FCN_RESIZE, metrics=FCN_METRICS, segmentation_classes=7),
        Protocol("horse2zebra-fid", "horse2zebra: the 120 testA horses translated to zebras vs the 140 testB zebras at 256x256 "
                 "(FID, KID 100 subsets of 100); small sets, so FID is biased upward", "inception-v3-compat", "horse2zebra",
                 "testB", 120, 140, 256, INCEPTION_RESIZE, metrics=("fid", "kid"), kid_subset_size=100, source_split="testA"),
        Protocol("facades-fid", "facades labels->photo: the 106 test label maps translated vs the 106 test photos at 256x256 "
                 "(FID, KID 100 subsets of 100); small sets, so FID is biased upward", "inception-v3-compat", "facades",
                 "testA", 106, 106, 256, INCEPTION_RESIZE, metrics=("fid", "kid"), kid_subset_size=100, source_split="testB"),
        Protocol("maps-fid", "maps aerial->map: the 1,098 val aerial photos translated vs the 1,098 val maps at 256x256 (FID, KID)",
                 "inception-v3-compat", "maps", "valB", 1098, 1098, 256, INCEPTION_RESIZE, metrics=("fid", "kid"),
                 source_split="valA"),
        Protocol("imagenet128-50k", "ImageNet 128x128: 50k generated (labels uniform over the 1,000 classes) vs the 1.28M ILSVRC2012 "
                 "training images (IS 10 splits, FID; no KID: its rows of 1.28M features do not fit in memory)." + IMAGENET_CAVEATS,
                 "inception-v3-compat", "imagenet", "train", 50_000, 0, 128, IMAGENET_RESIZE, metrics=("is", "fid"),
                 comparable="BigGAN paper Table 1 (50k samples, TF Inception, ImageNet-train statistics at 128, no truncation), "
                            "nominally: the paper's pipeline itself was not run"),
        Protocol("imagenet128-10k", "ImageNet 128x128 quick check: 10k generated vs 50k training images (an evenly strided subset "
                 "of the sorted training list); FID biased upward vs imagenet128-50k." + IMAGENET_CAVEATS,
                 "inception-v3-compat", "imagenet", "train", 10_000, 50_000, 128, IMAGENET_RESIZE, metrics=("is", "fid")),
        Protocol("dgp-imagenet128", "Deep Generative Prior restoration: the 1,000 ILSVRC2012 validation images of DGP's "
                 "scripts/imagenet_val_1k.txt (the first validation image of each class, split val-1k), each degraded by the task "
                 "and restored by inverting a BigGAN-128 (labels given); " + DGP_TASKS + ". Image list, preprocessing and task "
                 "settings are the official code's (scripts, models/dgp.py pre_process); the paper's text was not read. The "
                 "reconstruction script of issue #9 reads list/val_1000.txt, not released: assumed to be the same 1,000 images",
                 "none", "imagenet", "val-1k", 1_000, 1_000, 128, "CenterCropLongEdge, PIL bilinear to 128 (DGP dataset.ImageDataset)",
                 metrics=("psnr", "ssim", "mse"), quantization=DGP_QUANTIZATION, scoring=DGP_SCORING, sample_stream=DGP_SAMPLE_STREAM,
                 comparable="DGP paper Table 1 reconstruction (PSNR / SSIM x100 / MSE x1e-3) with BigGAN-PyTorch's released 128 "
                            "G/D; the restoration tasks' paper tables were not found (values unknown here)"),
        Protocol("dgp-imagenet128-100", "dgp-imagenet128 quick check: the first 100 of its 1,000 images (classes 0-99); "
                 + DGP_TASKS, "none", "imagenet", "val-1k", 100, 100, 128, "CenterCropLongEdge, PIL bilinear to 128 (DGP dataset.ImageDataset)",
                 metrics=("psnr", "ssim", "mse"), quantization=DGP_QUANTIZATION, scoring=DGP_SCORING, sample_stream=DGP_SAMPLE_STREAM),
        Protocol("dgp-shapes32", "DGP smoke protocol: the first 16 shapes32 test images (held out from training; labels given) "
                 "restored with a smoke-trained 32x32 BigGAN; " + DGP_TASKS + "; not comparable to any paper",
                 "none", "shapes32", "test", 16, 16, 32, "none (32x32 in)", metrics=("psnr", "ssim", "mse"),
                 quantization=DGP_QUANTIZATION, scoring=DGP_SCORING, sample_stream=DGP_SAMPLE_STREAM),
        Protocol("dgp-skimage32", "DGP smoke protocol on photos: the 5 colour photos bundled with scikit-image (astronaut, coffee, "
                 "chelsea, rocket, immunohistochemistry) at 32x32, no labels (the class is selected with the latent, as DGP's "
                 "select_y), for colorization and inpainting; " + DGP_TASKS + "; not comparable to any paper",
                 "none", "skimage-photos", "skimage", 5, 5, 32, "CenterCropLongEdge, PIL bilinear to 32", metrics=("psnr", "ssim", "mse"),
                 quantization=DGP_QUANTIZATION, scoring=DGP_SCORING, sample_stream=DGP_SAMPLE_STREAM),
        *(_ppl(space, sampling) for space in ("z", "w") for sampling in ("full", "end")),
        Protocol("toy-shapes32", "shapes32 toy protocol: features of a small classifier trained on shapes32; not comparable to any paper",
                 "toy-shapes32", "shapes32", "test", 2_000, 5_000, 32, "none (32x32 in)", kid_subsets=50, kid_subset_size=1000),
        Protocol("toy-shapes-gray28", "shapes-gray toy protocol (the MNIST models' smoke runs): grey 28x28 samples vs grey 28x28 shapes "
                 "through the toy-shapes32 classifier; not comparable to any paper", "toy-shapes32", "shapes-gray", "test", 2_000, 5_000, 28,
                 "grey replicated to RGB, bilinear (antialiased) 28 -> 32 inside the toy classifier", kid_subsets=50, kid_subset_size=1000),
        Protocol("toy-shapes32-captions", "captioned shapes32 toy protocol: 2,000 samples, each conditioned on a template caption of "
                 "the first 2,000 shapes32 test images (drawn in the sample stream), vs those 2,000 images; toy-classifier features for "
                 "IS and FID (the metrics of cub-is-fid); text-image matching by a ridge map from toy features to caption embeddings; "
                 "not comparable to any paper", "toy-shapes32", "shapes32", "test", 2_000, 2_000, 32, "none (32x32 in)",
                 metrics=("is", "fid"), sample_stream=CAPTION_STREAM, captions="shapes32/test",
                 caption_encoder="gbench smoke text encoder v1 (hashed words and word pairs, 1024-d, seed 0)",
                 matching_encoder="toy-shapes32-ridge"),
        Protocol("cub-is-fid", "CUB-200-2011 text-to-image at 64x64: 30,000 samples, each conditioned on one caption of the 50 test "
                 "classes (2,933 images x 10 captions) drawn in the sample stream; IS (10 splits) with the ImageNet Inception and FID "
                 "against the test images; R-precision when an image-text encoder is plugged in. Not comparable to StackGAN's IS "
                 "(2.88 for GAN-INT-CLS: an Inception fine-tuned on the 50 test classes, a pluggable asset gbench does not ship) nor to "
                 "published FIDs (other resolutions and reference statistics)", "inception-v3-compat", "cub", "test",
                 30_000, 0, 64, TEXT2IMAGE_RESIZE, metrics=("is", "fid"), sample_stream=CAPTION_STREAM, captions="cub/test",
                 caption_encoder=CHAR_CNN_RNN, matching_encoder=MATCHING_PLUGGABLE),
        Protocol("flowers-is-fid", "Oxford-102 text-to-image at 64x64: 30,000 samples, each conditioned on one caption of the 20 test "
                 "classes (1,155 images x 10 captions) drawn in the sample stream; IS (10 splits) with the ImageNet Inception and FID "
                 "against the test images; R-precision when an image-text encoder is plugged in. Not comparable to StackGAN's IS "
                 "(2.66 for GAN-INT-CLS: an Inception fine-tuned on the 20 test classes, a pluggable asset gbench does not ship)",
                 "inception-v3-compat", "flowers", "test", 30_000, 0, 64, TEXT2IMAGE_RESIZE, metrics=("is", "fid"), sample_stream=CAPTION_STREAM,
                 captions="flowers/test", caption_encoder=CHAR_CNN_RNN, matching_encoder=MATCHING_PLUGGABLE),
    ]
}


# ----------------------------------------------------------------------------- variants with more metrics
#
# Derived from the base protocols above, never copied: `<id>+pr` adds precision/recall/density/coverage on the
# base's own features (computed from the same streamed features as IS/FID/KID, so its IS/FID/KID equal the
# base's); `<id>-dinov2` scores the same images in DINOv2 ViT-L/14 space as Stein et al. 2023 do. Each has its
# own id and constants, hence its own fingerprint; the base protocols' fingerprints are untouched.
#
# Both compute the k-NN metrics on at most 10,000 rows of each set (a seeded draw without replacement; every row
# when a set is smaller, so the toy and 10k protocols use all of theirs), as dgm-eval does for Stein et al.'s
# numbers. Their cost grows with the square of the rows: on all 50k x 50k rows of the toy protocol they took 54 CPU
# seconds, 82% of the whole 50k toy evaluation (66 s; 10k rows: 2.2 s), and no published precision/recall on
# Inception features exists that full-set numbers would be comparable to.

PRDC = "prdc"  # the metric entry: precision, recall (k = pr_k), density, coverage (k = dc_k), in one k-NN scan
PR_K, DC_K = 3, 5  # Kynkäänniemi et al. 2019 / torch-fidelity `prc_neighborhood`; Naeem et al. 2020
DINOV2_EXTRACTOR = "dinov2-vitl14"
DINOV2_RESIZE = ("Pillow bicubic to 224x224 on the uint8 image (8-bit fixed point, horizontal pass first; torchvision Resize "
                 "on PIL as dgm-eval), then /255 and ImageNet mean/std")
DINOV2_METRICS = ("fd_dinov2", "kd_dinov2", PRDC)  # Fréchet and kernel distance (KID's estimator) on DINOv2 CLS features
STEIN_KNN_K = 5  # dgm-eval `--nearest_k`: one k for all four k-NN metrics
KNN_SUBSAMPLE = 10_000  # dgm-eval `--reduced_n`: P/R/D/C on (at most) 10k rows of each set
KNN_SEED = 2020  # dgm-eval draws its 10k rows unseeded; gbench fixes the draw so a fingerprint names one number
VARIANT_OF: dict[str, str] = {}  # variant id -> base id


def with_manifold_metrics(base: Protocol) -> Protocol:
    """`<id>+pr`: the base protocol plus precision/recall (k 3) and density/coverage (k 5) on its own features, on at most
    10k seeded rows of each set."""
    comparable = (f"IS/FID/KID as {base.id} ({base.comparable}); precision/recall/density/coverage: no published values under "
                  "these features") if base.comparable else ""
    return dataclasses.replace(
        base, id=f"{base.id}+pr", metrics=(*base.metrics, PRDC), pr_k=PR_K, dc_k=DC_K, knn_subsample=KNN_SUBSAMPLE, knn_seed=KNN_SEED,
        comparable=comparable,
        description=f"{base.description}; plus precision/recall (k {PR_K}) and density/coverage (k {DC_K}) on the same features, "
                    f"at most {KNN_SUBSAMPLE:,} rows of each set")


def in_dinov2_space(base: Protocol) -> Protocol:
    """`<id>-dinov2`: the base's images and reference scored in DINOv2 ViT-L/14 space as Stein et al. 2023 (dgm-eval defaults):
    FD and KD on every row, precision/recall/density/coverage with k 5 on (at most) 10k rows of each set."""
    comparable = ""
    if (base.reference, base.reference_split, base.n_gen, base.n_ref) == ("cifar10", "train", 50_000, 50_000):
        comparable = ("Stein et al. 2023 Table 11, CIFAR-10 (DINOv2 ViT-L/14, 50k generated vs the 50k training images; their "
                      "10k P/R/D/C rows were drawn unseeded, gbench's with a fixed seed)")
    return dataclasses.replace(
        base, id=f"{base.id}-dinov2", extractor=DINOV2_EXTRACTOR, resize=DINOV2_RESIZE, metrics=DINOV2_METRICS, is_splits=0,
        pr_k=STEIN_KNN_K, dc_k=STEIN_KNN_K, knn_subsample=KNN_SUBSAMPLE, knn_seed=KNN_SEED, comparable=comparable,
        description=f"{base.id} in DINOv2 ViT-L/14 space (Stein et al. 2023): FD_DINOv2 and KD on all rows, precision/recall/"
                    f"density/coverage (k {STEIN_KNN_K}) on at most {KNN_SUBSAMPLE:,} rows of each set")


def _add_variants(protocols: dict[str, Protocol]) -> None:
    """Every image protocol scored on extractor features gets `+pr`; the Inception ones also get `-dinov2`."""
    for base in list(protocols.values()):
        if "fid" not in base.metrics or base.extractor not in ("inception-v3-compat", "toy-shapes32"):
            continue
        variants = [with_manifold_metrics(base)] + ([in_dinov2_space(base)] if base.extractor == "inception-v3-compat" else [])
        for variant in variants:
            protocols[variant.id] = variant
            VARIANT_OF[variant.id] = base.id


_add_variants(PROTOCOLS)


def base_protocol_id(protocol_id: str) -> str:
    """The base protocol of a variant (`cifar10-50k+pr` -> `cifar10-50k`); a base protocol's own id otherwise."""
    return VARIANT_OF.get(protocol_id, protocol_id)


def get_protocol(protocol_id: str) -> Protocol:
    if protocol_id not in PROTOCOLS:
        hint = difflib.get_close_matches(protocol_id, PROTOCOLS, n=1)
        raise UsageError(f"unknown protocol {protocol_id!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(PROTOCOLS)}"))
    return PROTOCOLS[protocol_id]


PROSE = ("description", "comparable")  # words about a protocol: editing them changes no number, so no fingerprint
TORCH_FIDELITY_EXTRACTORS = ("inception-v3-compat",)  # extractors whose code comes from torch-fidelity


def _torch_fidelity_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch-fidelity")
    except PackageNotFoundError:
        return "not installed"


def fingerprint(protocol: Protocol, extractor_sha256: str, reference_checksum: str) -> str:
    """`<id>@<hash8>` over what changes a number: the protocol's constants (not its prose), the extractor weights,
    the reference data, and torch-fidelity's version when the extractor's code is torch-fidelity's."""
    constants = {k: v for k, v in protocol.constants().items() if k not in PROSE}
    if protocol.extractor in TORCH_FIDELITY_EXTRACTORS:
        constants["torch_fidelity"] = _torch_fidelity_version()
    blob = json.dumps({**constants, "extractor_sha256": extractor_sha256, "reference_checksum": reference_checksum}, sort_keys=True,
                      default=list)
    return f"{protocol.id}@{hashlib.sha256(blob.encode()).hexdigest()[:8]}"
