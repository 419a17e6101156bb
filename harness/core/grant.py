"""A WS token grant (section 4.1) as the recorder reads it and as a recording notes it.

One home for the grant's fields, how a token answer is read into them, and the ``token`` /
``renewal`` note the recorder and the simulator both write after each token call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.core.envelopes import parse_expires_at
from harness.core.records import NoteKind


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A WS token answer (section 4.1), with ``expires_at`` as epoch seconds (None: unknown)."""

    token: str
    server: str
    expires_at: float | None
    max_connections: int
    max_subscribe_per_connection: int
    allowed_channels: tuple[str, ...]
    is_new: bool

    @classmethod
    def from_result(cls, item: Mapping[str, Any], *, fallback_server: str = "") -> TokenGrant:
        """Read one ``result`` item; ``KeyError``/``TypeError``/``ValueError`` if it is not one.

        A renewal answer has no ``server``: ``fallback_server`` (the one already in use) fills it.
        """
        return cls(
            token=str(item["token"]),
            server=str(item.get("server") or fallback_server or item["server"]),
            expires_at=parse_expires_at(str(item.get("expires_at", ""))),
            max_connections=int(item.get("max_connections", 1)),
            max_subscribe_per_connection=int(item.get("max_subscribe_per_connection", 1)),
            allowed_channels=tuple(str(c) for c in item.get("allowed_channels", ())),
            is_new=bool(item.get("is_new", True)),
        )

    def note(self, *, renewal: bool) -> tuple[NoteKind, str, dict[str, Any]]:
        """``(kind, message, data)`` of the note written after this grant was obtained.

        ``data`` holds the token itself: the writer's redactor scrubs it like every secret.
        """
        kind, message = (
            (NoteKind.RENEWAL, "renewed the WS token")
            if renewal
            else (NoteKind.TOKEN, "got a WS token")
        )
        data = {
            "token": self.token,
            "server": self.server,
            "expires_at": self.expires_at,
            "is_new": self.is_new,
            "max_connections": self.max_connections,
            "max_subscribe_per_connection": self.max_subscribe_per_connection,
            "allowed_channels": list(self.allowed_channels),
        }
        return kind, message, data
