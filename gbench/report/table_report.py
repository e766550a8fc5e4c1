"""Table reports of `gbench reproduce`: paper vs measured in Markdown, self-contained HTML, CSV and a LaTeX tabular,
plus a bar chart of paper vs measured (one panel per column), and, for the runs that have them (a `+pr` or
`-dinov2` protocol, in training or through `gbench reproduce --also-eval` / `gbench eval --run`), precision and
recall next to FID with a precision-recall scatter, one panel per protocol fingerprint.

Every measured cell shows mean ± std over training seeds (with one seed: ± the run's own spread, e.g. IS over
10 splits, as the papers print it), the delta to the paper, and whether it is comparable (same protocol and
recipe as the paper) with the reason. A report whose cells are not comparable says so in its first lines.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gbench.io import atomic_write_text  # noqa: E402
from gbench.paths import source_commit  # noqa: E402
from gbench.leaderboard import higher_is_better  # noqa: E402
from gbench.report.run_report import further_evaluations, markdown_to_html  # noqa: E402

def _digits(metric: str) -> int:
    if metric.endswith(("_x100", "_x1e-3")):  # published scaled values (DGP): printed with 2 decimals
        return 2
    if metric.startswith(("ssim", "mse")):
        return 4
    if metric in ("pixel_acc", "class_acc", "class_iou") or metric.startswith("gt_"):
        return 3
    return 2


def _fmt(value: float | None, metric: str, signed: bool = False) -> str:
    if value is None:
        return ""
    d = _digits(metric)
    return f"{value:+.{d}f}" if signed else f"{value:.{d}f}"


def paper_text(m) -> str:
    c = m.cell
    if c.paper is None:
        return "–"
    return _fmt(c.paper, c.metric) + (f" ± {_fmt(c.paper_std, c.metric)}" if c.paper_std is not None else "")


def measured_text(m, short: bool = False) -> str:
    """mean ± std (n=seeds); or why there is no number (`short`: just the kind, the Cells section has the reason)."""
    if m.status:
        return m.status.split(":")[0] if short else m.status
    text = _fmt(m.mean, m.cell.metric)
    if m.std is not None:
        text += f" ± {_fmt(m.std, m.cell.metric)}"
    return text + (f" (n={len(m.values)})" if len(m.values) > 1 else "")


def _row_flag(measured: list) -> str:
    """One comparability text per row: 'yes: ...' / 'no: ...' (joined when the row's cells differ)."""
    flags = [f"{'yes' if m.comparable else 'no'}: {m.why}" for m in measured if m.comparable is not None]
    return "; ".join(dict.fromkeys(flags)) if flags else "–"


def _by_row(p, measured: list) -> list[tuple[str, dict]]:
    rows = []
    for row in p.table.rows:
        cells = {m.column: m for m in measured if m.row == row}
        if cells:
            rows.append((row, cells))
    return rows


def command_line(p) -> str:
    parts = ["gbench reproduce", p.table.name]
    if p.preset != "paper":
        parts.append(f"--preset {p.preset}")
    if p.seeds != 1:
        parts.append(f"--seeds {p.seeds}")
    parts += [f"--only '{o}'" for o in p.only]
    parts += [f"--set {e}" for e in p.extra]
    if getattr(p, "threads", 0):
        parts.append(f"--threads {p.threads}")
    parts.append(f"--out {p.out}")
    return " ".join(parts)


def _shown_run(run_dir: str, out: Path) -> str:
    """A run directory relative to the table's --out folder (reports carry no machine-specific paths)."""
    try:
        return str(Path(run_dir).relative_to(out))
    except ValueError:
        return str(run_dir)


def headline(p, measured: list) -> str:
    """The plain statement at the top: comparable, or not and why."""
    flags = [m for m in measured if m.comparable is not None]
    if not p.table.trainable:
        reason = p.table.notes[0].removeprefix("published values only: ") if p.table.notes else "gbench does not train this table"
        return f"**Published values only:** {reason}."
    if p.table.unavailable:
        return f"**Not available:** {p.table.unavailable}."
    if not flags:
        return "**Nothing measured yet:** no cell of this table has a finished gbench run."
    if all(not m.comparable for m in flags):
        reasons = "; ".join(dict.fromkeys(m.why for m in flags))
        if p.preset != "paper":
            return (f"**{p.preset.capitalize()} numbers are not comparable to the paper** ({reasons}). They show that every cell runs "
                    "end to end under gbench's protocol machinery, not how the methods compare; run the `paper` preset for that.")
        return f"**The measured numbers are not comparable to the paper** ({reasons})."
    if all(m.comparable for m in flags):
        return "**Comparable to the paper:** every measured cell ran the paper recipe under the protocol the paper's numbers correspond to."
    return "**Partly comparable:** see the `comparable` column for each row."


# ----------------------------------------------------------------------------- bar chart


def bar_chart(p, measured: list, path: Path) -> Path | None:
    """Paper vs measured, one panel per column; rows without either value are left out of that panel."""
    columns = [c for c in p.table.columns if any(m.column == c and (m.mean is not None or m.cell.paper is not None) for m in measured)]
    if not columns:
        return None
    labels_all = {row: textwrap.fill(row, 36) for row in p.table.rows}
    label_width = 0.075 * max(len(line) for text in labels_all.values() for line in text.splitlines())
    lines_per_row = max(text.count("\n") + 1 for text in labels_all.values())
    fig, axes = plt.subplots(1, len(columns), figsize=(label_width + 3.2 * len(columns) + 0.5,
                                                         1.0 + (0.25 + 0.14 * lines_per_row) * max(3, len(p.table.rows))), squeeze=False)
    for ax, column in zip(axes[0], columns):
        cells = [m for m in measured if m.column == column]
        labels = [labels_all.get(m.row, m.row) for m in cells]
        y = range(len(cells))
        paper = [m.cell.paper if m.cell.paper is not None else 0.0 for m in cells]
        ours = [m.mean if m.mean is not None else 0.0 for m in cells]
        errors = [m.std or 0.0 for m in cells]
        ax.barh([i - 0.2 for i in y], paper, height=0.38, label="paper", color="#8c8c8c")
        if p.table.trainable:
            ax.barh([i + 0.2 for i in y], ours, height=0.38, xerr=errors, label="measured", color="#3b75af", error_kw={"lw": 0.8})
        for i, m in enumerate(cells):
            if m.mean is None and p.table.trainable:
                ax.text(0, i + 0.2, " not measured", va="center", fontsize=7, color="#a33")
        ax.set_yticks(list(y))
        ax.set_yticklabels(labels if ax is axes[0][0] else [""] * len(labels), fontsize=8)
        ax.invert_yaxis()
        metric = cells[0].cell.metric if cells else column
        ax.set_title(f"{column} ({'higher' if higher_is_better(metric) else 'lower'} is better)", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8)
    axes[0][0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.08 - 0.4 / len(p.table.rows)), ncol=2, frameon=False)
    comparable = [m.comparable for m in measured if m.comparable is not None]
    note = "" if all(comparable) else f"  [{p.preset} preset: NOT comparable to the paper]" if p.preset != "paper" else "  [not comparable]"
    fig.suptitle(f"{p.table.name}: paper vs gbench{note}" if p.table.trainable else f"{p.table.name}: published values", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- precision and recall of the runs

PR_COLUMNS = ("precision", "recall", "density", "coverage")


def precision_recall_points(p, measured: list) -> list[dict]:
    """One point per (run directory, fingerprint) with precision and recall: the run's own final evaluation and its
    `gbench eval --run` reports (mean over their seeds), each with the distance measured beside it (FID or FD_DINOv2)."""
    rows_of: dict[str, str] = {}
    for m in measured:
        for run_dir in m.run_dirs:
            rows_of.setdefault(run_dir, m.row)
    points, seen = [], set()
    for run_dir, row in rows_of.items():
        found = []
        try:
            final = json.loads((Path(run_dir) / "eval.json").read_text())["final"]
            found.append((final["fingerprint"], final.get("metrics", {}), "training run"))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        for report in further_evaluations(Path(run_dir)):
            results = report["results"]
            mean = {k: sum(r["metrics"][k] for r in results) / len(results) for k in results[0]["metrics"]}
            found.append((report["fingerprint"], mean, f"gbench eval ({report['file']})"))
        for fingerprint, metrics, origin in found:
            if "precision" not in metrics or "recall" not in metrics or (run_dir, fingerprint) in seen:
                continue
            seen.add((run_dir, fingerprint))
            distance = next(((name, metrics[key]) for key, name in (("fid", "FID"), ("fd_dinov2", "FD_DINOv2")) if key in metrics), ("", None))
            points.append({"row": row, "run_dir": run_dir, "fingerprint": fingerprint, "origin": origin, "distance": distance,
                           **{k: metrics.get(k) for k in PR_COLUMNS}})
    return points


def precision_recall_chart(p, points: list[dict], path: Path) -> Path | None:
    """Precision against recall, one panel per fingerprint (never mixing protocols), one labelled point per run."""
    fingerprints = list(dict.fromkeys(pt["fingerprint"] for pt in points))
    if not fingerprints:
        return None
    fig, axes = plt.subplots(1, len(fingerprints), figsize=(4.6 * len(fingerprints), 4.4), squeeze=False)
    for ax, fingerprint in zip(axes[0], fingerprints):
        mine = [pt for pt in points if pt["fingerprint"] == fingerprint]
        ax.scatter([pt["recall"] for pt in mine], [pt["precision"] for pt in mine], color="#3b75af", zorder=3)
        for pt in mine:
            ax.annotate(textwrap.shorten(pt["row"], 28, placeholder="…"), (pt["recall"], pt["precision"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("recall (diversity)", fontsize=8)
        ax.set_ylabel("precision (fidelity)", fontsize=8)
        ax.set_title(fingerprint, fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{p.table.name}: precision vs recall of the runs (one panel per protocol fingerprint)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def _precision_recall_lines(p, points: list[dict], chart: Path | None, base: Path) -> list[str]:
    if not p.table.trainable or p.table.unavailable:
        return []
    lines = ["## Precision and recall", ""]
    if not points:
        return lines + ["No run of this table has precision/recall yet: rerun with `--also-eval <protocol>+pr` (e.g. "
                        "`cifar10-50k+pr`, or `toy-shapes32+pr` for smoke runs), or `gbench eval --protocol <protocol>+pr --run DIR`.", ""]
    lines += ["Fidelity (precision, density) and diversity (recall, coverage) of each run, beside the distance measured in the same "
              "evaluation; compare rows only within one fingerprint.", "",
              "| row | distance | precision | recall | density | coverage | fingerprint | from |", "|---|---|---|---|---|---|---|---|"]
    for pt in points:
        name, value = pt["distance"]
        cells = [f"{name} {value:.2f}" if value is not None else "–",
                 *["–" if pt[k] is None else f"{pt[k]:.3f}" for k in PR_COLUMNS], f"`{pt['fingerprint']}`", f"{pt['origin']}, `{pt['run_dir']}`"]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in [pt["row"], *cells]) + " |")
    lines.append("")
    if chart is not None:
        lines += [f"![precision vs recall]({chart.relative_to(base)})", ""]
    return lines


# ----------------------------------------------------------------------------- Markdown / HTML


def render_markdown(p, measured: list, chart: Path | None, base: Path, pr_lines: list[str] = ()) -> str:
    import gbench

    t = p.table
    lines = [f"# {t.title}", "", headline(p, measured), ""]
    if t.compute:
        lines += [f"**Compute of the paper preset:** {t.compute}.", ""]
    fingerprints = list(dict.fromkeys(f for m in measured for f in m.fingerprints))
    if len(fingerprints) > 1:
        lines += [f"**The measured cells were scored under {len(fingerprints)} protocol fingerprints** "
                  f"({', '.join(f'`{f}`' for f in fingerprints)}): compare measured values only between cells with the same "
                  "fingerprint (listed under Cells).", ""]
    seeds = f"{p.seeds} sample seed(s) (nothing trained)" if t.cells and all(c.release for c in t.cells) else f"{p.seeds} training seed(s)"
    lines += [f"Paper values: {t.source}. gbench {gbench.__version__}" + (f", commit `{commit}`" if (commit := source_commit(short=True)) else "")
              + f"; preset `{p.preset}`; {seeds}; regenerate with `{command_line(p)}`.", ""]
    if t.unavailable:
        return "\n".join(lines)
    if not t.trainable:
        return _published_only(p, measured, chart, base, lines)
    header = ["row"]
    for column in t.columns:
        header += [f"{column} paper", f"{column} measured", f"{column} Δ"]
    header.append("comparable")
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, cells in _by_row(p, measured):
        line = [row]
        for column in t.columns:
            m = cells.get(column)
            line += ["", "", ""] if m is None else [paper_text(m), measured_text(m, short=True), _fmt(m.delta, m.cell.metric, signed=True)]
        line.append(_row_flag(list(cells.values())))
        lines.append("| " + " | ".join(c.replace("|", "/") for c in line) + " |")
    lines.append("")
    if chart is not None:
        lines += [f"![paper vs measured]({chart.relative_to(base)})", ""]
    lines += list(pr_lines)
    lines += ["## Cells", "", f"Run directories are under `--out` (`{p.out}`).", "",
              "| row | experiment | overrides | run directory | fingerprint | status |", "|---|---|---|---|---|---|"]
    planned = {(pc.cell.row, pc.cell.column): pc for pc in p.cells}
    seen = set()
    for m in measured:
        pc = planned[(m.row, m.column)]
        key = (m.row, tuple(m.run_dirs), pc.unavailable)
        if key in seen:
            continue
        seen.add(key)
        experiment = pc.cell.experiment or (pc.jobs[0].cfg.experiment + f" ({pc.cell.baseline})" if pc.jobs else "–")
        applied = [*pc.cell.overrides, *dict(pc.cell.preset_overrides).get(p.preset, ())]
        overrides = ", ".join(f"`{k}={v}`" for k, v in applied) or "–"
        if pc.cell.inversion is not None:
            spec = pc.cell.inversion
            overrides = f"`gbench invert --task {spec.task} --method {spec.method} --protocol {spec.protocol(p.preset)}`"
        runs = ", ".join(f"`{_shown_run(d, p.out)}`" for d in m.run_dirs) or "–"
        status = (pc.unavailable and f"not available: {pc.unavailable}") or (m.status or "measured")
        lines.append(f"| {m.row} | {experiment} | {overrides} | {runs} | {', '.join(f'`{f}`' for f in m.fingerprints) or '–'} | {status} |")
    lines += ["", "## Notes", ""]
    notes = list(t.notes) + [
        "measured = mean over training seeds ± population std over seeds; with one seed, ± the run's own spread "
        "(IS: std over its 10 splits, as the papers print it). Δ = measured − paper.",
        "comparable = same protocol and recipe as the paper (yes/no and why); numbers under different protocols are not comparable.",
    ]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _published_only(p, measured: list, chart: Path | None, base: Path, lines: list) -> str:
    """A table gbench does not train: the paper's values, the chart and the notes."""
    t = p.table
    lines += ["| " + " | ".join(["row", *t.columns]) + " |", "|" + "---|" * (len(t.columns) + 1)]
    for row, cells in _by_row(p, measured):
        lines.append("| " + " | ".join([row, *[paper_text(cells[c]) if c in cells else "" for c in t.columns]]) + " |")
    lines.append("")
    if chart is not None:
        lines += [f"![published values]({chart.relative_to(base)})", ""]
    return "\n".join(lines + ["## Notes", ""] + [f"- {n}" for n in t.notes[1:]]) + "\n"


# ----------------------------------------------------------------------------- CSV / LaTeX

CSV_COLUMNS = ("table", "row", "column", "metric", "experiment", "overrides", "paper", "paper_std", "measured", "measured_std", "seeds",
               "delta", "comparable", "why", "status", "fingerprints", "run_dirs")


def render_csv(p, measured: list) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for m in measured:
        c = m.cell
        writer.writerow([p.table.name, m.row, m.column, c.metric, c.experiment or "", _overrides(c), "" if c.paper is None else c.paper,
                         "" if c.paper_std is None else c.paper_std, "" if m.mean is None else f"{m.mean:.6g}",
                         "" if m.std is None else f"{m.std:.6g}", len(m.values), "" if m.delta is None else f"{m.delta:.6g}",
                         "" if m.comparable is None else ("yes" if m.comparable else "no"), m.why, m.status or "measured",
                         " ".join(m.fingerprints), " ".join(_shown_run(d, p.out) for d in m.run_dirs)])
    return buffer.getvalue()


def _overrides(cell) -> str:
    return " ".join(f"{k}={v}" for k, v in cell.overrides)


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    out = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)
    return out.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("–", "--").replace("−", "-")


def render_latex(p, measured: list) -> str:
    """A standalone tabular: row, then paper / ours / Δ per column, then a comparability mark (footnote below)."""
    t = p.table
    spec = "l" + "rrr" * len(t.columns) + "c"
    lines = [f"% {t.title} -- generated by `{command_line(p)}`", r"\begin{tabular}{" + spec + "}", r"\hline"]
    lines.append(" & ".join(["Row", *[r"\multicolumn{3}{c}{" + latex_escape(c) + "}" for c in t.columns], "Comp."]) + r" \\")
    lines.append(" & ".join(["", *(["Paper", "Ours", r"$\Delta$"] * len(t.columns)), ""]) + r" \\")
    lines.append(r"\hline")
    for row, cells in _by_row(p, measured):
        values = [latex_escape(row)]
        for column in t.columns:
            m = cells.get(column)
            if m is None:
                values += ["", "", ""]
                continue
            ours = measured_text(m) if not m.status else "--"
            values += [latex_escape(paper_text(m)), latex_escape(ours), latex_escape(_fmt(m.delta, m.cell.metric, signed=True))]
        flags = [m.comparable for m in cells.values() if m.comparable is not None]
        values.append("--" if not flags else "yes" if all(flags) else "no")
        lines.append(" & ".join(values) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    reasons = "; ".join(dict.fromkeys(m.why for m in measured if m.comparable is False))
    if reasons:
        lines.append(f"% not comparable: {latex_escape(reasons)}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- all formats


def render_table_report(p, measured: list, folder: str | Path) -> dict[str, Path]:
    """Write <table>.md, .html (images embedded), .csv, .tex and .png (bar chart) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = p.table.name
    chart = bar_chart(p, measured, folder / f"{name}.png") if not p.table.unavailable else None
    points = precision_recall_points(p, measured) if p.table.trainable and not p.table.unavailable else []
    pr_chart = precision_recall_chart(p, points, folder / f"{name}-precision-recall.png")
    md = render_markdown(p, measured, chart, folder, _precision_recall_lines(p, points, pr_chart, folder))
    paths = {"md": folder / f"{name}.md", "html": folder / f"{name}.html", "csv": folder / f"{name}.csv", "tex": folder / f"{name}.tex"}
    atomic_write_text(md, paths["md"])
    atomic_write_text(markdown_to_html(md, folder), paths["html"])
    atomic_write_text(render_csv(p, measured), paths["csv"])
    atomic_write_text(render_latex(p, measured), paths["tex"])
    if chart is not None:
        paths["png"] = chart
    if pr_chart is not None:
        paths["precision_recall_png"] = pr_chart
    return paths
