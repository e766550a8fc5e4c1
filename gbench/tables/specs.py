"""Paper tables as data: cells (experiment + overrides + metric + the paper's value) and the registry of tables.
"""


from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Callable

from gbench.errors import UsageError


@dataclass(frozen=True)
class Inversion:
    """A cell measured by restoring images with a trained generator (gbench/invert.py) instead of by a training run's
    evaluation: the cell's experiment names the generator, `task` / `method` what is run, `protocols` the restoration
    protocol per preset. At the presets in `released` the generator is the experiment's released checkpoint
    (gbench.invert.released_checkpoint); elsewhere it is the experiment's own run at that preset (trained if missing)."""

    task: str
    method: str  # "dgp" | "optimize-z"
    protocols: tuple  # ((preset, protocol id), ...)
    released: tuple = ("paper", "quick")

    def protocol(self, preset: str) -> str | None:
        return dict(self.protocols).get(preset)


@dataclass(frozen=True)
class Cell:
    row: str
    column: str
    metric: str  # key of eval.json `final.metrics` ("fid", "is_mean", "psnr_y/Set5", "gt_pixel_acc")
    paper: float | None  # the published value (None: the paper printed none)
    experiment: str | None = None  # None: a published number gbench does not train
    overrides: tuple = ()  # ((dotted key, value), ...) applied on top of the chosen preset
    paper_std: float | None = None
    paper_protocol: str = ""  # the gbench protocol that measures what the paper measured ("" = none)
    std_metric: str = ""  # within-run spread shown when one seed ran (IS: is_std, as the papers print it)
    baseline: str = ""  # "bicubic": read the run's final["baseline"]["metrics"] instead of the model's
    unavailable: str = ""  # set by the table itself when the cell can never be measured
    release: str = ""  # a gbench.official registry release: the cell evaluates its checkpoint, nothing is trained
    preset_overrides: tuple = ()  # ((preset, ((key, value), ...)), ...): applied after `overrides` at that preset (scale-dependent switches)
    inversion: Inversion | None = None  # measured by restoring images (gbench invert), not by a run's evaluation


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    source: str  # paper and table the values come from
    rows: tuple
    columns: tuple
    cells: tuple
    notes: tuple = ()
    trainable: bool = True  # False: rendered from the leaderboard only
    unavailable: str = ""  # the whole table cannot be built (e.g. its recipe module is missing)
    compute: str = ""  # the paper's compute when the paper preset needs a cluster (shown at the top of the report)

    def cell(self, row: str, column: str) -> Cell | None:
        return next((c for c in self.cells if c.row == row and c.column == column), None)


def _items(overrides: dict) -> tuple:
    return tuple(overrides.items())


def is_fid_cells(row: str, experiment: str | None, overrides: dict, is_: float | None, is_std: float | None, fid: float | None,
            protocol: str = "cifar10-50k") -> tuple[Cell, Cell]:
    """The IS and FID cells of one CIFAR-10 row (IS +- std over 10 splits, as the papers print it)."""
    return (Cell(row, "IS", "is_mean", is_, experiment, _items(overrides), is_std, protocol, std_metric="is_std"),
            Cell(row, "FID", "fid", fid, experiment, _items(overrides), None, protocol))


def gan_table(name: str, title: str, source: str, rows: list[tuple], notes: tuple = ()) -> Table:
    cells = tuple(c for r in rows for c in is_fid_cells(*r))
    return Table(name, title, source, tuple(dict.fromkeys(r[0] for r in rows)), ("IS", "FID"), cells, notes)


TRANSGAN = "Jiang, Chang, Wang 2021, TransGAN v1 (arXiv)"
NO_DA = {"train.augment": "none", "train.co_train_sr": False, "train.local_init": "off"}
WITH_DA = {"train.augment": "diffaug-transgan", "train.co_train_sr": False, "train.local_init": "off"}
DA_MTCT = {"train.augment": "diffaug-transgan", "train.co_train_sr": True, "train.local_init": "off"}
DA_MTCT_LOCAL = {"train.augment": "diffaug-transgan", "train.co_train_sr": True, "train.local_init": "band"}
CNN_NO_DA = {"train.augment": "none"}
CNN_DA = {"train.augment": "diffaug"}  # DiffAugment at the experiment's policy (TransGAN does not state one)
STYLEGAN2_DA = {"train.augment": "diffaug", "train.augment_policy": "color,cutout"}  # DiffAugment's 100%-data CIFAR policy


