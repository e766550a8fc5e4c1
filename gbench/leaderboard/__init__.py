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

Modules: `boards` (the boards and the published protocols, data), `rows` (reading and validating the CSV
files; rows of local runs), `ranking` (groups by fingerprint, ranks, neighbours of a run), `render`.
"""

from gbench.leaderboard.boards import BOARDS, COLUMNS, PAPER_PROTOCOLS, Board, PaperProtocol, format_number, higher_is_better
from gbench.leaderboard.ranking import Entry, Group, board_info, build_board, nearest_neighbours
from gbench.leaderboard.render import board_summary, format_value, render_csv, render_markdown, rich_tables
from gbench.leaderboard.rows import Row, known_protocol, leaderboard_dir, load_published, local_rows, read_board_csv, rows_from_run

__all__ = ["BOARDS", "COLUMNS", "PAPER_PROTOCOLS", "Board", "Entry", "Group", "PaperProtocol", "Row", "board_info", "board_summary",
           "build_board", "format_number", "format_value", "higher_is_better", "known_protocol", "leaderboard_dir", "load_published",
           "local_rows", "nearest_neighbours", "read_board_csv", "render_csv", "render_markdown", "rich_tables", "rows_from_run"]
