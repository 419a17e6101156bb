"""The status display: plain periodic lines, a rich panel on terminals, nothing when quiet."""

from __future__ import annotations

import io

import trio
from rich.console import Console

from harness.core.protocol import classify_frame
from harness.recorder.status import (
    StatusMode,
    StatusSnapshot,
    choose_mode,
    format_size,
    render_table,
    run_status,
)
from harness.recorder.tee import LiveStats


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def busy_stats() -> LiveStats:
    stats = LiveStats()
    frame = b'{"type":"goal","channel":"MAIN","matchId":"1","leagueId":"2","ts":1,"data":{}}'
    for _ in range(3):
        stats.count_frame(classify_frame(frame), len(frame))
    stats.reconnects, stats.renewals = 1, 2
    return stats


def test_mode_follows_quiet_and_terminal() -> None:
    assert choose_mode(quiet=True, stream=_Tty()) is StatusMode.QUIET
    assert choose_mode(quiet=False, stream=_Tty()) is StatusMode.RICH
    assert choose_mode(quiet=False, stream=io.StringIO()) is StatusMode.PLAIN


def test_line_and_sizes() -> None:
    snapshot = StatusSnapshot(75.0, 300, 4.0, 1, 2, 0, 1, 1200.0, 3 * 1024 * 1024)
    line = snapshot.line()
    assert "1m15s elapsed" in line
    assert "300 frames (4.0/s)" in line
    assert "renewal in 20m00s" in line
    assert "3.0 MiB" in line
    assert (format_size(10), format_size(2048)) == ("10 B", "2.0 KiB")


def test_rich_panel_shows_counts_per_channel_and_event() -> None:
    stats = busy_stats()
    console = Console(file=io.StringIO(), width=100)
    console.print(render_table(StatusSnapshot(1.0, 3, 3.0, 1, 2, 0, 1, None, 10), stats))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "channel MAIN" in text
    assert "event goal" in text
    assert "next renewal" in text


async def test_plain_mode_prints_periodic_lines(autojump_clock: trio.testing.MockClock) -> None:
    stream = io.StringIO()
    with trio.move_on_after(35):
        await run_status(
            busy_stats(),
            mode=StatusMode.PLAIN,
            stream=stream,
            file_size=lambda: 5,
            plain_interval_s=10,
        )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("harness record: ") for line in lines)


async def test_quiet_mode_prints_nothing(autojump_clock: trio.testing.MockClock) -> None:
    stream = _Tty()
    with trio.move_on_after(60):
        await run_status(busy_stats(), mode=StatusMode.QUIET, stream=stream, file_size=lambda: 5)
    assert stream.getvalue() == ""


async def test_rich_mode_draws_the_panel(autojump_clock: trio.testing.MockClock) -> None:
    stream = _Tty()
    with trio.move_on_after(2):
        await run_status(busy_stats(), mode=StatusMode.RICH, stream=stream, file_size=lambda: 5)
    assert "frames" in stream.getvalue()


def test_the_plain_line_shows_the_last_error_cause() -> None:
    stats = busy_stats()
    stats.errors, stats.last_error = 2, "could not connect: ConnectError"
    snapshot = StatusSnapshot(1.0, 3, 3.0, 0, 0, 2, 0, None, 10, stats.last_error)
    assert snapshot.line().endswith("; last error: could not connect: ConnectError")
