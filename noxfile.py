"""Developer tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True

PYTHON = os.environ.get("HARNESS_NOX_PYTHON") or None


def _install(session: nox.Session, *extras: str) -> None:
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install(spec)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (loopback networking only, hypothesis under the CI profile), then
    the server tests again with every feed streamed from disk."""
    _install(session, "test", "bench")
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": "ci"},
    )
    if not session.posargs:  # the server tests again, every feed read from disk as it plays
        session.run(
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-m",
            "not slow",
            "tests/io",
            env={"HYPOTHESIS_PROFILE": "ci", "HARNESS_TEST_STREAMED": "1"},
        )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting check."""
    session.install("ruff")
    session.run("ruff", "check", "harness", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "harness", "tests", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, its tests and benchmarks."""
    _install(session, "test", "bench")
    session.install("mypy", "nox")
    session.run("mypy", "harness", "tests", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: figures and ratios against a baseline measured in the same run."""
    _install(session, "test", "bench")
    session.run("python", "-m", "benchmarks", *session.posargs)
