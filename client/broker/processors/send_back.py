"""CONSUMER_SEND_MSG_BACK (36): a consumer gives a message back to be
consumed again later, or for good to the dead-letter queue.

Mirrors ``SendMessageProcessor.asyncConsumerSendMsgBack`` with the default
``SubscriptionGroupConfig`` (``retryQueueNums`` 1, ``retryMaxTimes`` 16):
the message is looked up by its commit-log offset (SYSTEM_ERROR ``look
message by offset failed, <offset>``) and copied into ``%RETRY%<group>``
(created with one queue, perm RW) with ``reconsumeTimes + 1``, the same
body, flag, sysFlag, born time and host, and its properties plus
``RETRY_TOPIC`` (the original topic, unless already there), ``WAIT=false``,
``DELAY`` and ``ORIGIN_MESSAGE_ID`` (kept from an earlier retry, else the
stored message's offset message id, which is a broker's ``msgId``).  The
delay level is the request's, or ``3 + reconsumeTimes`` for 0; the store
then parks it in the schedule topic (:mod:`..schedule`).  Once the
message was reconsumed ``maxReconsumeTimes`` times (the request's, from
clients of version 3.4.9 on, else the group's 16) or for a negative delay
level it goes to ``%DLQ%<group>`` (one queue, perm RW as 4.9.8 creates it)
with ``DELAY=0``, not delayed.  The answer is a bare SUCCESS.

Where it knowingly differs from Java: ``unitMode`` does not mark the retry
topic's sysFlag; no ``CLUSTER`` property is added (as for sends).
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Final

from ...codec.body import PermName
from ...codec.command import MQVersion, RemotingCommand
from ...codec.enums import RequestCode, ResponseCode
from ...codec.headers import ConsumerSendMsgBackRequestHeader
from ...codec.message import (
    PROPERTY_DELAY_TIME_LEVEL,
    PROPERTY_ORIGIN_MESSAGE_ID,
    PROPERTY_RETRY_TOPIC,
    PROPERTY_WAIT_STORE_MSG_OK,
)
from ...codec.namespace import dlq_topic, retry_topic
from ..processor import ProcessorRegistry, RequestContext, reply
from ..store import MessageDraft
from ..topics import PERM_RW
from .client_manage import RETRY_QUEUE_NUMS

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["ConsumerSendMsgBackProcessor", "RETRY_MAX_TIMES", "DLQ_NUMS_PER_GROUP"]

log = logging.getLogger(__name__)

#: ``SubscriptionGroupConfig.retryMaxTimes``.
RETRY_MAX_TIMES: Final = 16
#: ``MixAll.DLQ_NUMS_PER_GROUP``.
DLQ_NUMS_PER_GROUP: Final = 1


class ConsumerSendMsgBackProcessor:
    """Retries and dead letters of one broker."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.CONSUMER_SEND_MSG_BACK, self)

    def __call__(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        broker = self.broker
        header = ConsumerSendMsgBackRequestHeader.from_command(cmd)
        group = header.group
        new_topic = retry_topic(group)
        queue_id = random.randrange(99_999_999) % RETRY_QUEUE_NUMS
        config = broker.topics.create_in_send_back(broker.name, new_topic, RETRY_QUEUE_NUMS, PERM_RW)
        if not config.perm & PermName.PERM_WRITE:
            return reply(cmd, ResponseCode.NO_PERMISSION, f"the topic[{new_topic}] sending message is forbidden")
        stored = broker.store.look_message_by_offset(header.offset)
        if stored is None:
            return reply(cmd, ResponseCode.SYSTEM_ERROR, f"look message by offset failed, {header.offset}")

        props = dict(stored.properties)
        if PROPERTY_RETRY_TOPIC not in props:
            props[PROPERTY_RETRY_TOPIC] = stored.topic
        props[PROPERTY_WAIT_STORE_MSG_OK] = "false"
        max_times = RETRY_MAX_TIMES
        if cmd.version >= MQVersion.V3_4_9 and header.max_reconsume_times is not None:
            max_times = header.max_reconsume_times
        delay_level = header.delay_level
        if stored.reconsume_times >= max_times or delay_level < 0:
            new_topic = dlq_topic(group)
            queue_id = random.randrange(99_999_999) % DLQ_NUMS_PER_GROUP
            broker.topics.create_in_send_back(broker.name, new_topic, DLQ_NUMS_PER_GROUP, PERM_RW)
            props[PROPERTY_DELAY_TIME_LEVEL] = "0"
            log.info("%s: message at %d of group %s goes to %s", broker.name, header.offset, group, new_topic)
        else:
            if delay_level == 0:
                delay_level = 3 + stored.reconsume_times
            props[PROPERTY_DELAY_TIME_LEVEL] = str(delay_level)
        if not props.get(PROPERTY_ORIGIN_MESSAGE_ID, "").strip():
            props[PROPERTY_ORIGIN_MESSAGE_ID] = stored.offset_msg_id

        broker.store.append(
            [
                MessageDraft(
                    topic=new_topic,
                    queue_id=queue_id,
                    body=stored.body,
                    properties=props,
                    flag=stored.flag,
                    sys_flag=stored.sys_flag,
                    born_timestamp=stored.born_timestamp,
                    born_host=stored.born_host,
                    reconsume_times=stored.reconsume_times + 1,
                    producer_group=stored.producer_group,
                    request_code=cmd.code,
                    serialize_type=cmd.serialize_type,
                    language=cmd.language,
                )
            ]
        )
        return reply(cmd, ResponseCode.SUCCESS)
