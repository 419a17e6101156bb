"""Fixture start per test: ``soccer_server`` (thread mode) beside a bare test (issue 10).

One pytest run in a subprocess collects ``n`` bare tests and ``n`` tests that take
``soccer_server`` (the bundled default recording, speed max); a timing conftest (the
benchmark's, not the plugin's) takes each test's ``pytest_runtest_protocol`` with
``perf_counter``: setup + call + teardown + reports.  The figures are the median per test of
each kind, their difference (what the fixture costs a test; aim: <= 5 ms) and their ratio.
The first
fixture test pays for loading the recording and starting the server thread once per run; the
median leaves that out, the mean shows it.  A direct figure (start + stop of one server through
the plugin's state, no pytest) is printed beside it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from harness.plugin.options import Settings
from harness.plugin.state import PluginState
from harness.recordings import default_recording_path

ROOT = Path(__file__).resolve().parents[1]
FULL_TESTS = 300
QUICK_TESTS = 20


@dataclass(frozen=True, slots=True)
class StartRow:
    """Seconds per test: medians and means of bare and fixture tests; direct start+stop."""

    tests: int
    bare_median: float
    fixture_median: float
    fixture_mean: float
    bare_mean: float
    direct_median: float

    @property
    def extra(self) -> float:
        return self.fixture_median - self.bare_median


TIMING_CONFTEST = """
import json, time
import pytest

TIMES = {}

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        TIMES[item.nodeid] = time.perf_counter() - started

def pytest_sessionfinish(session):
    with open("times.json", "w") as stream:
        json.dump(TIMES, stream)
"""


def _plugin_args() -> list[str]:
    """``-p harness.plugin`` unless the installed distribution already registers it."""
    names = {ep.name for ep in entry_points(group="pytest11")}
    return [] if "soccer_ws_harness" in names else ["-p", "harness.plugin"]


def _pytest_times(tests: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "test_bare.py").write_text(
            "".join(f"def test_bare_{i}():\n    pass\n" for i in range(tests))
        )
        (project / "test_fixture.py").write_text(
            "".join(f"def test_fixture_{i}(soccer_server):\n    pass\n" for i in range(tests))
        )
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "conftest.py").write_text(TIMING_CONFTEST)
        report = project / "times.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += [*_plugin_args(), "test_bare.py", "test_fixture.py"]
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
        times: dict[str, list[float]] = {"bare": [], "fixture": []}
        for name, seconds in json.loads(report.read_text()).items():
            times["bare" if "test_bare" in name else "fixture"].append(seconds)
        return times


def _direct(tests: int) -> float:
    """Median seconds of one server's start + stop in the plugin's thread, no pytest."""
    state = PluginState()
    settings = Settings(default_recording_path(), {"speed": "max"})
    samples = []
    try:
        state.open(None, settings, "warm-up").close()
        for _ in range(tests):
            started = time.perf_counter()
            state.open(None, settings, "bench").close()
            samples.append(time.perf_counter() - started)
    finally:
        state.close()
    return statistics.median(samples)


def measure(tests: int) -> StartRow:
    times = _pytest_times(tests)
    bare, fixture = times["bare"], times["fixture"]
    return StartRow(
        tests=tests,
        bare_median=statistics.median(bare),
        fixture_median=statistics.median(fixture),
        fixture_mean=statistics.fmean(fixture),
        bare_mean=statistics.fmean(bare),
        direct_median=_direct(tests),
    )


def run(*, quick: bool = False) -> StartRow:
    """Print the figures; ``quick`` only checks the benchmark runs (20 tests of each kind)."""
    row = measure(QUICK_TESTS if quick else FULL_TESTS)
    ms = 1000.0
    ratio = row.fixture_median / row.bare_median if row.bare_median else 0.0
    print(f"plugin_start: per test, {row.tests} tests of each kind (one run)")
    print(f"  {'':<24}{'median ms':>10}{'mean ms':>10}")
    print(f"  {'bare test':<24}{row.bare_median * ms:>10.2f}{row.bare_mean * ms:>10.2f}")
    print(
        f"  {'soccer_server (thread)':<24}{row.fixture_median * ms:>10.2f}"
        f"{row.fixture_mean * ms:>10.2f}"
    )
    print(f"  fixture cost over a bare test: {row.extra * ms:.2f} ms median (aim <= 5 ms)")
    print(f"  ratio fixture/bare (median): {ratio:.1f}x")
    print(f"  direct start+stop in the server thread (no pytest): {row.direct_median * ms:.2f} ms")
    return row
