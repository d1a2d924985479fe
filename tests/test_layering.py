"""The import structure: every room (package or gan_module submodule) sits on a floor and imports only from its
own floor or below, and no two rooms import each other, directly or round a cycle.

The floors say what may know about what: the building blocks know nothing of the module that orchestrates
them, the DataModules and callbacks know nothing of the CLI, and only the entry points and the study know the CLI.
A new file in a new room fails here until it is given a floor.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gan_module", "callbacks", "datamodules", "benchmarks")

#: floor of each room, lowest first
FLOORS: dict[str, int] = {
    "gan_module.errors": 0,
    **dict.fromkeys(
        [
            # the pieces chosen in YAML
            "gan_module.losses",
            "gan_module.regularizers",
            "gan_module.networks",
            "gan_module.noise",
            "gan_module.ema",
            "gan_module.schedules",
            "gan_module.loggers",
            "gan_module.distributed",
            "gan_module.checkpoint_io",
            "gan_module.samplers",
            "gan_module.augment",
            # measurement and the logged names
            "gan_module.metrics",
            "gan_module.names",
            # the run: its folder, resume, step log, checkpoint reading, W&B, the machine
            "gan_module.run",
        ],
        1,
    ),
    # the GAN module and its parts (gan_module/model/), and what observes and feeds it
    **dict.fromkeys(["gan_module.model", "datamodules", "callbacks"], 2),
    **dict.fromkeys(["gan_module", "gan_module.cli"], 3),
    **dict.fromkeys(["gan_module.study", "benchmarks", "main"], 4),
}


def room(module: str) -> str:
    """``gan_module.<submodule or subpackage>``, or the top-level package (``gan_module`` for its ``__init__``)."""
    parts = module.split(".")
    if parts[0] == "gan_module" and len(parts) > 1:
        inside = ROOT / "gan_module" / parts[1]
        if inside.is_dir() or inside.with_suffix(".py").is_file():
            return f"gan_module.{parts[1]}"
    return parts[0]


def import_graph() -> dict[str, set[str]]:
    """Room -> the other rooms it imports (absolute imports of this project's packages)."""
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")] + [ROOT / "main.py"]
    edges: dict[str, set[str]] = defaultdict(set)
    for path in files:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]  # `from gan_module import names`
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in (*PACKAGES, "main") and room(target) != room(module):
                    edges[room(module)].add(room(target))
        edges.setdefault(room(module), set())
    return edges


def test_every_room_has_a_floor():
    assert sorted(set(import_graph()) - set(FLOORS)) == []


def test_no_room_imports_from_a_floor_above_its_own():
    upward = [
        f"{source} (floor {FLOORS[source]}) imports {target} (floor {FLOORS[target]})"
        for source, targets in import_graph().items()
        for target in targets
        if FLOORS.get(target, 99) > FLOORS.get(source, -1)
    ]
    assert upward == []


def test_the_rooms_import_each_other_without_cycles():
    graph, state = import_graph(), {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            assert state.get(target) != "open", " -> ".join([*path, node, target])
            if target not in state:
                visit(target, [*path, node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_the_guard_sees_a_real_upward_import():
    """The graph is read from the files: callbacks import the metrics (floor 1), the study imports the CLI."""
    graph = import_graph()
    assert "gan_module.metrics" in graph["callbacks"] and "gan_module.cli" in graph["gan_module.study"]


# ------------------------------------------------------------------------ one owner for every piece of state
#: the files whose classes are mixed into gan_module.model.module.GAN: they share one ``self``
GAN_PARTS = (
    "module",
    "stepping",
    "sampling",
    "step_diagnostics",
    "step_logging",
    "held_out",
    "preparation",
    "run_state",
)


def private_state(sources: dict[str, str]) -> dict[str, tuple[set[str], set[str]]]:
    """Private attribute of ``self`` -> (files assigning it, files reading it); a class-level declaration
    (``_x: int = 0``, ``_x = ()``) counts as an assignment in its file."""
    found: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for name, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
                if node.attr.startswith("_") and not node.attr.startswith("__"):
                    found[node.attr][0 if isinstance(node.ctx, ast.Store | ast.Del) else 1].add(name)
            elif isinstance(node, ast.ClassDef):
                for statement in node.body:
                    targets = [statement.target] if isinstance(statement, ast.AnnAssign) else []
                    targets += statement.targets if isinstance(statement, ast.Assign) else []
                    for target in targets:
                        if isinstance(target, ast.Name) and target.id.startswith("_"):
                            found[target.id][0].add(name)
    return found


def crossings(sources: dict[str, str]) -> list[str]:
    """Private state written in one file and read in another."""
    return [
        f"self.{attribute}: assigned in {sorted(written)}, read in {sorted(read - written)}"
        for attribute, (written, read) in private_state(sources).items()
        if written and read - written
    ]


def test_no_private_attribute_of_the_gan_is_written_in_one_part_and_read_in_another():
    sources = {part: (ROOT / "gan_module" / "model" / f"{part}.py").read_text() for part in GAN_PARTS}
    assert crossings(sources) == []


def test_the_state_guard_sees_a_crossing():
    sources = {
        "a": "class A:\n    def f(self):\n        self._x = 1\n",
        "b": "class B:\n    def g(self):\n        return self._x\n",
    }
    assert crossings(sources) == ["self._x: assigned in ['a'], read in ['b']"]
    declared = {"a": "class A:\n    _y: int = 0\n", "b": "class B:\n    def g(self):\n        return self._y\n"}
    assert crossings(declared) == ["self._y: assigned in ['a'], read in ['b']"]
