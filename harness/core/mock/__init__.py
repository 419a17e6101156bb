"""The mock server's pure logic: the REST API, the token table, one WebSocket session.

No sockets and no clock: :mod:`harness.server` drives these with requests, frames and ``now``.
"""
