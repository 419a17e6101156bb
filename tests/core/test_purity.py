"""The layering rule: a pure core that knows no I/O, and every import pointing down."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness.core

PACKAGE = Path(__file__).parents[2] / "harness"

IO_LIBRARIES = frozenset(
    {
        "asyncio",
        "click",
        "h11",
        "httpx",
        "rich",
        "selectors",
        "signal",
        "socket",
        "ssl",
        "subprocess",
        "threading",
        "time",
        "trio",
        "trio_websocket",
        "trustme",
        "wsproto",
    }
)
"""What ``harness.core`` must never import: networking, event loops, terminals, clocks."""

LAYERS_BELOW = {
    "core": {"core", "errors"},
    "net": {"core", "errors", "net"},
    "server": {"core", "errors", "net", "server"},
    "recorder": {"core", "errors", "net", "recorder"},
    "cli": {"core", "errors", "net", "server", "recorder", "recordings", "_version", "cli"},
    "plugin": {"core", "errors", "net", "server", "recorder", "recordings", "_version", "plugin"},
}
"""The ``harness`` subpackages each layer may import: its own and those below it."""


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("core"), ids=lambda p: p.name)
def test_core_imports_no_io_library(path: Path) -> None:
    used = {name.split(".")[0] for name in _imports(path)}
    assert not used & IO_LIBRARIES, f"{path.name} imports {sorted(used & IO_LIBRARIES)}"


@pytest.mark.parametrize("layer", sorted(LAYERS_BELOW))
def test_every_import_points_down(layer: str) -> None:
    upward = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _modules(layer)
        for name in _imports(path)
        if name.startswith("harness.") and name.split(".")[1] not in LAYERS_BELOW[layer]
    }
    assert not upward


def test_every_layer_is_checked() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS_BELOW)


CORE_DEPENDENCIES = ("msgpack", "hypothesis")
"""What ``harness.core`` may import from outside the standard library (hypothesis itself loads
trio when trio is installed, to seed its random generator: that is not the core's I/O)."""


def test_importing_the_core_loads_no_third_party_io_library() -> None:
    """Transitively too: the AST test sees direct imports only."""
    names = [m.name for m in pkgutil.iter_modules(harness.core.__path__, "harness.core.")]
    third_party = sorted(IO_LIBRARIES - set(sys.stdlib_module_names))
    code = (
        "import importlib, sys\n"
        f"for name in {CORE_DEPENDENCIES!r}: importlib.import_module(name)\n"
        "before = set(sys.modules)\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"print(','.join(m for m in {third_party!r} if m in set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert names, "harness.core has no modules"
    assert out.stdout.strip() == ""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_between_modules() -> None:
    """Not even under ``TYPE_CHECKING``: a cycle means two modules share one job."""
    graph = {
        _module_name(path): {name for name in _imports(path) if name.startswith("harness.")}
        for path in PACKAGE.rglob("*.py")
    }
    cycles = {
        tuple(sorted((a, b)))
        for a, targets in graph.items()
        for b in targets
        if a != b and a in graph.get(b, set()) and not b.startswith(a + ".")
    }
    assert not cycles
