"""Every fixture in ``fixtures/`` is what the protocol model says it is.

Commands parse to the expected command, events classify to their channel, event type and IDs
and route as section 12 says, replies equal what a session answers in a known situation, and
REST bodies have the envelope shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.core.envelopes import REST_ERRORS, ws_token_result
from harness.core.mock.ws_session import WsSession
from harness.core.protocol import (
    ECHO_CHANNELS,
    PLAN_CHANNELS,
    Channel,
    Command,
    Ping,
    Plan,
    Subscribe,
    Topic,
    Unsubscribe,
    classify_frame,
    envelope,
    parse_command,
    topic_matches,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def load(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


def names(folder: str) -> list[str]:
    return sorted(str(p.relative_to(FIXTURES)) for p in (FIXTURES / folder).rglob("*.json"))


COMMANDS: dict[str, Command] = {
    "commands/subscribe_all.json": Subscribe(Topic.parse("MAIN:all")),
    "commands/subscribe_match.json": Subscribe(Topic.parse("MAIN:match:b01d28ac92221034")),
    "commands/subscribe_league.json": Subscribe(Topic.parse("MAIN:league:f2b16fa54cb525d")),
    "commands/subscribe_scope_embedded.json": Subscribe(Topic.parse("STATS:match:12345")),
    "commands/unsubscribe_match.json": Unsubscribe(Topic.parse("STATS:match:12345")),
    "commands/unsubscribe_scope_embedded.json": Unsubscribe(Topic.parse("STATS:match:12345")),
    "commands/ping.json": Ping(),
}


def test_every_fixture_is_covered_by_a_test_below() -> None:
    covered = set(COMMANDS) | set(REPLIES) | set(EVENTS) | set(names("rest"))
    assert set(names("")) == covered


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_fixtures_parse(name: str) -> None:
    payload = (FIXTURES / name).read_bytes()
    assert parse_command(payload) == COMMANDS[name]


# --- replies: the last reply of a scripted session -----------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Client frames sent to a fresh session; the fixture is the reply to the last one.

    ``-X`` unsubscribes topic ``X``, ``ping`` pings, ``{...}`` is sent as is, ``expire`` asks
    for the token-expiry reply.
    """

    frames: tuple[str, ...]
    plan: Plan = Plan.MEGA
    limit: int = 2

    def last_reply(self) -> dict[str, Any]:
        session = WsSession(PLAN_CHANNELS[self.plan], self.limit)
        reply: dict[str, Any] = {}
        for spec in self.frames:
            if spec == "expire":
                reply = session.expired_reply()
            else:
                reply = session.receive(_frame(spec), is_text=True, now_ms=1705312800000).body
        return reply


def run(*frames: str, plan: Plan = Plan.MEGA) -> Scenario:
    return Scenario(frames, plan)


def _frame(spec: str) -> str:
    if spec.startswith("{"):
        return spec
    if spec == "ping":
        return '{"action":"ping"}'
    action = "unsubscribe" if spec.startswith("-") else "subscribe"
    topic = Topic.parse(spec.lstrip("-"))
    obj = {"action": action, "channel": topic.channel, "scope": topic.scope, "id": topic.id}
    return json.dumps(obj)


