"""The core knows no sockets: importing every ``harness.core`` module never imports trio."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import harness.core


def test_core_modules_never_import_io_libraries() -> None:
    names = [m.name for m in pkgutil.iter_modules(harness.core.__path__, "harness.core.")]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in ('trio', 'trio_websocket', 'httpx', 'socket', 'asyncio')"
        " if m in sys.modules and m != 'socket')\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert names, "harness.core has no modules"
    assert out.stdout.strip() == ""
