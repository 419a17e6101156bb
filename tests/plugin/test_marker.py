"""The marker, the options and their precedence, strict mode and the failure report."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.synth import SynthOptions, synthetic_bytes

SUBSCRIBE_HELPER = """
import json, urllib.request
import websocket

def subscribe(server, command, replies=1):
    url = f"{server.api_base}/v1/ws/new/?t={server.api_token}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        ws_url = json.loads(answer.read())["result"][0]["server"]
    ws = websocket.create_connection(ws_url, timeout=10)
    ws.send(command)
    got = [json.loads(ws.recv()) for _ in range(replies)]
    ws.close()
    return got
"""


def _cup_final(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cup-final.msgpack"
    path.write_bytes(synthetic_bytes(SynthOptions(seed=7, matches=1, duration_ns=300 * 10**9)))
    return path


def test_marker_finds_recordings_by_name_and_sets_options(downstream: pytest.Pytester) -> None:
    # Given a recording in tests/recordings and one in another folder
    _cup_final(downstream.path / "tests" / "recordings")
    other = _cup_final(downstream.path / "elsewhere")
    downstream.makepyfile(
        test_marked=f"""
        import pytest

        @pytest.mark.soccer_recording("cup-final", speed=50, plan="pro", max_connections=1)
        def test_by_name(soccer_server):
            config = soccer_server.mock.config
            assert soccer_server.recording.name == "cup-final.msgpack"
            assert config.replay.speed == 50
            assert config.profile.default_plan == "PRO" and config.profile.max_connections == 1

        @pytest.mark.soccer_recording("cup-final.msgpack", start_at="1m", api_token="secret")
        def test_with_suffix(soccer_server):
            assert soccer_server.api_token == "secret"
            assert soccer_server.mock.config.replay.start_at_ns == 60 * 10**9

        @pytest.mark.soccer_recording({str(other)!r})
        def test_by_absolute_path(soccer_server):
            assert soccer_server.recording == __import__("pathlib").Path({str(other)!r})

        def test_default_recording_and_speed(soccer_server):
            assert soccer_server.recording.name == "default.msgpack"
            assert soccer_server.mock.config.replay.speed is None
        """
    )
    # When pytest runs them, Then all pass
    downstream.runpytest_subprocess().assert_outcomes(passed=4)


def test_precedence_marker_over_command_line_over_ini(downstream: pytest.Pytester) -> None:
    # Given ini speed 5 and recordings dir "recs", a command-line speed 7, a marker speed 9
    _cup_final(downstream.path / "recs")
    downstream.makeini(
        "[pytest]\naddopts = -p no:cacheprovider\nsoccer_speed = 5\nsoccer_recordings_dir = recs\n"
    )
    downstream.makepyfile(
        test_precedence="""
        import pytest

        def test_command_line(soccer_server, request):
            expected = float(request.config.getoption("soccer_speed") or 5)
            assert soccer_server.mock.config.replay.speed == expected

        @pytest.mark.soccer_recording("cup-final", speed=9)
        def test_marker(soccer_server):
            assert soccer_server.mock.config.replay.speed == 9
        """
    )
    # When run with and without --soccer-speed, Then each level wins over the ones below
    downstream.runpytest_subprocess().assert_outcomes(passed=2)
    downstream.runpytest_subprocess("--soccer-speed", "7").assert_outcomes(passed=2)


def test_bad_settings_fail_with_one_line(downstream: pytest.Pytester) -> None:
    # Given a missing recording, an unknown option and a bad speed
    downstream.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.soccer_recording("nowhere")
        def test_missing(soccer_server):
            pass

        @pytest.mark.soccer_recording(sped=3)
        def test_unknown(soccer_server):
            pass

        @pytest.mark.soccer_recording(speed="fast")
        def test_speed(soccer_server):
            pass
        """
    )
    # When pytest runs them
    result = downstream.runpytest_subprocess()
    # Then each errors with a message naming the problem, no traceback
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*soccer-ws-harness: recording *tests/recordings/nowhere.msgpack not found*",
            "*unknown soccer server option(s) sped*",
            "*invalid speed 'fast'*",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_the_trio_fixture_fails_with_one_line_too(downstream: pytest.Pytester) -> None:
    # Given trio tests with a missing recording, an unknown option and a record mode
    downstream.makepyfile(
        test_bad_trio="""
        import pytest

        @pytest.mark.trio
        @pytest.mark.soccer_recording("nowhere")
        async def test_missing(trio_soccer_server):
            pass

        @pytest.mark.trio
        @pytest.mark.soccer_recording(sped=3)
        async def test_unknown(trio_soccer_server):
            pass

        @pytest.mark.trio
        @pytest.mark.soccer_recording("nowhere", record_mode="once")
        async def test_recording(trio_soccer_server):
            pass
        """
    )
    result = downstream.runpytest_subprocess()
    # Then each errors with its message, no nursery group, no traceback
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*soccer-ws-harness: recording *nowhere.msgpack not found*",
            "*unknown soccer server option(s) sped*",
            "*trio_soccer_server runs in the test's own trio run, so a record mode*",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*ExceptionGroup*")


