"""The value types of the client API, shared by producers and consumers.

Mirrors ``org.apache.rocketmq.common.message.Message`` / ``MessageQueue``,
``client.producer.SendResult`` / ``SendStatus`` and the enums a consumer is
configured with (``MessageModel``, ``ConsumeFromWhere``, ``ConsumeType``,
the listener statuses) and ``LocalTransactionState``.  The enums keep Java's
constant names, and their values are those names, which is what goes on
the wire (heartbeats, admin answers).

This module holds values only: no I/O, no client state, so every other
client module can import it without cycles.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .codec.message import (
    PROPERTY_DELAY_TIME_LEVEL,
    PROPERTY_KEYS,
    PROPERTY_TAGS,
    PROPERTY_WAIT_STORE_MSG_OK,
    validate_user_property,
)

__all__ = [
    "Message",
    "MessageQueue",
    "SendResult",
    "SendStatus",
    "MessageModel",
    "ConsumeFromWhere",
    "ConsumeStatus",
    "ConsumeOrderlyStatus",
    "ConsumeType",
    "LocalTransactionState",
    "java_string_order",
]


def java_string_order(value: str) -> bytes:
    """A sort key that orders strings as Java's ``String.compareTo`` does.

    Java compares UTF-16 code units; big-endian UTF-16 bytes compare the
    same way (code points would not: U+FF61 sorts after U+1F600 in Java).
    """
    return value.encode("utf-16-be", "surrogatepass")


@dataclass(frozen=True, slots=True)
class MessageQueue:
    """One queue of a topic on one broker (Java ``MessageQueue``).

    Frozen and hashable; ordered as ``MessageQueue.compareTo``: by topic,
    then broker name (both as Java compares strings), then queue id.
    """

    topic: str
    broker_name: str
    queue_id: int
    # A queue is a dict key on every consumed message (process queues, the
    # offset table, stats): hash its fields once, not per lookup.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.topic, self.broker_name, self.queue_id)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[MessageQueue], tuple[str, str, int]]:
        # rebuilt from its fields: a str hash differs between processes
        return MessageQueue, (self.topic, self.broker_name, self.queue_id)

    def _key(self) -> tuple[bytes, bytes, int]:
        return java_string_order(self.topic), java_string_order(self.broker_name), self.queue_id

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, MessageQueue):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, MessageQueue):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, MessageQueue):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, MessageQueue):
            return NotImplemented
        return self._key() >= other._key()


@dataclass(frozen=True)
class Message:
    """A message to send.

    ``keys`` is one key or a list of keys (sent joined by one space, as
    Java's ``KEY_SEPARATOR``); ``properties`` are user properties, which may
    not use the names RocketMQ reserves; ``delay_level`` 1..18 selects the
    broker's delay (1s 5s 10s 30s 1m ... 2h; a broker configured with a
    longer ``messageDelayLevel`` table accepts more levels, see
    ``AsyncProducer(max_delay_level=...)``); 0 or ``None`` is no delay.
    """

    topic: str
    body: bytes
    tags: str | None = None
    keys: str | Sequence[str] | None = None
    properties: Mapping[str, str] | None = None
    delay_level: int | None = None
    flag: int = 0
    wait_store_msg_ok: bool = True

    def __init__(
        self,
        topic: str,
        body: bytes | bytearray | memoryview | str,
        *,
        tags: str | None = None,
        keys: str | Sequence[str] | None = None,
        properties: Mapping[str, str] | None = None,
        delay_level: int | None = None,
        flag: int = 0,
        wait_store_msg_ok: bool = True,
    ) -> None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        # One dict update instead of eight frozen-dataclass __setattr__ bypasses:
        # a Message is made for every send.
        self.__dict__.update(
            topic=topic,
            body=body if type(body) is bytes else bytes(body),
            tags=tags,
            keys=keys if keys is None or isinstance(keys, str) else tuple(keys),
            properties=dict(properties) if properties else None,
            delay_level=delay_level,
            flag=flag,
            wait_store_msg_ok=wait_store_msg_ok,
        )

    def wire_properties(self) -> dict[str, str]:
        """The message's properties as they go on the wire (UNIQ_KEY aside)."""
        props: dict[str, str] = {}
        if self.properties:
            for name, value in self.properties.items():
                validate_user_property(name, value)
                props[name] = value
        if self.tags:
            props[PROPERTY_TAGS] = self.tags
        if self.keys:
            keys = self.keys if isinstance(self.keys, str) else " ".join(self.keys)
            if keys:
                props[PROPERTY_KEYS] = keys
        if self.delay_level:
            props[PROPERTY_DELAY_TIME_LEVEL] = str(self.delay_level)
        props[PROPERTY_WAIT_STORE_MSG_OK] = "true" if self.wait_store_msg_ok else "false"
        return props


