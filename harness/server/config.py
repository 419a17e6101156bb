"""Configuration and status of the mock server, as plain frozen values."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.faults import FaultTimeline
from harness.core.profile import DEFAULT_PROFILE, BehaviourProfile
from harness.core.schedule import ReplayOptions
from harness.errors import UsageError
from harness.server.journal import DEFAULT_JOURNAL_SIZE

STALL_TIMEOUT_S = 10.0
"""At ``--speed max``: a reader that makes no progress for this long is closed (1008)."""
SHUTDOWN_GRACE_S = 1.0
"""How long a stopping server waits for clients to answer its 1001 close before cutting them."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How to run the mock: where it listens, who may use it, what it replays and how it stops.

    How the service behaves (texts, codes and the limits of section 12: TTL, plan, connections,
    subscriptions, quota) is the ``profile``'s alone: set limits with
    :meth:`BehaviourProfile.with_limits`, e.g. ``ServerConfig(profile=DEFAULT_PROFILE.with_limits(
    ttl_s=3))``.  ``api_token``: only this API token is accepted (None: any non-empty one).
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_token: str | None = None
    tls: bool = False
    profile: BehaviourProfile = DEFAULT_PROFILE
    replay: ReplayOptions = field(default_factory=ReplayOptions)
    broadcast: bool = False
    journal_size: int = DEFAULT_JOURNAL_SIZE
    stall_timeout_s: float = STALL_TIMEOUT_S
    shutdown_grace_s: float = SHUTDOWN_GRACE_S
    control: bool = False
    """Serve the HTTP control API under ``/_harness/`` (:mod:`harness.server.control`)."""
    faults: FaultTimeline | None = None
    """A fault timeline started with the server (``--faults FILE``)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise UsageError(f"port must be 0..65535, got {self.port}")
        if self.api_token == "":
            raise UsageError("--api-token must not be empty")
        if not 0 <= self.shutdown_grace_s < float("inf"):
            raise UsageError(f"shutdown grace must be >= 0 s, got {self.shutdown_grace_s}")
        if self.journal_size < 1:
            raise UsageError(f"journal size must be >= 1, got {self.journal_size}")


@dataclass(frozen=True, slots=True)
class ServerStats:
    """A snapshot for the CLI status line and tests.

    ``position``/``position_s``: frames dispatched and recording time reached by the most
    advanced timeline; ``ended``: every started timeline reached the end of the recording;
    ``parked``: started timelines with no subscribed connection (they cost nothing);
    ``timeline_steps``: times any timeline woke to send (flat while all are parked);
    ``paused``/``speed``: the player state (``speed`` ``None`` is max); ``delivered``: what
    ``wait_delivered`` waits for, short of the sockets' flush (for pollers across processes).
    """

    connections: int
    subscriptions: int
    timelines: int
    frames_sent: int
    bytes_sent: int
    pushed: int
    position: int
    position_s: float
    total_frames: int | None
    ended: bool
    http_requests: int
    internal_errors: int
    parked: int = 0
    timeline_steps: int = 0
    paused: bool = False
    speed: float | None = 1.0
    delivered: bool = False
