"""The examples' own test suites pass with the plugin active (found by entry point)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    result.assert_outcomes(passed=6)


NODE = shutil.which("node")


def _node_flags(node: str) -> list[str]:
    """Node 20 has WebSocket behind a flag; later versions have it built in."""
    probe = [node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"]
    built_in = subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0
    return [] if built_in else ["--experimental-websocket"]


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_node_example(tmp_path: Path) -> None:
    # Given a Node consumer's node:test suite driving harness replay --control over HTTP
    assert NODE is not None
    env = {**os.environ, "HARNESS_PYTHON": sys.executable, "PYTHONPATH": str(EXAMPLES.parent)}
    command = [NODE, *_node_flags(NODE), "--test", str(EXAMPLES / "node" / "consumer.test.mjs")]
    # When node runs it, Then every test passes
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