def _transgan_table1() -> Table:
    return gan_table("transgan-table1", "TransGAN Table 1: transformer vs AutoGAN generator and discriminator (no data augmentation)",
                      f"{TRANSGAN}, Table 1", [
                          ("AutoGAN G + AutoGAN D", "autogan", CNN_NO_DA, 8.55, 0.12, 12.42),
                          ("Transformer G + AutoGAN D", "transgan-g-autogan-d", CNN_NO_DA, 8.59, 0.10, 13.23),
                          ("AutoGAN G + Transformer D", "autogan-g-transgan-d", CNN_NO_DA, 6.17, 0.12, 49.83),
                          ("Transformer G + Transformer D", "transgan-s", NO_DA, 6.95, 0.13, 41.41),
                      ], notes=("The transformer G + D row is TransGAN-S without DiffAugment, MT-CT or locality init "
                                "(the same run as Table 2's TransGAN no-DA row).",))


def _transgan_table2() -> Table:
    return gan_table("transgan-table2", "TransGAN Table 2: data augmentation (DiffAugment) on CNN GANs and TransGAN, full CIFAR-10",
                      f"{TRANSGAN}, Table 2", [
                          ("WGAN-GP", "wgan-gp", CNN_NO_DA, 6.49, 0.09, 39.68),
                          ("WGAN-GP + DA", "wgan-gp", CNN_DA, 6.29, 0.10, 37.14),
                          ("AutoGAN", "autogan", CNN_NO_DA, 8.55, 0.12, 12.42),
                          ("AutoGAN + DA", "autogan", CNN_DA, 8.60, 0.10, 12.72),
                          ("StyleGAN v2", "stylegan2", CNN_NO_DA, 9.18, None, 11.07, "cifar10-10k-test"),
                          ("StyleGAN v2 + DA", "stylegan2", STYLEGAN2_DA, 9.40, None, 9.89, "cifar10-10k-test"),
                          ("TransGAN", "transgan-s", NO_DA, 6.95, 0.13, 41.41),
                          ("TransGAN + DA", "transgan-s", WITH_DA, 8.15, 0.14, 19.85),
                      ], notes=(
                          "StyleGAN v2 values are DiffAugment's fid10k / is10k (10k samples vs the test split), so their cells "
                          "use protocol cifar10-10k-test; the other rows are 50k samples vs the training split (cifar10-50k).",
                          "The paper does not state the WGAN-GP architecture or the DiffAugment policy for WGAN-GP and AutoGAN: "
                          "gbench uses its wgan-gp experiment and DiffAugment's color,translation,cutout.",
                          "TransGAN rows are TransGAN-S with MT-CT and locality init off; + DA uses TransGAN's DiffAugment variant."))


def _transgan_table3() -> Table:
    return gan_table("transgan-table3", "TransGAN Table 3: multi-task co-training (MT-CT) and locality-aware initialization",
                      f"{TRANSGAN}, Table 3", [
                          ("TransGAN + DA (*)", "transgan-s", WITH_DA, 8.15, 0.14, 19.85),
                          ("(*) + MT-CT", "transgan-s", DA_MTCT, 8.20, 0.14, 19.12),
                          ("(*) + MT-CT + local init", "transgan-s", DA_MTCT_LOCAL, 8.22, 0.12, 18.58),
                      ], notes=("All rows are TransGAN-S; the last row is the paper's transgan-s recipe (the switches are set "
                                "explicitly, so the smoke preset, which turns local init off for speed, runs it with the band init).",
                                "MT-CT is gbench's design (the official code never released it): see gbench/recipes/transgan.py."))


