"""GET_MAX_OFFSET (30), the one admin request the producer path uses.

Mirrors ``AdminBrokerProcessor.getMaxOffset``: one past the newest offset of
a queue (``DefaultMessageStore.getMaxOffsetInQueue``), 0 for a queue that
never stored a message.  Knowingly lenient where Java is strict: a missing
or non-numeric ``queueId`` reads as queue 0 instead of failing the header.
GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP and the consumer-offset requests
belong with the consumer; the store already answers them
(:meth:`~..store.MessageStore.min_offset`,
:meth:`~..store.MessageStore.offset_in_queue_by_time`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...codec.command import RemotingCommand
from ...codec.enums import RequestCode, ResponseCode
from ..processor import ProcessorRegistry, RequestContext, reply

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["AdminBrokerProcessor"]


class AdminBrokerProcessor:
    """Offsets of one broker's queues."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.GET_MAX_OFFSET, self.get_max_offset)

    def get_max_offset(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        # TODO: GetMaxOffsetRequestHeader / GetMaxOffsetResponseHeader once codec/headers has them.
        topic = cmd.ext_fields.get("topic", "")
        try:
            queue_id = int(cmd.ext_fields.get("queueId", "0"))
        except ValueError:
            queue_id = 0
        offset = self.broker.store.max_offset(topic, queue_id)
        return reply(cmd, ResponseCode.SUCCESS, ext_fields={"offset": str(offset)})
