"""``docs/protocol.md`` and ``fixtures/`` agree, and the docs are the shared spec's copy.

Every JSON object in a ```json block of the docs has a fixture file with equal parsed JSON.  A
block is one JSON value, or one object per line (the constructed MAIN events, the subscribe
examples).  The only block exempt is the generic command skeleton, listed below by value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "protocol.md"
SHARED_SPEC = ROOT.parent / "shared" / "PROTOCOL.md"
FIXTURES = ROOT / "fixtures"

NOT_A_MESSAGE: list[Any] = [
    {"action": "command_name", "...": "additional fields"},  # section 6: the format, not a frame
]

_BLOCK = re.compile(r"^```json\n(.*?)^```", re.MULTILINE | re.DOTALL)


def doc_objects(markdown: str) -> list[Any]:
    """The JSON values of every ```json block, splitting one-object-per-line blocks."""
    values: list[Any] = []
    for block in _BLOCK.findall(markdown):
        try:
            values.append(json.loads(block))
        except ValueError:
            values.extend(json.loads(line) for line in block.splitlines() if line.strip())
    return values


def fixture_values() -> list[Any]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.rglob("*.json"))]


def test_block_splitting() -> None:
    markdown = '```json\n{"a": 1}\n{"b": 2}\n```\ntext\n```json\n{\n  "c": [1]\n}\n```\n'
    assert doc_objects(markdown) == [{"a": 1}, {"b": 2}, {"c": [1]}]


def test_the_docs_have_json_examples() -> None:
    assert len(doc_objects(DOCS.read_text(encoding="utf-8"))) >= 20


@pytest.mark.parametrize(
    "value",
    doc_objects(DOCS.read_text(encoding="utf-8")),
    ids=lambda value: json.dumps(value)[:60],
)
def test_every_documented_json_example_has_a_fixture(value: Any) -> None:
    if value in NOT_A_MESSAGE:
        return
    assert value in fixture_values(), f"no fixture equals {json.dumps(value)[:200]}"


def test_allow_list_entries_are_still_in_the_docs() -> None:
    documented = doc_objects(DOCS.read_text(encoding="utf-8"))
    assert all(value in documented for value in NOT_A_MESSAGE)


@pytest.mark.skipif(not SHARED_SPEC.exists(), reason="no shared PROTOCOL.md next to the repo")
def test_docs_equal_the_shared_spec() -> None:
    assert DOCS.read_bytes() == SHARED_SPEC.read_bytes(), (
        "docs/protocol.md differs from ../shared/PROTOCOL.md"
    )
