"""A live board of matches, scores and odds, fed by the MAIN and ODDS_REALTIME channels.

It has a bug on purpose (the fuzzing example of soccer-ws-harness): it handles goals of a
match it joined mid-way, but an ODDS_REALTIME update for a match whose ``match_start`` it has
not seen raises ``KeyError``.  That is rare in a recording (it starts before kick-off) and
valid on the live feed (subscribe during a match, or ODDS arriving before MAIN).  Set
``LIVESCORE_FIXED=1`` for the fixed version.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

CHANNELS = ("MAIN", "ODDS_REALTIME")


@dataclass
class Match:
    score: str = "0;0"
    finished: bool = False
    odds: dict[str, str] = field(default_factory=dict)


@dataclass
class Board:
    matches: dict[str, Match] = field(default_factory=dict)

    def apply(self, frame: dict[str, Any]) -> None:
        kind, data = frame.get("type"), frame.get("data") or {}
        match_id = frame.get("matchId")
        if kind == "match_start":
            self.matches[match_id] = Match()
        elif kind in ("goal", "halftime", "second_half_start"):
            self.matches.setdefault(match_id, Match()).score = data["score"]
        elif kind == "match_end":
            match = self.matches.setdefault(match_id, Match())
            match.score, match.finished = data["finalScore"], True
        elif kind == "odds_update_realtime":
            if os.environ.get("LIVESCORE_FIXED"):
                match = self.matches.setdefault(match_id, Match())
            else:
                match = self.matches[match_id]  # the bug: odds before MAIN
            for change in data["changedOdds"]:
                match.odds[change["market"]] = change["value"]


def follow(api_base: str, api_token: str) -> Board:
    """Get a WebSocket token, subscribe to both channels and apply every frame until the
    server closes the connection."""
    with urllib.request.urlopen(f"{api_base}/v1/ws/new/?t={api_token}", timeout=10) as answer:
        server = json.loads(answer.read())["result"][0]["server"]
    board = Board()
    with connect(server, max_size=None) as ws:
        for channel in CHANNELS:
            ws.send(json.dumps({"action": "subscribe", "channel": channel, "scope": "all"}))
        try:
            while True:
                frame = json.loads(ws.recv(timeout=30))
                if frame.get("channel") in CHANNELS:
                    board.apply(frame)
        except ConnectionClosedOK:
            return board
