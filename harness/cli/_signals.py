"""SIGINT and SIGTERM for the long-running commands: one rule for ``replay`` and ``record``.

The first signal asks for a polite stop, a second one hurries it; both arrive through trio's
signal receiver (:meth:`StopSignals.receiver`).  Outside that receiver the signals are ignored
(:meth:`StopSignals.ignored_outside`, around ``trio.run``): trio redelivers a signal still
pending when its receiver closes, and one may arrive while the process finishes its file or
exits.  With the default handlers either would kill a process that is already stopping (exit
130 or 143, a recording left as ``FILE.partial``).  Once a stop signal was received the
signals stay ignored (``SIG_IGN``, which also holds while the interpreter finalizes) until the
process exits; otherwise the previous handlers are restored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import trio

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """The stop signals of one command run."""

    def __init__(self) -> None:
        self.received = 0
        self._iterator: AsyncIterator[int] | None = None

    @contextmanager
    def ignored_outside(self) -> Iterator[None]:
        """Around ``trio.run``: signals outside the receiver are ignored, not fatal."""
        if threading.current_thread() is not threading.main_thread():
            yield  # handlers can be set in the main thread only
            return
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
        try:
            yield
        finally:
            if not self.received:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    @contextmanager
    def receiver(self) -> Iterator[StopSignals]:
        """Inside trio: receive the stop signals with ``await stop_signals.next()``."""
        with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
            self._iterator = signals
            yield self

    async def next(self) -> int:
        """Wait for the next stop signal; its number."""
        assert self._iterator is not None, "next() outside receiver()"
        signum: int = await self._iterator.__anext__()
        self.received += 1
        return signum
