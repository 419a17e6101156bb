"""How far reading has got: a hook for progress displays, outside every reader's hot loop.

A caller that wants to show progress wraps its work in :func:`watch_inputs`; while it runs,
every file opened by :func:`harness.core.recording.open_input` (the recording and JSONL
readers) reports its position after each read of at least :data:`REPORT_EVERY_BYTES`, and at its
end.  The reporting rides on the reads the reader makes anyway (256 KiB chunks), so a reader
pays nothing per record, and nothing at all when nobody watches.  The core only reports; the
CLI decides how (and whether, on a terminal) to show it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from types import TracebackType
from typing import BinaryIO

REPORT_EVERY_BYTES = 1 << 20

Watcher = Callable[[str, int, int], None]
"""Called with ``(file name, bytes read so far, file size)``."""

_WATCHER: ContextVar[Watcher | None] = ContextVar("harness_input_watcher", default=None)


@contextlib.contextmanager
def watch_inputs(watcher: Watcher) -> Iterator[None]:
    """Report the reading progress of every input opened inside the block to ``watcher``."""
    token = _WATCHER.set(watcher)
    try:
        yield
    finally:
        _WATCHER.reset(token)


def watched(stream: BinaryIO, name: str) -> BinaryIO:
    """``stream`` itself when nobody watches, else a wrapper that reports its reads."""
    watcher = _WATCHER.get()
    if watcher is None:
        return stream
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return stream
    return _Watched(stream, name, size, watcher)  # type: ignore[return-value]


class _Watched:
    """The file-object methods the readers use, passed through, with ``read``s reported."""

    def __init__(self, stream: BinaryIO, name: str, size: int, watcher: Watcher) -> None:
        self._stream = stream
        self._name = name
        self._size = size
        self._watcher = watcher
        self._reported = 0

    def _report(self, data: bytes) -> bytes:
        position = self._stream.tell()
        if position - self._reported >= REPORT_EVERY_BYTES or (not data and position):
            self._reported = position
            self._watcher(self._name, position, self._size)
        return data

    def read(self, size: int = -1) -> bytes:
        return self._report(self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._report(self._stream.readline(size))

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def seekable(self) -> bool:
        return self._stream.seekable()

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._stream.fileno()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _Watched:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stream.close()
