"""Message-level encoding: the properties string, ``sysFlag``, body
compression, message ids, the batch body, and topic / group names.

Mirrors the Java classes that shape a message before it becomes a
``SEND_MESSAGE`` request (``protocol.md`` section 6):

* ``MessageConst`` (property names, separators, the reserved-name set),
* ``MessageDecoder.messageProperties2String`` / ``string2messageProperties``
  (the ``name\\x01value\\x02`` properties string),
* ``MessageSysFlag`` and ``DefaultMQProducerImpl.tryToCompressMessage`` /
  ``ZlibCompressor`` (compression and its ``sysFlag`` bits),
* ``MessageClientIDSetter`` (the client ``UNIQ_KEY``) and
  ``MessageDecoder.createMessageId`` (the broker's offset message id),
* ``MessageDecoder.encodeMessages`` (the ``SEND_BATCH_MESSAGE`` body),
* ``Validators`` / ``TopicValidator`` (topic and group names).

Everything here is a pure function of its arguments, with two deliberate
exceptions that only apply when the caller leaves an argument out:
:class:`UniqueIdGenerator` reads the clock when ``now_ms`` is not given, and
looks up this host's IPv4 address (one UDP ``connect``, which sends nothing)
when ``ip`` is not given.  A message id needs both, and Java's
``MessageClientIDSetter`` takes them from the environment too.

The batch record is declared once, in ``construct`` (:data:`BATCH_RECORD`);
:func:`encode_batch` and :func:`decode_batch` run its compiled form.
"""

from __future__ import annotations

import enum
import ipaddress
import itertools
import os
import re
import struct
import sys
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from construct import Default, GreedyBytes, Int16sb, Int32sb

from .constructs import Record, Sized
from .errors import ConfigError, EncodeError, InvalidMessageError, MalformedBodyError
from .codecs import compile_buffer

__all__ = [
    "local_ipv4",
    # MessageConst
    "PROPERTY_KEYS",
    "PROPERTY_TAGS",
    "PROPERTY_WAIT_STORE_MSG_OK",
    "PROPERTY_DELAY_TIME_LEVEL",
    "PROPERTY_RETRY_TOPIC",
    "PROPERTY_REAL_TOPIC",
    "PROPERTY_REAL_QUEUE_ID",
    "PROPERTY_TRANSACTION_PREPARED",
    "PROPERTY_PRODUCER_GROUP",
    "PROPERTY_MIN_OFFSET",
    "PROPERTY_MAX_OFFSET",
    "PROPERTY_BUYER_ID",
    "PROPERTY_ORIGIN_MESSAGE_ID",
    "PROPERTY_TRANSFER_FLAG",
    "PROPERTY_CORRECTION_FLAG",
    "PROPERTY_MQ2_FLAG",
    "PROPERTY_RECONSUME_TIME",
    "PROPERTY_MSG_REGION",
    "PROPERTY_TRACE_SWITCH",
    "PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX",
    "PROPERTY_EXTEND_UNIQ_INFO",
    "PROPERTY_MAX_RECONSUME_TIMES",
    "PROPERTY_CONSUME_START_TIMESTAMP",
    "PROPERTY_INNER_NUM",
    "PROPERTY_INNER_BASE",
    "DUP_INFO",
    "PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS",
    "PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET",
    "PROPERTY_TRANSACTION_ID",
    "PROPERTY_TRANSACTION_CHECK_TIMES",
    "PROPERTY_INSTANCE_ID",
    "PROPERTY_CORRELATION_ID",
    "PROPERTY_MESSAGE_REPLY_TO_CLIENT",
    "PROPERTY_MESSAGE_TTL",
    "PROPERTY_REPLY_MESSAGE_ARRIVE_TIME",
    "PROPERTY_PUSH_REPLY_TIME",
    "PROPERTY_CLUSTER",
    "PROPERTY_MESSAGE_TYPE",
    "PROPERTY_POP_CK",
    "PROPERTY_POP_CK_OFFSET",
    "PROPERTY_FIRST_POP_TIME",
    "PROPERTY_SHARDING_KEY",
    "PROPERTY_FORWARD_QUEUE_ID",
    "PROPERTY_REDIRECT",
    "PROPERTY_INNER_MULTI_DISPATCH",
    "PROPERTY_INNER_MULTI_QUEUE_OFFSET",
    "PROPERTY_TRACE_CONTEXT",
    "PROPERTY_TIMER_DELAY_SEC",
    "PROPERTY_TIMER_DELIVER_MS",
    "PROPERTY_TIMER_DELAY_MS",
    "PROPERTY_TIMER_ENQUEUE_MS",
    "PROPERTY_TIMER_DEQUEUE_MS",
    "PROPERTY_TIMER_ROLL_TIMES",
    "PROPERTY_TIMER_OUT_MS",
    "PROPERTY_TIMER_DEL_UNIQKEY",
    "PROPERTY_TIMER_DEL_MS",
    "PROPERTY_TIMER_DELAY_LEVEL",
    "PROPERTY_BORN_HOST",
    "PROPERTY_BORN_TIMESTAMP",
    "PROPERTY_DLQ_ORIGIN_TOPIC",
    "PROPERTY_DLQ_ORIGIN_MESSAGE_ID",
    "PROPERTY_CRC32",
    "PROPERTY_TRANSIENT_PREFIX",
    "NAME_VALUE_SEPARATOR",
    "PROPERTY_SEPARATOR",
    "KEY_SEPARATOR",
    "RESERVED_PROPERTY_NAMES",
    "MAX_PROPERTIES_SIZE",
    # properties string
    "encode_properties",
    "decode_properties",
    "validate_user_property",
    # sysFlag and compression
    "MessageSysFlag",
    "COMPRESS_OVER_DEFAULT",
    "COMPRESS_LEVEL_DEFAULT",
    "compress_body",
    "decompress_body",
    # message ids
    "UniqueIdGenerator",
    "UniqueIdInfo",
    "new_message_id",
    "parse_unique_id",
    "create_offset_msg_id",
    "parse_offset_msg_id",
    # batch body
    "BATCH_RECORD",
    "BATCH_RECORD_FIXED_SIZE",
    "BatchEntry",
    "encode_batch",
    "encode_batch_record",
    "decode_batch",
    # names
    "TOPIC_MAX_LENGTH",
    "GROUP_MAX_LENGTH",
    "DEFAULT_PRODUCER_GROUP",
    "CLIENT_INNER_PRODUCER_GROUP",
    "AUTO_CREATE_TOPIC_KEY_TOPIC",
    "RETRY_GROUP_TOPIC_PREFIX",
    "DLQ_GROUP_TOPIC_PREFIX",
    "SYSTEM_TOPIC_PREFIX",
    "NOT_ALLOWED_SEND_TOPICS",
    "SYSTEM_TOPICS",
    "VALID_NAME_CHARS",
    "VALID_NAME_PATTERN",
    "validate_topic",
    "validate_group",
]

