"""The baseline server: picows (a C-accelerated asyncio WebSocket server) sending the same frames.

``python -m benchmarks._picows_baseline RECORDING --port 0 --ready-file F`` serves the recording's
feed (the payload bytes :meth:`Feed.from_records` keeps, in the same order) with just enough of
the protocol for the benchmark clients: ``GET /v1/ws/new`` answers a WS URL, and on a
connection's first text message it sends the ``subscribed`` reply the mock's session would send,
then every feed frame as fast as the transport takes them.  Flow control is picows' (asyncio's):
sending stops at ``pause_writing`` and goes on at ``resume_writing``.  Nothing else of the
service (tokens, limits, routing, timing) is imitated: this is the floor of what a Python
process can deliver, the figure the mock is compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from harness.core.envelopes import compact_json
from harness.core.mock.ws_session import WsSession
from harness.core.protocol import Channel
from harness.core.recording import read_recording
from harness.core.schedule import Feed


class FeedSender(WSListener):
    """One connection: reply to the first command, then send every frame, flow-controlled."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        self.next = -1  # -1: not subscribed yet
        self.paused = False
        self.gone = False
        self.transport: WSTransport | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT and self.next < 0:
            session = WsSession(Channel, 2)
            event = session.receive(frame.get_payload_as_bytes(), is_text=True, now_ms=0)
            transport.send(WSMsgType.TEXT, compact_json(event.body))
            self.next = 0
            self._pump(transport)
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.gone = True

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None:
            self._pump(self.transport)

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def _pump(self, transport: WSTransport) -> None:
        """Send frames until the transport pauses us, the client leaves or the feed ends."""
        if self.next < 0:
            return
        frames, send, text = self.frames, transport.send, WSMsgType.TEXT
        index, end = self.next, len(frames)
        while index < end and not self.paused and not self.gone:
            send(text, frames[index])
            index += 1
        self.next = index


def _route(frames: list[bytes], host: str, port: list[int]) -> Any:
    """picows' listener factory: the REST token call, else a feed connection."""

    def factory(request: WSUpgradeRequest) -> Any:
        if request.path.startswith(b"/v1/ws/new"):
            server = f"ws://{host}:{port[0]}/?token=picows"
            body = json.dumps({"status": 200, "errors": [], "result": [{"server": server}]})
            response = WSUpgradeResponse.create_ok_response(
                body.encode(), {"Content-Type": "application/json"}
            )
            return WSUpgradeResponseWithListener(response, None)
        return FeedSender(frames)

    return factory


async def serve(recording: Path, host: str, port: int, ready_file: Path) -> None:
    """Serve until SIGTERM or SIGINT; write ``{"base_url": ...}`` to ``ready_file`` once up."""
    _, records, _ = read_recording(recording)
    frames = [frame.payload for frame in Feed.from_records(records).frames]
    bound = [port]
    server = await ws_create_server(_route(frames, host, bound), host, port)
    bound[0] = server.sockets[0].getsockname()[1]
    temporary = ready_file.with_name(ready_file.name + ".tmp")
    temporary.write_text(json.dumps({"base_url": f"http://{host}:{bound[0]}"}))
    temporary.replace(ready_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._picows_baseline")
    parser.add_argument("recording", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.recording, args.host, args.port, args.ready_file))


if __name__ == "__main__":
    _main()
