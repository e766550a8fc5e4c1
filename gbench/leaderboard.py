"""Leaderboards: published numbers with their provenance, plus local results, ranked within one protocol.

`leaderboards/<board>.csv` holds tidy rows (`COLUMNS`): one published number per row, naming the paper and
table it comes from (`source`) and the protocol it was measured under (`protocol`). Published protocols are
`paper:*` ids described in `PAPER_PROTOCOLS` (the constants the paper states, and the gbench protocol that
measures the same thing nominally); gbench's own numbers carry a fingerprint `<protocol>@<hash8>`.
`read_board_csv` validates every file and names the file and line of a malformed row.

Local results come from run directories (`eval.json` of `gbench run`, `eval-*.json` of `gbench eval`).
`build_board` groups a board's rows by protocol and ranks each group by the board's primary metric (FID lower
is better; IS, FCN-scores, PSNR/SSIM higher). Rows of different protocols are never ranked together: each
group is listed separately with the constants in which it differs from the first group. Rows under
`paper:unspecified` (numbers copied into a comparison table, measured in ways not recorded) are listed, never
ranked. The ideas follow suites.md sections 7 and 9.3 (fingerprint every number; rank only within one).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from gbench.errors import GBenchError

COLUMNS = ("board", "model", "setting", "metric", "value", "std", "protocol", "n_gen", "n_ref", "reference_split", "source", "notes")
LOWER_IS_BETTER = ("FID", "KID", "mse")  # a metric named like these (prefix) ranks ascending; all others descending


def higher_is_better(metric: str) -> bool:
    return not metric.startswith(LOWER_IS_BETTER) and not metric.startswith(("fid", "kid"))


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    primary: str  # the metric that ranks
    metrics: tuple  # display order (other metrics found in the rows follow)
    references: tuple = ()  # gbench datasets (protocol `reference`) whose local results belong on this board


FCN = ("pixel_acc", "class_acc", "class_iou")
SR_METRICS = tuple(f"{m}/{s}" for s in ("Set5", "Set14", "BSD100") for m in ("psnr_y", "ssim_y"))

BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("cifar10", "CIFAR-10 32x32 (unconditional unless the setting says otherwise)", "FID", ("FID", "IS", "KID"), ("cifar10",)),
    Board("stl10", "STL-10 48x48", "FID", ("FID", "IS", "KID"), ("stl10",)),
    Board("celeba", "CelebA (resolution in the setting)", "FID", ("FID", "IS", "KID"), ("celeba",)),
    Board("ffhq", "FFHQ 1024x1024 (unconditional)", "FID", ("FID", "KID"), ("ffhq",)),
    Board("celebahq", "CelebA-HQ 1024x1024 (unconditional)", "FID", ("FID", "KID"), ("celebahq",)),
    Board("cityscapes_labels2photo", "Cityscapes labels -> photo, FCN-scores", "pixel_acc", FCN, ("cityscapes",)),
    Board("cityscapes_photo2labels", "Cityscapes photo -> labels, label-map accuracy", "pixel_acc", FCN),
    Board("sr_x4", "x4 super-resolution, Y channel, 4-pixel border removed", "psnr_y/Set5", SR_METRICS, ("sr-benchmark",)),
    Board("imagenet128", "ImageNet 128x128 (class-conditional)", "FID", ("FID", "IS")),
    Board("gan_inversion", "GAN inversion: reconstruction of ImageNet 128x128 images", "psnr", ("psnr", "ssim_x100", "mse_x1e-3")),
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
                  {"extractor": TF_INCEPTION, "reference": "imagenet", "resolution": 128}),
    PaperProtocol("paper:dgp-reconstruction", "DGP: reconstruction of ImageNet 128x128 validation images through BigGAN",
                  {"reference": "imagenet", "resolution": 128}),
)}

# the constants compared between protocol groups (names of gbench.protocols.Protocol fields)
COMPARED = ("extractor", "reference", "reference_split", "n_gen", "n_ref", "resolution", "is_splits", "scale", "crop_border",
            "segmentation_classes")

# local results: headline metric keys of eval.json -> leaderboard metric name (and the key of its spread)
RESULT_METRICS = {"is_mean": ("IS", "is_std"), "fid": ("FID", None), "kid_mean": ("KID", "kid_std")}
SPREAD_KEYS = {"is_std", "kid_std"}


# ----------------------------------------------------------------------------- rows and their validation


@dataclass(frozen=True)
class Row:
    board: str
    model: str
    setting: str
    metric: str
    value: float
    std: float | None
    protocol: str
    n_gen: int | None
    n_ref: int | None
    reference_split: str
    source: str
    notes: str
    where: str = ""  # "leaderboards/cifar10.csv:12" or the file a local row came from
    run_dir: str = ""  # local rows: their run directory

    @property
    def local(self) -> bool:
        return bool(self.run_dir)

    def tidy(self) -> dict:
        return {"board": self.board, "model": self.model, "setting": self.setting, "metric": self.metric, "value": _num(self.value),
                "std": "" if self.std is None else _num(self.std), "protocol": self.protocol, "n_gen": self.n_gen or "",
                "n_ref": self.n_ref or "", "reference_split": self.reference_split, "source": self.source, "notes": self.notes}


def leaderboard_dir() -> Path:
    """The committed `leaderboards/` folder (next to the gbench package), or $GBENCH_LEADERBOARDS."""
    return Path(os.environ.get("GBENCH_LEADERBOARDS") or Path(__file__).resolve().parents[1] / "leaderboards")


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def known_protocol(protocol: str) -> bool:
    """A `paper:*` protocol of PAPER_PROTOCOLS, or a gbench protocol id (optionally a fingerprint `id@hash8`)."""
    from gbench.protocols import PROTOCOLS

    if protocol in PAPER_PROTOCOLS:
        return True
    base, sep, digest = protocol.partition("@")
    return base in PROTOCOLS and (not sep or (len(digest) == 8 and all(c in "0123456789abcdef" for c in digest)))


def _parse_row(fields: dict, where: str, board_of_file: str | None) -> Row:
    def fail(message: str) -> GBenchError:
        return GBenchError(f"{where}: {message}")

    for name in ("board", "model", "metric", "value", "protocol", "source"):
        if not fields[name].strip():
            raise fail(f"column '{name}' is empty" + (" (name the paper and the table)" if name == "source" else ""))
    board = fields["board"].strip()
    if board not in BOARDS:
        raise fail(f"unknown board {board!r} (known: {', '.join(BOARDS)})")
    if board_of_file is not None and board != board_of_file:
        raise fail(f"board {board!r} does not match the file (expected {board_of_file!r})")

    def number(name: str, optional: bool) -> float | None:
        text = fields[name].strip()
        if not text and optional:
            return None
        try:
            value = float(text)
        except ValueError:
            raise fail(f"column '{name}' is not a number: {text!r}") from None
        if not math.isfinite(value):
            raise fail(f"column '{name}' is not finite: {text!r}")
        return value

    def count(name: str) -> int | None:
        text = fields[name].strip()
        if not text:
            return None
        if not text.isdigit():
            raise fail(f"column '{name}' is not a whole number: {text!r}")
        return int(text)

    std = number("std", optional=True)
    if std is not None and std < 0:
        raise fail(f"column 'std' is negative: {fields['std']!r}")
    protocol = fields["protocol"].strip()
    if not known_protocol(protocol):
        raise fail(f"unknown protocol {protocol!r} (a paper:* id of gbench.leaderboard.PAPER_PROTOCOLS or a gbench protocol id)")
    return Row(board, fields["model"].strip(), fields["setting"].strip(), fields["metric"].strip(), number("value", optional=False), std,
               protocol, count("n_gen"), count("n_ref"), fields["reference_split"].strip(), fields["source"].strip(),
               fields["notes"].strip(), where=where)


def read_board_csv(path: str | Path) -> list[Row]:
    """Rows of one leaderboard CSV, validated: exact column set, numeric value/std, known board and protocol.

    Any malformed row raises one GBenchError naming the file and line."""
    path = Path(path)
    shown = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GBenchError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise GBenchError(f"{shown}:1: empty file (expected the header {','.join(COLUMNS)})") from None
    header = [h.strip() for h in header]
    if tuple(header) != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        detail = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                       f"unexpected {', '.join(extra)}" if extra else "") if p) or "wrong order"
        raise GBenchError(f"{shown}:1: the header must be {','.join(COLUMNS)} ({detail})")
    rows = []
    try:
        for values in reader:
            line = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(COLUMNS):
                raise GBenchError(f"{shown}:{line}: expected {len(COLUMNS)} fields, found {len(values)} (quote fields that contain commas)")
            rows.append(_parse_row(dict(zip(COLUMNS, values)), f"{shown}:{line}", path.stem))
    except csv.Error as exc:
        raise GBenchError(f"{shown}:{reader.line_num}: {exc}") from None
    return rows


def load_published(board: str | None = None, directory: str | Path | None = None) -> list[Row]:
    """Every validated row of `leaderboards/*.csv` (or only `board`'s file)."""
    folder = Path(directory) if directory is not None else leaderboard_dir()
    if board is not None:
        path = folder / f"{board}.csv"
        return read_board_csv(path) if path.exists() else []
    return [row for path in sorted(folder.glob("*.csv")) for row in read_board_csv(path)]


# ----------------------------------------------------------------------------- local results


def board_for_reference(reference: str) -> str:
    """The board of a protocol's reference dataset (cifar10 -> cifar10, cityscapes -> cityscapes_labels2photo);
    datasets with no published board (shapes32, toyscapes, ...) get a local board of their own name."""
    for board in BOARDS.values():
        if reference in board.references:
            return board.name
    return reference


def _run_setting(run_dir: Path, data: dict, final: dict) -> tuple[str, str]:
    """(model, setting) of a local run: the experiment, and preset, seed, step and which generator was scored."""
    parts = [f"{data.get('preset', '?')} preset"]
    config_path = run_dir / "config.json"
    if config_path.exists():
        cfg_dict = json.loads(config_path.read_text())["config"]
        parts += _overrides_of(cfg_dict)
        parts.append(f"seed {cfg_dict.get('seed', 0)}")
    parts.append(f"step {final.get('step', '?')}")
    if final.get("generator"):
        parts.append(f"{final['generator']} generator")
    return data.get("experiment") or run_dir.parent.name, ", ".join(parts)


def _overrides_of(cfg_dict: dict) -> list[str]:
    """`key=value` for every config value that differs from the run's preset (what `--set` changed)."""
    from gbench.config import config_from_dict
    from gbench.experiments import get_experiment

    try:
        cfg = config_from_dict(cfg_dict)
        base = get_experiment(cfg.experiment).config(cfg.preset)
    except Exception:  # a run of an experiment this gbench no longer has
        return []
    out = []
    for section in ("model", "data", "train", "eval"):
        ours, theirs = getattr(cfg, section), getattr(base, section)
        for name, value in vars(ours).items():
            if json.dumps(value, sort_keys=True, default=list) != json.dumps(getattr(theirs, name), sort_keys=True, default=list):
                out.append(f"{section}.{name}={value}")
    return out


def rows_from_run(run_dir: Path, data: dict) -> list[Row]:
    """Leaderboard rows of a finished `gbench run` (its eval.json): one per headline metric, `gt_*` metrics as a
    ground-truth row and an SR result's bicubic baseline as a bicubic row, all under the run's fingerprint."""
    from gbench.protocols import PROTOCOLS

    final = data["final"]
    protocol_id = final.get("protocol") or final["fingerprint"].split("@")[0]
    protocol = PROTOCOLS.get(protocol_id)
    board = board_for_reference(protocol.reference if protocol else final.get("reference", "local"))
    model, setting = _run_setting(run_dir, data, final)
    common = dict(board=board, protocol=final["fingerprint"], n_gen=final.get("n_gen"), n_ref=final.get("n_ref"),
                  reference_split=protocol.reference_split if protocol else "", source=f"local run {run_dir}",
                  notes=final.get("comparable_to", ""), where=str(run_dir / "eval.json"), run_dir=str(run_dir))
    rows = []

    def add(model_name: str, row_setting: str, metrics: dict) -> None:
        for key, value in metrics.items():
            if key in SPREAD_KEYS or key.startswith("gt_") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            name, spread = RESULT_METRICS.get(key, (key, None))
            std = metrics.get(spread) if spread else None
            rows.append(Row(model=model_name, setting=row_setting, metric=name, value=float(value),
                            std=None if std is None else float(std), **common))

    metrics = final.get("metrics", {})
    add(model, setting, metrics)
    truth = {k.removeprefix("gt_"): v for k, v in metrics.items() if k.startswith("gt_")}
    if truth:
        add("ground truth", f"real images through the {protocol_id} scorer", truth)
    baseline = final.get("baseline") or {}
    if baseline.get("metrics"):
        add(baseline.get("name", "baseline"), f"baseline of the {protocol_id} protocol", baseline["metrics"])
    return rows


def _rows_from_eval_report(path: Path, data: dict) -> list[Row]:
    """Rows a `gbench eval` report (eval-<protocol>.json) already holds in leaderboard form."""
    rows = []
    for r in data.get("leaderboard", []):
        try:
            std = float(r["std"]) if str(r.get("std", "")).strip() else None
            board = r["board"] if r["board"] in BOARDS else board_for_reference(r["board"])
            rows.append(Row(board, r["model"], r["setting"], r["metric"], float(r["value"]), std, r["protocol"],
                            int(r["n_gen"]) if str(r.get("n_gen", "")).strip() else None,
                            int(r["n_ref"]) if str(r.get("n_ref", "")).strip() else None,
                            r.get("reference_split", ""), r.get("source", f"local eval {path}"), r.get("notes", ""),
                            where=str(path), run_dir=str(path.parent)))
        except (KeyError, ValueError, TypeError):
            continue  # a report written by another gbench version: skipped, never guessed
    return rows


def local_rows(runs: str | Path) -> list[Row]:
    """Rows of every finished run (eval.json) and `gbench eval` report (eval-*.json) under `runs`."""
    runs = Path(runs)
    if not runs.exists():
        return []
    rows = []
    for path in sorted(runs.rglob("eval.json")):
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and "final" in data and "fingerprint" in data["final"]:
                rows += rows_from_run(path.parent, data)
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            continue
    for path in sorted(runs.rglob("eval-*.json")):
        try:
            rows += _rows_from_eval_report(path, json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return rows


# ----------------------------------------------------------------------------- grouping and ranking


@dataclass
class Entry:
    """One line of a board: a model in a setting under one protocol, with its metrics."""

    model: str
    setting: str
    protocol: str
    source: str
    run_dir: str
    n_gen: int | None
    n_ref: int | None
    reference_split: str
    notes: list = field(default_factory=list)
    values: dict = field(default_factory=dict)  # metric -> (value, std or None)
    rank: int | None = None


@dataclass
class Group:
    protocol: str
    description: str
    ranked: bool
    constants: dict
    entries: list
    differs: str = ""  # how its constants differ from the first group's

    @property
    def local(self) -> bool:
        return any(e.run_dir for e in self.entries)


def protocol_description(protocol: str) -> str:
    from gbench.protocols import PROTOCOLS

    if protocol in PAPER_PROTOCOLS:
        p = PAPER_PROTOCOLS[protocol]
        return p.description + (f" (gbench's nominal equivalent: {p.nominal})" if p.nominal else "")
    base, _, digest = protocol.partition("@")
    if base in PROTOCOLS:
        return PROTOCOLS[base].description + (f" [fingerprint {protocol}]" if digest else "")
    return "unknown protocol"


def protocol_constants(protocol: str) -> dict:
    from gbench.protocols import PROTOCOLS

    if protocol in PAPER_PROTOCOLS:
        return dict(PAPER_PROTOCOLS[protocol].constants)
    base = protocol.partition("@")[0]
    if base in PROTOCOLS:
        constants = PROTOCOLS[base].constants()
        return {k: constants[k] for k in COMPARED if k in constants}
    return {}


def constant_differences(constants: dict, first: dict) -> str:
    """'n_gen 10000 (vs 50000); extractor ...' over COMPARED; unknown constants are said to be unknown."""
    parts = []
    for key in COMPARED:
        a, b = constants.get(key), first.get(key)
        if a == b:
            continue
        parts.append(f"{key} {'not recorded' if a is None else a} (vs {'not recorded' if b is None else b})")
    return "; ".join(parts)


def _entries(rows: list[Row]) -> list[Entry]:
    entries: dict[tuple, Entry] = {}
    for row in rows:
        key = (row.model, row.setting, row.protocol, row.source, row.run_dir)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = Entry(row.model, row.setting, row.protocol, row.source, row.run_dir, row.n_gen, row.n_ref,
                                         row.reference_split)
        entry.values[row.metric] = (row.value, row.std)
        if row.notes and row.notes not in entry.notes:
            entry.notes.append(row.notes)
    return list(entries.values())


def _rank(entries: list[Entry], metric: str) -> list[Entry]:
    """Entries with `metric` best first (rank 1, 2, ...; equal values share a rank), then the others unranked."""
    scored = [e for e in entries if metric in e.values]
    sign = 1.0 if not higher_is_better(metric) else -1.0
    scored.sort(key=lambda e: sign * e.values[metric][0])
    previous, rank = None, 0
    for i, e in enumerate(scored, start=1):
        value = e.values[metric][0]
        if value != previous:
            rank, previous = i, value
        e.rank = rank
    return scored + [e for e in entries if metric not in e.values]


def board_info(name: str, rows: list[Row] = ()) -> Board:
    """A published board, or a local board (no CSV) named after a dataset, ranked by the first headline metric found."""
    if name in BOARDS:
        return BOARDS[name]
    metrics = list(dict.fromkeys(r.metric for r in rows))
    primary = next((m for m in ("FID", "pixel_acc") if m in metrics), None) or next((m for m in metrics if m.startswith("psnr_y/")), None)
    return Board(name, f"{name} (local results only; no published rows)", primary or (metrics[0] if metrics else "FID"),
                 tuple(m for m in ("FID", "IS", "KID", *FCN) if m in metrics) or tuple(metrics))


def build_board(name: str, runs: str | Path | None = "runs", *, directory: str | Path | None = None,
                metric: str | None = None) -> tuple[Board, list[Group]]:
    """The board's published rows plus local rows under `runs`, grouped by protocol and ranked inside each group.

    Group order: published ranked groups (largest first), local groups, then groups that cannot be ranked
    (unspecified protocols, or no row with the ranking metric)."""
    published = load_published(name, directory) if name in BOARDS else []
    every_local = local_rows(runs) if runs is not None else []
    local = [r for r in every_local if r.board == name]
    if name not in BOARDS and not local:
        import difflib

        names = list(BOARDS) + sorted({r.board for r in every_local})
        hint = difflib.get_close_matches(name, names, n=1)
        raise GBenchError(f"unknown board {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(BOARDS)}"))
    board = board_info(name, published + local)
    metric = metric or board.primary
    by_protocol: dict[str, list[Row]] = {}
    for row in published + local:
        by_protocol.setdefault(row.protocol, []).append(row)
    groups = []
    for protocol, rows in by_protocol.items():
        ranked = PAPER_PROTOCOLS[protocol].ranked if protocol in PAPER_PROTOCOLS else True
        entries = _entries(rows)
        entries = _rank(entries, metric) if ranked else entries
        groups.append(Group(protocol, protocol_description(protocol), ranked, protocol_constants(protocol), entries))

    def order(g: Group) -> tuple:
        rankable = g.ranked and any(metric in e.values for e in g.entries)
        return (not rankable, g.local, -len(g.entries), g.protocol)

    groups.sort(key=order)
    if groups:
        first = groups[0]
        for g in groups[1:]:
            diff = constant_differences(g.constants, first.constants)
            if not diff:
                diff = ("same recorded constants; other details are not recorded" if not g.constants or not first.constants
                        else "same recorded constants; the fingerprints differ (extractor weights or reference data)")
            g.differs = f"differs from {first.protocol}: {diff}"
    return board, groups


# ----------------------------------------------------------------------------- rendering


def _num(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.0f}"


def format_value(value: tuple | None) -> str:
    if value is None:
        return ""
    v, std = value
    return _num(v) + ("" if std is None else f" ± {std:.2g}" if abs(std) < 1 else f" ± {std:.3g}")


def _metric_columns(board: Board, groups: list[Group]) -> list[str]:
    present = list(dict.fromkeys(m for g in groups for e in g.entries for m in e.values))
    return [m for m in board.metrics if m in present] + [m for m in present if m not in board.metrics]


def _where(e: Entry) -> str:
    return f"{e.run_dir} ({e.protocol})" if e.run_dir else e.source


def _group_lines(board: Board, group: Group, metrics: list[str], metric: str) -> tuple[list[str], list[list[str]]]:
    used = [m for m in metrics if any(m in e.values for e in group.entries)]
    header = ["#", "model", "setting", *[m + (" ↓" if not higher_is_better(m) else " ↑") for m in used], "n_gen / n_ref", "source / run"]
    lines = []
    for e in group.entries:
        counts = f"{e.n_gen or '?'} / {e.n_ref or '?'}" if (e.n_gen or e.n_ref) else ""
        lines.append([str(e.rank) if e.rank is not None else "-", e.model, e.setting, *[format_value(e.values.get(m)) for m in used],
                      counts, _where(e)])
    return header, lines


def _group_title(group: Group, metric: str) -> str:
    state = (f"ranked by {metric}" if group.ranked and any(metric in e.values for e in group.entries)
             else "not ranked: measured in unrecorded ways" if not group.ranked else f"not ranked: no {metric}")
    return f"protocol {group.protocol} ({state})"


def render_markdown(board: Board, groups: list[Group], metric: str | None = None) -> str:
    metric = metric or board.primary
    metrics = _metric_columns(board, groups)
    out = [f"# Leaderboard {board.name}: {board.title}", "",
           f"Ranked by **{metric}** ({'higher' if higher_is_better(metric) else 'lower'} is better) within one protocol; "
           "rows of different protocols are never ranked together.", ""]
    for g in groups:
        header, lines = _group_lines(board, g, metrics, metric)
        out += [f"## {_group_title(g, metric)}", "", g.description + ".", ""]
        if g.differs:
            out += [g.differs + ".", ""]
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in line) + " |" for line in lines]
        out.append("")
    return "\n".join(out)


