"""Helpers for proxy tests: a proxy in the background, raw HTTP over a socket."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from harness.core.recording import open_writer
from harness.core.redact import Redactor
from harness.recorder.proxy import ProxyOptions, ProxyRecorder
from harness.recorder.tee import Tee
from tests.spellings import spellings

from .conftest import API_TOKEN, new_header


@asynccontextmanager
async def running_proxy(
    path: Path, api_base: str, *, token: str = API_TOKEN
) -> AsyncIterator[ProxyRecorder]:
    """A proxy on an ephemeral port in front of ``api_base``; stopped when the block ends."""
    redactor = Redactor([token])
    with open_writer(path, redactor.scrub_header(new_header({"mode": "proxy"}))) as writer:
        proxy = ProxyRecorder(
            Tee(writer, redactor), ProxyOptions(api_base=api_base, port=0), api_token=token
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(proxy.run)
            await proxy.listening.wait()
            yield proxy
            proxy.request_stop("test done")


def proxy_address(proxy: ProxyRecorder) -> tuple[str, int]:
    host, port = proxy.base_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


async def raw_exchange(proxy: ProxyRecorder, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection and read until the proxy closes it."""
    stream = await trio.open_tcp_stream(*proxy_address(proxy))
    async with stream:
        await stream.send_all(data)
        received = b""
        while chunk := await stream.receive_some(65536):
            received += chunk
    return received


async def send_and_reset(proxy: ProxyRecorder, data: bytes) -> None:
    """Send ``data``, then reset the connection (RST, not FIN) without reading anything."""
    stream = await trio.open_tcp_stream(*proxy_address(proxy))
    await stream.send_all(data)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


def status_and_body(response: bytes) -> tuple[int, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def assert_no_spelling(data: bytes, token: str) -> None:
    for form in spellings(token):
        assert form.encode() not in data, f"{form!r} reached the client"
    assert Redactor([token]).scrub_bytes(data) is data, "a spelling of the token reached the client"
