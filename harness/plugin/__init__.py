"""The pytest plugin (entry point ``pytest11``: ``soccer_ws_harness``): fixtures, options, marker.

Thin on purpose: settings live in :mod:`~harness.plugin.options`, the server thread in
:mod:`~harness.plugin.threaded`, the fixture object in :mod:`~harness.plugin.fixture`, process
mode in :mod:`~harness.plugin.process`, the record modes in :mod:`~harness.plugin.recording`,
strict mode and the failure report in :mod:`~harness.plugin.strict` and
:mod:`~harness.plugin.report`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.plugin.fixture import SoccerServer
from harness.plugin.options import (
    MARKER,
    MARKER_HELP,
    Settings,
    add_options,
    recordings_dir,
    resolve,
    server_config,
)
from harness.plugin.report import SECTION, Tracked, check_strict, journal_section, track
from harness.plugin.state import STATE, PluginState, tracked_server
from harness.plugin.streams import save_stream
from harness.server.mock import MockServer, open_mock_server

__all__ = [
    "SoccerServer",
    "save_stream",
    "soccer_server",
    "soccer_server_factory",
    "soccer_server_session",
    "trio_soccer_server",
]

Factory = Callable[..., SoccerServer]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.stash[STATE] = PluginState()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After a passing test body: strict mode's checks."""
    yield
    check_strict(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used a soccer server gets the journal tail as a report section."""
    report = yield
    if report.failed:
        section = journal_section(item)
        if section is not None:
            report.sections.append((SECTION, section))
    return report


def _failure(exc: HarnessError) -> BaseException:
    """The one-line test failure for a harness error (raised ``from None``: no chained
    "During handling" block)."""
    return pytest.fail.Exception(f"soccer-ws-harness: {exc}", pytrace=False)


def _state(request: pytest.FixtureRequest) -> PluginState:
    return request.config.stash[STATE]


def _settings(
    request: pytest.FixtureRequest,
    overrides: dict[str, Any] | None = None,
    recording: str | os.PathLike[str] | None = None,
) -> Settings:
    marker = request.node.get_closest_marker(MARKER)
    try:
        return resolve(request.config, marker, overrides, recording)
    except HarnessError as exc:
        raise _failure(exc) from None


def _open(request: pytest.FixtureRequest, settings: Settings, name: str) -> SoccerServer:
    try:
        server = _state(request).open(request.node, settings, name)
    except HarnessError as exc:
        raise _failure(exc) from None
    server.recordings_dir = recordings_dir(request.config)
    return server


def _close(server: SoccerServer) -> None:
    try:
        server.close()
    except HarnessError as exc:
        raise _failure(exc) from None


@pytest.fixture
def soccer_server(request: pytest.FixtureRequest) -> Iterator[SoccerServer]:
    """A mock of the service for this test, in the plugin's server thread (sync control API);
    the ``soccer_recording`` marker chooses the recording and options."""
    server = _open(request, _settings(request), "soccer_server")
    try:
        yield server
    finally:
        _close(server)


@pytest.fixture
def soccer_server_factory(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """``factory(recording=None, **options)``: more servers, or other settings, in one test;
    keywords override the marker's.  All are stopped at teardown."""
    made: list[SoccerServer] = []

    def factory(recording: str | os.PathLike[str] | None = None, **options: Any) -> SoccerServer:
        server = _open(request, _settings(request, options, recording), f"factory #{len(made)}")
        made.append(server)
        return server

    try:
        yield factory
    finally:
        for server in made:
            _close(server)


@pytest.fixture(scope="session")
def soccer_server_session(request: pytest.FixtureRequest) -> SoccerServer:
    """One mock for the whole session (command-line and ini options; no marker, no strict
    mode).  Its state carries over between tests: use :meth:`SoccerServer.reset` or a
    function-scoped server when that matters."""
    state = _state(request)
    if state.session_server is None:
        try:
            settings = resolve(request.config, None)
        except HarnessError as exc:
            raise _failure(exc) from None
        state.session_server = state.open(None, settings, "soccer_server_session")
        state.session_server.recordings_dir = recordings_dir(request.config)
        state.session_settings = settings
    return state.session_server


@pytest.fixture(autouse=True)
def _soccer_session_report(request: pytest.FixtureRequest) -> None:
    """Tests that use the session server get its journal in their failure report too."""
    if "soccer_server_session" in request.fixturenames:
        _refuse_marker_for_session_server(request)
        server: SoccerServer = request.getfixturevalue("soccer_server_session")
        state = _state(request)
        loaded = state.load(server.recording)
        settings = state.session_settings or Settings(server.recording)
        track(request.node, tracked_server("soccer_server_session", server, loaded, settings))


@pytest.fixture
def _soccer_trio_setup(request: pytest.FixtureRequest) -> tuple[Settings, Any, Any]:
    """The trio fixture's settings, recording and config, resolved outside its trio run: an
    error here is the test's one-line error, not a failure wrapped in a nursery's group."""
    settings = _settings(request)
    if settings.record or settings.process:
        what = "a record mode" if settings.record else "process mode"
        raise _failure(
            HarnessError(
                f"trio_soccer_server runs in the test's own trio run, so {what} does not apply"
                " to it; use soccer_server"
            )
        )
    try:
        loaded = _state(request).load(settings.recording)
        return settings, loaded, server_config(settings.options, loaded.profile)
    except HarnessError as exc:
        raise _failure(exc) from None


@pytest.fixture
async def trio_soccer_server(
    request: pytest.FixtureRequest, _soccer_trio_setup: tuple[Settings, Any, Any]
) -> AsyncIterator[MockServer]:
    """For pytest-trio tests: the :class:`MockServer` itself, in the test's own trio run
    (async control API; ``trio.testing.MockClock`` drives replay timing and token expiry)."""
    settings, loaded, config = _soccer_trio_setup
    async with open_mock_server(loaded.feed, config) as server:
        track(request.node, _tracked_mock(server, settings))
        yield server


MARKER_USERS = ("soccer_server", "soccer_server_factory", "trio_soccer_server")


def _refuse_marker_for_session_server(request: pytest.FixtureRequest) -> None:
    """The marker configures a test's own server; on a test whose only server is the session's
    it would be silently ignored, so it is an error."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and not any(name in request.fixturenames for name in MARKER_USERS):
        raise _failure(
            HarnessError(
                f"the {MARKER} marker does not apply to soccer_server_session (one server for"
                " the whole run, set by command-line and ini options): use soccer_server or"
                " soccer_server_factory for this test's recording"
            )
        )


def _tracked_mock(server: MockServer, settings: Settings) -> Tracked:
    return Tracked(
        name=f"trio_soccer_server ({server.base_url}, {settings.recording.name})",
        journal=lambda: list(server.journal),
        stats=lambda: server.stats,
        feed=lambda: server.feed,
        replay=server.config.replay,
        strict=settings.strict,
    )
