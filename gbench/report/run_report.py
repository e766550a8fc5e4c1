"""Run reports: report.md and a self-contained report.html (images embedded), plus plots/.

Content, top to bottom: the experiment and provenance (run directory, config hash, device, versions, commit);
the protocol fingerprint and its constants; every evaluation (step 0, periodic ones, the final one) with the
nearest leaderboard neighbours of the final result (same fingerprint, plus published rows under the nominally
equivalent paper protocol, flagged); loss curves and the headline metric over training; fixed-z sample grids
over training; throughput (images/s) and peak GPU memory when the log has it; the config with the values
that differ from the `paper` preset marked. Numbers under a protocol that matches no paper say so.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gbench.io import atomic_write_text  # noqa: E402

METRIC_LABELS = {"is_mean": "IS", "fid": "FID", "kid_mean": "KID"}
SPREADS = {"is_mean": "is_std", "kid_mean": "kid_std"}
HEADLINE_ORDER = ("fid", "is_mean", "kid_mean", "pixel_acc", "class_acc", "class_iou")
MEMORY_KEYS = ("gpu_mem_mb", "max_memory_mb", "peak_memory_mb")  # peak GPU memory per log window, if the trainer logs it
MAX_GRIDS = 4


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def metric_keys(results: list[dict]) -> list[str]:
    """Headline metric keys present in the results, headline ones first (spreads and ground-truth rows excluded)."""
    present = list(dict.fromkeys(k for r in results for k, v in r.get("metrics", {}).items()
                                 if isinstance(v, (int, float)) and not isinstance(v, bool)))
    skip = set(SPREADS.values())
    keys = [k for k in HEADLINE_ORDER if k in present]
    return keys + [k for k in present if k not in keys and k not in skip and not k.startswith("gt_")]


def primary_metric(results: list[dict]) -> str | None:
    keys = metric_keys(results)
    return keys[0] if keys else None


def plot_losses(records: list[dict], path: Path) -> Path | None:
    """Every logged `loss_*` over generator steps (one line each)."""
    rows = [r for r in records if any(k.startswith("loss_") for k in r)]
    if not rows:
        return None
    keys = list(dict.fromkeys(k for r in rows for k in r if k.startswith("loss_")))
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for key in keys:
        points = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], label=key.removeprefix("loss_"), lw=1.2)
    ax.set_xlabel("generator step")
    ax.set_title("training losses")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_metric(evaluations: list[dict], key: str, path: Path) -> Path | None:
    """The headline metric at every evaluation (step 0, periodic evaluations, final)."""
    points = [(r["step"], r["metrics"][key]) for r in evaluations if key in r.get("metrics", {})]
    if len(points) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", lw=1.2)
    ax.set_xlabel("generator step")
    ax.set_title(f"{METRIC_LABELS.get(key, key)} over training ({evaluations[-1].get('fingerprint', '')})", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _value(metrics: dict, key: str) -> str:
    if key not in metrics:
        return ""
    v = metrics[key]
    digits = 4 if key.startswith(("kid", "ssim")) else 3
    text = f"{v:.{digits}f}"
    if key in SPREADS and SPREADS[key] in metrics:
        text += f" ± {metrics[SPREADS[key]]:.{digits}f}"
    return text


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
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


def flat_config(cfg_dict: dict) -> dict:
    """model.* / data.* / train.* / eval.* as dotted keys (model kwargs kept as one value each), plus the seed."""
    return {"seed": cfg_dict.get("seed", 0), **_flatten({k: cfg_dict[k] for k in ("model", "data", "train", "eval") if k in cfg_dict})}


def _neighbour_lines(run_dir: Path) -> list[str]:
    """Where the final result lands on its leaderboard (never breaks the report: any problem is one line)."""
    from gbench.leaderboard import format_value, nearest_neighbours

    try:
        found = nearest_neighbours(run_dir)
    except Exception as exc:  # a malformed CSV or an unreadable neighbour must not cost the run its report
        return [f"Leaderboard neighbours unavailable ({type(exc).__name__}: {exc}).", ""]
    if not found or found.get("value") is None:
        return []
    metric = found["metric"]
    lines = ["### Leaderboard neighbours", "",
             f"Board `{found['board']}`, ranked by {metric} among runs under the same fingerprint `{found['fingerprint']}` "
             f"in this run's output folder: rank {found['rank']} of {found['of']}.", ""]
    rows = [[str(e.rank), e.model + (" **(this run)**" if e is found["me"] else ""), e.setting, format_value(e.values.get(metric)),
             f"`{e.run_dir}`"] for e in found["same"]]
    lines += [_md_table(["#", "model", "setting", metric, "run"], rows), ""]
    if found["nominal"]:
        lines += [f"Nearest published {metric} under the paper protocol that `{found['fingerprint'].split('@')[0]}` nominally matches "
                  "(a different fingerprint: the extractor implementation and recipe may differ):", ""]
        rows = [[e.model, e.setting, format_value(e.values.get(metric)), e.protocol, e.source] for e in found["nominal"]]
        lines += [_md_table(["model", "setting", metric, "protocol", "source"], rows), ""]
    else:
        lines += ["No published rows share this protocol: its numbers are not comparable to any paper's.", ""]
    return lines


def _speed_lines(records: list[dict]) -> list[str]:
    speeds = [r["img_per_s"] for r in records if r.get("img_per_s")]
    memory = [r[k] for r in records for k in MEMORY_KEYS if r.get(k)]
    lines = []
    if speeds:
        lines.append(f"Training speed: median {sorted(speeds)[len(speeds) // 2]:.1f} images/s through D "
                     f"(first window {speeds[0]:.1f}, last {speeds[-1]:.1f}).")
    lines.append(f"Peak GPU memory: {max(memory):.0f} MiB." if memory else
                 "Peak GPU memory: not in the training log (CPU run, or a trainer that does not log it).")
    return lines + [""]


def _grid_lines(run_dir: Path) -> list[str]:
    """Up to MAX_GRIDS fixed-z grids spread over training (first, ..., last): the same z at every step."""
    grids = sorted((run_dir / "samples").glob("step-*.png"))
    if not grids:
        return []
    if len(grids) > MAX_GRIDS:
        picks = [round(i * (len(grids) - 1) / (MAX_GRIDS - 1)) for i in range(MAX_GRIDS)]
        grids = [grids[i] for i in dict.fromkeys(picks)]
    lines = ["## Samples (fixed z)", "", "The same latents (image-to-image and SR: the same inputs) at every step, so the grids are "
             "comparable over training.", ""]
    for g in grids:
        step = int(re.sub(r"\D", "", g.stem) or 0)
        lines += [f"![samples at step {step}]({g.relative_to(run_dir)})", f"`{g.name}` (step {step})", ""]
    return lines


def _style_mixing_lines(run_dir: Path) -> list[str]:
    """StyleGAN's Figure 3 layout from the final EMA generator (written by the progressive trainer for style-based G)."""
    figure = run_dir / "samples" / "style-mixing.png"
    if not figure.exists():
        return []
    return ["## Style mixing", "", "Top row: source images; first column: destination images; every other image is its row's "
            "destination with the styles of its column's source on the coarse (rows 1-3: 4x4 and 8x8), middle (rows 4-5: "
            "16x16 and 32x32) or fine (row 6: 64x64 and up) layers, as StyleGAN's Figure 3 (constant noise, no truncation; "
            "the last sampled step's EMA generator).", "", f"![style mixing]({figure.relative_to(run_dir)})", ""]


