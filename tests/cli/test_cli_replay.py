"""``harness replay``: startup details, ready file, TLS, clean stop, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.core.recording import RecordingWriter
from harness.core.records import Header

READY_TIMEOUT_S = 60.0
POLL_S = 0.05


def _start_replay(tmp_path: Path, *options: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "replay",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.exists():  # bounded wait for a condition, not a fixed sleep
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"replay did not become ready:\n{out}\n{err}")
        time.sleep(POLL_S)
    return process, json.loads(ready.read_text(encoding="utf-8"))


def _stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def test_a_closed_stdout_is_not_a_listen_error() -> None:
    # Given a replay whose stdout reader is already gone (as `harness replay | head` after head)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        piped = subprocess.run(
            [sys.executable, "-m", "harness", "replay", "--port", "0", "--quiet"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    # Then writing its banner ends it quietly, blaming no port
    assert "cannot listen" not in piped.stderr
    assert piped.returncode == 0, piped.stderr


def test_replay_prints_details_writes_ready_file_and_stops_on_sigint(tmp_path: Path) -> None:
    # Given a replay of the bundled recording on a free port
    process, details = _start_replay(tmp_path, "--speed", "10", "--api-token", "secret-key")
    try:
        # When a client asks for a WebSocket token with the advertised URL
        with urllib.request.urlopen(details["ws_new_url"], timeout=10) as response:
            body = json.load(response)
    finally:
        code, out, err = _stop(process)
    # Then the mock answers as the real service does, and the banner said how to reach it
    assert body["status"] == 200
    assert body["result"][0]["server"].startswith(details["ws_url"] + "?token=")
    assert details["api_token"] == "secret-key"
    assert details["curl"] in out
    assert f"API base URL:  {details['base_url']}" in out
    assert "at 10x" in out
    assert code == 0
    assert "stopped" in err
    assert "Traceback" not in err


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")
def test_replay_over_tls_exposes_its_ca_and_stops_on_sigterm(tmp_path: Path) -> None:
    process, details = _start_replay(tmp_path, "--tls", "--quiet")
    try:
        context = ssl.create_default_context(cafile=details["ca_file"])
        with urllib.request.urlopen(details["ws_new_url"], timeout=10, context=context) as answer:
            body = json.load(answer)
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    assert details["base_url"].startswith("https://")
    assert body["result"][0]["server"].startswith("wss://")
    assert f"CA file:       {details['ca_file']}" in out
    assert "--cacert" in details["curl"]
    assert process.returncode == 0


def _not_a_recording(tmp_path: Path) -> str:
    path = tmp_path / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    return str(path)


def _empty_recording(tmp_path: Path) -> str:
    path = tmp_path / "empty.msgpack"
    with path.open("wb") as stream:
        RecordingWriter(stream).start(Header("2024-01-15T14:00:00Z", "test", "0"))
    return str(path)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["replay", "missing.msgpack"], 1, "missing.msgpack"),
        (["replay", "--speed", "0"], 2, "invalid speed '0'"),
        (["replay", "--speed", "fast"], 2, "invalid speed 'fast'"),
        (["replay", "--ttl", "soon"], 2, "invalid duration 'soon'"),
        (["replay", "--max-gap", "x1"], 2, "invalid duration 'x1'"),
        (["replay", "--start-at", "99h"], 2, "start"),
        (["replay", "--api-token", ""], 2, "api-token"),
    ],
)
def test_bad_input_is_one_line_error(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_file_that_is_not_a_recording_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", _not_a_recording(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "not a soccer-ws-harness recording" in err
    assert err.count("\n") == 1


def test_port_in_use_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["replay", _empty_recording(tmp_path), "--port", str(port), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "--port 0 (or HARNESS_PORT=0) picks a free port" in err
    assert err.count("\n") == 1


def test_banner_says_what_to_send_and_the_plan_and_the_pasted_subscribe_works(
    tmp_path: Path,
) -> None:
    from websockets.sync.client import connect

    # Given a replay on the default plan
    process, details = _start_replay(tmp_path, "--quiet")
    try:
        # When a client follows the banner: token call, then the URL it returns, then the command
        with urllib.request.urlopen(details["ws_new_url"], timeout=10) as response:
            server = json.load(response)["result"][0]["server"]
        with connect(server, open_timeout=10) as websocket:
            websocket.send(details["subscribe"])
            reply = json.loads(websocket.recv(timeout=10))
    finally:
        code, out, _ = _stop(process)
    # Then the subscription is accepted, and the banner showed each step and the plan's limits
    assert reply["type"] == "subscribed"
    assert code == 0
    assert f"WebSocket URL: {details['ws_url']}?token=<token from /v1/ws/new>" in out
    assert f"then send:     {details['subscribe']}" in out
    assert details["subscribe"] == '{"action":"subscribe","channel":"MAIN","scope":"all"}'
    assert "plan:          MEGA: 2 connections x 2 subscriptions each, tokens last 25m" in out
    assert "channels:      MAIN, MAIN_REALTIME, STATS, ODDS, STATS_REALTIME, ODDS_REALTIME" in out
    assert details["ws_url_template"] == f"{details['ws_url']}?token=<token from /v1/ws/new>"
    assert (details["plan"], details["max_connections"], details["ttl_s"]) == ("MEGA", 2, 1500)


def test_plan_basic_prints_no_curl_it_would_refuse(tmp_path: Path) -> None:
    process, details = _start_replay(tmp_path, "--plan", "basic", "--quiet")
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(details["ws_new_url"], timeout=10)
    finally:
        code, out, _ = _stop(process)
    assert refused.value.code == 401
    assert code == 0
    assert "curl" not in out
    assert "refuses /v1/ws/new (401, code 4)" in out
    assert "plan:          BASIC (no WebSocket)" in out
    assert (details["curl"], details["subscribe"], details["allowed_channels"]) == (None, None, [])


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_ready_file_is_removed_on_exit(tmp_path: Path, stop: signal.Signals) -> None:
    process, details = _start_replay(tmp_path, "--quiet")
    assert details["pid"] == process.pid
    process.send_signal(stop)
    process.communicate(timeout=30)
    assert process.returncode == 0
    assert list(tmp_path.iterdir()) == []


def test_the_ready_file_is_removed_when_the_run_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import replay

    ready = tmp_path / "ready.json"

    async def broken_status(*_: object) -> None:
        assert ready.exists()  # written before the failure
        raise RuntimeError("status display broke")

    monkeypatch.setattr(replay, "_show_status", broken_status)
    with pytest.raises(BaseException, match="status display broke"):
        main(["replay", _empty_recording(tmp_path), "--port", "0", "--ready-file", str(ready)])
    assert not ready.exists()


def test_a_ready_file_in_a_missing_folder_is_named_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ready = tmp_path / "nowhere" / "ready.json"
    assert main(["replay", "--port", "0", "--ready-file", str(ready)]) == 2
    err = capsys.readouterr().err
    assert err == (f"harness: error: --ready-file {ready}: folder {ready.parent} does not exist\n")


def test_the_ready_file_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.cli import replay

    target = tmp_path / "ready.json"
    seen: list[tuple[bool, str]] = []
    real_replace = os.replace

    def watching_replace(source: str, destination: Path) -> None:
        seen.append((target.exists(), Path(source).read_text(encoding="utf-8")))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", watching_replace)
    replay._write_ready_file(target, {"base_url": "http://127.0.0.1:1", "pid": 1})
    assert seen == [(False, target.read_text(encoding="utf-8"))]
    assert json.loads(target.read_text(encoding="utf-8"))["pid"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ready.json"]


def test_options_that_make_no_sense_together_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # (--port 0 and --start-at past the end: a regression exits at once, on no fixed port)
    argv = ["replay", "--speed", "max", "--max-gap", "5s", "--port", "0", "--start-at", "999h"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--max-gap has no effect with --speed max" in err
    assert err.count("\n") == 1


def test_help_shows_metavars_defaults_plans_and_the_port_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["replay", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for expected in [
        "--speed N|max",
        "[default: 1]",
        "--ttl D",
        "[default: 25m]",
        "--start-at D",
        "--max-gap D",
        "--plan [BASIC|PRO|ULTRA|MEGA]",
        "[default: MEGA]",
        "env var: HARNESS_PORT",
        "--ready-file F",
    ]:
        assert expected in text


def test_the_port_comes_from_harness_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_PORT", "70000")
    assert main(["replay", _empty_recording(tmp_path), "--start-at", "999h"]) == 2
    err = capsys.readouterr().err
    assert "'--port'" in err
    assert "70000" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay", "--port", "abc"], "'abc' is not a port number"),
        (["replay", "--plan", "gold"], "'gold' is not one of 'BASIC', 'PRO', 'ULTRA', 'MEGA'"),
        (["replay", "--nope"], "No such option '--nope'"),
        (["cat"], "Missing argument 'FILE'"),
        (["info", "a", "b"], "unexpected extra argument"),
    ],
)
def test_click_usage_errors_are_one_line_too(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error: ")
    assert message in err
    assert f"(see 'harness {argv[0]} --help')" in err
    assert err.count("\n") == 1
