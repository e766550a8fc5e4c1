"""Run reports: report.md and a self-contained report.html (images embedded), plus plots/.

Content, top to bottom: the experiment and provenance (run directory, config hash, device, versions, commit);
the protocol fingerprint and its constants; every evaluation (step 0, periodic ones, the final one); the run's
further evaluations by `gbench eval --run` under other protocols (e.g. `<protocol>+pr` for precision/recall next
to FID, `<protocol>-dinov2`), each under its own fingerprint; the nearest leaderboard neighbours of the final result (same fingerprint, plus published rows under the nominally
equivalent paper protocol, flagged); loss curves and the headline metric over training; fixed-z sample grids
over training; throughput (images/s) and peak GPU memory when the log has it; the config with the values
that differ from the `paper` preset marked. Numbers under a protocol that matches no paper say so.
"""

from __future__ import annotations

import base64
import json
import html
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gbench.errors import GBenchError, UsageError  # noqa: E402
from gbench.io import atomic_write_text, read_json, read_jsonl  # noqa: E402

METRIC_LABELS = {"is_mean": "IS", "fid": "FID", "kid_mean": "KID ×10³", "fd_dinov2": "FD_DINOv2", "kd_dinov2_mean": "KD_DINOv2 ×10³"}
# KID and KD are printed x 10^3, as the papers print KID
SCALES = {"kid_mean": 1e3, "kid_std": 1e3, "kd_dinov2_mean": 1e3, "kd_dinov2_std": 1e3}
SPREADS = {"is_mean": "is_std", "kid_mean": "kid_std", "kd_dinov2_mean": "kd_dinov2_std"}
# precision and recall right after the distance: fidelity and diversity read next to FID
HEADLINE_ORDER = ("fid", "fd_dinov2", "precision", "recall", "is_mean", "kid_mean", "kd_dinov2_mean", "density", "coverage",
                  "pixel_acc", "class_acc", "class_iou")
MEMORY_KEYS = ("gpu_mem_mb", "max_memory_mb", "peak_memory_mb")  # peak GPU memory per log window, if the trainer logs it
MAX_GRIDS = 4


CONFIG_REMEDY = "rerun the run's `gbench run` command (it rewrites config.json), or remove the run directory"
EVAL_REMEDY = "rerun the run's `gbench run` command (it rebuilds eval.json from the final checkpoint), or remove the file"


