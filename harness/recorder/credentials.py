"""Where a recording session's API token comes from: the environment, never the command line.

One home for the variable names and their rules, shared by ``harness record`` and the pytest
plugin's record modes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness.core.redact import MIN_SECRET_LENGTH
from harness.errors import UsageError

TOKEN_ENV = "SOCCERFOOTBALL_API_TOKEN"
"""The direct API's token (``?t=``)."""
RAPIDAPI_ENV = "RAPIDAPI_KEY"
"""The RapidAPI key (``X-RapidAPI-Key``)."""


def api_token_from_env(*, rapidapi: bool, environ: Mapping[str, str] | None = None) -> str:
    """The token of the chosen mode; one clear :class:`UsageError` when it is missing or too
    short to be redacted safely."""
    name = RAPIDAPI_ENV if rapidapi else TOKEN_ENV
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise UsageError(f"no API token: set {name} in the environment (never on the command line)")
    return _checked(name, value)


def upstream_credentials(environ: Mapping[str, str]) -> tuple[str, bool]:
    """(API token, RapidAPI?): ``$SOCCERFOOTBALL_API_TOKEN``, else ``$RAPIDAPI_KEY``."""
    for name, rapidapi in ((TOKEN_ENV, False), (RAPIDAPI_ENV, True)):
        value = environ.get(name, "").strip()
        if value:
            return _checked(name, value), rapidapi
    raise UsageError(f"no API token: set ${TOKEN_ENV} (or ${RAPIDAPI_ENV}) in the environment")


def _checked(name: str, value: str) -> str:
    if len(value) < MIN_SECRET_LENGTH:
        raise UsageError(f"{name} is too short to be an API token (it could not be redacted)")
    return value
