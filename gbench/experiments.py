"""Named experiments: model + dataset + training recipe + evaluation protocol, with presets.

- `paper`: the published recipe (the default); which official script or paper it follows is in `follows`.
- `quick`: about one GPU-hour, same protocol family with fewer samples; its numbers are flagged not comparable.
- `smoke`: CPU, well under a minute, procedural shapes32 data and the `toy-shapes32` protocol, offline.
Presets are dicts of dotted overrides on the paper config; `--set key=value` goes on top.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field, replace

from gbench.config import PRESETS, RunConfig, apply_overrides, validate
from gbench.errors import UsageError


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    follows: str  # the official code / paper the paper preset follows
    paper: RunConfig
    presets: dict = field(default_factory=dict)  # preset name -> overrides on `paper`
    task: str = "gan"
    deviations: tuple = ()

    def config(self, preset: str = "paper") -> RunConfig:
        if preset not in PRESETS:
            raise _unknown("preset", preset, PRESETS)
        return apply_overrides(replace(self.paper, preset=preset), self.presets.get(preset, {}))


# Every smoke preset trains on shapes32 and is scored under the toy protocol.
SMOKE_DATA = {"data.dataset": "shapes32", "data.split": "train", "data.size": 5000, "data.resolution": 32, "data.flip": False,
              "eval.protocol": "toy-shapes32"}


def _collect() -> dict[str, Experiment]:
    """Experiments from every module of gbench/recipes/ (one file per model family, each with EXPERIMENTS = [...])."""
    import importlib
    import pkgutil

    import gbench.recipes

    found: dict[str, Experiment] = {}
    for info in sorted(pkgutil.iter_modules(gbench.recipes.__path__), key=lambda m: m.name):
        for exp in importlib.import_module(f"gbench.recipes.{info.name}").EXPERIMENTS:
            if exp.name in found:
                raise RuntimeError(f"experiment {exp.name!r} is defined twice (gbench/recipes/{info.name}.py)")
            found[exp.name] = exp
    return found


def _unknown(kind: str, name: str, known) -> UsageError:
    hint = difflib.get_close_matches(name, list(known), n=1)
    return UsageError(f"unknown {kind} {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(known)}"))


@functools.lru_cache(maxsize=1)
def experiments() -> dict[str, Experiment]:
    """All experiments by name (collected once from gbench/recipes/)."""
    return _collect()


def get_experiment(name: str) -> Experiment:
    registry = experiments()
    if name not in registry:
        raise _unknown("experiment", name, registry)
    return registry[name]


def paper_config_for(name: str) -> RunConfig:
    return get_experiment(name).config("paper")


def resolve_config(name: str, preset: str = "paper", overrides: list[str] | None = None, seed: int | None = None) -> RunConfig:
    """The fully resolved and validated config of `gbench run NAME --preset P --set ... --seed N`."""
    cfg = get_experiment(name).config(preset)
    if overrides:
        cfg = apply_overrides(cfg, list(overrides))
    if seed is not None:
        cfg = replace(cfg, seed=seed)
    return validate(cfg)
