"""``soccer_server.play`` / ``serving`` with a real client, in thread and process mode; each
``serving`` starts from a reset server; a failing block saves its frames as a recording."""

from __future__ import annotations

import pytest

CLIENT = """
import json, urllib.request
import websocket

def read_until_closed(server, channel="MAIN"):
    url = f"{server.api_base}/v1/ws/new/?t={server.api_token}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        token = json.loads(answer.read())["result"][0]
    ws = websocket.create_connection(token["server"], timeout=10)
    ws.send(json.dumps({"action": "subscribe", "channel": channel, "scope": "all"}))
    assert json.loads(ws.recv())["type"] == "subscribed"
    got = []
    while True:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return token, got
        got.append(data.decode())

GOALS = [
    {"type": "goal", "channel": "MAIN", "matchId": "m", "leagueId": "l", "ts": n, "data": {"n": n}}
    for n in range(3)
]
"""


@pytest.mark.slow
@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_play_and_serving_with_a_real_client(downstream: pytest.Pytester, process: bool) -> None:
    # Given tests that play their own frames to a websocket-client consumer
    downstream.makepyfile(
        client=CLIENT,
        test_play=f"""
        import json, threading
        import pytest
        from client import GOALS, read_until_closed
        from harness.strategies import StreamFrame

        pytestmark = pytest.mark.soccer_recording(process={process})

        def test_play_replaces_the_recording(soccer_server):
            assert soccer_server.play([*GOALS, "garbage"], close_when_delivered=True) == 4
            _, got = read_until_closed(soccer_server)
            assert [json.loads(g)["data"]["n"] for g in got[:3]] == [0, 1, 2]
            assert got[3] == "garbage"
            assert soccer_server.stats.total_frames == 4
            soccer_server.reset()
            assert soccer_server.stats.total_frames > 4 and soccer_server.played is None

        def test_wait_delivered_after_play(soccer_server):
            soccer_server.play([StreamFrame(0.5, g) for g in GOALS], speed=1)
            done = []
            reader = threading.Thread(target=lambda: done.append(read_until_closed(soccer_server)))
            reader.start()
            soccer_server.wait_delivered(timeout=10)
            soccer_server.close_connections()
            reader.join(10)
            assert [json.loads(g)["ts"] for g in done[0][1]] == [0, 1, 2]

        def test_serving_starts_each_time_from_a_reset_server(soccer_server):
            tokens = []
            for n in range(3):
                with soccer_server.serving(GOALS[n:]):
                    token, got = read_until_closed(soccer_server)
                tokens.append(token)
                assert len(got) == 3 - n
                assert [e.kind for e in soccer_server.journal][0] == "note"  # journal fresh
            assert all(token["is_new"] for token in tokens)

        def test_a_failing_block_saves_its_frames(soccer_server, tmp_path):
            target = tmp_path / "minimal.msgpack"
            with pytest.raises(AssertionError) as failed:
                with soccer_server.serving(GOALS, save_failure=target):
                    read_until_closed(soccer_server)
                    assert False, "the consumer's invariant"
            assert "is saved as " + str(target) in str(failed.value.__notes__)
            assert target.exists()
            with pytest.raises(AssertionError) as again:  # our own file: replaced
                with soccer_server.serving(GOALS[:1], save_failure=target):
                    assert False
            assert "is saved as" in str(again.value.__notes__)
            other = tmp_path / "theirs.msgpack"
            other.write_bytes(b"a user's file")
            with pytest.raises(AssertionError) as kept:
                with soccer_server.serving(GOALS, save_failure=other):
                    assert False
            assert "not saved" in str(kept.value.__notes__)
            assert other.read_bytes() == b"a user's file"
        """,
    )
    # When they run, Then each passes
    result = downstream.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=4)