class SendStatus(enum.Enum):
    """Java ``SendStatus``: every status but SEND_OK still means *stored*."""

    SEND_OK = "SEND_OK"
    FLUSH_DISK_TIMEOUT = "FLUSH_DISK_TIMEOUT"
    FLUSH_SLAVE_TIMEOUT = "FLUSH_SLAVE_TIMEOUT"
    SLAVE_NOT_AVAILABLE = "SLAVE_NOT_AVAILABLE"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a broker answered to a send.

    ``msg_id`` is the client's UNIQ_KEY (comma-joined for a batch);
    ``offset_msg_id`` the broker's store-host + commit-log-offset id.
    """

    status: SendStatus
    msg_id: str
    offset_msg_id: str
    message_queue: MessageQueue
    queue_offset: int
    transaction_id: str | None = None
    region_id: str | None = None
    trace_on: bool = True


class MessageModel(enum.Enum):
    """Java ``MessageModel``: how a consumer group shares a topic."""

    #: every consumer of the group gets every message; offsets kept locally
    BROADCASTING = "BROADCASTING"
    #: the group's consumers share the queues; offsets kept on the broker
    CLUSTERING = "CLUSTERING"


class ConsumeFromWhere(enum.Enum):
    """Java ``ConsumeFromWhere``: where a group with no stored offset starts."""

    CONSUME_FROM_LAST_OFFSET = "CONSUME_FROM_LAST_OFFSET"
    #: deprecated in Java; treated as CONSUME_FROM_LAST_OFFSET
    CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST = "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST"
    #: deprecated in Java; treated as CONSUME_FROM_LAST_OFFSET
    CONSUME_FROM_MIN_OFFSET = "CONSUME_FROM_MIN_OFFSET"
    #: deprecated in Java; treated as CONSUME_FROM_LAST_OFFSET
    CONSUME_FROM_MAX_OFFSET = "CONSUME_FROM_MAX_OFFSET"
    CONSUME_FROM_FIRST_OFFSET = "CONSUME_FROM_FIRST_OFFSET"
    CONSUME_FROM_TIMESTAMP = "CONSUME_FROM_TIMESTAMP"


class ConsumeType(enum.Enum):
    """Java ``ConsumeType``: pull (actively) or push (passively) consumer."""

    CONSUME_ACTIVELY = "CONSUME_ACTIVELY"
    CONSUME_PASSIVELY = "CONSUME_PASSIVELY"


class ConsumeStatus(enum.Enum):
    """Java ``ConsumeConcurrentlyStatus``: a concurrent listener's answer."""

    CONSUME_SUCCESS = "CONSUME_SUCCESS"
    RECONSUME_LATER = "RECONSUME_LATER"


class ConsumeOrderlyStatus(enum.Enum):
    """Java ``ConsumeOrderlyStatus``: an orderly listener's answer."""

    SUCCESS = "SUCCESS"
    SUSPEND_CURRENT_QUEUE_A_MOMENT = "SUSPEND_CURRENT_QUEUE_A_MOMENT"
    #: deprecated in Java (only meaningful with auto-commit off)
    ROLLBACK = "ROLLBACK"
    #: deprecated in Java (only meaningful with auto-commit off)
    COMMIT = "COMMIT"


class LocalTransactionState(enum.Enum):
    """Java ``LocalTransactionState`` (``UNKNOW`` is Java's spelling)."""

    COMMIT_MESSAGE = "COMMIT_MESSAGE"
    ROLLBACK_MESSAGE = "ROLLBACK_MESSAGE"
    UNKNOW = "UNKNOW"
