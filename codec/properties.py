"""Message properties: ``MessageConst``'s names and the properties string.

Mirrors ``MessageConst`` (property names, separators, the reserved-name set)
and ``MessageDecoder.messageProperties2String`` / ``string2messageProperties``
(the ``name\\x01value\\x02`` string a ``SEND_MESSAGE`` header and a stored
record carry), with ``Validators``' check of a user property.
Part of :mod:`codec.message`, which re-exports every public name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .errors import EncodeError, InvalidMessageError, MalformedBodyError

__all__ = [
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
    "encode_properties",
    "decode_properties",
    "validate_user_property",
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