# --------------------------------------------------------------------------- MessageConst

PROPERTY_KEYS: Final = "KEYS"
PROPERTY_TAGS: Final = "TAGS"
PROPERTY_WAIT_STORE_MSG_OK: Final = "WAIT"
PROPERTY_DELAY_TIME_LEVEL: Final = "DELAY"
PROPERTY_RETRY_TOPIC: Final = "RETRY_TOPIC"
PROPERTY_REAL_TOPIC: Final = "REAL_TOPIC"
PROPERTY_REAL_QUEUE_ID: Final = "REAL_QID"
PROPERTY_TRANSACTION_PREPARED: Final = "TRAN_MSG"
PROPERTY_PRODUCER_GROUP: Final = "PGROUP"
PROPERTY_MIN_OFFSET: Final = "MIN_OFFSET"
PROPERTY_MAX_OFFSET: Final = "MAX_OFFSET"
PROPERTY_BUYER_ID: Final = "BUYER_ID"
PROPERTY_ORIGIN_MESSAGE_ID: Final = "ORIGIN_MESSAGE_ID"
PROPERTY_TRANSFER_FLAG: Final = "TRANSFER_FLAG"
PROPERTY_CORRECTION_FLAG: Final = "CORRECTION_FLAG"
PROPERTY_MQ2_FLAG: Final = "MQ2_FLAG"
PROPERTY_RECONSUME_TIME: Final = "RECONSUME_TIME"
PROPERTY_MSG_REGION: Final = "MSG_REGION"
PROPERTY_TRACE_SWITCH: Final = "TRACE_ON"
PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: Final = "UNIQ_KEY"
PROPERTY_EXTEND_UNIQ_INFO: Final = "EXTEND_UNIQ_INFO"
PROPERTY_MAX_RECONSUME_TIMES: Final = "MAX_RECONSUME_TIMES"
PROPERTY_CONSUME_START_TIMESTAMP: Final = "CONSUME_START_TIME"
PROPERTY_INNER_NUM: Final = "INNER_NUM"
PROPERTY_INNER_BASE: Final = "INNER_BASE"
DUP_INFO: Final = "DUP_INFO"
PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS: Final = "CHECK_IMMUNITY_TIME_IN_SECONDS"
PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET: Final = "TRAN_PREPARED_QUEUE_OFFSET"
PROPERTY_TRANSACTION_ID: Final = "__transactionId__"
PROPERTY_TRANSACTION_CHECK_TIMES: Final = "TRANSACTION_CHECK_TIMES"
PROPERTY_INSTANCE_ID: Final = "INSTANCE_ID"
PROPERTY_CORRELATION_ID: Final = "CORRELATION_ID"
PROPERTY_MESSAGE_REPLY_TO_CLIENT: Final = "REPLY_TO_CLIENT"
PROPERTY_MESSAGE_TTL: Final = "TTL"
PROPERTY_REPLY_MESSAGE_ARRIVE_TIME: Final = "ARRIVE_TIME"
PROPERTY_PUSH_REPLY_TIME: Final = "PUSH_REPLY_TIME"
PROPERTY_CLUSTER: Final = "CLUSTER"
PROPERTY_MESSAGE_TYPE: Final = "MSG_TYPE"
PROPERTY_POP_CK: Final = "POP_CK"
PROPERTY_POP_CK_OFFSET: Final = "POP_CK_OFFSET"
PROPERTY_FIRST_POP_TIME: Final = "1ST_POP_TIME"
PROPERTY_SHARDING_KEY: Final = "__SHARDINGKEY"
PROPERTY_FORWARD_QUEUE_ID: Final = "PROPERTY_FORWARD_QUEUE_ID"
PROPERTY_REDIRECT: Final = "REDIRECT"
PROPERTY_INNER_MULTI_DISPATCH: Final = "INNER_MULTI_DISPATCH"
PROPERTY_INNER_MULTI_QUEUE_OFFSET: Final = "INNER_MULTI_QUEUE_OFFSET"
PROPERTY_TRACE_CONTEXT: Final = "TRACE_CONTEXT"
PROPERTY_TIMER_DELAY_SEC: Final = "TIMER_DELAY_SEC"
PROPERTY_TIMER_DELIVER_MS: Final = "TIMER_DELIVER_MS"
PROPERTY_TIMER_DELAY_MS: Final = "TIMER_DELAY_MS"
PROPERTY_TIMER_ENQUEUE_MS: Final = "TIMER_ENQUEUE_MS"
PROPERTY_TIMER_DEQUEUE_MS: Final = "TIMER_DEQUEUE_MS"
PROPERTY_TIMER_ROLL_TIMES: Final = "TIMER_ROLL_TIMES"
PROPERTY_TIMER_OUT_MS: Final = "TIMER_OUT_MS"
PROPERTY_TIMER_DEL_UNIQKEY: Final = "TIMER_DEL_UNIQKEY"
PROPERTY_TIMER_DEL_MS: Final = "TIMER_DEL_MS"
PROPERTY_TIMER_DELAY_LEVEL: Final = "TIMER_DELAY_LEVEL"
PROPERTY_BORN_HOST: Final = "__BORNHOST"
PROPERTY_BORN_TIMESTAMP: Final = "BORN_TIMESTAMP"
PROPERTY_DLQ_ORIGIN_TOPIC: Final = "DLQ_ORIGIN_TOPIC"
PROPERTY_DLQ_ORIGIN_MESSAGE_ID: Final = "DLQ_ORIGIN_MESSAGE_ID"
PROPERTY_CRC32: Final = "__CRC32#"
#: Properties whose name starts with this are never stored by the broker.
PROPERTY_TRANSIENT_PREFIX: Final = "__RMQ.TRANSIENT."