def _transgan_table4() -> Table:
    return gan_table("transgan-table4", "TransGAN Table 4: scaling up the generator (S / M / L / XL)", f"{TRANSGAN}, Table 4", [
        ("TransGAN-S", "transgan-s", {}, 8.22, 0.14, 18.58),
        ("TransGAN-M", "transgan-m", {}, 8.36, 0.12, 16.27),
        ("TransGAN-L", "transgan-l", {}, 8.50, 0.14, 14.46),
        ("TransGAN-XL", "transgan-xl", {}, 8.63, 0.16, 11.89),
    ], notes=("Each row is its experiment's own recipe (DA + MT-CT + local init at the paper preset). The smoke preset shrinks "
              "the widths to 96/128/192/256 (the paper's over 4) so the S < M < L < XL ordering is kept.",))


# Table 5: (row label, leaderboard model, leaderboard setting, experiment or None, overrides)
TABLE5_ROWS = (
    ("WGAN-GP (Gulrajani et al., 2017)", "WGAN-GP", "no DA, as reported by TransGAN", "wgan-gp", CNN_NO_DA),
    ("LRGAN (Yang et al., 2017)", "LRGAN", "unconditional", None, {}),
    ("DFM (Warde-Farley & Bengio, 2016)", "DFM", "unconditional", None, {}),
    ("Splitting GAN (Grinblat et al., 2017)", "Splitting GAN", "unconditional", None, {}),
    ("Improving MMD-GAN (Wang et al., 2018)", "Improving MMD-GAN", "unconditional", None, {}),
    ("MGAN (Hoang et al., 2018)", "MGAN", "unconditional", None, {}),
    ("SN-GAN (Miyato et al., 2018)", "SN-GAN", "ResNet, unconditional, hinge", "sngan", {}),
    ("Progressive-GAN (Karras et al., 2017)", "Progressive-GAN", "unconditional", "progan-cifar10", {}),
    ("AutoGAN (Gong et al., 2019)", "AutoGAN", "unconditional, no augmentation", "autogan", {}),
    ("StyleGAN v2 (Zhao et al., 2020)", "StyleGAN2", "100% data, no DA", "stylegan2", CNN_NO_DA),
    ("TransGAN-XL", "TransGAN-XL", "depth {5,4,2}, dim 1024", "transgan-xl", {}),
)


def _transgan_table5() -> Table:
    from gbench.leaderboard import PAPER_PROTOCOLS, load_published

    published = load_published("cifar10")
    cells = []
    for label, model, setting, experiment, overrides in TABLE5_ROWS:
        for column, metric, std_metric in (("IS", "is_mean", "is_std"), ("FID", "fid", "")):
            row = next((r for r in published if (r.model, r.setting, r.metric) == (model, setting, column)), None)
            protocol = PAPER_PROTOCOLS[row.protocol].nominal if row is not None and row.protocol in PAPER_PROTOCOLS else ""
            cells.append(Cell(label, column, metric, row.value if row else None, experiment, _items(overrides),
                              row.std if row else None, protocol, std_metric=std_metric,
                              unavailable="" if experiment else "published only: gbench has no experiment for this model"))
    return Table("transgan-table5", "TransGAN Table 5: unconditional CIFAR-10, published methods (rows from leaderboards/cifar10.csv)",
                 f"{TRANSGAN}, Table 5; values and provenance in leaderboards/cifar10.csv", tuple(r[0] for r in TABLE5_ROWS),
                 ("IS", "FID"), tuple(cells), notes=(
                     "The published numbers were measured under different protocols (see `gbench leaderboard cifar10`); "
                     "only rows whose leaderboard protocol has a gbench equivalent can be flagged comparable.",
                     "StyleGAN v2's values are fid10k vs the test split (cifar10-10k-test)."))


STYLEGAN = "Karras, Laine, Aila 2019, StyleGAN (CVPR)"
STYLEGAN_TABLE1_ROWS = (  # config letter, row label (the paper's wording)
    ("A", "A Baseline Progressive GAN"),
    ("B", "B + Tuning (incl. bilinear up/down)"),
    ("C", "C + Add mapping and styles"),
    ("D", "D + Remove traditional input"),
    ("E", "E + Add noise inputs"),
    ("F", "F + Mixing regularization"),
)


