"""``harness record`` and ``harness redact`` as users run them, including signals and kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from harness.cli import main
from harness.core.recording import open_writer, read_recording
from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Summary,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.core.safe_output import partial_path
from harness.errors import RecordingFormatError
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.waiting import wait_until

from .conftest import API_TOKEN, goal

TOKEN_ENV = "SOCCERFOOTBALL_API_TOKEN"


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, "RAPIDAPI_KEY")}
    env.update(extra)
    return env


def test_missing_token_is_one_clear_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv("RAPIDAPI_KEY", raising=False)
    out = tmp_path / "x.msgpack"
    assert main(["record", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"harness: error: no API token: set {TOKEN_ENV} in the environment "
        "(never on the command line)"
    ]
    assert not out.exists()
    assert main(["record", "-o", str(out), "--rapidapi"]) == 2
    assert "RAPIDAPI_KEY" in capsys.readouterr().err


def test_bad_subscription_spec_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    assert main(["record", "-o", str(tmp_path / "x"), "--subscribe", "NOPE:all"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_redact_scrubs_an_existing_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a recording written without redaction, holding the API token and a WS token
    raw, clean = tmp_path / "raw.msgpack", tmp_path / "clean.msgpack"
    body = (
        b'{"status":200,"errors":[],"pagination":[],"result":[{"token":"ws-secret-77",'
        b'"server":"wss://h/?token=ws-secret-77"}]}'
    )
    header = Header(
        "2024-01-01T00:00:00+00:00", "old", "0", {"api_base": "http://h"}, redacted=False
    )
    with open_writer(raw, header) as writer:
        writer.add(WsOpen(0, 1, "wss://h/?token=ws-secret-77", 101))  # before the token answer
        writer.add(HttpExchange(1, "GET", f"http://h/v1/ws/new/?t={API_TOKEN}", 200, body))
        writer.add(WsMessage(2, 1, Direction.SERVER_TO_CLIENT, API_TOKEN.encode()))
    monkeypatch.setenv("MY_SECRET", API_TOKEN)
    # When it is redacted
    assert main(["redact", str(raw), "-o", str(clean), "--secret-env", "MY_SECRET"]) == 0
    # Then no secret is left, placeholders are stable, and the header says so
    data = clean.read_bytes()
    assert API_TOKEN.encode() not in data
    assert b"ws-secret-77" not in data
    header_out, records, damage = read_recording(clean)
    assert damage is None
    assert header_out.redacted
    assert isinstance(records[0], WsOpen)
    assert records[0].url == "wss://h/?token=<WS_TOKEN_1>"
    assert "2 distinct secrets" in capsys.readouterr().err
    assert main(["redact", str(raw), "-o", str(clean), "--secret-env", "UNSET_VAR_X"]) == 2


async def _start_recorder(base_url: str, out: Path, *args: str) -> trio.Process:
    return await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "harness",
            "record",
            "-o",
            str(out),
            "--api-base",
            base_url,
            "--quiet",
            *args,
        ],
        env=cli_env(**{TOKEN_ENV: API_TOKEN}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def goals_in(path: Path) -> int:
    """Goal frames readable in a file that may still be being written."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    try:
        _, records, _ = read_recording(path)
    except RecordingFormatError:  # the header is not complete yet
        return 0
    return len([r for r in records if isinstance(r, WsMessage) and b'"goal"' in r.payload])


async def _stream_until_recorded(server: MockServer, out: Path, frames: int) -> None:
    """Push goal frames until the recorder's file holds all of them."""
    await wait_until(lambda: server.stats.subscriptions >= 1, timeout=20)
    for minute in range(frames):
        server.push(goal("sub", minute))
    await wait_until(lambda: goals_in(partial_path(out)) >= frames, timeout=20)


async def test_sigint_finishes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "sigint.msgpack"
    with trio.fail_after(40):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            process = await _start_recorder(server.base_url, out)
            try:
                await _stream_until_recorded(server, out, 30)
                process.send_signal(signal.SIGINT)
                assert await process.wait() == 0
            finally:
                process.kill()
    assert not partial_path(out).exists()
    _, records, damage = read_recording(out)
    assert damage is None
    assert isinstance(records[-1], Summary)
    close = next(r for r in records if isinstance(r, WsClose))
    assert (close.reason, close.initiator) == ("recording finished", Initiator.CLIENT)
    assert API_TOKEN.encode() not in out.read_bytes()


async def test_sigkill_leaves_a_readable_file(tmp_path: Path) -> None:
    out = tmp_path / "sigkill.msgpack"
    with trio.fail_after(40):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            process = await _start_recorder(server.base_url, out)
            try:
                await _stream_until_recorded(server, out, 30)
            finally:
                process.kill()
                await process.wait()
    assert not out.exists()  # a killed recorder's data is in FILE.partial
    header, records, _ = read_recording(partial_path(out))
    assert header.redacted
    goals = [r for r in records if isinstance(r, WsMessage) and b'"goal"' in r.payload]
    assert len(goals) == 30  # everything written before the kill is there
    assert not any(isinstance(r, Summary) for r in records)


async def test_too_many_subscriptions_exit_2_and_leave_no_file(tmp_path: Path) -> None:
    out = tmp_path / "none.msgpack"
    specs = ["MAIN:all", "STATS:all", "ODDS:all", "MAIN_REALTIME:all", "ODDS_REALTIME:all"]
    args = [a for spec in specs for a in ("--subscribe", spec)]
    with trio.fail_after(40):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            process = await _start_recorder(server.base_url, out, *args)
            assert process.stderr is not None
            errors = b""
            async with process.stderr:
                async for chunk in process.stderr:
                    errors += chunk
            assert await process.wait() == 2
    lines = errors.decode().strip().splitlines()
    assert len(lines) == 1
    assert "5 subscriptions do not fit" in lines[0]
    assert not out.exists()
