"""What a recording holds, counted in one streaming pass: the data behind ``harness info``.

Library users get the same figures as the CLI: :func:`take_inventory` reads a file once
(damaged records skipped, the rest read; in memory only the distinct event payloads, to find
repeats) and returns an :class:`Inventory`.
Event frames are counted twice: as recorded (once per recorded connection that received them)
and as replay serves them (distinct, decided by :meth:`~harness.core.schedule.Feed.from_records`,
so ``info`` and ``replay`` cannot disagree; only frames whose payload repeats go through it).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Iterable
from urllib.parse import urlsplit

from harness.core.damage import DamageLog, TailDamage
from harness.core.protocol import FrameInfo, classify_frame
from harness.core.recording import open_reader
from harness.core.records import (
    KIND_NAMES,
    Direction,
    Header,
    HttpExchange,
    Note,
    NoteKind,
    Record,
    Summary,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.core.schedule import Feed

RENEW_PATH = "/v1/ws/renew"

EventKey = tuple[str, str]
"""``(channel, event type)`` of an event frame; channel ``"?"`` when unknown."""


@dataclasses.dataclass
class ConnectionInfo:
    """One recorded WebSocket connection: how it opened and how it ended."""

    url: str = ""
    status: int | None = None
    error: str | None = None
    close: WsClose | None = None


@dataclasses.dataclass
class Inventory:
    """Everything ``info`` reports about one recording."""

    header: Header
    size_bytes: int = 0
    kinds: Counter[str] = dataclasses.field(default_factory=Counter)
    connections: dict[int, ConnectionInfo] = dataclasses.field(default_factory=dict)
    renew_calls: int = 0
    renewal_notes: int = 0
    sent: Counter[str] = dataclasses.field(default_factory=Counter)
    events: Counter[EventKey] = dataclasses.field(default_factory=Counter)
    distinct_events: Counter[EventKey] = dataclasses.field(default_factory=Counter)
    replies: Counter[str] = dataclasses.field(default_factory=Counter)
    last_t_ns: int = 0
    first_t_ns: int | None = None
    """The first record's time: after 0 in a file cut out of a longer session."""
    summary: Summary | None = None
    skipped: dict[int, int] = dataclasses.field(default_factory=dict)
    tail: TailDamage | None = None
    damage: DamageLog = dataclasses.field(default_factory=DamageLog)
    """Every damaged stretch the reader skipped (``tail`` is the one running to the end)."""
    _first_t: dict[bytes, int] = dataclasses.field(default_factory=dict, repr=False, compare=False)
    """When each distinct event payload came first (bytes and ints: nothing for the GC to walk)."""
    _repeated: list[WsMessage] = dataclasses.field(default_factory=list, repr=False, compare=False)
    """Event frames whose payload came before: the only ones replay may drop as duplicates."""
    _keys: dict[int, tuple[FrameInfo, EventKey]] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )
    """:func:`event_key` by ``id`` of the (shared) FrameInfo, which the entry keeps alive."""

    @property
    def duration_ns(self) -> int:
        """The summary's duration, or the last record's time in a file closed uncleanly."""
        return self.summary.duration_ns if self.summary else self.last_t_ns

    @property
    def distinct_frames(self) -> int:
        """Event frames as replay serves them."""
        return sum(self.distinct_events.values())

    def add(self, record: Record) -> None:
        self.add_all((record,))

    def add_all(self, records: Iterable[Record]) -> None:
        """Count each record; server text frames (nearly all of a recording) in this loop."""
        by_kind: dict[int, int] = {}
        last, first = self.last_t_ns, self.first_t_ns
        events, keys, first_t, repeated = self.events, self._keys, self._first_t, self._repeated
        classify, sent, message, object_id = classify_frame, _SENT, WsMessage, id
        for record in records:
            kind = record.KIND
            by_kind[kind] = by_kind.get(kind, 0) + 1
            t_ns = record.t_ns
            if t_ns > last:
                last = t_ns
            if first is None or t_ns < first:
                first = t_ns
            if type(record) is not message or record.direction is sent or not record.is_text:
                self._other(record)
                continue
            info = classify(record.payload)
            if info is None or not info.is_event:
                self.replies[_reply_name(info)] += 1
                continue
            entry = keys.get(object_id(info))
            events[entry[1] if entry is not None else self._key(info)] += 1
            known = len(first_t)
            first_t.setdefault(record.payload, t_ns)
            if len(first_t) == known:
                repeated.append(record)
        self.last_t_ns, self.first_t_ns = last, first
        for kind, count in by_kind.items():
            self.kinds[KIND_NAMES[kind]] += count

    def _other(self, record: Record) -> None:
        """Every record but a server text frame."""
        if isinstance(record, WsMessage):
            if record.direction is _SENT:
                self.sent[_command_name(record.payload)] += 1
            else:
                self.replies["(binary)"] += 1
        elif isinstance(record, WsOpen):
            conn = self._connection(record.conn_id)
            conn.url, conn.status, conn.error = record.url, record.status, record.error
        elif isinstance(record, WsClose):
            self._connection(record.conn_id).close = record
        elif isinstance(record, HttpExchange):
            self.renew_calls += _is_renew_call(record.url)
        elif isinstance(record, Note):
            self.renewal_notes += record.kind == NoteKind.RENEWAL
        elif isinstance(record, Summary):
            self.summary = record

    def count_distinct(self) -> None:
        """Set :attr:`distinct_events` once every record is added.

        Replay (:meth:`Feed.from_records <harness.core.schedule.Feed.from_records>`) decides
        which event frames are duplicates, and it drops a frame only for the same bytes within a
        window: a frame whose payload occurs once is always served.  So only the frames of
        repeated payloads go through the feed, and the others count as they are."""
        repeated = self._repeated
        firsts = {
            r.payload: dataclasses.replace(r, t_ns=self._first_t[r.payload]) for r in repeated
        }
        candidates = [*firsts.values(), *repeated]
        served = Feed.from_records(candidates).frames
        distinct = self.events.copy()
        distinct.subtract(self._key(_event_info(record.payload)) for record in candidates)
        distinct.update(self._key(frame.info) for frame in served)
        self.distinct_events = +distinct
        self._first_t, self._repeated = {}, []

    def _connection(self, conn_id: int) -> ConnectionInfo:
        return self.connections.setdefault(conn_id, ConnectionInfo())

    def _key(self, info: FrameInfo) -> EventKey:
        entry = self._keys.get(id(info))
        if entry is None:
            if len(self._keys) >= _KEYS_MAX:
                self._keys.clear()
            entry = self._keys[id(info)] = (info, event_key(info))
        return entry[1]


