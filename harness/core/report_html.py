"""``harness report``: one self-contained HTML page picturing a recording.

Inline CSS and SVG only: no script, no font, image or style sheet fetched from anywhere, so the
page views offline and a recorded frame can never run in it.  Every recorded text (team names,
close reasons, header fields, event names) goes through :func:`html.escape`.

Sections: the ``info`` summary (:class:`~harness.core.inventory.Inventory`), the session (one
lane per connection with its close, renewals, reconnects), event rates over time per channel
with the longest silences shaded, and a timeline per match and channel with the MAIN-style
events (kick-off, goals, half time, full time) marked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

from harness.core.damage import DamageLog
from harness.core.durations import format_duration
from harness.core.inventory import Inventory
from harness.core.records import KIND_NAMES
from harness.core.safe_output import check_distinct, check_output, safe_output
from harness.core.session_picture import COLUMNS, LEAGUE_ROW, Picture, take_picture
from harness.errors import UsageError

WIDTH = 960
"""Width of every chart, in CSS pixels."""
LABEL = 230
"""Room for the row labels left of a timeline."""
COLOURS = {
    "MAIN": "#1f77b4",
    "MAIN_REALTIME": "#17becf",
    "STATS": "#2ca02c",
    "ODDS": "#d62728",
    "STATS_REALTIME": "#98df8a",
    "ODDS_REALTIME": "#ff9896",
}
MARKER_COLOURS = {
    "match_start": "#333",
    "goal": "#e6a100",
    "halftime": "#888",
    "second_half_start": "#888",
    "match_end": "#000",
}

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;
background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:4px 0}td,th{padding:2px 10px 2px 0;text-align:left;
vertical-align:top}th{font-weight:600;color:#555}td.n{text-align:right;font-variant-numeric:
tabular-nums}.muted{color:#777}.cols{display:flex;gap:40px;flex-wrap:wrap;align-items:flex-start}
svg{display:block;background:#fff;border:1px solid #e4e4e4;margin:2px 0}
svg text{font:11px system-ui,sans-serif;fill:#444}.warn{color:#b00}
.timeline th.match{padding-top:10px;white-space:nowrap}.timeline td{padding-top:0;
padding-bottom:0;white-space:nowrap}.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _x(picture: Picture, t_ns: int) -> float:
    span = max(picture.end_ns - picture.start_ns, 1)
    return round(max(0.0, min(1.0, (t_ns - picture.start_ns) / span)) * WIDTH, 1)


def _axis(picture: Picture, height: int) -> Iterator[str]:
    """Vertical grid lines with time labels (session time, as ``info`` and ``cat`` show it)."""
    span_s = (picture.end_ns - picture.start_ns) / 1e9
    step = next((s for s in (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200) if span_s / s <= 12),
                14_400)  # fmt: skip
    first = -(-picture.start_ns // (step * 10**9)) * step
    t = first
    while t * 1e9 <= picture.end_ns and t - first <= 14 * step:
        x = _x(picture, int(t * 1e9))
        yield f'<line x1="{x}" x2="{x}" y1="0" y2="{height}" stroke="#eee"/>'
        yield f'<text x="{x + 2}" y="{height - 3}">{_e(format_duration(t))}</text>'
        t += step


def _svg(height: int, body: Iterator[str] | list[str], label: str) -> str:
    return (
        f'<svg width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}"'
        f' role="img" aria-label="{_e(label)}">{"".join(body)}</svg>'
    )


def _summary(inv: Inventory, path: str) -> str:
    header = inv.header
    rows = [
        ("file", f"{path} ({inv.size_bytes:,} bytes)"),
        ("created", header.created_at),
        ("tool", f"{header.tool} {header.tool_version}"),
        ("redacted", "yes" if header.redacted else "NO"),
        ("duration", format_duration(inv.duration_ns / 1e9)),
        ("ending", "clean close (summary)" if inv.summary else "no summary (not closed cleanly)"),
        ("renewals", f"{inv.renew_calls} renew calls, {inv.renewal_notes} notes"),
    ]
    for key, value in header.source.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        rows.append((f"source {key}", text if len(text) <= 200 else text[:197] + "..."))
    first = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    kinds = "".join(
        f'<tr><td>{_e(name)}</td><td class="n">{inv.kinds[name]:,}</td></tr>'
        for name in KIND_NAMES.values()
        if inv.kinds[name]
    )
    events = "".join(
        f'<tr><td>{_e(channel)} {_e(event)}</td><td class="n">{count:,}</td>'
        f'<td class="n">{inv.distinct_events[(channel, event)]:,}</td></tr>'
        for (channel, event), count in sorted(inv.events.items())
    )
    damage = _damage(inv.damage)
    return (
        f'<div class="cols"><table>{first}</table>'
        f"<table><tr><th>records</th><th></th></tr>{kinds}</table>"
        f'<table><tr><th>event frames</th><th class="n">recorded</th><th class="n">distinct'
        f"</th></tr>{events}</table></div>{damage}"
    )


def _damage(damage: DamageLog) -> str:
    if not damage:
        return '<p class="muted">whole file: no damage</p>'
    return f'<p class="warn">damage: {_e(damage.describe())}</p>'


def _session(picture: Picture) -> str:
    lanes = sorted(picture.lanes.values(), key=lambda lane: lane.conn_id)
    height = 22 * len(lanes) + 40
    body = list(_axis(picture, height))
    for index, lane in enumerate(lanes):
        y = 8 + 22 * index
        x1 = _x(picture, lane.opened_ns)
        x2 = _x(picture, lane.closed_ns if lane.closed_ns is not None else picture.end_ns)
        colour = "#4c78a8" if lane.status == 101 else "#c44"
        what = f"connection #{lane.conn_id}: " + (
            f"closed {lane.close}" if lane.closed_ns is not None else "never closed"
        )
        body.append(
            f'<rect x="{x1}" y="{y}" width="{max(x2 - x1, 2)}" height="14" fill="{colour}"'
            f' opacity="0.75"><title>{_e(what)}</title></rect>'
            f'<text x="{x1 + 4}" y="{y + 11}" style="fill:#fff">#{lane.conn_id}</text>'
        )
        if lane.closed_ns is not None:
            x = min(x2 + 3, WIDTH - 160)
            close = lane.close if len(lane.close) <= 28 else lane.close[:27] + "\u2026"
            body.append(f'<text x="{x}" y="{y + 11}">{_e(close)}</text>')
    for t in picture.renewals:
        x = _x(picture, t)
        body.append(
            f'<line x1="{x}" x2="{x}" y1="0" y2="{height - 16}" stroke="#7b3fb8"'
            f' stroke-dasharray="3,2"><title>renewal at {_e(format_duration(t / 1e9))}</title>'
            "</line>"
        )
    for t in picture.reconnects:
        x = _x(picture, t)
        body.append(
            f'<path d="M{x - 5},{height - 18} L{x + 5},{height - 18} L{x},{height - 26} Z"'
            f' fill="#f58518"><title>reconnect at {_e(format_duration(t / 1e9))}</title></path>'
        )
    legend = (
        '<p class="legend"><span><i class="sw" style="background:#4c78a8"></i>connection open'
        '</span><span><i class="sw" style="background:#7b3fb8"></i>renewal (dashed)</span>'
        '<span><i class="sw" style="background:#f58518"></i>reconnect</span>'
        f"<span>{len(picture.renewals)} renewals, {len(picture.reconnects)} reconnects,"
        f" {len(lanes)} connections</span></p>"
    )
    return _svg(height, body, "connections, renewals and reconnects") + legend


def _rates(picture: Picture) -> str:
    parts = []
    width = WIDTH / COLUMNS
    column_s = (picture.end_ns - picture.start_ns) / 1e9 / COLUMNS
    window = max(1, min(COLUMNS, round(60 / column_s))) if column_s > 0 else 1
    for channel in sorted(picture.rates, key=_channel_order):
        counts = picture.rates[channel]
        top = max(counts) or 1
        height = 64
        body = list(_axis(picture, height))
        for duration, start in picture.gaps.get(channel, []):
            x1, x2 = _x(picture, start), _x(picture, start + duration)
            body.append(
                f'<rect x="{x1}" y="0" width="{max(x2 - x1, 1)}" height="{height - 14}"'
                f' fill="#fdd"><title>{_e(channel)}: silent for'
                f" {_e(format_duration(duration / 1e9))}</title></rect>"
            )
        colour = COLOURS.get(channel, "#555")
        for column, count in enumerate(counts):
            if count:
                bar = (height - 14) * count / top
                body.append(
                    f'<rect x="{column * width:.1f}" y="{height - 14 - bar:.1f}"'
                    f' width="{max(width - 0.3, 0.6):.1f}" height="{bar:.1f}" fill="{colour}"/>'
                )
        peak = _peak_per_minute(counts, window, column_s)
        gaps = sorted(picture.gaps.get(channel, []), reverse=True)
        longest = f"longest silence {format_duration(gaps[0][0] / 1e9)}" if gaps else "no gaps"
        parts.append(
            f'<p><b>{_e(channel)}</b> <span class="muted">{sum(counts):,} event frames, peak'
            f" {peak:,.1f}/min, {_e(longest)} (shaded)</span></p>"
            + _svg(height, body, f"{channel} events over time")
        )
    return "".join(parts) or '<p class="muted">no event frames</p>'


def _peak_per_minute(counts: list[int], window: int, column_s: float) -> float:
    """The most events in any minute (a sliding window of columns), per minute."""
    total = best = sum(counts[:window])
    for index in range(window, len(counts)):
        total += counts[index] - counts[index - window]
        best = max(best, total)
    return best * 60 / max(window * column_s, 60) if column_s > 0 else float(best)


def _channel_order(channel: str) -> int:
    return list(COLOURS).index(channel) if channel in COLOURS else len(COLOURS)


def _timeline(picture: Picture) -> str:
    def order(key: tuple[str, str]) -> tuple[bool, str, int]:
        match, channel = key
        label = picture.labels.get(match, match)
        return label.startswith(LEAGUE_ROW), label, _channel_order(channel)

    rows = sorted(picture.rows, key=order)
    width = WIDTH / COLUMNS
    out = [f"<tr><td></td><td></td><td>{_svg(18, _axis(picture, 18), 'time axis')}</td></tr>"]
    current: str | None = None
    for key in rows:
        match, channel = key
        row = picture.rows[key]
        colour = COLOURS.get(channel, "#555")
        body = [
            f'<rect x="{column * width:.1f}" y="3" width="{max(width, 1):.1f}" height="10"'
            f' fill="{colour}" opacity="0.55"/>'
            for column in sorted(row.columns)
        ]
        for marker in row.markers:
            x = _x(picture, marker.t_ns)
            fill = MARKER_COLOURS.get(marker.kind, "#000")
            radius = 5 if marker.kind == "goal" else 3.5
            body.append(
                f'<circle cx="{x}" cy="8" r="{radius}" fill="{fill}" stroke="#fff"'
                f' stroke-width="1"><title>{_e(marker.label)} at'
                f" {_e(format_duration(marker.t_ns / 1e9))}</title></circle>"
            )
        name = picture.labels.get(match, "")
        if (name or match) != current:
            current = name or match
            out.append(f'<tr><th colspan="3" class="match">{_e(current)}</th></tr>')
        out.append(
            f'<tr><td title="{_e(match)}">{_e(channel)}</td><td class="n">{row.events:,}</td>'
            f"<td>{_svg(16, body, f'{name or match} {channel}')}</td></tr>"
        )
    dropped = (
        f'<p class="muted">{picture.rows_dropped:,} events of further matches not drawn</p>'
        if picture.rows_dropped
        else ""
    )
    legend = "".join(
        f'<span><i class="sw" style="background:{c};border-radius:5px"></i>{_e(k)}</span>'
        for k, c in MARKER_COLOURS.items()
    )
    return f'<p class="legend">{legend}</p><table class="timeline">{"".join(out)}</table>{dropped}'


def render_report(picture: Picture) -> str:
    """The whole page for ``picture``."""
    title = f"Recording report: {os.path.basename(picture.path)}"
    span = format_duration((picture.end_ns - picture.start_ns) / 1e9)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="muted">times since the session start; {span} shown;'
        " hover a mark for details</p>"
        f"<h2>Summary</h2>{_summary(picture.inventory, picture.path)}"
        f"<h2>Session: connections, renewals, reconnects</h2>{_session(picture)}"
        f"<h2>Event rates over time</h2>{_rates(picture)}"
        f"<h2>Timeline per match and channel</h2>{_timeline(picture)}"
        "</body></html>\n"
    )


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What ``report`` wrote."""

    bytes_written: int
    rows: int
    damage: DamageLog


def write_report(
    source: str | os.PathLike[str], dest: str | os.PathLike[str], *, force: bool = False
) -> ReportResult:
    """Picture ``source`` (two streaming passes) and write the page to ``dest``."""
    check_distinct(source, dest, "report")
    check_output(dest, force=force)
    picture = take_picture(source)
    page = render_report(picture).encode("utf-8")
    with safe_output(dest, force=force) as stream:
        try:
            stream.write(page)
        except OSError as exc:
            raise UsageError(f"cannot write {os.fspath(dest)}: {exc.strerror}") from None
    return ReportResult(len(page), len(picture.rows), picture.inventory.damage)