def test_factory_and_session_fixtures(downstream: pytest.Pytester) -> None:
    # Given tests using the factory and the session server
    _cup_final(downstream.path / "tests" / "recordings")
    downstream.makepyfile(
        soccer_helpers=SUBSCRIBE_HELPER,
        test_fixtures="""
        from soccer_helpers import subscribe
        SEEN = []

        def test_factory(soccer_server_factory):
            a = soccer_server_factory()
            b = soccer_server_factory("cup-final", speed=3)
            assert a.port != b.port
            assert b.mock.config.replay.speed == 3 and a.mock.config.replay.speed is None
            assert b.recording.name == "cup-final.msgpack"
            assert subscribe(a, '{"action":"subscribe","channel":"MAIN","scope":"all"}')
            SEEN.extend([a, b])

        def test_factory_servers_are_closed():
            assert all(server.closed for server in SEEN)

        def test_session_one(soccer_server_session):
            SEEN.append(soccer_server_session)

        def test_session_two(soccer_server_session):
            assert soccer_server_session is SEEN[-1] and not soccer_server_session.closed
        """,
    )
    downstream.runpytest_subprocess().assert_outcomes(passed=4)


def test_a_marker_on_the_session_server_alone_is_an_error(downstream: pytest.Pytester) -> None:
    # Given a marked test whose only server is the session's, and one that also has its own
    downstream.makepyfile(
        """
        import pytest

        @pytest.mark.soccer_recording(speed=5)
        def test_marked_session_only(soccer_server_session):
            pass

        @pytest.mark.soccer_recording(speed=5)
        def test_marked_with_own_server(soccer_server_session, soccer_server):
            assert soccer_server.settings.options["speed"] == 5
        """
    )
    # When run
    result = downstream.runpytest_subprocess()
    # Then the marker that would be ignored fails the test in one line; the other applies
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*soccer-ws-harness: the soccer_recording marker does not apply to soccer_server_session*"]
    )


def test_control_calls_inside_a_trio_run_say_what_to_do(downstream: pytest.Pytester) -> None:
    # Given a sync control call made from trio code with the thread-mode fixture
    downstream.makepyfile(
        """
        import trio

        def test_pause_in_trio(soccer_server):
            async def main():
                soccer_server.pause()
            trio.run(main)

        def test_through_a_thread(soccer_server):
            async def main():
                await trio.to_thread.run_sync(soccer_server.pause)
            trio.run(main)
        """
    )
    # When run
    result = downstream.runpytest_subprocess()
    # Then the blocking call is refused with the way out; through a thread it works
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*use the trio_soccer_server fixture in trio code*"])


def test_strict_mode_names_the_topic(downstream: pytest.Pytester) -> None:
    # Given strict tests: a subscription with no recorded frame, one that read too little,
    # and one whose subscription the recording serves in full
    downstream.makepyfile(
        soccer_helpers=SUBSCRIBE_HELPER,
        test_strict="""
        import pytest
        from soccer_helpers import subscribe
        NONE = '{"action":"subscribe","channel":"MAIN","scope":"match","id":"nope"}'
        MAIN = '{"action":"subscribe","channel":"MAIN","scope":"all"}'

        @pytest.mark.soccer_recording(strict=True)
        def test_unmatched(soccer_server):
            subscribe(soccer_server, NONE)

        @pytest.mark.soccer_recording(speed=1)
        def test_undelivered(soccer_server):
            subscribe(soccer_server, MAIN)

        @pytest.mark.soccer_recording(strict=False)
        def test_lenient(soccer_server):
            subscribe(soccer_server, NONE)

        @pytest.mark.soccer_recording(strict=True)
        def test_all_delivered(soccer_server):
            subscribe(soccer_server, MAIN, replies=34)
        """,
    )
    # When run with --soccer-strict (the marker's strict=True needs no flag)
    result = downstream.runpytest_subprocess("--soccer-strict")
    # Then the two mismatches fail, naming the topic and the frames; strict=False wins
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*subscription MAIN:match:nope matched no recorded frame*",
            "*subscription MAIN:all: * of 33 recorded frames were never delivered*",
        ],
        consecutive=False,
    )
    # And without the flag only the marked one fails
    downstream.runpytest_subprocess().assert_outcomes(passed=3, failed=1)


def test_failure_report_shows_the_journal(downstream: pytest.Pytester) -> None:
    # Given a failing test that talked to the server
    downstream.makepyfile(
        soccer_helpers=SUBSCRIBE_HELPER,
        test_fails="""
        from soccer_helpers import subscribe
        def test_breaks(soccer_server):
            subscribe(soccer_server, '{"action":"subscribe","channel":"MAIN","scope":"all"}')
            assert False, "scoreboard wrong"

        def test_passes(soccer_server):
            pass
        """,
    )
    result = downstream.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1)
    # Then its report has the journal section, with REST call, commands and frames, timed
    result.stdout.fnmatch_lines(
        [
            "*soccer-ws-harness journal*",
            "soccer_server (http://127.0.0.1:*, default.msgpack): last * journal entries",
            "*+*s http *GET /v1/ws/new/*200*",
            "*ws_in*text {*subscribe*",
            "*ws_out*subscribed*",
        ],
        consecutive=False,
    )
    assert result.stdout.str().count("soccer-ws-harness journal") == 1


def test_options_in_help(downstream: pytest.Pytester) -> None:
    result = downstream.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        [
            "soccer-ws-harness: a mock Soccer Football API for tests:",
            "*--soccer-speed=N|max*",
            "*--soccer-recordings-dir=DIR*",
            "*--soccer-strict*",
            "*--soccer-process*",
            "*soccer_recordings_dir*",
        ],
        consecutive=False,
    )
    markers = downstream.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.soccer_recording(name_or_path=None, *"])
