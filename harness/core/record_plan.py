"""Which subscriptions go on which connection, within the limits a WS token grants.

Policy: duplicates are dropped (the server treats them as idempotent anyway, section 12), the
fewest connections that fit are used (``ceil(n / max_subscribe_per_connection)``), and topics
are dealt round-robin over them so the load is even and the order of the user's list is kept
within each connection.  When even ``max_connections`` connections cannot hold every topic, the
caller gets a :class:`UsageError` naming both limits, before any connection is opened.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from harness.core.protocol import Topic
from harness.errors import UsageError

DEFAULT_SUBSCRIPTIONS = ("MAIN:all",)


def parse_subscriptions(specs: Iterable[str]) -> tuple[Topic, ...]:
    """Parse ``CHANNEL[:SCOPE[:ID]]`` specs in order, without duplicates; default ``MAIN:all``."""
    topics: dict[str, Topic] = {}
    for spec in list(specs) or list(DEFAULT_SUBSCRIPTIONS):
        topic = Topic.parse(spec)
        topics.setdefault(topic.key, topic)
    return tuple(topics.values())


def plan_connections(
    topics: Sequence[Topic], *, max_connections: int, max_subscribe_per_connection: int
) -> tuple[tuple[Topic, ...], ...]:
    """Spread ``topics`` over as few connections as fit; one tuple of topics per connection."""
    if not topics:
        raise UsageError("nothing to record: give at least one --subscribe")
    if max_connections < 1 or max_subscribe_per_connection < 1:
        raise UsageError(
            f"the token allows no subscriptions (max_connections={max_connections}, "
            f"max_subscribe_per_connection={max_subscribe_per_connection})"
        )
    unique = list({topic.key: topic for topic in topics}.values())
    needed = math.ceil(len(unique) / max_subscribe_per_connection)
    if needed > max_connections:
        capacity = max_connections * max_subscribe_per_connection
        raise UsageError(
            f"{len(unique)} subscriptions do not fit: the token allows {max_connections} "
            f"connections x {max_subscribe_per_connection} subscriptions = {capacity}"
        )
    return tuple(tuple(unique[index::needed]) for index in range(needed))
