"""``sysFlag`` and body compression.

Mirrors ``MessageSysFlag`` and ``DefaultMQProducerImpl.tryToCompressMessage`` /
``ZlibCompressor``: which bits of ``sysFlag`` say a body is compressed and
how, zlib as ``java.util.zip.Deflater`` writes it, and a bounded inflate so
that a hostile body never costs more memory than the caller allows.
Part of :mod:`codec.message`, which re-exports every public name here.
"""

from __future__ import annotations

import enum
import sys
import zlib
from typing import Final

from .errors import EncodeError, MalformedBodyError
from .properties import _bytes_like

__all__ = [
    "MessageSysFlag",
    "COMPRESS_OVER_DEFAULT",
    "COMPRESS_LEVEL_DEFAULT",
    "compress_body",
    "decompress_body",
]


class MessageSysFlag(enum.IntFlag):
    """``MessageSysFlag``: the ``sysFlag`` header field (``protocol.md`` 6.3).

    The transaction type is a 2-bit field (bits 2-3) and the compression type
    a 3-bit field (bits 8-10), so some members are multi-bit values, not flags.
    """

    COMPRESSED_FLAG = 0x1
    MULTI_TAGS_FLAG = 0x2
    TRANSACTION_NOT_TYPE = 0
    TRANSACTION_PREPARED_TYPE = 0x4
    TRANSACTION_COMMIT_TYPE = 0x8
    TRANSACTION_ROLLBACK_TYPE = 0xC
    BORNHOST_V6_FLAG = 0x10
    STOREHOSTADDRESS_V6_FLAG = 0x20
    NEED_UNWRAP_FLAG = 0x40
    INNER_BATCH_FLAG = 0x80
    COMPRESSION_LZ4_TYPE = 0x100
    COMPRESSION_ZSTD_TYPE = 0x200
    COMPRESSION_ZLIB_TYPE = 0x300
    COMPRESSION_TYPE_MASK = 0x700


#: ``DefaultMQProducer.compressMsgBodyOverHowmuch``: compress bodies of at least this many bytes.
COMPRESS_OVER_DEFAULT: Final = 4096
#: ``rocketmq.message.compressLevel``.
COMPRESS_LEVEL_DEFAULT: Final = 5

_ZLIB_SYS_FLAG: Final = int(MessageSysFlag.COMPRESSED_FLAG | MessageSysFlag.COMPRESSION_ZLIB_TYPE)
_DECOMPRESS_MAX_DEFAULT: Final = 4 * 1024 * 1024 * 4
# CompressionType.findByValue: 0 is ZLIB for messages from before 4.9.4.
_COMPRESSION_NAMES: Final = {0: "ZLIB", 1: "LZ4", 2: "ZSTD", 3: "ZLIB"}


def compress_body(
    body: bytes, *, compress_over: int = COMPRESS_OVER_DEFAULT, level: int = COMPRESS_LEVEL_DEFAULT
) -> tuple[bytes, int]:
    """``tryToCompressMessage`` for a single message: ``(wire body, sysFlag bits)``.

    Bodies of at least ``compress_over`` bytes are compressed with zlib
    (RFC 1950, as ``java.util.zip.Deflater`` writes) and get
    ``COMPRESSED_FLAG | COMPRESSION_ZLIB_TYPE`` (``0x301``, Java 4.9.4+); OR
    the bits into ``sysFlag``.  Smaller bodies come back unchanged with 0.
    Never call this for a batch: Java never compresses batches.
    """
    data = _bytes_like(body, "body")
    if len(data) < compress_over:
        return data, 0
    try:
        return zlib.compress(data, level), _ZLIB_SYS_FLAG
    except (zlib.error, ValueError, OverflowError) as exc:
        raise EncodeError(f"cannot compress at level {level!r}: {exc}") from None


def decompress_body(body: bytes, sys_flag: int, *, max_size: int = _DECOMPRESS_MAX_DEFAULT) -> bytes:
    """The original body of a message whose ``sysFlag`` is ``sys_flag``.

    Without ``COMPRESSED_FLAG`` the body is returned unchanged.  With it, the
    compression type (bits 8-10; 0 means ZLIB, as for pre-4.9.4 messages) must
    be ZLIB; LZ4 and ZSTD are not supported.  Inflation stops after
    ``max_size`` bytes, so a zip bomb never costs more memory than that.
    Raises :class:`MalformedBodyError` for anything that does not inflate to
    one complete zlib stream of at most ``max_size`` bytes.
    """
    data = _bytes_like(body, "body")
    if not sys_flag & MessageSysFlag.COMPRESSED_FLAG:
        return data
    kind = (sys_flag & MessageSysFlag.COMPRESSION_TYPE_MASK) >> 8
    name = _COMPRESSION_NAMES.get(kind)
    if name is None:
        raise MalformedBodyError(f"unknown compression type {kind} in sysFlag {sys_flag:#x}")
    if name != "ZLIB":
        raise MalformedBodyError(f"unsupported compression type {name} in sysFlag {sys_flag:#x}")
    # zlib's max_length is a C ssize_t.
    limit = min(max(int(max_size), 0), sys.maxsize - 1)
    inflater = zlib.decompressobj()
    try:
        # One byte over the limit tells "too large" from "exactly the limit";
        # max_length must be positive (0 would mean unlimited).
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise MalformedBodyError(f"compressed body does not inflate: {exc}") from None
    if len(out) > limit:
        raise MalformedBodyError(f"compressed body inflates to more than {limit} bytes")
    if not inflater.eof:
        raise MalformedBodyError("compressed body is truncated (no end of zlib stream)")
    if inflater.unused_data:
        raise MalformedBodyError(f"{len(inflater.unused_data)} bytes follow the zlib stream")
    return out
