"""The mock under hostile peers: does a good client still get its service?

``harness replay --speed 1 --loop`` serves a recording of one MAIN event per millisecond (a
good client should get 1,000 events/s).  The parent process measures, in three phases
(before, during and after the attack):

- the good client's events/s (subscribed to ``MAIN:all``, trio-websocket);
- the round trip of an app-level ``ping`` on a second, unsubscribed connection (p50);
- the latency of ``GET /v1/ws/new`` over a kept-alive HTTP connection (p50);
- the server's resident memory (``VmRSS``) at the end of the phase.

During the middle phase a third process (``python -m benchmarks.stress hostile URL``, until
its stdin closes; it then prints how many attempts each kind of peer made) runs the hostile
peers: bad handshakes in a loop, 20 slowloris heads trickled a byte every 0.5 s, a protocol-ping
flood, floods of one-byte fragments (closed with 1009, then again), and connect/subscribe/drop
churn.  Figures only; no aims (a shared 2-core machine decides those).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio
from trio_websocket import open_websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from benchmarks._clients import (
    REPO_ROOT,
    SUBSCRIBE_ALL,
    mock_command,
    serve,
    write_main_recording,
    ws_urls,
)

GAP_NS = 1_000_000  # one event per millisecond of recording time: 1,000 events/s at --speed 1
FRAMES = 10_000
PHASE_S = 5.0
QUICK_PHASE_S = 0.5
PHASES = ("before", "during", "after")
PING_COMMAND = '{"action":"ping"}'
SLOWLORIS = 20
PING_BATCH = 1_000
FRAGMENT_BATCH = 2_000
PEER_ERRORS = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError)


@dataclass(slots=True)
class Phase:
    """What the parent measured in one phase."""

    name: str
    seconds: float = 0.0
    events: int = 0
    ping_rtts: list[float] = field(default_factory=list)
    rest_latencies: list[float] = field(default_factory=list)
    rss_mib: float = float("nan")
    attacks: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def ping_p50_ms(self) -> float:
        return _p50_ms(self.ping_rtts)

    @property
    def rest_p50_ms(self) -> float:
        return _p50_ms(self.rest_latencies)


def _p50_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def run(*, quick: bool = False) -> list[Phase]:
    """Print the figures; ``quick`` runs half-second phases, to check the benchmark runs."""
    phase_s = QUICK_PHASE_S if quick else PHASE_S
    with tempfile.TemporaryDirectory() as scratch:
        recording = Path(scratch) / "stress.msgpack"
        write_main_recording(recording, 1_000 if quick else FRAMES, GAP_NS)
        with serve([*mock_command(recording, "1"), "--loop"], Path(scratch), "mock") as server:
            phases = trio.run(_measure, server.base_url, server.pid, phase_s)
    _report(phases)
    return phases


async def _measure(base_url: str, pid: int, phase_s: float) -> list[Phase]:
    good_url, ping_url = ws_urls(base_url, "stress-good", 2)
    phases = [Phase(name) for name in PHASES]
    current = [phases[0]]
    async with (
        open_websocket_url(good_url) as good,
        open_websocket_url(ping_url) as pinger,
        httpx.AsyncClient(base_url=base_url) as rest,
        trio.open_nursery() as nursery,
    ):
        await good.send_message(SUBSCRIBE_ALL)
        await good.get_message()  # subscribed

        async def count_events() -> None:
            while True:
                await good.get_message()
                current[0].events += 1

        async def ping() -> None:
            while True:
                start = time.perf_counter()
                await pinger.send_message(PING_COMMAND)
                await pinger.get_message()
                current[0].ping_rtts.append(time.perf_counter() - start)
                await trio.sleep(0.01)

        async def ask_rest() -> None:
            while True:
                start = time.perf_counter()
                await rest.get("/v1/ws/new/", params={"t": "stress-rest"})
                current[0].rest_latencies.append(time.perf_counter() - start)
                await trio.sleep(0.01)

        for task in (count_events, ping, ask_rest):
            nursery.start_soon(task)
        for phase in phases:
            current[0] = phase
            await _run_phase(phase, phase_s, base_url, pid, hostile=phase.name == "during")
        nursery.cancel_scope.cancel()
    return phases


async def _run_phase(phase: Phase, seconds: float, base_url: str, pid: int, hostile: bool) -> None:
    """Measure ``phase`` for ``seconds``; with ``hostile``, the attackers run all through it."""
    attackers = _start_attackers(base_url) if hostile else None
    if attackers is not None:
        await trio.to_thread.run_sync(_readline, attackers)  # "ready": every peer started
    phase.events = 0  # what arrived while the attackers started does not count
    phase.ping_rtts.clear()
    phase.rest_latencies.clear()
    start = time.perf_counter()
    await trio.sleep(seconds)
    phase.seconds = time.perf_counter() - start
    phase.rss_mib = _rss_mib(pid)
    if attackers is not None:
        phase.attacks = await trio.to_thread.run_sync(_stop_attackers, attackers)


def _start_attackers(base_url: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "benchmarks.stress", "hostile", base_url]
    return subprocess.Popen(
        command, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _readline(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline()


def _stop_attackers(process: subprocess.Popen[str]) -> dict[str, int]:
    """Close its stdin (the stop signal); its count of attempts per kind of peer."""
    assert process.stdin is not None
    process.stdin.close()
    line = _readline(process)
    process.wait(timeout=30)
    counts: dict[str, int] = json.loads(line) if line.strip() else {}
    return counts


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _report(phases: list[Phase]) -> None:
    print("stress: good client beside hostile peers (replay --speed 1 --loop, 1,000 events/s)")
    print(f"  {'phase':8} {'events/s':>9} {'ping p50 ms':>12} {'REST p50 ms':>12} {'RSS MiB':>8}")
    for p in phases:
        print(
            f"  {p.name:8} {p.events_per_s:9.0f} {p.ping_p50_ms:12.2f} {p.rest_p50_ms:12.2f}"
            f" {p.rss_mib:8.1f}"
        )
    attacks = next((p.attacks for p in phases if p.attacks), {})
    print("  hostile attempts during: " + ", ".join(f"{k} {v}" for k, v in attacks.items()))


# --- the hostile process -----------------------------------------------------------------------


async def _hostile(base_url: str) -> dict[str, int]:
    """Run every hostile peer until stdin closes; the attempts each kind made."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    address = (host, int(port))
    tokens = [url.split("token=", 1)[1] for url in ws_urls(base_url, "stress-hostile", 3)]
    peers: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("bad handshakes", lambda: _bad_handshakes(address)),
        *[("slowloris", lambda: _slowloris(address)) for _ in range(SLOWLORIS)],
        ("ping floods", lambda: _ping_flood(address, tokens[0])),
        ("fragment floods", lambda: _fragment_flood(address, tokens[1])),
        ("churn", lambda: _churn(address, tokens[2])),
    ]
    counts = dict.fromkeys((name for name, _ in peers), 0)
    async with trio.open_nursery() as nursery:
        for name, peer in peers:
            nursery.start_soon(_again, name, peer, counts)
        print("ready", flush=True)
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
        nursery.cancel_scope.cancel()
    return counts


