"""Server frames of the simulated feed, in each channel's documented shape (section 7.1).

Three envelope styles, reproduced as documented rather than unified: MAIN and MAIN_REALTIME
(``type`` = event name, ``matchId``/``leagueId``), STATS and ODDS (``type:"event"``, the
subscription echoed in ``scope``/``id``, ``eventType``/``eventId``), and the realtime deltas
(``changedStats``/``changedOdds`` holding only what changed).  ``batch_update`` follows
section 12: ``scope:"all"``, ``id:null`` and ``data`` a list of per-match objects.  JSON is
compact, UTF-8, keys in the documented order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from harness.core.envelopes import compact_json
from harness.core.protocol import Channel, Scope, Topic
from harness.core.synth.match import Fixture, MainEvent, Team

REALTIME_CHANNEL = {"stats": Channel.STATS_REALTIME, "odds": Channel.ODDS_REALTIME}
SNAPSHOT_CHANNEL = {"stats": Channel.STATS, "odds": Channel.ODDS}
SNAPSHOT_EVENT = {"stats": "stats_update", "odds": "odds_update"}
REALTIME_EVENT = {"stats": "stats_update_realtime", "odds": "odds_update_realtime"}
_CHANGED_KEY = {"stats": ("changedStats", "stat"), "odds": ("changedOdds", "market")}


def iso_utc(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main_frame(
    fixture: Fixture, event: MainEvent, *, realtime: bool, ts_ms: int, epoch_ms: int
) -> bytes:
    """A MAIN or MAIN_REALTIME event; the realtime source uses its own ids (section 8.2).

    ``epoch_ms`` is the wall-clock time of the session start, for ``startDate``.
    """
    match_id = fixture.rt_match_id if realtime else fixture.match_id
    league_id = fixture.league.rt_id if realtime else fixture.league.id
    data: Mapping[str, Any] = event.data
    if event.name == "match_start":
        data = _match_start_data(fixture, realtime, epoch_ms + fixture.kickoff_ns // 1_000_000)
    channel = Channel.MAIN_REALTIME if realtime else Channel.MAIN
    return compact_json(
        {
            "type": event.name,
            "channel": str(channel),
            "matchId": match_id,
            "leagueId": league_id,
            "ts": ts_ms,
            "data": data,
        }
    )


def _match_start_data(fixture: Fixture, realtime: bool, kickoff_ms: int) -> dict[str, Any]:
    league = fixture.league

    def team(side: Team) -> dict[str, str]:
        return {"id": side.rt_id if realtime else side.id, "name": side.name}

    return {
        "teamA": team(fixture.home),
        "teamB": team(fixture.away),
        "championship": {
            "id": league.rt_id if realtime else league.id,
            "name": league.name,
            "country": league.country,
            "seasonName": league.season,
        },
        "startDate": iso_utc(kickoff_ms),
    }


def snapshot_frame(
    kind: str, topic: Topic, event_id: str, ts_ms: int, data: Mapping[str, Any]
) -> bytes:
    """A STATS/ODDS ``stats_update``/``odds_update`` echoing ``topic`` (scope match or league)."""
    return _echo_frame(kind, topic, SNAPSHOT_EVENT[kind], event_id, ts_ms, dict(data))


def batch_frame(
    kind: str, event_id: str, ts_ms: int, entries: Iterable[tuple[Fixture, Mapping[str, Any]]]
) -> bytes:
    """A ``batch_update`` for ``CHANNEL:all``: per match its snapshot plus matchId/leagueId."""
    data = [
        {"matchId": fixture.match_id, "leagueId": fixture.league.id, **snapshot}
        for fixture, snapshot in entries
    ]
    topic = Topic(SNAPSHOT_CHANNEL[kind], Scope.ALL)
    return _echo_frame(kind, topic, "batch_update", event_id, ts_ms, data)


def _echo_frame(
    kind: str, topic: Topic, event_type: str, event_id: str, ts_ms: int, data: Any
) -> bytes:
    return compact_json(
        {
            "type": "event",
            "channel": str(SNAPSHOT_CHANNEL[kind]),
            "scope": str(topic.scope),
            "id": topic.id,
            "eventType": event_type,
            "eventId": event_id,
            "ts": ts_ms,
            "data": data,
        }
    )


def delta_frame(
    kind: str, fixture: Fixture, ts_ms: int, values: Mapping[str, Any], changed: Iterable[str]
) -> bytes:
    """A STATS_REALTIME/ODDS_REALTIME update holding only the changed values."""
    list_key, name_key = _CHANGED_KEY[kind]
    return compact_json(
        {
            "type": REALTIME_EVENT[kind],
            "channel": str(REALTIME_CHANNEL[kind]),
            "matchId": fixture.match_id,
            "leagueId": fixture.league.id,
            "ts": ts_ms,
            "data": {list_key: [{name_key: name, "value": values[name]} for name in changed]},
        }
    )
