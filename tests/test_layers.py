"""The packages of app/ are layers: each imports from its own layer and the ones below it, never
from one above (but for a few imports named here, each with its reason), and no two packages
import each other, however indirectly. Imports inside functions count as much as any other.
docs/architecture.md draws the layers."""

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from sqlmodel import SQLModel

import app.models  # noqa: F401 - every table registered

REPO = Path(__file__).resolve().parent.parent

# Bottom to top. A package is the first two parts of a module's name (app.cases, app.db); `app`
# itself is the package's root, its version.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "foundation",
        frozenset(
            {
                "app",
                "app.common",
                "app.config",
                "app.clock",
                "app.errors",
                "app.context",
                "app.db",
                "app.logs",
                "app.migrate",
            }
        ),
    ),
    ("tables", frozenset({"app.models"})),
    (
        "domains",
        frozenset(
            {
                "app.auth",
                "app.audit",
                "app.cases",
                "app.reps",
                "app.tasks",
                "app.letters",
                "app.conferences",
                "app.contacts",
                "app.safeguarding",
                "app.events",
                "app.webhooks",
                "app.referrals",
                "app.reports",
                "app.retention",
                "app.subject_access",
                "app.idempotency",
                "app.nonassociations",
                "app.notes",
                "app.workflows",
            }
        ),
    ),
    ("flows", frozenset({"app.flows"})),
    (
        "entry points",
        frozenset(
            {
                "app.api",
                "app.timed_work",
                "app.cli",
                "app.serving",
                "app.seed",
                "app.demo",
                "app.main",
                "app.openapi",
            }
        ),
    ),
)

# Imports from a lower layer to a higher one, module to module, each with why it stays.
RUNS_UP: dict[tuple[str, str], str] = {}

# What app/ may not import: the repository around the package, which an installed copy lacks.
BESIDE = ("bench", "tests", "migrations")


def layer_of(package: str) -> int:
    """The layer's place, bottom first, of a package."""
    return next(n for n, (_name, members) in enumerate(LAYERS) if package in members)


def package_of(module: str) -> str:
    """app.cases.service -> app.cases; app -> app."""
    return ".".join(module.split(".")[:2])


def modules(root: Path) -> dict[str, Path]:
    """Every module under root/app by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted((root / "app").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(root: Path) -> Iterator[tuple[str, str]]:
    """(importing module, imported module) for every import in app/, at any depth of the code;
    `from app.cases import service` imports app.cases.service, `from app import __version__` app."""
    known = modules(root)
    for module, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield module, alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")[: len(module.split(".")) + is_package - node.level]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    member = f"{source}.{alias.name}"
                    yield module, member if member in known else source


def own_imports(root: Path) -> list[tuple[str, str]]:
    """The imports of app/ by app/, between two packages."""
    return [
        (importer, imported)
        for importer, imported in imports(root)
        if (imported == "app" or imported.startswith("app.")) and package_of(importer) != package_of(imported)
    ]


def cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """One cycle (a list of packages, the first again at the end) through each group of packages
    that import each other, however indirectly (Tarjan's strongly connected components)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for importer, imported in edges:
        graph[package_of(importer)].add(package_of(imported))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = [[start]]
    while paths:  # breadth first, so the cycle shown is a shortest one through `start`
        path = paths.pop(0)
        for nxt in sorted(graph[path[-1]] & group):
            if nxt == start:
                return [*path, start]
            if nxt not in path:
                paths.append([*path, nxt])
    raise AssertionError(f"no cycle in {group}")  # pragma: no cover - a component always has one


def runs_up(edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The imports from a lower layer to a higher one."""
    return [(a, b) for a, b in edges if layer_of(package_of(a)) < layer_of(package_of(b))]


class TestLayers:
    def test_every_package_has_its_layer(self) -> None:
        packages = {package_of(m) for m in modules(REPO)}
        placed = set().union(*(members for _name, members in LAYERS))
        assert packages == placed, f"unplaced: {sorted(packages - placed)}; gone: {sorted(placed - packages)}"

    def test_no_import_runs_up_a_layer_unless_named_with_its_reason(self) -> None:
        unnamed = [f"{a} -> {b}" for a, b in runs_up(own_imports(REPO)) if (a, b) not in RUNS_UP]
        assert not unnamed, "imports from a lower layer to a higher one:\n" + "\n".join(unnamed)

    def test_each_named_import_up_is_still_made(self) -> None:
        made = set(runs_up(own_imports(REPO)))
        assert not set(RUNS_UP) - made, f"no longer made, take them off: {sorted(set(RUNS_UP) - made)}"

    def test_the_package_imports_nothing_from_the_repository_around_it(self) -> None:
        outside = [f"{a} -> {b}" for a, b in imports(REPO) if b.split(".")[0] in BESIDE]
        assert not outside, "app/ imports what an installed package does not hold:\n" + "\n".join(outside)


class TestCycles:
    def test_no_two_packages_import_each_other_however_indirectly(self) -> None:
        # An import named in RUNS_UP runs against the layers, so it closes a loop by its nature:
        # the loops are looked for without those few.
        edges = [edge for edge in own_imports(REPO) if edge not in RUNS_UP]
        found = [" -> ".join(cycle) for cycle in cycles(edges)]
        assert not found, "packages that import each other:\n" + "\n".join(found)

    def test_an_import_inside_a_function_closes_a_cycle(self, tmp_path: Path) -> None:
        for name, text in {
            "app/__init__.py": "",
            "app/a/__init__.py": "",
            "app/a/one.py": "from app.b import two\n",
            "app/b/__init__.py": "",
            "app/b/two.py": "def late():\n    from app.a import one\n    return one\n",
        }.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)

        assert cycles(own_imports(tmp_path)) == [["app.a", "app.b", "app.a"]]


class TestTables:
    def test_every_table_is_declared_in_app_models(self) -> None:
        elsewhere = sorted(
            f"{mapper.class_.__module__}.{mapper.class_.__name__}"
            for mapper in SQLModel._sa_registry.mappers
            if not mapper.class_.__module__.startswith("app.models.")
        )
        assert not elsewhere, f"tables declared outside app/models: {elsewhere}"
