"""``harness check`` and ``harness diff`` end to end: output, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import default_recording_path
from harness.cli import main

BUNDLED = default_recording_path()
GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "v1-small.msgpack"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_a_recording_that_matches_the_docs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(BUNDLED))
    assert (code, err) == (0, "")
    assert out == f"{BUNDLED}: matches the docs (5,596 server frames)\n"


def test_check_lists_what_differs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(GOLDEN))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{GOLDEN}: 4 differences from the docs in 1 server frame"
    assert "missing-field MAIN/goal: documented field data.score never seen" in out
    code, out, _ = run(capsys, "check", "--json", str(GOLDEN))
    report = json.loads(out)
    assert (code, report["ok"], len(report["findings"])) == (1, False, 4)
    assert set(report["findings"][0]) >= {"check", "key", "path", "count", "index", "offset"}


def test_diff_of_two_seeds_is_quiet_and_of_other_feeds_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "seed7.msgpack"
    assert run(capsys, "synth", "-o", str(other), "--seed", "7")[0] == 0
    code, out, _ = run(capsys, "diff", str(BUNDLED), str(other))
    assert (code, out) == (0, f"{BUNDLED} -> {other}: no drift\n")
    code, out, _ = run(capsys, "diff", str(BUNDLED), str(GOLDEN))
    assert code == 1
    assert out.splitlines()[0].endswith(" drifts")
    assert "  event-type    MAIN/halftime: 9 frames -> none" in out
    code, out, _ = run(capsys, "diff", "--json", str(BUNDLED), str(GOLDEN))
    assert code == 1
    assert json.loads(out)["drifts"][0]["check"] == "field"


@pytest.mark.parametrize("args", [["check"], ["diff", str(BUNDLED)]])
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    text = tmp_path / "x.txt"
    text.write_text("hello")
    for path, message in [
        (tmp_path / "missing", "no such file"),
        (text, "not a"),
        (tmp_path, "directory"),
    ]:
        code, out, err = run(capsys, *args, str(path))
        assert (code, out) == (1, "")
        assert err.count("\n") == 1
        assert message in err
