"""A live session against the mock server: what a well-behaved client does, all recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from harness.core.profile import DEFAULT_PROFILE
from harness.core.protocol import Ping, Plan, Subscribe, Topic, encode_command
from harness.core.recording import read_recording
from harness.core.records import HttpExchange, Initiator, Note, WsClose, WsOpen
from harness.errors import RecorderError, UsageError
from harness.server import ServerConfig, open_mock_server
from tests.waiting import wait_until

from .conftest import (
    API_TOKEN,
    client_messages,
    fast_options,
    goal,
    read_records,
    run_recorder,
    running_recorder,
    server_frames,
)


async def test_session_records_token_subscription_pings_and_frames(tmp_path: Path) -> None:
    path = tmp_path / "live.msgpack"
    pushed = [goal("m1", minute) for minute in (3, 17, 42)]
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_recorder(path, fast_options(server.base_url)) as recorder,
        ):
            await wait_until(lambda: server.stats.subscriptions >= 1)
            for payload in pushed:
                server.push(payload)
            await wait_until(
                lambda: recorder.stats.frames_in >= 4 and recorder.stats.by_event["pong"] >= 1
            )
    header, records, damage = read_recording(path)
    assert damage is None
    assert header.redacted is True
    # The token call is recorded, with the API token and the WS token replaced.
    exchange = next(r for r in records if isinstance(r, HttpExchange))
    assert "/v1/ws/new" in exchange.url
    assert "t=%3CAPI_TOKEN%3E" in exchange.url or "t=<API_TOKEN>" in exchange.url
    assert exchange.status == 200
    assert b"<WS_TOKEN_1>" in exchange.body
    # The connection went to the returned server URL, token redacted.
    opened = [r for r in records if isinstance(r, WsOpen)]
    assert [o.status for o in opened] == [101]
    assert "<WS_TOKEN_1>" in opened[0].url
    # Subscribe (form A) first, then application pings.
    sent = [m.payload for m in client_messages(records)]
    assert sent[0] == encode_command(Subscribe(Topic.parse("MAIN:all"))).encode()
    assert encode_command(Ping()).encode() in sent[1:]
    # Every pushed frame arrived byte for byte, in order, beside the replies.
    received = [m.payload for m in server_frames(records)]
    assert [p for p in received if p in pushed] == pushed
    assert any(b'"subscribed"' in p for p in received)
    assert any(b'"pong"' in p for p in received)
    # A polite close at the end.
    close = next(r for r in records if isinstance(r, WsClose))
    assert (close.code, close.reason, close.initiator) == (
        1000,
        "recording finished",
        Initiator.CLIENT,
    )


async def test_subscriptions_are_spread_over_connections(tmp_path: Path) -> None:
    path = tmp_path / "spread.msgpack"
    specs = ("MAIN:all", "STATS:match:1", "ODDS:league:2")
    config = ServerConfig(
        api_token=API_TOKEN,
        profile=DEFAULT_PROFILE.with_limits(max_connections=2, max_subscribe_per_connection=2),
    )
    with trio.fail_after(20):
        async with (
            open_mock_server(None, config) as server,
            running_recorder(path, fast_options(server.base_url, *specs)) as recorder,
        ):
            await wait_until(lambda: recorder.stats.by_event["subscribed"] >= 3)
    records = read_records(path)
    opened = [r for r in records if isinstance(r, WsOpen)]
    assert len(opened) == 2
    by_conn: dict[int, list[bytes]] = {}
    for message in client_messages(records):
        by_conn.setdefault(message.conn_id, []).append(message.payload)
    assert sorted(len([p for p in v if b"subscribe" in p]) for v in by_conn.values()) == [1, 2]


async def test_too_many_subscriptions_fail_before_any_connection(tmp_path: Path) -> None:
    specs = ("MAIN:all", "STATS:all", "ODDS:all", "MAIN_REALTIME:all", "ODDS_REALTIME:all")
    with trio.fail_after(20):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            with pytest.raises(UsageError, match="5 subscriptions do not fit"):
                await run_recorder(tmp_path / "x.msgpack", fast_options(server.base_url, *specs))
            assert server.stats.connections == 0


async def test_refused_api_token_is_fatal_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "refused.msgpack"
    with trio.fail_after(20):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            server.revoke_api_token(API_TOKEN, "suspended")
            with pytest.raises(RecorderError, match="Token is suspended"):
                await run_recorder(path, fast_options(server.base_url))
    records = read_records(path)
    assert [r.status for r in records if isinstance(r, HttpExchange)] == [401]


async def test_every_subscription_refused_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "plan.msgpack"
    config = ServerConfig(
        api_token=API_TOKEN, profile=DEFAULT_PROFILE.with_limits(plan=Plan.PRO)
    )  # PRO: MAIN only
    with trio.fail_after(20):
        async with open_mock_server(None, config) as server:
            with pytest.raises(RecorderError, match="every subscription was refused"):
                await run_recorder(path, fast_options(server.base_url, "STATS_REALTIME:all"))
    records = read_records(path)
    notes = [r for r in records if isinstance(r, Note) and r.kind == "subscription_error"]
    assert notes[0].data["code"] == "CHANNEL_NOT_ALLOWED"
    assert any(isinstance(r, WsClose) and r.initiator is Initiator.CLIENT for r in records)


async def test_duration_ends_the_session(tmp_path: Path) -> None:
    path = tmp_path / "timed.msgpack"
    with trio.fail_after(20):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            start = trio.current_time()
            await run_recorder(path, fast_options(server.base_url, duration_s=0.5))
            assert 0.5 <= trio.current_time() - start < 5
    notes = [r for r in read_records(path) if isinstance(r, Note) and r.kind == "stop"]
    assert notes[0].message == "duration reached"
