"""examples/fuzzing: hypothesis finds the live board's bug through the plugin, shrinks it to a
stream of at most 3 frames saved as a recording, and the regression test replays it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.core.loading import read_feed

EXAMPLE = Path(__file__).parents[2] / "examples" / "fuzzing"
SEEDED = ["-p", "hypothesis", "--hypothesis-seed=0"]


@pytest.mark.slow
def test_hypothesis_finds_the_bug_and_saves_a_minimal_stream_that_replays(
    downstream: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the example as a downstream project
    shutil.copytree(
        EXAMPLE, downstream.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    saved = downstream.path / "tests" / "recordings" / "livescore-minimal.msgpack"
    # When its property test runs, Then it fails on the bug, and the shrunk stream is saved
    result = downstream.runpytest_subprocess(*SEEDED, "tests")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*KeyError*", "*the failing stream (* frames) is saved as*"])
    frames = read_feed(saved).frames
    assert 1 <= len(frames) <= 3
    assert any(frame.info.event_type == "odds_update_realtime" for frame in frames)
    # When the regression test replays the saved stream, Then it fails the same way
    result = downstream.runpytest_subprocess("tests", "-k", "saved")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*KeyError*"])
    # When the board is fixed, Then both pass
    monkeypatch.setenv("LIVESCORE_FIXED", "1")
    result = downstream.runpytest_subprocess(*SEEDED, "tests")
    result.assert_outcomes(passed=2)
