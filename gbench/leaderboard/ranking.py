"""Grouping rows by protocol fingerprint and ranking within each group; where one run lands among its neighbours.
"""


from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from gbench.errors import UsageError
from gbench.leaderboard.boards import BOARDS, COMPARED, FCN, PAPER_PROTOCOLS, Board, higher_is_better
from gbench.leaderboard.rows import Row, load_published, local_rows, rows_from_run


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
    metric: str = ""  # the metric it is ranked by (the board's primary, or its fallback where the group has no primary)

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


def group_metric(board: Board, entries: list[Entry], chosen: str | None = None) -> str:
    """What one protocol group is ranked by: `chosen` (--metric) if given, else the board's primary metric, else the
    first of its fallbacks the group has (a DINOv2 group has FD_DINOv2, no FID). Groups are never ranked together."""
    if chosen:
        return chosen
    present = {m for e in entries for m in e.values}
    return next((m for m in (board.primary, *board.fallback) if m in present), board.primary)


def board_info(name: str, rows: list[Row] = ()) -> Board:
    """A published board, or a local board (no CSV) named after a dataset, ranked by the first headline metric found."""
    if name in BOARDS:
        return BOARDS[name]
    metrics = list(dict.fromkeys(r.metric for r in rows))
    primary = next((m for m in ("FID", "pixel_acc") if m in metrics), None) or next((m for m in metrics if m.startswith("psnr_y/")), None)
    return Board(name, f"{name} (local results only; no published rows)", primary or (metrics[0] if metrics else "FID"),
                 tuple(m for m in ("FID", "IS", "KID", *FCN) if m in metrics) or tuple(metrics))


def build_board(name: str, runs: str | Path | None = "runs", *, directory: str | Path | None = None,
                metric: str | None = None, skipped: list | None = None) -> tuple[Board, list[Group]]:
    """The board's published rows plus local rows under `runs`, grouped by protocol and ranked inside each group.
    Local files that could not be read are appended to `skipped` (path, reason) when it is a list.

    Group order: published ranked groups (largest first), local groups, then groups that cannot be ranked
    (unspecified protocols, or no row with the ranking metric)."""
    published = load_published(name, directory) if name in BOARDS else []
    every_local = local_rows(runs, skipped) if runs is not None else []
    local = [r for r in every_local if r.board == name]
    if name not in BOARDS and not local:
        import difflib

        names = list(BOARDS) + sorted({r.board for r in every_local})
        hint = difflib.get_close_matches(name, names, n=1)
        raise UsageError(f"unknown board {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(BOARDS)}"))
    board = board_info(name, published + local)
    if metric is not None and not any(r.metric == metric for r in published + local):
        import difflib

        found = sorted({r.metric for r in published + local})
        hint = difflib.get_close_matches(metric, found, n=1)
        raise UsageError(f"--metric {metric!r} is not on board {name}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                         + f"; its metrics: {', '.join(found)}")
    chosen = metric
    metric = metric or board.primary
    by_protocol: dict[str, list[Row]] = {}
    for row in published + local:
        by_protocol.setdefault(row.protocol, []).append(row)
    groups = []
    for protocol, rows in by_protocol.items():
        ranked = PAPER_PROTOCOLS[protocol].ranked if protocol in PAPER_PROTOCOLS else True
        entries = _entries(rows)
        by = group_metric(board, entries, chosen)
        entries = _rank(entries, by) if ranked else entries
        groups.append(Group(protocol, protocol_description(protocol), ranked, protocol_constants(protocol), entries, metric=by))

    def order(g: Group) -> tuple:
        rankable = g.ranked and any(g.metric in e.values for e in g.entries)
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
    group = next((g for g in groups if g.protocol == fingerprint), None)
    metric = group.metric if group is not None else board.primary
    mine = next((e for e in group.entries if e.run_dir == str(run_dir)), None) if group is not None else None
    if mine is None or metric not in mine.values:
        return {"board": board.name, "metric": metric, "same": [], "nominal": [], "fingerprint": fingerprint, "value": None}
    ranked = [e for e in group.entries if metric in e.values]
    i = ranked.index(mine)
    same = ranked[max(0, i - k): i + k + 1]
    from gbench.protocols import base_protocol_id

    protocol_id = fingerprint.split("@")[0]
    nominal_ids = {protocol_id, base_protocol_id(protocol_id)}  # a `+pr` run's FID is its base protocol's FID
    nominal = []
    for g in groups:
        if g.protocol in PAPER_PROTOCOLS and PAPER_PROTOCOLS[g.protocol].nominal in nominal_ids and g.ranked:
            nominal += [e for e in g.entries if metric in e.values]
    value = mine.values[metric][0]
    nominal.sort(key=lambda e: abs(e.values[metric][0] - value))
    return {"board": board.name, "metric": metric, "fingerprint": fingerprint, "value": value, "me": mine, "same": same,
            "rank": mine.rank, "of": len(ranked), "nominal": nominal[: 2 * k]}
