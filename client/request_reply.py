"""Request-reply messaging: ``AsyncProducer.request`` and the replier's helper.

Mirrors the Java client's request-reply path (4.9.x):

* ``DefaultMQProducerImpl.request`` / ``prepareSendRequest``: the request is
  an ordinary send whose properties add ``CORRELATION_ID`` (a random UUID,
  ``CorrelationIdUtil``), ``REPLY_TO_CLIENT`` (the requester's client id) and
  ``TTL`` (the timeout in milliseconds); the requester then waits for the
  reply with that correlation id (:func:`request`).
* ``RequestFutureHolder`` / ``RequestResponseFuture``: the table of pending
  requests (:class:`PendingRequests`), here one per client instance, since
  a reply comes back to the instance named by ``REPLY_TO_CLIENT``.
* ``ClientRemotingProcessor.receiveReplyMessage``: PUSH_REPLY_MESSAGE_TO_CLIENT
  (326), which a broker sends with a :class:`~codec.headers.ReplyMessageRequestHeader`
  (the reply's properties in the header, its body as the body); the
  processor completes the pending request (:func:`receive_reply_message`).
* ``MessageUtil.createReplyMessage``: the replier builds the reply from the
  request it consumed (:func:`create_reply_message`); sending it through any
  producer goes out as SEND_REPLY_MESSAGE (324) / _V2 (325), because its
  ``MSG_TYPE`` is ``reply`` (``MQClientAPIImpl.sendMessage``).  The broker
  pushes it to the requester (``ReplyMessageProcessor``).

The reply is a :class:`~codec.store.MessageExt`, the same type a consumer
receives: ``body`` (decompressed), ``properties`` (with ``CORRELATION_ID``,
``REPLY_TO_CLIENT``, ``TTL``, ``MSG_TYPE``, the broker's ``PUSH_REPLY_TIME``
and our ``ARRIVE_TIME``), ``born_host`` / ``store_host`` / timestamps from
the push.  Its queue and commit-log offsets are 0: a pushed reply was not
read from a queue.

Where it differs from Java: Java's table is process-wide and a scheduled
task scans it every second for expired requests; here each waiting
``request`` arms its own timer and always removes its entry when it ends
(reply, timeout, failed send or cancellation), so nothing needs scanning.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from .codec.command import RemotingCommand
from .codec.enums import RequestCode, ResponseCode
from .codec.errors import CodecError, ConfigError, InvalidMessageError, ReplyTimeoutError
from .codec.headers import ReplyMessageRequestHeader
from .codec.message import (
    PROPERTY_CLUSTER,
    PROPERTY_CORRELATION_ID,
    PROPERTY_MESSAGE_REPLY_TO_CLIENT,
    PROPERTY_MESSAGE_TTL,
    PROPERTY_MESSAGE_TYPE,
    PROPERTY_REPLY_MESSAGE_ARRIVE_TIME,
    decode_properties,
    decompress_body,
    encode_properties,
)
from .codec.store import MessageExt
from .types import Message, MessageQueue

if TYPE_CHECKING:
    from .instance import ClientInstance
    from .producer import AsyncProducer, MessageQueueSelector

__all__ = [
    "REPLY_MESSAGE_FLAG",
    "REPLY_TOPIC_POSTFIX",
    "reply_topic",
    "ReplyMessage",
    "create_reply_message",
    "is_reply",
    "PendingRequests",
    "pending_requests",
    "receive_reply_message",
    "request",
]

log = logging.getLogger(__name__)

#: ``MixAll.REPLY_MESSAGE_FLAG``: the ``MSG_TYPE`` of a reply.
REPLY_MESSAGE_FLAG: Final = "reply"
#: ``MixAll.REPLY_TOPIC_POSTFIX``.
REPLY_TOPIC_POSTFIX: Final = "REPLY_TOPIC"

#: The properties a reply copies from its request (``createReplyMessage``).
_COPIED: Final = (PROPERTY_CORRELATION_ID, PROPERTY_MESSAGE_REPLY_TO_CLIENT, PROPERTY_MESSAGE_TTL)


def reply_topic(cluster: str) -> str:
    """``MixAll.getReplyTopic``: the topic replies go to in ``cluster``
    (``DefaultCluster_REPLY_TOPIC``); every broker has it, with one queue."""
    return f"{cluster}_{REPLY_TOPIC_POSTFIX}"


@dataclass(frozen=True, init=False)
class ReplyMessage(Message):
    """A reply to a request message: a :class:`~rmqwire.Message` that also
    carries the system properties of a reply (``MSG_TYPE`` ``reply``,
    ``CORRELATION_ID``, ``REPLY_TO_CLIENT``, ``TTL``), which user properties
    may not set.  Build it with :func:`create_reply_message`; send it with
    any producer's ``send``."""

    system_properties: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        topic: str,
        body: bytes | bytearray | memoryview | str,
        *,
        system_properties: Mapping[str, str],
        tags: str | None = None,
        keys: str | Sequence[str] | None = None,
        properties: Mapping[str, str] | None = None,
        flag: int = 0,
        wait_store_msg_ok: bool = True,
    ) -> None:
        super().__init__(
            topic, body, tags=tags, keys=keys, properties=properties, flag=flag, wait_store_msg_ok=wait_store_msg_ok
        )
        object.__setattr__(self, "system_properties", dict(system_properties))

    def wire_properties(self) -> dict[str, str]:
        """The user properties (checked as for any message) plus the reply's
        system properties."""
        props = super().wire_properties()
        props.update(self.system_properties)
        return props