def render_run_report(run_dir: Path) -> tuple[Path, Path]:
    from gbench.config import non_defaults
    from gbench.experiments import paper_config_for

    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    cfg_dict = config["config"]
    evals = json.loads((run_dir / "eval.json").read_text()) if (run_dir / "eval.json").exists() else None
    records = _read_jsonl(run_dir / "metrics.jsonl")
    loss_plot = plot_losses(records, run_dir / "plots" / "losses.png")
    marked = _changed_keys(cfg_dict, non_defaults, paper_config_for)

    md = [f"# {cfg_dict['experiment']} ({cfg_dict['preset']} preset)", ""]
    md.append(f"Run directory `{run_dir}`; config hash `{config['config_hash'][:8]}`; seed {cfg_dict.get('seed', 0)}; device `{config['device']}`; "
              f"gbench {config['versions']['gbench']}, torch {config['versions']['torch']}; commit `{config.get('git_commit', '')[:10] or 'n/a'}`.")
    md.append("")
    metric_plot = None
    if evals:
        final = evals["final"]
        evaluations = evals["evaluations"]
        keys = metric_keys(evaluations)
        md += ["## Results", "", f"Protocol fingerprint: **`{final['fingerprint']}`** "
               f"(extractor `{final.get('extractor', '')}` sha256 `{str(final.get('extractor_sha256', ''))[:12]}`, n_gen {final.get('n_gen')}, "
               f"n_ref {final.get('n_ref')}, reference {final.get('reference')}, sample seed {final.get('sample_seed')}, "
               f"resize: {final.get('resize')}, quantization: {final.get('quantization')}).", ""]
        comparable = final.get("comparable_to", "")
        md.append(f"Comparability: {comparable}." if comparable.startswith("not") or not comparable else
                  f"Comparable to: {comparable} (only if the recipe matches too).")
        shown = keys[:8]
        rows = [[str(r["step"]), r.get("generator", ""), *[_value(r["metrics"], k) for k in shown]] for r in evaluations]
        md += ["", _md_table(["step", "generator", *[METRIC_LABELS.get(k, k) for k in shown]], rows), ""]
        if len(keys) > len(shown):
            md += ["Further metrics of the final evaluation: " + ", ".join(f"{k} {final['metrics'][k]:.4g}" for k in keys[8:]
                                                                          if k in final["metrics"]) + ".", ""]
        if keys:
            metric_plot = plot_metric(evaluations, keys[0], run_dir / "plots" / "metric.png")
        md += _neighbour_lines(run_dir)
    else:
        md += ["## Results", "", "No evaluation yet (the run has not finished).", ""]
    md += ["## Throughput", ""] + _speed_lines(records)
    if loss_plot or metric_plot:
        md += ["## Training curves", ""]
        if loss_plot:
            md += [f"![losses]({loss_plot.relative_to(run_dir)})", ""]
        if metric_plot:
            evaluated = [str(r["step"]) for r in evals["evaluations"]]
            md += [f"![metric over training]({metric_plot.relative_to(run_dir)})", f"Evaluated at steps {', '.join(evaluated)}.", ""]
    md += _grid_lines(run_dir)
    md += _style_mixing_lines(run_dir)
    flat = flat_config(cfg_dict)
    md += ["## Config", ""]
    paper_flat = _paper_flat(cfg_dict["experiment"])
    if marked and paper_flat:
        md += [f"{len(marked)} values differ from the `paper` preset:", "",
               _md_table(["key", "this run", "paper preset"], [[k, str(flat.get(k)), str(paper_flat.get(k))] for k in flat if k in marked]), ""]
    md += ["The full resolved config; values that differ from the `paper` preset are marked **bold**.", "",
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


def _paper_flat(experiment: str) -> dict:
    from gbench.experiments import paper_config_for

    try:
        return flat_config(paper_config_for(experiment).to_dict())
    except Exception:  # an experiment renamed or removed since the run
        return {}


def _embed(src: str, base: Path) -> str:
    path = base / src
    if path.exists():
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    return src


def markdown_to_html(text: str, base: Path) -> str:
    """The small Markdown subset the reports use (headings, tables, images, bold, code, bullets) -> standalone HTML."""

    def inline(s: str) -> str:
        s = html.escape(s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", s)

    out, table, items = [], [], []

    def close_blocks():
        if table:
            out.append("<table>" + "".join(table) + "</table>")
            table.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= set("-") for c in cells):
                continue
            tag = "th" if not table else "td"
            table.append("<tr>" + "".join(f"<{tag}>{inline(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if line.startswith("- "):
            if table:
                close_blocks()
            items.append(inline(line[2:]))
            continue
        close_blocks()
        if m := re.match(r"!\[(.*?)\]\((.+?)\)", line):
            out.append(f'<p><img alt="{html.escape(m.group(1))}" src="{_embed(m.group(2), base)}"></p>')
        elif m := re.match(r"(#+) (.*)", line):
            level = len(m.group(1))
            out.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    close_blocks()
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
             "th{background:#f3f3f3}code{background:#f6f6f6;padding:0 3px}img{max-width:100%;image-rendering:pixelated}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>gbench report</title><style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
