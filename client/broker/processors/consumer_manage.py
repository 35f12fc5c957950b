"""GET_CONSUMER_LIST_BY_GROUP (38), QUERY_CONSUMER_OFFSET (14),
UPDATE_CONSUMER_OFFSET (15).

Mirrors ``ConsumerManageProcessor``:

* the consumer list is the group's client ids in joining order
  (``ConsumerGroupInfo.getAllClientId``) as a ``consumerIdList`` body and an
  empty header; SYSTEM_ERROR ``no consumer for this group, <group>`` when
  the group has no connection;
* a query answers the committed offset; without one, 0 when the queue's min
  offset is 0 and its first message is not "on disk" (always so here: the
  store is memory), else QUERY_NOT_FOUND (22) with Java's remark;
* an update commits ``commitOffset`` (the consumer's oneway persist gets no
  answer: the dispatcher never answers a oneway request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...codec.body import GetConsumerListByGroupResponseBody
from ...codec.command import RemotingCommand
from ...codec.enums import RequestCode, ResponseCode
from ...codec.headers import (
    GetConsumerListByGroupRequestHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
)
from ..processor import ProcessorRegistry, RequestContext, reply

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["ConsumerManageProcessor", "QUERY_NOT_FOUND_REMARK"]

#: ``ConsumerManageProcessor.queryConsumerOffset``'s remark for QUERY_NOT_FOUND.
QUERY_NOT_FOUND_REMARK = "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"


class ConsumerManageProcessor:
    """Consumer lists and consumer offsets of one broker."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.GET_CONSUMER_LIST_BY_GROUP, self.get_consumer_list_by_group)
        registry.register(RequestCode.QUERY_CONSUMER_OFFSET, self.query_consumer_offset)
        registry.register(RequestCode.UPDATE_CONSUMER_OFFSET, self.update_consumer_offset)

    def get_consumer_list_by_group(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        header = GetConsumerListByGroupRequestHeader.from_command(cmd)
        ids = self.broker.clients.consumer_ids(self.broker.name, header.consumer_group)
        if not ids:
            return reply(cmd, ResponseCode.SYSTEM_ERROR, f"no consumer for this group, {header.consumer_group}")
        return reply(cmd, ResponseCode.SUCCESS, body=GetConsumerListByGroupResponseBody(tuple(ids)).to_json())

    def query_consumer_offset(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        broker = self.broker
        header = QueryConsumerOffsetRequestHeader.from_command(cmd)
        offset = broker.offsets.query(header.consumer_group, header.topic, header.queue_id)
        if offset < 0:
            # checkInDiskByConsumeOffset is false for a store held in memory
            if broker.store.min_offset(header.topic, header.queue_id) > 0:
                return reply(cmd, ResponseCode.QUERY_NOT_FOUND, QUERY_NOT_FOUND_REMARK)
            offset = 0
        return reply(cmd, ResponseCode.SUCCESS, ext_fields=QueryConsumerOffsetResponseHeader(offset=offset).to_ext_fields())

    def update_consumer_offset(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        header = UpdateConsumerOffsetRequestHeader.from_command(cmd)
        self.broker.offsets.commit(header.consumer_group, header.topic, header.queue_id, header.commit_offset)
        return reply(cmd, ResponseCode.SUCCESS)
