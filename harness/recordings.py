"""Where the bundled default recording lives.

The wheel carries ``recordings/default.msgpack`` as ``harness/_data/default.msgpack``; an
editable install (a source checkout) has it in the repository's ``recordings/`` instead.  The
package copy wins, so an installed harness never depends on the current directory.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError

DEFAULT_RECORDING_NAME = "default.msgpack"
_PACKAGE_DIR = Path(__file__).resolve().parent


def default_recording_path() -> Path:
    """Path of the bundled synthetic recording (``harness synth`` with default options).

    Raises :class:`UsageError` when neither the package nor the source tree has it.
    """
    candidates = (
        _PACKAGE_DIR / "_data" / DEFAULT_RECORDING_NAME,
        _PACKAGE_DIR.parent / "recordings" / DEFAULT_RECORDING_NAME,
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UsageError(
        "the bundled default recording is missing; reinstall the package "
        "or run `harness synth -o recordings/default.msgpack` in the source tree"
    )
