"""Run as ``python -m tests.io.hang_scenario abrupt|clean``: the replay-hang scenario, in a child
process (so a server that never yields again cannot hang the test run itself).

A client holding ``STATS_REALTIME:all`` and ``ODDS_REALTIME:all`` at ``--speed max --loop``
stops reading until the server has queued more than the flow-control low-water mark for it,
then leaves (TCP reset, or a clean close).  The server must then answer REST and a new WebSocket
within a bounded time.  Exit 0 when it does."""

from __future__ import annotations

import socket
import struct
import sys

import trio
from wsproto.events import CloseConnection

from harness.core.schedule import ReplayOptions
from harness.server import ServerConfig, open_mock_server
from harness.server.client import LOW_WATER
from tests.io.mock_helpers import ask, connect, main_event, make_feed, new_token, rest_get, sub
from tests.io.raw_client import RawClient
from tests.waiting import wait_until

PADDING = b" " * 2000


def realtime_feed() -> list[tuple[float, bytes]]:
    frames = []
    for i in range(400):
        channel = "STATS_REALTIME" if i % 2 else "ODDS_REALTIME"
        frames.append((i * 0.01, main_event(i, channel=channel) + PADDING))
    return frames


async def scenario(mode: str) -> None:
    config = ServerConfig(replay=ReplayOptions(speed=None, loop=True))
    async with open_mock_server(make_feed(realtime_feed()), config) as server:
        token = await new_token(server)
        raw = await RawClient.open(server, token["token"])
        await raw.send_text(sub("STATS_REALTIME"))
        await raw.send_text(sub("ODDS_REALTIME"))
        await wait_until(lambda: any(c.queued_bytes > LOW_WATER for c in server.connections()))
        if mode == "abrupt":
            raw.stream.socket.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        else:
            await raw.stream.send_all(raw.ws.send(CloseConnection(code=1000)))
        await raw.stream.aclose()
        with trio.fail_after(5):
            assert (await rest_get(server, "/v1/token/status")).status_code == 200
            other = await new_token(server, api_token="other")
            async with connect(other["server"]) as ws:
                assert (await ask(ws, '{"action":"ping"}'))["type"] == "pong"
            await wait_until(lambda: server.stats.connections == 0)
        assert server.stats.internal_errors == 0


if __name__ == "__main__":
    trio.run(scenario, sys.argv[1])
    print("scenario passed")
