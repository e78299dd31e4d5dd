"""The import contract: which layer of distsim may import which (GUIDE "Planned layering").

Every ``import`` and ``from ... import`` in ``distsim/`` (module level, inside
functions, and under ``TYPE_CHECKING``) is an edge of the package's import
graph, found by walking the syntax tree. Each module belongs to one layer of
:data:`LAYERS`; an edge from layer ``a`` to layer ``b`` is allowed only when
``b`` is ``a`` itself or listed in :data:`ALLOWED` for ``a``: every layer
listed before ``a`` except those :data:`NOT_ALLOWED` names. So the layers form
a strict order with no cycle between them, and the runtime graph (without
``TYPE_CHECKING`` edges) must have no module-level cycle. Third-party
libraries are checked too: the pure model may not import SimPy, pydantic,
YAML or matplotlib, and heavy libraries are imported only where used (the
subprocess tests below import the API and check what got loaded).

To add a module: put it under the prefix of its layer. To add a layer or an
edge: edit :data:`LAYERS` / :data:`NOT_ALLOWED`, the README's layout table and
CONTRIBUTING.md together (``test_readme_layout_lists_every_layer`` checks the
README).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "distsim"

#: Layer name -> module prefixes (``distsim.x`` covers ``distsim.x`` and ``distsim.x.*``), lowest layer first.
LAYERS: dict[str, tuple[str, ...]] = {
    # Leaf utilities anyone may import: the one exception type, all atomic writers and CSV cells, name tables,
    # progress bars, optional dependencies.
    "util": (
        "distsim.errors",
        "distsim.io",
        "distsim.reading",
        "distsim.plugins",
        "distsim.provenance",
        "distsim.progress",
        "distsim.optional",
    ),
    # The pure model: numpy and stdlib only, plain data in and out.
    "model": ("distsim.model",),
    # Packaged catalogues (devices, radios, CNNs, SSIM table) read into model objects.
    "catalog": ("distsim.catalog",),
    # Privacy mechanisms over the model.
    "privacy": ("distsim.privacy",),
    # The placement kernel: may device j take this segment (one rule, written once).
    "placement": ("distsim.placement",),
    # The scenario schema (pydantic) and the scheduler / timing name tables it is checked against.
    "schema": ("distsim.fields", "distsim.scenario", "distsim.names"),
    # Resolution of a scenario into the plain typed data schedulers and the engine need.
    "world": ("distsim.world", "distsim.settings"),
    # Schedulers behind one protocol (the exact solver a package of its own).
    "scheduling": ("distsim.scheduling",),
    # The SimPy engine: arrivals, retries, reservations, timing models, records.
    "engine": ("distsim.engine",),
    # The run API (simulate, atomic run folders).
    "api": ("distsim.run",),
    # Reinforcement learning: a Gymnasium environment over the engine, a policy scheduler, a learner.
    "rl": ("distsim.rl",),
    # Sweeps: grids, replications, local or Dask execution, tidy tables, aggregation.
    "experiments": ("distsim.experiments",),
    # Figures from run and sweep results.
    "plots": ("distsim.plots",),
    # Benchmark suites (``distsim bench``), shipped in the package so that they run from a wheel.
    "benchmarks": ("distsim.benchmarks",),
    # The thin command line over the Python API (and the lazy package root, which re-exports the API).
    "cli": ("distsim.commands", "distsim.cli", "distsim.__main__", "distsim.benchmarks.__main__", "distsim"),
}

#: Layer -> lower layers (listed before it in LAYERS) it may still not import; every other lower layer is allowed.
NOT_ALLOWED: dict[str, frozenset[str]] = {
    # The schema checks the shape of a scenario; resolving names into catalogue, mechanism or placement
    # objects is the world's job. (validation_to_input_error lives here; names.py calls it.)
    "schema": frozenset({"catalog", "privacy", "placement"}),
    # Reinforcement learning is a branch of its own beside sweeps, plots and benchmarks: they reach an RL
    # policy through the scheduler registry (a dotted path), never by importing it.
    "experiments": frozenset({"rl"}),
    "plots": frozenset({"rl"}),
    "benchmarks": frozenset({"rl"}),
}


def _allowed() -> dict[str, frozenset[str]]:
    order = list(LAYERS)
    return {layer: frozenset(order[:k]) - NOT_ALLOWED.get(layer, frozenset()) for k, layer in enumerate(order)}


#: Layer -> the lower layers it may import (besides itself): those listed before it in LAYERS, minus NOT_ALLOWED.
ALLOWED: dict[str, frozenset[str]] = _allowed()

#: Third-party modules a layer must never import, even lazily.
FORBIDDEN_EXTERNAL: dict[str, frozenset[str]] = {
    "util": frozenset({"simpy", "pydantic", "matplotlib", "yaml", "networkx", "ortools"}),
    "model": frozenset({"simpy", "pydantic", "matplotlib", "yaml", "ortools"}),
    "catalog": frozenset({"simpy", "pydantic", "matplotlib"}),
    "privacy": frozenset({"simpy", "pydantic", "matplotlib"}),
    "placement": frozenset({"simpy", "pydantic", "matplotlib"}),
    "schema": frozenset({"simpy", "matplotlib"}),
    "world": frozenset({"simpy", "matplotlib"}),
    "scheduling": frozenset({"simpy", "matplotlib"}),
}

#: Outside the package: only the command line may reach the benchmark suites (``distsim bench``).
BENCHMARKS_ALLOWED_FROM = frozenset({"cli"})

#: Heavy libraries: imported only where used, never by importing the API or the command line.
HEAVY = ("ortools", "networkx", "matplotlib", "numba", "gymnasium", "pandas", "dask", "distributed", "pyarrow")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, *, type_checking: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import node under ``tree`` with whether it sits in an ``if TYPE_CHECKING:`` block."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, type_checking
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), type_checking=True)
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), type_checking=type_checking)
        else:
            yield from _imports(node, type_checking=type_checking)


def import_edges(modules: dict[str, Path]) -> list[tuple[str, str, bool, int]]:
    """``(importer, imported, under TYPE_CHECKING, line)`` for every import in the package.

    ``imported`` is a distsim module when the import names one, otherwise the
    top-level name of the third-party or standard-library module.
    """
    edges = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, guarded in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    # ``from distsim import catalog`` imports the module distsim.catalog.
                    candidate = f"{base}.{alias.name}"
                    targets.append(candidate if candidate in modules else base)
            for target in targets:
                if target.split(".")[0] == "distsim":
                    while target not in modules:  # a name inside a module: the module itself
                        target = target.rsplit(".", 1)[0]
                else:
                    target = target.split(".")[0]
                edges.append((name, target, guarded, node.lineno))
    return edges


def layer_of(module: str) -> str:
    """The layer whose longest prefix matches ``module``."""
    best, best_len = None, -1
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = layer, len(prefix)
    if best is None:
        raise AssertionError(f"{module} belongs to no layer of the import contract; add it to LAYERS")
    return best


MODULES = package_modules()
EDGES = import_edges(MODULES)


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_allowed_table_is_acyclic_and_follows_the_layer_order() -> None:
    """A layer may import only layers below it (so the layers form a strict order and no cycle)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(LAYERS)
    graph.add_edges_from((a, b) for a, lower in ALLOWED.items() for b in lower)
    assert set(ALLOWED) == set(LAYERS)
    assert nx.is_directed_acyclic_graph(graph), list(nx.simple_cycles(graph))
    order = list(LAYERS)
    for a, lower in ALLOWED.items():
        for b in lower:
            assert order.index(b) < order.index(a), f"{a} may import {b}, which is listed above it"
    for a, excluded in NOT_ALLOWED.items():
        assert a in LAYERS and excluded <= set(order[: order.index(a)]), f"NOT_ALLOWED[{a!r}] names no lower layer"


