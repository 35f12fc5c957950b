"""The admin requests consumers use: queue offsets and queue locks.

Mirrors ``AdminBrokerProcessor``:

* GET_MAX_OFFSET (30): one past the newest offset of a queue
  (``getMaxOffsetInQueue``), GET_MIN_OFFSET (31): the oldest offset still
  stored, SEARCH_OFFSET_BY_TIMESTAMP (29): ``getOffsetInQueueByTime``,
  GET_EARLIEST_MSG_STORETIME (32): the oldest message's store time (-1 for
  none); each answers a header with one field, unknown queues as empty ones;
* LOCK_BATCH_MQ (41): the queues of the request the group's lock table
  (:mod:`..locks`) grants the client, as ``lockOKMQSet``;
  UNLOCK_BATCH_MQ (42): releases the client's locks, empty answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...codec.body import LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody
from ...codec.command import RemotingCommand
from ...codec.enums import RequestCode, ResponseCode
from ...codec.headers import (
    GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
)
from ..processor import ProcessorRegistry, RequestContext, reply

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["AdminBrokerProcessor"]


class AdminBrokerProcessor:
    """Offsets and locks of one broker's queues."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.GET_MAX_OFFSET, self.get_max_offset)
        registry.register(RequestCode.GET_MIN_OFFSET, self.get_min_offset)
        registry.register(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, self.search_offset_by_timestamp)
        registry.register(RequestCode.GET_EARLIEST_MSG_STORETIME, self.get_earliest_msg_storetime)
        registry.register(RequestCode.LOCK_BATCH_MQ, self.lock_batch_mq)
        registry.register(RequestCode.UNLOCK_BATCH_MQ, self.unlock_batch_mq)

    def get_max_offset(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        header = GetMaxOffsetRequestHeader.from_command(cmd)
        offset = self.broker.store.max_offset(header.topic, header.queue_id)
        return reply(cmd, ResponseCode.SUCCESS, ext_fields=GetMaxOffsetResponseHeader(offset=offset).to_ext_fields())

    def get_min_offset(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        header = GetMinOffsetRequestHeader.from_command(cmd)
        offset = self.broker.store.min_offset(header.topic, header.queue_id)
        return reply(cmd, ResponseCode.SUCCESS, ext_fields=GetMinOffsetResponseHeader(offset=offset).to_ext_fields())

    def search_offset_by_timestamp(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        header = SearchOffsetRequestHeader.from_command(cmd)
        offset = self.broker.store.offset_in_queue_by_time(header.topic, header.queue_id, header.timestamp)
        return reply(cmd, ResponseCode.SUCCESS, ext_fields=SearchOffsetResponseHeader(offset=offset).to_ext_fields())

    def get_earliest_msg_storetime(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        header = GetEarliestMsgStoretimeRequestHeader.from_command(cmd)
        stamp = self.broker.store.earliest_message_time(header.topic, header.queue_id)
        fields = GetEarliestMsgStoretimeResponseHeader(timestamp=stamp).to_ext_fields()
        return reply(cmd, ResponseCode.SUCCESS, ext_fields=fields)

    def lock_batch_mq(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        body = LockBatchRequestBody.from_json(cmd.body)
        locked = self.broker.locks.try_lock_batch(body.consumer_group, dict.fromkeys(body.mq_set), body.client_id)
        return reply(cmd, ResponseCode.SUCCESS, body=LockBatchResponseBody(tuple(locked)).to_json())

    def unlock_batch_mq(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        body = UnlockBatchRequestBody.from_json(cmd.body)
        self.broker.locks.unlock_batch(body.consumer_group, body.mq_set, body.client_id)
        return reply(cmd, ResponseCode.SUCCESS)
