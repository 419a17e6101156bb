"""Issue 7: a stopping mock closes every client with 1001 within a bounded time, then exits."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url
from wsproto.events import CloseConnection, TextMessage

from harness.core.profile import DEFAULT_PROFILE
from harness.errors import UsageError
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.io.memory_client import MemoryClient
from tests.io.mock_helpers import main_event, make_feed, new_token, sub
from tests.io.raw_client import server_frames

OPCODE_CLOSE = 0x8
GRACE_S = 1.0


async def _connect(server: MockServer, nursery: trio.Nursery) -> WebSocketConnection:
    """A trio-websocket client in ``nursery``, so it outlives the server block."""
    url = (await new_token(server))["server"]
    return await connect_websocket_url(nursery, url)


async def _close_seen(ws: WebSocketConnection) -> tuple[int, str | None]:
    """The close the client got (trio-websocket reports a missing close frame as 1006)."""
    with trio.fail_after(10), pytest.raises(ConnectionClosed) as closed:
        await _read_all(ws)
    reason = closed.value.reason
    assert reason is not None
    return reason.code, reason.reason


async def _read_all(ws: WebSocketConnection) -> None:
    for _ in range(100_000):  # bounded: far more than any test sends
        await ws.get_message()


async def test_cancelling_the_server_closes_every_client_with_1001() -> None:
    # Given two clients of a library-run mock
    async with trio.open_nursery() as clients:
        async with open_mock_server() as server:
            first, second = await _connect(server, clients), await _connect(server, clients)
        # When the server block ends (the mock is cancelled)
        # Then both got a clean going-away close with the profile's reason, never a 1006
        for ws in (first, second):
            assert await _close_seen(ws) == (1001, "server shutting down")


async def test_shut_down_reports_clean_closes_and_stops_accepting() -> None:
    async with trio.open_nursery() as clients, open_mock_server() as server:
        ws = await _connect(server, clients)
        report = await server.shut_down()
        assert (report.closed, report.cut) == (1, 0)
        assert await _close_seen(ws) == (1001, "server shutting down")
        with trio.fail_after(10):  # the listener is closed: a new TCP connection is refused
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            except OSError:
                pass
            else:
                await stream.aclose()
                raise AssertionError("a connection was accepted after the shutdown began")


async def test_a_client_that_never_answers_is_cut_after_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Given a subscribed client of a replay that keeps sending, which never answers a close
    feed = make_feed([(i * 0.05, main_event(i)) for i in range(200)])
    config = ServerConfig(shutdown_grace_s=GRACE_S)
    async with trio.open_nursery() as nursery, open_mock_server(feed, config) as server:
        client = await MemoryClient.open(server, nursery)
        client.put(_text(client, sub()))
        for _ in range(1000):  # bounded: until events are flowing
            if b'"goal"' in client.received:
                break
            await client.next_events()
        # When the server shuts down
        start = trio.current_time()
        report = await server.shut_down()
        elapsed = trio.current_time() - start
        for _ in range(100_000):  # bounded: read to the end of the stream
            if not await _more(client):
                break
    # Then it waited the whole grace, then cut the client
    assert (report.closed, report.cut) == (0, 1)
    assert GRACE_S <= elapsed < GRACE_S + 0.5
    # And the close frame came last: no data frame after it (RFC 6455 5.5.1)
    frames = server_frames(client.received)
    opcodes = [opcode for opcode, _ in frames]
    assert opcodes[-1] == OPCODE_CLOSE
    assert opcodes.count(OPCODE_CLOSE) == 1
    assert int.from_bytes(frames[-1][1][:2]) == DEFAULT_PROFILE.shutdown_close_code


async def test_hurry_cuts_the_grace_short(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery, open_mock_server() as server:
        await MemoryClient.open(server, nursery)
        hurry = trio.Event()
        nursery.start_soon(_set_after, hurry, 0.1)
        start = trio.current_time()
        report = await server.shut_down(60, hurry=hurry)
        assert trio.current_time() - start < 1
        assert (report.closed, report.cut) == (0, 1)


async def test_a_client_that_answers_the_close_counts_as_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery, open_mock_server() as server:
        client = await MemoryClient.open(server, nursery)
        async with trio.open_nursery() as inner:
            inner.start_soon(_answer_close, client)
            report = await server.shut_down(60)
        assert (report.closed, report.cut) == (1, 0)


def _text(client: MemoryClient, text: str) -> bytes:
    return client.ws.send(TextMessage(data=text))


async def _more(client: MemoryClient) -> bool:
    before = len(client.received)
    await client.next_events()
    return len(client.received) > before


async def _set_after(event: trio.Event, delay_s: float) -> None:
    await trio.sleep(delay_s)
    event.set()


async def _answer_close(client: MemoryClient) -> None:
    for _ in range(1000):  # bounded: the close comes within a few reads
        for event in await client.next_events():
            if isinstance(event, CloseConnection):
                client.put(client.ws.send(event.response()))
                return


async def test_cutting_a_connection_that_already_ended_keeps_its_close_code(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # (a shutdown may race a client that finishes its close just as the grace ends)
    async with trio.open_nursery() as nursery, open_mock_server() as server:
        client = await MemoryClient.open(server, nursery)
        [conn] = server.connections()
        async with trio.open_nursery() as inner:
            inner.start_soon(_answer_close, client)
            await server.shut_down(60)
        assert conn.done.is_set()
        conn.abort()
        assert conn.close_code == 1001


@pytest.mark.parametrize("grace", [-1.0, float("nan"), float("inf")])
def test_an_impossible_grace_is_a_usage_error(grace: float) -> None:
    with pytest.raises(UsageError, match="shutdown grace"):
        ServerConfig(shutdown_grace_s=grace)
