"""The JSONL form: ``import(export(f))`` is byte-identical to ``f``; bad lines name their line."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import default_recording_path
from harness.core.jsonl import export_recording, import_recording, parse_line, to_line
from harness.core.recording import RecordingWriter, read_recording
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
from harness.errors import JsonlFormatError, UsageError

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "v1-small.msgpack"
HEADER = Header("2024-01-15T10:00:00+00:00", "test", "0.0", {"plan": "MEGA"})

t_ns = st.integers(0, 2**63 - 1)
conn = st.integers(0, 2**31)
text = st.text(max_size=12)
blob = st.binary(max_size=24)
direction = st.sampled_from(Direction)
scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | text
    | blob
    | st.floats(allow_nan=False)
)
free = st.recursive(
    scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["$bin", "$map", "base64", "a"]) | text, inner, max_size=3
        )
    ),
    max_leaves=8,
)
free_map = st.dictionaries(st.sampled_from(["$bin", "$map"]) | text, free, max_size=3)
pairs = st.lists(st.tuples(text, text), max_size=2).map(tuple)
records: st.SearchStrategy[Record] = st.one_of(
    st.builds(HttpExchange, t_ns, text, text, st.integers(0, 599), blob, pairs, pairs,
              st.none() | text, t_ns),
    st.builds(WsOpen, t_ns, conn, text, st.integers(0, 599), st.none() | text),
    st.builds(WsMessage, t_ns, conn, direction, blob | text.map(str.encode), st.booleans()),
    st.builds(WsControl, t_ns, conn, direction, st.sampled_from(["ping", "pong"]), blob),
    st.builds(WsClose, t_ns, conn, st.none() | st.integers(0, 4999), text,
              st.sampled_from(Initiator)),
    st.builds(Note, t_ns, text, text, free_map),
)  # fmt: skip


def _round_trip(data: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        source, jsonl, back = (Path(tmp) / name for name in ("a.msgpack", "a.jsonl", "b.msgpack"))
        source.write_bytes(data)
        export_recording(source, jsonl)
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            json.loads(line)  # every line is one JSON value
        import_recording(jsonl, back)
        return back.read_bytes()


@pytest.mark.parametrize("path", [default_recording_path(), GOLDEN], ids=["bundled", "golden"])
def test_export_then_import_is_byte_identical(path: Path) -> None:
    assert _round_trip(path.read_bytes()) == path.read_bytes()


@given(free_map, st.lists(records, max_size=6), st.booleans())
def test_generated_records_round_trip_byte_for_byte(
    source: dict[str, object], items: list[Record], finish: bool
) -> None:
    stream = io.BytesIO()
    writer = RecordingWriter(stream)
    writer.start(Header("2024-01-15T10:00:00+00:00", "t", "0", source, redacted=True))
    for record in items:
        writer.add(record)
    if finish:
        writer.finish()
    assert _round_trip(stream.getvalue()) == stream.getvalue()


def test_lines_read_like_the_specification() -> None:
    line = to_line(WsMessage(5, 1, Direction.SERVER_TO_CLIENT, b'{"type":"goal"}'))
    assert json.loads(line) == {
        "kind": "ws_message",
        "t_ns": 5,
        "conn_id": 1,
        "direction": "server_to_client",
        "payload": '{"type":"goal"}',
        "is_text": True,
    }
    note = json.loads(to_line(Note(1, "renewal", "m", {"raw": b"\xff", "$bin": 1})))
    assert note["note_kind"] == "renewal"
    assert note["data"] == {"raw": {"$bin": "/w=="}, "$bin": 1}
    assert json.loads(to_line(Summary(1, 1, {"ws_open": 1})))["counts"] == {"ws_open": 1}


def test_hand_written_lines_may_leave_defaults_out(tmp_path: Path) -> None:
    source = tmp_path / "case.jsonl"
    source.write_text(
        '{"kind": "header", "format": "soccer-ws-harness/recording", "format_version": [1, 0],'
        ' "created_at": "2024-01-01T00:00:00+00:00", "tool": "me", "tool_version": "1"}\n'
        "\n"
        '{"kind": "ws_open", "t_ns": 0, "conn_id": 1, "url": "wss://x/ws", "status": 101}\n'
        '{"kind": "ws_message", "t_ns": 1, "conn_id": 1, "direction": "server_to_client",'
        ' "payload": "{\\"type\\":\\"goal\\",\\"channel\\":\\"MAIN\\"}"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "case.msgpack"
    assert import_recording(source, out) == 2
    header, records, damage = read_recording(out)
    assert header.source == {}
    assert damage is None
    assert records[1] == WsMessage(
        1, 1, Direction.SERVER_TO_CLIENT, b'{"type":"goal","channel":"MAIN"}', True
    )


HEADER_LINE = to_line(HEADER)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["not json"], "line 1: not JSON"),
        (["[1]"], "line 1: not a JSON object"),
        ([HEADER_LINE, '{"kind": "nope"}'], "line 2: unknown record kind 'nope'"),
        ([HEADER_LINE, '{"kind": "ws_open", "t_ns": 1}'], "line 2: a ws_open record needs"),
        ([HEADER_LINE, '{"kind": "ws_open", "t_ns": 1, "x": 1}'], "line 2: unknown field 'x'"),
        ([HEADER_LINE, '{"kind": "ws_open", "t_ns": 1.5, "conn_id": 1, "url": "u", "status": 1}'],
         "line 2: bad ws_open record: expected an integer"),
        ([HEADER_LINE, '{"kind": "ws_control", "t_ns": 1, "conn_id": 1, "direction": "up",'
          ' "opcode": "ping"}'], "line 2: 'up' is not one of client_to_server"),
        ([HEADER_LINE, '{"kind": "ws_control", "t_ns": 1, "conn_id": 1, "direction": 0,'
          ' "opcode": "ping", "payload": {"base64": "!!"}}'], "line 2: bad base64"),
        ([to_line(WsOpen(1, 1, "u", 101))], "line 1: the header must be the first line"),
        ([HEADER_LINE, HEADER_LINE], "line 2: the header must be the first line"),
        ([HEADER_LINE, to_line(Summary(1, 1)), to_line(WsOpen(1, 1, "u", 101))],
         "line 3: a record after the summary (line 2)"),
        ([""], "no header line"),
    ],
)  # fmt: skip
def test_bad_lines_are_one_error_naming_the_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.msgpack"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(JsonlFormatError) as caught:
        import_recording(source, out)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(source))
    assert not out.exists()
    assert not (tmp_path / "out.msgpack.partial").exists()


def test_parse_line_rejects_deep_nesting() -> None:
    with pytest.raises(ValueError, match="nested too deep"):
        parse_line("[" * 100_000 + "]" * 100_000)


def test_export_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("precious")
    with pytest.raises(UsageError, match="--force"):
        export_recording(GOLDEN, out)
    assert out.read_text() == "precious"
