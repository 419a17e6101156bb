"""Upstream faults the recorder must survive: each recorded, handled, with bounded backoff."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import trio

from harness.core.backoff import BackoffPolicy
from harness.core.grant import TokenGrant
from harness.core.profile import DEFAULT_PROFILE
from harness.core.protocol import Subscribe, Topic, encode_command
from harness.core.recording import open_writer
from harness.core.records import HttpExchange, Initiator, Note, Record, WsClose, WsOpen
from harness.core.redact import Redactor
from harness.errors import RecorderError
from harness.recorder.rest_client import RestFailure
from harness.recorder.tee import Tee
from harness.recorder.token_keeper import TokenKeeper
from harness.server import ServerConfig, open_mock_server
from tests.waiting import wait_until

from .conftest import (
    API_TOKEN,
    FAST_BACKOFF,
    client_messages,
    fast_options,
    goal,
    new_header,
    read_records,
    run_recorder,
    running_recorder,
    server_frames,
)

SUBSCRIBE_MAIN = encode_command(Subscribe(Topic.parse("MAIN:all"))).encode()


def notes(records: list[Record], kind: str) -> list[Note]:
    return [r for r in records if isinstance(r, Note) and r.kind == kind]


def resubscribed_on(records: list[Record]) -> set[int]:
    return {m.conn_id for m in client_messages(records) if m.payload == SUBSCRIBE_MAIN}


async def test_server_close_with_code_is_recorded_then_reconnect_and_resubscribe(
    tmp_path: Path,
) -> None:
    path = tmp_path / "closed.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_recorder(path, fast_options(server.base_url)) as recorder,
        ):
            await wait_until(lambda: server.stats.subscriptions >= 1)
            await server.close_connections(code=4000, reason="maintenance")
            await wait_until(lambda: recorder.stats.by_event["subscribed"] >= 2)
            server.push(goal("after", 1))
            await wait_until(lambda: recorder.stats.by_event["goal"] >= 1)
    records = read_records(path)
    closes = [r for r in records if isinstance(r, WsClose)]
    assert (closes[0].code, closes[0].reason, closes[0].initiator) == (
        4000,
        "maintenance",
        Initiator.SERVER,
    )
    assert notes(records, "reconnect")
    assert resubscribed_on(records) == {1, 2}
    assert [m.conn_id for m in server_frames(records) if b'"goal"' in m.payload] == [2]


async def test_abrupt_loss_is_recorded_without_code(tmp_path: Path) -> None:
    path = tmp_path / "abrupt.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_recorder(path, fast_options(server.base_url)) as recorder,
        ):
            await wait_until(lambda: server.stats.subscriptions >= 1)
            await server.close_connections(abrupt=True)
            await wait_until(lambda: recorder.stats.by_event["subscribed"] >= 2)
    closes = [r for r in read_records(path) if isinstance(r, WsClose)]
    assert (closes[0].code, closes[0].initiator) == (None, Initiator.ABRUPT)


async def test_token_expiry_gets_a_fresh_token_and_reconnects(tmp_path: Path) -> None:
    path = tmp_path / "expired.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_recorder(path, fast_options(server.base_url)) as recorder,
        ):
            await wait_until(lambda: server.stats.subscriptions >= 1)
            server.expire_token()
            await wait_until(lambda: recorder.stats.by_event["subscribed"] >= 2)
    records = read_records(path)
    closes = [r for r in records if isinstance(r, WsClose)]
    assert closes[0].code == 4001
    token_calls = [r for r in records if isinstance(r, HttpExchange) and "/v1/ws/new" in r.url]
    assert len(token_calls) == 2
    opened = [r.url for r in records if isinstance(r, WsOpen)]
    assert "<WS_TOKEN_1>" in opened[0]
    assert "<WS_TOKEN_2>" in opened[1]


@pytest.mark.slow
async def test_refused_handshake_is_recorded_and_a_fresh_token_fetched(tmp_path: Path) -> None:
    path = tmp_path / "refused.msgpack"
    slow_first_retry = BackoffPolicy(initial_s=0.6, max_s=1.0)  # time to kill the token
    with trio.fail_after(20):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            options = fast_options(server.base_url, backoff=slow_first_retry)
            async with running_recorder(path, options) as recorder:
                await wait_until(lambda: server.stats.subscriptions >= 1)
                # Close, then kill the token while the recorder waits to reconnect: its next
                # handshake, still with the old token, is refused.
                await server.close_connections(code=1001, reason="going away")
                server.expire_token()
                await wait_until(lambda: recorder.stats.by_event["subscribed"] >= 2)
    records = read_records(path)
    statuses = [r.status for r in records if isinstance(r, WsOpen)]
    assert statuses == [101, 401, 101]
    assert len([r for r in records if isinstance(r, HttpExchange)]) == 2


async def test_silence_without_pong_closes_and_reconnects(tmp_path: Path) -> None:
    path = tmp_path / "silent.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_recorder(path, fast_options(server.base_url)) as recorder,
        ):
            await wait_until(lambda: server.stats.subscriptions >= 1)
            server.stop_answering_pings()
            await wait_until(lambda: recorder.stats.reconnects >= 1)
            server.stop_answering_pings(False)
            await wait_until(lambda: recorder.stats.by_event["subscribed"] >= 2)
    records = read_records(path)
    assert any("no pong" in n.message for n in notes(records, "error"))
    close = next(r for r in records if isinstance(r, WsClose))
    assert (close.reason, close.initiator) == ("no pong", Initiator.CLIENT)
    assert resubscribed_on(records) >= {1, 2}


@pytest.mark.slow
async def test_rate_limited_renewal_is_recorded_and_retried_with_bounded_backoff(
    tmp_path: Path,
) -> None:
    path = tmp_path / "limited.msgpack"
    # One REST call per hour: /v1/ws/new succeeds, every later call gets 429.
    config = ServerConfig(
        api_token=API_TOKEN, profile=DEFAULT_PROFILE.with_limits(ttl_s=2.0, hourly_quota=1)
    )
    with trio.fail_after(20):
        async with open_mock_server(None, config) as server:
            options = fast_options(server.base_url)
            async with running_recorder(path, options) as recorder:
                await wait_until(lambda: recorder.stats.errors >= 6, timeout=15)
    records = read_records(path)
    limited = [r for r in records if isinstance(r, HttpExchange) and r.status == 429]
    assert len(limited) >= 4
    assert any("429" in n.message for n in notes(records, "error"))
    # Retries keep coming, never further apart than the backoff cap (plus the call itself).
    gaps = [(b.t_ns - a.t_ns) / 1e9 for a, b in itertools.pairwise(limited)]
    assert max(gaps) <= FAST_BACKOFF.max_s + 0.5


async def test_service_gone_at_the_start_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "gone.msgpack"
    with (
        trio.fail_after(10),
        pytest.raises(RecorderError, match=r"cannot reach http://127\.0\.0\.1:9/v1/ws/new/"),
    ):
        await run_recorder(path, fast_options("http://127.0.0.1:9"))


class _FlakyClient:
    """A token client: one grant, then ``failures`` answers-less calls, then grants again."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def new_token(self) -> TokenGrant:
        self.calls += 1
        if 1 < self.calls <= 1 + self.failures:
            raise RestFailure(0, "ConnectError: gone", url="http://h/v1/ws/new/")
        return TokenGrant(f"tok-{self.calls}", "ws://h/", None, 1, 1, (), True)


async def test_service_gone_after_the_first_grant_retries_with_bounded_backoff(
    tmp_path: Path,
) -> None:
    redactor = Redactor([API_TOKEN])
    with open_writer(tmp_path / "gone.msgpack", new_header()) as writer:
        tee = Tee(writer, redactor)
        client = _FlakyClient(failures=4)
        keeper = TokenKeeper(
            client,  # type: ignore[arg-type]
            tee,
            backoff=FAST_BACKOFF,
            rng=random.Random(1),
        )
        with trio.fail_after(10):
            first = await keeper.current(trio.Event())
            assert first is not None
            keeper.invalidate(first)
            again = await keeper.current(trio.Event())
    assert again is not None
    assert again.token == "tok-6"
    assert tee.stats.errors == 4