def read_run(run_dir: Path) -> tuple[dict, dict | None, list[dict]]:
    """(config.json, eval.json or None, metrics.jsonl rows) of a run directory; a damaged file is one GBenchError
    naming it and what to do, a damaged log line is skipped with a warning."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise UsageError(f"{run_dir} is not a run directory (no config.json)")
    config = read_json(run_dir / "config.json", CONFIG_REMEDY)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise GBenchError(f"{run_dir / 'config.json'} is not a gbench run config; {CONFIG_REMEDY}")
    evals = read_json(run_dir / "eval.json", EVAL_REMEDY) if (run_dir / "eval.json").exists() else None
    if evals is not None and not (isinstance(evals, dict) and isinstance(evals.get("final"), dict)):
        raise GBenchError(f"{run_dir / 'eval.json'} is not a gbench eval.json; {EVAL_REMEDY}")
    return config, evals, read_jsonl(run_dir / "metrics.jsonl")


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
    v = metrics[key] * SCALES.get(key, 1)
    digits = 4 if key.startswith("ssim") else 3
    text = f"{v:.{digits}f}"
    if key in SPREADS and SPREADS[key] in metrics:
        text += f" ± {metrics[SPREADS[key]] * SCALES.get(SPREADS[key], 1):.{digits}f}"
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
    rows = [[str(e.rank), e.model + (" **(this run)**" if e is found["me"] else ""), e.setting, format_value(e.values.get(metric), metric),
             f"`{e.run_dir}`"] for e in found["same"]]
    lines += [_md_table(["#", "model", "setting", metric, "run"], rows), ""]
    if found["nominal"]:
        lines += [f"Nearest published {metric} under the paper protocol that `{found['fingerprint'].split('@')[0]}` nominally matches "
                  "(a different fingerprint: the extractor implementation and recipe may differ):", ""]
        rows = [[e.model, e.setting, format_value(e.values.get(metric), metric), e.protocol, e.source] for e in found["nominal"]]
        lines += [_md_table(["model", "setting", metric, "protocol", "source"], rows), ""]
    else:
        lines += ["No published rows share this protocol: its numbers are not comparable to any paper's.", ""]
    return lines


def further_evaluations(run_dir: Path) -> list[dict]:
    """`gbench eval --run` reports saved in the run directory (eval-<protocol>.json), oldest protocol name first; unreadable
    ones are skipped."""
    reports = []
    for path in sorted(Path(run_dir).glob("eval-*.json")):
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and data.get("results") and "metrics" in data["results"][0]:
                reports.append({**data, "file": path.name})
        except (OSError, json.JSONDecodeError):
            continue
    return reports


def _further_lines(run_dir: Path) -> list[str]:
    """One row per `gbench eval` report of this run: its fingerprint, generator and metrics (per-seed mean when several)."""
    reports = further_evaluations(run_dir)
    if not reports:
        return []
    metrics = [{k: sum(r["metrics"][k] for r in rep["results"]) / len(rep["results"]) for k in rep["results"][0]["metrics"]}
               for rep in reports]
    keys = metric_keys([{"metrics": m} for m in metrics])
    rows = [[f"`{rep['fingerprint']}`", rep.get("setting", ""), str(len(rep["results"])), *[_value(m, k) for k in keys]]
            for rep, m in zip(reports, metrics)]
    return ["### Further evaluations", "", "`gbench eval --run` results saved in this run directory, each under its own fingerprint "
            "(compare a column only between rows of one fingerprint; FD_DINOv2/KD_DINOv2 and the k-NN metrics of a `-dinov2` "
            "protocol live in another feature space than FID's).", "",
            _md_table(["fingerprint", "generator", "seeds", *[METRIC_LABELS.get(k, k) for k in keys]], rows), ""]


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
    lines = ["## Samples (fixed z)", "", "The same latents (image-to-image and SR: the same inputs; text-to-image: one row per test "
             "caption, the same z in every column) at every step, so the grids are comparable over training.", ""]
    real = run_dir / "samples" / "real.png"
    if real.exists():
        lines += [f"![real training images]({real.relative_to(run_dir)})", "`real.png`: real training images, for comparison", ""]
    for g in grids:
        step = int(re.sub(r"\D", "", g.stem) or 0)
        lines += [f"![samples at step {step}]({g.relative_to(run_dir)})", f"`{g.name}` (step {step})", ""]
    style = sorted((run_dir / "samples").glob("style-transfer-step-*.png"))
    if style:  # text-to-image runs with a style encoder S (gbench/train/text2image.py)
        lines += ["## Style transfer", "", "Top row: test images x; below, one row per caption t: G(S(x), phi(t)) with the trained "
                  "style encoder S (Reed et al. 2016, section 4.4).", "", f"![style transfer]({style[-1].relative_to(run_dir)})",
                  f"`{style[-1].name}`", ""]
    return lines


def _not_comparable(cfg_dict: dict, evals: dict | None) -> str:
    """Why the run's numbers cannot be read against a paper ("" when they can: paper preset under a protocol that
    matches published numbers)."""
    reasons = []
    if cfg_dict.get("preset") != "paper":
        reasons.append(f"{cfg_dict.get('preset')} preset")
    comparable = (evals or {}).get("final", {}).get("comparable_to", "") if evals else ""
    if evals and (not comparable or comparable.startswith("not")):
        reasons.append(f"protocol {evals['final'].get('fingerprint', '?')} matches no published numbers")
    return "; ".join(reasons)


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
    config, evals, records = read_run(run_dir)
    cfg_dict = config["config"]
    loss_plot = plot_losses(records, run_dir / "plots" / "losses.png")
    marked = _changed_keys(cfg_dict, non_defaults, paper_config_for)

    md = [f"# {cfg_dict['experiment']} ({cfg_dict['preset']} preset)", ""]
    banner = _not_comparable(cfg_dict, evals)
    if banner:
        md += [f"**⚠ NOT COMPARABLE to any paper: {banner}.**", ""]
    runtime = config.get("runtime") or {}
    md.append(f"Run directory `{run_dir}`; config hash `{config['config_hash'][:8]}`; seed {cfg_dict.get('seed', 0)}; device `{config['device']}`"
              + (f", {runtime['torch_threads']} CPU thread(s), {runtime.get('precision', 'fp32')}, deterministic algorithms "
                 f"{'on' if runtime.get('deterministic_algorithms') else 'off'}" if runtime else "")
              + f"; gbench {config['versions']['gbench']}, torch {config['versions']['torch']}; commit `{config.get('git_commit', '')[:10] or 'n/a'}`.")
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
        sampling = final.get("sampling") or {}
        if sampling.get("mode") == "train":
            md += [f"Generator sampled in **train mode**: {sampling.get('note', '')}.", ""]
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
        md += _further_lines(run_dir)
        md += _neighbour_lines(run_dir)
    else:
        md += ["## Results", "", "No evaluation yet (the run has not finished).", ""] + _further_lines(run_dir)
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
