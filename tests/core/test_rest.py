"""RestApi: section 4 endpoints and the section 12 REST table, as a pure function."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from harness.core.mock.rest_api import RestApi, RestResponse
from harness.core.mock.token_table import HOUR_S, TokenTable, WsToken
from harness.core.profile import DEFAULT_PROFILE
from harness.core.protocol import Plan

NOW = 1_705_312_800.0  # 2024-01-15 10:00:00 UTC
RAPID_HOST = "soccer-football-info.p.rapidapi.com"
OTHER_RAPID_HOST = "soccerfootballinfo.rapidapi.com"


def make_api(**table: Any) -> RestApi:
    counter = itertools.count(1)
    api_token = table.pop("api_token", None)
    limits = DEFAULT_PROFILE.with_limits(ttl_s=1500.0, **table)
    tokens = TokenTable(limits, api_token=api_token, new_token=lambda: f"tok{next(counter)}")
    return RestApi(tokens, ws_url="ws://127.0.0.1:9/")


def get(
    api: RestApi,
    path: str,
    *,
    t: str | None = "key",
    headers: dict[str, str] | None = None,
    now: float = NOW,
    method: str = "GET",
) -> RestResponse:
    query = {} if t is None else {"t": t}
    return api.handle(method, path, query, headers or {}, now)


def header(response: RestResponse, name: str) -> str | None:
    return next((v for k, v in response.headers if k.lower() == name.lower()), None)


def assert_error(response: RestResponse | WsToken, status: int, code: int, message: str) -> None:
    assert isinstance(response, RestResponse)
    assert response.status == status
    assert response.json() == {
        "status": status,
        "errors": [{"code": code, "message": message}],
        "pagination": [],
        "result": [],
    }


def test_ws_new_documented_shape() -> None:
    response = get(make_api(), "/v1/ws/new/")
    assert response.status == 200
    body = response.json()
    assert body["status"] == 200
    assert body["errors"] == []
    assert body["pagination"] == []
    assert body["result"] == [
        {
            "is_new": True,
            "token": "tok1",
            "server": "ws://127.0.0.1:9/?token=tok1",
            "max_connections": 2,
            "max_subscribe_per_connection": 2,
            "allowed_channels": [
                "MAIN",
                "MAIN_REALTIME",
                "STATS",
                "ODDS",
                "STATS_REALTIME",
                "ODDS_REALTIME",
            ],
            "expires_at": "2024-01-15 10:25:00",
        }
    ]
    assert header(response, "Content-Type") == "application/json; charset=utf-8"
    assert header(response, "Access-Control-Allow-Origin") == "*"


def test_ws_new_again_returns_active_token_unchanged() -> None:
    api = make_api()
    first = get(api, "/v1/ws/new").json()["result"][0]
    second = get(api, "/v1/ws/new", now=NOW + 60).json()["result"][0]
    assert second == {**first, "is_new": False}


def test_renew_extends_same_token() -> None:
    api = make_api()
    get(api, "/v1/ws/new")
    renewed = get(api, "/v1/ws/renew/", now=NOW + 600).json()["result"][0]
    assert renewed["token"] == "tok1"
    assert renewed["is_new"] is False
    assert renewed["expires_at"] == "2024-01-15 10:35:00"


def test_renew_without_active_token_is_404_code_6() -> None:
    api = make_api()
    assert_error(get(api, "/v1/ws/renew"), 404, 6, "Not Found")
    get(api, "/v1/ws/new")
    assert_error(get(api, "/v1/ws/renew", now=NOW + 1500), 404, 6, "Not Found")


@pytest.mark.parametrize("path", ["/v1/ws/new", "/v1/ws/new/", "/v1/ws/new//"])
def test_trailing_slashes(path: str) -> None:
    assert get(make_api(), path).status == 200


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/ws", "/ws/new", "/v2/ws/new", "/v1/ws/old"])
def test_unknown_path_is_404_code_6(path: str) -> None:
    assert_error(get(make_api(), path), 404, 6, "Not Found")


def test_other_methods_are_404() -> None:
    assert_error(get(make_api(), "/v1/ws/new", method="POST"), 404, 6, "Not Found")


@pytest.mark.parametrize("t", [None, ""])
def test_missing_token_is_400_code_1(t: str | None) -> None:
    assert_error(get(make_api(), "/v1/ws/new", t=t), 400, 1, "Missing t param")


def test_any_non_empty_token_accepted_by_default_and_restriction() -> None:
    assert get(make_api(), "/v1/ws/new", t="whatever").status == 200
    strict = make_api(api_token="secret")
    assert_error(get(strict, "/v1/ws/new", t="whatever"), 401, 2, "Token is invalid")
    assert get(strict, "/v1/ws/new", t="secret").status == 200


@pytest.mark.parametrize(
    ("state", "code", "message"),
    [
        ("suspended", 3, "Token is suspended"),
        ("no_permission", 4, "Token does not have permission"),
        ("ip_invalid", 5, "Token IP is invalid"),
    ],
)
def test_token_states(state: str, code: int, message: str) -> None:
    api = make_api()
    api.tokens.set_api_token("key", state=state)
    for path in ("/v1/ws/new", "/v1/ws/renew", "/v1/token/status"):
        assert_error(get(api, path), 401, code, message)


def test_basic_plan_has_no_websocket() -> None:
    api = make_api(plan=Plan.BASIC)
    assert_error(get(api, "/v1/ws/new"), 401, 4, "Token does not have permission")
    assert get(api, "/v1/token/status").status == 200


@pytest.mark.parametrize("host", [RAPID_HOST, OTHER_RAPID_HOST, RAPID_HOST.upper(), None])
@pytest.mark.parametrize("path", ["/v1/ws/new", "/ws/new/", "/v1/ws/new/"])
def test_rapidapi_headers_hosts_and_paths(host: str | None, path: str) -> None:
    headers = {"X-RapidAPI-Key": "key"}
    if host is not None:
        headers["X-RapidAPI-Host"] = host
    response = get(make_api(), path, t=None, headers=headers)
    assert response.status == 200
    assert header(response, "x-ratelimit-request-limit") == "3600"
    assert header(response, "x-ratelimit-requests-remaining") == "3599"
    assert header(response, "X-Rate-Limit-Limit") is None


def test_rapidapi_wrong_host_is_400_code_7() -> None:
    headers = {"x-rapidapi-key": "key", "x-rapidapi-host": "example.com"}
    response = get(make_api(), "/v1/ws/new", t=None, headers=headers)
    assert_error(response, 400, 7, "Wrong X-RapidAPI-Host param")


def test_token_status_direct_only() -> None:
    api = make_api()
    rapid = {"x-rapidapi-key": "key", "x-rapidapi-host": RAPID_HOST}
    assert_error(
        get(api, "/token/status", t=None, headers=rapid), 401, 4, "Token does not have permission"
    )
    result = get(api, "/v1/token/status/").json()["result"][0]
    assert result["token"] == "key"
    assert result["plan"] == "MEGA"
    assert result["status"] == "active"
    assert result["usage"]["requests_p_hour"] == 3600
    assert result["usage"]["last_hour_requests"] == 2  # the refused RapidAPI call counted too
    assert isinstance(result["payment"]["next_amount"], str)


def test_quota_429_code_7_and_rate_headers() -> None:
    api = make_api(hourly_quota=2)
    now = 500 * HOUR_S + 100.0
    first = get(api, "/v1/ws/new", now=now)
    assert [header(first, h) for h in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining")] == [
        "2",
        "1",
    ]
    assert header(first, "X-Rate-Limit-Reset") == "3500"
    assert get(api, "/v1/ws/new", now=now).status == 200
    refused = get(api, "/v1/ws/new", now=now)
    assert_error(refused, 429, 7, "Too many requests")
    assert header(refused, "X-Rate-Limit-Remaining") == "0"
    assert get(api, "/v1/ws/new", now=501 * HOUR_S).status == 200


def test_options_preflight() -> None:
    response = make_api().handle(
        "OPTIONS", "/v1/ws/new/", {}, {"Access-Control-Request-Headers": "x-rapidapi-key"}, NOW
    )
    assert response.status == 204
    assert response.body == b""
    assert header(response, "Access-Control-Allow-Origin") == "*"
    assert header(response, "Access-Control-Allow-Headers") == "x-rapidapi-key"
    assert "GET" in (header(response, "Access-Control-Allow-Methods") or "")


def test_every_error_carries_cors() -> None:
    assert header(get(make_api(), "/nope"), "Access-Control-Allow-Origin") == "*"


def test_learned_profile_messages_are_used() -> None:
    import dataclasses

    from harness.core.envelopes import RestError

    profile = dataclasses.replace(DEFAULT_PROFILE, unknown_path=RestError(404, 6, "Nope"))
    api = make_api()
    api.profile = profile
    assert_error(get(api, "/x"), 404, 6, "Nope")


def test_open_websocket_decisions() -> None:
    api = make_api()
    token = get(api, "/v1/ws/new").json()["result"][0]["token"]
    assert_error(api.open_websocket({}, NOW), 401, 2, "Token is invalid")
    assert_error(api.open_websocket({"token": "nope"}, NOW), 401, 2, "Token is invalid")
    assert isinstance(api.open_websocket({"token": token}, NOW), WsToken)
    assert isinstance(api.open_websocket({"token": token}, NOW), WsToken)
    assert_error(api.open_websocket({"token": token}, NOW), 429, 7, "Too many requests")
    api.tokens.detach(token)
    assert isinstance(api.open_websocket({"token": token}, NOW), WsToken)
    assert_error(api.open_websocket({"token": token}, NOW + 1500), 401, 2, "Token is invalid")


def test_the_profile_names_the_allowed_origin() -> None:
    profile = dataclasses.replace(DEFAULT_PROFILE, cors_allow_origin="https://app.example")
    api = RestApi(TokenTable(profile), ws_url="ws://127.0.0.1:9/", profile=profile)
    preflight = api.handle("OPTIONS", "/v1/ws/new/", {}, {}, NOW)
    for response in (get(api, "/v1/ws/new"), get(api, "/nowhere"), preflight):
        assert header(response, "Access-Control-Allow-Origin") == "https://app.example"
