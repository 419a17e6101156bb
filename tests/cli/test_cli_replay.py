"""``harness replay``: startup details, ready file, TLS, clean stop, one-line errors."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
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
    assert err.count("\n") == 1
