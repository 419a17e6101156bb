"""What a test's servers add to its report: the journal tail on failure, strict-mode checks.

Each soccer fixture registers its server on the test item (:func:`track`); the plugin's hooks
read them back after the test body (strict mode) and when the report is made (journal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from harness.core.feed_stream import FeedSource
from harness.core.schedule import ReplayOptions
from harness.plugin.strict import strict_problems
from harness.server.config import ServerStats
from harness.server.journal import JournalEntry

SECTION = "soccer-ws-harness journal"
TAIL = 30
"""Journal entries shown per server in a failed test's report."""


@dataclass(frozen=True, slots=True)
class Tracked:
    """A server a test used: how to read its journal and stats, and whether it is strict."""

    name: str
    journal: Callable[[], list[JournalEntry]]
    stats: Callable[[], ServerStats]
    feed: Callable[[], FeedSource | None]
    """The feed served at the end (the recording's, or the last ``play``'s)."""
    replay: ReplayOptions
    strict: bool


TRACKED = pytest.StashKey[list[Tracked]]()


def track(item: pytest.Item, tracked: Tracked) -> None:
    item.stash.setdefault(TRACKED, []).append(tracked)


def tracked(item: pytest.Item) -> list[Tracked]:
    return item.stash.get(TRACKED, [])


def check_strict(item: pytest.Item) -> None:
    """Fail the test (one message, no traceback) when a strict server found problems."""
    lines = [
        f"{server.name}: {problem}"
        for server in tracked(item)
        if server.strict
        for problem in _problems(server)
    ]
    if lines:
        pytest.fail("soccer-ws-harness strict mode:\n  " + "\n  ".join(lines), pytrace=False)


def _problems(server: Tracked) -> list[str]:
    feed = server.feed()
    if feed is None:
        return []
    return strict_problems(feed, server.replay, server.journal(), server.stats())


def journal_section(item: pytest.Item) -> str | None:
    """The last :data:`TAIL` journal entries of each server of ``item``, with times."""
    parts = []
    for server in tracked(item):
        entries = server.journal()
        start = entries[0].time if entries else 0.0
        shown = entries[-TAIL:]
        lines = [f"{server.name}: last {len(shown)} of {len(entries)} journal entries"]
        lines += [_line(entry, start) for entry in shown]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) if parts else None


def _line(entry: JournalEntry, start: float) -> str:
    conn = f"#{entry.conn_id}" if entry.conn_id is not None else "-"
    return f"  +{entry.time - start:9.3f}s {entry.kind:<8} {conn:>4} {entry.summary}"
