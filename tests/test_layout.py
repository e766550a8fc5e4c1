"""The package layout holds: imports go one way, nothing imports in a cycle, and moving code around never
changed a config hash or a protocol fingerprint (README "Layout")."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from gbench.config import PRESETS
from gbench.experiments import experiments
from gbench.protocols import PROTOCOLS, fingerprint

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).with_name("snapshots") / "hashes.json"

# Rank of each part of the code: a module may import modules of its own rank or below, never above.
LAYERS = (
    ("gbench", "gbench.errors", "gbench.io", "gbench.paths"),
    ("gbench.metrics", "reference_models"),
    ("gbench.config", "gbench.protocols", "gbench.distributed", "gbench.sampling", "gbench.losses", "gbench.augment",
     "gbench.assets", "gbench.data", "gbench.checkpoint", "gbench.models", "gbench.growth"),
    ("gbench.recipes", "gbench.experiments"),
    ("gbench.evaluation",),
    ("gbench.train", "gbench.official", "gbench.inversion"),
    ("gbench.leaderboard", "gbench.report", "gbench.inventory", "gbench.inspect", "gbench.sample"),
    ("gbench.runs", "gbench.invert"),
    ("gbench.tables", "gbench.bench"),
    ("gbench.cli", "gbench.__main__"),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    files = [*ROOT.joinpath("gbench").rglob("*.py"), *ROOT.joinpath("reference_models").rglob("*.py")]
    return {_module_name(f): f for f in files if "__pycache__" not in f.parts}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every gbench / reference_models module that `path` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import gbench.data.download as d` names the module itself
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, set(modules)) for name, path in modules.items()}


def _rank(module: str) -> int:
    best, rank = "", None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, i
    if rank is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in tests/test_layout.py and the README's Layout")
    return rank


def test_every_module_has_a_layer_and_imports_only_its_layer_or_below():
    upward = [f"{m} (layer {_rank(m)}) imports {t} (layer {_rank(t)})"
              for m, targets in sorted(_graph().items()) for t in sorted(targets) if _rank(t) > _rank(m)]
    assert not upward, "imports against the direction of the layers:\n" + "\n".join(upward)


@pytest.mark.parametrize("prefix, allowed, reason", [
    ("gbench.metrics", ("gbench.metrics", "gbench.errors"), "metrics are pure functions: they import nothing of gbench but errors"),
    ("reference_models", ("reference_models",), "reference_models imports nothing from gbench"),
])
def test_pure_packages_import_only_themselves(prefix, allowed, reason):
    bad = [f"{m} imports {t}" for m, targets in _graph().items() if m == prefix or m.startswith(prefix + ".")
           for t in targets if not any(t == a or t.startswith(a + ".") for a in allowed)]
    assert not bad, reason + ":\n" + "\n".join(bad)


@pytest.mark.parametrize("prefix, forbidden", [
    ("gbench.evaluation", ("gbench.train", "gbench.runs", "gbench.report")),
    ("gbench.experiments", ("gbench.train", "gbench.runs")),
    ("gbench.recipes", ("gbench.train", "gbench.runs")),
    ("gbench.train", ("gbench.report", "gbench.runs", "gbench.tables", "gbench.cli")),
    ("gbench.official", ("gbench.train", "gbench.runs", "gbench.report", "gbench.tables", "gbench.cli")),
])
def test_forbidden_imports(prefix, forbidden):
    bad = [f"{m} imports {t}" for m, targets in _graph().items() if m == prefix or m.startswith(prefix + ".")
           for t in targets if any(t == f or t.startswith(f + ".") for f in forbidden)]
    assert not bad, "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_config_hashes_and_fingerprints_are_those_of_the_snapshot():
    """Refactors keep every experiment's resolved config hash and every protocol's fingerprint (with fixed extractor and
    reference hashes). A deliberate change regenerates tests/snapshots/hashes.json in the commit that makes it, and says why."""
    snapshot = json.loads(SNAPSHOT.read_text())
    hashes = {f"{n}/{p}": e.config(p).hash() for n, e in experiments().items() for p in PRESETS}
    prints = {pid: fingerprint(p, "0" * 64, "reference-checksum") for pid, p in PROTOCOLS.items()}
    changed = [k for k in snapshot["config_hashes"] if k in hashes and hashes[k] != snapshot["config_hashes"][k]]
    assert not changed, f"config hashes changed: {changed}"
    changed = [k for k in snapshot["protocol_fingerprints"] if k in prints and prints[k] != snapshot["protocol_fingerprints"][k]]
    assert not changed, f"fingerprints changed: {changed}"
    missing = [k for k in snapshot["config_hashes"] if k not in hashes] + [k for k in snapshot["protocol_fingerprints"] if k not in prints]
    assert not missing, f"gone since the snapshot: {missing}"


def test_metrics_import_alone():
    """`from gbench.metrics import fid_from_features` touches neither torch-fidelity, data, models nor evaluation."""
    import subprocess
    import sys

    code = ("import sys; from gbench.metrics import fid_from_features; "
            "print(sorted(m for m in sys.modules if m.startswith(('torch_fidelity', 'gbench.data', 'gbench.evaluation', "
            "'reference_models', 'gbench.train'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
