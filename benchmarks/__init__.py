"""Benchmarks, run by ``nox -s bench``: each prints figures and ratios against a baseline."""
