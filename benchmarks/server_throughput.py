"""Mock server throughput at ``--speed max``: frames/s delivered, beside a picows baseline.

The issue: "the mock server must never be the bottleneck of a test suite: at ``--speed max`` it
delivers as fast as the client can read".  A synthetic recording of MAIN events (~330 B each) is
served by ``harness replay --speed max`` and by picows (a C-accelerated asyncio WebSocket server,
:mod:`benchmarks._picows_baseline`) sending the same payloads in the same order.  The same client
code (:mod:`benchmarks._clients`, its own process) reads from each: one asyncio ``websockets``
client or one trio-websocket client, then 10 and 50 of them in one process (fan-out: total
frames/s).  For fan-out K the feed holds N/K frames and every client reads all of it.

Servers run in their own processes; both stay up for a fan-out's rounds but only one is read
from at a time, alternating which goes first each round.  Figures are medians over the rounds;
the ratio mock/picows is what the issue aims at (>= 0.9).  Each server's CPU time per delivered
frame (from ``/proc``) shows how much headroom it leaves: on 2 shared cores a server that burns
more CPU per frame takes it from the client.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks._clients import (
    CLIENT_KINDS,
    ServerProcess,
    event_payload,
    mock_command,
    picows_command,
    run_clients,
    serve,
    write_main_recording,
)

AIM_RATIO = 0.9
CLIENT_TIMEOUT_S = 120.0
SERVERS = ("mock", "picows")


@dataclass(frozen=True, slots=True)
class Sizes:
    """Frames read per measurement (all clients together), fan-outs and rounds."""

    frames: int
    fan_outs: tuple[int, ...]
    rounds: int


FULL = Sizes(120_000, (1, 10, 50), rounds=5)
QUICK = Sizes(1_000, (1, 2), rounds=1)


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement: total frames/s and the server's CPU microseconds per frame."""

    fps: float
    server_cpu_us: float


@dataclass(frozen=True, slots=True)
class ThroughputRow:
    """Medians for one client kind and fan-out on each server."""

    kind: str
    clients: int
    mock: Sample
    picows: Sample
    rounds: int

    @property
    def ratio(self) -> float:
        return self.mock.fps / self.picows.fps if self.picows.fps else 0.0


def measure(sizes: Sizes) -> list[ThroughputRow]:
    """Run every (client kind, fan-out) against both servers ``sizes.rounds`` times."""
    samples: dict[tuple[str, int, str], list[Sample]] = {}
    for clients in sizes.fan_outs:
        for key, sample in _measure_fan_out(clients, sizes.frames // clients, sizes.rounds):
            samples.setdefault(key, []).append(sample)
    return [
        ThroughputRow(
            kind,
            clients,
            _median(samples[kind, clients, "mock"]),
            _median(samples[kind, clients, "picows"]),
            sizes.rounds,
        )
        for kind in CLIENT_KINDS
        for clients in sizes.fan_outs
    ]


def _median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.fps for s in samples),
        statistics.median(s.server_cpu_us for s in samples),
    )


def _measure_fan_out(
    clients: int, feed_frames: int, rounds: int
) -> Iterator[tuple[tuple[str, int, str], Sample]]:
    """Both servers on a feed of ``feed_frames``, each of ``clients`` reading all of it (so
    every mock timeline ends as its client finishes: nothing is left streaming to a socket
    that is going away while the next figure is taken)."""
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        scratch = Path(tmp)
        recording = scratch / "main.msgpack"
        write_main_recording(recording, feed_frames, gap_ns=1_000_000)
        with (
            serve(mock_command(recording, "max"), scratch, "mock") as mock,
            serve(picows_command(recording), scratch, "picows") as picows,
        ):
            servers = {"mock": mock, "picows": picows}
            for round_index in range(rounds):
                order = SERVERS if round_index % 2 == 0 else SERVERS[::-1]
                for kind in CLIENT_KINDS:
                    for name in order:
                        tokens = f"{name}-{kind}-r{round_index}"
                        sample = _sample(servers[name], kind, clients, feed_frames, tokens)
                        yield (kind, clients, name), sample


def _sample(server: ServerProcess, kind: str, clients: int, frames: int, tokens: str) -> Sample:
    cpu_before = server.cpu_seconds()
    result = run_clients(
        "throughput",
        f"--base-url={server.base_url}",
        f"--token-prefix={tokens}",
        f"--kind={kind}",
        f"--clients={clients}",
        f"--frames={frames}",
        f"--timeout={CLIENT_TIMEOUT_S}",
        timeout=CLIENT_TIMEOUT_S + 30,
    )
    total = int(result["frames"])
    cpu_us = (server.cpu_seconds() - cpu_before) / total * 1e6
    return Sample(total / float(result["seconds"]), cpu_us)


def run(*, quick: bool = False) -> list[ThroughputRow]:
    """Print the table; ``quick`` only checks the benchmark runs (tiny N, one round)."""
    sizes = QUICK if quick else FULL
    rows = measure(sizes)
    _report(rows, sizes)
    return rows


def _report(rows: list[ThroughputRow], sizes: Sizes) -> None:
    print(
        f"server_throughput: total frames/s at --speed max, {len(event_payload(0))} B MAIN "
        f"frames ({sizes.frames:,} per measurement), median of {sizes.rounds} round(s)"
    )
    print(
        f"  {'client':<16}{'clients':>8}{'mock':>11}{'picows':>11}{'ratio':>7}"
        f"   server CPU us/frame: mock picows"
    )
    for row in rows:
        flag = "" if row.ratio >= AIM_RATIO else f"  (below aim {AIM_RATIO})"
        print(
            f"  {row.kind:<16}{row.clients:>8}{row.mock.fps:>11,.0f}{row.picows.fps:>11,.0f}"
            f"{row.ratio:>7.2f}{'':>24}{row.mock.server_cpu_us:>5.1f}"
            f"{row.picows.server_cpu_us:>7.1f}{flag}"
        )
    print(f"  ratio = mock / picows (aim >= {AIM_RATIO})")
