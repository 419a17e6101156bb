"""Hostile upstreams: every wait bounded, every oddity one recorded note, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from harness.core.records import HttpExchange, Initiator, Note, WsClose, WsOpen
from harness.errors import RecorderError
from harness.recorder.connection import LinkTiming
from harness.recorder.live import STOP_GRACE_S
from harness.server import ServerConfig, open_mock_server

from .conftest import API_TOKEN, fast_options, read_records, run_recorder
from .hostile import (
    accept_and_say_nothing,
    invalid_utf8_then_silence,
    rest_answer,
    serving,
    token_answer,
)


def _notes(path: Path, kind: str) -> list[Note]:
    return [r for r in read_records(path) if isinstance(r, Note) and r.kind == kind]


@pytest.mark.slow
async def test_invalid_utf8_closes_reconnects_and_keeps_the_duration(tmp_path: Path) -> None:
    path = tmp_path / "utf8.msgpack"
    with trio.fail_after(20):
        async with serving(invalid_utf8_then_silence) as ws_port:
            rest = rest_answer(200, token_answer(f"ws://127.0.0.1:{ws_port}/"))
            async with serving(rest) as rest_port:
                options = fast_options(
                    f"http://127.0.0.1:{rest_port}", duration_s=3.0, stop_grace_s=STOP_GRACE_S
                )
                started = trio.current_time()
                await run_recorder(path, options)
                elapsed = trio.current_time() - started
    assert elapsed < 3.0 + 1.0
    records = read_records(path)
    closes = [r for r in records if isinstance(r, WsClose)]
    assert len(closes) >= 2  # closed, reconnected, closed again...
    assert (closes[0].code, closes[0].initiator) == (1007, Initiator.CLIENT)
    assert any("invalid UTF-8" in n.message for n in _notes(path, "error"))
    assert _notes(path, "reconnect")


@pytest.mark.slow
async def test_wss_to_a_silent_tcp_listener_is_cut_by_the_connect_timeout(tmp_path: Path) -> None:
    path = tmp_path / "silent.msgpack"
    timing = LinkTiming(connect_timeout_s=0.5, close_timeout_s=0.5)
    with trio.fail_after(20):
        async with serving(accept_and_say_nothing) as tcp_port:
            rest = rest_answer(200, token_answer(f"wss://127.0.0.1:{tcp_port}/"))
            async with serving(rest) as rest_port:
                options = fast_options(
                    f"http://127.0.0.1:{rest_port}",
                    duration_s=2.0,
                    stop_grace_s=STOP_GRACE_S,
                    timing=timing,
                )
                started = trio.current_time()
                await run_recorder(path, options)
                elapsed = trio.current_time() - started
    assert elapsed < 2.0 + 1.0
    opens = [r for r in read_records(path) if isinstance(r, WsOpen)]
    assert len(opens) >= 2
    assert all(r.status == 0 for r in opens)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64"),
        (b" " * (3 << 20), "answer over 1048576 bytes"),
    ],
)
async def test_absurd_token_answers_are_one_clear_error(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = tmp_path / "absurd.msgpack"
    with trio.fail_after(20):
        async with serving(rest_answer(200, body)) as port:
            with pytest.raises(RecorderError, match=message):
                await run_recorder(path, fast_options(f"http://127.0.0.1:{port}"))
    exchange = next(r for r in read_records(path) if isinstance(r, HttpExchange))
    assert exchange.body == b""
    assert message in (exchange.error or "")


async def test_rapidapi_mode_calls_ws_new_without_v1(tmp_path: Path) -> None:
    path = tmp_path / "rapid.msgpack"
    with trio.fail_after(20):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            options = fast_options(server.base_url + "/v1/", rapidapi=True, duration_s=0.5)
            await run_recorder(path, options)
    urls = [r.url for r in read_records(path) if isinstance(r, HttpExchange)]
    assert urls
    assert urls[0].startswith(server.base_url + "/ws/new/")


async def test_a_base_with_v1_works_and_a_404_says_endpoint_not_found(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server:
            await run_recorder(
                tmp_path / "v1.msgpack", fast_options(server.base_url + "/v1/", duration_s=0.5)
            )
            with pytest.raises(RecorderError, match=r"no token endpoint at .*/nothing/v1/ws/new/"):
                await run_recorder(
                    tmp_path / "404.msgpack", fast_options(server.base_url + "/nothing")
                )
    urls = [r.url for r in read_records(tmp_path / "v1.msgpack") if isinstance(r, HttpExchange)]
    assert urls[0].startswith(server.base_url + "/v1/ws/new/?")
