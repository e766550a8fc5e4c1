"""GAN inversion and image restoration with a pre-trained generator: Deep Generative Prior (Pan et al. 2020).

- `degradations`: the degradations phi of DGP (identity, grey, central hole, x4 Lanczos down-sampling), pure
  differentiable batch functions;
- `dgp`: relaxed GAN inversion, batched over images: optimise z only (baseline (a)) and DGP (progressive
  fine-tuning of G with z, D feature matching), with the official ImageNet-128 schedules;
- `restore`: a set of images (a protocol's or a folder's) restored in batches and scored per image (PSNR / SSIM /
  MSE under DGP's conventions, gbench.metrics) -- what `gbench invert` and the `dgp-inversion` table run.

Layer 5 (with gbench/train): it imports evaluation, data, metrics and reference_models, never reports or runs;
`gbench/invert.py` (layer 7) writes the files and the report.
"""
