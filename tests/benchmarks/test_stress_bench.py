"""The stress benchmark runs end to end with half-second phases and reports every figure (no
aims: a shared 2-core machine decides those, not the code)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import stress

pytestmark = pytest.mark.slow


def test_stress_benchmark_reports_each_phase_and_the_attacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    phases = stress.run(quick=True)
    assert [phase.name for phase in phases] == ["before", "during", "after"]
    for phase in phases:
        assert phase.events > 0, phase.name  # the good client is served in every phase
        assert phase.ping_rtts, phase.name
        assert phase.rest_latencies, phase.name
        assert not math.isnan(phase.rss_mib) or not Path("/proc").exists()
    during = phases[1].attacks
    assert set(during) == {"bad handshakes", "slowloris", "ping floods", "fragment floods", "churn"}
    assert all(count > 0 for count in during.values())
    out = capsys.readouterr().out
    assert "hostile attempts during" in out
