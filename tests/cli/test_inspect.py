"""``harness info`` and ``harness cat`` on a small recording built here, and on broken files."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.recording import MAGIC, open_writer, read_recording
from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Note,
    WsClose,
    WsControl,
    WsMessage,
    WsOpen,
)
from harness.core.schedule import Feed
from harness.recordings import default_recording_path

HEADER = Header(
    "2024-01-15T10:00:00+00:00",
    "harness record",
    "0.1.0",
    {"plan": "MEGA", "synthetic": True, "subscriptions": ["MAIN:all", "STATS:match:12345"]},
    redacted=True,
)
S2C = Direction.SERVER_TO_CLIENT
GOAL = b'{"type":"goal","channel":"MAIN","matchId":"12345","leagueId":"7","ts":1}'
STATS = (
    b'{"type":"event","channel":"STATS","scope":"match","id":"12345",'
    b'"eventType":"stats_update","eventId":"a","ts":1,"data":{}}'
)


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "session.msgpack"
    with open_writer(path, HEADER) as writer:
        writer.add(HttpExchange(1_000, "GET", "https://api.example/v1/ws/new", 200, b"{}"))
        writer.add(WsOpen(2_000, 1, "wss://ws.example/ws", 101))
        writer.add(WsOpen(2_500, 2, "wss://ws.example/ws", 429, "too many connections"))
        subscribe = b'{"action":"subscribe","channel":"MAIN"}'
        writer.add(WsMessage(3_000, 1, Direction.CLIENT_TO_SERVER, subscribe))
        writer.add(WsMessage(4_000, 1, S2C, b'{"type":"subscribed","channel":"MAIN"}'))
        writer.add(WsMessage(5_000, 1, S2C, GOAL))
        writer.add(WsMessage(5_500, 1, S2C, GOAL))
        writer.add(WsMessage(6_000, 1, S2C, STATS))
        writer.add(WsMessage(6_500, 1, S2C, b"\x00\xff", is_text=False))
        writer.add(WsControl(7_000, 1, S2C, "ping"))
        writer.add(HttpExchange(8_000, "GET", "https://api.example/v1/ws/renew?x=1", 200, b"{}"))
        writer.add(Note(8_500, "renewal", "renewed\nat 8.5 us", {"ttl": 1500}))
        writer.add(WsClose(90_000_000_000, 1, 4001, "token expired", Initiator.SERVER))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_reports_the_whole_session(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "info", str(recording))
    assert (code, err) == (0, "")
    lines = [" ".join(line.split()) for line in out.splitlines()]
    for expected in [
        "created 2024-01-15T10:00:00+00:00",
        "tool harness record 0.1.0",
        "redacted yes",
        "synthetic yes",
        "source subscriptions: MAIN:all, STATS:match:12345",
        "duration 1m30s (90.000 s)",
        "ending clean close (summary present)",
        "records 14",
        "ws_message 6",
        "renewals 1 /v1/ws/renew call(s), 1 note(s)",
        "connections 1 opened, 1 refused, 1 closed",
        "#1 opened, closed 4001 'token expired' by server",
        "#2 refused 429 (too many connections), never closed",
        "frames 1 sent, 5 received; 2 distinct event frames (as replay serves them)",
        "recorded distinct",
        "-> subscribe 1",
        "<- MAIN goal 2 1",
        "<- STATS stats_update 1 1",
        "<- reply subscribed 1",
        "<- reply (binary) 1",
        "tail whole file",
    ]:
        assert expected in lines


def test_cat_prints_one_readable_line_per_record(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "cat", str(recording))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 15  # header, 13 records, summary
    assert "header" in lines[0]
    assert "soccer-ws-harness/recording 1.0" in lines[0]
    assert lines[6].split() == ["0.000005", "ws_message", "#1", "<-", GOAL.decode()]
    assert lines[4].split()[2:4] == ["#1", "->"]
    assert "base64:AP8=" in lines[9]
    assert "renewal: renewed\\nat 8.5 us" in lines[12]
    assert lines[13].split()[:2] == ["90.000000", "ws_close"]
    assert lines[14].split()[1] == "summary"


def test_cat_jsonl_has_every_field(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "cat", "--jsonl", str(recording))
    assert code == 0
    objects = [json.loads(line) for line in out.splitlines()]
    assert objects[0]["kind"] == "header"
    assert objects[0]["source"]["subscriptions"] == ["MAIN:all", "STATS:match:12345"]
    assert objects[6] == {
        "kind": "ws_message",
        "t_ns": 5000,
        "conn_id": 1,
        "direction": "server_to_client",
        "payload": GOAL.decode(),
        "is_text": True,
    }
    assert objects[12] == {
        "kind": "note",
        "t_ns": 8500,
        "note_kind": "renewal",
        "message": "renewed\nat 8.5 us",
        "data": {"ttl": 1500},
    }
    binary = objects[9]["payload"]
    assert base64.b64decode(binary["base64"]) == b"\x00\xff"
    assert objects[13]["initiator"] == "server"
    assert objects[14]["counts"]["ws_message"] == 6


@pytest.mark.parametrize("command", ["info", "cat"])
def test_a_truncated_file_prints_the_prefix_and_warns(
    recording: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    data = recording.read_bytes()
    recording.write_bytes(data[:-5])
    code, out, err = run(capsys, command, str(recording))
    assert code == 0
    assert err.startswith(f"harness: warning: {recording}: truncated tail at byte ")
    assert "kept 13 records before it" in err
    assert err.count("\n") == 1
    assert "token expired" in out


def test_a_corrupt_record_is_reported_with_its_offset(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(recording.read_bytes())
    position = data.index(GOAL)
    data[position + 3] ^= 0x01
    recording.write_bytes(bytes(data))
    code, out, err = run(capsys, "cat", str(recording))
    assert code == 0
    # Mid-file damage is skipped, not a "tail": one record lost, every later one read.
    assert "tail" not in err
    assert "damaged record at byte" in err
    assert "checksum mismatch in a ws_message record" in err
    assert "(1 record lost), resumed at byte" in err
    assert err.count("\n") == 1
    offset = int(err.split("at byte ")[1].split(":")[0])
    assert position - 24 < offset < position  # the damaged frame starts just before its payload
    assert len(out.splitlines()) == 15 - 1
    assert out.count("goal") == 1


@pytest.mark.parametrize("command", ["info", "cat"])
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("time,value\n1,2\n"), "not a soccer-ws-harness recording"),
        (lambda p: p.write_bytes(MAGIC + b"\x93\x00\x05\xc4\x01\x90"), "corrupt header"),
    ],
    ids=["missing", "directory", "empty", "csv", "corrupt-header"],
)
def test_unreadable_files_are_one_line_and_exit_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    make: object,
    message: str,
) -> None:
    path = tmp_path / "broken.msgpack"
    make(path)  # type: ignore[operator]
    code, out, err = run(capsys, command, str(path))
    assert code == 1
    assert out == ""
    assert err.startswith("harness: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_newer_major_version_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "future.msgpack"
    with open_writer(path, Header("t", "x", "9", format_version=(3, 1))):
        pass
    code, _, err = run(capsys, "info", str(path))
    assert code == 1
    assert "made by a newer harness: format 3.1, this reader knows 1.x and 2.x" in err


def test_info_counts_distinct_frames_as_replay_serves_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the bundled recording: 6 matches, each kick-off received on several connections
    code, out, _ = run(capsys, "info", str(default_recording_path()))
    assert code == 0
    rows = {" ".join(line.split()[:3]): line.split()[3:] for line in out.splitlines()}
    # Then info shows the per-connection count beside the distinct frames replay sends
    assert rows["<- MAIN match_start"] == ["9", "6"]
    feed = Feed.from_records(read_recording(default_recording_path())[1])
    assert f"; {len(feed.frames):,} distinct event frames (as replay serves them)" in out
