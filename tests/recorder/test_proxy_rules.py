"""The proxy's rewriting rules: the client never sees or sends a real secret."""

from __future__ import annotations

import json

from harness.recorder.proxy_rules import (
    ClientScrubber,
    TokenMap,
    client_response_headers,
    client_token,
    is_token_path,
    local_token_of,
    rewrite_token_body,
    upstream_headers,
    upstream_target,
)


def test_client_token_is_replaced_by_the_real_one() -> None:
    url = upstream_target(
        "/v1/ws/new/?t=fake&x=1", api_base="http://up/", api_token="REAL", rapidapi=False
    )
    assert url == "http://up/v1/ws/new/?t=REAL&x=1"


def test_rapidapi_mode_sends_no_t_and_real_headers() -> None:
    url = upstream_target(
        "/v1/ws/new?t=fake", api_base="http://up", api_token="REAL", rapidapi=True
    )
    assert url == "http://up/v1/ws/new"
    headers = upstream_headers(
        [("X-RapidAPI-Key", "fake"), ("Host", "proxy"), ("Accept", "*/*")],
        api_token="REAL",
        rapidapi=True,
        rapidapi_host="rapid.host",
    )
    assert headers == [
        ("Accept", "*/*"),
        ("X-RapidAPI-Key", "REAL"),
        ("X-RapidAPI-Host", "rapid.host"),
    ]


def test_token_answer_gets_local_token_and_proxy_server() -> None:
    tokens = TokenMap()
    body = json.dumps(
        {
            "status": 200,
            "result": [
                {"token": "UPSTREAM", "server": "wss://ws-eu/?token=UPSTREAM", "is_new": True}
            ],
        }
    ).encode()
    rewritten = json.loads(rewrite_token_body(body, tokens, ws_base="ws://127.0.0.1:9"))
    item = rewritten["result"][0]
    local = item["token"]
    assert local.startswith("local-")
    assert "UPSTREAM" not in json.dumps(rewritten)
    assert item["server"] == f"ws://127.0.0.1:9/?token={local}"
    assert tokens.upstream_server(local) == "wss://ws-eu/?token=UPSTREAM"


def test_renewal_without_server_keeps_the_same_local_token_and_server() -> None:
    tokens = TokenMap()
    first = tokens.local_for("UP", "wss://a/?token=UP")
    body = json.dumps({"result": [{"token": "UP", "expires_at": "x"}]}).encode()
    rewritten = json.loads(rewrite_token_body(body, tokens, ws_base="ws://p"))
    assert rewritten["result"][0] == {"token": first, "expires_at": "x"}
    assert tokens.upstream_server(first) == "wss://a/?token=UP"


def test_token_answer_keeps_the_service_bytes_but_the_swapped_strings() -> None:
    tokens = TokenMap()
    body = (
        b'{ "status" : 200, "result": [ {"token": "UP", "expires_at": "2024-01-01 00:00:00",'
        b' "server": "wss:\\/\\/ws-eu\\/?token=UP", "note": "caf\\u00e9"} ] }'
    )
    rewritten = rewrite_token_body(body, tokens, ws_base="ws://p")
    local = tokens.local_for("UP", None)
    expected = body.replace(
        b"wss:\\/\\/ws-eu\\/?token=UP", b"ws:\\/\\/p\\/?token=" + local.encode()
    )
    assert rewritten == expected.replace(b'"UP"', b'"' + local.encode() + b'"')


def test_non_token_bodies_pass_unchanged() -> None:
    tokens = TokenMap()
    for body in (b"not json", b"[1,2]", b'{"result": [{"plan": "MEGA"}]}'):
        assert rewrite_token_body(body, tokens, ws_base="ws://p") == body


def test_small_helpers() -> None:
    assert is_token_path("/v1/ws/new/?t=1")
    assert is_token_path("/ws/renew")
    assert not is_token_path("/v1/token/status")
    assert local_token_of("/?token=abc&x=1") == "abc"
    assert local_token_of("/") is None
    assert client_response_headers([("Content-Type", "a"), ("Set-Cookie", "b")]) == [
        ("Content-Type", "a")
    ]


def test_the_client_token_is_t_then_the_rapidapi_key() -> None:
    assert client_token("/v1/ws/new/?t=mine", []) == "mine"
    assert client_token("/v1/ws/new/?t=", [("X-RapidAPI-Key", " key ")]) == "key"
    assert client_token("/v1/ws/new/?t=", [("Accept", "*/*")]) is None


def test_the_scrubber_uses_a_plain_client_token_else_the_placeholder() -> None:
    scrub = ClientScrubber("REAL-token-1234", "<API_TOKEN>")
    body = b'{"token":"REAL-token-1234","u":"real%2Dtoken%2D1234"}'
    assert scrub.data(body, "mine") == b'{"token":"mine","u":"mine"}'
    assert scrub.data(body, 'we"ird') == b'{"token":"<API_TOKEN>","u":"<API_TOKEN>"}'
    assert scrub.data(body, "REAL-token-1234") == b'{"token":"<API_TOKEN>","u":"<API_TOKEN>"}'
    assert scrub.headers([("x", "REAL-token-1234")]) == [("x", "<API_TOKEN>")]
