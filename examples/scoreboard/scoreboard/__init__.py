"""A live scoreboard on asyncio: a small downstream consumer of the Soccer Football API feed.

It fetches a WebSocket token over REST, connects with ``websockets``, subscribes to MAIN, keeps
the score of every match from ``goal``/``halftime``/``second_half_start``/``match_end`` frames,
and renews its token (``/v1/ws/renew``) before ``expires_at``.  Its tests (``tests/``) run it
against the soccer-ws-harness pytest plugin's mock, with no network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

RENEW_MARGIN_S = 300.0
"""Renew this long before expiry (the service's advice), or at half the lifetime if shorter."""
SUBSCRIBE = {"action": "subscribe", "channel": "MAIN", "scope": "all"}
SCORE_FIELDS = {"goal": "score", "halftime": "score", "second_half_start": "score"}


class ScoreboardError(Exception):
    """The service refused us (token, plan): the message says why."""


@dataclass
class Match:
    score: str = "0;0"
    finished: bool = False
    events: int = 0


@dataclass
class Scoreboard:
    api_base: str
    api_token: str
    renew_margin_s: float = RENEW_MARGIN_S
    matches: dict[str, Match] = field(default_factory=dict)
    renewals: int = 0
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    # --- the board -----------------------------------------------------------------------------

    def score(self, match_id: str) -> str | None:
        match = self.matches.get(match_id)
        return None if match is None else match.score

    def apply(self, frame: dict[str, Any]) -> None:
        """Update the board from one MAIN frame (others are ignored)."""
        kind, match_id = frame.get("type"), frame.get("matchId")
        if frame.get("channel") != "MAIN" or not isinstance(match_id, str):
            return
        match = self.matches.setdefault(match_id, Match())
        match.events += 1
        data = frame.get("data") or {}
        if kind in SCORE_FIELDS and data.get(SCORE_FIELDS[kind]):
            match.score = str(data[SCORE_FIELDS[kind]])
        elif kind == "match_end":
            match.score = str(data.get("finalScore") or match.score)
            match.finished = True
        self.changed.set()

    # --- the service ---------------------------------------------------------------------------

    async def _token(self, http: httpx.AsyncClient, path: str) -> dict[str, Any]:
        answer = await http.get(f"{self.api_base}/v1/ws/{path}/", params={"t": self.api_token})
        body = answer.json()
        if answer.status_code != 200:
            errors = body.get("errors") or [{}]
            raise ScoreboardError(f"{path}: {answer.status_code} {errors[0].get('message')}")
        result: dict[str, Any] = body["result"][0]
        return result

    async def run(self, until: Callable[[Scoreboard], bool], timeout: float = 10.0) -> None:
        """Follow the feed until ``until(self)`` holds (checked after each frame)."""
        async with httpx.AsyncClient(timeout=timeout) as http:
            token = await self._token(http, "new")
            # max_queue=None: a burst (speed max) never stops the reader, so a close is seen at once
            async with asyncio.timeout(timeout), connect(token["server"], max_queue=None) as ws:
                renewing = asyncio.create_task(self._renew_forever(http, token["expires_at"]))
                try:
                    await self._follow(ws, until)
                finally:
                    renewing.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await renewing

    async def _follow(self, ws: ClientConnection, until: Callable[[Scoreboard], bool]) -> None:
        """Read frames until ``until`` holds; it is checked after each frame and renewal."""
        await ws.send(json.dumps(SUBSCRIBE))
        receiving: asyncio.Task[Any] | None = None
        try:
            while not until(self):
                receiving = receiving or asyncio.ensure_future(ws.recv())
                changed = asyncio.ensure_future(self.changed.wait())
                await asyncio.wait({receiving, changed}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                self.changed.clear()
                if receiving.done():
                    self._handle(json.loads(receiving.result()))
                    receiving = None
        finally:
            if receiving is not None:
                receiving.cancel()

    def _handle(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "subscribed":
            self.subscribed.set()
        elif frame.get("type") == "error":
            raise ScoreboardError(f"server error: {frame}")
        else:
            self.apply(frame)

    async def _renew_forever(self, http: httpx.AsyncClient, expires_at: str) -> None:
        while True:
            await asyncio.sleep(renew_delay(expires_at, datetime.now(UTC), self.renew_margin_s))
            expires_at = (await self._token(http, "renew"))["expires_at"]
            self.renewals += 1
            self.changed.set()


def renew_delay(expires_at: str, now: datetime, margin_s: float = RENEW_MARGIN_S) -> float:
    """Seconds to wait before renewing a token that expires at ``expires_at`` (UTC)."""
    expires = datetime.strptime(expires_at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    remaining = (expires - now).total_seconds()
    return max(0.0, remaining - min(margin_s, remaining / 2))
