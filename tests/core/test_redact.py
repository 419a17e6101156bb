"""Redaction: secrets become stable placeholders in every field and every spelling."""

from __future__ import annotations

import base64
import json
import string
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Note,
    Record,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.core.redact import MIN_SECRET_LENGTH, Redactor, is_placeholder, secret_forms
from harness.errors import UsageError
from tests.spellings import spellings

API = "api-secret-0123456789"
WS = "wstoken/with+odd=chars"


def token_answer(token: str, server: str) -> bytes:
    result = [
        {"is_new": True, "token": token, "server": server, "expires_at": "2030-01-01 00:00:00"}
    ]
    return json.dumps({"status": 200, "errors": [], "pagination": [], "result": result}).encode()


def test_same_secret_always_gets_the_same_placeholder() -> None:
    redactor = Redactor([API])
    assert redactor.add_secret(API) == "<API_TOKEN>"
    first = redactor.add_secret("ws-one-1234", kind="WS_TOKEN")
    second = redactor.add_secret("ws-two-5678", kind="WS_TOKEN")
    assert (first, second) == ("<WS_TOKEN_1>", "<WS_TOKEN_2>")
    assert redactor.add_secret("ws-one-1234", kind="WS_TOKEN") == "<WS_TOKEN_1>"
    assert redactor.scrub_text("a ws-two-5678 b ws-one-1234") == "a <WS_TOKEN_2> b <WS_TOKEN_1>"


def test_url_encoded_and_json_escaped_forms_are_replaced() -> None:
    redactor = Redactor()
    redactor.add_secret(WS, kind="WS_TOKEN")
    text = f"raw={WS} url={quote(WS, safe='')} json={json.dumps(WS)}"
    scrubbed = redactor.scrub_text(text)
    for form in secret_forms(WS):
        assert form not in scrubbed
    assert scrubbed.count("<WS_TOKEN_1>") == 3


def test_token_answer_teaches_ws_token_before_it_is_written() -> None:
    # Given an answer to /v1/ws/new carrying a fresh WS token in `token` and in `server`
    redactor = Redactor([API])
    body = token_answer("fresh-ws-token-42", "wss://ws-eu.example/?token=fresh-ws-token-42")
    exchange = HttpExchange(
        5,
        "GET",
        f"https://api.example/v1/ws/new/?t={API}",
        200,
        body,
        request_headers=(("x-rapidapi-key", API),),
    )
    # When the record is redacted
    clean = redactor.redact(exchange)
    # Then neither secret remains anywhere, and the placeholders are stable
    dumped = repr(clean.fields()).encode()
    assert API.encode() not in dumped
    assert b"fresh-ws-token-42" not in dumped
    assert "?t=<API_TOKEN>" in clean.url
    assert b'"token": "<WS_TOKEN_1>"' in clean.body
    assert clean.request_headers == (("x-rapidapi-key", "<API_TOKEN>"),)


def test_tokens_in_urls_and_headers_are_learned() -> None:
    redactor = Redactor()
    redactor.learn_url("wss://ws/?token=learned-ws-1")
    redactor.learn_url("https://api/v1/ws/new/?t=learned-api-1")
    redactor.learn_headers([("X-RapidAPI-Key", "learned-rapid-1"), ("Accept", "json")])
    assert redactor.placeholders == {
        "learned-ws-1": "<WS_TOKEN_1>",
        "learned-api-1": "<API_TOKEN>",
        "learned-rapid-1": "<API_TOKEN_2>",
    }


def test_every_record_kind_is_scrubbed_in_every_field() -> None:
    redactor = Redactor([API])
    records: list[Record] = [
        WsOpen(1, 1, f"ws://h/?token={API}", 401, error=f"bad {API}"),
        WsMessage(2, 1, Direction.SERVER_TO_CLIENT, f'{{"echo":"{API}"}}'.encode()),
        WsClose(3, 1, 4001, f"token {API} expired", Initiator.SERVER),
        Note(
            4,
            "renewal",
            f"renewed {API}",
            {"token": API, "nested": [API, {API: b"x" + API.encode()}]},
        ),
    ]
    for record in records:
        clean = redactor.scrub_record(record)
        assert API not in repr(clean.fields())
        assert type(clean) is type(record)


def test_clean_records_are_returned_unchanged() -> None:
    redactor = Redactor([API])
    message = WsMessage(1, 1, Direction.SERVER_TO_CLIENT, b'{"type":"goal"}')
    assert redactor.scrub_record(message) is message
    note = Note(1, "x", "nothing secret", {"a": 1})
    assert redactor.scrub_record(note) is note


def test_header_source_is_scrubbed_and_marked_redacted() -> None:
    redactor = Redactor([API])
    header = Header(
        "2024-01-01T00:00:00+00:00", "t", "0", {"api_base": f"http://x/?t={API}"}, redacted=False
    )
    clean = redactor.scrub_header(header)
    assert clean.redacted is True
    assert clean.source == {"api_base": "http://x/?t=<API_TOKEN>"}


