"""SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320).

Mirrors ``SendMessageProcessor`` with ``AbstractSendMessageProcessor.msgCheck``
(topic name, forbidden topics, auto-creation from ``TBW102``, queue id) and
the store's size checks (``DefaultMessageStore.checkMessage(s)``, the
commit log's record length) and ``handleRetryAndDLQ`` (a consumer's own
re-send to ``%RETRY%group`` goes to ``%DLQ%group`` after its max
reconsume times): the same response codes and remarks as a 4.9
broker, ``MSG_REGION`` / ``TRACE_ON`` on every answer.

A prepared message (``TRAN_MSG`` true, not a batch) goes to the half queue
instead (``TransactionalMessageService.prepareMessage``, see :mod:`..transaction`),
or is refused when the broker rejects transaction messages.

Stored properties are the ones sent plus ``CLUSTER`` (the cluster's name,
which a replier needs: :func:`rmqwire.create_reply_message`), for a batch on
every member.  Where it knowingly differs from Java: ``WAIT`` is kept (Java
leaves it out of the stored string, and appends the batch's own properties
to each member's); ``"batch":"1"`` (the C++ client's way) counts as a
batch, as :mod:`codec.headers` reads it.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Final, NamedTuple

from ...codec.command import MQVersion, RemotingCommand
from ...codec.enums import RequestCode, ResponseCode
from ...codec.errors import CodecError
from ...codec.headers import SendMessageRequestHeader, SendMessageResponseHeader
from ...codec.message import (
    MAX_PROPERTIES_SIZE,
    NOT_ALLOWED_SEND_TOPICS,
    PROPERTY_CLUSTER,
    PROPERTY_DELAY_TIME_LEVEL,
    PROPERTY_MSG_REGION,
    PROPERTY_TRACE_SWITCH,
    RETRY_GROUP_TOPIC_PREFIX,
    TOPIC_MAX_LENGTH,
    VALID_NAME_CHARS,
    VALID_NAME_PATTERN,
    decode_batch,
    decode_properties,
)
from ...codec.namespace import dlq_topic
from ..config import CLUSTER_NAME, FAQ_SUFFIX, REGION_ID
from ..faults import ILLEGAL_REMARK
from ..processor import ProcessorRegistry, RequestContext, reply
from ..store import MessageDraft, properties_length, record_length
from ..topics import PERM_RW, TopicConfig
from .send_back import DLQ_NUMS_PER_GROUP, RETRY_MAX_TIMES

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["SendMessageProcessor", "Refusal", "check_topic", "msg_check", "SEND_CODES"]

log = logging.getLogger(__name__)

SEND_CODES: Final = (RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE)
#: What a 4.9 broker adds to every SEND answer, success or not.
_EXTRAS: Final = {PROPERTY_MSG_REGION: REGION_ID, PROPERTY_TRACE_SWITCH: "true"}


def _with_cluster(props: dict[str, str]) -> tuple[dict[str, str], int]:
    """``putProperty(msgInner, PROPERTY_CLUSTER, brokerClusterName)``: the
    properties to store and their size, as the record holds them (re-encoded)."""
    stored = {**props, PROPERTY_CLUSTER: CLUSTER_NAME}
    return stored, properties_length(stored)


def check_topic(topic: str) -> tuple[int, str] | None:
    """``TopicValidator.validateTopic`` as a 4.9 broker runs it: (SYSTEM_ERROR, remark) or None."""
    if not topic.strip():
        return ResponseCode.SYSTEM_ERROR, "The specified topic is blank."
    if VALID_NAME_PATTERN.fullmatch(topic) is None:
        return ResponseCode.SYSTEM_ERROR, f"The specified topic contains illegal characters, allowing only {VALID_NAME_CHARS}"
    if len(topic) > TOPIC_MAX_LENGTH:
        return ResponseCode.SYSTEM_ERROR, "The specified topic is longer than topic max length."
    return None


class Refusal(NamedTuple):
    """Why a send is refused: the response code and Java's remark."""

    code: int
    remark: str


