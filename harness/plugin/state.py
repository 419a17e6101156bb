"""The plugin's per-run state: the recording cache and the one server thread, made lazily."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from harness.core.loading import LoadedRecording, load_recording
from harness.plugin.fixture import SoccerServer, ThreadSoccerServer
from harness.plugin.options import DEFAULT_API_TOKEN, Settings, server_config
from harness.plugin.process import ProcessSoccerServer
from harness.plugin.recording import open_recording
from harness.plugin.report import Tracked, track
from harness.plugin.threaded import ServerThread
from harness.server.config import ServerConfig


class PluginState:
    """Loaded recordings (each file read once per run) and the server thread."""

    def __init__(self) -> None:
        self._recordings: dict[Path, LoadedRecording] = {}
        self._thread: ServerThread | None = None
        self.session_server: SoccerServer | None = None
        self.session_settings: Settings | None = None

    def load(self, path: Path) -> LoadedRecording:
        key = path.resolve()
        loaded = self._recordings.get(key)
        if loaded is None:
            loaded = self._recordings[key] = load_recording(key)
            warning = loaded.tail_warning()
            if warning is not None:
                warnings.warn(f"soccer-ws-harness: {warning}", UserWarning, stacklevel=2)
        return loaded

    @property
    def thread(self) -> ServerThread:
        if self._thread is None or not self._thread.alive:
            self._thread = ServerThread().start()
        return self._thread

    def open(self, item: pytest.Item | None, settings: Settings, name: str) -> SoccerServer:
        """Start the server ``settings`` ask for (a recording session in a record mode, else a
        mock); track a mock on ``item`` for the report and strict mode."""
        server: SoccerServer
        if settings.record:
            server = open_recording(self.thread, settings)
            server.settings = settings
            return server
        loaded = self.load(settings.recording)
        config = server_config(settings.options, loaded.profile)  # the same checks, both modes
        server = (
            ProcessSoccerServer(loaded.path, settings.options)
            if settings.process
            else self._thread_server(loaded, config)
        )
        server.settings = settings
        if item is not None:
            track(item, tracked_server(name, server, loaded, settings))
        return server

    def _thread_server(self, loaded: LoadedRecording, config: ServerConfig) -> SoccerServer:
        running = self.thread.start_server(loaded.feed, config)
        return ThreadSoccerServer(
            self.thread,
            running,
            api_token=config.api_token or DEFAULT_API_TOKEN,
            recording=loaded.path,
        )

    def close(self) -> None:
        if self.session_server is not None:
            self.session_server.close()
        if self._thread is not None:
            self._thread.close()


def tracked_server(
    name: str, server: SoccerServer, loaded: LoadedRecording, settings: Settings
) -> Tracked:
    config = server_config(settings.options, loaded.profile)
    return Tracked(
        name=f"{name} ({server.api_base}, {loaded.path.name})",
        journal=lambda: server.journal,
        stats=lambda: server.stats,
        feed=lambda: server.played or loaded.feed,
        replay=config.replay,
        strict=settings.strict,
    )


STATE = pytest.StashKey[PluginState]()
