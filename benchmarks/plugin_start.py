"""Fixture start per test (thread, process, trio-native) beside a bare test, and frames/s
delivered to an in-process asyncio client in thread vs process mode (issue 10).

One pytest run in a subprocess collects ``n`` bare tests and ``n`` tests that take
``soccer_server`` (the bundled default recording, speed max); a timing conftest (the
benchmark's, not the plugin's) takes each test's ``pytest_runtest_protocol`` with
``perf_counter``: setup + call + teardown + reports.  The figures are the median per test of
each kind, their difference (what the fixture costs a test; aim: <= 5 ms) and their ratio.
The first
fixture test pays for loading the recording and starting the server thread once per run; the
median leaves that out, the mean shows it.  A direct figure (start + stop of one server through
the plugin's state, no pytest) is printed beside it.

Process mode (a ``harness replay --control`` subprocess per test) is timed on fewer tests; it
needs ``--control``, and is left out (said so) where this tree's ``harness replay`` lacks it.
Throughput: one asyncio ``websockets`` client in this process reads a MAIN-only synthetic
recording at speed max from a server in the plugin's thread (sharing this process's GIL) and
from one in its own process (without ``--control``: a plain ``harness replay``, the same
server); frames/s from the first frame to the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from benchmarks._clients import SUBSCRIBE_ALL, write_main_recording
from harness.plugin.options import Settings
from harness.plugin.process import ProcessSoccerServer
from harness.plugin.state import PluginState
from harness.recordings import default_recording_path

ROOT = Path(__file__).resolve().parents[1]
FULL_TESTS = 300
QUICK_TESTS = 20
FULL_PROCESS_TESTS = 30
QUICK_PROCESS_TESTS = 3
FULL_FRAMES = 60_000
QUICK_FRAMES = 2_000
KINDS = ("bare", "fixture", "trio", "process")


@dataclass(frozen=True, slots=True)
class StartRow:
    """Seconds per test: medians and means of bare and fixture tests; direct start+stop."""

    tests: int
    bare_median: float
    fixture_median: float
    fixture_mean: float
    bare_mean: float
    direct_median: float
    trio_median: float = 0.0
    process_median: float | None = None
    thread_fps: float = 0.0
    process_fps: float = 0.0
    process_fps_source: str = ""

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


def _pytest_times(tests: int, process_tests: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        files = {
            "test_bare.py": "".join(f"def test_bare_{i}():\n    pass\n" for i in range(tests)),
            "test_fixture.py": "".join(
                f"def test_fixture_{i}(soccer_server):\n    pass\n" for i in range(tests)
            ),
            "test_trio.py": "import pytest\n"
            + "".join(
                f"@pytest.mark.trio\nasync def test_trio_{i}(trio_soccer_server):\n    pass\n"
                for i in range(tests)
            ),
        }
        if process_tests:
            files["test_process.py"] = "import pytest\n" + "".join(
                "@pytest.mark.soccer_recording(process=True)\n"
                f"def test_process_{i}(soccer_server):\n    pass\n"
                for i in range(process_tests)
            )
        for name, text in files.items():
            (project / name).write_text(text)
        (project / "pytest.ini").write_text("[pytest]\n")
        (project / "conftest.py").write_text(TIMING_CONFTEST)
        report = project / "times.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += [*_plugin_args(), *files]
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for name, seconds in json.loads(report.read_text()).items():
            kind = name.split("::test_")[1].split("_")[0]
            times[kind].append(seconds)
        return times


async def _drain(api_base: str, frames: int) -> float:
    """Frames/s one asyncio client reads and parses (first frame to the last)."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{api_base}/v1/ws/new/", params={"t": "bench-token"})
    async with connect(answer.json()["result"][0]["server"], compression=None) as ws:
        await ws.send(SUBSCRIBE_ALL)
        await ws.recv()  # subscribed
        await ws.recv()
        started = time.perf_counter()
        for _ in range(frames - 1):
            json.loads(await ws.recv())  # a consumer parses what it reads
        return (frames - 1) / (time.perf_counter() - started)


@contextlib.contextmanager
def _process_server(recording: Path) -> Iterator[tuple[str, str]]:
    """(api_base, what) of a server in process mode."""
    server = ProcessSoccerServer(recording, {"speed": "max"})
    try:
        yield server.api_base, "process mode"
    finally:
        server.close()


def _throughput(frames: int) -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        recording = scratch / "main.msgpack"
        write_main_recording(recording, frames, 1_000_000)
        state = PluginState()
        try:
            server = state.open(None, Settings(recording, {"speed": "max"}), "bench")
            thread_fps = asyncio.run(_drain(server.api_base, frames))
            server.close()
        finally:
            state.close()
        with _process_server(recording) as (api_base, what):
            process_fps = asyncio.run(_drain(api_base, frames))
        return thread_fps, process_fps, what


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


def measure(tests: int, process_tests: int, frames: int) -> StartRow:
    times = _pytest_times(tests, process_tests)
    bare, fixture = times["bare"], times["fixture"]
    thread_fps, process_fps, source = _throughput(frames)
    return StartRow(
        tests=tests,
        bare_median=statistics.median(bare),
        fixture_median=statistics.median(fixture),
        fixture_mean=statistics.fmean(fixture),
        bare_mean=statistics.fmean(bare),
        direct_median=_direct(tests),
        trio_median=statistics.median(times["trio"]),
        process_median=statistics.median(times["process"]) if times["process"] else None,
        thread_fps=thread_fps,
        process_fps=process_fps,
        process_fps_source=source,
    )


def run(*, quick: bool = False) -> StartRow:
    """Print the figures; ``quick`` only checks the benchmark runs (20 tests of each kind)."""
    if quick:
        row = measure(QUICK_TESTS, QUICK_PROCESS_TESTS, QUICK_FRAMES)
    else:
        row = measure(FULL_TESTS, FULL_PROCESS_TESTS, FULL_FRAMES)
    ms = 1000.0
    ratio = row.fixture_median / row.bare_median if row.bare_median else 0.0
    print(f"plugin_start: per test, {row.tests} tests of each kind (one run)")
    print(f"  {'':<24}{'median ms':>10}{'mean ms':>10}")
    print(f"  {'bare test':<24}{row.bare_median * ms:>10.2f}{row.bare_mean * ms:>10.2f}")
    print(
        f"  {'soccer_server (thread)':<24}{row.fixture_median * ms:>10.2f}"
        f"{row.fixture_mean * ms:>10.2f}"
    )
    print(f"  {'trio_soccer_server':<24}{row.trio_median * ms:>10.2f}")
    if row.process_median is None:
        print("  soccer_server (process): not measured (harness replay has no --control here)")
    else:
        print(f"  {'soccer_server (process)':<24}{row.process_median * ms:>10.2f}")
    print(f"  fixture cost over a bare test: {row.extra * ms:.2f} ms median (aim <= 5 ms)")
    print(f"  ratio fixture/bare (median): {ratio:.1f}x")
    print(f"  direct start+stop in the server thread (no pytest): {row.direct_median * ms:.2f} ms")
    ratio_fps = row.process_fps / row.thread_fps if row.thread_fps else 0.0
    print("  frames/s to one asyncio websockets client in this process, speed max:")
    print(f"    server in the plugin's thread: {row.thread_fps:>10,.0f}")
    print(
        f"    server in its own process:     {row.process_fps:>10,.0f}  ({row.process_fps_source})"
    )
    print(f"    process/thread: {ratio_fps:.1f}x")
    return row
