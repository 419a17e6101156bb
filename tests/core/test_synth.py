"""The seeded match simulator and the bundled default recording it made."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from harness.core.protocol import (
    Channel,
    Ping,
    Scope,
    Subscribe,
    Topic,
    classify_frame,
    parse_command,
    topic_matches,
)
from harness.core.recording import read_recording
from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Note,
    Record,
    Summary,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.core.schedule import Feed
from harness.core.synth import (
    DEFAULT_DURATION_NS,
    LEAGUES,
    SynthOptions,
    synthesize,
    synthetic_bytes,
)
from harness.core.synth.match import STAT_NAMES, Fixture, League, Team, play_match
from harness.core.synth.odds import MARKETS, play_odds
from harness.errors import UsageError
from harness.recordings import default_recording_path

S = 1_000_000_000
BUNDLED = Path(__file__).resolve().parents[2] / "recordings" / "default.msgpack"
SMALL = SynthOptions(seed=7, matches=3, duration_ns=20 * 60 * S)
MAIN_EVENTS = {"match_start", "goal", "halftime", "second_half_start", "match_end"}
EVENT_TYPES = {
    Channel.MAIN: MAIN_EVENTS,
    Channel.MAIN_REALTIME: MAIN_EVENTS,
    Channel.STATS: {"stats_update", "batch_update"},
    Channel.ODDS: {"odds_update", "batch_update"},
    Channel.STATS_REALTIME: {"stats_update_realtime"},
    Channel.ODDS_REALTIME: {"odds_update_realtime"},
}


@pytest.fixture(scope="module")
def bundled() -> tuple[Header, list[Record]]:
    header, records, tail = read_recording(BUNDLED)
    assert tail is None
    return header, records


def _incoming(records: list[Record], conn_id: int | None = None) -> list[WsMessage]:
    return [
        r
        for r in records
        if isinstance(r, WsMessage)
        and r.direction is Direction.SERVER_TO_CLIENT
        and (conn_id is None or r.conn_id == conn_id)
    ]


def _events(records: list[Record], channel: Channel) -> list[dict[str, Any]]:
    """Event frames of ``channel`` as parsed JSON, each recorded frame once."""
    frames = Feed.from_records(records).frames
    return [json.loads(f.payload) for f in frames if f.info.channel is channel]


# --- reproducibility ------------------------------------------------------------------------


def test_bundled_recording_is_the_default_output_byte_for_byte(tmp_path: Path) -> None:
    regenerated = tmp_path / "default.msgpack"
    regenerated.write_bytes(synthetic_bytes())
    assert regenerated.read_bytes() == BUNDLED.read_bytes(), (
        "recordings/default.msgpack is stale: run `harness synth -o recordings/default.msgpack`"
    )
    assert default_recording_path().read_bytes() == regenerated.read_bytes()


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert synthetic_bytes(SMALL) == synthetic_bytes(SMALL)
    assert synthetic_bytes(SMALL) != synthetic_bytes(replace(SMALL, seed=8))


def test_header_times_come_from_the_simulated_start() -> None:
    start = datetime.fromisoformat("2023-05-01T18:30:00+00:00")
    header, records = synthesize(replace(SMALL, start=start))
    assert header.created_at == "2023-05-01T18:30:00Z"
    pong = next(r for r in _incoming(records) if b'"pong"' in r.payload)
    sent_ms = json.loads(pong.payload)["ts"] - round(start.timestamp() * 1000)
    assert 0 < pong.t_ns // 10**6 - sent_ms < 100  # received a network latency after it was sent


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"matches": 0}, "matches"),
        ({"matches": 21}, "matches"),
        ({"duration_ns": 59 * S}, "duration"),
        ({"duration_ns": 25 * 3600 * S}, "duration"),
        ({"start": datetime(2024, 1, 15, 14, 0)}, "timezone"),
    ],
)
def test_bad_options_are_usage_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        replace(SMALL, **changes)


# --- the bundled recording: shape and size --------------------------------------------------


def test_bundled_header_says_synthetic_and_what_it_assumed(
    bundled: tuple[Header, list[Record]],
) -> None:
    header, records = bundled
    assert header.tool == "harness synth"
    assert header.redacted
    assert header.created_at == "2024-01-15T14:00:00Z"
    source = header.source
    assert source["synthetic"] is True
    assert (source["plan"], source["max_connections"], source["max_subscribe_per_connection"]) == (
        "MEGA",
        4,
        4,
    )
    assert source["api_base"] == "https://api.soccerfootball.info"
    assert source["ws_host"] == "ws-eu.soccerfootball.info"
    summary = records[-1]
    assert isinstance(summary, Summary)
    assert summary.duration_ns == DEFAULT_DURATION_NS
    assert BUNDLED.stat().st_size < 4_000_000


def test_every_channel_and_scope_is_subscribed_and_served(
    bundled: tuple[Header, list[Record]],
) -> None:
    header, records = bundled
    topics = [Topic.parse(spec) for spec in header.source["subscriptions"]]
    assert {t.channel for t in topics} == set(Channel)
    assert {t.scope for t in topics} == set(Scope)
    for channel in (Channel.STATS, Channel.ODDS):  # these serve only the exact subscription
        assert {t.scope for t in topics if t.channel is channel} == set(Scope)
    feed = Feed.from_records(records)
    for topic in topics:
        assert any(topic_matches(topic, frame.info) for frame in feed.frames), topic.key
    sent = [
        parse_command(r.payload) for r in records if isinstance(r, WsMessage) and not r.direction
    ]
    assert [c.topic for c in sent if isinstance(c, Subscribe)] == topics
    per_connection = Counter(r.conn_id for r in records if isinstance(r, WsOpen))
    assert len(per_connection) == header.source["max_connections"]


def test_every_frame_passes_the_protocol_model(bundled: tuple[Header, list[Record]]) -> None:
    _, records = bundled
    for record in records:
        if not isinstance(record, WsMessage):
            continue
        if record.direction is Direction.CLIENT_TO_SERVER:
            assert isinstance(parse_command(record.payload), Subscribe | Ping)
            continue
        info = classify_frame(record.payload)
        assert info is not None, record
        if info.type in ("subscribed", "pong"):
            continue
        assert info.is_event, record
        assert info.channel is not None
        assert info.event_type in EVENT_TYPES[info.channel], record
        obj = json.loads(record.payload)
        assert isinstance(obj["ts"], int)
        if info.channel is Channel.MAIN_REALTIME:
            assert obj["matchId"].startswith("rt-")
            assert obj["leagueId"].startswith("rt-")
        elif info.topic is None:
            assert not obj["matchId"].startswith("rt-")


def test_session_traffic_is_what_a_recorder_writes(bundled: tuple[Header, list[Record]]) -> None:
    _, records = bundled
    calls = [r for r in records if isinstance(r, HttpExchange)]
    assert [r.url.split("?")[0] for r in calls] == [
        "https://api.soccerfootball.info/v1/ws/new/",
        *["https://api.soccerfootball.info/v1/ws/renew/"] * 5,
    ]
    assert all(r.url.endswith("?t=<API_TOKEN>") and r.status == 200 for r in calls)
    renewals = [r.t_ns for r in calls[1:]]
    assert renewals == [k * 20 * 60 * S for k in range(1, 6)]
    grants = [json.loads(r.body)["result"][0] for r in calls]
    assert {g["token"] for g in grants} == {"<WS_TOKEN_1>"}
    assert [g["is_new"] for g in grants] == [True] + [False] * 5
    notes = Counter(r.kind for r in records if isinstance(r, Note))
    assert (notes["token"], notes["renewal"]) == (1, 5)
    opens = [r for r in records if isinstance(r, WsOpen)]
    assert {r.url for r in opens} == {"wss://ws-eu.soccerfootball.info/?token=<WS_TOKEN_1>"}
    closes = [r for r in records if isinstance(r, WsClose)]
    assert [(r.code, r.conn_id) for r in closes] == [(1000, r.conn_id) for r in opens]
    pings = [
        r.t_ns for r in records if isinstance(r, WsMessage) and r.payload == b'{"action":"ping"}'
    ]
    pongs = [r for r in _incoming(records) if b'"pong"' in r.payload]
    assert len(pings) == len(pongs) == 4 * 239


def test_frames_keep_send_order_on_each_connection(bundled: tuple[Header, list[Record]]) -> None:
    _, records = bundled
    times = [r.t_ns for r in records]
    assert times == sorted(times)
    for conn_id in range(1, 5):
        ts = [json.loads(r.payload).get("ts", 0) for r in _incoming(records, conn_id)]
        assert ts == sorted(ts)


# --- coherent matches --------------------------------------------------------------------------


def test_matches_are_coherent_on_main(bundled: tuple[Header, list[Record]]) -> None:
    header, records = bundled
    by_match: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in _events(records, Channel.MAIN):
        by_match[event["matchId"]].append(event)
    assert set(by_match) == {m["matchId"] for m in header.source["matches"]}
    assert len({m["leagueId"] for m in header.source["matches"]}) >= 3
    for events in by_match.values():
        _check_story(events)


def _check_story(events: list[dict[str, Any]]) -> None:
    names = [e["type"] for e in events]
    assert names[0] == "match_start"
    assert names[-1] == "match_end"
    assert names.count("halftime") == names.count("second_half_start") == 1
    assert names.index("halftime") + 1 == names.index("second_half_start")
    home = away = 0
    half_score = None
    for event in events:
        data = event["data"]
        if event["type"] == "goal":
            home, away = (home + 1, away) if data["team"] == "A" else (home, away + 1)
            assert data["score"] == f"{home};{away}"
        elif event["type"] in ("halftime", "second_half_start"):
            assert data["score"] == f"{home};{away}"
            half_score = data["score"]
    assert events[-1]["data"] == {"finalScore": f"{home};{away}", "score1h": half_score}


def test_stats_agree_with_goals_and_deltas_rebuild_snapshots(
    bundled: tuple[Header, list[Record]],
) -> None:
    header, records = bundled
    match_id = header.source["matches"][0]["matchId"]
    snapshots = [
        e["data"]
        for e in _events(records, Channel.STATS)
        if e["eventType"] == "stats_update" and e["scope"] == "match"
    ]
    state: dict[str, Any] = {}
    rebuilt = []
    for delta in _events(records, Channel.STATS_REALTIME):
        if delta["matchId"] == match_id:
            state |= {c["stat"]: c["value"] for c in delta["data"]["changedStats"]}
            rebuilt.append(dict(state))
    assert rebuilt == snapshots
    assert all(list(s) == list(STAT_NAMES) for s in snapshots)
    final = next(
        e["data"]["finalScore"]
        for e in _events(records, Channel.MAIN)
        if e["type"] == "match_end" and e["matchId"] == match_id
    )
    assert snapshots[-1]["score"] == final
    assert snapshots[-1]["status"] == "FINISHED"


def test_batches_every_30_seconds_with_per_match_entries(
    bundled: tuple[Header, list[Record]],
) -> None:
    header, records = bundled
    matches = {m["matchId"]: m["leagueId"] for m in header.source["matches"]}
    for channel, keys in ((Channel.STATS, STAT_NAMES), (Channel.ODDS, MARKETS)):
        batches = [e for e in _events(records, channel) if e["eventType"] == "batch_update"]
        assert len(batches) > 200
        stamps = [b["ts"] for b in batches]
        assert all((b - stamps[0]) % 30_000 == 0 for b in stamps)
        assert len({b["eventId"] for b in batches}) == len(batches)
        for batch in batches:
            assert (batch["scope"], batch["id"]) == ("all", None)
            for entry in batch["data"]:
                assert matches[entry.pop("matchId")] == entry.pop("leagueId")
                assert tuple(entry) == keys


# --- the simulator itself ----------------------------------------------------------------------


def _fixture(seed: int) -> Fixture:
    league = League("l", "rt-l", "Premier League", "England", "2023/2024")
    return Fixture(
        "m", "rt-m", league, Team("a", "rt-a", "A"), Team("b", "rt-b", "B"), 0, 1.8, 1.4, seed
    )


@pytest.mark.parametrize("seed", range(25))
def test_stats_score_follows_the_goals(seed: int) -> None:
    play = play_match(_fixture(seed))
    for update in play.stats:
        home = sum(1 for g in play.goals if g.t_ns <= update.t_ns and g.side == 0)
        away = sum(1 for g in play.goals if g.t_ns <= update.t_ns and g.side == 1)
        assert update.stats["score"] == f"{home};{away}"
    assert play.stats[-1].stats["status"] == "FINISHED"
    assert play.stats[-1].t_ns == play.clock.end_ns
    odds = play_odds(play)
    assert all(tuple(u.odds) == MARKETS and u.t_ns < play.clock.end_ns for u in odds)
    assert odds[0].changed == MARKETS


def test_league_pool_is_big_enough_for_the_maximum() -> None:
    assert all(len(teams) >= 8 for _, _, teams in LEAGUES)
    header, _ = synthesize(SynthOptions(matches=20, duration_ns=5 * 60 * S))
    assert len(header.source["matches"]) == 20
