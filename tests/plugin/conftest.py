"""Plugin tests: downstream projects in ``pytester`` folders, with the plugin found the way an
installed distribution's is (a ``pytest11`` entry point), so no conftest and no ``-p``."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
ENTRY_POINT_GROUP = "pytest11"


def declared_entry_point() -> tuple[str, str]:
    """The pytest11 entry point pyproject.toml declares: (name, module)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    ((name, module),) = project["entry-points"][ENTRY_POINT_GROUP].items()
    return name, module


def _entry_point_dist(folder: Path) -> Path:
    """A minimal ``.dist-info`` declaring the plugin's entry point, as ``pip install`` writes."""
    name, module = declared_entry_point()
    info = folder / "soccer_ws_harness_under_test-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: soccer-ws-harness-under-test\nVersion: 0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{name} = {module}\n", encoding="utf-8"
    )
    return folder


@pytest.fixture
def downstream(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> pytest.Pytester:
    """A downstream project folder whose pytest finds this worktree's plugin by entry point."""
    dist = _entry_point_dist(tmp_path_factory.mktemp("site"))
    paths = [str(ROOT), str(dist), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    assert sys.executable
    return pytester
