"""First light: a downstream test gets a token and frames from ``soccer_server``."""

from __future__ import annotations

import pytest


def test_sync_client_receives_frames(downstream: pytest.Pytester) -> None:
    # Given a downstream test module using the sync websocket-client, no conftest
    downstream.makepyfile(
        test_consumer="""
        import json, urllib.request
        import websocket

        def test_scoreboard(soccer_server):
            url = f"{soccer_server.api_base}/v1/ws/new/?t={soccer_server.api_token}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                token = json.loads(answer.read())["result"][0]
            ws = websocket.create_connection(token["server"], timeout=10)
            try:
                ws.send('{"action":"subscribe","channel":"MAIN","scope":"all"}')
                assert json.loads(ws.recv())["type"] == "subscribed"
                frames = [json.loads(ws.recv()) for _ in range(3)]
            finally:
                ws.close()
            assert all(f["channel"] == "MAIN" for f in frames)
        """
    )
    # When pytest runs it
    result = downstream.runpytest_subprocess()
    # Then it passes
    result.assert_outcomes(passed=1)
