"""``harness record`` never destroys a recording and never reports success on failure."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from harness.cli import main
from harness.core.recording import read_recording
from harness.core.records import WsMessage
from harness.core.safe_output import partial_path
from harness.server import ServerConfig, open_mock_server
from tests.waiting import wait_until

from .conftest import API_TOKEN, goal
from .hostile import rest_answer, serving, token_answer

TOKEN_ENV = "SOCCERFOOTBALL_API_TOKEN"
PRECIOUS = b"a recording worth keeping"
REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, "RAPIDAPI_KEY")}
    env[TOKEN_ENV] = API_TOKEN
    return env


def _existing(tmp_path: Path) -> Path:
    path = tmp_path / "keep.msgpack"
    path.write_bytes(PRECIOUS)
    return path


def _untouched(path: Path) -> None:
    assert path.read_bytes() == PRECIOUS
    assert not partial_path(path).exists()


async def _record(
    *args: str, timeout: float = 30, preexec_fn: Callable[[], object] | None = None
) -> tuple[int, str]:
    """Run ``harness record`` in a subprocess; its exit code and stderr."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harness", "record", "--quiet", *args],
            env=_env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=preexec_fn,
        )

    done = await trio.to_thread.run_sync(run)
    return done.returncode, done.stderr


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_an_existing_output_is_refused_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    path = _existing(tmp_path)
    assert main(["record", "-o", str(path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(path) in line
    assert "--force" in line
    _untouched(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api-base", "notaurl"], "not an http:// or https:// URL"),
        (["--duration", "0"], "--duration '0' must be longer than 0"),
        (["--proxy", "--port", "70000"], "'70000' is not a port number (0 to 65535"),
        (["--port", "9999"], "--port applies only to --proxy"),
        (["--host", "0.0.0.0"], "--host applies only to --proxy"),
    ],
)
def test_bad_options_are_one_line_exit_2_and_touch_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    path = _existing(tmp_path)
    assert main(["record", "-o", str(path), "--force", *args]) == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]  # click: usage + line
    _untouched(path)


def test_an_unreachable_api_base_fails_at_once_and_keeps_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    path = _existing(tmp_path)
    with socket.socket() as free:  # a port where nothing listens
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    argv = [
        "record",
        "-o",
        str(path),
        "--force",
        "--quiet",
        "--api-base",
        f"http://127.0.0.1:{port}",
    ]
    assert main([*argv, "--duration", "20s"]) == 1
    assert f"cannot reach http://127.0.0.1:{port}/v1/ws/new/" in _one_line(capsys.readouterr().err)
    _untouched(path)


def test_a_busy_proxy_port_is_one_line_and_keeps_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOKEN_ENV, API_TOKEN)
    path = _existing(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["record", "-o", str(path), "--force", "--proxy", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in _one_line(capsys.readouterr().err)
    _untouched(path)


async def test_plan_limits_and_refused_tokens_keep_the_file_and_hide_the_token(
    tmp_path: Path,
) -> None:
    path = _existing(tmp_path)
    specs = ["MAIN:all", "STATS:all", "ODDS:all", "MAIN_REALTIME:all", "ODDS_REALTIME:all"]
    too_many = [a for spec in specs for a in ("--subscribe", spec)]
    echo = json.dumps(
        {"status": 401, "errors": [{"code": 2, "message": f"Token {API_TOKEN} is invalid"}]}
    ).encode()
    with trio.fail_after(60):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            rc, err = await _record(
                "-o", str(path), "--force", "--api-base", server.base_url, *too_many
            )
        assert rc == 2
        assert "5 subscriptions do not fit" in _one_line(err)
        _untouched(path)
        async with serving(rest_answer(401, echo)) as port:
            rc, err = await _record(
                "-o", str(path), "--force", "--api-base", f"http://127.0.0.1:{port}"
            )
    assert rc == 1
    line = _one_line(err)
    assert "the service refused the API token" in line
    assert API_TOKEN not in err
    assert "<API_TOKEN>" in line
    _untouched(path)


_PEAK_MEMORY = (
    "import sys\n"
    "from harness.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    "sys.exit(rc)\n"
)


async def test_a_huge_token_answer_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = _existing(tmp_path)

    def run(port: int) -> subprocess.CompletedProcess[str]:
        base = f"http://127.0.0.1:{port}"
        argv = ["record", "--quiet", "-o", str(path), "--force", "--api-base", base]
        return subprocess.run(
            [sys.executable, "-c", _PEAK_MEMORY, *argv],
            env=_env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    with trio.fail_after(60):
        async with serving(rest_answer(200, b" " * (64 << 20))) as port:
            done = await trio.to_thread.run_sync(run, port)
    assert done.returncode == 1
    assert "answer over 1048576 bytes" in _one_line(done.stderr)
    peak_kib = int(done.stdout.split()[1])  # "VmHWM:  12345 kB": this process since exec
    assert peak_kib < 120 * 1024  # far below the 64 MiB answer on top of Python
    _untouched(path)


@pytest.mark.slow
async def test_no_event_because_of_errors_exits_1_and_keeps_what_was_recorded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "errors.msgpack"
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        dead = free.getsockname()[1]
    with trio.fail_after(60):
        async with serving(rest_answer(200, token_answer(f"ws://127.0.0.1:{dead}/"))) as port:
            rc, err = await _record(
                "-o", str(path), "--api-base", f"http://127.0.0.1:{port}", "--duration", "2s"
            )
    assert rc == 1
    assert "recorded no event" in _one_line(err)
    _, records, _ = read_recording(path)
    assert records


def _limit() -> None:
    """In the child: a 64 KiB file size limit, SIGXFSZ ignored (writes fail with EFBIG)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


async def test_a_file_size_limit_is_one_line_and_keeps_the_records_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "limited.msgpack"
    result: list[tuple[int, str]] = []

    async def record(base: str) -> None:
        result.append(await _record("-o", str(path), "--api-base", base, preexec_fn=_limit))

    with trio.fail_after(60):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(record, server.base_url)
            await wait_until(lambda: server.stats.subscriptions >= 1, timeout=30)
            minute = 0
            while not result:  # until the recorder gives up on its full file
                server.push(goal("big" * 200, minute))
                minute += 1
                await trio.sleep(0.002)
    rc, err = result[0]
    assert rc == 1
    line = _one_line(err)
    assert "cannot write" in line
    assert "File too large" in line
    _, records, _ = read_recording(path)
    assert any(isinstance(r, WsMessage) for r in records)
    assert not partial_path(path).exists()


def test_help_shows_defaults_in_one_duration_style(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--duration D" in text
    assert "https://api.soccerfootball.info" in text
    assert "[default: 8765; 0<=x<=65535]" in text
    assert "--force" in text
    assert "PRO, ULTRA, MEGA" in text
