"""Server->client WebSocket frames built once, as bytes, for every subscriber (RFC 6455 5.2).

The hot path of replay writes the same recorded frame to many clients, so its wire bytes are
built once per frame (never once per client): FIN + opcode, the payload length in the shortest
encoding, no mask (RFC 6455 5.1: a server never masks) and the payload.  No extension is
negotiated (the handshake offers none back), so the RSV bits stay clear.  Control frames that
change connection state (close) go through wsproto instead.
"""

from __future__ import annotations

import struct
from typing import Any

from harness.core.envelopes import compact_json

OPCODE_TEXT = 0x1
_FIN = 0x80


def data_frame(payload: bytes, *, opcode: int = OPCODE_TEXT) -> bytes:
    """The complete unmasked frame carrying ``payload`` as one message."""
    length = len(payload)
    first = _FIN | opcode
    if length < 126:
        header = struct.pack("!BB", first, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, 126, length)
    else:
        header = struct.pack("!BBQ", first, 127, length)
    return header + payload


def text_frame(payload: bytes | str) -> bytes:
    """A text frame; ``payload`` is sent byte-for-byte (recorded frames are UTF-8 already)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return data_frame(data)


def reply_frame(obj: Any) -> bytes:
    """A text frame holding ``obj`` as compact JSON (live replies: subscribed, pong, error)."""
    return data_frame(compact_json(obj))


def split_frames(data: bytes) -> list[bytes]:
    """The server frames joined in ``data``, one each (unmasked, as :func:`data_frame` and
    wsproto write them): for pacing frames one by one under a fault."""
    frames = []
    start = 0
    while start < len(data):
        length = data[start + 1] & 0x7F
        header = 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, start + 2)
            header = 4
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, start + 2)
            header = 10
        end = start + header + length
        frames.append(data[start:end])
        start = end
    return frames
