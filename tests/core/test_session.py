"""Sans-IO WsSession: plan checks, slots, idempotent subscribe, exact unsubscribe, ping, routing."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core.mock.ws_session import Pong, Refused, SessionEvent, Subscribed, WsSession
from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile
from harness.core.protocol import (
    PLAN_CHANNELS,
    Channel,
    Plan,
    Subscribe,
    Topic,
    Unsubscribe,
    classify_frame,
    encode_command,
)
from harness.errors import UsageError


def sub(spec: str) -> str:
    return encode_command(Subscribe(Topic.parse(spec)))


def unsub(spec: str) -> str:
    return encode_command(Unsubscribe(Topic.parse(spec)))


def receive(session: WsSession, payload: str | bytes, *, is_text: bool = True) -> SessionEvent:
    return session.receive(payload, is_text=is_text, now_ms=1705312800000)


def send(session: WsSession, payload: str | bytes, *, is_text: bool = True) -> dict[str, Any]:
    return receive(session, payload, is_text=is_text).body


def mega(limit: int = 2, profile: BehaviourProfile = DEFAULT_PROFILE) -> WsSession:
    return WsSession(PLAN_CHANNELS[Plan.MEGA], limit, profile)


def test_subscribe_replies_in_form_a_even_for_form_b() -> None:
    session = mega()
    payload = '{"action":"subscribe","channel":"STATS","scope":"match:12345"}'
    event = receive(session, payload)
    assert event.body == {
        "type": "subscribed",
        "channel": "STATS",
        "scope": "match",
        "id": "12345",
        "topicKey": "STATS:match:12345",
        "message": "Successfully subscribed",
    }
    assert session.subscriptions == {Topic.parse("STATS:match:12345")}
    assert event == Subscribed(event.body, Topic.parse("STATS:match:12345"), added=True)
    assert receive(session, payload) == Subscribed(event.body, event.topic, added=False)


@pytest.mark.parametrize(
    ("plan", "channel", "allowed"),
    [
        (Plan.PRO, "MAIN", True),
        (Plan.PRO, "STATS", False),
        (Plan.ULTRA, "ODDS", True),
        (Plan.ULTRA, "STATS_REALTIME", False),
        (Plan.ULTRA, "MAIN_REALTIME", False),
        (Plan.MEGA, "MAIN_REALTIME", True),
        (Plan.BASIC, "MAIN", False),
    ],
)
def test_allowed_channels(plan: Plan, channel: str, allowed: bool) -> None:
    session = WsSession(PLAN_CHANNELS[plan], 2)
    reply = send(session, sub(channel))
    if allowed:
        assert reply["type"] == "subscribed"
    else:
        assert reply == {
            "type": "error",
            "code": "CHANNEL_NOT_ALLOWED",
            "message": f"Channel {channel} is not available for your plan",
        }
        assert session.subscription_count == 0


def test_every_subscription_takes_a_slot_and_duplicates_take_none() -> None:
    session = mega(limit=2)
    assert send(session, sub("MAIN"))["type"] == "subscribed"
    assert send(session, sub("MAIN"))["type"] == "subscribed"
    assert send(session, sub("STATS:match:1"))["type"] == "subscribed"
    assert send(session, sub("MAIN:all"))["type"] == "subscribed"  # duplicate at the limit
    limit = send(session, sub("ODDS"))
    assert limit["code"] == "SUBSCRIPTION_LIMIT"
    assert "2" in limit["message"]
    assert session.subscription_count == 2
    assert session.ordered_subscriptions() == (Topic.parse("MAIN"), Topic.parse("STATS:match:1"))


def test_unsubscribe_is_exact_and_frees_a_slot() -> None:
    session = mega(limit=2)
    send(session, sub("STATS:match:12345"))
    send(session, sub("MAIN"))
    missing = send(session, unsub("STATS:league:12345"))
    assert missing == {
        "type": "error",
        "code": "NOT_SUBSCRIBED",
        "message": "Not subscribed to STATS:league:12345",
    }
    assert session.subscription_count == 2
    form_b = '{"action":"unsubscribe","channel":"STATS","scope":"match:12345"}'
    assert send(session, form_b) == {
        "type": "unsubscribed",
        "channel": "STATS",
        "scope": "match",
        "id": "12345",
        "topicKey": "STATS:match:12345",
        "message": "Successfully unsubscribed",
    }
    assert session.subscriptions == {Topic.parse("MAIN")}
    assert send(session, sub("ODDS"))["type"] == "subscribed"


def test_ping_answers_with_the_given_time() -> None:
    session = mega()
    assert session.receive('{"action":"ping"}', is_text=True, now_ms=42) == Pong(
        {"type": "pong", "ts": 42}
    )


@pytest.mark.parametrize(
    ("payload", "is_text", "code"),
    [
        ("hello", True, "INVALID_COMMAND"),
        (b'{"action":"ping"}', False, "INVALID_COMMAND"),
        ('{"action":"subscribe","channel":"NOPE","scope":"all"}', True, "INVALID_CHANNEL"),
        ('{"action":"subscribe","channel":"MAIN","scope":"match"}', True, "INVALID_SCOPE"),
    ],
)
def test_malformed_frames_get_an_error_and_change_nothing(
    payload: str | bytes, is_text: bool, code: str
) -> None:
    session = mega()
    send(session, sub("MAIN"))
    event = receive(session, payload, is_text=is_text)
    assert isinstance(event, Refused)
    assert (event.code, event.command) == (code, None)
    reply = event.body
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert session.subscriptions == {Topic.parse("MAIN")}


def test_profile_texts_are_used() -> None:
    texts = dict(DEFAULT_PROFILE.error_messages) | {"NOT_SUBSCRIBED": "nope {topic}"}
    profile = dataclasses.replace(DEFAULT_PROFILE, subscribed_message="ok", error_messages=texts)
    session = mega(profile=profile)
    assert send(session, sub("MAIN"))["message"] == "ok"
    assert send(session, unsub("ODDS"))["message"] == "nope ODDS:all"


def test_token_expiry_reply_and_close() -> None:
    session = mega()
    assert session.expired_reply() == {
        "type": "error",
        "code": "TOKEN_EXPIRED",
        "message": "WebSocket token expired",
    }
    assert session.expired_close == (4001, "token expired")


def test_wants_routes_by_any_subscription() -> None:
    session = mega(limit=3)
    goal = classify_frame('{"type":"goal","channel":"MAIN","matchId":"1","leagueId":"9"}')
    stats = classify_frame(
        '{"type":"event","channel":"STATS","scope":"match","id":"1","eventType":"stats_update"}'
    )
    assert goal is not None
    assert stats is not None
    assert not session.wants(goal)
    send(session, sub("MAIN:league:9"))
    assert session.wants(goal)
    send(session, sub("STATS:all"))
    assert not session.wants(stats)  # echo channels route by exact topic only
    send(session, sub("STATS:match:1"))
    assert session.wants(stats)


def test_negative_limit_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        WsSession([Channel.MAIN], -1)


commands = st.sampled_from(
    ["MAIN", "MAIN:match:1", "STATS:league:2", "ODDS", "STATS_REALTIME:match:3"]
).flatmap(lambda spec: st.sampled_from([sub(spec), unsub(spec)]))


@given(frames=st.lists(commands, max_size=30), limit=st.integers(0, 3))
def test_slots_are_never_exceeded_and_replies_track_state(frames: list[str], limit: int) -> None:
    session = WsSession(PLAN_CHANNELS[Plan.ULTRA], limit)
    for frame in frames:
        before = session.subscriptions
        reply = send(session, frame)
        topic = Topic.parse(reply["topicKey"]) if "topicKey" in reply else None
        if reply["type"] == "subscribed":
            assert topic in session.subscriptions
        elif reply["type"] == "unsubscribed":
            assert topic in before
            assert topic not in session.subscriptions
        else:
            assert session.subscriptions == before
        assert session.subscription_count <= limit
        assert json.loads(json.dumps(reply)) == reply
