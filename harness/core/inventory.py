"""What a recording holds, counted in one streaming pass: the data behind ``harness info``.

Library users get the same figures as the CLI: :func:`take_inventory` reads a file once
(constant memory; damaged records skipped, the rest read) and returns an :class:`Inventory`.
Event frames are counted twice: as recorded (once per recorded connection that received them)
and as replay serves them (distinct, decided by :meth:`~harness.core.schedule.Feed.from_records`,
so ``info`` and ``replay`` cannot disagree).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
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
    _classified_payload: bytes | None = dataclasses.field(default=None, repr=False, compare=False)
    _classified: FrameInfo | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def duration_ns(self) -> int:
        """The summary's duration, or the last record's time in a file closed uncleanly."""
        return self.summary.duration_ns if self.summary else self.last_t_ns

    @property
    def distinct_frames(self) -> int:
        """Event frames as replay serves them."""
        return sum(self.distinct_events.values())

    def observe(self, records: Iterable[Record]) -> Iterator[Record]:
        """Count each record on its way through, so one pass also builds the replay feed."""
        for record in records:
            self.add(record)
            yield record

    def add(self, record: Record) -> None:
        self.kinds[KIND_NAMES[record.KIND]] += 1
        self.last_t_ns = max(self.last_t_ns, record.t_ns)
        if self.first_t_ns is None or record.t_ns < self.first_t_ns:
            self.first_t_ns = record.t_ns
        if isinstance(record, WsMessage):
            self._message(record)
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

    def classify(self, payload: bytes) -> FrameInfo | None:
        """:func:`classify_frame`, answered from the frame :meth:`add` just classified when it
        is the same payload (one pass feeds both: each frame is classified once)."""
        if payload is self._classified_payload:
            return self._classified
        return classify_frame(payload)

    def _connection(self, conn_id: int) -> ConnectionInfo:
        return self.connections.setdefault(conn_id, ConnectionInfo())

    def _message(self, record: WsMessage) -> None:
        if record.direction is Direction.CLIENT_TO_SERVER:
            self.sent[_command_name(record.payload)] += 1
            return
        if not record.is_text:
            self.replies["(binary)"] += 1
            return
        info = self._classified = classify_frame(record.payload)
        self._classified_payload = record.payload
        if info is None:
            self.replies["(not a JSON object)"] += 1
        elif info.is_event:
            self.events[event_key(info)] += 1
        else:
            self.replies[info.type or "(no type)"] += 1


def take_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read ``path`` once and count what it holds (see :class:`Inventory`)."""
    with open_reader(path) as reader:
        inventory = Inventory(reader.header, size_bytes=os.path.getsize(path))
        feed = Feed.from_records(inventory.observe(reader), inventory.classify)
        inventory.distinct_events = Counter(event_key(frame.info) for frame in feed.frames)
        inventory.skipped = dict(reader.skipped)
        inventory.tail = reader.tail
        inventory.damage = reader.damage
    return inventory


def event_key(info: FrameInfo) -> EventKey:
    return (info.channel.value if info.channel else "?", info.event_type or info.type)


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
