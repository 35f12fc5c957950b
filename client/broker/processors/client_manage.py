"""HEART_BEAT (34) and UNREGISTER_CLIENT (35).

Mirrors ``ClientManageProcessor``: a heartbeat registers its connection in
the broker's producer and consumer tables (:mod:`..client_manager`) and, for
each consumer group, creates the group's retry topic ``%RETRY%group`` (one
queue, perm RW: ``createTopicInSendMessageBackMethod`` with the default
``SubscriptionGroupConfig``); a consumer group whose membership changed is
told so (NOTIFY_CONSUMER_IDS_CHANGED to its connections) before the
heartbeat is answered, as ``ConsumerManager.registerConsumer`` does.
Unregistration takes the connection out of the named groups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...codec.body import HeartbeatData
from ...codec.command import RemotingCommand
from ...codec.enums import RequestCode, ResponseCode
from ...codec.headers import UnregisterClientRequestHeader
from ...codec.message import RETRY_GROUP_TOPIC_PREFIX
from ..processor import ProcessorRegistry, RequestContext, reply

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["ClientManageProcessor", "RETRY_QUEUE_NUMS"]

#: ``SubscriptionGroupConfig.retryQueueNums``.
RETRY_QUEUE_NUMS = 1


class ClientManageProcessor:
    """Heartbeats and unregistrations of one broker."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.HEART_BEAT, self.heartbeat)
        registry.register(RequestCode.UNREGISTER_CLIENT, self.unregister_client)

    def heartbeat(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        broker = self.broker
        data = HeartbeatData.from_json(cmd.body)
        for consumer in data.consumer_data_set:
            if consumer.group_name:
                broker.topics.create_in_send_back(
                    broker.name, f"{RETRY_GROUP_TOPIC_PREFIX}{consumer.group_name}", RETRY_QUEUE_NUMS
                )
        changed = broker.clients.heartbeat(broker.name, ctx.channel, data, cmd.language, cmd.version)
        for group in changed:
            broker.consumer_ids_changed(group)
        return reply(cmd, ResponseCode.SUCCESS)

    def unregister_client(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        broker = self.broker
        header = UnregisterClientRequestHeader.from_command(cmd)
        changed = broker.clients.unregister(
            broker.name, ctx.channel, header.client_id, header.producer_group, header.consumer_group
        )
        for group in changed:
            broker.consumer_ids_changed(group)
        return reply(cmd, ResponseCode.SUCCESS)