async def _again(name: str, peer: Callable[[], Awaitable[None]], counts: dict[str, int]) -> None:
    """Run ``peer`` over and over; whatever the server does to it, it comes back."""
    while True:
        counts[name] += 1
        with contextlib.suppress(*PEER_ERRORS):
            await peer()
        await trio.sleep(0.001)


async def _read_to_end(stream: trio.SocketStream) -> None:
    while await stream.receive_some(65536):
        pass


async def _bad_handshakes(address: tuple[str, int]) -> None:
    async with await trio.open_tcp_stream(*address) as stream:
        head = (
            b"GET /?token=nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        )
        await stream.send_all(head + b"\r\n")
        await stream.receive_some(65536)


async def _slowloris(address: tuple[str, int]) -> None:
    async with await trio.open_tcp_stream(*address) as stream:
        await stream.send_all(b"GET /v1/ws/new/?t=slow HTTP/1.1\r\n")
        for _ in range(10_000):
            await stream.send_all(b"X")
            await trio.sleep(0.5)


async def _open_ws(address: tuple[str, int], token: str) -> tuple[trio.SocketStream, WSConnection]:
    stream = await trio.open_tcp_stream(*address)
    ws = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(ws.send(Request(host=address[0], target=f"/?token={token}")))
    while True:
        data = await stream.receive_some(65536)
        if not data:
            raise ConnectionError("closed during the handshake")
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return stream, ws
            if isinstance(event, RejectConnection):
                raise ConnectionError("refused")


async def _ping_flood(address: tuple[str, int], token: str) -> None:
    stream, ws = await _open_ws(address, token)
    batch = b"".join(ws.send(Ping()) for _ in range(PING_BATCH))
    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(_read_to_end, stream)
        while True:
            await stream.send_all(batch)


async def _fragment_flood(address: tuple[str, int], token: str) -> None:
    """One message in more fragments than the server takes; answer its 1009 and go again."""
    stream, ws = await _open_ws(address, token)
    async with stream:
        fragment = TextMessage(data="x", message_finished=False)
        await stream.send_all(b"".join(ws.send(fragment) for _ in range(FRAGMENT_BATCH)))
        while data := await stream.receive_some(65536):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, CloseConnection):
                    await stream.send_all(ws.send(event.response()))
                    return


async def _churn(address: tuple[str, int], token: str) -> None:
    stream, ws = await _open_ws(address, token)
    async with stream:
        await stream.send_all(ws.send(TextMessage(data=SUBSCRIBE_ALL)))
        await stream.receive_some(65536)


def _main() -> None:
    parser = argparse.ArgumentParser(description="the hostile peers of the stress benchmark")
    parser.add_argument("role", choices=["hostile"])
    parser.add_argument("base_url")
    args = parser.parse_args()
    print(json.dumps(trio.run(_hostile, args.base_url)), flush=True)


if __name__ == "__main__":
    _main()
