"""Fixtures shared by the benchmarks.

Every benchmark records what it measured in ``benchmark.extra_info`` (case,
op, impl, and for the stream benchmarks the number of frames), which is all
``benches/report.py`` reads: names and groups are only for people.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import rmqwire.codec.json_header
from rmqwire import codec


@pytest.fixture
def stdlib_json() -> Iterator[None]:
    """Run with the stdlib JSON path even when orjson is installed."""
    was = codec.json_header._fast_loads is not None
    codec.json_header._use_fast_json(False)
    try:
        yield
    finally:
        codec.json_header._use_fast_json(was)

