"""soccer-ws-harness: record and replay the Soccer Football API real-time feed for offline tests.

The top level re-exports the pure, I/O-free API: recordings (read, write, record types), the
protocol vocabulary and the replay schedule.  The I/O layers are their own packages:
:mod:`harness.server` (the mock server and its control API, on trio) and :mod:`harness.recorder`.
"""

from __future__ import annotations

from harness._version import __version__
from harness.core.damage import Damage, DamageLog
from harness.core.inventory import Inventory, take_inventory
from harness.core.jsonl import export_recording, import_recording
from harness.core.loading import LoadedRecording, load_recording
from harness.core.protocol import Channel, Plan, Scope, Topic
from harness.core.recording import (
    RecordingReader,
    RecordingWriter,
    TailDamage,
    open_reader,
    open_writer,
    read_recording,
)
from harness.core.records import (
    Direction,
    Header,
    HttpExchange,
    Initiator,
    Note,
    NoteKind,
    Record,
    Summary,
    WsClose,
    WsControl,
    WsMessage,
    WsOpen,
)
from harness.core.redact_file import RedactReport, redact_recording
from harness.core.schedule import Feed, ReplayOptions
from harness.core.transform import CopyReport, recover_recording
from harness.core.verify import VerifyReport, verify_recording
from harness.errors import (
    HarnessError,
    ProtocolViolation,
    RecorderError,
    RecordingFormatError,
    UsageError,
    WaitTimeout,
)
from harness.recordings import default_recording_path

__all__ = [
    "Channel",
    "CopyReport",
    "Damage",
    "DamageLog",
    "Direction",
    "Feed",
    "HarnessError",
    "Header",
    "HttpExchange",
    "Initiator",
    "Inventory",
    "LoadedRecording",
    "Note",
    "NoteKind",
    "Plan",
    "ProtocolViolation",
    "Record",
    "RecorderError",
    "RecordingFormatError",
    "RecordingReader",
    "RecordingWriter",
    "RedactReport",
    "ReplayOptions",
    "Scope",
    "Summary",
    "TailDamage",
    "Topic",
    "UsageError",
    "VerifyReport",
    "WaitTimeout",
    "WsClose",
    "WsControl",
    "WsMessage",
    "WsOpen",
    "__version__",
    "default_recording_path",
    "export_recording",
    "import_recording",
    "load_recording",
    "open_reader",
    "open_writer",
    "read_recording",
    "recover_recording",
    "redact_recording",
    "take_inventory",
    "verify_recording",
]
