"""Round trip: record a mock replaying the synthetic recording through a renewal and a forced
disconnect, then replay that recording and record it again: the same event frames, in order."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from harness.core.profile import DEFAULT_PROFILE
from harness.core.protocol import Subscribe, Topic, encode_command
from harness.core.recording import read_recording
from harness.core.records import HttpExchange, Note, WsClose, WsOpen
from harness.core.schedule import Feed, ReplayOptions
from harness.recordings import default_recording_path
from harness.server import ServerConfig, open_mock_server
from tests.waiting import wait_until

from .conftest import (
    API_TOKEN,
    client_messages,
    event_payloads,
    events_received,
    fast_options,
    read_records,
    running_recorder,
)

FIRST_RUN_S = 4.0
TTL_S = 3.0  # renewed at half-life, well inside the first run


def synthetic_feed() -> Feed:
    _, records, _ = read_recording(default_recording_path())
    return Feed.from_records(records)


@pytest.mark.slow
async def test_record_replay_record_round_trip(tmp_path: Path) -> None:
    feed = synthetic_feed()
    first, second = tmp_path / "first.msgpack", tmp_path / "second.msgpack"
    # Replay the synthetic recording spread over a few seconds.
    speed = max(1.0, feed.duration_ns / 1e9 / FIRST_RUN_S)
    config = ServerConfig(
        api_token=API_TOKEN,
        replay=ReplayOptions(speed=speed),
        profile=DEFAULT_PROFILE.with_limits(ttl_s=TTL_S),
    )
    with trio.fail_after(30):
        async with (
            open_mock_server(feed, config) as server,
            running_recorder(first, fast_options(server.base_url)) as recorder,
        ):
            await wait_until(lambda: events_received(recorder) >= 20)
            await server.close_connections(code=1012, reason="service restart")
            await wait_until(
                lambda: recorder.stats.renewals >= 1 and server.stats.ended, timeout=25
            )
            await wait_until(lambda: recorder.stats.by_event["subscribed"] >= 2)
    records = read_records(first)
    # The renewal, the reconnect and the resubscription are all in the recording.
    assert any(isinstance(r, HttpExchange) and "/v1/ws/renew" in r.url for r in records)
    assert [n for n in records if isinstance(n, Note) and n.kind == "renewal"]
    assert [n for n in records if isinstance(n, Note) and n.kind == "reconnect"]
    assert any(isinstance(r, WsClose) and r.code == 1012 for r in records)
    subscribe = encode_command(Subscribe(Topic.parse("MAIN:all"))).encode()
    assert len({m.conn_id for m in client_messages(records) if m.payload == subscribe}) == 2
    assert len([r for r in records if isinstance(r, WsOpen)]) == 2
    expected = event_payloads(records)
    assert len(expected) >= 20

    # Replay what was recorded, as fast as the recorder reads, and record it again.
    replay = Feed.from_records(records)
    config = ServerConfig(api_token=API_TOKEN, replay=ReplayOptions(speed=None))
    with trio.fail_after(30):
        async with (
            open_mock_server(replay, config) as server,
            running_recorder(second, fast_options(server.base_url)) as recorder,
        ):
            await wait_until(lambda: events_received(recorder) >= len(expected))
    assert event_payloads(read_records(second)) == expected
