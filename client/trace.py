"""The frame recorder: every frame in and out, in the specs/ msgpack layout.

Writes a :mod:`codec.trace` stream (the layout of the golden corpus), so a
recorded conversation can be decoded with ``rmqwire decode FILE`` or replayed
by the conformance tests.  Used through the producer's ``trace=`` option or
the CLI's ``--record FILE``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import BinaryIO

from .codec.command import decode
from .codec.errors import CodecError
from .codec.trace import TraceRecord, expect_from_command, pack_records

__all__ = ["FrameRecorder"]

_HEADER = pack_records([])


class FrameRecorder:
    """Appends one trace record per frame to ``path`` (created or truncated)."""

    def __init__(self, path: str | os.PathLike[str], *, source: str = "recorded: rmqwire client") -> None:
        self.path = os.fspath(path)
        self._source = source
        self._lock = threading.Lock()
        self._seq = 0
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._file.write(_HEADER)
        self._file.flush()

    def observe(self, direction: str, role: str, addr: str, frame: bytes) -> None:
        """A :data:`~client.transport.FrameObserver`: record one frame."""
        try:
            expect = expect_from_command(decode(frame))
            error = None
        except CodecError as exc:
            expect, error = None, type(exc).__name__
        with self._lock:
            if self._file is None:
                return
            self._seq += 1
            record = TraceRecord(
                seq=self._seq,
                direction="client->server" if direction == "out" else "server->client",
                role=role,
                wire=bytes(frame),
                provenance={"source": self._source, "peer": addr, "time": round(time.time(), 3)},
                expect=expect,
                error=error,
            )
            try:
                packed = pack_records([record])
            except CodecError as exc:
                # e.g. a JSON "\\ud800" escape decodes to a lone surrogate that
                # msgpack cannot hold: keep the raw frame, note why
                record = TraceRecord(
                    seq=record.seq, direction=record.direction, role=role, wire=record.wire,
                    provenance=record.provenance, error=type(exc).__name__, note=f"decoded fields not recordable: {exc}",
                )
                packed = pack_records([record])
            self._file.write(packed[len(_HEADER) :])
            self._file.flush()

    def close(self) -> None:
        """Close the file; later frames are ignored."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
