"""The recording format's table of note kinds is the one the code writes."""

from __future__ import annotations

import re
from pathlib import Path

from harness.core.records import NoteKind

FORMAT_DOC = Path(__file__).parents[2] / "docs" / "recording-format.md"


def _documented_kinds() -> list[str]:
    text = FORMAT_DOC.read_text(encoding="utf-8")
    section = text.split("### Note kinds", 1)[1].split("\n\n|", 1)[1]
    rows = section.split("\n\n", 1)[0].splitlines()[2:]
    return [re.match(r"\| `([^`]+)` \|", row).group(1) for row in rows]  # type: ignore[union-attr]


def test_the_doc_lists_every_note_kind_in_the_enum_order() -> None:
    assert _documented_kinds() == [kind.value for kind in NoteKind]
