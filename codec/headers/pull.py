"""The PULL_MESSAGE (11) headers: the request and the response.

Mirrors ``PullMessageRequestHeader`` and ``PullMessageResponseHeader`` of
``org.apache.rocketmq.common.protocol.header`` (4.9.x).  Both implement
Java's ``FastCodesHeader``, but with the plain field names as keys (no
one-letter form as for SEND), so one V1 table each is the whole wire format.
``bname`` is inherited from ``RpcRequestHeader`` and written last, as the
4.9.8 client does (golden ``java-broker-4.9.8.jsonl`` seq 69).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..enums import RequestCode
from .base import CustomHeader, Integer, Long, String, WireTable

__all__ = ["PullMessageRequestHeader", "PullMessageResponseHeader"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PullMessageRequestHeader(CustomHeader):
    """Which queue to read from which offset, for which group.

    ``sys_flag`` holds :class:`~codec.enums.PullSysFlag` bits;
    ``commit_offset`` is the consumer's offset to commit along the way
    (with ``COMMIT_OFFSET``); ``suspend_timeout_millis`` is how long the
    broker may hold the request (long polling, with ``SUSPEND``).
    ``subscription`` is the expression, sent only with ``SUBSCRIPTION``.
    """

    WIRE: ClassVar[WireTable] = WireTable(
        String("consumerGroup", "consumer_group", required=True),
        String("topic", "topic", required=True),
        Integer("queueId", "queue_id", required=True),
        Long("queueOffset", "queue_offset", required=True),
        Integer("maxMsgNums", "max_msg_nums", required=True),
        Integer("sysFlag", "sys_flag", required=True),
        Long("commitOffset", "commit_offset", required=True),
        Long("suspendTimeoutMillis", "suspend_timeout_millis", required=True),
        String("subscription", "subscription"),
        Long("subVersion", "sub_version", required=True),
        String("expressionType", "expression_type"),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.PULL_MESSAGE
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.PULL_MESSAGE: False}

    consumer_group: str
    topic: str
    queue_id: int
    queue_offset: int
    max_msg_nums: int = 32
    sys_flag: int = 0
    commit_offset: int = 0
    suspend_timeout_millis: int = 15000
    subscription: str | None = None
    sub_version: int = 0
    expression_type: str | None = "TAG"
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PullMessageResponseHeader(CustomHeader):
    """Where to pull next: the offset after the messages returned, the
    queue's bounds, and the broker id to pull from next time (0 = master)."""

    WIRE: ClassVar[WireTable] = WireTable(
        Long("suggestWhichBrokerId", "suggest_which_broker_id", required=True),
        Long("nextBeginOffset", "next_begin_offset", required=True),
        Long("minOffset", "min_offset", required=True),
        Long("maxOffset", "max_offset", required=True),
    )

    suggest_which_broker_id: int = 0
    next_begin_offset: int
    min_offset: int
    max_offset: int
