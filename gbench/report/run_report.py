"""Run reports: report.md and a self-contained report.html (images embedded), plus plots/losses.png.

Content: the experiment, the protocol fingerprint and its constants, step-0 vs final metrics (and any
periodic evaluations), the config with non-paper values marked, loss curves, the last sample grid,
and training speed. Numbers under a protocol that matches no paper say so next to them.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gbench.io import atomic_write_text  # noqa: E402

METRIC_LABELS = {"is_mean": "IS", "fid": "FID", "kid_mean": "KID"}


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_losses(records: list[dict], path: Path) -> Path | None:
    rows = [r for r in records if "loss_d" in r]
    if not rows:
        return None
    evals = [r for r in records if "eval" in r and "fid" in r["eval"]]
    fig, axes = plt.subplots(1, 2 if evals else 1, figsize=(10 if evals else 6, 3.6), squeeze=False)
    ax = axes[0][0]
    steps = [r["step"] for r in rows]
    for key in ("loss_d", "loss_g"):
        ax.plot(steps, [r[key] for r in rows], label=key)
    ax.set_xlabel("generator step")
    ax.set_title("losses")
    ax.legend()
    ax.grid(alpha=0.3)
    if evals:
        ax = axes[0][1]
        ax.plot([r["step"] for r in evals], [r["eval"]["fid"] for r in evals], marker="o")
        ax.set_xlabel("generator step")
        ax.set_title(f"FID ({evals[-1]['fingerprint']})")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _metric_row(result: dict) -> list[str]:
    m = result["metrics"]
    cells = [str(result["step"]), result.get("generator", "")]
    cells.append(f"{m['is_mean']:.3f} ± {m['is_std']:.3f}" if "is_mean" in m else "")
    cells.append(f"{m['fid']:.3f}" if "fid" in m else "")
    cells.append(f"{m['kid_mean']:.4f} ± {m['kid_std']:.4f}" if "kid_mean" in m else "")
    return cells


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and k not in ("g_kwargs", "d_kwargs"):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def render_run_report(run_dir: Path) -> tuple[Path, Path]:
    from gbench.config import non_defaults
    from gbench.experiments import paper_config_for

    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    cfg_dict = config["config"]
    evals = json.loads((run_dir / "eval.json").read_text()) if (run_dir / "eval.json").exists() else None
    records = _read_jsonl(run_dir / "metrics.jsonl")
    loss_plot = plot_losses(records, run_dir / "plots" / "losses.png")
    grids = sorted((run_dir / "samples").glob("step-*.png"))
    marked = _changed_keys(cfg_dict, non_defaults, paper_config_for)
    speeds = [r["img_per_s"] for r in records if r.get("img_per_s")]

    md = [f"# {cfg_dict['experiment']} ({cfg_dict['preset']} preset)", ""]
    md.append(f"Run directory `{run_dir}`; config hash `{config['config_hash'][:8]}`; device `{config['device']}`; "
              f"gbench {config['versions']['gbench']}, torch {config['versions']['torch']}; commit `{config.get('git_commit', '')[:10] or 'n/a'}`.")
    md.append("")
    if evals:
        final = evals["final"]
        md += ["## Results", "", f"Protocol fingerprint: **`{final['fingerprint']}`** "
               f"(extractor `{final['extractor']}` sha256 `{final['extractor_sha256'][:12]}`, n_gen {final['n_gen']}, "
               f"n_ref {final['n_ref']}, reference {final['reference']}, sample seed {final['sample_seed']}, "
               f"resize: {final['resize']}, quantization: {final['quantization']}).", ""]
        md.append(f"Comparability: {final['comparable_to']}." if final["comparable_to"].startswith("not") else
                  f"Comparable to: {final['comparable_to']} (only if the recipe matches too).")
        md += ["", _md_table(["step", "generator", "IS", "FID", "KID"], [_metric_row(r) for r in evals["evaluations"]]), ""]
    else:
        md += ["## Results", "", "No evaluation yet (the run has not finished).", ""]
    if speeds:
        md += [f"Training speed: median {sorted(speeds)[len(speeds) // 2]:.1f} real images/s through D.", ""]
    if loss_plot:
        md += ["## Training curves", "", f"![losses]({loss_plot.relative_to(run_dir)})", ""]
    if grids:
        md += ["## Samples (fixed z)", "", f"![samples]({grids[-1].relative_to(run_dir)})", f"`{grids[-1].name}`", ""]
    flat = _flatten({k: cfg_dict[k] for k in ("model", "data", "train", "eval")})
    md += ["## Config", "", "Values that differ from the `paper` preset are marked **bold**.", "",
           _md_table(["key", "value"], [[f"**{k}**" if k in marked else k, f"**{v}**" if k in marked else str(v)] for k, v in flat.items()]), ""]
    text = "\n".join(md)
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    atomic_write_text(text, md_path)
    atomic_write_text(markdown_to_html(text, run_dir), html_path)
    return md_path, html_path


def _changed_keys(cfg_dict: dict, non_defaults, paper_config_for) -> set[str]:
    from gbench.config import config_from_dict

    try:
        cfg = config_from_dict(cfg_dict)
        return non_defaults(cfg, paper_config_for(cfg.experiment))
    except Exception:  # an experiment renamed or removed since the run: no marking
        return set()


def _embed(src: str, base: Path) -> str:
    path = base / src
    if path.exists():
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    return src


def markdown_to_html(text: str, base: Path) -> str:
    """The small Markdown subset the reports use (headings, tables, images, bold, code) -> standalone HTML."""
    import re

    def inline(s: str) -> str:
        s = html.escape(s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", s)

    out, table = [], []

    def close_table():
        if table:
            out.append("<table>" + "".join(table) + "</table>")
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= set("-") for c in cells):
                continue
            tag = "th" if not table else "td"
            table.append("<tr>" + "".join(f"<{tag}>{inline(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        close_table()
        if m := re.match(r"!\[(.*?)\]\((.+?)\)", line):
            out.append(f'<p><img alt="{html.escape(m.group(1))}" src="{_embed(m.group(2), base)}"></p>')
        elif m := re.match(r"(#+) (.*)", line):
            level = len(m.group(1))
            out.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    close_table()
    style = ("body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
             "th{background:#f3f3f3}code{background:#f6f6f6;padding:0 3px}img{max-width:100%;image-rendering:pixelated}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>gbench report</title><style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
