"""Which records a smaller recording keeps: ``harness cut`` (a time window) and ``harness filter``.

Pure stream transforms (records in, records out, in order); :func:`harness.core.transform.
select_records` writes their output.  The result must still replay, so both keep what a
replay needs besides the frames chosen:

* ``cut`` keeps every record with ``start <= t_ns < end``, and carries the context from before
  the window into it, its time moved to ``start``: the last REST call to each endpoint (token
  calls, renewals), the last ``token``/``renewal``/``plan`` note, and for each connection still
  open at ``start`` its ``ws_open``, the subscribe commands still active and their
  ``subscribed`` replies.  Replay starts its timeline at the first subscribe, so the window's
  frames replay at their own pace.  The context is bounded by the connections and
  subscriptions of the session, not by its length.
* ``filter`` keeps every record but the server event frames that miss a criterion, and the
  subscriptions (commands and replies) not involved: a topic on another channel, or for another
  match or league than the ones asked for.  Each criterion given is any-of; all given must hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.core.documented import DOCUMENTED_SHAPES
from harness.core.durations import format_duration
from harness.core.protocol import (
    Channel,
    FrameInfo,
    Scope,
    Subscribe,
    Topic,
    Unsubscribe,
    classify_frame,
    parse_command,
)
from harness.core.records import (
    Direction,
    HttpExchange,
    Note,
    NoteKind,
    Record,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.errors import HarnessError, UsageError

_CONTEXT_NOTES = frozenset({NoteKind.TOKEN, NoteKind.RENEWAL, NoteKind.PLAN})


def _command_topic(record: WsMessage) -> tuple[bool, Topic] | None:
    """``(is_subscribe, topic)`` of a client subscribe/unsubscribe, else ``None``."""
    try:
        command = parse_command(record.payload, is_text=record.is_text)
    except HarnessError:
        return None
    if isinstance(command, Subscribe | Unsubscribe):
        return isinstance(command, Subscribe), command.topic
    return None


def _reply_topic(record: WsMessage) -> Topic | None:
    """The topic of a ``subscribed`` reply."""
    info = classify_frame(record.payload) if record.is_text else None
    return info.topic if info is not None and info.type == "subscribed" else None


# --------------------------------------------------------------------------- cut


class CutContext:
    """What a replay of a window needs from before it, in file order.

    Fed every record before the window (:meth:`add`); :meth:`records` is what ``cut`` carries
    into the window.  ``merge`` uses it too, to recognise that carried context when two pieces
    of one cut session are put back together.
    """

    def __init__(self) -> None:
        self._seq = 0
        self.calls: dict[tuple[str, str], tuple[int, Record]] = {}
        self.notes: dict[str, tuple[int, Record]] = {}
        self.opens: dict[int, tuple[int, Record]] = {}
        self.subs: dict[tuple[int, str], list[tuple[int, Record]]] = {}

    def _entry(self, record: Record) -> tuple[int, Record]:
        self._seq += 1
        return self._seq, record

    def add(self, record: Record) -> None:
        if isinstance(record, HttpExchange):
            self.calls[(record.method, _path(record.url))] = self._entry(record)
        elif isinstance(record, Note) and record.kind in _CONTEXT_NOTES:
            self.notes[record.kind] = self._entry(record)
        elif isinstance(record, WsOpen):
            self.opens[record.conn_id] = self._entry(record)
        elif isinstance(record, WsClose):
            self.opens.pop(record.conn_id, None)
            for key in [key for key in self.subs if key[0] == record.conn_id]:
                del self.subs[key]
        elif isinstance(record, WsMessage):
            self._message(record)

    def _message(self, record: WsMessage) -> None:
        if record.direction is Direction.CLIENT_TO_SERVER:
            command = _command_topic(record)
            if command is not None:
                subscribe, topic = command
                key = (record.conn_id, topic.key)
                if subscribe:
                    self.subs[key] = [self._entry(record)]
                else:
                    self.subs.pop(key, None)
            return
        reply = _reply_topic(record)
        entries = self.subs.get((record.conn_id, reply.key)) if reply is not None else None
        if entries is not None and len(entries) == 1:
            entries.append(self._entry(record))

    def records(self, t_ns: int) -> list[Record]:
        """The context, in file order, moved to ``t_ns``."""
        entries = [
            *self.calls.values(),
            *self.notes.values(),
            *self.opens.values(),
            *(entry for entries in self.subs.values() for entry in entries),
        ]
        return [
            dataclasses.replace(record, t_ns=t_ns)
            for _, record in sorted(entries, key=lambda e: e[0])
        ]


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return url


def cut_records(
    records: Iterable[Record], *, start_ns: int | None = None, end_ns: int | None = None
) -> Iterator[Record]:
    """The records of the window ``[start_ns, end_ns)``, with the context before it (see above)."""
    start = start_ns or 0
    context: CutContext | None = CutContext() if start > 0 else None
    last_ns = 0
    for record in records:
        last_ns = max(last_ns, record.t_ns)
        if context is not None:
            if record.t_ns < start:
                context.add(record)
                continue
            yield from context.records(start)
            context = None
        if end_ns is None or record.t_ns < end_ns:
            yield record
    if context is not None:
        raise UsageError(
            f"--start {format_duration(start / 1e9)} is past the end of the recording"
            f" (its last record is at {format_duration(last_ns / 1e9)})"
        )


# --------------------------------------------------------------------------- filter


@dataclass(frozen=True, slots=True)
class FrameFilter:
    """The criteria of ``filter``: empty means "any"."""

    channels: Set[Channel] = frozenset()
    matches: Set[str] = frozenset()
    leagues: Set[str] = frozenset()
    types: Set[str] = frozenset()

    def keeps_event(self, info: FrameInfo) -> bool:
        return (
            (not self.channels or info.channel in self.channels)
            and (not self.matches or info.match_id in self.matches)
            and (not self.leagues or info.league_id in self.leagues)
            and (not self.types or (info.event_type or info.type) in self.types)
        )

    def involves(self, topic: Topic) -> bool:
        """Is a subscription to ``topic`` needed by the frames kept?"""
        if self.channels and topic.channel not in self.channels:
            return False
        if self.matches and topic.scope is Scope.MATCH and topic.id not in self.matches:
            return False
        return not (self.leagues and topic.scope is Scope.LEAGUE and topic.id not in self.leagues)

    def keeps(self, record: Record) -> bool:
        if not isinstance(record, WsMessage) or not record.is_text:
            return True
        if record.direction is Direction.CLIENT_TO_SERVER:
            command = _command_topic(record)
            return command is None or self.involves(command[1])
        info = classify_frame(record.payload)
        if info is None:
            return True
        if info.is_event:
            return self.keeps_event(info)
        return info.topic is None or self.involves(info.topic)


def known_event_types() -> frozenset[str]:
    """Every event type the documented protocol has (section 8), on any channel."""
    return frozenset(
        key.partition("/")[2] for key in DOCUMENTED_SHAPES if not key.startswith("reply/")
    )


def check_event_types(types: Iterable[str]) -> None:
    """Refuse an event type the protocol does not know (a typo would silently keep nothing)."""
    known = known_event_types()
    unknown = [name for name in types if name not in known]
    if unknown:
        raise UsageError(
            f"--type {unknown[0]!r} is not an event type of the protocol"
            f" (one of {', '.join(sorted(known))})"
        )


def filter_records(records: Iterable[Record], criteria: FrameFilter) -> Iterator[Record]:
    """The records ``criteria`` keeps (see :class:`FrameFilter`)."""
    keeps = criteria.keeps
    return (record for record in records if keeps(record))