def msg_check(
    broker: BrokerController, header: SendMessageRequestHeader, peer: str
) -> tuple[TopicConfig, int] | Refusal:
    """``AbstractSendMessageProcessor.msgCheck``, shared by sends and replies:
    the topic's name, the forbidden topics, the topic's existence (created
    from the default topic when the broker allows it) and the queue id
    (negative: one at random).  Returns (topic config, queue id) or the
    :class:`Refusal`."""
    topic = header.topic
    problem = check_topic(topic)
    if problem is not None:
        return Refusal(*problem)
    if topic in NOT_ALLOWED_SEND_TOPICS:
        return Refusal(ResponseCode.NO_PERMISSION, f"Sending message to topic[{topic}] is forbidden.")
    topic_config = broker.topics.get(broker.name, topic)
    if topic_config is None:
        config = broker.config
        topic_config = broker.topics.create_in_send(
            broker.name,
            topic,
            header.default_topic,
            header.default_topic_queue_nums,
            enabled=config.auto_create_topics,
            scope=config.auto_create_scope,
        )
    if topic_config is None:
        return Refusal(ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist, apply first please!{FAQ_SUFFIX}")
    queue_id = header.queue_id
    nums = topic_config.write_queue_nums
    if queue_id >= nums:
        return Refusal(
            ResponseCode.SYSTEM_ERROR,
            f"request queueId[{queue_id}] is illegal, {topic_config.describe()} Producer: {peer}",
        )
    if queue_id < 0:
        queue_id = random.randrange(nums)
    return topic_config, queue_id


class SendMessageProcessor:
    """Stores sends in the broker's :class:`~..store.MessageStore`."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(SEND_CODES, self)

    def __call__(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        broker = self.broker
        config = broker.config
        header = SendMessageRequestHeader.from_command(cmd)
        topic = header.topic

        def fail(code: int, remark: str) -> RemotingCommand:
            log.debug("%s: send to %s refused (%d): %s", broker.name, topic, code, remark)
            return reply(cmd, code, remark, dict(_EXTRAS))

        checked = msg_check(broker, header, ctx.peer)
        if isinstance(checked, Refusal):
            return fail(*checked)
        topic_config, queue_id = checked

        body = cmd.body
        max_size = config.max_message_size
        illegal = ILLEGAL_REMARK.format(max_size)
        topic_size = len(topic.encode())
        # (body, properties, properties size in bytes, flag), in store order
        entries: list[tuple[bytes, dict[str, str], int, int]]
        store_topic, store_queue = topic, queue_id
        if header.batch:
            # asyncSendBatchMessage, DefaultMessageStore.checkMessages
            if len(body) > max_size:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)
            try:
                batch = decode_batch(body)
            except CodecError:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)
            if not batch:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)
            entries = [(e.body, e.properties, properties_length(e.properties), e.flag) for e in batch]
        else:
            props_text = header.properties or ""
            props_dict = decode_properties(props_text) if props_text else {}
            store_topic, store_queue = self._retry_or_dlq(cmd, header, topic, queue_id, props_dict)
            # the record holds them re-encoded, as Java's setPropertiesString(messageProperties2String(...))
            entries = [(body, props_dict, properties_length(props_dict), header.flag)]
        entries = [(entry_body, *_with_cluster(props), flag) for entry_body, props, _size, flag in entries]
        # DefaultMessageStore.checkMessage and CommitLog's size checks
        sys_flag = header.sys_flag
        for entry_body, _props, props_size, _flag in entries:
            if props_size > MAX_PROPERTIES_SIZE:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)
            if record_length(sys_flag, len(entry_body), topic_size, props_size) > max_size:
                return fail(ResponseCode.MESSAGE_ILLEGAL, illegal)

        peer = ctx.peer
        is_batch = bool(header.batch)
        # TransactionalMessageService.prepareMessage: a half message is parked
        # in the half queue; the answer still names the queue the producer chose
        prepared = not is_batch and broker.transactions.is_prepared(entries[0][1], header.reconsume_times or 0)
        if prepared and config.reject_transaction_message:
            return fail(
                ResponseCode.NO_PERMISSION,
                f"the broker[{config.advertised_host}] sending transaction message is forbidden",
            )
        stored = (broker.transactions.prepare if prepared else broker.store.append)(
            [
                MessageDraft(
                    topic=store_topic,
                    queue_id=store_queue,
                    body=entry_body,
                    properties=props,
                    flag=flag,
                    sys_flag=sys_flag,
                    born_timestamp=header.born_timestamp,
                    born_host=peer,
                    reconsume_times=header.reconsume_times or 0,
                    properties_size=props_size,
                    producer_group=header.producer_group,
                    request_code=cmd.code,
                    serialize_type=cmd.serialize_type,
                    language=cmd.language,
                    batch=is_batch,
                )
                for entry_body, props, props_size, flag in entries
            ]
        )
        response = SendMessageResponseHeader(
            msg_id=",".join(m.offset_msg_id for m in stored),
            queue_id=queue_id,
            queue_offset=stored[0].queue_offset,
            msg_region=REGION_ID,
            trace_on=True,
        )
        return reply(cmd, ResponseCode.SUCCESS, None, response.to_ext_fields())

    def _retry_or_dlq(
        self, cmd: RemotingCommand, header: SendMessageRequestHeader, topic: str, queue_id: int, props: dict[str, str]
    ) -> tuple[str, int]:
        """``handleRetryAndDLQ``: a message a consumer re-sends to its group's
        retry topic itself (when CONSUMER_SEND_MSG_BACK failed) goes to the
        group's dead-letter queue, undelayed, once its ``reconsumeTimes``
        reached the max (the header's from clients of 3.4.9 on, else 16).
        Returns where to store it; may set ``DELAY`` in ``props``."""
        if not topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
            return topic, queue_id
        group = topic[len(RETRY_GROUP_TOPIC_PREFIX) :]
        max_times = RETRY_MAX_TIMES
        if cmd.version >= MQVersion.V3_4_9 and header.max_reconsume_times is not None:
            max_times = header.max_reconsume_times
        if (header.reconsume_times or 0) < max_times:
            return topic, queue_id
        dlq = dlq_topic(group)
        self.broker.topics.create_in_send_back(self.broker.name, dlq, DLQ_NUMS_PER_GROUP, PERM_RW)
        props[PROPERTY_DELAY_TIME_LEVEL] = "0"
        return dlq, random.randrange(99_999_999) % DLQ_NUMS_PER_GROUP