def create_reply_message(
    request: Message | MessageExt,
    body: bytes | bytearray | memoryview | str,
    *,
    tags: str | None = None,
    keys: str | Sequence[str] | None = None,
    properties: Mapping[str, str] | None = None,
) -> ReplyMessage:
    """The reply to ``request`` with ``body`` (``MessageUtil.createReplyMessage``).

    ``request`` is the request as the replier received it (a
    :class:`~codec.store.MessageExt` from a consumer or a pull; a
    :class:`~rmqwire.Message` whose ``properties`` hold the same names also
    does).  The reply goes to the topic ``{CLUSTER}_REPLY_TOPIC`` of the
    cluster that stored the request, with ``MSG_TYPE`` ``reply`` and the
    request's ``CORRELATION_ID``, ``REPLY_TO_CLIENT`` and ``TTL``.  ``tags``,
    ``keys`` and user ``properties`` are optional extras.

    Raises :class:`~codec.errors.InvalidMessageError` when ``request`` has no
    ``CLUSTER`` property (it was not read back from a broker).  As in Java, a
    request without ``REPLY_TO_CLIENT`` still gets a reply, which the broker
    then refuses, naming the missing property.
    """
    if request is None:
        raise InvalidMessageError("create reply message fail, requestMessage cannot be null.")
    if not isinstance(request, (Message, MessageExt)):
        raise TypeError(f"request must be a Message or a MessageExt, not {type(request).__name__}")
    props: Mapping[str, str] = request.properties or {}
    cluster = props.get(PROPERTY_CLUSTER)
    if not cluster:
        raise InvalidMessageError(
            f"create reply message fail, requestMessage error, property[{PROPERTY_CLUSTER}] is null "
            "(reply to a message as the broker delivered it)."
        )
    system = {PROPERTY_MESSAGE_TYPE: REPLY_MESSAGE_FLAG}
    for name in _COPIED:
        value = props.get(name)
        if value:
            system[name] = value
    return ReplyMessage(
        reply_topic(cluster), body, system_properties=system, tags=tags, keys=keys, properties=properties
    )


def is_reply(properties: Mapping[str, str]) -> bool:
    """Whether a message with these wire properties is a reply (goes as
    SEND_REPLY_MESSAGE, ``MQClientAPIImpl.sendMessage``)."""
    return properties.get(PROPERTY_MESSAGE_TYPE) == REPLY_MESSAGE_FLAG


