"""Stopping the mock cleanly: every client gets a close frame, within a bounded time.

The policy (issue 7; the code and reason are the profile's ``shutdown_close_code`` /
``shutdown_close_reason``, 1001 "server shutting down"):

1. stop accepting: the listeners close, so new TCP connections are refused, and a WebSocket
   upgrade still arriving on an open HTTP connection is closed with the same 1001 at once;
2. queue the Close frame on every open connection, after the frames already queued for it.
   Nothing follows a Close (RFC 6455 5.5.1: "The application MUST NOT send any more data frames
   after sending a Close frame"): :meth:`ClientConnection.enqueue` refuses data once closing;
3. wait up to the grace (``ServerConfig.shutdown_grace_s``, 1 s by default) for the closing
   handshakes to finish, or less when ``hurry`` is set (a second Ctrl-C);
4. cut (TCP reset, as :meth:`ClientConnection.abort`) every connection still open.

:func:`~harness.server.mock.serve_mock` runs this shielded when it is cancelled, so a library
user who cancels the server gets the clean closes as well as the CLI does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import trio

from harness.core.profile import BehaviourProfile
from harness.server.client import ClientConnection

CUT_WAIT_S = 1.0
"""After cutting, how long to wait for the cut connections to end (they end at their next
checkpoint; the bound only keeps a shielded shutdown from ever hanging)."""


@dataclass(frozen=True, slots=True)
class ShutdownReport:
    """What a shutdown did: connections that ended within the grace (``closed``: almost always
    by the closing handshake) and connections dropped after it (``cut``)."""

    closed: int
    cut: int


class ShutdownHost(Protocol):
    """What a shutdown needs from the server."""

    profile: BehaviourProfile
    accept_scope: trio.CancelScope
    shutting_down: bool

    def connections(self, token: str | None = None) -> list[ClientConnection]: ...


async def shut_down(
    server: ShutdownHost, grace_s: float, *, hurry: trio.Event | None = None
) -> ShutdownReport:
    """Stop accepting, close every open connection with 1001, wait up to ``grace_s`` (or until
    ``hurry`` is set), then cut the rest.  Safe to call again: a later call finds nothing open."""
    server.shutting_down = True
    server.accept_scope.cancel()
    targets = server.connections()
    close_for_shutdown(server.profile, targets)
    with trio.move_on_after(grace_s):
        await _all_done(targets, hurry)
    left = [conn for conn in targets if not conn.done.is_set()]
    for conn in left:
        conn.abort()
    with trio.move_on_after(CUT_WAIT_S):
        await _all_done(left, None)
    return ShutdownReport(closed=len(targets) - len(left), cut=len(left))


def close_for_shutdown(profile: BehaviourProfile, conns: Sequence[ClientConnection]) -> None:
    """Queue the profile's shutdown close on each connection (no-op on those already closing);
    the shutdown, not the connection's own close timeout, decides when to cut them."""
    for conn in conns:
        conn.close(profile.shutdown_close_code, profile.shutdown_close_reason, timeout_s=math.inf)


async def _all_done(conns: Sequence[ClientConnection], hurry: trio.Event | None) -> None:
    """Return when every connection has ended, or as soon as ``hurry`` is set."""
    async with trio.open_nursery() as nursery:

        async def wait_all() -> None:
            for conn in conns:
                await conn.done.wait()
            nursery.cancel_scope.cancel()

        nursery.start_soon(wait_all)
        if hurry is not None:
            await hurry.wait()
            nursery.cancel_scope.cancel()