NAME_VALUE_SEPARATOR: Final = "\x01"
PROPERTY_SEPARATOR: Final = "\x02"
#: Several ``KEYS`` travel as one value joined by a space.
KEY_SEPARATOR: Final = " "

#: ``MessageConst.STRING_HASH_SET`` as of 5.3.3 / develop: names the system
#: owns, which ``Message.putUserProperty`` refuses.  A union over releases,
#: so a user property accepted here is accepted by every broker.  Note that
#: ``__SHARDINGKEY``, ``__transactionId__`` and ``TRACE_CONTEXT`` are *not*
#: in Java's set (Java sets them through other setters).
RESERVED_PROPERTY_NAMES: Final[frozenset[str]] = frozenset(
    {
        PROPERTY_TRACE_SWITCH,
        PROPERTY_MSG_REGION,
        PROPERTY_KEYS,
        PROPERTY_TAGS,
        PROPERTY_WAIT_STORE_MSG_OK,
        PROPERTY_DELAY_TIME_LEVEL,
        PROPERTY_RETRY_TOPIC,
        PROPERTY_REAL_TOPIC,
        PROPERTY_REAL_QUEUE_ID,
        PROPERTY_TRANSACTION_PREPARED,
        PROPERTY_PRODUCER_GROUP,
        PROPERTY_MIN_OFFSET,
        PROPERTY_MAX_OFFSET,
        PROPERTY_BUYER_ID,
        PROPERTY_ORIGIN_MESSAGE_ID,
        PROPERTY_TRANSFER_FLAG,
        PROPERTY_CORRECTION_FLAG,
        PROPERTY_MQ2_FLAG,
        PROPERTY_RECONSUME_TIME,
        PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
        PROPERTY_MAX_RECONSUME_TIMES,
        PROPERTY_CONSUME_START_TIMESTAMP,
        PROPERTY_POP_CK,
        PROPERTY_POP_CK_OFFSET,
        PROPERTY_FIRST_POP_TIME,
        PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET,
        DUP_INFO,
        PROPERTY_EXTEND_UNIQ_INFO,
        PROPERTY_INSTANCE_ID,
        PROPERTY_CORRELATION_ID,
        PROPERTY_MESSAGE_REPLY_TO_CLIENT,
        PROPERTY_MESSAGE_TTL,
        PROPERTY_REPLY_MESSAGE_ARRIVE_TIME,
        PROPERTY_PUSH_REPLY_TIME,
        PROPERTY_CLUSTER,
        PROPERTY_MESSAGE_TYPE,
        PROPERTY_INNER_MULTI_QUEUE_OFFSET,
        PROPERTY_TIMER_DELAY_MS,
        PROPERTY_TIMER_DELAY_SEC,
        PROPERTY_TIMER_DELIVER_MS,
        PROPERTY_TIMER_ENQUEUE_MS,
        PROPERTY_TIMER_DEQUEUE_MS,
        PROPERTY_TIMER_ROLL_TIMES,
        PROPERTY_TIMER_OUT_MS,
        PROPERTY_TIMER_DEL_UNIQKEY,
        PROPERTY_TIMER_DEL_MS,
        PROPERTY_TIMER_DELAY_LEVEL,
        PROPERTY_BORN_HOST,
        PROPERTY_BORN_TIMESTAMP,
        PROPERTY_DLQ_ORIGIN_TOPIC,
        PROPERTY_DLQ_ORIGIN_MESSAGE_ID,
        PROPERTY_CRC32,
    }
)

