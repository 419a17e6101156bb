"""The plugin's start benchmark runs at a tiny size and reports its figures (no timing aims)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_plugin_start_benchmark_reports_per_test_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    row = importlib.import_module("benchmarks.plugin_start").run(quick=True)
    assert row.tests == 20
    assert row.fixture_median > 0
    assert row.bare_median > 0
    assert row.direct_median > 0
    assert row.trio_median > 0
    assert row.thread_fps > 0
    assert row.process_fps > 0
    assert "fixture cost over a bare test" in capsys.readouterr().out
