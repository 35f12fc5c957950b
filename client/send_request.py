"""The send path's pieces that need no producer: one send as it goes to the
broker, its wire properties, the queue a selector picks, and the answer read
as a ``SendResult``.

Mirrors what ``DefaultMQProducerImpl.sendKernelImpl`` prepares (the
properties with ``UNIQ_KEY``, the request's parts) and
``MQClientAPIImpl.processSendResponse`` (the response code and header as a
``SendResult``), and ``sendSelectImpl``'s use of a ``MessageQueueSelector``.
:class:`~client.producer.AsyncProducer` builds a :class:`SendRequest` per
send and routes, retries and invokes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .codec.command import RemotingCommand, _fast_constructor
from .codec.enums import ResponseCode
from .codec.errors import BrokerError, ClientError, ConfigError, InvalidMessageError
from .codec.headers import SendMessageResponseHeader
from .codec.message import (
    NAME_VALUE_SEPARATOR,
    PROPERTY_SEPARATOR,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    encode_properties,
    PROPERTY_WAIT_STORE_MSG_OK,
    encode_batch_record,
    new_message_id,
    validate_topic,
)
from .namespacing import Namespace
from .route import TopicPublishInfo
from .types import Message, MessageQueue, SendResult, SendStatus

__all__ = [
    "MessageQueueSelector",
    "SendRequest",
    "STATUS_BY_CODE",
    "new_send_request",
    "new_send_result",
    "encoded_properties",
    "check_target",
    "select_queue",
    "send_result",
    "check_message",
    "batch_request",
]

#: Java ``MessageQueueSelector.select(mqs, msg, arg)``: picks the queue of an
#: orderly send from the topic's writable queues.
MessageQueueSelector = Callable[[list[MessageQueue], Message, Any], MessageQueue]


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One send as it goes to ``sendKernelImpl``: the encoded parts, where
    it may go, and how it is answered."""

    topic: str
    body: bytes
    #: the properties, encoded for the header
    properties: str
    sys_flag: int
    flag: int
    #: the client's message id (comma-joined for a batch)
    uniq: str
    batch: bool = False
    oneway: bool = False
    #: an explicit queue: tried once, as Java's ``send(msg, mq)``
    queue: MessageQueue | None = None
    #: the message a selector picks the queue for (``send(msg, selector, arg)``)
    selector: MessageQueueSelector | None = None
    message: Message | None = None
    arg: Any = None
    #: a reply (``MSG_TYPE`` reply): sent as SEND_REPLY_MESSAGE(_V2)
    reply: bool = False


STATUS_BY_CODE = {
    ResponseCode.SUCCESS: SendStatus.SEND_OK,
    ResponseCode.FLUSH_DISK_TIMEOUT: SendStatus.FLUSH_DISK_TIMEOUT,
    ResponseCode.FLUSH_SLAVE_TIMEOUT: SendStatus.FLUSH_SLAVE_TIMEOUT,
    ResponseCode.SLAVE_NOT_AVAILABLE: SendStatus.SLAVE_NOT_AVAILABLE,
}


new_send_request: Callable[..., SendRequest] = _fast_constructor(SendRequest)


new_send_result: Callable[..., SendResult] = _fast_constructor(SendResult)


#: The encoded wire properties of plain messages (tags alone, or none),
#: UNIQ_KEY aside: a producer sends many messages with the same few.
_PROPERTY_PREFIXES: dict[tuple[str | None, bool], str] = {}


_UNIQ_PROPERTY = PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX + NAME_VALUE_SEPARATOR


