"""A live recording (format 2.0) holds at most 100 ms or one block of records unwritten."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from harness.core.recording import open_reader
from harness.core.records import Direction, Header, Record, WsMessage
from harness.recorder.output import IDLE_FLUSH_S, RecordingOutput

HEADER = Header("2024-01-01T00:00:00+00:00", "test", "0", {})


def _on_disk(path: Path) -> list[Record]:
    with open_reader(path) as reader:
        return list(reader)


def test_an_idle_recorder_hands_its_pending_block_to_the_file(tmp_path: Path) -> None:
    output = RecordingOutput(tmp_path / "r.msgpack", HEADER, force=False)
    message = WsMessage(1, 1, Direction.SERVER_TO_CLIENT, b'{"type":"goal"}')

    async def session() -> None:
        output.start()
        output.add(message)
        assert _on_disk(output.partial) == []  # held for its block
        await trio.sleep(IDLE_FLUSH_S * 0.5)
        output.add(message)
        await trio.sleep(IDLE_FLUSH_S * 0.6)  # the first one has waited 110 ms
        assert _on_disk(output.partial) == [message, message]
        output.close(t_ns=5)

    trio.run(session, clock=trio.testing.MockClock(autojump_threshold=0))
    records = _on_disk(output.path)
    assert records[:2] == [message, message]
    assert len(records) == 3  # and the summary


def test_outside_a_trio_run_the_records_reach_the_file_at_close(tmp_path: Path) -> None:
    output = RecordingOutput(tmp_path / "r.msgpack", HEADER, force=False)
    message = WsMessage(1, 1, Direction.SERVER_TO_CLIENT, b"{}")
    output.start()
    output.add(message)
    output.close(t_ns=1)
    assert _on_disk(output.path)[0] == message
    with open_reader(output.path) as reader:
        assert reader.header.format_version == (2, 0)
