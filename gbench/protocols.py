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

from gbench.errors import GBenchError

STREAM_CHUNK = 500  # samples per chunk of a protocol's z stream (the unit of seeding and of sharding)
# How generated samples are drawn (gbench/evaluation/evaluate.py); part of every fingerprint, since the same seed
# under another scheme gives other images. Bump the version when the scheme changes.
SAMPLE_STREAM = f"v1: chunks of {STREAM_CHUNK}, z then labels per chunk from sha256(seed, chunk index)"
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
    # perceptual path length protocols (gbench/evaluation/ppl.py); zero/empty for the others
    ppl_space: str = ""  # "z": slerp between normalised z; "w": lerp between mapped w (every layer the same w)
    ppl_sampling: str = ""  # "full": t ~ U(0, 1); "end": t = 0
    ppl_epsilon: float = 0.0  # the step between the two images of a pair; distances are scaled by 1 / epsilon^2
    ppl_crop: str = ""  # "face": images[:, :, 3c:7c, 2c:6c] with c = H // 8 (StyleGAN's crop); "" = the whole image
    ppl_pairs_per_noise: int = 0  # pairs sharing one draw of the noise inputs (the official minibatch_per_gpu)
    ppl_percentiles: tuple = ()  # scaled distances outside [lower, upper] percentile are dropped before the mean

    def constants(self) -> dict:
        out = dataclasses.asdict(self)
        for name in ("scale", "crop_border", "test_sets", "lr_source",  # SR and img2img only: left out of other protocols' constants,
                     "source_split", "segmentation_classes", "reference_compatible",
                     "ppl_space", "ppl_sampling", "ppl_epsilon", "ppl_crop", "ppl_pairs_per_noise", "ppl_percentiles"):
            if not out[name]:  # so their fingerprints (and reference-statistics cache keys) did not change when SR came
                del out[name]
        return out


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
        *(_ppl(space, sampling) for space in ("z", "w") for sampling in ("full", "end")),
        Protocol("toy-shapes32", "shapes32 toy protocol: features of a small classifier trained on shapes32; not comparable to any paper",
                 "toy-shapes32", "shapes32", "test", 2_000, 5_000, 32, "none (32x32 in)", kid_subsets=50, kid_subset_size=1000),
    ]
}


def get_protocol(protocol_id: str) -> Protocol:
    if protocol_id not in PROTOCOLS:
        hint = difflib.get_close_matches(protocol_id, PROTOCOLS, n=1)
        raise GBenchError(f"unknown protocol {protocol_id!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(PROTOCOLS)}"))
    return PROTOCOLS[protocol_id]


def fingerprint(protocol: Protocol, extractor_sha256: str, reference_checksum: str) -> str:
    """`<id>@<hash8>` over the protocol's constants, the extractor weights and the reference data."""
    blob = json.dumps({**protocol.constants(), "extractor_sha256": extractor_sha256, "reference_checksum": reference_checksum}, sort_keys=True, default=list)
    return f"{protocol.id}@{hashlib.sha256(blob.encode()).hexdigest()[:8]}"
