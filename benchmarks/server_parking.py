"""Parked timelines cost nothing: a good client's events/s and the server's CPU with 0 and 100
tokens that subscribed once and left (issue 8).

``harness replay --speed 100 --max-gap 0.1s --loop`` serves a synthetic recording of MAIN events
50 ms apart (2,000 frames/s due on each timeline).  For each case a fresh server is started;
``parked`` clients, each with its own token (so its own timeline, section 12 "Replay routing"),
subscribe once and leave; then one well-behaved trio-websocket client counts the frames it reads
over a window while the server's CPU time is taken over the same window.  Before the fix every
left timeline kept waking for each of its frames; now it parks, and the figures with 100 parked
tokens should match the 0-parked baseline of the same run (ratio about 1).
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks._clients import mock_command, run_clients, serve, write_main_recording

GAP_NS = 50_000_000
FRAMES = 2_000
REPLAY = ["--max-gap", "0.1s", "--loop"]


@dataclass(frozen=True, slots=True)
class Sizes:
    parked: tuple[int, ...]
    window_s: float
    rounds: int


FULL = Sizes((0, 100), window_s=5.0, rounds=3)
QUICK = Sizes((0, 5), window_s=0.5, rounds=1)


@dataclass(frozen=True, slots=True)
class ParkingRow:
    """Medians over the rounds: good-client events/s and server CPU (1.0 = one core)."""

    parked: int
    events_per_s: float
    server_cpu: float


def _sample(recording: Path, scratch: Path, parked: int, window_s: float, tag: str) -> ParkingRow:
    command = [*mock_command(recording, "100"), *REPLAY]
    with serve(command, scratch, f"mock-{tag}") as mock:
        result = run_clients(
            "parking",
            f"--base-url={mock.base_url}",
            f"--token-prefix=park-{tag}",
            f"--clients={parked + 1}",
            "--frames=0",
            f"--window={window_s}",
            f"--server-pid={mock.pid}",
            f"--timeout={window_s + 60}",
            timeout=window_s + 90,
        )
    return ParkingRow(parked, float(result["events_per_s"]), float(result["server_cpu"]))


def measure(sizes: Sizes) -> list[ParkingRow]:
    samples: dict[int, list[ParkingRow]] = {count: [] for count in sizes.parked}
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        scratch = Path(tmp)
        recording = scratch / "main.msgpack"
        write_main_recording(recording, FRAMES, GAP_NS)
        for round_index in range(sizes.rounds):
            order = sizes.parked if round_index % 2 == 0 else sizes.parked[::-1]
            for count in order:
                tag = f"{count}-r{round_index}"
                samples[count].append(_sample(recording, scratch, count, sizes.window_s, tag))
    return [
        ParkingRow(
            count,
            statistics.median(row.events_per_s for row in rows),
            statistics.median(row.server_cpu for row in rows),
        )
        for count, rows in samples.items()
    ]


def run(*, quick: bool = False) -> list[ParkingRow]:
    """Print the figures; ``quick`` only checks the benchmark runs (5 parked, short window)."""
    sizes = QUICK if quick else FULL
    rows = measure(sizes)
    _report(rows, sizes)
    return rows


def _report(rows: list[ParkingRow], sizes: Sizes) -> None:
    base = rows[0]
    print(
        "server_parking: good client at --speed 100 --max-gap 0.1s --loop beside parked tokens"
        f" (median of {sizes.rounds}, {sizes.window_s:g} s windows)"
    )
    print(f"  {'parked':>7}{'events/s':>11}{'ratio':>8}{'server CPU':>12}{'ratio':>8}")
    for row in rows:
        rate = row.events_per_s / base.events_per_s if base.events_per_s else 0.0
        cpu = row.server_cpu / base.server_cpu if base.server_cpu else 0.0
        print(
            f"  {row.parked:>7}{row.events_per_s:>11,.0f}{rate:>8.2f}"
            f"{row.server_cpu * 100:>11.0f}%{cpu:>8.2f}"
        )
    print("  ratio = against the 0-parked baseline of this run")
