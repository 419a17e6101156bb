"""The recorder benchmark runs end to end at a tiny size and reports sane figures."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench_module() -> ModuleType:
    """``benchmarks.recorder``, importable however pytest was started (it is not installed)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("benchmarks.recorder")


def test_recorder_benchmark_runs(
    bench_module: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    result = bench_module.run(quick=True)
    assert result.bare_fps > 0
    assert result.recorder_fps > 0
    assert result.recorded_frames > 0
    assert "ratio" in capsys.readouterr().out