REPLIES: dict[str, Scenario] = {
    "replies/subscribed_all.json": run("MAIN"),
    "replies/subscribed_match.json": run("STATS:match:12345"),
    "replies/subscribed_league.json": run("MAIN:league:67890"),
    "replies/unsubscribed_match.json": run("STATS:match:12345", "-STATS:match:12345"),
    "replies/pong.json": run("ping"),
    "replies/errors/channel_not_allowed.json": run("STATS_REALTIME", plan=Plan.PRO),
    "replies/errors/subscription_limit.json": run("MAIN", "STATS", "ODDS"),
    "replies/errors/invalid_channel.json": run(
        '{"action":"subscribe","channel":"MAIN_RT","scope":"all"}'
    ),
    "replies/errors/invalid_scope.json": run(
        '{"action":"subscribe","channel":"MAIN","scope":"match"}'
    ),
    "replies/errors/invalid_command.json": run('{"action":"subscribe_all"}'),
    "replies/errors/not_subscribed.json": run("-STATS:match:12345"),
    "replies/errors/token_expired.json": run("MAIN", "expire"),
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_reply_fixtures_equal_what_the_session_answers(name: str) -> None:
    assert REPLIES[name].last_reply() == load(name)
    info = classify_frame((FIXTURES / name).read_bytes())
    assert info is not None
    assert not info.is_event


# --- events --------------------------------------------------------------------------------

MAIN_EVENTS = ("match_start", "goal", "halftime", "second_half_start", "match_end")

EVENTS: dict[str, tuple[Channel, str, str]] = {
    f"events/{channel.lower()}/{event}.json": (Channel(channel), event, subscription)
    for channel, events, subscription in [
        ("MAIN", MAIN_EVENTS, "match:12345"),
        ("MAIN_REALTIME", MAIN_EVENTS, "match:rt-12345"),
        ("STATS", ["stats_update"], "match:12345"),
        ("STATS", ["batch_update"], "all"),
        ("ODDS", ["odds_update"], "match:12345"),
        ("ODDS", ["batch_update"], "all"),
        ("STATS_REALTIME", ["stats_update_realtime"], "league:67890"),
        ("ODDS_REALTIME", ["odds_update_realtime"], "match:12345"),
    ]
    for event in events
}
"""fixture -> (channel, event type, a subscription that receives it)."""


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_event_fixtures_classify_and_route(name: str) -> None:
    channel, event_type, subscription = EVENTS[name]
    frame = load(name)
    info = classify_frame((FIXTURES / name).read_bytes())
    assert info is not None
    assert (info.channel, info.event_type, info.is_event) == (channel, event_type, True)
    receiver = Topic.parse(f"{channel}:{subscription}")
    assert topic_matches(receiver, info)
    if channel in ECHO_CHANNELS:
        assert frame["type"] == "event"
        assert info.topic == Topic(channel, receiver.scope, frame["id"])
    else:
        assert frame["type"] == event_type
        assert (info.match_id, info.league_id) == (frame["matchId"], frame["leagueId"])
        assert topic_matches(Topic.parse(f"{channel}:all"), info)
        assert not topic_matches(Topic.parse(f"{channel}:match:other"), info)
    if channel is Channel.MAIN_REALTIME:
        assert info.match_id is not None
        assert info.match_id.startswith("rt-")


@pytest.mark.parametrize(
    "name", ["events/stats/batch_update.json", "events/odds/batch_update.json"]
)
def test_batch_update_has_the_section_12_shape(name: str) -> None:
    frame = load(name)
    single = load(name.replace("batch_update", name.split("/")[1] + "_update"))
    assert (frame["scope"], frame["id"], frame["eventType"]) == ("all", None, "batch_update")
    assert list(frame) == list(single)
    for item in frame["data"]:
        assert set(item) == set(single["data"]) | {"matchId", "leagueId"}
    info = classify_frame(json.dumps(frame))
    assert info is not None
    assert not topic_matches(Topic.parse(f"{frame['channel']}:match:12345"), info)


# --- REST ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", names("rest"))
def test_rest_fixtures_have_the_envelope_shape(name: str) -> None:
    body = load(name)
    assert list(body) == ["status", "errors", "pagination", "result"]
    assert body == envelope(body["status"], body["result"], body["errors"])
    assert len(body["errors"]) <= 1


@pytest.mark.parametrize("name", names("rest/errors"))
def test_rest_error_fixtures_are_table_rows(name: str) -> None:
    body = load(name)
    (error,) = body["errors"]
    rows = {(r.http_status, r.code, r.text(param)) for r in REST_ERRORS for param in ("t", "id")}
    assert (body["status"], error["code"], error["message"]) in rows


@pytest.mark.parametrize("name", ["rest/ws_new.json", "rest/ws_renew.json"])
def test_token_fixtures_equal_the_builder(name: str) -> None:
    result = load(name)["result"][0]
    built = ws_token_result(
        token=result["token"],
        server=result["server"],
        max_connections=2,
        max_subscribe_per_connection=2,
        allowed_channels=[Channel.MAIN],
        expires_at_epoch=1705329000 if result["is_new"] else 1705330500,
        is_new=result["is_new"],
    )
    assert load(name) == envelope(200, [built])
