"""``harness report``: a self-contained page, every recorded text escaped, rendered by Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness import default_recording_path
from harness.cli import main
from harness.core.recording import open_writer
from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Note,
    WsClose,
    WsMessage,
    WsOpen,
)
from harness.core.report_html import write_report

BUNDLED = default_recording_path()
S = 1_000_000_000
SCRIPT = "<script>document.title='pwned'</script>"
IMG = "</svg><img src=x onerror=alert(1)>"


def _hostile(path: Path) -> Path:
    """A recording whose every text field tries to break out of the page."""
    header = Header("2024-01-15T14:00:00Z", "hand <b>made</b>", "1", {"note": SCRIPT})
    start = {
        "type": "match_start", "channel": "MAIN", "matchId": "m<1>", "leagueId": "l&1",
        "ts": 1, "data": {"teamA": {"id": "1", "name": SCRIPT}, "teamB": {"id": "2", "name": IMG}},
    }  # fmt: skip
    goal = {**start, "type": "goal", "data": {"score": "1;0", "timer": SCRIPT, "team": "A"}}
    with open_writer(path, header) as writer:
        writer.add(HttpExchange(0, "GET", "https://x/v1/ws/new/?t=<T>", 200))
        writer.add(WsOpen(1 * S, 1, "wss://x/?token=<T>", 101))
        sub = b'{"action":"subscribe","channel":"MAIN","scope":"all"}'
        writer.add(WsMessage(2 * S, 1, Direction.CLIENT_TO_SERVER, sub))
        for t, frame in ((3, start), (60, goal), (61, {**goal, "type": SCRIPT})):
            writer.add(WsMessage(t * S, 1, Direction.SERVER_TO_CLIENT, json.dumps(frame).encode()))
        writer.add(HttpExchange(70 * S, "GET", "https://x/v1/ws/renew/?t=<T>", 200))
        writer.add(Note(80 * S, "reconnect", SCRIPT, {"slot": 0}))
        writer.add(WsClose(90 * S, 1, 4002, SCRIPT, Initiator.SERVER))
    return path


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.add(tag)
        self.attributes.update(name for name, _ in attrs)


def test_every_recorded_text_is_escaped_and_nothing_is_fetched(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    write_report(_hostile(tmp_path / "h.msgpack"), out)
    page = out.read_text()
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page
    assert "hand &lt;b&gt;made&lt;/b&gt;" in page
    # Self-contained: no element or attribute loads anything (recorded URLs are only text)
    tags = _Tags()
    tags.feed(page)
    assert not tags.found & {"script", "img", "link", "iframe", "object", "embed", "image"}
    assert not tags.attributes & {"src", "href", "srcset", "xlink:href", "onerror", "onload"}
    assert "url(" not in page
    assert "@import" not in page
    assert "Content-Security-Policy" in page


def test_report_on_the_bundled_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    code = main(["report", str(BUNDLED), "-o", str(out)])
    _, err = capsys.readouterr()
    assert code == 0
    assert err.startswith(f"harness report: wrote {out}: ")
    assert err.endswith(" bytes, 38 match/channel rows\n")
    page = out.read_text()
    for section in ("Summary", "Session: connections", "Event rates over time", "Timeline per"):
        assert f"<h2>{section}" in page
    assert "Stade Brestois 29 v Olympique de Marseille" in page
    assert page.count("renewal at") == 5
    assert main(["report", str(BUNDLED), "-o", str(out)]) == 2  # exists: refused
    assert "--force" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "x.html")]) == 1
    assert "no such file" in capsys.readouterr().err


def _chromium() -> str | None:
    return next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no Chromium on PATH (apt-get install chromium)")
def test_chromium_renders_the_page_and_runs_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    write_report(_hostile(tmp_path / "h.msgpack"), out)
    browser = [_chromium() or "", "--headless", "--no-sandbox", "--disable-gpu"]
    dom = subprocess.run(
        [*browser, "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    ).stdout
    assert "<title>Recording report: h.msgpack</title>" in dom  # no script changed the title
    assert "<script" not in dom
    assert dom.count("<svg") >= 4
    shot = tmp_path / "r.png"
    subprocess.run(
        [*browser, "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}",
         out.as_uri()], capture_output=True, timeout=90, check=True,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
