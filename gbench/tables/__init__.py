"""Declarative paper tables and `gbench reproduce`: cells -> runs -> paper vs measured.

A `Table` is rows x columns of `Cell`s. A cell names an experiment, the config overrides that make the
paper's setting, the metric it reads from the run's eval.json and the paper's value (with the gbench protocol
that measures what the paper measured). Cells with the same experiment, overrides and seed are the same run
directory, so a run shared by two tables (TransGAN Table 2's "TransGAN + DA" is Table 3's first row) trains
once. `reproduce` resolves a table under a preset, runs the missing runs (finished ones are skipped,
interrupted ones resume: gbench/runs.py does both), optionally several at a time in worker processes,
and collects mean +- std over training seeds, the delta to the paper and a comparability flag
(same protocol and recipe as the paper: yes or no, and why). gbench/report/table_report.py renders it.

Tables:
- `transgan-table1` .. `transgan-table5`: TransGAN v1 (Jiang et al. 2021) Tables 1-5 (paper_tables.md); Table 5
  takes its rows from leaderboards/cifar10.csv.
- `pix2pix-losses`, `pix2pix-patch`, `cyclegan-cityscapes`, `srgan-x4`: the plain-data `TABLES` of
  gbench/recipes/{pix2pix,cyclegan,srgan}.py, read defensively (a missing module makes the table "not available").
- `biggan-imagenet128`: BigGAN Table 1, each row `biggan-imagenet128` with the row's switches (scale-dependent ones per
  preset, `Cell.preset_overrides`); the paper preset needs a cluster (`Table.compute` says what the paper used).
- `dgp-inversion`: DGP's GAN-inversion comparison; its (a) and DGP cells are `Cell.inversion` jobs (`gbench invert` on
  the experiment's run, or on its released checkpoint at the paper/quick presets), run after the training they need.
- `published-checkpoints`: every release of gbench/official/registry.py; its cells evaluate the authors' released
  weights under the release's protocol (`Cell.release`), nothing is trained.

A cell whose experiment does not exist shows "not available" and the reason; it is never filled in.
Deviation: the TransGAN paper's WGAN-GP architecture in Tables 2 and 5 is not stated; gbench's `wgan-gp`
experiment (the WGAN-GP paper's ResNet) stands in for it.

Modules: `specs` (the tables as data and their registry) and `runner` (plan, run, collect: `gbench reproduce`); `launchers`
(cells as Slurm or submitit-local jobs through submitit, preemption-safe), `status` (`--status`/`--wait`: every run's state
from its run directory and its job) and `jobfiles` (the `jobs/` folder of a run directory). The reports are rendered by
gbench/report/table_report.py.
"""

from gbench.tables.runner import (Job, Measured, Plan, PlannedCell, collect, comparability, inversion_comparability, job_status, plan,
                                     reproduce, run_missing, select_rows, table_status, worker_devices)
from gbench.tables.specs import TABLES, Cell, Inversion, Table, gan_table, get_table, is_fid_cells, register_table, table_names

__all__ = ["TABLES", "Cell", "Inversion", "Job", "Measured", "Plan", "PlannedCell", "Table", "collect", "comparability", "gan_table",
           "get_table", "inversion_comparability", "is_fid_cells", "job_status", "plan", "register_table", "reproduce", "run_missing",
           "select_rows", "table_names", "table_status", "worker_devices"]
