"""Process mode: each server a ``harness replay --control`` subprocess with the thread-mode
API over HTTP.  Skipped (but for the one-line refusal) while ``harness replay`` lacks
``--control``; they run once the control API is in the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.plugin.process import replay_command

CLIENT = """
import json, os, urllib.request
import pytest
import websocket

MAIN = '{"action":"subscribe","channel":"MAIN","scope":"all"}'

def connect(server):
    url = f"{server.api_base}/v1/ws/new/?t={server.api_token}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        ws_url = json.loads(answer.read())["result"][0]["server"]
    ws = websocket.create_connection(ws_url, timeout=10)
    ws.send(MAIN)
    assert json.loads(ws.recv())["type"] == "subscribed"
    return ws
"""


def test_every_control_call_works_across_the_process_boundary(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        client=CLIENT,
        test_process="""
        import os, json
        import pytest
        from client import connect

        @pytest.mark.soccer_recording(process=True, speed=1)
        def test_controls(soccer_server):
            assert soccer_server.mode == "process" and soccer_server.pid != os.getpid()
            ws = connect(soccer_server)
            try:
                assert soccer_server.wait_for_subscription("MAIN:all", timeout=5)
                soccer_server.pause()
                assert soccer_server.stats.paused
                assert soccer_server.play_next(2) >= 1
                soccer_server.seek("1m")
                soccer_server.set_speed("max")
                soccer_server.resume()
                assert soccer_server.push({"type": "note", "channel": "MAIN", "data": 1}) == 1
                note = {"type": "note", "channel": "MAIN", "data": 1}
                assert any(json.loads(ws.recv()) == note for _ in range(200))
                assert soccer_server.wait_delivered(timeout=10).ended
                soccer_server.stop_answering_pings()
                assert soccer_server.close_connections(code=1001, reason="bye") == 1
            finally:
                ws.close()
            kinds = {entry.kind for entry in soccer_server.journal}
            assert {"http", "ws_open", "ws_in", "ws_out", "ws_close"} <= kinds
            assert soccer_server.stats.frames_sent >= 3

        @pytest.mark.soccer_recording(process=True)
        def test_tokens_and_reset(soccer_server):
            ws = connect(soccer_server)
            assert soccer_server.expire_token() == 1
            ws.close()
            soccer_server.set_api_token_state(soccer_server.api_token, "suspended")
            with pytest.raises(Exception):
                connect(soccer_server)
            soccer_server.reset()
            assert soccer_server.stats.connections == 0

        @pytest.mark.soccer_recording(process=True)
        def test_report_after_teardown(soccer_server):
            connect(soccer_server).close()
            assert False, "scoreboard wrong"
        """,
    )
    result = downstream.runpytest_subprocess()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*soccer-ws-harness journal*", "soccer_server (http://127.0.0.1:*", "*ws_in*subscribe*"],
        consecutive=False,
    )


def test_command_line_and_ini_choose_process_mode(downstream: pytest.Pytester) -> None:
    downstream.makepyfile(
        test_modes="""
        import pytest

        def test_default(soccer_server, request):
            expected = "process" if request.config.getoption("soccer_process") else "thread"
            assert soccer_server.mode == expected

        @pytest.mark.soccer_recording(process=False)
        def test_marker_wins(soccer_server):
            assert soccer_server.mode == "thread"
        """
    )
    downstream.runpytest_subprocess("--soccer-process").assert_outcomes(passed=2)
    downstream.makeini("[pytest]\naddopts = -p no:cacheprovider\nsoccer_process = true\n")
    downstream.makepyfile(
        test_modes="""
        def test_ini(soccer_server):
            assert soccer_server.mode == "process"
        """
    )
    downstream.runpytest_subprocess().assert_outcomes(passed=1)


def test_replay_command_carries_the_options(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    options = {
        "speed": 50,
        "ttl": "3s",
        "plan": "pro",
        "loop": True,
        "api_token": "k",
        "start_at": 5,
    }
    command = replay_command(tmp_path / "cup.msgpack", options, ready)
    assert command[1:5] == ["-m", "harness", "replay", str(tmp_path / "cup.msgpack")]
    joined = " ".join(command[4:])
    for part in ("--port 0", f"--ready-file {ready}", "--control", "--quiet", "--speed 50"):
        assert part in joined
    for part in ("--ttl 3s", "--plan PRO", "--loop", "--api-token k", "--start-at 5"):
        assert part in joined
    assert "--broadcast" not in joined
    with pytest.raises(UsageError, match="max_connections: not available in process mode"):
        replay_command(ready, {"max_connections": 1}, ready)
