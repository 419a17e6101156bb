"""Helpers shared by the mock-server I/O tests (``mock_helpers``): feeds, frames, clients."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from trio_websocket import WebSocketConnection, open_websocket_url

from harness.core import feed_stream
from harness.core.feed_stream import FeedSource, StreamedFeed
from harness.core.protocol import classify_frame
from harness.core.recording import open_writer
from harness.core.records import Direction, Header, Record, WsMessage
from harness.core.schedule import Feed, FeedFrame
from harness.server import MockServer

API_TOKEN = "test-key"


def main_event(n: int, match: str = "m1", league: str = "l1", channel: str = "MAIN") -> bytes:
    """A MAIN-style event frame (``matchId``/``leagueId``), numbered in ``data.n``."""
    body = {"type": "goal", "channel": channel, "matchId": match, "leagueId": league}
    return json.dumps({**body, "ts": 1705312800000 + n, "data": {"n": n}}).encode()


def echo_event(n: int, scope: str, ident: str | None, channel: str = "STATS") -> bytes:
    """A STATS/ODDS-style event frame echoing the subscription it was recorded under."""
    body = {"type": "event", "channel": channel, "scope": scope, "id": ident}
    extra = {"eventType": "stats_update", "eventId": f"e{n}", "ts": 1705312800000 + n}
    return json.dumps({**body, **extra, "data": {"n": n}}).encode()


STREAMED = os.environ.get("HARNESS_TEST_STREAMED") == "1"
"""Serve the feeds of these tests from recordings on disk (:class:`StreamedFeed`, in blocks of
4 frames, 2 kept, so that every test reads blocks again), wherever the recording replays the
same feed: ``HARNESS_TEST_STREAMED=1 pytest tests/io`` (``.ci/run`` runs it)."""

if STREAMED:
    feed_stream.BLOCK_FRAMES, feed_stream.CACHED_BLOCKS = 4, 2
    feed_stream.READ_INLINE_BYTES = -1
    _RECORDINGS = tempfile.TemporaryDirectory(prefix="harness-streamed-")


def make_feed(frames: Sequence[tuple[float, bytes]], duration_s: float | None = None) -> FeedSource:
    """A feed of ``(offset seconds, payload)`` frames (read from disk under :data:`STREAMED`)."""
    built = []
    for offset_s, payload in frames:
        info = classify_frame(payload)
        assert info is not None
        assert info.is_event
        built.append(FeedFrame(round(offset_s * 1e9), payload, info))
    end = max((f.offset_ns for f in built), default=0)
    duration = round(duration_s * 1e9) if duration_s is not None else end
    feed = Feed(frames=tuple(built), duration_ns=max(duration, end))
    return _streamed(feed) if STREAMED else feed


def _streamed(feed: Feed) -> FeedSource:
    """``feed`` written as a recording and read back from disk, if the recording replays it."""
    subscribe = b'{"action":"subscribe","channel":"MAIN","scope":"all"}'
    records: list[Record] = [WsMessage(0, 1, Direction.CLIENT_TO_SERVER, subscribe)]
    records += [
        WsMessage(frame.offset_ns, 1, Direction.SERVER_TO_CLIENT, frame.payload)
        for frame in feed.frames
    ]
    records.append(WsMessage(feed.duration_ns, 1, Direction.CLIENT_TO_SERVER, b"{}"))
    if Feed.from_records(records) != feed:
        return feed  # duplicates the rule would drop, or frames out of time order
    handle, path = tempfile.mkstemp(suffix=".msgpack", dir=_RECORDINGS.name)
    os.close(handle)
    header = Header("2024-01-15T10:00:00+00:00", "test", "0")
    with open_writer(path, header, index=True, blocks=True) as writer:
        for record in records:
            writer.add(record)
    return StreamedFeed(path)


def sub(channel: str = "MAIN", scope: str = "all", ident: str | None = None) -> str:
    command: dict[str, Any] = {"action": "subscribe", "channel": channel, "scope": scope}
    if ident is not None:
        command["id"] = ident
    return json.dumps(command)


def unsub(channel: str = "MAIN", scope: str = "all", ident: str | None = None) -> str:
    return sub(channel, scope, ident).replace('"subscribe"', '"unsubscribe"')


async def rest_get(server: MockServer, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        return await client.get(path, params={"t": API_TOKEN, **params})


async def new_token(server: MockServer, api_token: str = API_TOKEN) -> dict[str, Any]:
    """``result[0]`` of ``/v1/ws/new``."""
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.get("/v1/ws/new/", params={"t": api_token})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"][0]
    return result


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[WebSocketConnection]:
    async with open_websocket_url(url, disconnect_timeout=5) as ws:
        yield ws


async def ask(ws: WebSocketConnection, command: str) -> dict[str, Any]:
    """Send a command and return the next frame, parsed."""
    await ws.send_message(command)
    return await receive_json(ws)


async def receive_json(ws: WebSocketConnection) -> dict[str, Any]:
    message = await ws.get_message()
    value: dict[str, Any] = json.loads(message)
    return value
