"""``harness info`` on recordings of any size, and the frame classification it runs on each frame.

Issue 12.  For N MAIN event frames (~330-byte JSON goals, written with :func:`open_writer` and an
index, as the recorder writes them) this times, in the same run: a bare
:class:`~harness.core.recording.RecordingReader` pass over the file (the floor: ``info`` reads
every record), :func:`~harness.core.inventory.take_inventory` in-process (what the CLI calls), and
``harness info FILE`` as a subprocess, as a user runs it (interpreter start included), and the
peak memory traced while counting.  Each is printed in seconds and frames/s, with its growth per
tenfold N.

Then :func:`~harness.core.protocol.classify_frame` in microseconds per frame over distinct frames
of every envelope style (MAIN-style events, STATS/ODDS echo-style events, replies), beside
``json.loads`` of the same payloads (the cost of the reference parse alone).

N = 10k, 100k and 1M (quick: 1k and 10k), generated into a temporary folder and removed.

Measured on the 2-core development machine (Python 3.11), 1M frames (348 MiB; the bare reader
1.13-1.24 s), before -> after the msgspec fast path of ``classify_frame`` and the inventory
without a feed of every frame: ``info`` 13.9 -> 3.3 s in-process, 12.3 -> 3.2 s as a subprocess
(622 -> 25 MiB resident, by ``/usr/bin/time``), ``classify_frame`` 5.6 -> 0.95 us/frame
(``json.loads`` alone 3.1-3.4).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks._clients import REPO_ROOT, event_payload, write_main_recording
from harness.core.inventory import take_inventory
from harness.core.protocol import classify_frame
from harness.core.recording import open_reader

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
GAP_NS = 1_000_000
CLASSIFY_FRAMES = 200_000
QUICK_CLASSIFY_FRAMES = 2_000


@dataclass(frozen=True, slots=True)
class InfoRow:
    """Seconds for one recording of ``frames`` MAIN events."""

    frames: int
    file_bytes: int
    read_s: float
    inventory_s: float
    cli_s: float
    peak_bytes: int


@dataclass(frozen=True, slots=True)
class ClassifyFigures:
    """Microseconds per frame: :func:`classify_frame` and ``json.loads`` of the same payloads."""

    frames: int
    classify_us: float
    json_loads_us: float


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _read_all(path: Path) -> int:
    with open_reader(path) as reader:
        return sum(1 for _ in reader)


def _cli(path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "harness", "info", str(path)],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _peak_bytes(path: Path) -> int:
    """Peak memory traced while :func:`take_inventory` counts ``path`` (a slower pass)."""
    tracemalloc.start()
    try:
        take_inventory(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(frames: int, scratch: Path) -> InfoRow:
    path = scratch / f"main-{frames}.msgpack"
    write_main_recording(path, frames, GAP_NS, index=True)
    try:
        return InfoRow(
            frames=frames,
            file_bytes=path.stat().st_size,
            read_s=_timed(lambda: _read_all(path)),
            inventory_s=_timed(lambda: take_inventory(path)),
            cli_s=_timed(lambda: _cli(path)),
            peak_bytes=_peak_bytes(path),
        )
    finally:
        path.unlink(missing_ok=True)


def sample_payloads(count: int) -> list[bytes]:
    """``count`` distinct frames: 8 in 10 MAIN-style, 1 echo-style, 1 reply."""
    out = []
    for seq in range(count):
        if seq % 10 == 8:
            stats = {
                "type": "event", "channel": "STATS", "scope": "match", "id": str(12_000 + seq % 50),
                "eventType": "stats_update", "ts": 1_705_314_600_000 + seq,
                "data": {"possession": "55;45", "attacks": f"{seq % 60};32", "corners": "4;2"},
            }  # fmt: skip
            out.append(json.dumps(stats, separators=(",", ":")).encode())
        elif seq % 10 == 9:
            reply = {"type": "pong", "ts": 1_705_314_600_000 + seq}
            out.append(json.dumps(reply, separators=(",", ":")).encode())
        else:
            out.append(event_payload(seq))
    return out


def _each(action: Callable[[bytes], object], payloads: list[bytes]) -> None:
    for payload in payloads:
        action(payload)


def measure_classify(count: int) -> ClassifyFigures:
    payloads = sample_payloads(count)
    classify_s = _timed(lambda: _each(classify_frame, payloads))
    loads_s = _timed(lambda: _each(lambda p: json.loads(p.decode("utf-8")), payloads))
    return ClassifyFigures(count, classify_s / count * 1e6, loads_s / count * 1e6)


def run(*, quick: bool = False) -> tuple[list[InfoRow], ClassifyFigures]:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    rows = []
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        print("info: harness info FILE on N MAIN frames (bare reader pass = the floor)")
        print(
            f"  {'frames':>10} {'file MiB':>9} {'read s':>7} {'info s':>7} {'frames/s':>10}"
            f" {'/ read':>6} {'cli s':>7} {'frames/s':>10} {'peak MiB':>8}"
        )
        for frames in sizes:
            row = measure(frames, Path(tmp))
            rows.append(row)
            print(
                f"  {row.frames:>10,} {row.file_bytes / 2**20:>9.1f} {row.read_s:>7.2f}"
                f" {row.inventory_s:>7.2f} {row.frames / row.inventory_s:>10,.0f}"
                f" {row.inventory_s / row.read_s:>6.1f}"
                f" {row.cli_s:>7.2f} {row.frames / row.cli_s:>10,.0f}"
                f" {row.peak_bytes / 2**20:>8.1f}",
                flush=True,
            )
    _report_growth(rows)
    figures = measure_classify(QUICK_CLASSIFY_FRAMES if quick else CLASSIFY_FRAMES)
    print(
        f"  classify_frame {figures.classify_us:6.2f} us/frame;"
        f" json.loads alone {figures.json_loads_us:6.2f} us/frame"
        f" ({figures.frames:,} distinct frames, every envelope style)"
    )
    print(f"  {BEFORE}")
    return rows, figures


BEFORE = (
    "before the msgspec fast path (same machine): 1M frames info 13.9 s in-process,"
    " 12.3 s cli, 622 MiB resident; classify_frame 5.6 us/frame (json.loads alone 3.4)"
)


def _report_growth(rows: list[InfoRow]) -> None:
    """Each figure's factor from one size to the next (10x the frames: 10 = linear)."""
    for small, big in itertools.pairwise(rows):
        print(
            f"  growth {small.frames:,} -> {big.frames:,} ({big.frames / small.frames:g}x frames):"
            f" read {big.read_s / small.read_s:5.1f}x,"
            f" info {big.inventory_s / small.inventory_s:5.1f}x,"
            f" cli {big.cli_s / small.cli_s:5.1f}x,"
            f" peak {big.peak_bytes / small.peak_bytes:5.1f}x"
        )
