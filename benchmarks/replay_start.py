"""Recordings of any size: replay start time and memory, index seek (``info``: its own).

Issue 12.  For N MAIN frames (written with :func:`open_writer` in format 2.0 with an index, as
the recorder writes them) this measures, as a user runs them: ``harness replay FILE --speed
max`` until it is ready (its ready file written) and its resident memory then, its peak memory
and its rate while serving the whole file to one client (``served``); a reader's jump to the
middle of the file by the index (the trailing one, and one rebuilt for a file that has none),
against reading every record before the middle; and the player's ``seek`` to the middle through
the control API, from a replay at ``--speed 1`` that has just started.  Each figure is printed
with its growth per tenfold N, so what grows with the file shows at once.

N = 10k, 100k and 1M (quick: 1k and 10k).  ``HARNESS_BENCH_HUGE=1`` adds 10M, generated into a
temporary folder and removed (several minutes and ~3.5 GB of disk).
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks._clients import (
    SUBSCRIBE_ALL,
    mock_command,
    run_clients,
    serve,
    write_main_recording,
    ws_urls,
)
from harness.core.recording import RecordingReader, open_reader, recording_index

FULL_SIZES = (10_000, 100_000, 1_000_000)
HUGE_SIZE = 10_000_000
QUICK_SIZES = (1_000, 10_000)
GAP_NS = 1_000_000
CLIENT_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class StartRow:
    """Figures for one recording of ``frames`` MAIN events."""

    frames: int
    file_bytes: int
    ready_s: float
    rss_bytes: int
    served_peak_bytes: int
    served_fps: float
    seek_index_s: float
    seek_rebuilt_s: float
    seek_scan_s: float
    player_seek_s: float


def _rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of ``pid`` now (``VmHWM``: its peak so far); 0 off Linux."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _seek_s(path: Path, target_ns: int, *, rebuild: bool) -> float:
    """Open, find the index (the file's, or rebuilt), jump, read the first record at target."""
    start = time.perf_counter()
    with open_reader(path) as probe:
        index = recording_index(probe) if not rebuild else recording_index(_without_trailing(probe))
    with open_reader(path) as reader:
        reader.start_at_time(target_ns, index)
        next(record for record in reader if record.t_ns >= target_ns)
    return time.perf_counter() - start


def _without_trailing(reader: RecordingReader) -> RecordingReader:
    reader.trailing_index = lambda: None  # type: ignore[method-assign]
    return reader


def _scan_s(path: Path, target_ns: int) -> float:
    """Reading every record up to the target: what a seek costs without an index."""
    start = time.perf_counter()
    with open_reader(path) as reader:
        next(record for record in reader if record.t_ns >= target_ns)
    return time.perf_counter() - start


def _player_seek_s(path: Path, frames: int, scratch: Path) -> float:
    """``harness replay FILE --speed 1 --control``, one client subscribed: the time of a
    ``POST seek`` to the middle and the client's next frame (checked to be the middle one)."""
    from websockets.sync.client import connect

    middle = frames // 2
    command = [*mock_command(path, "1"), "--control"]
    with serve(command, scratch, f"seek-{frames}") as server:
        (url,) = ws_urls(server.base_url, "seek", 1)
        with connect(url, open_timeout=30, max_size=None) as websocket:
            websocket.send(SUBSCRIBE_ALL)
            websocket.recv(timeout=30)  # subscribed
            websocket.recv(timeout=30)  # the first frame: the timeline plays
            start = time.perf_counter()
            body = json.dumps({"t": middle * GAP_NS / 1e9}).encode()
            control = f"{server.base_url}/_harness/seek"
            request = urllib.request.Request(control, data=body, method="POST")
            with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT_S):
                pass
            while True:  # frames already queued before the seek come first
                seq = json.loads(websocket.recv(timeout=CLIENT_TIMEOUT_S))["seq"]
                if seq >= middle:
                    break
            elapsed = time.perf_counter() - start
    if seq != middle:
        raise RuntimeError(f"seek to frame {middle} landed on frame {seq}")
    return elapsed


def measure(frames: int, scratch: Path) -> StartRow:
    path = scratch / f"main-{frames}.msgpack"
    write_main_recording(path, frames, GAP_NS, index=True)
    try:
        start = time.perf_counter()
        with serve(mock_command(path, "max"), scratch, f"replay-{frames}") as server:
            ready_s = time.perf_counter() - start
            rss = _rss_bytes(server.pid)
            served = run_clients(
                "throughput",
                "--base-url", server.base_url,
                "--token-prefix", "start",
                "--frames", str(frames),
                "--kind", "websockets",
                "--timeout", str(CLIENT_TIMEOUT_S),
                timeout=CLIENT_TIMEOUT_S + 30,
            )  # fmt: skip
            served_peak = _rss_bytes(server.pid, "VmHWM")
        middle = frames // 2 * GAP_NS
        return StartRow(
            frames=frames,
            file_bytes=path.stat().st_size,
            ready_s=ready_s,
            rss_bytes=rss,
            served_peak_bytes=served_peak,
            served_fps=served["frames"] / served["seconds"],
            seek_index_s=_seek_s(path, middle, rebuild=False),
            seek_rebuilt_s=_seek_s(path, middle, rebuild=True),
            seek_scan_s=_scan_s(path, middle),
            player_seek_s=_player_seek_s(path, frames, scratch),
        )
    finally:
        path.unlink(missing_ok=True)


def run(*, quick: bool = False) -> list[StartRow]:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    if not quick and os.environ.get("HARNESS_BENCH_HUGE") == "1":
        sizes = (*sizes, HUGE_SIZE)
    rows = []
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        print("replay_start: harness replay --speed max, reader and player seek to the middle")
        print(
            f"  {'frames':>10} {'file MiB':>9} {'ready s':>8} {'RSS MiB':>8} {'served':>7}"
            f" {'frames/s':>9}"
            f" {'seek idx s':>10} {'seek rebuilt s':>14} {'scan s':>7} {'player seek s':>13}"
        )
        for frames in sizes:
            row = measure(frames, Path(tmp))
            rows.append(row)
            print(
                f"  {row.frames:>10,} {row.file_bytes / 2**20:>9.1f} {row.ready_s:>8.2f}"
                f" {row.rss_bytes / 2**20:>8.0f} {row.served_peak_bytes / 2**20:>7.0f}"
                f" {row.served_fps:>9,.0f}"
                f" {row.seek_index_s:>10.4f}"
                f" {row.seek_rebuilt_s:>14.2f} {row.seek_scan_s:>7.2f}"
                f" {row.player_seek_s:>13.3f}",
                flush=True,
            )
    _report_growth(rows)
    return rows


def _report_growth(rows: list[StartRow]) -> None:
    """Each figure's factor from one size to the next (10x the frames: 10 = linear)."""
    for small, big in itertools.pairwise(rows):
        factor = big.frames / small.frames

        def grow(a: float, b: float) -> str:
            return f"{b / a:5.1f}x" if a > 0 else "   - "

        print(
            f"  growth {small.frames:,} -> {big.frames:,} ({factor:g}x frames):"
            f" ready {grow(small.ready_s, big.ready_s)},"
            f" RSS {grow(small.rss_bytes, big.rss_bytes)},"
            f" served {grow(small.served_peak_bytes, big.served_peak_bytes)},"
            f" seek idx {grow(small.seek_index_s, big.seek_index_s)},"
            f" scan {grow(small.seek_scan_s, big.seek_scan_s)},"
            f" player seek {grow(small.player_seek_s, big.player_seek_s)}"
        )
