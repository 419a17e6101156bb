"""Recorder throughput: does ``harness record`` keep up with a mock pushing at ``--speed max``?

A mock server (another process, so it has its own core) replays the bundled recording in a loop
as fast as each client reads.  In the same run, a bare client (httpx + trio-websocket, no
recording) and the recorder (redaction, classification, msgpack, one write per record) each
read for the same window; the figure is the ratio of their frames/s (aim: >= 0.8).  The
recorder's resident memory is sampled across its window to show it stays flat.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import trio
from trio_websocket import open_websocket_url

from harness._version import __version__
from harness.core.protocol import Topic
from harness.core.recording import open_writer
from harness.core.records import Header
from harness.core.redact import Redactor
from harness.recorder.live import LiveRecorder, RecorderOptions
from harness.recorder.tee import Tee

API_TOKEN = "bench-api-token-0123456789"
WARMUP_S = 0.3
SERVER_SCRIPT = """
import sys, trio
from harness.core.profile import DEFAULT_PROFILE
from harness.core.recording import read_recording
from harness.core.schedule import Feed, ReplayOptions
from harness.recordings import default_recording_path
from harness.server import ServerConfig, open_mock_server

async def main():
    _, records, _ = read_recording(default_recording_path())
    config = ServerConfig(api_token=sys.argv[1], replay=ReplayOptions(speed=None, loop=True),
                          profile=DEFAULT_PROFILE.with_limits(max_connections=4))
    async with open_mock_server(Feed.from_records(records), config) as server:
        print(server.base_url, flush=True)
        await trio.to_thread.run_sync(sys.stdin.read)

trio.run(main)
"""


@dataclass(frozen=True, slots=True)
class RecorderBench:
    """Frames/s of the bare client and of the recorder, and the recorder's RSS growth."""

    bare_fps: float
    recorder_fps: float
    rss_growth_bytes: int
    recorded_frames: int
    bare_cpu_us: float  # client-process CPU time per frame
    recorder_cpu_us: float

    @property
    def ratio(self) -> float:
        return self.recorder_fps / self.bare_fps if self.bare_fps else 0.0


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: peak RSS is the best the platform offers
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def _bare_client(base_url: str, seconds: float) -> tuple[float, float]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{base_url}/v1/ws/new/", params={"t": API_TOKEN})
    server = answer.json()["result"][0]["server"]
    async with open_websocket_url(server) as ws:
        await ws.send_message(
            json.dumps({"action": "subscribe", "channel": "MAIN", "scope": "all"})
        )
        with trio.move_on_after(WARMUP_S):
            while True:
                await ws.get_message()
        count, cpu = 0, time.process_time()
        with trio.move_on_after(seconds):
            while True:
                await ws.get_message()
                count += 1
        cpu = time.process_time() - cpu
    return count / seconds, cpu / max(count, 1) * 1e6


async def _recorder(base_url: str, seconds: float, path: Path) -> tuple[float, float, int, int]:
    redactor = Redactor([API_TOKEN])
    header = Header(datetime.now(UTC).isoformat(), "bench", __version__, {"api_base": base_url})
    options = RecorderOptions((Topic.parse("MAIN:all"),), api_base=base_url)
    with open_writer(path, redactor.scrub_header(header)) as writer:
        recorder = LiveRecorder(Tee(writer, redactor), options, api_token=API_TOKEN)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(recorder.run)
            for _ in range(1000):  # up to 10 s for the first frame
                if recorder.stats.frames_in:
                    break
                await trio.sleep(0.01)
            await trio.sleep(WARMUP_S)
            start_frames, start_rss = recorder.stats.frames_in, _rss_bytes()
            cpu = time.process_time()
            await trio.sleep(seconds)
            cpu = time.process_time() - cpu
            frames, rss = recorder.stats.frames_in - start_frames, _rss_bytes()
            recorder.request_stop("benchmark done")
    cpu_us = cpu / max(frames, 1) * 1e6
    return frames / seconds, cpu_us, rss - start_rss, recorder.stats.frames_in


def measure(*, seconds: float = 3.0, rounds: int = 2) -> RecorderBench:
    """Run the mock in a subprocess and alternate bare client and recorder ``rounds`` times."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, API_TOKEN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        if not base_url:
            raise RuntimeError("the mock server did not start")
        bare: tuple[float, float] = (0.0, 0.0)
        best: tuple[float, float, int, int] = (0.0, 0.0, 0, 0)
        with tempfile.TemporaryDirectory() as scratch:
            for index in range(rounds):
                bare = max(bare, trio.run(_bare_client, base_url, seconds))
                path = Path(scratch) / f"bench-{index}.msgpack"
                best = max(best, trio.run(_recorder, base_url, seconds, path))
        fps, cpu_us, growth, total = best
        return RecorderBench(bare[0], fps, growth, total, bare[1], cpu_us)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def run(*, quick: bool = False) -> RecorderBench:
    """Print the figures; ``quick`` only checks the benchmark runs."""
    result = measure(seconds=0.3, rounds=1) if quick else measure()
    print(
        f"recorder: bare client {result.bare_fps:,.0f} frames/s, recorder "
        f"{result.recorder_fps:,.0f} frames/s, ratio {result.ratio:.2f} (aim >= 0.8); "
        f"client CPU per frame {result.bare_cpu_us:.0f} us bare vs "
        f"{result.recorder_cpu_us:.0f} us recording; "
        f"recorder RSS growth over its window {result.rss_growth_bytes / 2**20:+.1f} MiB"
    )
    return result
