"""Stream framing: splitting and decoding 1 MiB of back-to-back frames.

* ``framedecoder``: one ``FrameDecoder.feed`` of the whole buffer;
* ``framedecoder-64KiB``: the same buffer fed in 64 KiB reads, as a socket
  delivers it;
* ``parse-only``: the bound parser on every frame at offsets known in
  advance: decoding without splitting.  ``framedecoder`` minus this is the
  split overhead per frame (target: at most 0.5 µs);
* ``reference``: benches/reference.py's hand-written splitter and decoder.

``report.py`` divides each time by ``extra_info["frames"]``.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from rmqwire.codec import FrameDecoder
from rmqwire.codec.command import COMMAND_CODEC

from . import reference
from .cases import stream_buffer

BUFFER, FRAMES = stream_buffer()
CHUNK = 64 * 1024


def _offsets(buffer: bytes) -> list[tuple[int, int]]:
    out, pos = [], 0
    while pos < len(buffer):
        stop = pos + 4 + struct.unpack_from(">i", buffer, pos)[0]
        out.append((pos, stop))
        pos = stop
    return out


OFFSETS = _offsets(BUFFER)


def _feed_whole(buffer: bytes) -> list[Any]:
    return FrameDecoder().feed(buffer)


def _feed_chunks(buffer: bytes) -> list[Any]:
    decoder = FrameDecoder()
    out: list[Any] = []
    for start in range(0, len(buffer), CHUNK):
        out += decoder.feed(buffer[start : start + CHUNK])
    return out


def _parse_only(buffer: bytes) -> list[Any]:
    parse = COMMAND_CODEC.parse_at
    return [parse(buffer, pos, stop)[0] for pos, stop in OFFSETS]


STREAMERS = {
    "framedecoder": _feed_whole,
    "framedecoder-64KiB": _feed_chunks,
    "parse-only": _parse_only,
    "reference": reference.split,
}
EXPECTED = reference.split(BUFFER)


@pytest.mark.parametrize("impl", list(STREAMERS))
def test_stream(benchmark: Any, impl: str) -> None:
    benchmark.group = "stream 1 MiB"
    benchmark.extra_info.update(case="stream-1MiB", op="stream", impl=impl, frames=FRAMES, bytes=len(BUFFER))
    commands = benchmark(STREAMERS[impl], BUFFER)
    assert len(commands) == FRAMES == len(OFFSETS)
    assert commands == EXPECTED