def crossings(edges: list[tuple[str, str, bool, int]]) -> list[str]:
    """The edges of ``edges`` that go from a layer to one it may not import."""
    found = []
    for importer, imported, _, line in edges:
        if imported not in MODULES:
            continue
        a, b = layer_of(importer), layer_of(imported)
        if a != b and b not in ALLOWED[a]:
            where = MODULES[importer].relative_to(ROOT) if importer in MODULES else importer
            found.append(f"{where}:{line}: {importer} ({a}) imports {imported} ({b})")
    return found


def test_no_layer_is_crossed() -> None:
    found = crossings(EDGES)
    assert not found, "imports that cross a layer of the contract:\n" + "\n".join(found)


def test_no_forbidden_third_party_import() -> None:
    found = []
    for importer, imported, _, line in EDGES:
        if imported in FORBIDDEN_EXTERNAL.get(layer_of(importer), frozenset()):
            found.append(f"{MODULES[importer].relative_to(ROOT)}:{line}: {importer} imports {imported}")
        if imported == "benchmarks" and layer_of(importer) not in BENCHMARKS_ALLOWED_FROM:
            found.append(f"{MODULES[importer].relative_to(ROOT)}:{line}: {importer} imports the benchmarks")
    assert not found, "\n".join(found)


def test_no_import_cycle_between_modules() -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    graph.add_edges_from(
        (a, b)
        for a, b, guarded, _ in EDGES
        # A package importing its own submodules (``experiments/__init__`` re-exporting) is not a cycle.
        if b in MODULES and not guarded and a != b and not b.startswith(a + ".")
    )
    cycles = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, f"import cycles: {[sorted(c) for c in cycles]}"


