"""Rendering a board: Markdown, CSV and rich tables, one section per protocol group.
"""


from __future__ import annotations

import csv
import io
from pathlib import Path

from gbench.leaderboard.boards import BOARDS, COLUMNS, DISPLAY_SCALE, Board, format_number, higher_is_better
from gbench.leaderboard.ranking import Entry, Group, board_info
from gbench.leaderboard.rows import load_published, local_rows


def format_value(value: tuple | None, metric: str = "") -> str:
    if value is None:
        return ""
    v, std = value
    scale = DISPLAY_SCALE.get(metric, (metric, 1))[1]
    v, std = v * scale, None if std is None else std * scale
    return format_number(v) + ("" if std is None else f" ± {std:.2g}" if abs(std) < 1 else f" ± {std:.3g}")


def _metric_columns(board: Board, groups: list[Group]) -> list[str]:
    present = list(dict.fromkeys(m for g in groups for e in g.entries for m in e.values))
    return [m for m in board.metrics if m in present] + [m for m in present if m not in board.metrics]


def _where(e: Entry) -> str:
    return f"{e.run_dir} ({e.protocol})" if e.run_dir else e.source


def _group_lines(board: Board, group: Group, metrics: list[str], metric: str) -> tuple[list[str], list[list[str]]]:
    used = [m for m in metrics if any(m in e.values for e in group.entries)]
    header = ["#", "model", "setting", *[DISPLAY_SCALE.get(m, (m, 1))[0] + (" ↓" if not higher_is_better(m) else " ↑") for m in used],
              "n_gen / n_ref", "source / run"]
    lines = []
    for e in group.entries:
        counts = f"{e.n_gen or '?'} / {e.n_ref or '?'}" if (e.n_gen or e.n_ref) else ""
        lines.append([str(e.rank) if e.rank is not None else "-", e.model, e.setting, *[format_value(e.values.get(m), m) for m in used],
                      counts, _where(e)])
    return header, lines


def _group_title(group: Group, metric: str) -> str:
    metric = group.metric or metric
    state = (f"ranked by {metric}" if group.ranked and any(metric in e.values for e in group.entries)
             else "not ranked: measured in unrecorded ways" if not group.ranked else f"not ranked: no {metric}")
    return f"protocol {group.protocol} ({state})"


def render_markdown(board: Board, groups: list[Group], metric: str | None = None) -> str:
    chosen, metric = metric, metric or board.primary
    metrics = _metric_columns(board, groups)
    out = [f"# Leaderboard {board.name}: {board.title}", "",
           f"Ranked by **{metric}** ({'higher' if higher_is_better(metric) else 'lower'} is better) within one protocol; "
           "rows of different protocols are never ranked together."
           + (f" Groups without {metric} are ranked by {' or '.join(board.fallback)} (another feature space: never compared with "
              f"{metric})." if board.fallback and not chosen else ""), ""]
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
                writer.writerow([board.name, e.model, e.setting, m, format_number(value), "" if std is None else format_number(std), e.protocol,
                                 e.n_gen or "", e.n_ref or "", e.reference_split, e.source, "; ".join(e.notes),
                                 e.rank if e.rank is not None and m == (g.metric or metric or board.primary) else ""])
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


def board_summary(directory: str | Path | None = None, runs: str | Path | None = None) -> list[tuple[str, str, str, int, int]]:
    """(board, title, primary metric, published rows, local rows) for every board with rows: the published boards,
    then boards that only local results under `runs` fill (e.g. shapes32 for smoke runs)."""
    rows = load_published(directory=directory)
    local = local_rows(runs) if runs is not None else []
    out = [(b.name, b.title, b.primary, sum(r.board == b.name for r in rows), sum(r.board == b.name for r in local))
           for b in BOARDS.values()]
    for name in sorted({r.board for r in local} - set(BOARDS)):
        board = board_info(name, [r for r in local if r.board == name])
        out.append((name, board.title, board.primary, 0, sum(r.board == name for r in local)))
    return out