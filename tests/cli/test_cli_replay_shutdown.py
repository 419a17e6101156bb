"""Issue 7: ``harness replay`` stopped by a signal closes its clients with 1001, then exits 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from harness.cli import main

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")

READY_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 30.0
POLL_S = 0.05


def _start(tmp_path: Path, *options: str) -> tuple[subprocess.Popen[str], Path, dict[str, Any]]:
    ready = tmp_path / "ready.json"
    command = [sys.executable, "-m", "harness", "replay", "--port", "0", "--quiet"]
    process = subprocess.Popen(
        [*command, "--ready-file", str(ready), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.exists():  # bounded wait for a condition, not a fixed sleep
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"replay did not become ready:\n{process.communicate()[1]}")
        time.sleep(POLL_S)
    return process, ready, json.loads(ready.read_text(encoding="utf-8"))


def _ws_url(details: dict[str, Any]) -> str:
    with urllib.request.urlopen(details["ws_new_url"], timeout=10) as response:
        return str(json.load(response)["result"][0]["server"])


def _close_code(ws: ClientConnection) -> tuple[int, str] | None:
    """The close the server sent (None: the connection ended without a close frame)."""
    with pytest.raises(ConnectionClosed) as closed:
        _read_all(ws)
    frame = closed.value.rcvd
    return None if frame is None else (frame.code, frame.reason)


def _read_all(ws: ClientConnection) -> None:
    for _ in range(100_000):  # bounded: a replay sends far fewer frames before the close
        ws.recv(timeout=EXIT_TIMEOUT_S)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_closes_the_client_with_1001_and_exits_0(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # Given a replay with one connected, subscribed client
    process, ready, details = _start(tmp_path)
    try:
        with connect(_ws_url(details), open_timeout=10) as ws:
            ws.send(details["subscribe"])
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            # When the process gets the signal
            process.send_signal(stop)
            # Then the client sees a clean going-away close, not a 1006
            assert _close_code(ws) == (1001, "server shutting down")
    finally:
        _, err = process.communicate(timeout=EXIT_TIMEOUT_S)
    # And the process says what it did, exits 0 and removes its ready file
    assert process.returncode == 0, err
    assert f"stopping ({stop.name}): closing 1 connection\n" in err
    assert "stopped (1 closed, 0 cut)" in err
    assert "Traceback" not in err
    assert not ready.exists()


def _silent_client(details: dict[str, Any]) -> socket.socket:
    """A client that completes the handshake, then never reads or answers anything."""
    ws = WSConnection(ConnectionType.CLIENT)
    token = _ws_url(details).split("token=", 1)[1]
    sock = socket.create_connection(("127.0.0.1", details["port"]), timeout=10)
    sock.sendall(ws.send(Request(host="127.0.0.1", target=f"/?token={token}")))
    for _ in range(100):  # bounded: the 101 comes in one or two reads (10 s timeout each)
        ws.receive_data(sock.recv(65536))
        if any(isinstance(event, AcceptConnection) for event in ws.events()):
            return sock
    raise AssertionError("no 101 response")


def test_a_second_signal_cuts_the_grace_short(tmp_path: Path) -> None:
    # Given a replay with a long grace and a client that will never answer the close
    process, _, details = _start(tmp_path, "--shutdown-grace", "10m")
    sock = _silent_client(details)
    try:
        # When it is stopped, and stopped again while it waits
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        for _ in range(20):  # bounded: the line comes within a few lines of stderr
            if "stopping (SIGTERM): closing 1 connection" in process.stderr.readline():
                break
        process.send_signal(signal.SIGINT)
        # Then it exits at once (well before the 10 minutes), having cut the client
        _, err = process.communicate(timeout=EXIT_TIMEOUT_S)
    finally:
        sock.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped (0 closed, 1 cut)" in err


def test_a_bad_grace_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--port", "0", "--shutdown-grace", "soon"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error: --shutdown-grace: invalid duration 'soon'")
    assert err.count("\n") == 1


def test_help_shows_the_grace_and_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--shutdown-grace D" in text
    assert "[default: 1s]" in text
