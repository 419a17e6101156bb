"""``harness replay`` of a recording too large to read into memory: served from disk, the same
frames as a feed read whole (:mod:`harness.core.feed_stream`)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from harness.core.loading import STREAM_ABOVE_BYTES, read_feed
from harness.core.recording import open_writer
from harness.core.records import Direction, Header, WsMessage
from tests.cli.test_cli_replay import _start_replay, _stop

pytestmark = pytest.mark.slow

S = 1_000_000_000
PAD = "x" * 800
SUBSCRIBE = b'{"action":"subscribe","channel":"MAIN","scope":"all"}'


def _large_recording(path: Path) -> Path:
    """A two-connection session over the streaming threshold: most frames on both."""
    header = Header("2024-01-15T10:00:00+00:00", "test", "0", {"synthetic": True})
    with open_writer(path, header, index=True, blocks=True) as writer:
        writer.add(WsMessage(0, 1, Direction.CLIENT_TO_SERVER, SUBSCRIBE))
        seq = 0
        while path.stat().st_size <= STREAM_ABOVE_BYTES:
            t = seq * 10_000_000
            event = {"type": "goal", "channel": "MAIN", "matchId": f"m{seq % 5}", "seq": seq}
            payload = json.dumps({**event, "pad": PAD}).encode()
            writer.add(WsMessage(t, 1, Direction.SERVER_TO_CLIENT, payload))
            if seq % 3:
                writer.add(WsMessage(t + 1_000, 2, Direction.SERVER_TO_CLIENT, payload))
            seq += 1
    return path


def _received(details: dict[str, object], count: int) -> list[bytes]:
    from websockets.sync.client import connect

    with urllib.request.urlopen(str(details["ws_new_url"]), timeout=10) as response:
        server = json.load(response)["result"][0]["server"]
    frames: list[bytes] = []
    with connect(server, open_timeout=10, max_size=None) as websocket:
        websocket.send(SUBSCRIBE.decode())
        assert json.loads(websocket.recv(timeout=10))["type"] == "subscribed"
        while len(frames) < count:
            message = websocket.recv(timeout=30)
            frames.append(message.encode() if isinstance(message, str) else message)
    return frames


@pytest.mark.parametrize("start_at_s", [0, 60])
def test_a_large_recording_replays_from_disk_frame_for_frame(
    tmp_path: Path, start_at_s: int
) -> None:
    # Given a recording over the threshold, with frames recorded on two connections
    path = _large_recording(tmp_path / "large.msgpack")
    expected = [f.payload for f in read_feed(path).frames if f.offset_ns >= start_at_s * S]
    # When it is replayed at max speed (from --start-at) to a client of MAIN:all
    process, details = _start_replay(
        tmp_path, str(path), "--speed", "max", "--start-at", str(start_at_s), "--quiet"
    )
    try:
        got = _received(details, len(expected))
    finally:
        code, out, err = _stop(process)
    # Then it said it reads the file as it plays, and the client got every frame once, in order
    assert code == 0, err
    assert "read from disk as it plays" in out.splitlines()[0]
    assert got == expected