def _stylegan_table1() -> Table:
    """StyleGAN Table 1: FID of configs A-F on CelebA-HQ and FFHQ. A is the Progressive GAN experiment; B-F are the
    StyleGAN experiment with train.py's Table 1 switches (gbench/recipes/stylegan.py TABLE1) as model overrides."""
    from gbench.leaderboard import PAPER_PROTOCOLS, load_published
    from gbench.recipes.stylegan import TABLE1

    columns = (("CelebA-HQ", "celebahq", "progan-celebahq", "stylegan-celebahq"), ("FFHQ", "ffhq", "progan-ffhq", "stylegan-ffhq"))
    published = {board: load_published(board) for _, board, _, _ in columns}
    cells = []
    for letter, label in STYLEGAN_TABLE1_ROWS:
        for column, board, progan, stylegan in columns:
            row = next((r for r in published[board] if r.metric == "FID" and r.setting.startswith(f"1024x1024, Table 1 {letter}:")), None)
            protocol = PAPER_PROTOCOLS[row.protocol].nominal if row is not None and row.protocol in PAPER_PROTOCOLS else ""
            overrides = {} if letter == "A" else {f"model.g_kwargs.{k}": v for k, v in TABLE1[letter].items()}
            cells.append(Cell(label, column, "fid", row.value if row else None, progan if letter == "A" else stylegan,
                              _items(overrides), None, protocol))
    return Table("stylegan-table1", "StyleGAN Table 1: FID of the generator configs A-F (CelebA-HQ, FFHQ; 1024x1024)",
                 f"{STYLEGAN}, Table 1; values and provenance in leaderboards/celebahq.csv and leaderboards/ffhq.csv",
                 tuple(label for _, label in STYLEGAN_TABLE1_ROWS), tuple(c[0] for c in columns), tuple(cells), notes=(
                     "A is the Progressive GAN experiment (progan-celebahq / progan-ffhq: the Progressive GAN paper's recipe); "
                     "B-F are stylegan-celebahq / stylegan-ffhq with train.py's Table 1 switches on the generator "
                     "(B: no styles, pixel norm, no instance norm, no mapping, traditional input, no noise, no mixing; "
                     "C: + mapping and styles; D: + constant input; E: + noise inputs; F: + mixing 0.9, the default).",
                     "B's tuning beyond the generator (the [1,2,1] blur in G and D, the 8x8 start, the longer schedule, R1 on FFHQ) "
                     "is part of the StyleGAN recipe every B-F cell uses; CelebA-HQ cells train with WGAN-GP and FFHQ cells with "
                     "R1, as the paper did.",
                     "The paper printed the lowest FID over each run's snapshots; gbench reports the final EMA generator. Its "
                     "fid50k reference was 50k training images drawn with random mirroring (FFHQ: the first 50k of 70k; "
                     "CelebA-HQ: the 30k cycled to 50k); ffhq-50k / celebahq-50k use every image once, unmirrored."))


def _from_leaderboard(name: str, title: str, board: str, columns: tuple, label: Callable, reason: str) -> Table:
    """A table of published values only (gbench cannot train it): rows and cells from leaderboards/<board>.csv."""
    from gbench.leaderboard import load_published

    published = load_published(board)
    rows = tuple(dict.fromkeys(label(r) for r in published))
    cells = tuple(Cell(label(r), r.metric, r.metric, r.value, None, (), r.std, unavailable=reason)
                  for r in published if r.metric in columns)
    source = "; ".join(dict.fromkeys(r.source for r in published))
    return Table(name, title, source, rows, columns, cells, notes=(reason, f"Values from leaderboards/{board}.csv."), trainable=False)


