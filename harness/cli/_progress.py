"""A one-line progress display for the toolbox commands, on a terminal only.

While a command reads its inputs (:func:`harness.core.progress.watch_inputs`), stderr shows
``harness verify: big.msgpack 42% (120.0 of 286.3 MB)``, rewritten in place with ``\\r`` at most
ten times a second, and erased when a file is read through and when the command ends.  When
stderr is not a terminal (a pipe, a file, a test) nothing is shown at all, so output stays
clean for scripts.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from harness.core.progress import watch_inputs

F = TypeVar("F", bound=Callable[..., Any])

MIN_INTERVAL_S = 0.1
MIN_SIZE_BYTES = 4 << 20
"""Files smaller than this take well under a second: no display."""


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


class _Line:
    def __init__(self, command: str) -> None:
        self.command = command
        self.last = 0.0
        self.width = 0

    def show(self, name: str, done: int, size: int) -> None:
        now = time.monotonic()
        if size < MIN_SIZE_BYTES or (now - self.last < MIN_INTERVAL_S and done < size):
            return
        self.last = now
        percent = 100 * done // max(size, 1)
        text = (
            f"harness {self.command}: {name} {percent}% ({done / 1e6:,.1f} of {size / 1e6:,.1f} MB)"
        )
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()
        self.width = max(self.width, len(text))
        if done >= size:  # this file is read: a clean line for what the command prints next
            self.clear()

    def clear(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0


def with_progress(command: str) -> Callable[[F], F]:
    """Show the reading progress of ``command`` on stderr when it is a terminal."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            if not stderr_is_terminal():
                return function(*args, **kwargs)
            line = _Line(command)
            try:
                with watch_inputs(line.show):
                    return function(*args, **kwargs)
            finally:
                line.clear()

        return run  # type: ignore[return-value]

    return decorate
