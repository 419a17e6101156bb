"""Record modes: none fails a missing recording with the command to make it; once records a
missing one through the proxy; all records again.  The upstream is an in-process mock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.loading import load_recording, read_feed
from harness.errors import UsageError
from harness.plugin.fixture import SoccerServer
from harness.plugin.options import Settings
from harness.plugin.state import PluginState
from harness.recorder.credentials import upstream_credentials
from harness.recordings import default_recording_path

SECRET = "live-secret-token-0123456789"
CONSUMER = """
import json, urllib.request
import pytest
import websocket

def frames(server, n):
    url = f"{server.api_base}/v1/ws/new/?t={server.api_token}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        ws_url = json.loads(answer.read())["result"][0]["server"]
    ws = websocket.create_connection(ws_url, timeout=10)
    try:
        ws.send('{"action":"subscribe","channel":"MAIN","scope":"all"}')
        assert json.loads(ws.recv())["type"] == "subscribed"
        return [json.loads(ws.recv()) for _ in range(n)]
    finally:
        ws.close()

@pytest.mark.soccer_recording("cup-final")
def test_scoreboard(soccer_server):
    print("MODE", soccer_server.mode)
    got = frames(soccer_server, 3)
    assert [f["channel"] for f in got] == ["MAIN"] * 3
"""


@pytest.fixture
def upstream() -> Iterator[SoccerServer]:
    """The "live service": a mock in this process, on its own loopback port."""
    state = PluginState()
    try:
        yield state.open(None, Settings(default_recording_path(), {"speed": "max"}), "upstream")
    finally:
        state.close()


@pytest.fixture
def project(downstream: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("SOCCERFOOTBALL_API_TOKEN", raising=False)
    monkeypatch.delenv("RAPIDAPI_KEY", raising=False)
    downstream.makepyfile(test_consumer=CONSUMER)
    return downstream


def _target(project: pytest.Pytester) -> Path:
    return project.path / "tests" / "recordings" / "cup-final.msgpack"


def test_none_fails_a_missing_recording_with_the_command(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*recording *tests/recordings/cup-final.msgpack not found*"
            "*harness record --proxy --port 0 -o *tests/recordings/cup-final.msgpack*"
            "*--soccer-record-mode=once*",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*During handling*")
    assert not _target(project).exists()


def test_once_records_a_missing_recording_then_replays_it(
    project: pytest.Pytester, upstream: SoccerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a token and an upstream, and no recording
    monkeypatch.setenv("SOCCERFOOTBALL_API_TOKEN", SECRET)
    args = ["-s", "--soccer-record-mode=once", "--soccer-upstream", upstream.api_base]
    # When the test runs in record mode once
    recorded = project.runpytest_subprocess(*args)
    # Then it passed through the proxy, and the recording is written, redacted
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(["*MODE record*"])
    target = _target(project)
    data = target.read_bytes()
    assert SECRET.encode() not in data
    assert not target.with_name(target.name + ".partial").exists()
    loaded = load_recording(target)
    assert read_feed(target).frames
    assert loaded.header.source["mode"] == "proxy"
    assert any(e.kind == "http" and "/v1/ws/new" in e.summary for e in upstream.journal)
    # And the upstream saw the real token, the client never held it
    assert any(SECRET in e.summary for e in upstream.journal if e.kind == "http")
    # When it runs again in once (the file exists) and in none
    for mode in ("once", "none"):
        again = project.runpytest_subprocess("-s", f"--soccer-record-mode={mode}")
        # Then it replays the recording, which is left as it was
        again.assert_outcomes(passed=1)
        again.stdout.fnmatch_lines(["*MODE thread*"])
    assert target.read_bytes() == data


def test_all_records_again_and_ini_sets_the_mode(
    project: pytest.Pytester, upstream: SoccerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an existing recording and the ini asking for record mode all
    monkeypatch.setenv("SOCCERFOOTBALL_API_TOKEN", SECRET)
    target = _target(project)
    target.parent.mkdir(parents=True)
    target.write_bytes(default_recording_path().read_bytes())
    project.makeini(
        "[pytest]\naddopts = -p no:cacheprovider -s\nsoccer_record_mode = all\n"
        f"soccer_upstream = {upstream.api_base}\n"
    )
    # When it runs, Then it records through the proxy and replaces the file
    project.runpytest_subprocess().stdout.fnmatch_lines(["*MODE record*", "*1 passed*"])
    assert target.read_bytes() != default_recording_path().read_bytes()
    assert load_recording(target).header.source["mode"] == "proxy"
    # And the command line wins over the ini
    project.runpytest_subprocess("--soccer-record-mode=none").stdout.fnmatch_lines(
        ["*MODE thread*", "*1 passed*"]
    )


def test_record_modes_without_a_token_or_with_a_control_call_fail_in_one_line(
    project: pytest.Pytester, upstream: SoccerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = project.runpytest_subprocess("--soccer-record-mode=once")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*no API token: set $SOCCERFOOTBALL_API_TOKEN (or $RAPIDAPI_KEY)*"]
    )
    monkeypatch.setenv("SOCCERFOOTBALL_API_TOKEN", SECRET)
    project.makepyfile(
        test_consumer="""
        import pytest

        @pytest.mark.soccer_recording("cup-final", record_mode="all")
        def test_push(soccer_server):
            soccer_server.push({"type": "x"})
        """
    )
    pushed = project.runpytest_subprocess("--soccer-upstream", upstream.api_base)
    pushed.assert_outcomes(failed=1)
    pushed.stdout.fnmatch_lines(["*SoccerServer.push is not available while recording*"])
    bad = project.runpytest_subprocess("--soccer-record-mode=sometimes")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_upstream_credentials_prefer_the_direct_token() -> None:
    assert upstream_credentials({"SOCCERFOOTBALL_API_TOKEN": SECRET, "RAPIDAPI_KEY": "k" * 8}) == (
        SECRET,
        False,
    )
    assert upstream_credentials({"RAPIDAPI_KEY": "k" * 8}) == ("k" * 8, True)
    with pytest.raises(UsageError, match="no API token"):
        upstream_credentials({})
    with pytest.raises(UsageError, match="RAPIDAPI_KEY is too short"):
        upstream_credentials({"RAPIDAPI_KEY": "k"})
