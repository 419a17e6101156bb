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
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlsplit

from harness.core.damage import DamageLog, TailDamage
from harness.core.protocol import FrameInfo, classify_frame
from harness.core.recording import RecordingReader, WsText, open_reader
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
from harness.core.schedule import DUPLICATE_WINDOW_NS, Feed, collection_paused

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
    _repeats: _Repeats = dataclasses.field(
        default_factory=lambda: _Repeats(window=False), repr=False, compare=False
    )
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
        """Count one record (see :meth:`add_all`)."""
        self.add_all((record,))

    def add_all(self, records: Iterable[Record]) -> None:
        """Count each record (a reader's records: :meth:`read_all`, faster)."""
        self._count_texts(_texts(records, self._count_other))

    def read_all(self, reader: RecordingReader) -> None:
        """Count every record ``reader`` reads, text messages by its hot path."""
        self._count_texts(reader.ws_texts(self._count_other))

    def _count_texts(self, texts: Iterable[WsText]) -> None:
        """Count text messages (nearly all of a recording) in this loop."""
        last = self.last_t_ns
        first: float = math.inf if self.first_t_ns is None else self.first_t_ns
        events, keys, repeat = self.events, self._keys, self._repeats.add
        classify, sent, object_id = classify_frame, _SENT, id
        count = 0
        for _, t_ns, direction, _, payload in texts:
            count += 1
            if t_ns > last:
                last = t_ns
            if t_ns < first:
                first = t_ns
            if direction is sent:  # the reader yields Direction members
                self.sent[_command_name(payload)] += 1
                continue
            info = classify(payload)
            if info is None or not info.is_event:
                self.replies[_reply_name(info)] += 1
                continue
            entry = keys.get(object_id(info))
            events[entry[1] if entry is not None else self._key(info)] += 1
            repeat(t_ns, payload)
        self._see_time(last)
        if count:
            self._see_time(int(first))
            self.kinds[KIND_NAMES[WsMessage.KIND]] += count

    def _see_time(self, t_ns: int | None) -> None:
        if t_ns is None:
            return
        if t_ns > self.last_t_ns:
            self.last_t_ns = t_ns
        if self.first_t_ns is None or t_ns < self.first_t_ns:
            self.first_t_ns = t_ns

    def _count_other(self, record: Record) -> None:
        """Every record but a text message."""
        self._see_time(record.t_ns)
        self.kinds[KIND_NAMES[record.KIND]] += 1
        self._other(record)

    def _other(self, record: Record) -> None:
        if isinstance(record, WsMessage):  # a binary one
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
        which event frames are duplicates: the first of equal payloads less than a window apart
        is served.  So only the frames :class:`_Repeats` finds go through the feed (a frame whose
        payload is alone in its window is always served), and the others count as they are."""
        found = self._repeats.found
        distinct = self.events.copy()
        distinct.subtract(self._key(_event_info(record.payload)) for record in found)
        distinct.update(self._key(frame.info) for frame in Feed.from_records(found).frames)
        self.distinct_events = +distinct
        self._repeats = _Repeats(window=False)

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
    """Read ``path`` once and count what it holds (see :class:`Inventory`); twice when its event
    frames are further out of time order than the duplicate window (see :class:`_Repeats`)."""
    inventory = _inventory(path, window=True)
    return _inventory(path, window=False) if inventory._repeats.unordered else inventory


def _inventory(path: str | os.PathLike[str], *, window: bool) -> Inventory:
    with open_reader(path) as reader, collection_paused():
        inventory = Inventory(reader.header, size_bytes=os.path.getsize(path))
        inventory._repeats = _Repeats(window=window)
        inventory.read_all(reader)
        if inventory._repeats.unordered:
            return inventory
        inventory.count_distinct()
        inventory.skipped = dict(reader.skipped)
        inventory.tail = reader.tail
        inventory.damage = reader.damage
    return inventory


class _Repeats:
    """The event frames replay may drop as duplicates, for :meth:`Inventory.count_distinct`.

    The feed keeps the first of equal payloads less than :data:`DUPLICATE_WINDOW_NS` apart, so
    its decisions on one payload hang only on that payload's frames, and on each run of them
    separated from the rest by a window or more.  ``found`` is every frame whose payload comes
    again (before or after) while it is tracked: whole runs, whatever the order.

    Without ``window`` every payload is tracked to the end (memory: each distinct payload).
    With it, payloads are tracked in two generations of two windows each, the older dropped as
    a new one starts (constant memory): exact while no frame comes a window or more before the
    newest one, which sets ``unordered`` (the caller counts again without the window).
    """

    def __init__(self, *, window: bool) -> None:
        self.window = window
        self.unordered = False
        self.found: list[WsMessage] = []
        self._current: dict[bytes, int | None] = {}
        """payload -> its one frame not yet found, or ``None`` once its frames are found"""
        self._previous: dict[bytes, int | None] = {}
        self._newest: float = -math.inf
        self._next_generation_ns: float = -math.inf

    def add(self, t_ns: int, payload: bytes) -> None:
        """A server event frame (a record is built only for the frames found: the duplicate
        rule reads times and payloads only)."""
        if self.window:
            if self._newest < t_ns < self._next_generation_ns:  # in order, same generation
                self._newest = t_ns
            else:
                self._slide(t_ns)
        current = self._current
        first = current.get(payload, _UNSEEN)
        if first == _UNSEEN:
            first = self._previous.get(payload, _UNSEEN)
            if first == _UNSEEN:
                current[payload] = t_ns
                return
        if first is not None:
            self.found.append(_message(first, payload))
            current[payload] = None
        elif payload not in current:
            current[payload] = None
        self.found.append(_message(t_ns, payload))

    def _slide(self, t_ns: int) -> None:
        if t_ns > self._newest:
            self._newest = t_ns
            if t_ns >= self._next_generation_ns:
                self._previous, self._current = self._current, {}
                self._next_generation_ns = t_ns + 2 * DUPLICATE_WINDOW_NS
        elif t_ns <= self._newest - DUPLICATE_WINDOW_NS:
            self.unordered = True


_UNSEEN = -1
"""Marks a payload not tracked (``None`` means all its frames are found; else its time)."""


def _message(t_ns: int, payload: bytes) -> WsMessage:
    return WsMessage(t_ns, 0, Direction.SERVER_TO_CLIENT, payload)


def _texts(records: Iterable[Record], others: Callable[[Record], object]) -> Iterator[WsText]:
    """The text messages of ``records`` as a reader's hot path gives them; the rest to
    ``others``."""
    for record in records:
        if type(record) is WsMessage and record.is_text:
            yield -1, record.t_ns, record.direction, record.conn_id, record.payload
        else:
            others(record)


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
