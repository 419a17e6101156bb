"""Live status of a recording: a rich panel on a terminal, plain lines otherwise, or nothing.

The display only reads :class:`LiveStats`; it never slows the recorder (it wakes a few times
a second at most).  Plain lines go out every ``PLAIN_INTERVAL_S`` so logs of unattended runs
show progress without flooding.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import trio
from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.core.durations import format_duration
from harness.recorder.tee import LiveStats

RICH_REFRESH_S = 0.5
PLAIN_INTERVAL_S = 10.0
TOP_COUNTS = 8


class StatusMode(enum.Enum):
    RICH = "rich"
    PLAIN = "plain"
    QUIET = "quiet"


def choose_mode(*, quiet: bool, stream: TextIO) -> StatusMode:
    """Nothing with --quiet, rich on a terminal, plain lines otherwise."""
    if quiet:
        return StatusMode.QUIET
    return StatusMode.RICH if stream.isatty() else StatusMode.PLAIN


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Everything one status line shows, computed from the stats at one instant."""

    elapsed_s: float
    frames: int
    frames_per_s: float
    reconnects: int
    renewals: int
    errors: int
    open_connections: int
    renewal_in_s: float | None
    file_bytes: int
    last_error: str = ""  # already redacted by the tee

    def line(self) -> str:
        renewal = "-" if self.renewal_in_s is None else format_duration(self.renewal_in_s)
        cause = f"; last error: {self.last_error}" if self.last_error else ""
        return (
            f"harness record: {format_duration(self.elapsed_s)} elapsed, {self.frames} frames "
            f"({self.frames_per_s:.1f}/s), {self.open_connections} open, "
            f"{self.reconnects} reconnects, {self.renewals} renewals, {self.errors} errors, "
            f"renewal in {renewal}, {format_size(self.file_bytes)}{cause}"
        )


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class _Sampler:
    """Turns successive stats readings into snapshots with a frames/s rate."""

    def __init__(self, stats: LiveStats, file_size: Callable[[], int]) -> None:
        self._stats = stats
        self._file_size = file_size
        self._started = trio.current_time()
        self._last = (self._started, 0)

    def sample(self) -> StatusSnapshot:
        now = trio.current_time()
        stats = self._stats
        last_time, last_frames = self._last
        rate = (stats.frames_in - last_frames) / (now - last_time) if now > last_time else 0.0
        self._last = (now, stats.frames_in)
        renewal = stats.next_renewal_at
        renewal_in = None if renewal is None or math.isinf(renewal) else max(0.0, renewal - now)
        return StatusSnapshot(
            now - self._started,
            stats.frames_in,
            rate,
            stats.reconnects,
            stats.renewals,
            stats.errors,
            stats.open_connections,
            renewal_in,
            self._file_size(),
            stats.last_error,
        )


def render_table(snapshot: StatusSnapshot, stats: LiveStats) -> Table:
    """The rich panel: headline figures, then counts per channel and per event type."""
    table = Table(title="harness record", show_header=False, expand=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    renewal = snapshot.renewal_in_s
    rows = [
        ("elapsed", format_duration(snapshot.elapsed_s)),
        ("frames", f"{snapshot.frames} ({snapshot.frames_per_s:.1f}/s)"),
        ("connections", f"{snapshot.open_connections} open, {snapshot.reconnects} reconnects"),
        ("next renewal", "-" if renewal is None else format_duration(renewal)),
        ("renewals / errors", f"{snapshot.renewals} / {snapshot.errors}"),
        ("file", format_size(snapshot.file_bytes)),
    ]
    for name, count in stats.by_channel.most_common(TOP_COUNTS):
        rows.append((f"channel {name}", str(count)))
    for name, count in stats.by_event.most_common(TOP_COUNTS):
        rows.append((f"event {name}", str(count)))
    if stats.last_error:
        rows.append(("last error", stats.last_error))
    for name, value in rows:
        table.add_row(name, value)
    return table


async def run_status(
    stats: LiveStats,
    *,
    mode: StatusMode,
    stream: TextIO,
    file_size: Callable[[], int],
    plain_interval_s: float = PLAIN_INTERVAL_S,
    rich_refresh_s: float = RICH_REFRESH_S,
) -> None:
    """Show the status until cancelled (the rich panel shows one last update on the way out)."""
    if mode is StatusMode.QUIET:
        await trio.sleep_forever()
    sampler = _Sampler(stats, file_size)
    if mode is StatusMode.PLAIN:  # the command prints the final summary itself
        while True:
            await trio.sleep(plain_interval_s)
            print(sampler.sample().line(), file=stream, flush=True)
    console = Console(file=stream)
    with Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                live.update(render_table(sampler.sample(), stats), refresh=True)
                await trio.sleep(rich_refresh_s)
        finally:
            live.update(render_table(sampler.sample(), stats), refresh=True)
