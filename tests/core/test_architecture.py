"""The shape of the code: the core stands alone, adapters reach it only through its ports, no import
cycles, and no room too big to hold in one's head."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "chatbot"
ADAPTERS = ROOT / "adapters"
FORBIDDEN = ("adapters", "slack_bolt", "slack_sdk", "discord", "aiohttp")
# The database and the composition root are the core's business: an adapter that needs them is
# doing the core's work.
NOT_FOR_ADAPTERS = ("sqlalchemy", "sqlmodel", "alembic", "chatbot.storage", "chatbot.app", "chatbot.cli")
MAX_LINES = 400


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, *, runtime_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if runtime_only and isinstance(node, ast.If) and _type_checking(node):
            yield from (n for child in node.orelse for n in _imports(child, runtime_only=True))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node, runtime_only=runtime_only)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, *, runtime_only: bool = False) -> set[str]:
    """Every module a file imports, at any depth (a lazy import counts too); `from package import
    name` counts as `package.name` as well, since the name may be a module."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in _imports(ast.parse(path.read_text(), str(path)), runtime_only=runtime_only):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(filter(None, [*anchor, base]))
        found.add(base)
        found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_core_imports_no_adapter_and_no_platform_sdk():
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in CORE.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    }
    assert offenders == set()


def test_adapters_reach_the_core_only_through_its_ports():
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in ADAPTERS.rglob("*.py")
        for module in imported_modules(path)
        if _within(module, NOT_FOR_ADAPTERS)
    }
    assert offenders == set()


def _core_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in CORE.rglob("*.py")}
    return {name: {m for m in imported_modules(path, runtime_only=True) if m in modules and m != name}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for following in sorted(graph[node]):
            if following not in index:
                visit(following)
                low[node] = min(low[node], low[following])
            elif following in stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_import_cycle_among_the_core_modules():
    assert _cycles(_core_graph()) == []


def test_the_cycle_check_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_file_is_a_room_too_big_to_hold_in_ones_head():
    too_long = {
        str(path.relative_to(ROOT)): lines
        for folder in (CORE, ADAPTERS)
        for path in folder.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}