def encoded_properties(msg: Message, uniq: str) -> str:
    """``encode_properties`` of the message's wire properties plus UNIQ_KEY
    (always last), with the common prefix cached."""
    # a subclass (a reply) adds properties of its own: never from the cache
    if type(msg) is Message and msg.properties is None and not msg.keys and not msg.delay_level:
        key = (msg.tags, msg.wait_store_msg_ok)
        prefix = _PROPERTY_PREFIXES.get(key) if type(msg.tags) in (str, type(None)) else None
        if prefix is None:
            prefix = encode_properties(msg.wire_properties())
            if type(msg.tags) in (str, type(None)) and len(_PROPERTY_PREFIXES) < 256:
                _PROPERTY_PREFIXES[key] = prefix
        # the id is hex: nothing to check in it
        return f"{prefix}{_UNIQ_PROPERTY}{uniq}{PROPERTY_SEPARATOR}"
    props = msg.wire_properties()
    props[PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = uniq
    return encode_properties(props)


def check_target(topic: str, queue: MessageQueue | None, selector: MessageQueueSelector | None) -> None:
    """An explicit queue or a selector, not both, and a queue of the message's own topic."""
    if queue is not None and selector is not None:
        raise ConfigError("give either queue= or selector=, not both")
    if queue is not None:
        if not isinstance(queue, MessageQueue):
            raise TypeError(f"queue must be a MessageQueue, not {type(queue).__name__}")
        if queue.topic != topic:
            raise InvalidMessageError(f"message's topic not equal mq's topic: {topic} != {queue.topic}")
    if selector is not None and not callable(selector):
        raise TypeError(f"selector must be callable(queues, msg, arg) -> MessageQueue, not {type(selector).__name__}")


def select_queue(request: SendRequest, info: TopicPublishInfo) -> MessageQueue:
    """``sendSelectImpl``'s pick: the queue the selector returns, checked to be one."""
    assert request.selector is not None and request.message is not None
    queues = list(info.queues)
    try:
        mq = request.selector(queues, request.message, request.arg)
    except Exception as exc:
        raise ClientError(f"select message queue threw exception: {type(exc).__name__}: {exc}") from exc
    if mq is None:
        raise ClientError("select message queue return null.")
    if not isinstance(mq, MessageQueue):
        raise ClientError(f"select message queue returned a {type(mq).__name__}, not a MessageQueue")
    return mq


def send_result(mq: MessageQueue, response: RemotingCommand, addr: str, uniq: str, ns: Namespace) -> SendResult:
    """``processSendResponse``: the answer as a ``SendResult`` (its queue without the
    namespace), or the broker's error raised as its exception class."""
    status = STATUS_BY_CODE.get(response.code)  # type: ignore[call-overload]
    if status is None:
        raise BrokerError.for_code(response.code, response.remark, addr)
    header = SendMessageResponseHeader.from_command(response)
    if header.queue_id != mq.queue_id:
        mq = MessageQueue(mq.topic, mq.broker_name, header.queue_id)
    if ns:
        mq = ns.unwrap_queue(mq)
    return new_send_result(
        status,
        header.batch_uniq_id or uniq,
        header.msg_id,
        mq,
        header.queue_offset,
        header.transaction_id,
        header.msg_region,
        header.trace_on if header.trace_on is not None else True,
    )


def check_message(msg: Message, max_message_size: int, max_delay_level: int) -> None:
    """``Validators.checkMessage`` and the delay level's range: a message a send may take."""
    if not isinstance(msg, Message):
        raise TypeError(f"expected a Message, not {type(msg).__name__}")
    validate_topic(msg.topic)
    if not msg.body:
        raise InvalidMessageError("the message body length is zero")
    if len(msg.body) > max_message_size:
        raise InvalidMessageError(
            f"the message body size over max value, MAX: {max_message_size}"
        )
    level = msg.delay_level
    if level is not None and (
        not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= max_delay_level
    ):
        raise InvalidMessageError(
            f"delay_level must be an int from 1 to {max_delay_level} "
            f"(0 or None: no delay), not {level!r}"
        )


def batch_request(
    messages: Sequence[Message], queue: MessageQueue | None, check: Callable[[Message], None], max_message_size: int, ns: Namespace
) -> SendRequest:
    """As Java's ``MessageBatch.generateFromList`` and ``batch``: one SEND_BATCH_MESSAGE
    request of ``messages``, each checked by ``check`` and given its own UNIQ_KEY."""
    if not messages:
        raise InvalidMessageError("a batch needs at least one message")
    first = messages[0]
    # (message, its UNIQ_KEY, its wire properties or None for a plain
    # message, whose text comes from the cached prefix): encoded after
    # every message and the target are checked, so errors come in the
    # same order as with encode_batch on BatchEntry values
    pending: list[tuple[Message, str, dict[str, str] | None]] = []
    ids: list[str] = []
    for msg in messages:
        check(msg)
        if msg.topic != first.topic:
            raise InvalidMessageError("the topic of the messages in one batch should be the same")
        if msg.wait_store_msg_ok != first.wait_store_msg_ok:
            raise InvalidMessageError("the waitStoreMsgOK of the messages in one batch should the same")
        if msg.delay_level:
            raise InvalidMessageError("TimeDelayLevel is not supported for batching")
        if msg.topic.startswith("%RETRY%"):
            raise InvalidMessageError("Retry Group is not supported for batching")
        uniq = new_message_id()
        ids.append(uniq)
        if msg.properties is None and not msg.keys:
            pending.append((msg, uniq, None))
        else:
            wire = msg.wire_properties()
            wire[PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = uniq
            pending.append((msg, uniq, wire))
    check_target(first.topic, queue, None)
    records: list[bytes] = []
    for index, (msg, uniq, wire_or_none) in enumerate(pending):
        text = encoded_properties(msg, uniq) if wire_or_none is None else encode_properties(wire_or_none)
        records.append(encode_batch_record(msg.body, text, msg.flag, index=index))
    body = b"".join(records)
    if len(body) > max_message_size:
        raise InvalidMessageError(f"the batch body size over max value, MAX: {max_message_size}")
    batch_props = {PROPERTY_WAIT_STORE_MSG_OK: "true" if first.wait_store_msg_ok else "false"}
    batch_props.update(ns.instance_id_property())
    request = SendRequest(
        topic=ns.wrap_topic(first.topic),
        body=body,
        properties=encode_properties(batch_props),
        sys_flag=0,
        flag=0,
        uniq=",".join(ids),
        batch=True,
        queue=None if queue is None else ns.wrap_queue(queue),
    )
    return request