#: The store keeps the properties length in a signed short (``protocol.md`` 6.1).
MAX_PROPERTIES_SIZE: Final = 32767

# --------------------------------------------------------------------------- properties string


def _bytes_like(value: object, what: str) -> bytes:
    # bytes(int) would quietly make that many zero bytes.
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}")


def encode_properties(props: Mapping[str, str], *, trailing_separator: bool = True) -> str:
    """``MessageDecoder.messageProperties2String``: ``name\\x01value\\x02`` per entry.

    The trailing ``\\x02`` is what Java up to 4.9.0 and from 5.2.0 writes;
    pass ``trailing_separator=False`` for the 4.9.1-5.1.4 form.  Both parse
    the same everywhere.  Entries with an empty value are dropped: no Java
    parser would read them back.  Raises :class:`EncodeError` for a non-str
    key or value, an empty key, a separator inside a key or value, or text
    that is not encodable as UTF-8.
    """
    if not isinstance(props, Mapping):
        raise TypeError(f"properties must be a mapping, not {type(props).__name__}")
    parts: list[str] = []
    for key, value in props.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise EncodeError(f"property {key!r}: names and values must be str, not {type(key).__name__}: {type(value).__name__}")
        if not key:
            raise EncodeError("property names must not be empty")
        if "\x01" in key or "\x02" in key or "\x01" in value or "\x02" in value:
            raise EncodeError(f"property {key!r}: names and values must not contain \\x01 or \\x02")
        if not value:
            continue
        parts.append(key + NAME_VALUE_SEPARATOR + value)
    if not parts:
        return ""
    text = PROPERTY_SEPARATOR.join(parts)
    if trailing_separator:
        text += PROPERTY_SEPARATOR
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"properties are not encodable as UTF-8 ({exc.reason})") from None
    return text


def decode_properties(text: str) -> dict[str, str]:
    """``MessageDecoder.string2messageProperties`` (4.9.1+ rules).

    Split on ``\\x02``; skip chunks shorter than 3 characters; split each
    chunk at its first ``\\x01``; keep it only if name and value are both
    non-empty.  With or without a trailing ``\\x02``.  A repeated name keeps
    its last value, as ``HashMap.put`` does.  Never fails on a ``str``;
    bytes are accepted too, and raise :class:`MalformedBodyError` if they are
    not UTF-8.
    """
    if not isinstance(text, str):
        try:
            text = _bytes_like(text, "properties").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBodyError(f"properties: invalid UTF-8 ({exc.reason})") from None
    result: dict[str, str] = {}
    for chunk in text.split(PROPERTY_SEPARATOR):
        if len(chunk) < 3:
            continue
        key, sep, value = chunk.partition(NAME_VALUE_SEPARATOR)
        if sep and key and value:
            result[key] = value
    return result


