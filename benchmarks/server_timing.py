"""Mock server timing fidelity at ``--speed 1`` and ``--speed 10``: how late each frame arrives.

A synthetic recording holds N MAIN events at regular recorded gaps (event ``seq`` at
``seq * gap``; 5 ms for speed 1, 50 ms for speed 10: 2,000 frames take 10 s either way).
``harness replay --speed S`` serves it to 10 trio-websocket clients in one process (each its own
token, so each its own timeline).  A frame's lateness is its receive time minus its due time
``t0 + seq * gap / S``, where ``t0`` is the client's earliest ``receive - seq * gap / S``: the
constant part (network, parsing) cancels and the best-served frame has lateness 0.  Beside it,
in the same client process and the same run, a bare ``trio.sleep_until`` loop sleeps to every
due time of the schedule and records how late it woke: the floor any trio timer can reach here.

Reported: p50/p99/max lateness of both, the ratio p99 / bare p99 (aim <= 1.5) and the drift,
median lateness of the last 100 frames minus that of the first 100 (aim: about 0; the mock
computes every due time from the recording offset, so it must not accumulate error).
"""

from __future__ import annotations

import math
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._clients import mock_command, run_clients, serve, write_main_recording

AIM_RATIO = 1.5
DRIFT_WINDOW = 100


@dataclass(frozen=True, slots=True)
class TimingCase:
    """One replay: ``frames`` events ``gap_ms`` apart in recording time, at ``speed``."""

    speed: float
    gap_ms: float
    frames: int
    clients: int

    @property
    def replay_gap_s(self) -> float:
        return self.gap_ms / 1000 / self.speed


FULL = (TimingCase(1, 5, 2_000, 10), TimingCase(10, 50, 2_000, 10))
QUICK = (TimingCase(100, 50, 200, 2),)


@dataclass(frozen=True, slots=True)
class Lateness:
    """Lateness figures in seconds."""

    count: int
    p50: float
    p99: float
    max: float
    drift: float

    @classmethod
    def of(cls, by_seq: Sequence[Sequence[float]]) -> Lateness:
        """``by_seq[i]``: the lateness of every copy of frame ``i`` (one per client)."""
        flat = sorted(value for copies in by_seq for value in copies)
        window = max(1, min(DRIFT_WINDOW, len(by_seq) // 4))
        first = [value for copies in by_seq[:window] for value in copies]
        last = [value for copies in by_seq[-window:] for value in copies]
        return cls(
            count=len(flat),
            p50=_percentile(flat, 50),
            p99=_percentile(flat, 99),
            max=flat[-1],
            drift=statistics.median(last) - statistics.median(first),
        )


@dataclass(frozen=True, slots=True)
class TimingResult:
    case: TimingCase
    mock: Lateness
    bare: Lateness
    missing: int  # frames some client never got

    @property
    def ratio(self) -> float:
        return self.mock.p99 / self.bare.p99 if self.bare.p99 > 0 else math.inf


def _percentile(ordered: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def frame_lateness(
    received: Sequence[Sequence[Sequence[float]]], frames: int, gap_s: float
) -> tuple[list[list[float]], int]:
    """Per frame ``seq``, the lateness on each client (see module doc), and how many
    ``(client, frame)`` deliveries are missing."""
    by_seq: list[list[float]] = [[] for _ in range(frames)]
    for client in received:
        if not client:
            continue
        t0 = min(t - seq * gap_s for seq, t in client)
        for seq, t in client:
            by_seq[int(seq)].append(t - (t0 + int(seq) * gap_s))
    missing = frames * len(received) - sum(map(len, by_seq))
    return by_seq, missing


def measure(case: TimingCase) -> TimingResult:
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        scratch = Path(tmp)
        recording = scratch / "timed.msgpack"
        gap_ns = round(case.gap_ms * 1_000_000)
        write_main_recording(recording, case.frames, gap_ns)
        timeout = case.frames * case.replay_gap_s + 30
        with serve(mock_command(recording, f"{case.speed:g}"), scratch, "mock") as mock:
            result: dict[str, Any] = run_clients(
                "timing",
                f"--base-url={mock.base_url}",
                "--token-prefix=timing",
                f"--clients={case.clients}",
                f"--frames={case.frames}",
                f"--gap-ns={gap_ns}",
                f"--speed={case.speed}",
                f"--timeout={timeout}",
                timeout=timeout + 30,
            )
    by_seq, missing = frame_lateness(result["received"], case.frames, case.replay_gap_s)
    bare = [[value] for value in result["bare_lateness"]]
    return TimingResult(case, Lateness.of(by_seq), Lateness.of(bare), missing)


def run(*, quick: bool = False) -> list[TimingResult]:
    """Print the figures; ``quick`` only checks the benchmark runs (200 frames at speed 100)."""
    results = [measure(case) for case in (QUICK if quick else FULL)]
    _report(results)
    return results


def _report(results: list[TimingResult]) -> None:
    print("server_timing: lateness of each frame against its schedule (ms), mock vs bare timer")
    print(
        f"  {'speed':>6}{'gap':>7}{'frames':>8}{'clients':>8}  {'source':<18}"
        f"{'p50':>8}{'p99':>8}{'max':>8}{'drift':>8}"
    )
    for r in results:
        c = r.case
        for name, late in (("mock", r.mock), ("bare sleep_until", r.bare)):
            print(
                f"  {c.speed:>5g}x{c.gap_ms:>5g}ms{c.frames:>8}{c.clients:>8}  {name:<18}"
                f"{late.p50 * 1e3:>8.2f}{late.p99 * 1e3:>8.2f}{late.max * 1e3:>8.2f}"
                f"{late.drift * 1e3:>+8.2f}"
            )
        missing = f", {r.missing} deliveries missing" if r.missing else ""
        print(f"  {'':>29}ratio p99 mock / bare: {r.ratio:.2f} (aim <= {AIM_RATIO}){missing}")
    print(f"  drift = median lateness of the last {DRIFT_WINDOW} frames minus the first")
