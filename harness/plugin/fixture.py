"""``SoccerServer``: what the soccer fixtures hand a test, with a synchronous control API.

One public API, three ways to carry it out: :class:`ThreadSoccerServer` calls the
:class:`~harness.server.mock.MockServer` in the plugin's server thread
(:class:`~harness.plugin.threaded.ServerThread`); the process-mode server
(:mod:`harness.plugin.process`) sends the same calls to a ``harness replay --control`` over
HTTP; a recording session (:mod:`harness.plugin.recording`) is the live service behind the
recording proxy and has no control API.  From an asyncio test, wrap the waiting calls
(``wait_for_subscription``, ``wait_delivered``) in ``asyncio.to_thread`` so the loop of the
client keeps running.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from harness.core.faults import FaultTimeline, parse_faults
from harness.core.mock.token_table import ApiTokenState
from harness.core.schedule import Feed
from harness.core.stream import Frame, frames_feed
from harness.errors import HarnessError
from harness.plugin.options import Settings
from harness.plugin.threaded import RunningServer, ServerThread
from harness.server.config import ServerStats
from harness.server.journal import JournalEntry
from harness.server.mock import MockServer

T = TypeVar("T")


class SoccerServer:
    """A server for a test on a loopback port: URLs, a token, and the control API (sync).

    Subclasses implement :meth:`_call` (one control call by its ``MockServer`` name),
    :meth:`_journal`, :meth:`_stats` and :meth:`_stop`."""

    mode = "thread"
    """``thread``, ``process`` or ``record`` (the live service through the recording proxy)."""

    def __init__(
        self, *, api_base: str, ws_url: str, port: int, api_token: str, recording: Path
    ) -> None:
        self.api_base = api_base
        """Base URL without ``/v1`` (``{api_base}/v1/ws/new/?t={api_token}``)."""
        self.ws_url = ws_url
        self.port = port
        self.api_token = api_token
        self.recording = recording
        self.closed = False
        self.recordings_dir: Path | None = None
        """Where :meth:`serving` saves a failing stream given by name (the fixtures set it to
        the plugin's recordings folder, where the ``soccer_recording`` marker finds it)."""
        self.settings: Settings | None = None
        """What this server was opened with: the recording, the server options the marker or
        factory gave (``max_gap``, ``start_at``, ``ttl``, ``plan``, the limits; an option not
        given is the mock's default), ``options["speed"]`` always, strict and process mode."""
        self.played: Feed | None = None
        """The feed of the last :meth:`play` (None: the recording; :meth:`reset` returns to it)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.api_base} recording={self.recording.name}>"

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _journal(self) -> list[JournalEntry]:
        raise NotImplementedError

    def _stats(self) -> ServerStats:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError

    # --- tokens and injected situations ---------------------------------------------------------

    def new_ws_token(self) -> str:
        """A WS token for :attr:`api_token`, without the REST call."""
        return str(self._call("new_ws_token", self.api_token))

    def push(self, frame: bytes | str | dict[str, Any], token: str | None = None) -> int:
        """Send a frame now to the connections that want it; returns how many got it."""
        return int(self._call("push", frame, token=token))

    def expire_token(self, token: str | None = None) -> int:
        return int(self._call("expire_token", token))

    def set_api_token_state(self, api_token: str, state: ApiTokenState | str) -> None:
        self._call("set_api_token_state", api_token, state)

    def stop_answering_pings(self, stop: bool = True) -> None:
        self._call("stop_answering_pings", stop)

    def close_connections(self, code: int = 1000, reason: str = "", abrupt: bool = False) -> int:
        """Close every connection; returns once they are gone."""
        return int(self._call("close_connections", code=code, reason=reason, abrupt=abrupt))

    # --- player services ------------------------------------------------------------------------

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def play_next(self, n: int = 1) -> int:
        return int(self._call("play_next", n))

    def seek(self, t: float | str) -> None:
        self._call("seek", t)

    def set_speed(self, speed: float | str | None) -> None:
        self._call("set_speed", None if speed == "max" else speed)

    def reset(self) -> None:
        self._call("reset")
        self.played = None

    def inject(self, faults: FaultTimeline | Mapping[str, Any] | Iterable[Any]) -> int:
        """Run a fault timeline from now (the fault file's structure: ``{"seed": N, "faults":
        [...]}``, a list of entries, or a :class:`~harness.core.faults.FaultTimeline`); wall
        times count from this call.  :meth:`reset` ends every timeline.  Returns the number of
        entries."""
        timeline = parse_faults(
            faults if isinstance(faults, FaultTimeline | Mapping) else list(faults)
        )
        self._call("inject_faults", timeline)
        return len(timeline.faults)

    def play(
        self,
        frames: Iterable[Frame],
        *,
        speed: float | str | None = "max",
        close_when_delivered: bool = False,
    ) -> int:
        """Serve ``frames`` (dicts, str or UTF-8 bytes, or ``StreamFrame``) as the feed instead
        of the recording, on fresh timelines (``MockServer.play``); returns how many."""
        given = list(frames)
        feed = frames_feed(given)  # bad frames are refused here, in both modes
        count = int(
            self._call("play", given, speed=speed, close_when_delivered=close_when_delivered)
        )
        self.played = feed
        return count

    @contextlib.contextmanager
    def serving(
        self,
        frames: Iterable[Frame],
        *,
        speed: float | str | None = "max",
        save_failure: str | os.PathLike[str] | None = None,
    ) -> Iterator[SoccerServer]:
        """For one hypothesis example: :meth:`reset` (nothing left from the example before:
        function fixtures are not reset between examples), then :meth:`play` the frames and
        close every connection once they are delivered, so a consumer that reads until the
        close has read them all.  When the block raises and ``save_failure`` names a file (a
        name is in the recordings folder), the frames are saved there as a recording
        (:func:`~harness.plugin.streams.save_stream`) and the error says so; hypothesis runs
        the smallest failing example last, so the file holds the shrunk stream."""
        from harness.plugin.streams import losses_note, save_stream

        given = list(frames)
        self.reset()
        self.play(given, speed=speed, close_when_delivered=True)
        try:
            yield self
        except Exception as exc:
            if save_failure is not None:
                try:
                    path = save_stream(given, save_failure, recordings_dir=self.recordings_dir)
                except HarnessError as problem:
                    exc.add_note(f"soccer-ws-harness: failing stream not saved: {problem}")
                else:
                    exc.add_note(
                        f"soccer-ws-harness: the failing stream ({len(given)} frames) is saved"
                        f" as {path}{losses_note(given)}; replay it in a regression test with"
                        f" @pytest.mark.soccer_recording({str(path)!r})"
                    )
            raise

    def wait_for_subscription(self, topic: Any, timeout: float = 5) -> Any:
        return self._call("wait_for_subscription", topic, timeout=timeout)

    def wait_delivered(self, timeout: float = 5) -> Any:
        return self._call("wait_delivered", timeout=timeout)

    # --- state ----------------------------------------------------------------------------------

    @property
    def journal(self) -> list[JournalEntry]:
        """A snapshot of the journal, oldest first."""
        return self._journal()

    @property
    def stats(self) -> ServerStats:
        return self._stats()

    def close(self) -> None:
        """Stop the server (the fixtures do it at teardown); raises what it died of."""
        if not self.closed:
            self.closed = True
            self._stop()


class ThreadSoccerServer(SoccerServer):
    """Thread mode: the mock runs in the plugin's server thread, in this process."""

    def __init__(
        self, thread: ServerThread, running: RunningServer, *, api_token: str, recording: Path
    ) -> None:
        assert running.server is not None
        mock = running.server
        super().__init__(
            api_base=mock.base_url,
            ws_url=mock.ws_url,
            port=mock.port,
            api_token=api_token,
            recording=recording,
        )
        self._thread = thread
        self._running = running
        self.mock: MockServer = mock
        """The server itself: read-only use from the test thread, or through the methods."""

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        owner: object = self.mock.journal if name == "wait_for_subscription" else self.mock
        return self._thread.invoke(owner, name, *args, **kwargs)

    def _journal(self) -> list[JournalEntry]:
        return self._read(lambda: list(self.mock.journal))

    def _stats(self) -> ServerStats:
        return self._read(lambda: self.mock.stats)

    def _read(self, fn: Callable[[], T]) -> T:
        return fn() if self.closed or not self._thread.alive else self._thread.run_sync(fn)

    def _stop(self) -> None:
        self._thread.stop_server(self._running)
