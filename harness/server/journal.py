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

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import trio

from harness.core.protocol import Topic
from harness.errors import WaitTimeout

DEFAULT_JOURNAL_SIZE = 10_000
SUMMARY_LIMIT = 300
"""Characters of a frame or body kept in an entry's summary."""

WAIT_TIMEOUT_S = 10.0
"""Default bound of the journal's and the server's ``wait_*`` helpers."""

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
        self.added = 0
        """Entries ever added (since the last :meth:`clear`): the next entry's sequence number."""
        self._cleared = 0

    def add(self, kind: str, summary: str, conn_id: int | None = None) -> JournalEntry:
        entry = JournalEntry(self._clock(), kind, conn_id, summary)
        if len(self._entries) == self._entries.maxlen:
            self.dropped += 1
        self._entries.append(entry)
        self.added += 1
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

    def since(self, seq: int = 0) -> list[tuple[int, JournalEntry]]:
        """``(sequence number, entry)`` of the entries numbered ``seq`` or later still held."""
        first = self.added - len(self._entries)
        skip = max(0, seq - first)
        return [(first + i, e) for i, e in enumerate(self._entries) if i >= skip]

    def clear(self) -> None:
        """Forget every entry; numbering starts again at 0."""
        self._entries.clear()
        self.dropped = self.added = 0
        self._cleared += 1
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Callable[[JournalEntry], bool]) -> JournalEntry:
        """Wait until an entry matching ``predicate`` is (or already was) in the journal; each
        entry is tested once.  Callers bound the wait with ``trio.fail_after``."""
        seen, cleared = 0, self._cleared
        while True:
            for seq, entry in self.since(seen):
                if predicate(entry):
                    return entry
                seen = seq + 1
            await self._changed.wait()
            if cleared != self._cleared:
                seen, cleared = 0, self._cleared

    async def wait_for_subscription(
        self, topic: Topic | str, timeout: float = WAIT_TIMEOUT_S
    ) -> JournalEntry:
        """Wait until a ``subscribed`` reply for ``topic`` (a :class:`Topic` or its key, e.g.
        ``MAIN:all``) is (or was) sent to a client; :class:`WaitTimeout` after ``timeout``."""
        key = topic.key if isinstance(topic, Topic) else topic
        with trio.move_on_after(timeout):
            return await self.wait_for(lambda entry: subscribed_key(entry) == key)
        raise WaitTimeout(f"a subscribed reply for {key}", timeout)


def subscribed_key(entry: JournalEntry) -> str | None:
    """The ``topicKey`` of a ``subscribed`` reply entry, else None."""
    if entry.kind != "ws_out" or '"subscribed"' not in entry.summary:
        return None
    try:
        reply = json.loads(entry.summary)
    except ValueError:
        return None
    if not isinstance(reply, dict) or reply.get("type") != "subscribed":
        return None
    key = reply.get("topicKey")
    return key if isinstance(key, str) else None
