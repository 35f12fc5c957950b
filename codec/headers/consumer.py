"""The consumer-group headers: who is in a group (GET_CONSUMER_LIST_BY_GROUP
38, NOTIFY_CONSUMER_IDS_CHANGED 40), sending a failed message back for
redelivery (CONSUMER_SEND_MSG_BACK 36), and the broker asking a client about
itself (GET_CONSUMER_RUNNING_INFO 307, CONSUME_MESSAGE_DIRECTLY 309).

Mirrors the classes of the same names in
``org.apache.rocketmq.common.protocol.header`` (4.9.x).  Only
``ConsumerSendMsgBackRequestHeader`` extends ``RpcRequestHeader`` (``bname``).
Java primitive ``boolean`` fields marked ``@CFNullable`` (``unitMode``,
``jstackEnable``) are optional here: a missing key reads as ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..enums import RequestCode
from .base import Boolean, CustomHeader, Integer, Long, String, WireTable

__all__ = [
    "GetConsumerListByGroupRequestHeader",
    "NotifyConsumerIdsChangedRequestHeader",
    "ConsumerSendMsgBackRequestHeader",
    "GetConsumerRunningInfoRequestHeader",
    "ConsumeMessageDirectlyResultRequestHeader",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class GetConsumerListByGroupRequestHeader(CustomHeader):
    """The client ids of a consumer group, as the broker knows them from
    heartbeats; the answer is a ``GetConsumerListByGroupResponseBody``."""

    WIRE: ClassVar[WireTable] = WireTable(String("consumerGroup", "consumer_group", required=True))
    REQUEST_CODE: ClassVar[int] = RequestCode.GET_CONSUMER_LIST_BY_GROUP
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.GET_CONSUMER_LIST_BY_GROUP: False}

    consumer_group: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyConsumerIdsChangedRequestHeader(CustomHeader):
    """Broker to client, oneway: the members of ``consumer_group`` changed,
    rebalance now."""

    WIRE: ClassVar[WireTable] = WireTable(String("consumerGroup", "consumer_group", required=True))
    REQUEST_CODE: ClassVar[int] = RequestCode.NOTIFY_CONSUMER_IDS_CHANGED
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.NOTIFY_CONSUMER_IDS_CHANGED: False}

    consumer_group: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumerSendMsgBackRequestHeader(CustomHeader):
    """A message the consumer failed to consume, to be redelivered through
    the group's retry topic after ``delay_level`` (0: the broker picks
    ``3 + reconsumeTimes``; negative: straight to the DLQ).

    ``offset`` is the message's commit-log offset, ``origin_msg_id`` its
    unique id and ``origin_topic`` its (namespaced) topic.
    """

    WIRE: ClassVar[WireTable] = WireTable(
        Long("offset", "offset", required=True),
        String("group", "group", required=True),
        Integer("delayLevel", "delay_level", required=True),
        String("originMsgId", "origin_msg_id"),
        String("originTopic", "origin_topic"),
        Boolean("unitMode", "unit_mode"),
        Integer("maxReconsumeTimes", "max_reconsume_times"),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.CONSUMER_SEND_MSG_BACK
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.CONSUMER_SEND_MSG_BACK: False}

    offset: int
    group: str
    delay_level: int = 0
    origin_msg_id: str | None = None
    origin_topic: str | None = None
    unit_mode: bool | None = False
    max_reconsume_times: int | None = None
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetConsumerRunningInfoRequestHeader(CustomHeader):
    """Broker (on behalf of an admin) to client: report ``ConsumerRunningInfo``
    for ``consumer_group``; with ``jstack_enable`` also a thread dump."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("consumerGroup", "consumer_group", required=True),
        String("clientId", "client_id", required=True),
        Boolean("jstackEnable", "jstack_enable"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.GET_CONSUMER_RUNNING_INFO
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.GET_CONSUMER_RUNNING_INFO: False}

    consumer_group: str
    client_id: str
    jstack_enable: bool | None = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumeMessageDirectlyResultRequestHeader(CustomHeader):
    """Broker (on behalf of an admin) to client: consume the message in the
    body (a stored-message record) now and answer a
    ``ConsumeMessageDirectlyResult``."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("consumerGroup", "consumer_group", required=True),
        String("clientId", "client_id"),
        String("msgId", "msg_id"),
        String("brokerName", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.CONSUME_MESSAGE_DIRECTLY
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.CONSUME_MESSAGE_DIRECTLY: False}

    consumer_group: str
    client_id: str | None = None
    msg_id: str | None = None
    broker_name: str | None = None
