"""Benchmarks (pytest-benchmark): ``make bench`` runs them, ``make test`` runs
them once with ``--benchmark-disable`` so that they stay correct.  A package
so that its module names never collide with ``tests/``."""