def render_csv(board: Board, groups: list[Group], metric: str | None = None) -> str:
    """Tidy rows (`COLUMNS` plus `rank`), group by group, in rank order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*COLUMNS, "rank"])
    for g in groups:
        for e in g.entries:
            for m, (value, std) in e.values.items():
                writer.writerow([board.name, e.model, e.setting, m, _num(value), "" if std is None else _num(std), e.protocol,
                                 e.n_gen or "", e.n_ref or "", e.reference_split, e.source, "; ".join(e.notes),
                                 e.rank if e.rank is not None and m == (metric or board.primary) else ""])
    return buffer.getvalue()


def rich_tables(board: Board, groups: list[Group], metric: str | None = None) -> list:
    from rich.table import Table

    metric = metric or board.primary
    metrics = _metric_columns(board, groups)
    tables = []
    for g in groups:
        header, lines = _group_lines(board, g, metrics, metric)
        caption = g.description + (f"\n{g.differs}" if g.differs else "")
        table = Table(title=f"{board.name}: {_group_title(g, metric)}", caption=caption, caption_justify="left")
        for col in header:
            table.add_column(col, overflow="fold", justify="right" if col == "#" else "left",
                             no_wrap=col in ("#",) or col.endswith(("↓", "↑")))
        for line in lines:
            table.add_row(*line)
        tables.append(table)
    return tables


def board_summary(directory: str | Path | None = None) -> list[tuple[str, str, str, int]]:
    """(board, title, primary metric, published rows) for every board."""
    rows = load_published(directory=directory)
    return [(b.name, b.title, b.primary, sum(r.board == b.name for r in rows)) for b in BOARDS.values()]


# ----------------------------------------------------------------------------- neighbours of one run


def nearest_neighbours(run_dir: str | Path, k: int = 2) -> dict | None:
    """Where a finished run lands: its board, the k entries above and below it among runs with the same
    fingerprint (under the run's --out folder), and the k published entries nearest in value under the paper
    protocol nominally equivalent to its own (flagged: a nominal match, not the same fingerprint)."""
    run_dir = Path(run_dir)
    data = json.loads((run_dir / "eval.json").read_text())
    own = rows_from_run(run_dir, data)
    if not own:
        return None
    board_name, fingerprint = own[0].board, own[0].protocol
    board, groups = build_board(board_name, run_dir.parent.parent)
    metric = board.primary
    mine = next((e for g in groups if g.protocol == fingerprint for e in g.entries if e.run_dir == str(run_dir)), None)
    if mine is None or metric not in mine.values:
        return {"board": board.name, "metric": metric, "same": [], "nominal": [], "fingerprint": fingerprint, "value": None}
    group = next(g for g in groups if g.protocol == fingerprint)
    ranked = [e for e in group.entries if metric in e.values]
    i = ranked.index(mine)
    same = ranked[max(0, i - k): i + k + 1]
    protocol_id = fingerprint.split("@")[0]
    nominal = []
    for g in groups:
        if g.protocol in PAPER_PROTOCOLS and PAPER_PROTOCOLS[g.protocol].nominal == protocol_id and g.ranked:
            nominal += [e for e in g.entries if metric in e.values]
    value = mine.values[metric][0]
    nominal.sort(key=lambda e: abs(e.values[metric][0] - value))
    return {"board": board.name, "metric": metric, "fingerprint": fingerprint, "value": value, "me": mine, "same": same,
            "rank": mine.rank, "of": len(ranked), "nominal": nominal[: 2 * k]}
