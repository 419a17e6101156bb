"""``verify_recording``: integrity, order, connections and the protocol, with where each is."""

from __future__ import annotations

import io
from pathlib import Path

import msgpack
import pytest

from harness import default_recording_path
from harness.core.recording import RecordingWriter, open_writer, record_crc
from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Record,
    Summary,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.core.verify import Check, server_frame_problem, verify_recording

HEADER = Header("2024-01-15T10:00:00+00:00", "test", "0.0", {})
S2C, C2S = Direction.SERVER_TO_CLIENT, Direction.CLIENT_TO_SERVER
GOAL = b'{"type":"goal","channel":"MAIN","matchId":"1","ts":1}'
SUBSCRIBE = b'{"action":"subscribe","channel":"MAIN","scope":"all"}'


def _file(tmp_path: Path, records: list[Record]) -> Path:
    path = tmp_path / "r.msgpack"
    with open_writer(path, HEADER) as writer:
        for record in records:
            writer.add(record)
    return path


def _checks(path: Path) -> list[tuple[Check, int | None]]:
    return [(p.check, p.index) for p in verify_recording(path).problems]


def test_the_bundled_recording_is_clean() -> None:
    report = verify_recording(default_recording_path())
    assert report.ok
    assert report.records > 6000
    assert report.to_json()["problems"] == []


def test_a_clean_hand_made_session_is_clean(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        [
            HttpExchange(1, "GET", "https://api.example/v1/ws/new", 200, b"{}"),
            WsOpen(2, 1, "wss://ws.example/ws", 101),
            WsMessage(3, 1, C2S, SUBSCRIBE),
            WsMessage(4, 1, S2C, b'{"type":"subscribed","channel":"MAIN","scope":"all"}'),
            WsMessage(5, 1, S2C, GOAL),
            WsClose(6, 1, 1000, "", Initiator.CLIENT),
        ],
    )
    assert _checks(path) == []


def test_time_going_back_is_reported_at_its_record(tmp_path: Path) -> None:
    path = _file(tmp_path, [WsOpen(5, 1, "u", 101), WsMessage(3, 1, S2C, GOAL)])
    [problem] = verify_recording(path).problems
    assert (problem.check, problem.index) == (Check.TIME, 1)
    assert problem.offset is not None
    assert path.read_bytes()[problem.offset] == 0x93  # a record starts there


def test_records_on_unknown_refused_or_closed_connections(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        [
            WsMessage(1, 7, S2C, GOAL),
            WsOpen(2, 2, "u", 429, "too many"),
            WsMessage(3, 2, S2C, GOAL),
            WsOpen(4, 1, "u", 101),
            WsClose(5, 1, 1000, "", Initiator.SERVER),
            WsMessage(6, 1, S2C, GOAL),
        ],
    )
    assert _checks(path) == [(Check.CONNECTION, 0), (Check.CONNECTION, 2), (Check.CONNECTION, 5)]


@pytest.mark.parametrize(
    ("payload", "is_text", "reason"),
    [
        (b"[1,2]", True, "not a JSON object"),
        (b"\xff", True, "not a JSON object"),
        (b"{}", False, "binary frame"),
        (b'{"channel":"MAIN"}', True, 'no "type"'),
        (b'{"type":"goal","channel":"NOPE"}', True, "no known channel"),
        (b'{"type":"event","channel":"STATS","scope":"match","id":"1"}', True, "no event name"),
        (b'{"type":"subscribed","channel":"NOPE"}', True, "names no valid"),
    ],
)
def test_server_frames_outside_the_protocol_model(
    payload: bytes, is_text: bool, reason: str
) -> None:
    problem = server_frame_problem(payload, is_text=is_text)
    assert problem is not None
    assert reason in problem


def test_server_frames_inside_the_protocol_model() -> None:
    for payload in (GOAL, b'{"type":"pong","ts":1}', b'{"type":"error","code":"X"}'):
        assert server_frame_problem(payload, is_text=True) is None


def test_a_refused_client_command_is_reported(tmp_path: Path) -> None:
    path = _file(tmp_path, [WsOpen(1, 1, "u", 101), WsMessage(2, 1, C2S, b'{"action":"x"}')])
    [problem] = verify_recording(path).problems
    assert problem.check is Check.CLIENT_COMMAND
    assert "INVALID_COMMAND" in problem.message


def test_a_summary_that_miscounts_and_records_after_it_are_reported(tmp_path: Path) -> None:
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(HEADER)
    writer.add(WsOpen(1, 1, "u", 101))
    lying = Summary(1, 1, {"ws_open": 2})
    body = msgpack.packb(lying.fields())
    stream.write(msgpack.packb([Summary.KIND, record_crc(Summary.KIND, body), body]))
    writer.add(WsMessage(2, 1, S2C, GOAL))
    path = tmp_path / "lying.msgpack"
    path.write_bytes(stream.getvalue())
    assert _checks(path) == [(Check.SUMMARY, 1), (Check.SUMMARY, 2)]


def test_damage_is_listed_first_with_index_and_offset(tmp_path: Path) -> None:
    messages: list[Record] = [WsOpen(0, 1, "u", 101)]
    messages += [WsMessage(i, 1, S2C, GOAL) for i in range(1, 10)]
    path = _file(tmp_path, messages)
    data = bytearray(path.read_bytes())
    position = data.index(GOAL, len(data) // 2)
    data[position + 5] ^= 0x20
    path.write_bytes(bytes(data[:-3]))
    report = verify_recording(path)
    checks = [p.check for p in report.problems]
    assert checks == [Check.DAMAGE, Check.TRUNCATED]
    damage = report.problems[0]
    assert damage.offset is not None
    assert damage.offset < position
    assert damage.index == report.damage.regions[0].records_read
    assert not report.ok
