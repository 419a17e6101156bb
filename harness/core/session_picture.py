"""What ``harness report`` draws, collected in one streaming pass: the picture of a session.

Everything is binned to :data:`COLUMNS` time columns over the recording's span (known from
the :class:`~harness.core.inventory.Inventory` pass before), so memory is bounded by the number
of channels, matches (:data:`MAX_ROWS`) and markers (:data:`MAX_MARKERS`), never by the file.
"""

from __future__ import annotations

import heapq
import json
import os
from dataclasses import dataclass, field
from typing import Any

from harness.core.inventory import Inventory, take_inventory
from harness.core.protocol import Channel, classify_frame
from harness.core.recording import open_reader
from harness.core.records import (
    Direction,
    HttpExchange,
    Note,
    NoteKind,
    WsClose,
    WsMessage,
    WsOpen,
)

COLUMNS = 480
"""Time columns of every chart: an event is drawn in the column of its time."""
MAX_ROWS = 150
"""Match x channel rows of the timeline; later ones are counted, not drawn."""
MAX_MARKERS = 2000
"""Named markers (MAIN events, connections, renewals, reconnects) kept."""
GAPS_SHOWN = 3
"""Longest silences kept per channel."""
LEAGUE_ROW = "league "
"""Row key prefix of a league-scoped STATS/ODDS subscription's frames."""
MARKED_EVENTS = frozenset({"match_start", "goal", "halftime", "second_half_start", "match_end"})


@dataclass(frozen=True, slots=True)
class Marker:
    t_ns: int
    label: str
    kind: str


@dataclass
class Row:
    """One match on one channel: the columns it has events in, and its MAIN-style events."""

    columns: set[int] = field(default_factory=set)
    markers: list[Marker] = field(default_factory=list)
    events: int = 0


@dataclass
class Lane:
    """One WebSocket connection: when it opened and how it ended."""

    conn_id: int
    opened_ns: int
    status: int
    closed_ns: int | None = None
    close: str = ""


@dataclass
class Picture:
    """The data of the report page."""

    path: str
    inventory: Inventory
    start_ns: int
    end_ns: int
    rates: dict[str, list[int]] = field(default_factory=dict)
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    rows_dropped: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    gaps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    lanes: dict[int, Lane] = field(default_factory=dict)
    renewals: list[int] = field(default_factory=list)
    reconnects: list[int] = field(default_factory=list)
    markers_dropped: int = 0
    _last: dict[str, int] = field(default_factory=dict)

    def column(self, t_ns: int) -> int:
        span = max(self.end_ns - self.start_ns, 1)
        return min(COLUMNS - 1, max(0, (t_ns - self.start_ns) * COLUMNS // span))

    def _room(self) -> bool:
        used = len(self.renewals) + len(self.reconnects) + len(self.lanes)
        used += sum(len(row.markers) for row in self.rows.values())  # bounded by MAX_ROWS
        if used >= MAX_MARKERS:
            self.markers_dropped += 1
            return False
        return True

    def event(self, t_ns: int, channel: str, event: str, matches: list[str], obj: Any) -> None:
        column = self.column(t_ns)
        self.rates.setdefault(channel, [0] * COLUMNS)[column] += 1
        last = self._last.get(channel)
        if last is not None and t_ns > last:
            gaps = self.gaps.setdefault(channel, [])
            heapq.heappush(gaps, (t_ns - last, last))
            if len(gaps) > GAPS_SHOWN:
                heapq.heappop(gaps)
        self._last[channel] = t_ns
        for match in matches or ["(no match id)"]:
            row = self.rows.get((match, channel))
            if row is None:
                if len(self.rows) >= MAX_ROWS:
                    self.rows_dropped += 1
                    continue
                row = self.rows[(match, channel)] = Row()
            row.columns.add(column)
            row.events += 1
            if event in MARKED_EVENTS and self._room():
                row.markers.append(Marker(t_ns, _event_label(event, obj), event))
        if event == "match_start" and matches and isinstance(obj, dict):
            self.labels.setdefault(matches[0], _teams(obj))

    def open(self, record: WsOpen) -> None:
        if record.conn_id not in self.lanes and self._room():
            self.lanes[record.conn_id] = Lane(record.conn_id, record.t_ns, record.status)

    def closed(self, record: WsClose) -> None:
        lane = self.lanes.get(record.conn_id)
        if lane is not None:
            lane.closed_ns = record.t_ns
            code = "no code" if record.code is None else str(record.code)
            reason = f" {record.reason}" if record.reason else ""
            lane.close = f"{code}{reason} ({record.initiator.name.lower()})"


def _teams(obj: dict[str, Any]) -> str:
    data = obj.get("data")
    if not isinstance(data, dict):
        return ""
    names = [
        team.get("name") if isinstance(team, dict) else None
        for team in (data.get("teamA"), data.get("teamB"))
    ]
    return " v ".join(n for n in names if isinstance(n, str))


def _event_label(event: str, obj: Any) -> str:
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, dict):
        return event
    score = data.get("score") or data.get("finalScore")
    timer = data.get("timer")
    parts = [event]
    if isinstance(timer, str):
        parts.append(f"{timer}'")
    if isinstance(score, str):
        parts.append(score)
    return " ".join(parts)


def _match_ids(info_match: str | None, info_league: str | None, obj: Any) -> list[str]:
    if info_match is not None:
        return [info_match]
    if info_league is not None:  # a league-scoped STATS/ODDS snapshot names no match
        return [LEAGUE_ROW + info_league]
    data = obj.get("data") if isinstance(obj, dict) else None
    if isinstance(data, list):  # a batch_update: one item per match
        ids = [item.get("matchId") for item in data if isinstance(item, dict)]
        return list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))
    return []


