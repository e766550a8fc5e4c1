"""Reports of `gbench invert`: report.md and a self-contained report.html beside the restorations.

Content: what was restored (task, method, images, generator), whether the numbers can be read against a paper
(and why not), the mean PSNR / SSIM x100 / MSE x1e-3 with the protocol fingerprint, the published values of the
gan_inversion leaderboard for the same method when the protocol matches, the before/after grid (originals, degraded
observations, restorations), throughput (images/s, batch, device, steps per image), the schedule, and the per-image
scores (first rows).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from gbench.io import atomic_write_text
from gbench.report.run_report import markdown_to_html

PER_IMAGE_ROWS = 32
HEADLINE = (("psnr", "PSNR (dB)"), ("ssim_x100", "SSIM x100"), ("mse_x1e-3", "MSE x1e-3"))
PAPER_ROWS = {"dgp": "DGP", "optimize-z": "(a) optimize z"}  # method -> model of leaderboards/gan_inversion.csv


def _published(method: str, protocol: str) -> dict[str, tuple[float, str]]:
    """The gan_inversion leaderboard values of `method` when `protocol` is the one they correspond to."""
    from gbench.leaderboard import PAPER_PROTOCOLS, load_published

    out = {}
    for row in load_published("gan_inversion"):
        paper = PAPER_PROTOCOLS.get(row.protocol)
        if row.model == PAPER_ROWS.get(method) and paper is not None and paper.nominal == protocol:
            out[row.metric] = (row.value, row.source)
    return out


def render_inversion_report(folder: Path) -> tuple[Path, Path]:
    folder = Path(folder)
    data = json.loads((folder / "eval.json").read_text())
    final, speed = data["final"], data["speed"]
    md = [f"# {data['task']} by {data['method']}: {data['experiment']} ({data['preset']} preset)", ""]
    comparable = final.get("comparable_to", "")
    if comparable:
        md.append(f"**Comparable to:** {comparable}.")
    else:
        why = ("smoke / quick preset" if data["preset"] != "paper" else
               "not the released generator, not the reconstruction task or not the paper's image set")
        md.append(f"**Not comparable to any paper** ({why}): these numbers show the restoration running end to end under "
                  "gbench's protocol machinery.")
    md += ["", f"Images: {data['n']} from `{data['images']}`; generator: {data['generator']}; schedule `{data['schedule']}`.", ""]
    published = _published(data["method"], final.get("protocol", "")) if data["task"] == "reconstruct" else {}
    header = ["metric", "measured (mean over images)"] + (["paper"] if published else [])
    rows = []
    for key, label in HEADLINE:
        row = [label, f"{final['metrics'][key]:.3f}"]
        if published:
            row.append(f"{published[key][0]:.2f}" if key in published else "–")
        rows.append(row)
    md += ["## Scores", "", f"Fingerprint **`{final['fingerprint']}`**.", "", "| " + " | ".join(header) + " |",
           "|" + "---|" * len(header), *["| " + " | ".join(r) + " |" for r in rows], ""]
    if published:
        md += [f"Paper values: {next(iter(published.values()))[1]} (leaderboards/gan_inversion.csv; see its notes for provenance).", ""]
    md += ["## Before / after", "", "Rows: originals, degraded observations, restorations (the first images).", "",
           "![before and after](grid.png)", ""]
    md += ["## Throughput", "",
           f"{data['n']} images restored in {speed['seconds']:.1f} s: **{speed['images_per_second']:.3f} img/s** "
           f"(batch {speed['batch_size']}, device `{speed['device']}`, {speed['steps_per_image']} optimisation steps and "
           f"{speed['select_num']} latent candidates per image; images/s counts selection and optimisation, not loading or scoring).", ""]
    stages = data.get("schedule_stages", [])
    if stages:
        keys = list(stages[0])
        md += ["## Schedule", "", "| stage | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1),
               *[f"| {i + 1} | " + " | ".join(str(s[k]) for k in keys) + " |" for i, s in enumerate(stages)], ""]
    per_image = list(csv.reader((folder / "per_image.csv").read_text().splitlines()))
    if per_image:
        head, body = per_image[0], per_image[1:]
        md += ["## Per image", "", f"All {len(body)} in `per_image.csv`" + (f"; the first {PER_IMAGE_ROWS}:" if len(body) > PER_IMAGE_ROWS else ":"),
               "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
               *["| " + " | ".join(r) + " |" for r in body[:PER_IMAGE_ROWS]], ""]
    text = "\n".join(md)
    md_path, html_path = folder / "report.md", folder / "report.html"
    atomic_write_text(text, md_path)
    atomic_write_text(markdown_to_html(text, folder), html_path)
    return md_path, html_path