def _biggan() -> Table:
    """BigGAN Table 1: every row is `biggan-imagenet128` with the row's switches (gbench/recipes/biggan.py TABLE1_ROWS);
    the scale-dependent ones (widths, batch, iterations, dim_z) per preset."""
    from gbench.leaderboard import load_published
    from gbench.recipes.biggan import IMAGENET_COMPUTE, TABLE1_ROWS

    published = load_published("imagenet128")
    scale_dependent = ("model.g_kwargs.g_ch", "model.d_kwargs.d_ch", "model.g_kwargs.latent_dim", "train.batch_size_d",
                       "train.batch_size_g", "train.accumulations", "train.steps", "train.ema_start_step")
    cells = []
    for row in TABLE1_ROWS:
        per_preset = {preset: row.overrides(preset) for preset in ("paper", "quick", "smoke")}
        switches = {k: v for k, v in per_preset["paper"].items() if k not in scale_dependent}
        scaled = tuple((preset, _items({k: v for k, v in o.items() if k in scale_dependent})) for preset, o in per_preset.items())
        for column, metric, std_metric in (("FID", "fid", ""), ("IS", "is_mean", "is_std")):
            paper = next((r for r in published if (r.model, r.setting, r.metric) == (row.leaderboard_model, row.leaderboard_setting,
                                                                                      column)), None)
            cells.append(Cell(row.label, column, metric, paper.value if paper else None, "biggan-imagenet128", _items(switches),
                              paper.std if paper else None, "imagenet128-50k", std_metric=std_metric, preset_overrides=scaled))
    return Table("biggan-imagenet128", "BigGAN Table 1: ImageNet 128x128 ablations (FID / IS)",
                 "Brock et al. 2019 (ICLR), Table 1; values and provenance in leaderboards/imagenet128.csv",
                 tuple(r.label for r in TABLE1_ROWS), ("FID", "IS"), tuple(cells), notes=(
                     "Each row is `biggan-imagenet128` with the row's switches (shared embedding, hierarchical z, orthogonal "
                     "regularisation) plus its channel multiplier, batch and iteration count; the paper preset trains each row to "
                     "the paper's iteration of best FID and evaluates the EMA generator with standing statistics there.",
                     "Row 1's numbers are SA-GAN's published ones; gbench's row 1 runs BigGAN-PyTorch's SA-GAN script recipe.",
                     "Smoke preset: the same switches on a 32x32 BigGAN on shapes32 (widths / 16, batches / 128, 100 steps); quick: "
                     "the paper's widths, batches / 8, 10k steps under imagenet128-10k. Neither is comparable.",
                     "The paper's std is printed as in its Table 1 (how many runs it covers was not checked here).",
                 ), compute=IMAGENET_COMPUTE)


DGP_ROWS = (  # (row = leaderboard model, method or None, why not)
    ("(a) optimize z", "optimize-z", ""),
    ("(b) encoder", None, "needs an encoder trained to invert BigGAN-128 (the paper's is not released; training one takes "
                          "GPU-days of generated pairs): not in gbench"),
    ("(c) encoder + optimize z", None, "starts from (b)'s encoder: not in gbench"),
    ("(d) (c) + feature perturbation", None, "starts from (b)'s encoder and perturbs G's intermediate features: not in gbench"),
    ("DGP", "dgp", ""),
)
DGP_PROTOCOLS = (("paper", "dgp-imagenet128"), ("quick", "dgp-imagenet128-100"), ("smoke", "dgp-shapes32"))


