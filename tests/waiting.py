"""The suite's one way to wait for state that has no event to wait on: bounded polling."""

from __future__ import annotations

from collections.abc import Callable

import trio

POLL_S = 0.005


async def wait_until(condition: Callable[[], object], *, timeout: float = 10.0) -> None:
    """Poll ``condition`` (cheap, in-process state) until truthy; fail after ``timeout``.

    Bounded in time and in count, so a wrong condition fails the test instead of hanging it.
    """
    with trio.fail_after(timeout):
        for _ in range(int(timeout / POLL_S) + 1):
            if condition():
                return
            await trio.sleep(POLL_S)
    raise AssertionError("condition never became true")
