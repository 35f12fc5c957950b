"""The offset headers: a group's committed offsets (QUERY_CONSUMER_OFFSET 14,
UPDATE_CONSUMER_OFFSET 15) and a queue's bounds (SEARCH_OFFSET_BY_TIMESTAMP
29, GET_MAX_OFFSET 30, GET_MIN_OFFSET 31, GET_EARLIEST_MSG_STORETIME 32).

Mirrors the ``*RequestHeader`` / ``*ResponseHeader`` pairs of the same names
in ``org.apache.rocketmq.common.protocol.header`` (4.9.x).  Every request
inherits ``bname`` from ``RpcRequestHeader``.  The response headers are one
``Long`` each; UPDATE_CONSUMER_OFFSET's response header is empty in Java
and has no class here.  The 4.9.8 client also adds a ``ReqT`` key to 30 and
31 (golden ``java-broker-4.9.8.jsonl`` seq 124), which no header declares
and which decoding ignores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..enums import RequestCode
from .base import CustomHeader, Integer, Long, String, WireTable

__all__ = [
    "QueryConsumerOffsetRequestHeader",
    "QueryConsumerOffsetResponseHeader",
    "UpdateConsumerOffsetRequestHeader",
    "GetMaxOffsetRequestHeader",
    "GetMaxOffsetResponseHeader",
    "GetMinOffsetRequestHeader",
    "GetMinOffsetResponseHeader",
    "SearchOffsetRequestHeader",
    "SearchOffsetResponseHeader",
    "GetEarliestMsgStoretimeRequestHeader",
    "GetEarliestMsgStoretimeResponseHeader",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryConsumerOffsetRequestHeader(CustomHeader):
    """The offset ``consumer_group`` last committed for one queue.  The broker
    answers QUERY_NOT_FOUND (22) when there is none."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("consumerGroup", "consumer_group", required=True),
        String("topic", "topic", required=True),
        Integer("queueId", "queue_id", required=True),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.QUERY_CONSUMER_OFFSET
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.QUERY_CONSUMER_OFFSET: False}

    consumer_group: str
    topic: str
    queue_id: int
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryConsumerOffsetResponseHeader(CustomHeader):
    """The committed offset."""

    WIRE: ClassVar[WireTable] = WireTable(Long("offset", "offset", required=True))

    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateConsumerOffsetRequestHeader(CustomHeader):
    """Commit ``commit_offset`` for one queue; the 4.9 client sends it oneway."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("consumerGroup", "consumer_group", required=True),
        String("topic", "topic", required=True),
        Integer("queueId", "queue_id", required=True),
        Long("commitOffset", "commit_offset", required=True),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.UPDATE_CONSUMER_OFFSET
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.UPDATE_CONSUMER_OFFSET: False}

    consumer_group: str
    topic: str
    queue_id: int
    commit_offset: int
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetMaxOffsetRequestHeader(CustomHeader):
    """The queue's max offset: the offset the next message will get."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("topic", "topic", required=True),
        Integer("queueId", "queue_id", required=True),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.GET_MAX_OFFSET
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.GET_MAX_OFFSET: False}

    topic: str
    queue_id: int
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetMaxOffsetResponseHeader(CustomHeader):
    """The max offset."""

    WIRE: ClassVar[WireTable] = WireTable(Long("offset", "offset", required=True))

    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GetMinOffsetRequestHeader(CustomHeader):
    """The queue's min offset: the oldest message still stored."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("topic", "topic", required=True),
        Integer("queueId", "queue_id", required=True),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.GET_MIN_OFFSET
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.GET_MIN_OFFSET: False}

    topic: str
    queue_id: int
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetMinOffsetResponseHeader(CustomHeader):
    """The min offset."""

    WIRE: ClassVar[WireTable] = WireTable(Long("offset", "offset", required=True))

    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchOffsetRequestHeader(CustomHeader):
    """The offset of the first message stored at or after ``timestamp``
    (milliseconds since the epoch)."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("topic", "topic", required=True),
        Integer("queueId", "queue_id", required=True),
        Long("timestamp", "timestamp", required=True),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.SEARCH_OFFSET_BY_TIMESTAMP
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: False}

    topic: str
    queue_id: int
    timestamp: int
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchOffsetResponseHeader(CustomHeader):
    """The offset found."""

    WIRE: ClassVar[WireTable] = WireTable(Long("offset", "offset", required=True))

    offset: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GetEarliestMsgStoretimeRequestHeader(CustomHeader):
    """The store time of the oldest message of one queue."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("topic", "topic", required=True),
        Integer("queueId", "queue_id", required=True),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.GET_EARLIEST_MSG_STORETIME
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.GET_EARLIEST_MSG_STORETIME: False}

    topic: str
    queue_id: int
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetEarliestMsgStoretimeResponseHeader(CustomHeader):
    """The store timestamp, milliseconds since the epoch."""

    WIRE: ClassVar[WireTable] = WireTable(Long("timestamp", "timestamp", required=True))

    timestamp: int
