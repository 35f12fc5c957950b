"""The PUSH_REPLY_MESSAGE_TO_CLIENT (326) header: the broker forwarding a
reply (request-reply messaging) to the requesting client.

Mirrors ``org.apache.rocketmq.common.protocol.header.ReplyMessageRequestHeader``
(4.9.x).  The replier itself sends SEND_REPLY_MESSAGE (324/325) with a
:class:`~codec.headers.send.SendMessageRequestHeader`; the broker re-heads
the message with this header, adding where it was born and stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..enums import RequestCode
from .base import Boolean, CustomHeader, Integer, Long, String, WireTable

__all__ = ["ReplyMessageRequestHeader"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyMessageRequestHeader(CustomHeader):
    """The reply message's header fields; the body is the message body.
    ``born_host`` / ``store_host`` are ``"ip:port"`` strings."""

    WIRE: ClassVar[WireTable] = WireTable(
        String("producerGroup", "producer_group", required=True),
        String("topic", "topic", required=True),
        String("defaultTopic", "default_topic", required=True),
        Integer("defaultTopicQueueNums", "default_topic_queue_nums", required=True),
        Integer("queueId", "queue_id", required=True),
        Integer("sysFlag", "sys_flag", required=True),
        Long("bornTimestamp", "born_timestamp", required=True),
        Integer("flag", "flag", required=True),
        String("properties", "properties"),
        Integer("reconsumeTimes", "reconsume_times"),
        Boolean("unitMode", "unit_mode"),
        String("bornHost", "born_host", required=True),
        String("storeHost", "store_host", required=True),
        Long("storeTimestamp", "store_timestamp", required=True),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT: False}

    producer_group: str
    topic: str
    default_topic: str = "TBW102"
    default_topic_queue_nums: int = 4
    queue_id: int
    sys_flag: int = 0
    born_timestamp: int
    flag: int = 0
    properties: str | None = None
    reconsume_times: int | None = 0
    unit_mode: bool | None = False
    born_host: str
    store_host: str
    store_timestamp: int
