"""The SEND_MESSAGE headers: the request (V1 names and V2 letters) and the
response.

Mirrors ``SendMessageRequestHeader`` and ``SendMessageRequestHeaderV2`` of
``org.apache.rocketmq.remoting.protocol.header`` as one class:
Java keeps two classes only to give the same fields one-letter keys
(``createSendMessageRequestHeaderV2`` copies one into the other), so here the
wire table carries both keys and the code picks which (``protocol.md`` 4.2,
4.3).  ``SendMessageResponseHeader`` (4.4) also holds the two plain extFields
the broker adds to every SEND response, ``MSG_REGION`` and ``TRACE_ON``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..command import RemotingCommand
from ..enums import RequestCode, SerializeType
from .base import Boolean, CustomHeader, Integer, Long, String, WireTable

__all__ = ["SendMessageRequestHeader", "SendMessageResponseHeader"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessageRequestHeader(CustomHeader):
    """The header of SEND_MESSAGE (10, V1 names), SEND_MESSAGE_V2 (310) and
    SEND_BATCH_MESSAGE (320, both V2 letters).

    The defaults are what a Java producer sends.  ``from_command`` also reads
    SEND_REPLY_MESSAGE (324, V1) and SEND_REPLY_MESSAGE_V2 (325, V2), which
    Java's ``ReplyMessageProcessor`` decodes into the same header.
    """

    WIRE: ClassVar[WireTable] = WireTable(
        String("producerGroup", "producer_group", v2="a", required=True),
        String("topic", "topic", v2="b", required=True),
        String("defaultTopic", "default_topic", v2="c", required=True),
        Integer("defaultTopicQueueNums", "default_topic_queue_nums", v2="d", required=True),
        Integer("queueId", "queue_id", v2="e", required=True),
        Integer("sysFlag", "sys_flag", v2="f", required=True),
        Long("bornTimestamp", "born_timestamp", v2="g", required=True),
        Integer("flag", "flag", v2="h", required=True),
        String("properties", "properties", v2="i"),
        Integer("reconsumeTimes", "reconsume_times", v2="j"),
        Boolean("unitMode", "unit_mode", v2="k"),
        Boolean("batch", "batch", v2="m"),
        Integer("maxReconsumeTimes", "max_reconsume_times", v2="l"),
        # Inherited from RpcRequestHeader as ``bname``; V2 names it ``brokerName``.
        String("bname", "broker_name", v2="n"),
    )
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {
        RequestCode.SEND_MESSAGE: False,
        RequestCode.SEND_MESSAGE_V2: True,
        RequestCode.SEND_BATCH_MESSAGE: True,
        RequestCode.SEND_REPLY_MESSAGE: False,
        RequestCode.SEND_REPLY_MESSAGE_V2: True,
    }

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
    batch: bool | None = False
    max_reconsume_times: int | None = None
    broker_name: str | None = None

    def to_ext_fields(self, v2: bool = True) -> dict[str, str]:
        """The header as ``extFields``: V2 letters ``a``..``n`` in order (Java's
        fast encoder order), or V1 names in declaration order; ``None`` omitted."""
        return self._ext_fields(v2)

    def request_code(self, v2: bool = True) -> int:
        """320 for a batch and 310 otherwise with V2 keys; 10 with V1 names
        (Java always sends batches as 320; the C++ client sends them as 10)."""
        return self.request_code_for(v2, bool(self.batch))

    @staticmethod
    def request_code_for(v2: bool, batch: bool) -> int:
        """:meth:`request_code` for a header with ``batch`` (without making one)."""
        if not v2:
            return int(RequestCode.SEND_MESSAGE)
        return int(RequestCode.SEND_BATCH_MESSAGE if batch else RequestCode.SEND_MESSAGE_V2)

    def to_request(
        self,
        body: bytes = b"",
        *,
        oneway: bool = False,
        serialize_type: SerializeType = SerializeType.JSON,
        v2: bool = True,
    ) -> RemotingCommand:
        """The whole SEND request with this header and ``body`` (the message
        body, or for a batch the encoded batch).  The opaque is left 0."""
        return RemotingCommand.request(
            self.request_code(v2), self.to_ext_fields(v2), body, oneway=oneway, serialize_type=serialize_type
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessageResponseHeader(CustomHeader):
    """The header of a SEND response with code SUCCESS, FLUSH_DISK_TIMEOUT,
    SLAVE_NOT_AVAILABLE or FLUSH_SLAVE_TIMEOUT (other codes carry none).

    ``msg_id`` is the broker's offset message id (comma-separated for a
    batch).  ``msg_region`` and ``trace_on`` are not fields of the Java class
    but plain extFields ``SendMessageProcessor`` adds next to it.
    """

    WIRE: ClassVar[WireTable] = WireTable(
        String("msgId", "msg_id", required=True),
        Integer("queueId", "queue_id", required=True),
        Long("queueOffset", "queue_offset", required=True),
        String("transactionId", "transaction_id"),
        String("batchUniqId", "batch_uniq_id"),
        String("recallHandle", "recall_handle"),
        String("MSG_REGION", "msg_region"),
        Boolean("TRACE_ON", "trace_on"),
    )

    msg_id: str
    queue_id: int
    queue_offset: int
    transaction_id: str | None = None
    batch_uniq_id: str | None = None
    recall_handle: str | None = None
    msg_region: str | None = None
    trace_on: bool | None = None
