"""``harness check``: does recorded live traffic look like the documented protocol?

One streaming pass compares every server text frame with the documented shapes
(:data:`~harness.core.documented.DOCUMENTED_SHAPES`, made from ``fixtures/``, which mirror
``docs/protocol.md``) and every close with the documented close codes.  A finding is one of:

* ``event-type``: an event (or reply) the docs do not show on that channel;
* ``field``: a field path the docs do not show for that event;
* ``missing-field``: a documented field that no frame of that event had (a rename shows as a
  ``field`` and a ``missing-field``);
* ``value-format``: a value in a format the docs do not show there (:mod:`harness.core.shapes`;
  null fits anywhere, section 7.2);
* ``message-text``: an error or subscription reply whose ``message`` differs from the
  documented text (section 6.1) or this project's wording for it (section 12);
* ``close-code``: a close code none of the docs' pages or section 12 name.

Findings are grouped (same check, event, field and format: one finding with a count and the
first record where it was seen), so the report stays short on a long file; memory is bounded by
the number of distinct findings (:data:`MAX_FINDINGS`), not by the file.
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.damage import DamageLog
from harness.core.documented import DOCUMENTED_SHAPES
from harness.core.envelopes import DEFAULT_ERROR_MESSAGES, SUBSCRIBED_MESSAGE, UNSUBSCRIBED_MESSAGE
from harness.core.profile import BehaviourProfile
from harness.core.recording import open_reader
from harness.core.records import Direction, WsClose, WsMessage
from harness.core.shapes import fields, format_fits, frame_key, parse_object
from harness.core.verify import with_offsets

MAX_FINDINGS = 1000
"""Distinct findings kept; beyond that only ``more`` counts them (constant memory)."""
MAX_EXAMPLE_CHARS = 80

NORMAL_CLOSE = 1000
"""RFC 6455 normal closure: what clients (and the recorder) close with."""


def documented_close_codes(profile: BehaviourProfile | None = None) -> frozenset[int]:
    """1000, and the section 12 closes: token expiry 4001, shutdown 1001, slow reader 1008."""
    p = profile or BehaviourProfile()
    return frozenset(
        {NORMAL_CLOSE, p.token_expired_close_code, p.shutdown_close_code, p.slow_reader_close_code}
    )


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^{}]*\}", template)
    return re.compile(".*".join(re.escape(part) for part in parts), re.DOTALL)


MESSAGE_PATTERNS: Mapping[str, re.Pattern[str]] = {
    **{f"error:{code}": _template_pattern(text) for code, text in DEFAULT_ERROR_MESSAGES.items()},
    "subscribed": re.compile(re.escape(SUBSCRIBED_MESSAGE)),
    "unsubscribed": re.compile(re.escape(UNSUBSCRIBED_MESSAGE)),
}
"""The documented (section 6.1) and section 12 message texts, placeholders as wildcards."""


class Finding(enum.StrEnum):
    EVENT_TYPE = "event-type"
    FIELD = "field"
    MISSING_FIELD = "missing-field"
    VALUE_FORMAT = "value-format"
    MESSAGE_TEXT = "message-text"
    CLOSE_CODE = "close-code"


@dataclass
class Deviation:
    """One finding: what, where first (record index, byte offset), how often, an example."""

    check: Finding
    key: str
    path: str = ""
    detail: str = ""
    count: int = 0
    index: int | None = None
    offset: int | None = None
    example: str = ""

    def describe(self) -> str:
        what = {
            Finding.EVENT_TYPE: f"{self.key}: not in the docs",
            Finding.FIELD: f"{self.key}: field {self.path} not in the docs",
            Finding.MISSING_FIELD: f"{self.key}: documented field {self.path} never seen",
            Finding.VALUE_FORMAT: f"{self.key}: {self.path} is {self.detail}, the docs show"
            f" {self.example}",
            Finding.MESSAGE_TEXT: f"{self.key}: message {self.detail}",
            Finding.CLOSE_CODE: f"close code {self.detail} not in the docs",
        }[self.check]
        return what

    def to_json(self) -> dict[str, Any]:
        return {
            "check": str(self.check),
            "key": self.key,
            "path": self.path,
            "detail": self.detail,
            "count": self.count,
            "index": self.index,
            "offset": self.offset,
            "example": self.example,
            "message": self.describe(),
        }


@dataclass
class CheckReport:
    """Everything ``check`` found in one file."""

    path: str
    frames: int = 0
    findings: dict[tuple[str, str, str, str], Deviation] = field(default_factory=dict)
    more: int = 0
    damage: DamageLog = field(default_factory=DamageLog)

    @property
    def ok(self) -> bool:
        return not self.findings and not self.more

    def sorted_findings(self) -> list[Deviation]:
        return sorted(self.findings.values(), key=lambda d: (d.index is None, d.index or 0))

    def add(self, deviation: Deviation, where: tuple[int, int | None]) -> None:
        key = (str(deviation.check), deviation.key, deviation.path, deviation.detail)
        found = self.findings.get(key)
        if found is None:
            if len(self.findings) >= MAX_FINDINGS:
                self.more += 1
                return
            deviation.index, deviation.offset = where
            found = self.findings[key] = deviation
        found.count += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "ok": self.ok,
            "frames": self.frames,
            "findings": [d.to_json() for d in self.sorted_findings()],
            "more": self.more,
            "damaged_stretches": self.damage.count,
        }


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= MAX_EXAMPLE_CHARS else text[: MAX_EXAMPLE_CHARS - 3] + "..."


class _Checker:
    def __init__(self, report: CheckReport, close_codes: frozenset[int]) -> None:
        self.report = report
        self.close_codes = close_codes
        self.seen: dict[str, set[str]] = {}

    def frame(self, obj: dict[str, Any], where: tuple[int, int | None]) -> None:
        key = frame_key(obj)
        shape = DOCUMENTED_SHAPES.get(key)
        if shape is None:
            self.report.add(Deviation(Finding.EVENT_TYPE, key, example=_show(obj)), where)
            return
        seen = self.seen.setdefault(key, set())
        for path, fmt, value in fields(obj):
            seen.add(path)
            documented = shape.get(path)
            if documented is None:
                deviation = Deviation(Finding.FIELD, key, path, example=_show(value))
                self.report.add(deviation, where)
            elif not format_fits(fmt, documented):
                shown = ", ".join(sorted(documented))
                deviation = Deviation(Finding.VALUE_FORMAT, key, path, fmt, example=shown)
                self.report.add(deviation, where)
        self._message(key, obj, where)

    def _message(self, key: str, obj: Mapping[str, Any], where: tuple[int, int | None]) -> None:
        message = obj.get("message")
        kind = key.removeprefix("reply/")
        name = f"error:{obj.get('code')}" if kind == "error" else kind
        pattern = MESSAGE_PATTERNS.get(name)
        if pattern is None or not isinstance(message, str) or pattern.fullmatch(message):
            return
        self.report.add(Deviation(Finding.MESSAGE_TEXT, key, "message", _show(message)), where)

    def close(self, record: WsClose, where: tuple[int, int | None]) -> None:
        if record.code is not None and record.code not in self.close_codes:
            detail = f"{record.code}" + (f" {record.reason!r}" if record.reason else "")
            self.report.add(Deviation(Finding.CLOSE_CODE, "close", detail=detail), where)

    def finish(self) -> None:
        for key, seen in self.seen.items():
            for path in DOCUMENTED_SHAPES[key]:
                if path not in seen:
                    self.report.add(Deviation(Finding.MISSING_FIELD, key, path), (-1, None))
        for deviation in self.report.findings.values():
            if deviation.index == -1:
                deviation.index = None


def check_recording(
    path: str | os.PathLike[str], *, profile: BehaviourProfile | None = None
) -> CheckReport:
    """Read ``path`` once and compare its live traffic with the docs (module docstring)."""
    with open_reader(path) as reader:
        report = CheckReport(os.fspath(path), damage=reader.damage)
        checker = _Checker(report, documented_close_codes(profile))
        for index, (offset, record) in enumerate(with_offsets(reader)):
            if isinstance(record, WsMessage):
                if record.direction is not Direction.SERVER_TO_CLIENT or not record.is_text:
                    continue
                obj = parse_object(record.payload)
                if obj is not None:  # not JSON at all: verify's finding
                    report.frames += 1
                    checker.frame(obj, (index, offset))
            elif isinstance(record, WsClose):
                checker.close(record, (index, offset))
        checker.finish()
    return report
