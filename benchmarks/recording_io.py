"""Recording I/O: records/s written and read, against a bare msgpack loop over the same file.

N WebSocket messages (~300-byte JSON events, as the STATS/MAIN channels send) are written through
:func:`open_writer` twice: as format 1.x (one frame, write and flush per record) and as format
2.0 (blocks of records under one checksum, as the recorder writes).  Then read back in the same
run: the baseline is a bare ``msgpack.Unpacker`` loop over the 1.x file's frames; beside it the
same loop also decoding each body, or computing each body's CRC-32 only (the least a 1.x reader
that verifies checksums must do), a bare loop over the 2.0 file's records (each block unpacked,
no checksum), and :class:`RecordingReader` on both files (checksums, validation, record
objects) and its hot path :meth:`~RecordingReader.ws_texts` on the 2.0 file (checksums and
types checked, no record objects); each read is timed :data:`ROUNDS` times, the best kept.
Peak traced memory while reading the 2.0 file is measured on
the file of N records and on one of N/10, to show it does not grow with the file.
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

from harness.core._blocks import BLOCK_KIND
from harness.core.recording import READ_CHUNK_BYTES, open_reader, open_writer
from harness.core.records import Direction, Header, WsMessage

FULL_N = 1_000_000
QUICK_N = 2_000
ROUNDS = 3
"""Each read is timed this many times in a full run, the best kept."""


@dataclass(frozen=True, slots=True)
class RecordingIoBench:
    """Throughputs in records/s and peak read memory in bytes at N and N/10 records."""

    records: int
    payload_bytes: float
    write_rps: float
    """Format 2.0 (blocks), as the recorder writes."""
    write_v1_rps: float
    bare_frames_rps: float
    """The baseline: a bare Unpacker loop over the 1.x file's frames."""
    bare_decode_rps: float
    bare_crc_rps: float
    bare_blocks_rps: float
    reader_v1_rps: float
    reader_rps: float
    """RecordingReader iterating records of the 2.0 file."""
    texts_rps: float
    """RecordingReader.ws_texts on the 2.0 file."""
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


def _write(path: Path, count: int, payloads: list[bytes], *, blocks: bool = True) -> float:
    header = Header("2024-01-15T10:00:00+00:00", "benchmark", "0", {"synthetic": True})
    messages = [
        WsMessage(i * 1_000_000, 1, Direction.SERVER_TO_CLIENT, payloads[i % len(payloads)])
        for i in range(min(count, len(payloads) * 16))
    ]
    start = time.perf_counter()
    with open_writer(path, header, blocks=blocks) as writer:
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


def _bare_blocks(path: Path) -> int:
    """The 2.0 file's records, each block's body unpacked, no checksum, nothing checked."""
    count, unpackb = 0, msgpack.unpackb
    with path.open("rb") as stream:
        for frame in msgpack.Unpacker(stream, read_size=READ_CHUNK_BYTES, use_list=False):
            if type(frame) is tuple and frame[0] == BLOCK_KIND:
                for _ in unpackb(frame[2], use_list=False)[2]:
                    count += 1
    return count


def _reader(path: Path) -> int:
    with open_reader(path) as reader:
        return sum(1 for _ in reader)


def _texts(path: Path) -> int:
    with open_reader(path) as reader:
        return sum(1 for _ in reader.ws_texts())


def _timed(read: Callable[[Path], int], path: Path, rounds: int = 1) -> tuple[int, float]:
    """Records and the best time of ``rounds`` reads (the machine may be shared)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        count = read(path)
        best = min(best, time.perf_counter() - start)
    return count, best


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
        v1, big = Path(tmp) / "v1.msgpack", Path(tmp) / "n.msgpack"
        small = Path(tmp) / "tenth.msgpack"
        write_v1_s = _write(v1, count, payloads, blocks=False)
        write_s = _write(big, count, payloads)
        _write(small, count // 10, payloads)
        sizes = v1.stat().st_size, big.stat().st_size
        rounds = 1 if quick else ROUNDS
        frames, frames_s = _timed(_bare_frames, v1, rounds)
        _, decode_s = _timed(_bare_decode, v1, rounds)
        _, crc_s = _timed(_bare_crc, v1, rounds)
        _, reader_v1_s = _timed(_reader, v1, rounds)
        blocked, blocks_s = _timed(_bare_blocks, big, rounds)
        records, reader_s = _timed(_reader, big, rounds)
        texts, texts_s = _timed(_texts, big, rounds)
        result = RecordingIoBench(
            records=count,
            payload_bytes=sum(map(len, payloads)) / len(payloads),
            write_rps=count / write_s,
            write_v1_rps=count / write_v1_s,
            bare_frames_rps=frames / frames_s,
            bare_decode_rps=frames / decode_s,
            bare_crc_rps=frames / crc_s,
            bare_blocks_rps=blocked / blocks_s,
            reader_v1_rps=frames / reader_v1_s,
            reader_rps=records / reader_s,
            texts_rps=texts / texts_s,
            peak_bytes=_peak_read_memory(big),
            peak_bytes_tenth=_peak_read_memory(small),
        )
    _report(result, sizes)
    return result


def _report(r: RecordingIoBench, sizes: tuple[int, int]) -> None:
    base = r.bare_frames_rps
    print(f"recording_io: {r.records:,} ws_message records, ~{r.payload_bytes:.0f} B payloads")
    print(f"  file, 1.x / 2.0 (blocks)       {sizes[0] / 2**20:8.1f} / {sizes[1] / 2**20:.1f} MiB")
    print(f"  write 1.x (a flush per record) {r.write_v1_rps:12,.0f} records/s")
    print(f"  write 2.0 (a flush per block)  {r.write_rps:12,.0f} records/s")
    print(f"  bare Unpacker, 1.x frames only {base:12,.0f} records/s   (baseline)")
    rows = [
        ("bare Unpacker + body decode", r.bare_decode_rps),
        ("bare Unpacker + crc32 only", r.bare_crc_rps),
        ("bare 2.0 blocks, records", r.bare_blocks_rps),
        ("RecordingReader, 1.x file", r.reader_v1_rps),
        ("RecordingReader, 2.0 file", r.reader_rps),
        ("ws_texts(), 2.0 file", r.texts_rps),
    ]
    for name, rps in rows:
        print(f"  {name:30} {rps:12,.0f} records/s   {rps / base:5.2f}x baseline")
    print(f"  ratio reader / bare frames     {r.reader_rps / base:12.2f}")
    print(f"  ratio ws_texts / bare frames   {r.texts_rps / base:12.2f}")
    tenth = r.records // 10
    print(f"  peak read memory, {r.records:>9,} rec {r.peak_bytes / 2**10:10,.0f} KiB")
    print(f"  peak read memory, {tenth:>9,} rec {r.peak_bytes_tenth / 2**10:10,.0f} KiB")