def validate_user_property(name: str, value: str) -> None:
    """``Message.putUserProperty``'s rules: name and value not blank, the name
    not a system name (:data:`RESERVED_PROPERTY_NAMES`), and neither holding a
    separator (which Java does not check, but which would corrupt the string).
    Raises :class:`~codec.errors.InvalidMessageError`.
    """
    if not isinstance(name, str) or not isinstance(value, str) or not name.strip() or not value.strip():
        raise InvalidMessageError("The name or value of property can not be null or blank string!")
    if name in RESERVED_PROPERTY_NAMES:
        raise InvalidMessageError(f"The Property<{name}> is used by system, input another please")
    if "\x01" in name or "\x02" in name or "\x01" in value or "\x02" in value:
        raise InvalidMessageError(f"property {name!r}: names and values must not contain \\x01 or \\x02")


# --------------------------------------------------------------------------- sysFlag, compression


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


# --------------------------------------------------------------------------- message ids

_LOOPBACK_V4: Final = bytes((127, 0, 0, 1))


def _local_ipv4() -> bytes:
    """This host's outward IPv4 address, or 127.0.0.1.

    Connecting a UDP socket only asks the kernel for a route: no packet is
    sent and no name is resolved, so this can neither hang nor leak traffic.
    The address is from TEST-NET-1 (RFC 5737) and is never contacted.
    """
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        ip = ipaddress.IPv4Address(address)
    except (OSError, ValueError):
        return _LOOPBACK_V4
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local:
        return _LOOPBACK_V4
    return ip.packed


def local_ipv4() -> str:
    """This host's outward IPv4 address as text (see :func:`_local_ipv4`):
    what Java's ``getLocalAddress`` picks for client ids and message ids."""
    return str(ipaddress.IPv4Address(_local_ipv4()))


def _month_bounds(now_ms: int) -> tuple[int, int]:
    """Start of the month containing ``now_ms`` and of the next one, in epoch
    milliseconds, by the local calendar (as Java's ``Calendar`` computes them)."""
    t = time.localtime(now_ms / 1000)
    start = time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, -1))
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    nxt = time.mktime((year, month, 1, 0, 0, 0, 0, 0, -1))
    return int(start * 1000), int(nxt * 1000)


class UniqueIdGenerator:
    """``MessageClientIDSetter``: client message ids (``UNIQ_KEY``), 32 upper-case
    hex characters for an IPv4 ``ip`` (56 for IPv6).

    Layout: IP (4 or 16 bytes), pid (2 bytes, ``pid & 0xFFFF``), a random
    int fixed per generator (4 bytes; Java's class-loader hash), the
    milliseconds since the start of the current month in local time (4 bytes,
    Java's ``(int)`` cast), a counter (2 bytes, wrapping at 65536).  The first
    three are fixed per generator and formatted once.  Thread-safe.
    """

    __slots__ = ("_prefix", "_lock", "_count", "_month_start", "_next_month_start", "_head")

    def __init__(self, ip: bytes | None = None, pid: int | None = None) -> None:
        if ip is None:
            ip = _local_ipv4()
        ip = _bytes_like(ip, "ip")
        if len(ip) not in (4, 16):
            raise EncodeError(f"a message id needs a 4-byte (IPv4) or 16-byte (IPv6) address, not {len(ip)} bytes")
        if pid is None:
            pid = os.getpid()
        salt = int.from_bytes(os.urandom(4), "big")
        self._prefix = f"{ip.hex().upper()}{pid & 0xFFFF:04X}{salt:08X}"
        self._lock = threading.Lock()
        # next() of an itertools.count is one C call, so atomic under the GIL:
        # no lock per id.  The lock only guards the month bounds.
        self._count = itertools.count()
        self._month_start = 0
        self._next_month_start = 0
        #: (epoch ms, the id up to the counter) for the last millisecond seen:
        #: ids within one millisecond format only their counter.  One tuple,
        #: replaced whole, so threads never see half of it.
        self._head: tuple[int, str] = (-1, "")

    def next_id(self, now_ms: int | None = None) -> str:
        """A new id for a message sent at ``now_ms`` (epoch milliseconds;
        the clock when omitted)."""
        if now_ms is None:
            now_ms = time.time_ns() // 1_000_000
        counter = next(self._count) & 0xFFFF
        head_ms, head = self._head
        if head_ms != now_ms:
            with self._lock:
                if not self._month_start <= now_ms < self._next_month_start:
                    try:
                        self._month_start, self._next_month_start = _month_bounds(now_ms)
                    except (OverflowError, OSError, ValueError, TypeError) as exc:
                        raise EncodeError(f"now_ms {now_ms!r} is not a usable time: {exc}") from None
                elapsed = max(now_ms - self._month_start, 0)
            head = f"{self._prefix}{elapsed & 0xFFFFFFFF:08X}"
            self._head = (now_ms, head)
        return f"{head}{counter:04X}"


