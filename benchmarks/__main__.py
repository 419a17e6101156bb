"""Run every benchmark: ``python -m benchmarks [--quick]``."""

from __future__ import annotations

import argparse

BENCHMARKS: list[str] = [
    "info",
    "plugin_start",
    "recorder",
    "recording_io",
    "replay_start",
    "server_parking",
    "server_throughput",
    "server_timing",
    "stress",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check they run")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = parser.parse_args()
    import importlib

    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        module.run(quick=args.quick)


if __name__ == "__main__":
    main()