def _dgp() -> Table:
    """DGP's GAN-inversion comparison (reconstruction): (a) and DGP are run by `gbench invert`; (b)-(d) need an encoder."""
    from gbench.leaderboard import load_published

    published = load_published("gan_inversion")
    columns = ("psnr", "ssim_x100", "mse_x1e-3")
    cells = []
    for row, method, why in DGP_ROWS:
        for column in columns:
            paper = next((r for r in published if (r.model, r.metric) == (row, column)), None)
            inversion = Inversion("reconstruct", method, DGP_PROTOCOLS) if method else None
            cells.append(Cell(row, column, column, paper.value if paper else None, "biggan-imagenet128" if method else None,
                              paper_protocol="dgp-imagenet128", unavailable=why, inversion=inversion))
    return Table("dgp-inversion", "Deep Generative Prior: GAN inversion (reconstruction) of ImageNet 128x128 validation images",
                 "Pan et al. 2020 (ECCV), Table 1 as quoted (leaderboards/gan_inversion.csv: the DGP PSNR / SSIM via "
                 "deep-generative-prior issue #9, the other values from lecture slides; unverified against the paper)",
                 tuple(r[0] for r in DGP_ROWS), columns, tuple(cells), notes=(
                     "(a) and DGP restore images with `gbench invert` (task reconstruct, the official schedule of DGP issue #9): "
                     "at the paper and quick presets with BigGAN-PyTorch's released 128x128 G_ema and D (a gbench checkpoint at "
                     "$GBENCH_HOME/assets/official/biggan-imagenet128.pt, written by `gbench import biggan-pytorch "
                     "BigGAN_ch96_bs256x8_138k.zip --experiment biggan-imagenet128 --out` that path) on dgp-imagenet128 "
                     "(1,000 val images) / dgp-imagenet128-100; at the smoke preset with the smoke-trained biggan-imagenet128 "
                     "on 16 held-out shapes32 images (dgp-shapes32), 5% of the iterations.",
                     "SSIM follows DGP's old scikit-image call (7x7 uniform window, data range 2), not the MATLAB SSIM of the SR tables.",
                     "Provenance: see leaderboards/gan_inversion.csv notes; the MSE column and rows (a)-(d) were not found in any "
                     "source gbench could read.",
                 ), compute="DGP fine-tunes a 70M-parameter generator per image: 1,000 images x 1,000 steps with the released "
                            "BigGAN (the author: about 1-2 minutes per image on a GPU; deep-generative-prior issue #3)")


# ----------------------------------------------------------------------------- the authors' released checkpoints


RELEASE_COLUMNS = {"is_mean": "IS", "fid": "FID", "pixel_acc": "FCN pixel acc", "class_acc": "FCN class acc", "class_iou": "FCN class IoU"}


def _published_checkpoints() -> Table:
    """Every registry release (gbench/official/registry.py) as a row: its published numbers beside gbench's evaluation of
    the released weights under the release's protocol. Cells are evaluations (`Cell.release`), not training runs."""
    from gbench.official.registry import RELEASES
    from gbench.official.verify import release_problem

    cells = []
    for r in RELEASES.values():
        wanted = [(p.metric, p.value, p.error) for p in r.published] or ([("fid", None, None)] if r.protocol else [])
        for metric, value, error in wanted:
            cells.append(Cell(r.name, RELEASE_COLUMNS.get(metric, metric), metric, value, r.experiment, (), error,
                              r.protocol if r.comparable else "", std_metric="is_std" if metric == "is_mean" else "",
                              unavailable=release_problem(r), release=r.name))
    used = {c.column for c in cells}
    columns = tuple(c for c in RELEASE_COLUMNS.values() if c in used) + tuple(sorted(used - set(RELEASE_COLUMNS.values())))
    return Table("published-checkpoints", "The authors' released checkpoints evaluated by gbench (no training)",
                 "the paper tables and READMEs named per release in gbench/official/registry.py", tuple(RELEASES), columns,
                 tuple(cells), notes=(
                     "Every cell imports a released checkpoint (`gbench import`) and evaluates it under the release's protocol "
                     "(`gbench verify NAME` does the same for one release); nothing is trained, so --preset and --set do not apply, "
                     "and --seeds repeats the evaluation with other sample seeds (mean ± std over sample seeds).",
                     "A release whose file is not on disk is 'not available' with the command that fetches it; no release "
                     "publishes a sha256, so each evaluation records the sha256 of the file it read (verify.json).",
                     "comparable = the release's paper protocol is the one gbench measured (the why is the registry's note), "
                     "followed by whether Δ is within the accepted error: the source's stated error or gbench's stated tolerance.",
                     "Releases without a published number (pix2pix / CycleGAN FID) are measured only."))


# ----------------------------------------------------------------------------- tables of other modules (plain data)



def _experiment_protocol(experiment: str | None, overrides: dict) -> str:
    if "eval.protocol" in overrides:
        return overrides["eval.protocol"]
    from gbench.experiments import experiments

    exp = experiments().get(experiment) if experiment else None
    return exp.paper.eval.protocol if exp else ""