@dataclass(frozen=True, slots=True)
class UniqueIdInfo:
    """What a client message id says (``MessageClientIDSetter.getIPStrFromID``,
    ``getPidFromID``, ...)."""

    ip: str
    pid: int
    loader_hash: int
    #: Milliseconds since the start of the sender's month, local time.
    elapsed_ms: int
    counter: int


_HEX_ID = re.compile(r"(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{56})")


def _id_bytes(msg_id: object, what: str) -> bytes:
    if not isinstance(msg_id, str) or _HEX_ID.fullmatch(msg_id) is None:
        raise MalformedBodyError(f"{what} must be 32 or 56 hex characters, not {msg_id!r}")
    return bytes.fromhex(msg_id)


def parse_unique_id(msg_id: str) -> UniqueIdInfo:
    """Read back a client message id; :class:`MalformedBodyError` if it is not one."""
    raw = _id_bytes(msg_id, "a client message id")
    ip_len = len(raw) - 12
    ip = str(ipaddress.ip_address(raw[:ip_len]))
    pid, loader_hash, elapsed, counter = struct.unpack_from(">HiIH", raw, ip_len)
    return UniqueIdInfo(ip, pid, loader_hash, elapsed, counter)


def create_offset_msg_id(host: str, port: int, offset: int) -> str:
    """``MessageDecoder.createMessageId``: the broker's ``msgId`` for the message
    at commitlog ``offset`` of the store at ``host:port``: address, int32 port,
    int64 offset, in upper-case hex (32 characters for IPv4, 56 for IPv6)."""
    try:
        if not isinstance(host, str):
            raise ValueError(host)  # ip_address() would take an int as an address
        packed = ipaddress.ip_address(host).packed
    except ValueError:
        raise EncodeError(f"store host must be an IP address, not {host!r}") from None
    if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise EncodeError(f"port must be 0..65535, not {port!r}")
    if not isinstance(offset, int) or not -(2**63) <= offset < 2**63:
        raise EncodeError(f"commitlog offset must be a 64-bit integer, not {offset!r}")
    return (packed + struct.pack(">iq", port, offset)).hex().upper()


def parse_offset_msg_id(msg_id: str) -> tuple[str, int, int]:
    """``(store host, port, commitlog offset)`` of a broker ``msgId``
    (``MessageDecoder.decodeMessageId``); :class:`MalformedBodyError` if it is not one."""
    raw = _id_bytes(msg_id, "an offset message id")
    ip_len = len(raw) - 12
    port, offset = struct.unpack_from(">iq", raw, ip_len)
    return str(ipaddress.ip_address(raw[:ip_len])), port, offset


_default_generator: UniqueIdGenerator | None = None
_default_lock = threading.Lock()


def _forget_default_generator() -> None:
    # A forked child shares the parent's counter and salt but has its own pid:
    # make it build its own generator (and lock) on first use.
    global _default_generator, _default_lock
    _default_generator = None
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_default_generator)


def new_message_id() -> str:
    """A client message id from the process-wide :class:`UniqueIdGenerator`."""
    global _default_generator
    generator = _default_generator
    if generator is None:
        with _default_lock:
            if _default_generator is None:
                _default_generator = UniqueIdGenerator()
            generator = _default_generator
    return generator.next_id()


# --------------------------------------------------------------------------- batch body

#: ``MessageDecoder.encodeMessage``: one message of a ``SEND_BATCH_MESSAGE``
#: body (``protocol.md`` 6.4).  TOTALSIZE counts the whole record, its own
#: four bytes included, and is also the record's ``total_size``.
#: ``properties`` is the raw UTF-8 properties string.  Every length must
#: fill its range exactly.
BATCH_RECORD = Sized(
    Int32sb,
    Record(
        "magic_code" / Default(Int32sb, 0),
        "body_crc" / Default(Int32sb, 0),
        "flag" / Int32sb,
        "body" / Sized(Int32sb, GreedyBytes, MalformedBodyError, "BODYLEN"),
        "properties" / Sized(Int16sb, GreedyBytes, MalformedBodyError, "PROPLEN"),
        error=MalformedBodyError,
    ),
    MalformedBodyError,
    "TOTALSIZE",
    inclusive=True,
    length_name="total_size",
)

