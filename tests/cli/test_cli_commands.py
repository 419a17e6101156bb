"""Sub-commands are imported on first use: the registry names every command of every module."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import harness.cli
from harness.cli import COMMAND_MODULES


def test_every_command_of_every_module_is_registered() -> None:
    found = {}
    for module_info in pkgutil.iter_modules(harness.cli.__path__):
        module = importlib.import_module(f"harness.cli.{module_info.name}")
        for command in getattr(module, "COMMANDS", []):
            found[command.name] = module_info.name
    assert found == COMMAND_MODULES


def test_info_starts_without_the_server_or_the_recorder() -> None:
    code = (
        "import sys\nfrom harness.cli import main\n"
        "main(['info', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('harness.server', 'harness.recorder',"
        " 'trio'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("[]")
