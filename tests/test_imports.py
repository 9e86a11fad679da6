"""Imports flow one way (docs: ARCHITECTURE, rule 2), read from the source with `ast`.

scripts -> scenario -> trainer / lav / predict / export -> model, data, evaluator, device -> util, errors.
`export`, `lav` and `predict` never import `trainer` (they work on an exported model); nothing imports `scripts`
or the package root; `tfaip_core` never imports `scenarios`. Params modules form their own TensorFlow-free tree:
they may import each other across layers, `errors` and util, never TensorFlow/Keras and never a non-params module
of a higher layer. No import cycles. Imports under `if TYPE_CHECKING:` do not count; imports inside functions do
(they run). `import_violations` takes the graph as data, so a test plants bad edges into the real graph.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Set, Union

import pytest

PACKAGE = "tfaip_core"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
LAYERS = {"util": 0, "errors": 0, "version": 0, "model": 1, "data": 1, "evaluator": 1, "device": 1}
LAYERS.update({"trainer": 2, "lav": 2, "predict": 2, "export": 2, "scenario": 3, "scripts": 4})
WITHOUT_TRAINER = ("export", "lav", "predict")
TENSORFLOW = ("tensorflow", "keras", "tf_keras", "tensorboard")
Graph = Dict[str, Set[str]]


# ---------------------------------------------------------------- reading the graph


def package_modules(root: Path = ROOT) -> Dict[str, Path]:
    """Dotted module name -> file of every module of the package (packages by their `__init__.py`)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[Union[ast.Import, ast.ImportFrom]]:
    """Every import statement below `node`, at any depth (functions too), except under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.orelse:  # the `else:` branch runs
                yield from _imports_at(statement)
        else:
            yield from _imports_at(child)


def _imports_at(node: ast.AST) -> Iterator[Union[ast.Import, ast.ImportFrom]]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    yield from _imports(node)


def imported_modules(module: str, path: Path, known: Set[str]) -> Set[str]:
    """The modules `module` imports: package modules by their full name, others by their top-level name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: Set[str] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            found.update(_module(alias.name, known) for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.add(candidate if candidate in known else _module(base, known))
    found.discard(module)
    return found


def _module(name: str, known: Set[str]) -> str:
    """`name` itself if it is a package module (else its longest known parent); a third-party top-level name."""
    if not name.startswith(PACKAGE):
        return name.split(".")[0]
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def import_graph(root: Path = ROOT) -> Graph:
    modules = package_modules(root)
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def params_modules(root: Path = ROOT) -> Set[str]:
    """Modules named `*params` or defining a `@pai_dataclass` class: they hold params dataclasses (programs in
    `scripts`, e.g. `train_from_params`, are not params modules)."""
    found = set()
    for name, path in package_modules(root).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        decorated = any(
            isinstance(node, ast.ClassDef) and any("pai_dataclass" in ast.unparse(d) for d in node.decorator_list)
            for node in ast.walk(tree)
        )
        if (name.endswith("params") and part_of(name) != "scripts") or decorated:
            found.add(name)
    return found


# ---------------------------------------------------------------- the rules


def part_of(module: str) -> Optional[str]:
    """`tfaip_core.data.params` -> `data`; the package root -> None."""
    parts = module.split(".")
    return parts[1] if parts[0] == PACKAGE and len(parts) > 1 else None


def layer_of(module: str) -> Optional[int]:
    part = part_of(module)
    return LAYERS.get(part) if part else None


def import_violations(graph: Graph, params: Iterable[str] = ()) -> List[str]:
    """Every edge of `graph` ({module: imported modules}) against the direction, and every cycle, as one line each.

    `params` names the params modules besides those whose name ends in `params`.
    """
    params = {m for m in graph if m.endswith("params") and part_of(m) != "scripts"} | set(params)
    problems = []
    for module in sorted(graph):
        for target in sorted(graph[module]):
            problem = _edge_problem(module, target, params)
            if problem:
                problems.append(f"{module} -> {target}: {problem}")
    problems += [f"import cycle: {' -> '.join(cycle + [cycle[0]])}" for cycle in import_cycles(graph)]
    return problems


def _edge_problem(module: str, target: str, params: Set[str]) -> Optional[str]:
    source_part, target_part = part_of(module), part_of(target)
    if target.split(".")[0] == "scenarios":
        return "tfaip_core never imports the example scenarios"
    if target == PACKAGE:
        return "nothing inside the package imports its root (the public API)"
    if target_part == "scripts" and source_part != "scripts":
        return "nothing imports scripts"
    if source_part in WITHOUT_TRAINER and target_part == "trainer":
        return f"{source_part} works on exported models and never imports trainer"
    if module in params:
        if target.split(".")[0] in TENSORFLOW:
            return "params modules never import TensorFlow/Keras (they are read to parse flags and run directories)"
        if target in params:
            return None  # the params tree may cross layers
    source_layer, target_layer = layer_of(module), layer_of(target)
    if source_layer is not None and target_layer is not None and target_layer > source_layer:
        return f"{source_part} (layer {source_layer}) must not import {target_part} (layer {target_layer})"
    return None


def import_cycles(graph: Graph) -> List[List[str]]:
    """The strongly connected groups of package modules (Tarjan), each as one cycle through it, sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_cycle_through(graph, group) for group in groups)


def _cycle_through(graph: Graph, group: List[str]) -> List[str]:
    """A shortest cycle from the group's first module back to it (breadth-first inside the group)."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return paths[node]
            if target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    return group  # unreachable for a strongly connected group


# ---------------------------------------------------------------- tests


def test_the_graph_reader_sees_imports_in_functions_but_not_under_type_checking(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    (package / "data").mkdir(parents=True)
    (package / "trainer").mkdir()
    for init in (package, package / "data", package / "trainer"):
        (init / "__init__.py").write_text("")
    (package / "trainer" / "loop.py").write_text("import numpy as np\nfrom ..data import params as p\n")
    (package / "data" / "params.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from tfaip_core.trainer.loop import x\n"
        "else:\n    import json\n"
        "def f():\n    import tensorflow as tf\n    from tfaip_core.trainer import loop\n"
    )
    graph = import_graph(package)
    assert graph["tfaip_core.trainer.loop"] == {"numpy", "tfaip_core.data.params"}
    assert graph["tfaip_core.data.params"] == {"typing", "json", "tensorflow", "tfaip_core.trainer.loop"}
    assert import_violations(graph) == [
        "tfaip_core.data.params -> tensorflow: params modules never import TensorFlow/Keras (they are read to parse "
        "flags and run directories)",
        "tfaip_core.data.params -> tfaip_core.trainer.loop: data (layer 1) must not import trainer (layer 2)",
        "import cycle: tfaip_core.data.params -> tfaip_core.trainer.loop -> tfaip_core.data.params",
    ]


def test_the_checker_reports_a_planted_export_to_trainer_edge_and_cycle() -> None:
    graph = import_graph()
    real = set(import_violations(graph, params_modules()))
    planted = {module: set(targets) for module, targets in graph.items()}
    planted["tfaip_core.export.saved_model"].add("tfaip_core.trainer.trainer")
    planted["tfaip_core.util.io"].add("tfaip_core.util.logging")
    planted["tfaip_core.util.logging"].add("tfaip_core.util.io")
    planted["tfaip_core.data.params"].add("tfaip_core.scenario.scenario_base")
    planted["tfaip_core.device.params"].add("tensorflow")
    new = sorted(set(import_violations(planted, params_modules())) - real)
    assert (
        "tfaip_core.export.saved_model -> tfaip_core.trainer.trainer: export works on exported models and never "
        "imports trainer"
    ) in new
    assert "import cycle: tfaip_core.util.io -> tfaip_core.util.logging -> tfaip_core.util.io" in new
    assert (
        "tfaip_core.data.params -> tfaip_core.scenario.scenario_base: data (layer 1) must not import scenario (layer 3)"
    ) in new
    assert any(line.startswith("tfaip_core.device.params -> tensorflow: params modules never") for line in new)


@pytest.mark.parametrize(
    "edge, expected",
    [
        (("tfaip_core.lav.lav", "tfaip_core.trainer.params"), "lav works on exported models and never imports trainer"),
        (("tfaip_core.model.model_base", "tfaip_core.scripts.cli"), "nothing imports scripts"),
        (("tfaip_core.data.data_base", "scenarios.tutorial.data"), "tfaip_core never imports the example scenarios"),
        (("tfaip_core.trainer.trainer", "tfaip_core"), "nothing inside the package imports its root (the public API)"),
        (("tfaip_core.util.io", "tfaip_core.data.sample"), "util (layer 0) must not import data (layer 1)"),
        (
            ("tfaip_core.trainer.params", "tfaip_core.scenario.list_file"),
            "trainer (layer 2) must not import scenario (layer 3)",
        ),
    ],
)
def test_each_rule_names_the_edge(edge: tuple, expected: str) -> None:
    source, target = edge
    assert import_violations({source: {target}}) == [f"{source} -> {target}: {expected}"]


def test_params_modules_may_cross_layers_to_other_params_modules() -> None:
    graph = {
        "tfaip_core.trainer.params": {"tfaip_core.scenario.params", "tfaip_core.errors", "paiargparse"},
        "tfaip_core.scenario.params": {"tfaip_core.data.params"},
        "tfaip_core.data.params": {"tfaip_core.data.processor"},
        "tfaip_core.data.processor": {"tfaip_core.data.sample"},
    }
    assert import_violations(graph, params=["tfaip_core.data.processor"]) == []
    graph["tfaip_core.data.processor"].add("tfaip_core.trainer.trainer")
    assert import_violations(graph, params=["tfaip_core.data.processor"]) == [
        "tfaip_core.data.processor -> tfaip_core.trainer.trainer: data (layer 1) must not import trainer (layer 2)"
    ]


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {part_of(m) for m in import_graph()} - {None}
    assert parts <= set(LAYERS), sorted(parts - set(LAYERS))


def test_the_package_imports_flow_one_way() -> None:
    problems = import_violations(import_graph(), params_modules())
    assert not problems, "\n".join(problems)
