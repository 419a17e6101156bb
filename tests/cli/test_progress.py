"""The progress display: a ``\\r`` line on a terminal, nothing at all otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import default_recording_path
from harness.cli import _progress, main
from harness.core.progress import watch_inputs
from harness.core.recording import open_reader

BUNDLED = default_recording_path()


def test_readers_report_their_position_to_a_watcher() -> None:
    seen: list[tuple[str, int, int]] = []
    with watch_inputs(lambda *report: seen.append(report)), open_reader(BUNDLED) as reader:
        records = sum(1 for _ in reader)
    size = BUNDLED.stat().st_size
    assert records == 6_590
    assert seen[-1] == (str(BUNDLED), size, size)
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
    with open_reader(BUNDLED) as reader:  # nobody watching: the plain file
        assert type(reader._stream).__name__ == "BufferedReader"


@pytest.mark.parametrize(
    "args",
    [
        ["verify", str(BUNDLED)],
        ["check", str(BUNDLED)],
        ["diff", str(BUNDLED), str(BUNDLED)],
        ["export", str(BUNDLED), "-o", "{out}"],
        ["merge", str(BUNDLED), str(BUNDLED), "-o", "{out}"],
    ],
)
def test_on_a_terminal_a_line_counts_up_and_is_erased(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    monkeypatch.setattr(_progress, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(_progress, "MIN_SIZE_BYTES", 0)
    command = [a.format(out=tmp_path / "out") for a in args]
    assert main(command) in (0, 1)
    err = capsys.readouterr().err
    assert f"\rharness {args[0]}: {BUNDLED} " in err
    assert "100% (3.3 of 3.3 MB)" in err
    blank = err.rindex("100%")
    assert re.match(r"[^\r]*\r {20,}\r", err[blank:])  # the line is blanked once read
    assert "\r" not in err[err.index("\r", err.index("\r", blank) + 1) + 1 :]


def test_not_on_a_terminal_nothing_is_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_progress, "MIN_SIZE_BYTES", 0)
    assert main(["verify", str(BUNDLED)]) == 0
    assert capsys.readouterr().err == ""
