"""Shared helpers for recorder tests: fast timing, running a recorder beside a mock server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import trio

from harness._version import __version__
from harness.core.backoff import BackoffPolicy
from harness.core.protocol import Topic, classify_frame
from harness.core.recording import open_writer, read_recording
from harness.core.records import Direction, Header, Record, WsMessage
from harness.core.redact import Redactor
from harness.recorder.connection import LinkTiming
from harness.recorder.live import LiveRecorder, RecorderOptions
from harness.recorder.tee import Tee

API_TOKEN = "rec-test-api-token-0123456789abcdef"
FAST_TIMING = LinkTiming(
    ping_interval_s=0.2,
    pong_timeout_s=0.4,
    stable_after_s=0.3,
    connect_timeout_s=5.0,
    close_timeout_s=1.0,
)
FAST_BACKOFF = BackoffPolicy(initial_s=0.05, max_s=0.3)


def fast_options(base_url: str, *specs: str, **changes: object) -> RecorderOptions:
    """Options for tests: the mock as API base, short pings, quick bounded backoff."""
    topics = tuple(Topic.parse(spec) for spec in specs or ("MAIN:all",))
    settings: dict[str, object] = {
        "api_base": base_url,
        "timing": FAST_TIMING,
        "backoff": FAST_BACKOFF,
        "seed": 1,
        "stop_grace_s": 3.0,
    }
    settings.update(changes)
    return RecorderOptions(topics, **settings)  # type: ignore[arg-type]


REPLY_TYPES = frozenset({"subscribed", "unsubscribed", "pong", "error"})


def events_received(recorder: LiveRecorder) -> int:
    """Event frames the recorder has received so far (replies not counted)."""
    return sum(n for kind, n in recorder.stats.by_event.items() if kind not in REPLY_TYPES)


def new_header(source: dict[str, object] | None = None) -> Header:
    return Header(datetime.now(UTC).isoformat(), "test", __version__, source or {})


@asynccontextmanager
async def running_recorder(
    path: Path, options: RecorderOptions, *, token: str = API_TOKEN
) -> AsyncIterator[LiveRecorder]:
    """A recorder running in the background; stopped politely when the block ends."""
    redactor = Redactor([token])
    with open_writer(path, redactor.scrub_header(new_header())) as writer:
        recorder = LiveRecorder(Tee(writer, redactor), options, api_token=token)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(recorder.run)
            yield recorder
            recorder.request_stop("test done")


async def run_recorder(path: Path, options: RecorderOptions, *, token: str = API_TOKEN) -> None:
    """Run a recorder in the foreground (for sessions that end on their own, or fail)."""
    redactor = Redactor([token])
    with open_writer(path, redactor.scrub_header(new_header())) as writer:
        await LiveRecorder(Tee(writer, redactor), options, api_token=token).run()


def read_records(path: Path) -> list[Record]:
    _, records, damage = read_recording(path)
    assert damage is None, damage
    return records


def server_frames(records: list[Record], *, conn_id: int | None = None) -> list[WsMessage]:
    return [
        r
        for r in records
        if isinstance(r, WsMessage)
        and r.direction is Direction.SERVER_TO_CLIENT
        and (conn_id is None or r.conn_id == conn_id)
    ]


def client_messages(records: list[Record]) -> list[WsMessage]:
    return [
        r for r in records if isinstance(r, WsMessage) and r.direction is Direction.CLIENT_TO_SERVER
    ]


def event_payloads(records: list[Record]) -> list[bytes]:
    """Server event frames (no replies), in file order."""
    payloads = []
    for message in server_frames(records):
        info = classify_frame(message.payload)
        if info is not None and info.is_event:
            payloads.append(message.payload)
    return payloads


def goal(match_id: str, minute: int) -> bytes:
    """A MAIN goal frame (section 8.1 shape)."""
    return json.dumps(
        {
            "type": "goal",
            "channel": "MAIN",
            "matchId": match_id,
            "leagueId": "67890",
            "ts": 1705312800000 + minute * 60_000,
            "data": {"score": "1;0", "timer": str(minute), "team": "A"},
        },
        separators=(",", ":"),
    ).encode()