def _adapt_rows(spec: dict) -> tuple[tuple, tuple, tuple]:
    """The row format (gbench/recipes/pix2pix.py): rows of {label, experiment, overrides, [metrics], paper}."""
    columns = tuple(spec["columns"])
    rows, cells = [], []
    for r in spec["rows"]:
        rows.append(r["label"])
        overrides = dict(r.get("overrides") or {})
        protocol = spec.get("protocol") or _experiment_protocol(r.get("experiment"), overrides)
        for column in columns:
            paper = (r.get("paper") or {}).get(column)
            cells.append(Cell(r["label"], column, (r.get("metrics") or {}).get(column, column), paper, r.get("experiment"),
                              _items(overrides), None, protocol,
                              unavailable="" if r.get("experiment") else "published only: gbench has no experiment for this method"))
    return tuple(rows), columns, tuple(cells)


def _adapt_cells(spec: dict) -> tuple[tuple, tuple, tuple]:
    """The cell format (gbench/recipes/srgan.py): cells of {row, column, experiment, baseline, overrides, metric, paper}."""
    cells = []
    for c in spec["cells"]:
        overrides = dict(c.get("overrides") or {})
        baseline = c.get("baseline") or ""
        protocol = spec.get("protocol") or _experiment_protocol(c.get("experiment"), overrides)
        unavailable = "" if c.get("experiment") or baseline else "published only: gbench has no experiment for this method"
        cells.append(Cell(c["row"], c["column"], c["metric"], c.get("paper"), c.get("experiment"), _items(overrides), None, protocol,
                          baseline=baseline, unavailable=unavailable))
    return tuple(spec["rows"]), tuple(spec["columns"]), tuple(cells)


def _imported(module: str, name: str) -> Table:
    """A table defined as plain data in gbench/recipes/<module>.py; "not available" (with the reason) when the
    module or the table is missing or its format is not understood."""
    where = f"gbench/recipes/{module}.py"
    try:
        spec = getattr(importlib.import_module(f"gbench.recipes.{module}"), "TABLES", {}).get(name)
    except Exception as exc:  # a module another change is still writing must not break every other table
        return Table(name, name, where, (), (), (), unavailable=f"{where} could not be imported ({type(exc).__name__}: {exc})")
    if spec is None:
        return Table(name, name, where, (), (), (), unavailable=f"{where} defines no table {name!r}")
    try:
        rows, columns, cells = _adapt_cells(spec) if "cells" in spec else _adapt_rows(spec)
    except (KeyError, TypeError, AttributeError) as exc:
        return Table(name, spec.get("title", name), where, (), (), (), unavailable=f"the format of {where}'s {name!r} is not understood ({exc!r})")
    return Table(name, spec.get("title", name), spec.get("source", where), rows, columns, cells, tuple(spec.get("notes", ())))


TABLES: dict[str, Callable[[], Table]] = {
    "transgan-table1": _transgan_table1,
    "transgan-table2": _transgan_table2,
    "transgan-table3": _transgan_table3,
    "transgan-table4": _transgan_table4,
    "transgan-table5": _transgan_table5,
    "stylegan-table1": _stylegan_table1,
    "pix2pix-losses": lambda: _imported("pix2pix", "pix2pix-losses"),
    "pix2pix-patch": lambda: _imported("pix2pix", "pix2pix-patch"),
    "cyclegan-cityscapes": lambda: _imported("cyclegan", "cyclegan-cityscapes"),
    "srgan-x4": lambda: _imported("srgan", "srgan-x4"),
    "biggan-imagenet128": _biggan,
    "dgp-inversion": _dgp,
    "published-checkpoints": _published_checkpoints,
}
EXTRA_TABLES: dict[str, Table] = {}  # registered at run time (tests, notebooks): name -> Table


def table_names() -> list[str]:
    return [*TABLES, *EXTRA_TABLES]


def register_table(table: Table) -> None:
    EXTRA_TABLES[table.name] = table


def get_table(name: str) -> Table:
    if name in EXTRA_TABLES:
        return EXTRA_TABLES[name]
    if name not in TABLES:
        hint = difflib.get_close_matches(name, table_names(), n=1)
        raise UsageError(f"unknown table {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(table_names())}"))
    return TABLES[name]()
