"""Leaderboard rows: the committed CSV files (validated line by line) and the results of local runs.
"""


from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from gbench.errors import GBenchError, UsageError
from gbench.leaderboard.boards import BOARDS, COLUMNS, PAPER_PROTOCOLS, RESULT_METRICS, SPREAD_KEYS, format_number


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
        return {"board": self.board, "model": self.model, "setting": self.setting, "metric": self.metric, "value": format_number(self.value),
                "std": "" if self.std is None else format_number(self.std), "protocol": self.protocol, "n_gen": self.n_gen or "",
                "n_ref": self.n_ref or "", "reference_split": self.reference_split, "source": self.source, "notes": self.notes}


def leaderboard_dir() -> Path:
    """The committed `leaderboards/` folder (next to the gbench package), or $GBENCH_LEADERBOARDS (which must exist)."""
    chosen = os.environ.get("GBENCH_LEADERBOARDS")
    if chosen and not Path(chosen).expanduser().is_dir():
        raise UsageError(f"GBENCH_LEADERBOARDS={chosen} is not a folder; point it at a folder of <board>.csv files or unset it")
    return Path(chosen).expanduser() if chosen else Path(__file__).resolve().parents[2] / "leaderboards"


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


def _sampling_note(notes: str, sampling: dict | None) -> str:
    """Notes of a run's rows, plus the generator mode when it sampled in train mode (it changes the numbers)."""
    if (sampling or {}).get("mode") != "train":
        return notes
    return "; ".join(n for n in (notes, f"generator in train mode (batch-norm batch statistics over batches of {sampling['batch']})") if n)


def rows_from_run(run_dir: Path, data: dict) -> list[Row]:
    """Leaderboard rows of a finished `gbench run` (its eval.json): one per headline metric, `gt_*` metrics as a
    ground-truth row and an SR result's bicubic baseline as a bicubic row, all under the run's fingerprint."""
    from gbench.protocols import PROTOCOLS

    final = data["final"]
    protocol_id = final.get("protocol") or final["fingerprint"].split("@")[0]
    protocol = PROTOCOLS.get(protocol_id)
    board = data.get("board") or board_for_reference(protocol.reference if protocol else final.get("reference", "local"))
    # results that are not training runs (`gbench invert`) name their own board, model and setting
    model, setting = (data["model"], data["setting"]) if "model" in data and "setting" in data else _run_setting(run_dir, data, final)
    common = dict(board=board, protocol=final["fingerprint"], n_gen=final.get("n_gen"), n_ref=final.get("n_ref"),
                  reference_split=protocol.reference_split if protocol else "", source=f"local run {run_dir}",
                  notes=_sampling_note(final.get("comparable_to", ""), final.get("sampling")), where=str(run_dir / "eval.json"),
                  run_dir=str(run_dir))
    rows = []

    def add(model_name: str, row_setting: str, metrics: dict) -> None:
        for key, value in metrics.items():
            if key in SPREAD_KEYS or key.startswith("gt_") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            name, spread = RESULT_METRICS.get(key, (key, None))
            std = metrics.get(spread) if spread else None
            matching = final.get("matching") or {}
            fields = {**common, "protocol": matching["fingerprint"]} if key == "r_precision" and "fingerprint" in matching else common
            rows.append(Row(model=model_name, setting=row_setting, metric=name, value=float(value),
                            std=None if std is None else float(std), **fields))

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


def local_rows(runs: str | Path, skipped: list | None = None) -> list[Row]:
    """Rows of every finished run (eval.json) and `gbench eval` report (eval-*.json) under `runs`. A file that cannot
    be read or is not a gbench result is skipped; when `skipped` is a list, (path, reason) is appended to it."""
    runs = Path(runs)
    if not runs.exists():
        return []
    rows = []

    def skip(path: Path, reason: str) -> None:
        if skipped is not None:
            skipped.append((str(path), reason))

    for path in sorted(runs.rglob("eval.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            skip(path, f"unreadable ({type(exc).__name__}); rerun the run's command to rebuild it")
            continue
        try:
            if not (isinstance(data, dict) and "fingerprint" in data["final"]):
                raise KeyError("final.fingerprint")
            rows += rows_from_run(path.parent, data)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            skip(path, f"not a gbench eval.json (missing {exc})")
    for path in sorted(runs.rglob("eval-*.json")):
        try:
            found = _rows_from_eval_report(path, json.loads(path.read_text()))
        except (OSError, ValueError, AttributeError) as exc:
            skip(path, f"unreadable ({type(exc).__name__}); evaluate again with `gbench eval`")
            continue
        if not found:
            skip(path, "holds no leaderboard rows")
        rows += found
    return rows
