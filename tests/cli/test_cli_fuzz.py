"""``harness fuzz``: the same seed serves the same bytes, ``--save`` replays, one-line errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from harness.cli import main
from harness.core.fuzz import FuzzOptions, fuzz_frames
from harness.core.protocol import Channel
from tests.cli.test_cli_replay import _stop

READY_TIMEOUT_S = 60.0
POLL_S = 0.05
STREAM = ["--channel", "MAIN", "--rate", "400", "--duration", "2s"]


def _start(tmp_path: Path, command: str, *options: str) -> tuple[subprocess.Popen[str], Any]:
    ready = tmp_path / f"ready-{time.monotonic_ns()}.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", command, "--port", "0", "--ready-file", str(ready),
         "--control", "--quiet", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.exists():  # bounded wait for a condition, not a fixed sleep
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"{command} did not become ready:\n{out}\n{err}")
        time.sleep(POLL_S)
    return process, json.loads(ready.read_text(encoding="utf-8"))


def _receive_all(details: dict[str, Any]) -> list[bytes]:
    """Subscribe MAIN:all and read every frame of the feed (the control API says how many)."""
    total = httpx.get(f"{details['control_url']}stats", timeout=10).json()["total_frames"]
    token = httpx.get(details["ws_new_url"], timeout=10).json()["result"][0]
    got: list[bytes] = []
    with connect(token["server"], max_size=None) as ws:
        ws.send(json.dumps({"action": "subscribe", "channel": "MAIN", "scope": "all"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        while len(got) < total:
            message = ws.recv(timeout=10)
            got.append(message.encode() if isinstance(message, str) else message)
    return got


def _fuzz(tmp_path: Path, *options: str) -> tuple[list[bytes], str, str]:
    process, details = _start(tmp_path, "fuzz", *options)
    try:
        got = _receive_all(details)
    finally:
        code, out, err = _stop(process)
    assert code == 0, err
    return got, out, err


@pytest.mark.slow
def test_the_same_seed_serves_the_same_bytes_and_the_save_replays(tmp_path: Path) -> None:
    # Given two runs with one seed and a third with another
    saved = tmp_path / "served.msgpack"
    first, out, err = _fuzz(tmp_path, "--seed", "5", *STREAM, "--save", str(saved))
    again, _, _ = _fuzz(tmp_path, "--seed", "5", *STREAM)
    other, _, _ = _fuzz(tmp_path, "--seed", "6", *STREAM)
    # Then the same seed gave the same frames byte for byte, the generator's own, in order
    expected = fuzz_frames(FuzzOptions(5, rate=400, channels=(Channel.MAIN,)), 2 * 10**9)
    assert first == again == [payload for _, payload in expected]
    assert other != first
    assert "harness fuzz: seed 5, profile valid, 400 frames/s of MAIN" in out
    assert "same stream:   harness fuzz --seed 5 --profile valid --rate 400" in out
    assert f"saved {len(first)} frames to {saved}" in err
    # When the saved recording is replayed, Then it is a clean recording of the same frames
    # (each exact duplicate once, as replay serves every recording)
    assert main(["verify", str(saved)]) == 0
    process, details = _start(tmp_path, "replay", str(saved), "--speed", "max")
    try:
        replayed = _receive_all(details)
    finally:
        _stop(process)
    assert replayed == list(dict.fromkeys(first))
    assert len(replayed) < len(first)  # the stream did send some frame twice


def test_without_a_seed_a_random_one_is_printed(tmp_path: Path) -> None:
    process, _ = _start(tmp_path, "fuzz", "--duration", "1s")
    code, out, _ = _stop(process)
    assert code == 0
    seed = int(out.split("seed ", 1)[1].split(",", 1)[0])
    assert f"harness fuzz --seed {seed} " in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--profile", "nasty"], "--profile: unknown profile 'nasty': use valid or hostile or"),
        (["--profile", "nope"], "--profile: unknown profile 'nope'"),
        (["--rate", "0"], "--rate: rate must be > 0"),
        (["--rate", "-3"], "--rate: rate must be > 0"),
        (["--rate", "fast"], "'fast' is not a valid float"),
        (["--duration", "0"], "--duration must be > 0"),
        (["--duration", "soon"], "--duration: "),
        (["--rate", "1000", "--duration", "1h"], "at most 100,000 are held"),
        (["--channel", "GOALS"], "--channel: unknown channel 'GOALS'"),
    ],
)
def test_bad_options_are_one_line_errors(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["fuzz", "--port", "0", *options])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_an_existing_save_file_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "mine.msgpack"
    existing.write_bytes(b"precious")
    assert main(["fuzz", "--port", "0", "--save", str(existing)]) == 2
    assert "exists: refusing to overwrite it (use --force" in capsys.readouterr().err
    assert existing.read_bytes() == b"precious"


def test_a_busy_port_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["fuzz", "--port", str(port), "--duration", "1s"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert err.count("\n") == 1
