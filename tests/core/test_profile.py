"""Behaviour profile: section 12 defaults, and learning texts and codes from a recording."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from harness.core.envelopes import DEFAULT_ERROR_MESSAGES
from harness.core.mock.ws_session import WsSession
from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile, learn_from_recording
from harness.core.protocol import PLAN_CHANNELS, Plan, Subscribe, Topic, encode_command
from harness.core.records import (
    Direction,
    HttpExchange,
    Initiator,
    Note,
    Record,
    WsClose,
    WsMessage,
)

UP = Direction.CLIENT_TO_SERVER
DOWN = Direction.SERVER_TO_CLIENT


def msg(conn: int, direction: Direction, obj: Any, t_ns: int = 0) -> WsMessage:
    return WsMessage(t_ns, conn, direction, json.dumps(obj).encode())


def error(conn: int, code: str, message: str) -> WsMessage:
    return msg(conn, DOWN, {"type": "error", "code": code, "message": message})


def test_defaults_are_section_12() -> None:
    p = DEFAULT_PROFILE
    assert p.default_plan is Plan.MEGA
    assert (p.max_connections, p.max_subscribe_per_connection) == (2, 2)
    assert p.token_ttl_s == 1500.0
    assert p.hourly_quota is None
    assert (p.token_expired_close_code, p.token_expired_close_reason) == (4001, "token expired")
    assert p.message("TOKEN_EXPIRED") == "WebSocket token expired"
    assert (p.unknown_token.http_status, p.unknown_token.code) == (401, 2)
    assert p.missing_auth.text() == "Missing t param"
    assert (p.quota_exceeded.http_status, p.quota_exceeded.code) == (429, 7)
    assert p.slow_reader_close_code == 1008
    assert dict(p.error_messages) == dict(DEFAULT_ERROR_MESSAGES)


def test_profile_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_PROFILE.max_connections = 3  # type: ignore[misc]


def test_nothing_learned_from_an_empty_or_eventless_recording() -> None:
    assert learn_from_recording([]) == DEFAULT_PROFILE
    noise: list[Record] = [
        Note(0, "renewal"),
        WsMessage(1, 1, DOWN, b"not json"),
        msg(1, DOWN, {"type": "goal", "channel": "MAIN", "matchId": "1"}),
        msg(1, DOWN, {"type": "pong", "ts": 5}),
        WsClose(2, 1, 1000, "bye", Initiator.SERVER),
    ]
    assert learn_from_recording(noise) == DEFAULT_PROFILE


def test_recorded_reply_and_error_texts_win() -> None:
    records: list[Record] = [
        HttpExchange(0, "GET", "https://x/v1/ws/new/", 200, _ws_new_body(limit=3)),
        msg(1, UP, {"action": "subscribe", "channel": "STATS_REALTIME", "scope": "all"}),
        error(1, "CHANNEL_NOT_ALLOWED", "Plan lacks STATS_REALTIME"),
        msg(1, UP, {"action": "subscribe", "channel": "MAIN", "scope": "all"}),
        msg(1, DOWN, {"type": "subscribed", "message": "Subscribed!"}),
        msg(1, UP, {"action": "subscribe", "channel": "ODDS", "scope": "match:77"}),
        error(1, "SUBSCRIPTION_LIMIT", "Limit 3 reached for ODDS match 77"),
        msg(1, UP, {"action": "unsubscribe", "channel": "ODDS", "scope": "match", "id": "77"}),
        error(1, "NOT_SUBSCRIBED", "No {such} subscription: ODDS:match:77"),
        msg(1, UP, {"action": "unsubscribe", "channel": "MAIN", "scope": "all"}),
        msg(1, DOWN, {"type": "unsubscribed", "message": "Bye"}),
        error(1, "NOT_SUBSCRIBED", "later texts do not override the first"),
    ]
    learned = learn_from_recording(records)
    assert learned.subscribed_message == "Subscribed!"
    assert learned.unsubscribed_message == "Bye"
    assert learned.message("CHANNEL_NOT_ALLOWED", channel="ODDS") == "Plan lacks ODDS"
    assert learned.message("SUBSCRIPTION_LIMIT", limit=2, channel="MAIN", id="9") == (
        "Limit 2 reached for MAIN match 9"
    )
    assert learned.message("NOT_SUBSCRIBED", topic="MAIN:all") == "No {such} subscription: MAIN:all"
    assert learned.message("INVALID_SCOPE", reason="r") == "Invalid scope: r"  # not recorded
    # never from the recording: limits, times, tokens
    assert learned.max_subscribe_per_connection == DEFAULT_PROFILE.max_subscribe_per_connection
    assert learned.token_ttl_s == DEFAULT_PROFILE.token_ttl_s


def test_learned_profile_drives_the_session() -> None:
    records: list[Record] = [
        msg(1, UP, {"action": "subscribe", "channel": "STATS", "scope": "all"}),
        error(1, "CHANNEL_NOT_ALLOWED", "Channel STATS is not in your package"),
    ]
    session = WsSession(PLAN_CHANNELS[Plan.PRO], 2, learn_from_recording(records))
    reply = session.receive(encode_command(Subscribe(Topic.parse("ODDS"))), is_text=True, now_ms=0)
    assert reply.body == {
        "type": "error",
        "code": "CHANNEL_NOT_ALLOWED",
        "message": "Channel ODDS is not in your package",
    }


@pytest.mark.parametrize(
    ("close", "learned"),
    [
        (WsClose(9, 1, 4003, "expired token", Initiator.SERVER), (4003, "expired token")),
        (WsClose(9, 1, 1000, "bye", Initiator.CLIENT), (4001, "token expired")),
        (WsClose(9, 1, None, "", Initiator.ABRUPT), (4001, "token expired")),
        (WsClose(9, 2, 4003, "other connection", Initiator.SERVER), (4001, "token expired")),
    ],
)
def test_close_after_token_expired_is_learned(close: WsClose, learned: tuple[int, str]) -> None:
    records: list[Record] = [error(1, "TOKEN_EXPIRED", "token is gone"), close]
    profile = learn_from_recording(records)
    assert (profile.token_expired_close_code, profile.token_expired_close_reason) == learned
    assert profile.message("TOKEN_EXPIRED") == "token is gone"


def test_a_server_close_without_a_known_cause_teaches_nothing() -> None:
    records: list[Record] = [WsClose(9, 1, 4999, "mystery", Initiator.SERVER)]
    assert learn_from_recording(records) == DEFAULT_PROFILE


def test_rest_error_texts_are_learned_by_status_and_code() -> None:
    body = json.dumps(
        {"status": 401, "errors": [{"code": 2, "message": "Invalid token"}], "result": []}
    ).encode()
    missing = json.dumps({"status": 400, "errors": [{"code": 1, "message": "Need t"}]}).encode()
    records: list[Record] = [
        HttpExchange(0, "GET", "https://x/v1/ws/new/", 401, body),
        HttpExchange(0, "GET", "https://x/v1/ws/new/", 400, missing),
        HttpExchange(0, "GET", "https://x/v1/ws/new/", 0, b"", error="connect failed"),
    ]
    learned = learn_from_recording(records)
    assert learned.unknown_token.text() == "Invalid token"
    assert learned.unknown_token.http_status == 401
    assert learned.missing_auth == DEFAULT_PROFILE.missing_auth  # parametrised: kept
    assert learned.unknown_path == DEFAULT_PROFILE.unknown_path


def test_learning_starts_from_the_given_base() -> None:
    base = dataclasses.replace(DEFAULT_PROFILE, max_connections=5, subscribed_message="hi")
    learned = learn_from_recording([msg(1, DOWN, {"type": "unsubscribed", "message": "x"})], base)
    assert (learned.max_connections, learned.subscribed_message) == (5, "hi")
    assert learned.unsubscribed_message == "x"
    assert isinstance(learned, BehaviourProfile)


def _ws_new_body(limit: int) -> bytes:
    result = {"is_new": True, "token": "t", "max_subscribe_per_connection": limit}
    return json.dumps({"status": 200, "errors": [], "pagination": [], "result": [result]}).encode()


def test_context_is_only_the_command_that_provoked_the_error() -> None:
    records: list[Record] = [
        msg(1, UP, {"action": "subscribe", "channel": "MAIN", "scope": "all"}),
        WsMessage(2, 1, UP, b"MAIN garbage"),
        error(1, "INVALID_COMMAND", "MAIN garbage is not JSON"),
    ]
    learned = learn_from_recording(records)
    assert learned.message("INVALID_COMMAND", channel="ODDS") == "MAIN garbage is not JSON"