def test_the_contract_catches_a_crossing() -> None:
    """The checks above can fail: upward imports are crossings, downward ones are not."""
    upward = [
        ("distsim.model.topology", "distsim.scenario", False, 1),  # the model taking schema objects
        ("distsim.world", "distsim.engine.timing", False, 2),  # the old world -> engine cycle
        ("distsim.scheduling.base", "distsim.engine.simulation", True, 3),  # even under TYPE_CHECKING
    ]
    assert len(crossings(upward)) == 3
    assert crossings([("distsim.engine.simulation", "distsim.world", False, 1)]) == []
    assert layer_of("distsim.scheduling.exact.model") == "scheduling"
    assert layer_of("distsim") == "cli"
    assert layer_of("distsim.names") == "schema"
    tree = ast.parse("from distsim.engine.simulation import Simulation\nfrom distsim import catalog\n")
    found = [(node.module, guarded) for node, guarded in _imports(tree)]
    assert found == [("distsim.engine.simulation", False), ("distsim", False)]
    guarded_tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import distsim.world\n")
    assert [g for _, g in _imports(guarded_tree)] == [False, True]


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    return set(out.stdout.split())


def test_the_pure_model_loads_no_simpy_pydantic_or_matplotlib() -> None:
    loaded = _loaded_after("import distsim.model.cnn, distsim.model.cost, distsim.model.devices, distsim.model.privacy")
    assert not loaded & {"simpy", "pydantic", "matplotlib", "yaml", "networkx", *HEAVY}


@pytest.mark.parametrize(
    "statement",
    ["from distsim import load_scenario, simulate", "import distsim.cli", "import distsim.world, distsim.run"],
)
def test_the_api_and_the_command_line_load_no_heavy_library(statement: str) -> None:
    assert not _loaded_after(statement) & set(HEAVY)


def test_package_root_api_is_lazy_but_complete() -> None:
    import distsim

    for name in distsim.__all__:
        assert getattr(distsim, name) is not None
    with pytest.raises(AttributeError):
        _ = distsim.no_such_name  # type: ignore[attr-defined]


def test_readme_layout_lists_every_layer() -> None:
    """Every existing layer's paths appear in the README's layout table, in the contract's order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `distsim")]
    position = {}
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            path = prefix.replace(".", "/")
            hits = [k for k, row in enumerate(rows) if f"`{path}/`" in row or f"`{path}.py`" in row]
            exists = any(m == prefix or m.startswith(prefix + ".") for m in MODULES)
            if prefix in ("distsim", "distsim.__main__", "distsim.benchmarks.__main__") or not exists:
                continue  # the root is the package itself; planned layers join the README when they land
            assert hits, f"README layout table lacks {path} (layer {layer})"
            position.setdefault(layer, hits[0])
    ordered = sorted(position, key=lambda layer: list(LAYERS).index(layer))
    assert [position[layer] for layer in ordered] == sorted(position[layer] for layer in ordered), (
        "README layout rows are not in the contract's layer order"
    )
