"""The mock server benchmarks run end to end at a tiny size and report figures (no timing aims:
a shared 2-core machine decides those, not the code)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


def _bench(name: str) -> ModuleType:
    """``benchmarks.<name>``, importable however pytest was started (it is not installed)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module(f"benchmarks.{name}")


def test_throughput_benchmark_reports_both_servers(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench("server_throughput")
    rows = bench.run(quick=True)
    kinds = {(row.kind, row.clients) for row in rows}
    assert kinds == {(k, n) for k in ("websockets", "trio-websocket") for n in (1, 2)}
    assert all(row.mock.fps > 0 and row.picows.fps > 0 for row in rows)
    out = capsys.readouterr().out
    assert "ratio = mock / picows" in out
    table = [line.split() for line in out.splitlines() if line.startswith("  trio-websocket")]
    assert [row[1] for row in table] == ["1", "2"]


def test_timing_benchmark_reports_lateness_beside_bare_timer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = _bench("server_timing")
    [result] = bench.run(quick=True)
    case = result.case
    assert result.missing == 0
    assert result.mock.count == case.frames * case.clients
    assert result.bare.count == case.frames
    assert 0 <= result.mock.p50 <= result.mock.p99 <= result.mock.max
    out = capsys.readouterr().out
    assert "bare sleep_until" in out
    assert "ratio p99 mock / bare" in out


def test_lateness_is_measured_from_the_best_served_frame() -> None:
    # Given two clients whose frames (10 ms apart) arrive with a constant offset, one frame late
    timing = _bench("server_timing")
    received = [
        [(0, 5.000), (1, 5.010), (2, 5.023)],  # frame 2 is 3 ms late
        [(0, 7.001), (1, 7.011), (2, 7.021)],
    ]
    # When lateness is computed
    by_seq, missing = timing.frame_lateness(received, 3, 0.010)
    # Then each client's offset cancels and only the late frame stands out
    assert missing == 0
    assert [round(max(copies) * 1000, 3) for copies in by_seq] == [0.0, 0.0, 3.0]
    late = timing.Lateness.of(by_seq)
    assert round(late.max * 1000, 3) == 3.0


def test_parking_benchmark_reports_ratios_against_no_parked_tokens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = _bench("server_parking")
    rows = bench.run(quick=True)
    assert [row.parked for row in rows] == [0, 5]
    assert all(row.events_per_s > 0 for row in rows)
    out = capsys.readouterr().out
    assert "against the 0-parked baseline" in out
