"""``harness replay --control``: the control API over HTTP from another process, as a Node or Go
test suite drives it (plain HTTP calls, here with httpx), and off without the flag."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.cli.test_cli_replay import _start_replay, _stop

TIMEOUT_S = 10


def test_replay_control_drives_a_client_over_http(tmp_path: Path) -> None:
    # Given a replay with the control API on, paused before any client came
    process, details = _start_replay(tmp_path, "--control", "--speed", "1")
    try:
        control = details["control_url"]
        assert control == f"{details['base_url']}/_harness/"
        with httpx.Client(base_url=control, timeout=TIMEOUT_S) as http:
            assert http.post("pause").json()["paused"] is True
            token = httpx.get(details["ws_new_url"], timeout=TIMEOUT_S).json()["result"][0]
            with connect(token["server"], open_timeout=TIMEOUT_S) as ws:
                ws.send(details["subscribe"])
                assert json.loads(ws.recv(timeout=TIMEOUT_S))["type"] == "subscribed"
                # When it steps one frame
                answer = http.post("play-next", json={"n": 1}).json()
                # Then the client gets exactly one recorded event
                assert answer == {"ok": True, "sent": 1}
                assert "type" in json.loads(ws.recv(timeout=TIMEOUT_S))
                stats = http.get("stats").json()
                assert (stats["paused"], stats["connections"], stats["frames_sent"]) == (True, 1, 1)
                entries = http.get("journal").json()["entries"]
                assert any(e["kind"] == "ws_in" for e in entries)
                bad = http.post("seek", json={"t": "later"})
                assert bad.status_code == 400
                assert "invalid duration 'later'" in bad.json()["errors"][0]["message"]
                # And a reset closes it with 1001
                assert http.post("reset").json() == {"ok": True}
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=TIMEOUT_S)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1001
    finally:
        code, out, err = _stop(process)
    assert f"control API:   {control}" in out
    assert code == 0
    assert "Traceback" not in err


def test_replay_without_control_has_no_control_api(tmp_path: Path) -> None:
    process, details = _start_replay(tmp_path)
    try:
        assert details["control_url"] is None
        response = httpx.post(f"{details['base_url']}/_harness/pause", timeout=TIMEOUT_S)
        assert response.status_code == 404
        assert response.json()["errors"] == [{"code": 6, "message": "Not Found"}]
    finally:
        code, out, _ = _stop(process)
    assert "control API" not in out
    assert code == 0
