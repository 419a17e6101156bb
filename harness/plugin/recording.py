"""Record modes: a test's client talks to the live service through the recording proxy.

``once`` (the recording is missing) and ``all`` (always) start a
:class:`~harness.recorder.proxy.ProxyRecorder` in the plugin's server thread in front of the
upstream (``--soccer-upstream``, else the live service; RapidAPI when only ``$RAPIDAPI_KEY`` is
set).  The test gets a :class:`RecordingSoccerServer`: the same ``api_base``/``api_token``/
``ws_url`` as a mock, but the client holds only a local token, never the real one.  At teardown
the proxy stops and the recording is written through the proxy's own output rules (redacted,
``FILE.partial`` renamed into place; ``all`` replaces the file on purpose, ``once`` never does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

from harness._version import __version__
from harness.core.records import Header
from harness.core.safe_output import check_output
from harness.errors import HarnessError, UsageError
from harness.plugin.fixture import SoccerServer
from harness.plugin.options import DEFAULT_API_TOKEN, Settings
from harness.plugin.threaded import STOP_TIMEOUT_S, ServerThread
from harness.recorder.credentials import upstream_credentials
from harness.recorder.output import RecordingOutput, redacting_output
from harness.recorder.proxy import ProxyOptions, ProxyRecorder
from harness.recorder.rest_client import default_api_base, normalise_api_base
from harness.recorder.tee import Tee
from harness.server.config import ServerStats
from harness.server.journal import JournalEntry

HEADER_TOOL = "harness record"
RECORD_STOP_TIMEOUT_S = STOP_TIMEOUT_S + 15.0
"""The proxy gives open relays 10 s to close politely when it stops."""


@dataclass(slots=True)
class RunningRecorder:
    """The proxy running in the server thread; ``done`` once its run returned."""

    recorder: ProxyRecorder
    done: trio.Event = field(default_factory=trio.Event)
    error: BaseException | None = None


async def _run_recorder(
    recorder: ProxyRecorder,
    *,
    task_status: trio.TaskStatus[RunningRecorder] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the proxy until stopped; errors after it listens are kept for teardown."""
    running = RunningRecorder(recorder)
    started = False
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(recorder.run)
            await recorder.listening.wait()
            task_status.started(running)
            started = True
    except Exception as exc:
        if not started:
            raise
        running.error = exc
    finally:
        running.done.set()


class RecordingSoccerServer(SoccerServer):
    """A record-mode session: the live service behind the proxy (no control API)."""

    mode = "record"

    def __init__(
        self,
        thread: ServerThread,
        running: RunningRecorder,
        output: RecordingOutput,
        tee: Tee,
        settings: Settings,
    ) -> None:
        base = running.recorder.base_url
        port = int(base.rsplit(":", 1)[1])
        super().__init__(
            api_base=base,
            ws_url=base.replace("http://", "ws://", 1) + "/",
            port=port,
            api_token=DEFAULT_API_TOKEN,
            recording=settings.recording,
        )
        self.record_mode = settings.record_mode
        self.upstream = running.recorder.options.api_base
        self._thread, self._running, self._output, self._tee = thread, running, output, tee

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise self._refused(name)

    def _refused(self, name: str) -> UsageError:
        return UsageError(
            f"SoccerServer.{name} is not available while recording {self.recording.name}"
            f" (record mode {self.record_mode}): the client talks to {self.upstream}"
        )

    def _journal(self) -> list[JournalEntry]:
        return []

    def _stats(self) -> ServerStats:
        raise self._refused("stats")

    def _stop(self) -> None:
        """Stop the proxy (relays get their 1001), then write the file; raise what failed."""
        running = self._running
        if self._thread.alive:
            self._thread.run(_stop_recorder, running)
        self._thread.run_sync(lambda: self._output.close(t_ns=self._tee.now_ns()))
        if running.error is not None:
            raise running.error
        if self._output.error is not None:
            raise self._output.error


async def _stop_recorder(running: RunningRecorder) -> None:
    running.recorder.request_stop("the test finished")
    with trio.fail_after(RECORD_STOP_TIMEOUT_S):
        await running.done.wait()


def open_recording(thread: ServerThread, settings: Settings) -> RecordingSoccerServer:
    """Start the recording proxy for ``settings`` (``settings.record`` is set)."""
    token, rapidapi = upstream_credentials(os.environ)
    base = normalise_api_base(settings.upstream or default_api_base(rapidapi))
    source = {"api_base": base, "mode": "proxy", "subscriptions": [], "synthetic": False}
    header = Header(datetime.now(UTC).isoformat(), HEADER_TOOL, __version__, source)
    force = settings.record_mode == "all"
    check_output(settings.recording, force=force)
    _make_folder(settings.recording.parent)
    output, tee = redacting_output(settings.recording, header, [token], force=force)
    options = ProxyOptions(api_base=base, rapidapi=rapidapi, port=0)
    recorder = thread.run_sync(_make_recorder, tee, options, token, output)
    output.on_write_error = recorder.request_stop  # called in the loop, where writes happen
    try:
        running: RunningRecorder = thread.start_task(_run_recorder, recorder)
    except BaseExceptionGroup as group:
        raise _first_harness_error(group) or group from None
    return RecordingSoccerServer(thread, running, output, tee, settings)


def _make_folder(folder: Path) -> None:
    """The recordings folder is made for the first recording."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the recordings folder {folder}: {exc.strerror}") from None


def _make_recorder(
    tee: Tee, options: ProxyOptions, token: str, output: RecordingOutput
) -> ProxyRecorder:
    """Made in the loop (its events belong there); the file starts once the proxy listens."""
    return ProxyRecorder(tee, options, api_token=token, on_listening=lambda _url: output.start())


def _first_harness_error(group: BaseExceptionGroup[BaseException]) -> HarnessError | None:
    for exc in group.exceptions:
        found = _first_harness_error(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if isinstance(found, HarnessError):
            return found
    return None
