"""Golden bytes pin recording format v1: the same records must always give the same file.

``tests/data/golden/v1-small.msgpack`` was written by :func:`write_golden`.  If this test fails,
format v1 changed: that breaks every recording already on disk.  Only a deliberate format
change may regenerate it (``HARNESS_REGEN_GOLDEN=1 pytest tests/core/test_recording_golden.py``)
together with a version bump and a note in ``docs/recording-format.md``.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from pathlib import Path

from harness.core.recording import MAGIC, RecordingWriter, read_recording
from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Note,
    Record,
    Summary,
    WsClose,
    WsControl,
    WsMessage,
    WsOpen,
)

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "v1-small.msgpack"

HEADER = Header(
    created_at="2024-01-15T10:00:00+00:00",
    tool="harness record",
    tool_version="0.1.0",
    source={"api_base": "https://api.example/v1", "plan": "MEGA", "subscriptions": ["MAIN:all"]},
    redacted=True,
)

EVENT = json.dumps(
    {"type": "goal", "channel": "MAIN", "matchId": "12345", "leagueId": "7", "ts": 1705314600000},
    separators=(",", ":"),
).encode()

RECORDS: list[Record] = [
    HttpExchange(1_000, "GET", "https://api.example/v1/ws/new?t=REDACTED", 200, b'{"status":200}'),
    WsOpen(2_000_000, 1, "wss://ws.example/ws?token=REDACTED", 101),
    WsMessage(3_000_000, 1, Direction.CLIENT_TO_SERVER, b'{"action":"subscribe","channel":"MAIN"}'),
    WsMessage(4_000_000, 1, Direction.SERVER_TO_CLIENT, EVENT),
    WsMessage(4_500_000, 1, Direction.SERVER_TO_CLIENT, b"\x00\xffbinary", is_text=False),
    WsControl(5_000_000, 1, Direction.SERVER_TO_CLIENT, "ping", b"p"),
    Note(6_000_000, "renewal", "token renewed", {"expires_in_s": 1500}),
    WsClose(7_000_000, 1, 1000, "bye", Initiator.CLIENT),
]


def write_golden() -> bytes:
    """The golden file's bytes, from fixed records and a fixed summary time."""
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(HEADER)
    for record in RECORDS:
        writer.add(record)
    writer.finish(t_ns=8_000_000)
    return stream.getvalue()


def test_writing_the_golden_records_gives_the_golden_bytes() -> None:
    data = write_golden()
    if os.environ.get("HARNESS_REGEN_GOLDEN") == "1":
        GOLDEN.write_bytes(data)
    assert data == GOLDEN.read_bytes()


def test_golden_file_reads_back_as_its_records() -> None:
    header, records, tail = read_recording(GOLDEN)
    assert header == HEADER
    assert records[:-1] == RECORDS
    assert records[-1] == Summary(
        8_000_000,
        8_000_000,
        {"http": 1, "ws_open": 1, "ws_message": 3, "ws_control": 1, "note": 1, "ws_close": 1},
    )
    assert tail is None


def test_golden_layout_matches_the_spec() -> None:
    # docs/recording-format.md sections 3 and 4: magic, then [kind, crc, bin body] frames.
    data = GOLDEN.read_bytes()
    assert data.startswith(MAGIC)
    assert MAGIC == b"\xbb" + b"soccer-ws-harness-recording"
    frame = data[len(MAGIC) :]
    assert frame[0] == 0x93  # fixarray of 3
    assert frame[1] == 0x00  # kind 0: header
    assert frame[2] == 0xCE  # crc as uint32
    crc = int.from_bytes(frame[3:7], "big")
    assert frame[7] == 0xC4  # bin8
    body = frame[9 : 9 + frame[8]]
    assert crc == zlib.crc32(body, zlib.crc32((0).to_bytes(4, "big")))


def test_golden_file_is_small_enough_to_cut_at_every_byte() -> None:
    assert 300 <= GOLDEN.stat().st_size <= 1200
