"""One trio loop in a daemon thread that runs every thread-mode server of a pytest process.

Starting a test's server is then one call into that loop (``nursery.start`` of the server),
not a new thread and a new trio run: cheap enough for one server per test.  Calls from the
test's thread go through :func:`trio.from_thread.run` with the loop's token, so they cannot be
made from inside a trio run (use the trio-native fixture there).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio

from harness.core.feed_stream import FeedSource
from harness.errors import HarnessError
from harness.server.config import ServerConfig
from harness.server.mock import MockServer, open_mock_server

T = TypeVar("T")
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class ServerThreadError(HarnessError):
    """The server thread is gone, did not answer in time, or was called from inside a trio run."""


IN_TRIO_RUN = (
    "soccer_server's calls block until the server thread answers, so they cannot be made inside"
    " a trio run: use the trio_soccer_server fixture in trio code, or wrap the call in"
    " trio.to_thread.run_sync"
)


@dataclass(slots=True)
class RunningServer:
    """One server started in the thread: cancel ``scope`` to stop it; ``done`` when stopped."""

    scope: trio.CancelScope
    done: trio.Event
    server: MockServer | None = None
    error: BaseException | None = field(default=None)


class ServerThread:
    """The daemon thread and its trio loop (see the module doc)."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="soccer-ws-harness", daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self._token is None:
            raise ServerThreadError("the soccer-ws-harness server thread did not start")
        return self

    def _main(self) -> None:
        trio.run(self._host)

    async def _host(self) -> None:
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def run(self, afn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``afn(*args)`` in the loop and wait for its result."""
        _refuse_inside_trio()
        return trio.from_thread.run(afn, *args, trio_token=self._token)

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        _refuse_inside_trio()
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def invoke(self, target: object, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``target.name(*args, **kwargs)`` in the loop, awaiting it if it is async."""
        return self.run(_invoke, target, name, args, kwargs)

    def start_server(self, feed: FeedSource, config: ServerConfig) -> RunningServer:
        """Start a mock in the loop; its start errors (a bad option, a port) raise here."""
        return self.run(self._start_server, feed, config)

    async def _start_server(self, feed: FeedSource, config: ServerConfig) -> RunningServer:
        assert self._nursery is not None
        running: RunningServer = await self._nursery.start(_serve_one, feed, config)
        return running

    def start_task(self, afn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``nursery.start(afn, *args)`` in the loop: what ``afn`` hands ``task_status``."""
        return self.run(self._start_task, afn, args)

    async def _start_task(self, afn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> Any:
        assert self._nursery is not None
        return await self._nursery.start(afn, *args)

    def stop_server(self, running: RunningServer) -> None:
        """Stop a mock (its clients get the 1001 close) and raise what it died of, if anything."""
        if self.alive:
            self.run(_stop_one, running)
        if running.error is not None:
            raise running.error

    def close(self) -> None:
        if self.alive and self._stop is not None:
            self.run_sync(self._stop.set)
            self._thread.join(STOP_TIMEOUT_S)


def _refuse_inside_trio() -> None:
    """A blocking call from a trio task would deadlock (trio refuses it with a bare
    RuntimeError): say what to do instead."""
    if trio.lowlevel.in_trio_run():
        raise ServerThreadError(IN_TRIO_RUN)


async def _invoke(target: object, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = getattr(target, name)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _serve_one(
    feed: FeedSource,
    config: ServerConfig,
    *,
    task_status: trio.TaskStatus[RunningServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; an error after the start is kept for :meth:`stop_server`, so one
    test's broken server never takes the thread (and every later test) down."""
    running = RunningServer(trio.CancelScope(), trio.Event())
    try:
        with running.scope:
            async with open_mock_server(feed, config) as server:
                running.server = server
                task_status.started(running)
                await trio.sleep_forever()
    except Exception as exc:
        if running.server is None:
            raise
        running.error = exc
    finally:
        running.done.set()


async def _stop_one(running: RunningServer) -> None:
    running.scope.cancel()
    with trio.fail_after(STOP_TIMEOUT_S):
        await running.done.wait()
