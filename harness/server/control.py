"""The HTTP control API: run a parsed control command on the server and answer in JSON.

Served under ``/_harness/`` on the server's own port only when ``ServerConfig.control`` is on
(``harness replay --control``); parsing and validation are :mod:`harness.core.control`'s.
Success is ``200 {"ok": true, ...result}``; a refused request is a 4xx with the REST envelope
(404 unknown endpoint, 405 wrong method, 400 bad body, 409 when the server cannot do it now,
e.g. ``play-next`` while playing).  Control calls are not journalled (they are not the service).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from harness.core.control import (
    CloseConnections,
    ControlCommand,
    ControlError,
    ExpireToken,
    InjectFaults,
    Pause,
    Pings,
    Play,
    PlayNext,
    Push,
    ReadJournal,
    ReadStats,
    Reset,
    Resume,
    Seek,
    SetApiTokenState,
    SetSpeed,
    parse_control,
)
from harness.core.envelopes import compact_json
from harness.core.faults import FaultTimeline
from harness.core.mock.rest_api import RestResponse
from harness.core.mock.token_table import ApiTokenState
from harness.core.stream import Frame, TimedFrame
from harness.errors import UsageError
from harness.net.http import HttpRequest
from harness.server.config import ServerStats
from harness.server.journal import Journal

_HEADERS = (("Content-Type", "application/json; charset=utf-8"),)


class MockServer(Protocol):
    """What the control API drives: :class:`harness.server.MockServer`'s control methods."""

    journal: Journal

    @property
    def stats(self) -> ServerStats: ...
    def push(self, payload: bytes, *, token: str | None = None) -> int: ...
    def expire_token(self, ws_token: str | None = None) -> int: ...
    def set_api_token_state(
        self, api_token: str, state: ApiTokenState | str, *, plan: Any = None
    ) -> None: ...
    def stop_answering_pings(self, stop: bool = True) -> None: ...
    async def close_connections(
        self, *, code: int = 1000, reason: str = "", abrupt: bool = False, token: str | None = None
    ) -> int: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def play_next(self, n: int = 1) -> int: ...
    def seek(self, t_s: float) -> None: ...
    def set_speed(self, speed: float | None) -> None: ...
    def play(
        self, frames: list[Frame], *, speed: float | None = None, close_when_delivered: bool = False
    ) -> int: ...
    async def reset(self) -> None: ...
    def inject_faults(self, faults: FaultTimeline) -> None: ...


async def handle_control(server: MockServer, request: HttpRequest) -> RestResponse:
    """Answer one control request."""
    command = parse_control(request.method, request.path, request.query, request.body)
    if isinstance(command, ControlError):
        return _respond(command.status, command.body())
    try:
        result = await run_command(server, command)
    except UsageError as exc:
        refused = ControlError(409, 7, f"{request.method} {request.path}: {exc}")
        return _respond(refused.status, refused.body())
    return _respond(200, {"ok": True, **result})


async def run_command(server: MockServer, command: ControlCommand) -> dict[str, Any]:
    """Run ``command``; the fields of its JSON answer besides ``ok``."""
    match command:
        case Push(frame, token):
            return {"connections": server.push(frame, token=token)}
        case ExpireToken(token):
            return {"expired": server.expire_token(token)}
        case SetApiTokenState(api_token, state, plan):
            server.set_api_token_state(api_token, state, plan=plan)
            return {}
        case Pings(answer):
            server.stop_answering_pings(not answer)
            return {}
        case CloseConnections(code, reason, abrupt, token):
            closed = await server.close_connections(
                code=code, reason=reason, abrupt=abrupt, token=token
            )
            return {"closed": closed}
        case Pause() | Resume() | PlayNext() | Seek() | SetSpeed():
            return _player(server, command)
        case Play(frames, offsets, speed, close):
            timed: list[Frame] = (
                list(frames)
                if offsets is None
                else [TimedFrame(o, f) for o, f in zip(offsets, frames, strict=True)]
            )
            return {"frames": server.play(timed, speed=speed, close_when_delivered=close)}
        case InjectFaults(timeline):
            server.inject_faults(timeline)
            return {"faults": len(timeline.faults)}
        case ReadJournal(since):
            return _journal(server, since)
        case ReadStats():
            return dataclasses.asdict(server.stats)
        case Reset():
            await server.reset()
            return {}
    raise AssertionError(f"unhandled control command {command!r}")  # pragma: no cover


def _player(
    server: MockServer, command: Pause | Resume | PlayNext | Seek | SetSpeed
) -> dict[str, Any]:
    match command:
        case Pause():
            server.pause()
        case Resume():
            server.resume()
        case PlayNext(n):
            return {"sent": server.play_next(n)}
        case Seek(t_s):
            server.seek(t_s)
        case SetSpeed(speed):
            server.set_speed(speed)
    stats = server.stats
    return {"paused": stats.paused, "speed": stats.speed, "position_s": stats.position_s}


def _journal(server: MockServer, since: int) -> dict[str, Any]:
    journal = server.journal
    entries = [{"seq": seq, **dataclasses.asdict(entry)} for seq, entry in journal.since(since)]
    return {"entries": entries, "next": journal.added, "dropped": journal.dropped}


def _respond(status: int, body: dict[str, Any]) -> RestResponse:
    return RestResponse(status, _HEADERS, compact_json(body))