def test_placeholders_are_never_learned_again() -> None:
    redactor = Redactor()
    redactor.learn_url("ws://h/?token=%3CWS_TOKEN_1%3E&t=<API_TOKEN>")
    assert redactor.placeholders == {}
    assert is_placeholder("<WS_TOKEN_12>")
    assert not is_placeholder("WS_TOKEN")


def test_short_user_secret_is_a_usage_error_and_short_learned_one_ignored() -> None:
    with pytest.raises(UsageError, match="too short"):
        Redactor(["abc"])
    redactor = Redactor()
    assert redactor.add_secret("ab", kind="WS_TOKEN") == ""
    assert redactor.scrub_text("ab") == "ab"


def test_longer_secret_containing_a_shorter_one_is_replaced_whole() -> None:
    redactor = Redactor(["abcd1234"])
    redactor.add_secret("abcd1234efgh", kind="WS_TOKEN")
    assert redactor.scrub_text("x abcd1234efgh y abcd1234") == "x <WS_TOKEN_1> y <API_TOKEN>"


secrets = st.text(alphabet="0123456789abcdef", min_size=8, max_size=40)


@given(secret=secrets, pieces=st.lists(st.text(max_size=20), min_size=4, max_size=4))
def test_secret_never_survives_in_any_spelling(secret: str, pieces: list[str]) -> None:
    redactor = Redactor([secret])
    a, b, c, d = pieces
    text = f"{a}{secret}{b}{quote(secret)}{c}{json.dumps(secret)}{d}"
    assert secret not in redactor.scrub_text(text)
    assert secret.encode() not in redactor.scrub_bytes(text.encode())


# --- every spelling the README promises ------------------------------------------------------

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_.~+/="
tokens = st.text(alphabet=TOKEN_ALPHABET, min_size=MIN_SECRET_LENGTH, max_size=48)


@given(
    token=tokens,
    escape=st.lists(st.booleans(), min_size=48, max_size=48),
    upper=st.lists(st.booleans(), min_size=48, max_size=48),
    filler=st.lists(st.text(max_size=12), min_size=14, max_size=14),
)
def test_no_spelling_of_a_random_token_survives(
    token: str, escape: list[bool], upper: list[bool], filler: list[str]
) -> None:
    redactor = Redactor([token])
    forms = spellings(token, escape, upper)
    text = filler[0] + "".join(form + pad for form, pad in zip(forms, filler[1:], strict=False))
    for scrubbed in (redactor.scrub_text(text), redactor.scrub_bytes(text.encode()).decode()):
        for form in forms:
            assert form not in scrubbed, form
        assert scrubbed.count("<API_TOKEN>") >= len(forms) - 1  # a form may swallow a neighbour


@pytest.mark.parametrize(
    ("spelled", "label"),
    [
        ("abc\\/def-1234", "json slash escape"),
        ("\\u0061bc/\\u0064EF-1234", "json u-escape, mixed case"),
        ("abc%2fdef-1234", "lowercase percent"),
        ("abc%252Fdef-1234", "double URL-encoded"),
        ("ABC/DEF-1234", "upper case"),
        (base64.b64encode(b"abc/def-1234").decode(), "base64"),
        (base64.urlsafe_b64encode(b"abc/def-1234").decode().rstrip("="), "urlsafe, unpadded"),
    ],
)
def test_each_spelling_is_redacted(spelled: str, label: str) -> None:
    redactor = Redactor(["abc/def-1234"])
    assert redactor.scrub_text(f"x {spelled} y") == "x <API_TOKEN> y", label


def test_a_frame_without_secret_is_returned_as_the_same_object() -> None:
    redactor = Redactor([API])
    frame = b'{"type":"goal","home":"R\\u00e9al %41 Madrid","x":"a+b"}'
    assert redactor.scrub_bytes(frame) is frame


def test_credentials_in_a_server_url_are_learned() -> None:
    redactor = Redactor()
    redactor.learn_url("wss://alice-user:s3cr3t-pass@ws.example/?token=ws-tok-1&sig=abcdef123456")
    scrubbed = redactor.scrub_text(
        "wss://alice-user:s3cr3t-pass@ws.example/?token=ws-tok-1&sig=abcdef123456"
    )
    for secret in ("alice-user", "s3cr3t-pass", "ws-tok-1", "abcdef123456"):
        assert secret not in scrubbed
    assert "<CREDENTIAL_" in scrubbed


def test_a_token_answer_server_url_with_credentials_is_scrubbed() -> None:
    redactor = Redactor([API])
    body = token_answer("ws-token-9876", "wss://u1:pw-9999@ws/?token=ws-token-9876&Signature=zz99")
    clean = redactor.redact(HttpExchange(1, "GET", f"http://a/v1/ws/new/?t={API}", 200, body))
    for secret in (b"ws-token-9876", b"pw-9999", b"zz99"):
        assert secret not in clean.body