def _source_labels(inventory: Inventory) -> dict[str, str]:
    """Match names from the header (the simulator lists its matches, realtime ids included)."""
    labels: dict[str, str] = {}
    matches = inventory.header.source.get("matches")
    for match in matches if isinstance(matches, list) else []:
        if not isinstance(match, dict):
            continue
        name = " v ".join(str(match[k]) for k in ("home", "away") if k in match)
        for key in ("matchId", "realtimeMatchId"):
            if isinstance(match.get(key), str) and name:
                labels[match[key]] = name
        for key in ("leagueId", "realtimeLeagueId"):
            if isinstance(match.get(key), str) and "league" in match:
                labels[LEAGUE_ROW + match[key]] = f"{LEAGUE_ROW}{match['league']}"
    return labels


def take_picture(path: str | os.PathLike[str]) -> Picture:
    """Two streaming passes: the inventory (``info``'s figures, and the span), then the picture."""
    inventory = take_inventory(path)
    start = inventory.first_t_ns or 0
    picture = Picture(os.fspath(path), inventory, start, max(inventory.last_t_ns, start + 1))
    picture.labels.update(_source_labels(inventory))
    with open_reader(path) as reader:
        for record in reader:
            if isinstance(record, WsMessage):
                if record.direction is Direction.SERVER_TO_CLIENT and record.is_text:
                    _frame(picture, record)
            elif isinstance(record, WsOpen):
                picture.open(record)
            elif isinstance(record, WsClose):
                picture.closed(record)
            elif isinstance(record, HttpExchange):
                if "/ws/renew" in record.url and picture._room():
                    picture.renewals.append(record.t_ns)
            elif isinstance(record, Note) and record.kind == NoteKind.RECONNECT and picture._room():
                picture.reconnects.append(record.t_ns)
    return picture


def _frame(picture: Picture, record: WsMessage) -> None:
    info = classify_frame(record.payload)
    if info is None or not info.is_event or info.channel is None:
        return
    event = info.event_type or info.type
    obj = _json(record.payload) if info.match_id is None or event in MARKED_EVENTS else None
    channel = Channel(info.channel).value
    picture.event(record.t_ns, channel, event, _match_ids(info.match_id, info.league_id, obj), obj)


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None
