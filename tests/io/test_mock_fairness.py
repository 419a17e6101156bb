"""A client flooding cheap frames cannot starve the other connections (EVENTS_PER_TURN)."""

from __future__ import annotations

import trio
from wsproto.events import Ping, Pong

from harness.server import open_mock_server
from harness.server.client import EVENTS_PER_TURN
from tests.io.memory_client import MemoryClient

FLOOD_PINGS = 10_000  # 6 bytes each: 60 kB, all in one read of the server's
PONG_BYTES = 2  # an empty unmasked pong frame


async def test_a_ping_flood_cannot_starve_another_connection() -> None:
    async with trio.open_nursery() as nursery, open_mock_server() as server:
        # Given a flooder and a good client
        flooder = await MemoryClient.open(server, nursery)
        good = await MemoryClient.open(server, nursery)
        flood_conn, _ = sorted(server.connections(), key=lambda conn: conn.id)
        # When the flood and the good client's ping are waiting for the server at the same time
        flooder.put(b"".join(flooder.ws.send(Ping()) for _ in range(FLOOD_PINGS)))
        good.put(good.ws.send(Ping(b"good")))
        with trio.fail_after(10):
            for _ in range(1000):  # bounded: the pong comes within a few reads
                if any(isinstance(event, Pong) for event in await good.next_events()):
                    break
        # Then the good client was answered long before the flood was: the flooder's reader
        # gave way after a bounded number of frames instead of answering all of them first
        answered = (flood_conn.queued_bytes + flood_conn.bytes_sent) // PONG_BYTES
        assert answered < FLOOD_PINGS // 2, f"{answered} of {FLOOD_PINGS} flood pings first"
        assert EVENTS_PER_TURN <= FLOOD_PINGS // 100