#: TOTALSIZE of a record with an empty body and no properties.
BATCH_RECORD_FIXED_SIZE: Final = 22

_BATCH_CODEC = compile_buffer(BATCH_RECORD)
_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One message of a batch: its body, its own properties, its ``Message.flag``."""

    body: bytes
    properties: dict[str, str] = field(hash=False)
    flag: int = 0


def encode_batch(entries: Sequence[BatchEntry]) -> bytes:
    """``MessageDecoder.encodeMessages``: the body of a ``SEND_BATCH_MESSAGE``.

    Each entry's properties are written with the trailing ``\\x02``.  Raises
    :class:`EncodeError` for a flag outside int32, a body over 2 GiB or
    properties over 32767 UTF-8 bytes.
    """
    parts: list[bytes] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, BatchEntry):
            raise TypeError(f"batch entry {index} must be a BatchEntry, not {type(entry).__name__}")
        body = _bytes_like(entry.body, f"batch entry {index} body")
        parts.append(encode_batch_record(body, encode_properties(entry.properties), entry.flag, index=index))
    return b"".join(parts)


def encode_batch_record(body: bytes, properties: str, flag: int = 0, *, index: int = 0) -> bytes:
    """One record of :func:`encode_batch`, its properties already encoded
    (as :func:`encode_properties` makes them).

    For a producer that builds the properties text itself (a cached prefix
    plus the UNIQ_KEY): the same bytes and errors as ``encode_batch`` for
    entry number ``index``, without a :class:`BatchEntry` and a properties
    dict per message.
    """
    body = _bytes_like(body, f"batch entry {index} body")
    try:
        props = properties.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"properties are not encodable as UTF-8 ({exc.reason})") from None
    if len(props) > MAX_PROPERTIES_SIZE:
        raise EncodeError(f"batch entry {index}: properties are {len(props)} bytes, over {MAX_PROPERTIES_SIZE}")
    if not isinstance(flag, int) or not -(2**31) <= flag < 2**31:
        raise EncodeError(f"batch entry {index}: flag must be a 32-bit integer, not {flag!r}")
    if BATCH_RECORD_FIXED_SIZE + len(body) + len(props) > 2**31 - 1:
        raise EncodeError(f"batch entry {index}: record of {len(body)} body bytes does not fit TOTALSIZE")
    return _BATCH_CODEC.build_bytes({"flag": flag, "body": body, "properties": props})


def _explain_record(data: bytes, start: int, total: int) -> str:
    body_length = _I32.unpack_from(data, start + 16)[0]
    if body_length < 0 or body_length > total - BATCH_RECORD_FIXED_SIZE:
        return f"BODYLEN {body_length} does not fit TOTALSIZE {total}"
    props_length = _I16.unpack_from(data, start + 20 + body_length)[0]
    return f"TOTALSIZE {total} != 22 + BODYLEN {body_length} + PROPLEN {props_length}"


def decode_batch(body: bytes) -> list[BatchEntry]:
    """The messages of a ``SEND_BATCH_MESSAGE`` body, walked by TOTALSIZE as the
    broker does.  Raises :class:`MalformedBodyError` on a truncated record,
    a TOTALSIZE under 22 or past the end, lengths that do not add up to
    TOTALSIZE, or properties that are not UTF-8.  MAGICCODE and BODYCRC are
    read and ignored, as the broker ignores them.
    """
    data = _bytes_like(body, "batch body")
    end = len(data)
    parse = _BATCH_CODEC.parse_at
    entries: list[BatchEntry] = []
    pos = 0
    while pos < end:
        index = len(entries)
        if end - pos < 4:
            raise MalformedBodyError(f"batch record {index} at byte {pos}: {end - pos} bytes left, TOTALSIZE needs 4")
        total = _I32.unpack_from(data, pos)[0]
        if total < BATCH_RECORD_FIXED_SIZE:
            raise MalformedBodyError(f"batch record {index} at byte {pos}: TOTALSIZE {total} is under 22")
        if total > end - pos:
            raise MalformedBodyError(
                f"batch record {index} at byte {pos}: TOTALSIZE {total} exceeds the {end - pos} bytes left"
            )
        try:
            record, _ = parse(data, pos, pos + total)
        except MalformedBodyError:
            raise MalformedBodyError(
                f"batch record {index} at byte {pos}: {_explain_record(data, pos, total)}"
            ) from None
        try:
            text = record["properties"].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBodyError(f"batch record {index} at byte {pos}: properties are not UTF-8 ({exc.reason})") from None
        entries.append(BatchEntry(record["body"], decode_properties(text), record["flag"]))
        pos += total
    return entries


# --------------------------------------------------------------------------- topic and group names

#: ``Validators.TOPIC_MAX_LENGTH``.
TOPIC_MAX_LENGTH: Final = 127
#: ``Validators.CHARACTER_MAX_LENGTH`` (every release tag through 5.3.3).
GROUP_MAX_LENGTH: Final = 255
#: ``MixAll.DEFAULT_PRODUCER_GROUP``: a producer may not use it.
DEFAULT_PRODUCER_GROUP: Final = "DEFAULT_PRODUCER"
#: ``MixAll.CLIENT_INNER_PRODUCER_GROUP``: the client instance's own producer.
CLIENT_INNER_PRODUCER_GROUP: Final = "CLIENT_INNER_PRODUCER"
#: ``TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC``.
AUTO_CREATE_TOPIC_KEY_TOPIC: Final = "TBW102"
RETRY_GROUP_TOPIC_PREFIX: Final = "%RETRY%"
DLQ_GROUP_TOPIC_PREFIX: Final = "%DLQ%"
SYSTEM_TOPIC_PREFIX: Final = "rmq_sys_"

#: ``TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET``.
NOT_ALLOWED_SEND_TOPICS: Final[frozenset[str]] = frozenset(
    {
        "SCHEDULE_TOPIC_XXXX",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
    }
)
#: ``TopicValidator.SYSTEM_TOPIC_SET`` (plus every topic starting with :data:`SYSTEM_TOPIC_PREFIX`).
SYSTEM_TOPICS: Final[frozenset[str]] = NOT_ALLOWED_SEND_TOPICS | {
    AUTO_CREATE_TOPIC_KEY_TOPIC,
    "BenchmarkTest",
    "RMQ_SYS_TRACE_TOPIC",
    "CHECKPOINT_TOPIC",
}

#: ``TopicValidator.VALID_PATTERN_STR``: the characters a topic or group name
#: may hold, as Java's messages quote it; :data:`VALID_NAME_PATTERN` is the
#: same rule compiled for ``fullmatch``.  ASCII only: ``str.isalnum()`` and
#: ``\w`` would admit every script's letters and digits.
VALID_NAME_CHARS: Final = "^[%|a-zA-Z0-9_-]+$"
VALID_NAME_PATTERN: Final = re.compile(r"[%|a-zA-Z0-9_-]+")
_VALID_NAME = VALID_NAME_PATTERN
_VALID_CHARS = VALID_NAME_CHARS


def validate_topic(topic: str) -> None:
    """``Validators.checkTopic`` plus ``isNotAllowedSendTopic``: a topic this
    client may send to.  Raises :class:`~codec.errors.InvalidMessageError`."""
    if type(topic) is str and topic in _VALID_TOPICS:
        return  # a producer sends to few topics, each many times
    if not isinstance(topic, str) or not topic.strip():
        raise InvalidMessageError("The specified topic is blank")
    if _VALID_NAME.fullmatch(topic) is None:
        raise InvalidMessageError(f"The specified topic[{topic}] contains illegal characters, allowing only {_VALID_CHARS}")
    if len(topic) > TOPIC_MAX_LENGTH:
        raise InvalidMessageError(f"The specified topic is longer than topic max length {TOPIC_MAX_LENGTH}.")
    if topic in NOT_ALLOWED_SEND_TOPICS:
        raise InvalidMessageError(f"Sending message to topic[{topic}] is forbidden.")
    if type(topic) is str and len(_VALID_TOPICS) < 4096:
        _VALID_TOPICS.add(topic)


#: topics :func:`validate_topic` accepted already (bounded: past the cap, new
#: topics are checked every time)
_VALID_TOPICS: set[str] = set()


def validate_group(group: str) -> None:
    """``Validators.checkGroup``: a well-formed producer or consumer group name.
    Raises :class:`~codec.errors.ConfigError`.  (Whether a producer may use
    :data:`DEFAULT_PRODUCER_GROUP` is the producer's own check.)"""
    if not isinstance(group, str) or not group.strip():
        raise ConfigError("the specified group is blank")
    if len(group) > GROUP_MAX_LENGTH:
        raise ConfigError(f"the specified group is longer than group max length {GROUP_MAX_LENGTH}.")
    if _VALID_NAME.fullmatch(group) is None:
        raise ConfigError(f"the specified group[{group}] contains illegal characters, allowing only {_VALID_CHARS}")
