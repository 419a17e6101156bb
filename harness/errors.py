"""The one exception hierarchy of the harness, rooted in :class:`HarnessError`.

Errors are split by blame, as wsproto does: the caller misused the API (:class:`UsageError`),
a file is not what it claims (:class:`RecordingFormatError`), the client under test broke the
protocol (:class:`ProtocolViolation`, carrying the reply the server sends back), or the live
service refused (:class:`RecorderError`).  Every message is one line, fit to print as-is by the
CLI.
"""

from __future__ import annotations

from typing import Any


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class UsageError(HarnessError):
    """The caller asked for something impossible: bad option, bad value, wrong state."""


class RecordingFormatError(HarnessError):
    """A file is not a readable recording: wrong magic, unknown major version, corrupt header.

    ``offset`` is the byte offset where the problem was found, when known.
    """

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None):
        self.path = path
        self.offset = offset
        where = f"{path}: " if path else ""
        at = f" (at byte {offset})" if offset is not None else ""
        super().__init__(f"{where}{message}{at}")


class JsonlFormatError(HarnessError):
    """A file is not the JSONL form of a recording (``harness import``); ``line`` when known."""

    def __init__(self, message: str, *, path: str, line: int | None = None):
        self.path = path
        self.line = line
        where = f"{path} line {line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class ProtocolViolation(HarnessError):
    """The peer sent something the protocol forbids.

    ``code`` is the protocol's error code (e.g. ``INVALID_SCOPE``) and ``reply`` the JSON object
    the server answers with, so the I/O layer only has to send it.
    """

    def __init__(self, code: str, message: str, *, reply: dict[str, Any]):
        self.code = code
        self.message = message
        self.reply = reply
        super().__init__(f"{code}: {message}")


class RecorderError(HarnessError):
    """The live service refused in a way the recorder cannot work around."""


class WaitTimeout(HarnessError):
    """A wait on the mock (``wait_delivered``, ``wait_for_subscription``) ran out of time.

    ``what`` names what was waited for, ``timeout_s`` how long."""

    def __init__(self, what: str, timeout_s: float):
        self.what = what
        self.timeout_s = timeout_s
        super().__init__(f"timed out after {timeout_s:g}s waiting for {what}")
