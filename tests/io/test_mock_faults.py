"""Each fault does what it says, seen from a real client (trio-websocket and httpx over loopback),
and the server keeps serving; timing on trio's MockClock with in-memory clients."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from hypothesis import given
from trio_websocket import ConnectionClosed, ConnectionRejected
from wsproto.events import CloseConnection, Message, TextMessage

from harness.core.faults import FaultTimeline
from harness.core.schedule import ReplayOptions
from harness.server import MockServer, ServerConfig, open_mock_server
from harness.strategies import fault_timelines
from tests.io.memory_client import MemoryClient
from tests.io.mock_helpers import (
    API_TOKEN,
    ask,
    connect,
    main_event,
    make_feed,
    new_token,
    receive_json,
    rest_get,
    sub,
)

PING = json.dumps({"action": "ping"})
LONG = "1h"


async def _subscribed(server: MockServer) -> tuple[dict[str, Any], Any]:
    token = await new_token(server)
    return token, token["server"]


async def test_ignore_pings_leaves_pings_unanswered_and_other_commands_answered() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            _, url = await _subscribed(server)
            async with connect(url) as ws:
                assert (await ask(ws, PING))["type"] == "pong"
                server.inject_faults([{"kind": "ignore-pings", "for": LONG}])
                await ws.send_message(PING)
                assert (await ask(ws, sub()))["type"] == "subscribed"  # no pong came first
                server.faults.clear()
                assert (await ask(ws, PING))["type"] == "pong"


@pytest.mark.parametrize(("abrupt", "code"), [(False, 4000), (True, 1006)])
async def test_close_and_drop_end_every_connection_and_new_ones_work(
    abrupt: bool, code: int
) -> None:
    fault = {"kind": "drop"} if abrupt else {"kind": "close", "code": 4000, "reason": "bye"}
    with trio.fail_after(10):
        async with open_mock_server() as server:
            _, url = await _subscribed(server)
            async with connect(url) as first, connect(url) as second:
                server.inject_faults([fault])
                for ws in (first, second):
                    with pytest.raises(ConnectionClosed) as closed:
                        await ws.get_message()
                    reason = closed.value.reason
                    assert reason is not None
                    assert reason.code == code
                    if not abrupt:
                        assert reason.reason == "bye"
            async with connect(url) as again:
                assert (await ask(again, PING))["type"] == "pong"
            assert server.internal_errors == 0


async def test_refuse_connect_refuses_handshakes_while_rest_answers() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            _, url = await _subscribed(server)
            server.inject_faults([{"kind": "refuse-connect", "status": 503, "for": LONG}])
            with pytest.raises(ConnectionRejected) as refused:
                async with connect(url):
                    pass
            assert refused.value.status_code == 503
            body = json.loads(refused.value.body or b"")
            assert body["errors"] == [{"code": 503, "message": "Service Unavailable"}]
            assert (await rest_get(server, "/v1/ws/new/")).status_code == 200
            server.faults.clear()
            async with connect(url) as ws:
                assert (await ask(ws, PING))["type"] == "pong"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, {"code": 7, "message": "Too many requests"}),
        (502, {"code": 502, "message": "Bad Gateway"}),
    ],
)
async def test_rest_error_answers_the_chosen_endpoints(status: int, error: dict[str, Any]) -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            await new_token(server)
            server.inject_faults([{"kind": "rest-error", "status": status, "endpoints": ["renew"]}])
            renew = await rest_get(server, "/v1/ws/renew/")
            assert renew.status_code == status
            assert renew.json()["errors"] == [error]
            assert (await rest_get(server, "/v1/ws/new/")).status_code == 200


async def test_a_refusal_with_times_ends_after_that_many() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            _, url = await _subscribed(server)
            server.inject_faults(
                [
                    {"kind": "rest-error", "endpoints": ["new"], "times": 2},
                    {"kind": "refuse-connect", "times": 1},
                ]
            )
            statuses = [(await rest_get(server, "/v1/ws/new/")).status_code for _ in range(3)]
            assert statuses == [503, 503, 200]
            with pytest.raises(ConnectionRejected):
                async with connect(url):
                    pass
            async with connect(url) as ws:
                assert (await ask(ws, PING))["type"] == "pong"


async def test_expire_token_expires_open_connections_as_documented() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            _, url = await _subscribed(server)
            async with connect(url) as ws:
                server.inject_faults([{"kind": "expire-token"}])
                assert (await receive_json(ws))["code"] == "TOKEN_EXPIRED"
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                assert closed.value.reason is not None
                assert closed.value.reason.code == 4001
            assert (await new_token(server))["is_new"] is True


async def test_revoke_token_refuses_renewal_but_open_connections_run() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            _, url = await _subscribed(server)
            async with connect(url) as ws:
                server.inject_faults([{"kind": "revoke-token", "state": "suspended", "for": LONG}])
                renew = await rest_get(server, "/v1/ws/renew/")
                assert renew.status_code == 401
                assert renew.json()["errors"][0]["code"] == 3
                assert (await ask(ws, PING))["type"] == "pong"
            server.faults.clear()
            assert (await rest_get(server, "/v1/ws/renew/")).status_code == 200


async def _push_and_time(server: MockServer, ws: Any, count: int) -> tuple[list[int], float]:
    began = trio.current_time()
    for n in range(count):
        server.push(main_event(n))
    got = [json.loads(await ws.get_message())["data"]["n"] for _ in range(count)]
    return got, trio.current_time() - began


@pytest.mark.parametrize(
    ("fault", "count", "at_least_s"),
    [
        ({"kind": "latency", "delay": "300ms"}, 1, 0.3),
        ({"kind": "latency", "delay": "100ms", "jitter": "50ms"}, 20, 0.05),
        ({"kind": "drip", "rate": 20}, 5, 4 / 20),
        ({"kind": "split-burst", "size": 2, "gap": "150ms"}, 5, 2 * 0.15),
    ],
)
async def test_pacing_faults_delay_frames_and_keep_their_order(
    fault: dict[str, Any], count: int, at_least_s: float
) -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            _, url = await _subscribed(server)
            async with connect(url) as ws:
                assert (await ask(ws, sub()))["type"] == "subscribed"
                server.inject_faults([{**fault, "for": LONG}])
                got, took = await _push_and_time(server, ws, count)
                assert got == list(range(count))
                assert took >= at_least_s  # a lower bound only: a busy machine is slower
                server.faults.clear()
                got, _ = await _push_and_time(server, ws, 3)
                assert got == [0, 1, 2]


async def test_the_control_api_injects_and_refuses_a_bad_timeline() -> None:
    with trio.fail_after(10):
        async with (
            open_mock_server(None, ServerConfig(control=True)) as server,
            httpx.AsyncClient(base_url=server.base_url) as http,
        ):
            body = {"seed": 1, "faults": [{"kind": "rest-error", "status": 500}]}
            answer = await http.post("/_harness/faults", json=body)
            assert answer.json() == {"ok": True, "faults": 1}
            refused = await http.get("/v1/ws/new/", params={"t": API_TOKEN})
            assert refused.status_code == 500
            bad = await http.post("/_harness/faults", json=[{"kind": "close", "code": 2}])
            assert bad.status_code == 400
            assert "fault 0 (close): code 2 cannot be sent" in bad.text
            await http.post("/_harness/reset")
            assert (await http.get("/v1/ws/new/", params={"t": API_TOKEN})).status_code == 200


# --- timing, on virtual time -------------------------------------------------------------------


async def _texts_until_close(client: MemoryClient) -> tuple[list[tuple[float, str]], int]:
    texts: list[tuple[float, str]] = []
    for _ in range(10_000):  # bounded: the feed's frames, then the close
        for event in await client.next_events():
            if isinstance(event, TextMessage):
                texts.append((trio.current_time(), event.data))
            if isinstance(event, CloseConnection):
                return texts, event.code
    raise AssertionError("no close")


async def test_a_recording_time_fault_fires_when_the_replay_gets_there(
    autojump_clock: trio.testing.MockClock,
) -> None:
    feed = make_feed([(float(second), main_event(second)) for second in range(10)])
    faults = [{"kind": "close", "at": "4.5s", "clock": "recording", "code": 4000}]
    config = ServerConfig(replay=ReplayOptions(speed=1.0))
    async with trio.open_nursery() as nursery, open_mock_server(feed, config) as server:
        server.inject_faults(faults)
        client = await MemoryClient.open(server, nursery)
        client.put(client.ws.send(Message(sub())))
        began = trio.current_time()
        texts, code = await _texts_until_close(client)
        events = [json.loads(text)["data"]["n"] for _, text in texts[1:]]
        assert events == [0, 1, 2, 3, 4]
        assert code == 4000
        assert 4.5 <= trio.current_time() - began <= 4.6


async def test_a_wall_clock_fault_holds_for_its_duration(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery, open_mock_server() as server:
        client = await MemoryClient.open(server, nursery)
        server.inject_faults([{"kind": "ignore-pings", "at": "10s", "for": "5s"}])
        answered = []
        for at in (5.0, 12.0, 16.0):
            await trio.sleep_until(at)
            client.put(client.ws.send(Message(PING)))
            client.put(client.ws.send(Message(sub("STATS"))))
            texts: list[str] = []
            while len(texts) < (2 if at != 12.0 else 1):
                texts += [e.data for e in await client.next_events() if isinstance(e, TextMessage)]
            answered.append(any(json.loads(t)["type"] == "pong" for t in texts))
            client.put(
                client.ws.send(Message(sub("STATS").replace('"subscribe"', '"unsubscribe"')))
            )
            await client.next_events()
        assert answered == [True, False, True]


@given(fault_timelines(max_faults=4, max_at_s=20.0))
def test_the_server_survives_every_generated_timeline(timeline: FaultTimeline) -> None:
    async def main() -> None:
        feed = make_feed([(second * 0.5, main_event(second)) for second in range(60)])
        config = ServerConfig(replay=ReplayOptions(speed=1.0, loop=True))
        async with trio.open_nursery() as nursery, open_mock_server(feed, config) as server:
            client = await MemoryClient.open(server, nursery)
            client.put(client.ws.send(Message(sub())))
            server.inject_faults(timeline)
            with trio.move_on_after(40):  # virtual: the whole timeline plays out
                for _ in range(10_000):
                    events = await client.next_events()
                    if any(isinstance(e, CloseConnection) for e in events):
                        break
            await server.reset()
            after = await MemoryClient.open(server, nursery)
            after.put(after.ws.send(Message(PING)))
            texts: list[str] = []
            for _ in range(100):
                texts += [e.data for e in await after.next_events() if isinstance(e, TextMessage)]
                if texts:
                    break
            assert json.loads(texts[0])["type"] == "pong"
            assert server.internal_errors == 0
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