_KEYS_MAX = 4096
_SENT = Direction.CLIENT_TO_SERVER


def _reply_name(info: FrameInfo | None) -> str:
    if info is None:
        return "(not a JSON object)"
    return info.type or "(no type)"


def take_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read ``path`` once and count what it holds (see :class:`Inventory`)."""
    with open_reader(path) as reader:
        inventory = Inventory(reader.header, size_bytes=os.path.getsize(path))
        inventory.add_all(reader)
        inventory.count_distinct()
        inventory.skipped = dict(reader.skipped)
        inventory.tail = reader.tail
        inventory.damage = reader.damage
    return inventory


def event_key(info: FrameInfo) -> EventKey:
    return (info.channel.value if info.channel else "?", info.event_type or info.type)


def _event_info(payload: bytes) -> FrameInfo:
    info = classify_frame(payload)
    if info is None:  # pragma: no cover (only event frames are candidates)
        raise AssertionError(payload)
    return info


def _is_renew_call(url: str) -> bool:
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. "http://[::1": a recorded URL is data, not necessarily valid
        return False
    return path.rstrip("/").endswith(RENEW_PATH)


def _command_name(payload: bytes) -> str:
    """The ``action`` of a recorded client command; a buggy client's bytes are named, not parsed."""
    try:
        obj = json.loads(payload)
    except ValueError:
        return "(not JSON)"
    except RecursionError:  # json recurses once per level; a client may nest a thousand deep
        return "(nested too deep)"
    action = obj.get("action") if isinstance(obj, dict) else None
    return action if isinstance(action, str) else "(no action)"
