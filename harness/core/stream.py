"""A given list of frames as a feed the mock serves, and as a recording replay plays back.

Used by ``soccer_server.play(frames)`` (:meth:`harness.server.MockServer.play`), by
:func:`harness.strategies.stream_feed`, and by ``harness fuzz`` (its generated frames, and
``--save``).  Every frame is kept as given, duplicates and garbage too: unlike a recording's
feed (:meth:`Feed.from_records`), nothing here was seen on several connections.

As a recording (:func:`stream_records`): one connection opened at time 0, a ``subscribe`` for
each channel the frames use (so the feed starts at 0, as ``Feed.from_records`` times it), then
each frame as a server message at its offset.  Replay keeps each recorded *event* frame once
(section 12 and :data:`~harness.core.schedule.DUPLICATE_WINDOW_NS`), so :func:`replay_losses`
says which frames of a stream a replay of its recording would not send again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.envelopes import compact_json
from harness.core.protocol import Channel, FrameInfo, Scope, Subscribe, Topic, classify_frame
from harness.core.protocol import encode_command as _encode
from harness.core.records import Direction, Initiator, Record, WsClose, WsMessage, WsOpen
from harness.core.schedule import Feed, FeedFrame
from harness.errors import UsageError

STREAM_WS_URL = "ws://127.0.0.1/?token=<WS_TOKEN_1>"
"""The connection a stream recording shows (the placeholder a redacted recording has)."""
END_GAP_NS = 1_000_000
"""A stream recording ends this long after its last frame."""


@dataclass(frozen=True, slots=True)
class StreamFrame:
    """One frame of a generated stream: its offset from the stream start and its JSON."""

    offset_s: float
    event: dict[str, Any]

    @property
    def payload(self) -> bytes:
        return compact_json(self.event)


@dataclass(frozen=True, slots=True)
class TimedFrame:
    """A frame's exact bytes and its offset from the stream start."""

    offset_s: float
    payload: bytes


Frame = StreamFrame | TimedFrame | dict[str, Any] | str | bytes
"""What :func:`frames_feed` takes: a stream or timed frame (its offset kept), or a frame as a
JSON object, text or UTF-8 bytes (due when the one before it is, 0 for the first)."""


def frame_bytes(frame: Frame, index: int = 0) -> bytes:
    """The bytes sent for ``frame``: compact JSON for an object, UTF-8 for text; bytes must be
    UTF-8 (the feed sends text frames)."""
    if isinstance(frame, StreamFrame):
        return frame.payload
    if isinstance(frame, TimedFrame):
        return frame_bytes(frame.payload, index)
    if isinstance(frame, dict):
        return compact_json(frame)
    if isinstance(frame, str):
        return frame.encode()
    if isinstance(frame, bytes | bytearray):
        data = bytes(frame)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(
                f"frame {index} is not UTF-8 text: the feed sends text frames"
            ) from None
        return data
    raise UsageError(f"frame {index} must be a dict, str or bytes, got {type(frame).__name__}")


def timed_frames(frames: Iterable[Frame]) -> list[tuple[int, bytes]]:
    """``(offset_ns, bytes)`` of each frame, in the order given; offsets never go back."""
    out: list[tuple[int, bytes]] = []
    offset = 0
    for index, frame in enumerate(frames):
        if isinstance(frame, StreamFrame | TimedFrame):
            offset = max(offset, round(frame.offset_s * 1e9))
        out.append((offset, frame_bytes(frame, index)))
    return out


def frames_feed(frames: Iterable[Frame]) -> Feed:
    """The frames as a feed, every one kept as given (duplicates and garbage too)."""
    return feed_of(timed_frames(frames))


def feed_of(frames: Sequence[tuple[int, bytes]], duration_ns: int = 0) -> Feed:
    """``(offset_ns, payload)`` pairs as a feed as they are (offsets must not go back)."""
    built = []
    for offset_ns, payload in frames:
        info = classify_frame(payload) or FrameInfo(type="")
        built.append(FeedFrame(offset_ns, payload, info))
    end = max((frame.offset_ns for frame in built), default=0)
    return Feed(tuple(built), max(end, duration_ns))


def stream_records(
    frames: Sequence[tuple[int, bytes]], *, end_ns: int | None = None
) -> list[Record]:
    """The frames as the records of a recording (see the module doc); no header, no summary."""
    channels = _channels(payload for _, payload in frames)
    records: list[Record] = [WsOpen(0, 1, STREAM_WS_URL, 101)]
    for channel in channels:
        command = _encode(Subscribe(Topic(channel, Scope.ALL)))
        records.append(WsMessage(0, 1, Direction.CLIENT_TO_SERVER, command.encode()))
    last = 0
    for offset_ns, payload in frames:
        records.append(WsMessage(offset_ns, 1, Direction.SERVER_TO_CLIENT, payload))
        last = max(last, offset_ns)
    end = max(last + END_GAP_NS, end_ns or 0)
    records.append(WsClose(end, 1, 1000, "", Initiator.CLIENT))
    return records


def _channels(payloads: Iterable[bytes]) -> list[Channel]:
    seen: set[Channel] = set()
    for payload in payloads:
        info = classify_frame(payload)
        if info is not None and info.channel is not None:
            seen.add(info.channel)
    return [channel for channel in Channel if channel in seen] or [Channel.MAIN]


def replay_losses(frames: Sequence[tuple[int, bytes]]) -> tuple[int, int]:
    """``(duplicates, not_events)``: frames a replay of :func:`stream_records` would not send
    again (exact duplicates within the dedup window; frames that are no event of a channel)."""
    replayed = len(Feed.from_records(stream_records(frames)).frames)
    not_events = sum(1 for _, payload in frames if not _is_event(payload))
    return len(frames) - not_events - replayed, not_events


def _is_event(payload: bytes) -> bool:
    info = classify_frame(payload)
    return info is not None and info.is_event
