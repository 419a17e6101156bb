"""Client loops and process plumbing shared by the mock server benchmarks.

Every party runs in its own process (2 cores: a server and its clients never share an event
loop, so one cannot slow the other down by scheduling alone):

- the parent builds a synthetic recording of MAIN frames (:func:`write_main_recording`), starts
  a server (:func:`serve`: the mock via ``harness replay`` or the picows baseline) and runs the
  clients (:func:`run_clients`), which print one JSON line of results;
- ``python -m benchmarks._clients throughput|timing|parking ...`` is that client process.  The
  same code reads from both servers: ``GET /v1/ws/new?t=...`` for a WS URL (the picows baseline
  answers it too), connect, ``subscribe MAIN:all``, read the ``subscribed`` reply, then count
  frames.

Each client uses its own API token, so on the mock each gets its own timeline (section 12
"Replay routing") and the whole feed from its first subscription, as on the baseline.  A client
process ends with ``os._exit`` while its sockets are open: the servers are still streaming and a
close handshake would measure nothing but draining.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import trio
from trio_websocket import open_websocket_url

from harness.core.protocol import Subscribe, Topic, encode_command
from harness.core.recording import open_writer
from harness.core.records import Direction, Header, WsMessage

REPO_ROOT = Path(__file__).resolve().parents[1]
SUBSCRIBE_ALL = encode_command(Subscribe(Topic.parse("MAIN:all")))
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
CLIENT_KINDS = ("websockets", "trio-websocket")


# --- parent side: recording, server and client processes -----------------------------------


def event_payload(seq: int) -> bytes:
    """A ~300-byte MAIN goal event carrying its position ``seq`` in the feed (all distinct, so
    the feed's duplicate filter keeps every one)."""
    event = {
        "type": "goal", "channel": "MAIN", "matchId": str(1_200_000 + seq % 64),
        "leagueId": "39", "ts": 1_705_314_600_000 + seq, "seq": seq,
        "data": {"minute": seq % 90, "team": "home", "score": f"{seq % 5};1",
                 "scorer": {"id": str(900 + seq % 30), "name": "A. Player"}, "assist": None,
                 "homeTeam": {"id": "33", "name": "Home FC"},
                 "awayTeam": {"id": "34", "name": "Away United"},
                 "championship": {"id": "39", "name": "Premier League"}},
    }  # fmt: skip
    return json.dumps(event, separators=(",", ":")).encode()


def write_main_recording(path: Path, count: int, gap_ns: int, *, index: bool = False) -> None:
    """A recording of one ``subscribe MAIN:all`` at t=0 and ``count`` MAIN events, event
    ``seq`` at exactly ``seq * gap_ns`` (so its feed offset is known from its ``seq``);
    format 2.0 as the recorder writes it; ``index``: ended by its index, as the recorder
    writes."""
    header = Header("2024-01-15T10:00:00+00:00", "benchmark", "0", {"synthetic": True})
    with open_writer(path, header, index=index, blocks=True) as writer:
        writer.add(WsMessage(0, 1, Direction.CLIENT_TO_SERVER, SUBSCRIBE_ALL.encode()))
        for seq in range(count):
            writer.add(WsMessage(seq * gap_ns, 1, Direction.SERVER_TO_CLIENT, event_payload(seq)))


def mock_command(recording: Path, speed: str) -> list[str]:
    """``harness replay`` as a user runs it (ready file and port appended by :func:`serve`)."""
    return [sys.executable, "-m", "harness", "replay", str(recording), "--speed", speed, "--quiet"]


def picows_command(recording: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks._picows_baseline", str(recording)]


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A running server: its base URL (from its ready file) and process id."""

    base_url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (NaN off Linux)."""
        return cpu_seconds(self.pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far (NaN off Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serve(command: list[str], scratch: Path, name: str) -> Iterator[ServerProcess]:
    """Run a server process until the block ends."""
    ready = scratch / f"{name}.ready.json"
    ready.unlink(missing_ok=True)
    log = (scratch / f"{name}.log").open("w+b")
    full = [*command, "--port", "0", "--ready-file", str(ready)]
    process = subprocess.Popen(
        full, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL
    )
    try:
        yield ServerProcess(_wait_ready(process, ready, log), process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(process: subprocess.Popen[bytes], ready: Path, log: Any) -> str:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.exists():
            return str(json.loads(ready.read_text())["base_url"])
        if process.poll() is not None:
            break
        time.sleep(0.02)
    log.seek(0)
    raise RuntimeError(f"server did not start: {log.read().decode(errors='replace')[-2000:]}")


def run_clients(*args: str, timeout: float) -> dict[str, Any]:
    """Run ``python -m benchmarks._clients ARGS``; its JSON result line."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._clients", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"client process failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# --- client process ----------------------------------------------------------------------------


def ws_urls(base_url: str, token_prefix: str, count: int) -> list[str]:
    """One WS URL per client, each from ``/v1/ws/new`` with its own API token."""
    urls = []
    for index in range(count):
        url = f"{base_url}/v1/ws/new?t={token_prefix}-{index}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            urls.append(str(json.load(answer)["result"][0]["server"]))
    return urls


async def trio_throughput(urls: list[str], frames: int) -> None:
    """Seconds from the first subscribe until every trio-websocket client read ``frames``."""
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(open_websocket_url(url)) for url in urls]
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for ws in sockets:
                await ws.send_message(SUBSCRIBE_ALL)
            for ws in sockets:
                nursery.start_soon(_trio_drain, ws, frames)
        _finish({"seconds": time.perf_counter() - start, "frames": frames * len(urls)})


async def _trio_drain(ws: Any, frames: int) -> None:
    get = ws.get_message
    await get()  # the subscribed reply
    for _ in range(frames):
        await get()


async def asyncio_throughput(urls: list[str], frames: int) -> None:
    """Seconds from the first subscribe until every ``websockets`` client read ``frames``."""
    from websockets.asyncio.client import connect

    sockets = [await connect(url, compression=None) for url in urls]
    start = time.perf_counter()
    await asyncio.gather(*(ws.send(SUBSCRIBE_ALL) for ws in sockets))
    await asyncio.gather(*(_asyncio_drain(ws, frames) for ws in sockets))
    _finish({"seconds": time.perf_counter() - start, "frames": frames * len(urls)})


async def _asyncio_drain(ws: Any, frames: int) -> None:
    recv = ws.recv
    await recv()  # the subscribed reply
    for _ in range(frames):
        await recv()


async def trio_timing(urls: list[str], frames: int, gap_ns: int, speed: float) -> None:
    """Receive times of every frame (by ``seq``) on each client, and beside them the lateness
    of a bare ``trio.sleep_until`` loop over the same schedule in the same process."""
    received: list[list[tuple[int, float]]] = [[] for _ in urls]
    bare: list[float] = []
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(open_websocket_url(url)) for url in urls]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_bare_sleeper, frames, gap_ns / speed / 1e9, bare)
            for ws, into in zip(sockets, received, strict=True):
                await ws.send_message(SUBSCRIBE_ALL)
                nursery.start_soon(_trio_timed_reader, ws, frames, into)
        _finish({"received": received, "bare_lateness": bare})


async def _trio_timed_reader(ws: Any, frames: int, into: list[tuple[int, float]]) -> None:
    await ws.get_message()  # the subscribed reply
    for _ in range(frames):
        message = await ws.get_message()
        now = trio.current_time()
        into.append((json.loads(message)["seq"], now))


async def _bare_sleeper(frames: int, gap_s: float, lateness: list[float]) -> None:
    start = trio.current_time()
    for seq in range(frames):
        due = start + seq * gap_s
        await trio.sleep_until(due)
        lateness.append(trio.current_time() - due)


async def trio_parking(urls: list[str], window_s: float, server_pid: int) -> None:
    """``urls[:-1]`` subscribe once and leave (their timelines park); then the last, the
    well-behaved client, counts the frames it reads in ``window_s`` while the server's CPU
    time is taken over the same window."""
    for url in urls[:-1]:
        async with open_websocket_url(url) as ws:
            await ws.send_message(SUBSCRIBE_ALL)
            await ws.get_message()  # the subscribed reply
    async with open_websocket_url(urls[-1]) as ws:
        await ws.send_message(SUBSCRIBE_ALL)
        await ws.get_message()
        await ws.get_message()  # the feed is flowing
        count = 0
        cpu_start, start = cpu_seconds(server_pid), time.perf_counter()
        with trio.move_on_after(window_s):
            while True:
                await ws.get_message()
                count += 1
        elapsed = time.perf_counter() - start
        cpu = (cpu_seconds(server_pid) - cpu_start) / elapsed
        _finish({"events_per_s": count / elapsed, "server_cpu": cpu})


def _finish(result: dict[str, Any]) -> NoReturn:
    """Print the result and end the process at once, sockets open (see module doc)."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._clients")
    parser.add_argument("mode", choices=["throughput", "timing", "parking"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token-prefix", required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--kind", choices=CLIENT_KINDS, default="trio-websocket")
    parser.add_argument("--gap-ns", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--server-pid", type=int, default=0)
    args = parser.parse_args()
    urls = ws_urls(args.base_url, args.token_prefix, args.clients)
    if args.mode == "parking":
        trio.run(_within, args.timeout, trio_parking, urls, args.window, args.server_pid)
    elif args.mode == "timing":
        trio.run(_within, args.timeout, trio_timing, urls, args.frames, args.gap_ns, args.speed)
    elif args.kind == "websockets":
        asyncio.run(asyncio.wait_for(asyncio_throughput(urls, args.frames), args.timeout))
    else:
        trio.run(_within, args.timeout, trio_throughput, urls, args.frames)


async def _within(seconds: float, function: Any, *args: Any) -> None:
    with trio.fail_after(seconds):
        await function(*args)


if __name__ == "__main__":
    _main()
