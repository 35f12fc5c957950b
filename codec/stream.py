"""``FrameDecoder``: splits a byte stream into RemotingCommands.

Mirrors Netty's ``LengthFieldBasedFrameDecoder(maxFrameLength, 0, 4, 0, 4)``
as ``NettyDecoder`` configures it: the 4-byte length counts what follows it,
and a length over the limit fails before any of the frame is buffered.
Incremental and sans-I/O: feed it whatever the transport read, one byte at a
time if need be.
"""

from __future__ import annotations

import struct

from .command import COMMAND_CODEC, RemotingCommand
from .errors import CodecError, ConfigError, FrameError, FrameTooLargeError, MalformedHeaderError

__all__ = ["FrameDecoder", "DEFAULT_MAX_FRAME_SIZE"]

#: Netty's default ``com.rocketmq.remoting.frameMaxLength``, length field included.
DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024

_LENGTH = struct.Struct(">i")


class FrameDecoder:
    """Incremental frame splitter and decoder.

    ``feed(data)`` returns every command completed by ``data`` (possibly none).
    A frame whose declared size (length field included) exceeds
    ``max_frame_size`` raises :class:`~codec.errors.FrameTooLargeError` as
    soon as its 4-byte length is seen; a negative length raises
    :class:`~codec.errors.FrameError`.  After an error the stream is out of
    sync and the decoder refuses further input: close the connection, as
    Java does.  Whole frames that came in the same ``data`` before the bad
    one are not returned; their requests fail with the closed connection.
    """

    __slots__ = ("max_frame_size", "_buffer", "_failed")

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        if type(max_frame_size) is not int or max_frame_size < 8:
            raise ConfigError(f"max_frame_size must be an int of at least 8 bytes, not {max_frame_size!r}")
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._failed: CodecError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[RemotingCommand]:
        """Add ``data`` and return the commands it completes, in order."""
        if self._failed is not None:
            raise FrameError(f"decoder is unusable after an earlier error: {self._failed}")
        buf = self._buffer
        if buf or type(data) is not bytes:
            buf += data
            source: bytes | bytearray = buf
            view = b""  # an immutable copy of buf, made once a whole frame is there
        else:
            # Nothing held over and the caller's bytes are immutable: read
            # them in place, and keep a copy of only what is left of them.
            source = view = data
        size = len(source)
        out: list[RemotingCommand] = []
        pos = 0
        if size >= 4:
            parse = COMMAND_CODEC.parse_at
            append = out.append
            limit = self.max_frame_size - 4
            try:
                while size - pos >= 4:
                    (length,) = _LENGTH.unpack_from(source, pos)
                    if not 0 <= length <= limit:
                        if length < 0:
                            raise FrameError(f"negative frame length {length}")
                        raise FrameTooLargeError(length + 4, self.max_frame_size)
                    stop = pos + 4 + length
                    if stop > size:
                        break
                    if not view:
                        view = bytes(buf)
                    try:
                        cmd, _ = parse(view, pos, stop, None)
                    except CodecError:
                        raise
                    except (struct.error, IndexError, KeyError, ValueError, TypeError, RecursionError) as exc:  # pragma: no cover
                        raise MalformedHeaderError(f"undecodable frame: {exc!r}") from None
                    append(cmd)
                    pos = stop
            except CodecError as exc:
                self._failed = exc
                buf.clear()
                raise
        if source is buf:
            if pos:
                del buf[:pos]
        elif pos < size:
            buf += data[pos:]
        return out