class PendingRequests:
    """Correlation id -> the future of a request waiting for its reply
    (``RequestFutureHolder.requestFutureTable``), for one client instance."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[MessageExt]] = {}

    def __len__(self) -> int:
        return len(self._futures)

    def __contains__(self, correlation_id: object) -> bool:
        return correlation_id in self._futures

    def add(self, correlation_id: str) -> asyncio.Future[MessageExt]:
        """A new pending request; its future gets the reply."""
        if correlation_id in self._futures:
            raise ConfigError(f"a request with correlation id {correlation_id} is already pending")
        future: asyncio.Future[MessageExt] = asyncio.get_running_loop().create_future()
        self._futures[correlation_id] = future
        return future

    def complete(self, correlation_id: str, reply: MessageExt) -> bool:
        """Hand ``reply`` to the request waiting for it and forget that
        request; False when none waits (it timed out, or never was)."""
        future = self._futures.pop(correlation_id, None)
        if future is None or future.done():
            return False
        future.set_result(reply)
        return True

    def discard(self, correlation_id: str) -> None:
        """Forget a request (it ended without a reply)."""
        self._futures.pop(correlation_id, None)


_TABLES: weakref.WeakKeyDictionary[ClientInstance, PendingRequests] = weakref.WeakKeyDictionary()


def pending_requests(instance: ClientInstance) -> PendingRequests:
    """The pending requests of ``instance``; the first call registers the
    PUSH_REPLY_MESSAGE_TO_CLIENT processor with it."""
    table = _TABLES.get(instance)
    if table is None:
        table = PendingRequests()
        _TABLES[instance] = table

        async def processor(cmd: RemotingCommand, addr: str) -> RemotingCommand:
            return receive_reply_message(instance, table, cmd, addr)

        instance.register_processor(RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT, processor)
    return table


def _broker_name_of(instance: ClientInstance, addr: str) -> str:
    for name, addrs in list(instance.broker_addrs.items()):
        if addr in addrs.values():
            return name
    return ""


def receive_reply_message(
    instance: ClientInstance, table: PendingRequests, cmd: RemotingCommand, addr: str
) -> RemotingCommand:
    """Answer one PUSH_REPLY_MESSAGE_TO_CLIENT (``receiveReplyMessage``):
    the reply completes the request with its ``CORRELATION_ID``; a reply no
    request waits for is logged.  Either way the broker is told SUCCESS; a
    push that does not decode is answered SYSTEM_ERROR."""
    language = instance.config.language
    arrived = int(time.time() * 1000)
    try:
        header = ReplyMessageRequestHeader.from_command(cmd)
        body = cmd.body
        try:
            body = decompress_body(body, header.sys_flag)
        except CodecError as exc:  # Java logs and keeps the body as it came
            log.warning("reply message from %s: cannot uncompress its body: %s", addr, exc)
        props = decode_properties(header.properties or "")
    except CodecError as exc:
        log.warning("reply message from %s does not decode: %s", addr, exc)
        return cmd.reply(ResponseCode.SYSTEM_ERROR, "process reply message fail", language=language)
    props[PROPERTY_REPLY_MESSAGE_ARRIVE_TIME] = str(arrived)
    reply = MessageExt(
        topic=header.topic,
        body=body,
        queue_id=header.queue_id,
        queue_offset=0,
        commit_log_offset=0,
        sys_flag=header.sys_flag,
        born_timestamp=header.born_timestamp,
        born_host=header.born_host,
        store_timestamp=header.store_timestamp,
        store_host=header.store_host,
        reconsume_times=header.reconsume_times or 0,
        prepared_transaction_offset=0,
        flag=header.flag,
        body_crc=0,
        store_size=0,
        properties=props,
        broker_name=_broker_name_of(instance, addr),
    )
    correlation_id = props.get(PROPERTY_CORRELATION_ID, "")
    if not table.complete(correlation_id, reply):
        log.warning(
            "receive reply message, but not matched any request, CorrelationId: %s , reply from host: %s",
            correlation_id,
            header.born_host,
        )
    return cmd.reply(ResponseCode.SUCCESS, None, language=language)


async def request(
    producer: AsyncProducer,
    msg: Message,
    timeout: float = 3.0,
    *,
    queue: MessageQueue | None = None,
    selector: MessageQueueSelector | None = None,
    arg: Any = None,
) -> MessageExt:
    """Send ``msg`` as a request through ``producer`` and return the reply
    (``DefaultMQProducerImpl.request``); see :meth:`AsyncProducer.request`."""
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ConfigError(f"timeout must be a positive number of seconds, not {timeout!r}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    send = producer._single(msg, oneway=False, queue=queue, selector=selector, arg=arg)
    instance = producer.instance
    correlation_id = str(uuid.uuid4())
    props = decode_properties(send.properties)
    props[PROPERTY_CORRELATION_ID] = correlation_id
    props[PROPERTY_MESSAGE_REPLY_TO_CLIENT] = instance.client_id
    props[PROPERTY_MESSAGE_TTL] = str(int(timeout * 1000))
    send = replace(send, properties=encode_properties(props))
    if send.topic not in instance.topic_routes:  # (the topic on the wire: namespaced)
        # prepareSendRequest: learn the topic's brokers and heartbeat them, so
        # that the broker the reply reaches knows this client's connection
        await producer._find_publish_info(send.topic, deadline - loop.time())
        await instance.send_heartbeat_to_all_brokers()
    table = pending_requests(instance)
    future = table.add(correlation_id)
    try:
        await producer._send(send, deadline - loop.time())
        try:
            # Java hands the reply over as the broker pushed it; here, as every
            # message user code gets, without this producer's namespace
            return producer._ns.unwrap_message(await asyncio.wait_for(future, max(deadline - loop.time(), 0.0)))
        except asyncio.TimeoutError:
            raise ReplyTimeoutError(
                f"send request message to <{msg.topic}> OK, but no reply with correlation id "
                f"{correlation_id} came within {timeout:g} s",
                correlation_id=correlation_id,
                topic=msg.topic,
                timeout=float(timeout),
            ) from None
    finally:
        table.discard(correlation_id)
