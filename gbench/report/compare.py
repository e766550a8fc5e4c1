"""`gbench compare RUN RUN ...`: a side-by-side report of runs (compare.md + self-contained compare.html).

Sections: the runs (experiment, preset, seed, step, fingerprint), the final metrics grouped by protocol
fingerprint (numbers under different fingerprints are said not to be comparable), the config keys whose values
differ between the runs, curves (losses and the headline metric over training, one line per run) and the last
fixed-z sample grid of each run.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gbench.errors import UsageError  # noqa: E402
from gbench.io import atomic_write_text  # noqa: E402
from gbench.report.run_report import METRIC_LABELS, _md_table, _value, flat_config, markdown_to_html, metric_keys, read_run  # noqa: E402


def _load(run_dir: Path, label: str) -> dict:
    run_dir = Path(run_dir)
    config, evals, records = read_run(run_dir)
    grids = sorted((run_dir / "samples").glob("step-*.png"))
    return {"label": label, "dir": run_dir, "config": config["config"], "hash": str(config.get("config_hash", ""))[:8], "evals": evals,
            "records": records, "grid": grids[-1] if grids else None}


def plot_curves(runs: list[dict], path: Path) -> Path | None:
    """Left: every run's losses (one colour per run, one line style per loss); right: the headline metric over training."""
    loss_keys = list(dict.fromkeys(k for r in runs for rec in r["records"] for k in rec if k.startswith("loss_")))
    evaluations = [e for r in runs if r["evals"] for e in r["evals"]["evaluations"]]
    keys = metric_keys(evaluations)
    if not loss_keys and not keys:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    styles = ["-", "--", ":", "-."]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, r in enumerate(runs):
        colour = colours[i % len(colours)]
        for j, key in enumerate(loss_keys):
            points = [(rec["step"], rec[key]) for rec in r["records"] if rec.get(key) is not None]
            if points:
                axes[0].plot(*zip(*points), styles[j % len(styles)], color=colour, lw=1.1, label=f"{r['label']} {key.removeprefix('loss_')}")
        if keys and r["evals"]:
            points = [(e["step"], e["metrics"][keys[0]]) for e in r["evals"]["evaluations"] if keys[0] in e["metrics"]]
            if points:
                axes[1].plot(*zip(*points), marker="o", color=colour, lw=1.1, label=f"{r['label']} ({r['evals']['final']['fingerprint']})")
    axes[0].set_title("losses")
    axes[1].set_title(f"{METRIC_LABELS.get(keys[0], keys[0])} over training" if keys else "no evaluations")
    for ax in axes:
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def render_compare_report(run_dirs: list, folder: str | Path) -> tuple[Path, Path]:
    if len(run_dirs) < 2:
        raise UsageError("gbench compare needs at least two run directories")
    labels = list(string.ascii_uppercase) + [f"R{i}" for i in range(27, 27 + len(run_dirs))]
    runs = [_load(Path(d), labels[i]) for i, d in enumerate(run_dirs)]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    md = [f"# Comparison of {len(runs)} runs", ""]
    rows = []
    for r in runs:
        final = r["evals"]["final"] if r["evals"] else None
        rows.append([r["label"], r["config"]["experiment"], r["config"]["preset"], str(r["config"].get("seed", 0)),
                     str(final["step"]) if final else "not finished", f"`{final['fingerprint']}`" if final else "–",
                     f"`{r['dir']}`", f"`{r['hash']}`"])
    md += [_md_table(["run", "experiment", "preset", "seed", "step", "fingerprint", "directory", "config hash"], rows), ""]

    md += ["## Metrics (final evaluation)", ""]
    finished = [r for r in runs if r["evals"]]
    by_fp: dict[str, list] = {}
    for r in finished:
        by_fp.setdefault(r["evals"]["final"]["fingerprint"], []).append(r)
    if len(by_fp) > 1:
        md += [f"**Not all comparable:** the runs were scored under {len(by_fp)} protocol fingerprints; numbers are only "
               "comparable within one group below.", ""]
    for fp, group in by_fp.items():
        keys = metric_keys([g["evals"]["final"] for g in group])[:8]
        comparable = group[0]["evals"]["final"].get("comparable_to", "")
        md += [f"Fingerprint `{fp}` ({comparable or 'comparability not recorded'}):", ""]
        md += [_md_table(["run", *[METRIC_LABELS.get(k, k) for k in keys]],
                         [[g["label"], *[_value(g["evals"]["final"]["metrics"], k) for k in keys]] for g in group]), ""]
    unfinished = [r["label"] for r in runs if not r["evals"]]
    if unfinished:
        md += [f"Not finished (no eval.json): {', '.join(unfinished)}.", ""]

    md += ["## Config differences", ""]
    flats = [flat_config(r["config"]) for r in runs]
    keys = [k for k in dict.fromkeys(k for f in flats for k in f) if len({json.dumps(f.get(k), default=str) for f in flats}) > 1]
    if keys:
        md += [_md_table(["key", *[r["label"] for r in runs]], [[k, *[str(f.get(k, "–")) for f in flats]] for k in keys]), ""]
    else:
        md += ["The runs have identical configs.", ""]

    chart = plot_curves(runs, folder / "compare_curves.png")
    if chart:
        md += ["## Curves", "", f"![curves]({chart.name})", ""]
    if any(r["grid"] for r in runs):
        md += ["## Samples (fixed z, last grid of each run)", ""]
        for r in runs:
            if r["grid"]:
                md += [f"**{r['label']}** `{r['grid'].name}`", "", f"![{r['label']}]({os.path.relpath(r['grid'], folder)})", ""]
    text = "\n".join(md)
    md_path, html_path = folder / "compare.md", folder / "compare.html"
    atomic_write_text(text, md_path)
    atomic_write_text(markdown_to_html(text, folder), html_path)
    return md_path, html_path
