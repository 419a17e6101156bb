"""The examples' own test suites pass with the plugin active (found by entry point)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_scoreboard_example(downstream: pytest.Pytester) -> None:
    # Given the scoreboard example as a downstream project (its own pytest.ini, no conftest)
    shutil.copytree(
        EXAMPLES / "scoreboard",
        downstream.path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # When its tests run, Then they pass
    result = downstream.runpytest_subprocess("tests")
    result.assert_outcomes(passed=5)
