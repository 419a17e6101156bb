"""What a reader found damaged in a recording, and how it is told: ``docs/recording-format.md`` §6.

A reader that meets a damaged record resynchronises (it skips to the next whole record whose
checksum holds) and logs one :class:`Damage` per damaged stretch of bytes in a
:class:`DamageLog`.  A stretch that runs to the end of the file is the **tail**: *truncated*
when the file simply ends inside a record (a killed writer), *corrupt* otherwise.  Mid-file
damage is never called a tail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MAX_LISTED_DAMAGE = 1000
"""Damaged stretches kept one by one; beyond that only the totals grow (constant memory)."""

_SHOWN_IN_SUMMARY = 3


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else many or word + 's'}"


@dataclass(frozen=True, slots=True)
class Damage:
    """One damaged stretch: ``offset`` is its first byte, ``records_read`` the records before it.

    ``resumed_at`` is where reading went on (the next whole record), ``None`` when the damage
    runs to the end of the file (a tail).  ``records_lost`` counts the records it held, found by
    following the frame lengths through the damaged bytes (at least 1).  ``truncated`` is true
    only for a tail where the file ends inside a record.
    """

    offset: int
    records_read: int
    reason: str
    truncated: bool
    resumed_at: int | None = None
    records_lost: int = 1

    @property
    def is_tail(self) -> bool:
        return self.resumed_at is None

    def describe(self) -> str:
        if self.resumed_at is None:
            what = "truncated" if self.truncated else "corrupt"
            kept = _plural(self.records_read, "record")
            return f"{what} tail at byte {self.offset}: {self.reason}; kept {kept} before it"
        return (
            f"damaged record at byte {self.offset}: {self.reason}; skipped "
            f"{_plural(self.resumed_at - self.offset, 'byte')} "
            f"({_plural(self.records_lost, 'record')} lost), resumed at byte {self.resumed_at}"
        )


TailDamage = Damage
"""The name of :class:`Damage` before readers resynchronised; kept for compatibility."""


class DamageLog:
    """Every damaged stretch of one file, in file order (the first :data:`MAX_LISTED_DAMAGE`)."""

    __slots__ = ("bytes_skipped", "count", "records_lost", "regions", "tail")

    def __init__(self) -> None:
        self.regions: list[Damage] = []
        self.count = 0
        self.records_lost = 0
        self.bytes_skipped = 0
        """Bytes of the mid-file stretches (a tail's length depends on the file size)."""
        self.tail: Damage | None = None

    def __bool__(self) -> bool:
        return self.count > 0

    @property
    def first(self) -> Damage | None:
        return self.regions[0] if self.regions else None

    def add(self, damage: Damage) -> None:
        """Log a stretch; one that starts where the previous one resumed extends it."""
        last = self.regions[-1] if self.regions and self.count == len(self.regions) else None
        if last is not None and last.resumed_at == damage.offset:
            self.bytes_skipped -= damage.offset - last.offset
            self.records_lost -= last.records_lost
            self.count -= 1
            self.regions.pop()
            damage = replace(
                damage,
                offset=last.offset,
                records_read=last.records_read,
                reason=last.reason,
                records_lost=last.records_lost + damage.records_lost,
            )
        self.count += 1
        self.records_lost += damage.records_lost
        if damage.resumed_at is None:
            self.tail = damage
        else:
            self.bytes_skipped += damage.resumed_at - damage.offset
        if len(self.regions) < MAX_LISTED_DAMAGE:
            self.regions.append(damage)

    def recount_last(self, records_lost: int) -> None:
        """The last mid-file stretch lost ``records_lost`` records (known once reading resumed:
        a 2.0 block names the records before it)."""
        if not self.regions or self.count != len(self.regions) or self.regions[-1].is_tail:
            return
        last = self.regions[-1]
        self.records_lost += records_lost - last.records_lost
        self.regions[-1] = replace(last, records_lost=records_lost)

    def describe(self) -> str:
        """One line for a warning: the single stretch, or the totals and the first few."""
        if self.count == 1 and self.regions:
            return self.regions[0].describe()
        shown = "; ".join(
            f"byte {d.offset}"
            + (f"-{d.resumed_at}" if d.resumed_at is not None else " to the end")
            + f" ({d.reason})"
            for d in self.regions[:_SHOWN_IN_SUMMARY]
        )
        more = self.count - _SHOWN_IN_SUMMARY
        if more > 0:
            shown += f"; and {more:,} more"
        end = ""
        if self.tail is not None:
            end = ", truncated at the end" if self.tail.truncated else ", corrupt to the end"
        stretches = _plural(self.count, "damaged stretch", "damaged stretches")
        return f"{stretches}, {_plural(self.records_lost, 'record')} lost{end}: {shown}"
