"""Networking shared by the I/O layers: the one HTTP/1.1 front door the mock server and the
recording proxy both serve through (:mod:`harness.net.http`).  Below ``server`` and
``recorder``, above ``core``."""
