"""REST envelopes, the error table, token results and WebSocket reply builders."""

from __future__ import annotations

import json

import pytest

from harness.core import envelopes
from harness.core.envelopes import (
    DEFAULT_ERROR_MESSAGES,
    REST_ERRORS,
    ErrorCode,
    RestError,
    error_reply,
    pong_reply,
    render_message,
    token_status_result,
    ws_token_result,
)
from harness.core.protocol import (
    PLAN_CHANNELS,
    Channel,
    Plan,
    Scope,
    Topic,
    envelope,
    error_envelope,
    format_expires_at,
    subscribed_reply,
    unsubscribed_reply,
)


def test_envelope_has_the_four_keys_in_documented_order() -> None:
    body = envelope(200, [{"a": 1}])
    assert list(body) == ["status", "errors", "pagination", "result"]
    assert body == {"status": 200, "errors": [], "pagination": [], "result": [{"a": 1}]}


def test_error_envelope_has_exactly_one_error() -> None:
    assert error_envelope(401, 2, "Token is invalid") == {
        "status": 401,
        "errors": [{"code": 2, "message": "Token is invalid"}],
        "pagination": [],
        "result": [],
    }


@pytest.mark.parametrize(
    ("row", "status", "code", "text"),
    [
        (envelopes.NOT_FOUND, 404, 6, "Not Found"),
        (envelopes.MISSING_PARAM, 400, 1, "Missing t param"),
        (envelopes.WRONG_PARAM, 400, 7, "Wrong t param"),
        (envelopes.TOKEN_INVALID, 401, 2, "Token is invalid"),
        (envelopes.TOKEN_SUSPENDED, 401, 3, "Token is suspended"),
        (envelopes.TOKEN_NO_PERMISSION, 401, 4, "Token does not have permission"),
        (envelopes.TOKEN_IP_INVALID, 401, 5, "Token IP is invalid"),
        (envelopes.TOO_MANY_REQUESTS, 429, 7, "Too many requests"),
    ],
)
def test_rest_error_table(row: RestError, status: int, code: int, text: str) -> None:
    assert (row.http_status, row.code, row.text()) == (status, code, text)
    assert row.body() == error_envelope(status, code, text)
    assert row in REST_ERRORS


def test_rest_error_param_is_filled_in() -> None:
    assert envelopes.WRONG_PARAM.text("id") == "Wrong id param"


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (0, "1970-01-01 00:00:00"),
        (1705329000, "2024-01-15 14:30:00"),
        (1705329000.999, "2024-01-15 14:30:00"),
        (1619827200, "2021-05-01 00:00:00"),
    ],
)
def test_format_expires_at_is_utc_without_zone(epoch: float, text: str) -> None:
    assert format_expires_at(epoch) == text


def test_ws_token_result_matches_section_4_1() -> None:
    result = ws_token_result(
        token="abc",
        server="wss://host/?token=abc",
        max_connections=2,
        max_subscribe_per_connection=2,
        allowed_channels=[c for c in Channel if c in PLAN_CHANNELS[Plan.MEGA]],
        expires_at_epoch=1705329000,
        is_new=True,
    )
    assert list(result) == [
        "is_new",
        "token",
        "server",
        "max_connections",
        "max_subscribe_per_connection",
        "allowed_channels",
        "expires_at",
    ]
    assert result["allowed_channels"] == [
        "MAIN",
        "MAIN_REALTIME",
        "STATS",
        "ODDS",
        "STATS_REALTIME",
        "ODDS_REALTIME",
    ]
    assert result["expires_at"] == "2024-01-15 14:30:00"
    assert all(type(c) is str for c in result["allowed_channels"])


def test_token_status_result_types() -> None:
    result = token_status_result(
        token="T", plan=Plan.ULTRA, expire_date_epoch=0, last_hour_requests=3
    )
    assert type(result["plan"]) is str
    assert result["payment"]["next_payment"] is None
    assert isinstance(result["payment"]["next_amount"], str)
    assert result["usage"]["last_request_date"] is None
    assert result["usage"]["last_hour_requests"] == 3


def test_reply_builders_have_documented_shapes() -> None:
    topic = Topic(Channel.STATS, Scope.MATCH, "12345")
    assert subscribed_reply(topic) == {
        "type": "subscribed",
        "channel": "STATS",
        "scope": "match",
        "id": "12345",
        "topicKey": "STATS:match:12345",
        "message": "Successfully subscribed",
    }
    assert unsubscribed_reply(Topic(Channel.MAIN, Scope.ALL))["id"] is None
    assert unsubscribed_reply(topic)["message"] == "Successfully unsubscribed"
    assert pong_reply(1705312800000) == {"type": "pong", "ts": 1705312800000}
    reply = error_reply(ErrorCode.NOT_SUBSCRIBED, "m")
    assert reply == {"type": "error", "code": "NOT_SUBSCRIBED", "message": "m"}
    assert json.dumps(reply) == '{"type": "error", "code": "NOT_SUBSCRIBED", "message": "m"}'
    assert type(subscribed_reply(topic)["channel"]) is str


def test_every_error_code_has_a_default_message() -> None:
    assert set(DEFAULT_ERROR_MESSAGES) == set(ErrorCode)
    assert (
        render_message(DEFAULT_ERROR_MESSAGES, "CHANNEL_NOT_ALLOWED", channel="STATS_REALTIME")
        == "Channel STATS_REALTIME is not available for your plan"
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [("{reason}", ""), ("{nope}", "{nope}"), ("{", "{"), ("a {{b}}", "a {b}")],
)
def test_render_message_never_fails(template: str, expected: str) -> None:
    assert render_message({"X": template}, "X") == expected


def test_render_message_falls_back_to_the_code() -> None:
    assert render_message({}, "SOMETHING_NEW") == "SOMETHING_NEW"
