"""Recording I/O: records/s written and read, against a bare msgpack loop over the same file.

N WebSocket messages (~300-byte JSON events, as the STATS/MAIN channels send) are written through
:func:`open_writer` (one write + flush per record, as the recorder does), then read back four
ways in the same run: a bare ``msgpack.Unpacker`` loop over the frames, the same loop also
decoding each body (the least any reader of the values must do), the same loop computing each
body's CRC-32 only (the least any reader that verifies checksums must do), and
:class:`RecordingReader`
(checksums, validation, record objects).  Peak traced memory while reading is measured on the
file of N records and on one of N/10, to show it does not grow with the file.
"""

from __future__ import annotations

import json
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgpack

from harness.core.recording import READ_CHUNK_BYTES, open_reader, open_writer
from harness.core.records import Direction, Header, WsMessage

FULL_N = 1_000_000
QUICK_N = 2_000


@dataclass(frozen=True, slots=True)
class RecordingIoBench:
    """Throughputs in records/s and peak read memory in bytes at N and N/10 records."""

    records: int
    payload_bytes: float
    write_rps: float
    bare_frames_rps: float
    bare_decode_rps: float
    bare_crc_rps: float
    reader_rps: float
    peak_bytes: int
    peak_bytes_tenth: int


def _payloads(count: int = 64) -> list[bytes]:
    """Realistic event texts (STATS snapshots and MAIN goals), varied ids and times."""
    out = []
    for i in range(count):
        ts = 1705314600000 + i * 1000
        if i % 3:
            event = {
                "type": "event", "channel": "STATS", "scope": "match", "id": str(12345 + i),
                "eventType": "stats_update", "eventId": f"e{i:05d}", "ts": ts,
                "data": {"timer": str(i % 90), "status": "IN_PLAY", "score": f"{i % 4};1",
                         "possession": "55;45", "attacks": "48;32", "corners": "4;2",
                         "shotsOnTarget": "4;2", "shotsOffTarget": "3;5", "fouls": "8;10",
                         "yellowCards": "1;2", "redCards": "0;0"},
            }  # fmt: skip
        else:
            event = {
                "type": "goal", "channel": "MAIN", "matchId": str(12345 + i), "leagueId": "39",
                "ts": ts, "data": {"minute": i % 90, "team": "home", "score": f"{i % 4};1",
                "scorer": {"id": str(900 + i), "name": "A. Player"}, "assist": None,
                "homeTeam": {"id": "33"}, "awayTeam": {"id": "34"},
                "championship": {"id": "39", "name": "Premier League"}},
            }  # fmt: skip
        out.append(json.dumps(event, separators=(",", ":")).encode())
    return out


def _write(path: Path, count: int, payloads: list[bytes]) -> float:
    header = Header("2024-01-15T10:00:00+00:00", "benchmark", "0", {"synthetic": True})
    messages = [
        WsMessage(i * 1_000_000, 1, Direction.SERVER_TO_CLIENT, payloads[i % len(payloads)])
        for i in range(min(count, len(payloads) * 16))
    ]
    start = time.perf_counter()
    with open_writer(path, header) as writer:
        add = writer.add
        for i in range(count):
            add(messages[i % len(messages)])
    return time.perf_counter() - start


def _bare_frames(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in msgpack.Unpacker(stream, read_size=READ_CHUNK_BYTES))


def _bare_decode(path: Path) -> int:
    count, unpackb = 0, msgpack.unpackb
    with path.open("rb") as stream:
        for frame in msgpack.Unpacker(stream, read_size=READ_CHUNK_BYTES):
            if type(frame) is list:
                unpackb(frame[2])
            count += 1
    return count


def _bare_crc(path: Path) -> int:
    """The checksum alone: frames plus one ``zlib.crc32`` per body, the floor of any reader
    that verifies every record."""
    count, crc32 = 0, zlib.crc32
    with path.open("rb") as stream:
        for frame in msgpack.Unpacker(stream, read_size=READ_CHUNK_BYTES, use_list=False):
            if type(frame) is tuple:
                crc32(frame[2])
            count += 1
    return count


def _reader(path: Path) -> int:
    with open_reader(path) as reader:
        return sum(1 for _ in reader)


def _timed(read: Callable[[Path], int], path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    count = read(path)
    return count, time.perf_counter() - start


def _peak_read_memory(path: Path) -> int:
    tracemalloc.start()
    try:
        _reader(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(*, quick: bool = False) -> RecordingIoBench:
    count = QUICK_N if quick else FULL_N
    payloads = _payloads()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        big, small = Path(tmp) / "n.msgpack", Path(tmp) / "tenth.msgpack"
        write_s = _write(big, count, payloads)
        _write(small, count // 10, payloads)
        size = big.stat().st_size
        frames, frames_s = _timed(_bare_frames, big)
        _, decode_s = _timed(_bare_decode, big)
        _, crc_s = _timed(_bare_crc, big)
        records, reader_s = _timed(_reader, big)
        result = RecordingIoBench(
            records=count,
            payload_bytes=sum(map(len, payloads)) / len(payloads),
            write_rps=count / write_s,
            bare_frames_rps=frames / frames_s,
            bare_decode_rps=frames / decode_s,
            bare_crc_rps=frames / crc_s,
            reader_rps=records / reader_s,
            peak_bytes=_peak_read_memory(big),
            peak_bytes_tenth=_peak_read_memory(small),
        )
    _report(result, size)
    return result


def _report(r: RecordingIoBench, size: int) -> None:
    print(f"recording_io: {r.records:,} ws_message records, ~{r.payload_bytes:.0f} B payloads")
    print(f"  file                         {size / 2**20:10.1f} MiB")
    print(f"  write (open_writer, flushed) {r.write_rps:12,.0f} records/s")
    print(f"  bare Unpacker, frames only   {r.bare_frames_rps:12,.0f} records/s")
    print(f"  bare Unpacker + body decode  {r.bare_decode_rps:12,.0f} records/s")
    print(f"  bare Unpacker + crc32 only   {r.bare_crc_rps:12,.0f} records/s")
    print(f"  RecordingReader              {r.reader_rps:12,.0f} records/s")
    print(f"  ratio reader / bare frames   {r.reader_rps / r.bare_frames_rps:12.2f}")
    print(f"  ratio reader / bare + decode {r.reader_rps / r.bare_decode_rps:12.2f}")
    print(f"  ratio crc32 only / bare      {r.bare_crc_rps / r.bare_frames_rps:12.2f}")
    tenth = r.records // 10
    print(f"  peak read memory, {r.records:>9,} rec {r.peak_bytes / 2**10:10,.0f} KiB")
    print(f"  peak read memory, {tenth:>9,} rec {r.peak_bytes_tenth / 2**10:10,.0f} KiB")
