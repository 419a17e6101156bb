"""A bounded record of what clients sent the mock and what it sent back.

Kinds: ``http`` (one entry per request: request line and answer), ``ws_open``, ``ws_in`` (a
client frame), ``ws_out`` (a reply, a pushed frame, a close frame), ``ws_close`` and ``note``
(decisions worth knowing, e.g. a STATS subscription the recording never held).  Replayed event
frames are counted in the server's stats, not journalled one by one: at ``--speed max`` that
would cost more than sending them.

The journal is a ring buffer (``maxlen`` entries, oldest dropped first, :attr:`dropped` counts
them), so a long run never grows it without limit.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import trio

DEFAULT_JOURNAL_SIZE = 10_000
SUMMARY_LIMIT = 300
"""Characters of a frame or body kept in an entry's summary."""

KINDS = frozenset({"http", "ws_open", "ws_in", "ws_out", "ws_close", "note"})


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One thing that happened: wall-clock time, kind, connection id (None for HTTP/notes)."""

    time: float
    kind: str
    conn_id: int | None
    summary: str


def shorten(data: bytes | str, limit: int = SUMMARY_LIMIT) -> str:
    """A printable, bounded rendering of a frame or body for a summary."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Journal:
    """Ring buffer of :class:`JournalEntry`; ``wait_for`` lets tests wait without sleeping."""

    def __init__(
        self, maxlen: int = DEFAULT_JOURNAL_SIZE, *, clock: Callable[[], float] = time.time
    ):
        self._entries: deque[JournalEntry] = deque(maxlen=max(1, maxlen))
        self._clock = clock
        self._changed = trio.Event()
        self.dropped = 0

    def add(self, kind: str, summary: str, conn_id: int | None = None) -> JournalEntry:
        entry = JournalEntry(self._clock(), kind, conn_id, summary)
        if len(self._entries) == self._entries.maxlen:
            self.dropped += 1
        self._entries.append(entry)
        self._changed.set()
        self._changed = trio.Event()
        return entry

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(tuple(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, kind: str | None = None, conn_id: int | None = None) -> list[JournalEntry]:
        """Entries, oldest first, optionally of one kind and/or one connection."""
        return [
            e
            for e in self._entries
            if (kind is None or e.kind == kind) and (conn_id is None or e.conn_id == conn_id)
        ]

    def clear(self) -> None:
        self._entries.clear()

    async def wait_for(self, predicate: Callable[[JournalEntry], bool]) -> JournalEntry:
        """Wait until an entry matching ``predicate`` is (or already was) in the journal.

        Callers bound the wait with ``trio.fail_after``."""
        while True:
            for entry in self._entries:
                if predicate(entry):
                    return entry
            await self._changed.wait()
