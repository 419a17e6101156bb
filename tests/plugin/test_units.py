"""In-process pieces of the plugin: recording lookup, strict mode's topics, player delegation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile
from harness.core.protocol import Channel, Scope, Topic
from harness.errors import UsageError, WaitTimeout
from harness.plugin.options import Settings, find_recording, server_config
from harness.plugin.state import PluginState
from harness.plugin.strict import subscribed_topics
from harness.recordings import default_recording_path
from harness.server.journal import JournalEntry
from harness.server.prepared import shared_prepared_feed


def test_find_recording_by_name_with_or_without_suffix(tmp_path: Path) -> None:
    (tmp_path / "cup.msgpack").write_bytes(b"")
    assert find_recording("cup", tmp_path) == tmp_path / "cup.msgpack"
    assert find_recording("cup.msgpack", tmp_path) == tmp_path / "cup.msgpack"
    assert find_recording(None, tmp_path) == default_recording_path()
    with pytest.raises(UsageError, match=r"recording .*nope\.msgpack not found"):
        find_recording("nope", tmp_path)


def test_server_config_reads_durations_and_plans() -> None:
    config = server_config({"ttl": "2m", "start_at": 30, "plan": "ultra", "speed": "max"}, _p())
    assert config.profile.token_ttl_s == 120
    assert config.replay.start_at_ns == 30 * 10**9
    assert config.profile.default_plan == "ULTRA"
    assert config.replay.speed is None
    with pytest.raises(UsageError, match="invalid plan"):
        server_config({"plan": "gold"}, _p())
    with pytest.raises(UsageError, match="max_gap has no effect"):
        server_config({"max_gap": 1}, _p())


def _p() -> BehaviourProfile:
    return DEFAULT_PROFILE


def test_subscribed_topics_come_from_client_commands() -> None:
    entries = [
        JournalEntry(0.0, "ws_in", 1, 'text {"action":"subscribe","channel":"MAIN","scope":"all"}'),
        JournalEntry(0.1, "ws_in", 1, 'text {"action":"ping"}'),
        JournalEntry(
            0.2, "ws_out", 1, 'text {"action":"subscribe","channel":"ODDS","scope":"all"}'
        ),
        JournalEntry(0.3, "ws_in", 1, "text not json"),
    ]
    assert subscribed_topics(entries) == [Topic(Channel.MAIN, Scope.ALL)]


def test_the_player_services_reach_the_server_thread() -> None:
    state = PluginState()
    try:
        server = state.open(None, Settings(default_recording_path(), {"speed": 1}), "unit")
        server.pause()
        paused_stats = server.stats
        assert paused_stats.paused
        assert server.play_next(1) == 0  # nobody subscribed: nothing to send
        server.seek(60)
        server.set_speed(2)
        server.resume()
        playing_stats = server.stats
        assert not playing_stats.paused
        assert playing_stats.speed == 2
        with pytest.raises(WaitTimeout, match="delivered"):
            server.wait_delivered(timeout=0.2)  # no subscriber: never delivered
        server.reset()
        server.close()
    finally:
        state.close()


def test_servers_of_one_feed_share_its_prepared_frames() -> None:
    feed = PluginState().load(default_recording_path()).feed
    assert shared_prepared_feed(feed) is shared_prepared_feed(feed)
