"""An operator asking a consumer client through the broker: GET_CONSUMER_RUNNING_INFO
(307) and CONSUME_MESSAGE_DIRECTLY (309).

Mirrors ``AdminBrokerProcessor.getConsumerRunningInfo`` /
``consumeMessageDirectly`` / ``callConsumer`` and ``Broker2Client.callClient``
(4.9.8): the broker finds the connection of ``clientId`` in the group's
table (``ConsumerManager.findChannel``), sends the client a request of the
same code with the admin's ``extFields`` (for 309 plus ``brokerName``, and
the stored record of ``msgId``, a broker message id, as the body) and hands
the client's answer back to the admin as it came.  A client not online is
SYSTEM_ERROR ``The Consumer <group> <clientId> not online``; one that does
not answer within :data:`CALL_CLIENT_TIMEOUT` is CONSUME_MSG_TIMEOUT.

:func:`call_consumer` is the same relay for the embedded broker's own
callers (``LocalBroker.consumer_running_info`` / ``consume_message_directly``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ...codec.body import ConsumeMessageDirectlyResult, ConsumerRunningInfo
from ...codec.command import RemotingCommand
from ...codec.enums import RequestCode, ResponseCode
from ...codec.errors import BrokerError, ClientError, CodecError, ConnectionClosedError, RemotingError, RequestTimeoutError
from ...codec.headers import ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader
from ...codec.message import parse_offset_msg_id
from ..processor import Channel, ProcessorRegistry, ProcessorResult, RequestContext, reply
from .pull import encode_record

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = [
    "ConsumerAdminProcessor",
    "call_consumer",
    "find_consumer_channel",
    "ask_running_info",
    "ask_consume_directly",
    "CALL_CLIENT_TIMEOUT",
]

log = logging.getLogger(__name__)

#: seconds ``Broker2Client.callClient`` waits for the client (10000 ms)
CALL_CLIENT_TIMEOUT = 10.0


def find_consumer_channel(broker: BrokerController, group: str, client_id: str | None) -> Channel | None:
    """``ConsumerManager.findChannel``: the open connection of ``client_id``
    among ``group``'s on this broker."""
    info = broker.clients.consumer_group(broker.name, group)
    if info is None:
        return None
    for entry in info.channels:
        if entry.client_id == client_id and entry.channel.is_open:
            return entry.channel
    return None


def message_record(broker: BrokerController, msg_id: str | None) -> bytes:
    """The stored record of the message a broker ``msgId`` names; empty when
    there is none (Java sends the request on with no body, and the client's
    decode fails)."""
    if not msg_id:
        return b""
    try:
        _, _, offset = parse_offset_msg_id(msg_id)
    except CodecError:
        return b""
    stored = broker.store.look_message_by_offset(offset)
    return b"" if stored is None else encode_record(stored)


async def call_consumer(
    broker: BrokerController,
    code: int,
    ext_fields: dict[str, str],
    body: bytes,
    group: str,
    client_id: str | None,
    timeout: float = CALL_CLIENT_TIMEOUT,
) -> RemotingCommand:
    """``callConsumer``: the client's answer, or the broker's own SYSTEM_ERROR /
    CONSUME_MSG_TIMEOUT response (opaque 0: the caller sets its own)."""
    channel = find_consumer_channel(broker, group, client_id)
    if channel is None:
        return RemotingCommand.response(ResponseCode.SYSTEM_ERROR, 0, f"The Consumer <{group}> <{client_id}> not online")
    request = RemotingCommand.request(code, dict(ext_fields), body)
    from ..controller import as_broker

    try:
        return await channel.request(as_broker(request), timeout)
    except RequestTimeoutError as exc:
        return RemotingCommand.response(ResponseCode.CONSUME_MSG_TIMEOUT, 0, f"consumer <{group}> <{client_id}> Timeout: {exc}")
    except (ConnectionClosedError, RemotingError) as exc:
        return RemotingCommand.response(
            ResponseCode.SYSTEM_ERROR, 0, f"invoke consumer <{group}> <{client_id}> Exception: {exc}"
        )


class ConsumerAdminProcessor:
    """The admin's 307 and 309, relayed to the consumer client."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.GET_CONSUMER_RUNNING_INFO, self.get_consumer_running_info)
        registry.register(RequestCode.CONSUME_MESSAGE_DIRECTLY, self.consume_message_directly)

    def _relay(self, cmd: RemotingCommand, ctx: RequestContext, fields: dict[str, str], body: bytes, group: str,
               client_id: str | None) -> ProcessorResult:
        deferred = ctx.defer()

        async def relay() -> None:
            answer = await call_consumer(self.broker, cmd.code, fields, body, group, client_id)
            deferred.resolve(reply(cmd, answer.code, answer.remark, dict(answer.ext_fields), answer.body))

        self.broker.tasks.spawn(relay())
        return deferred

    def get_consumer_running_info(self, cmd: RemotingCommand, ctx: RequestContext) -> ProcessorResult:
        header = GetConsumerRunningInfoRequestHeader.from_command(cmd)
        return self._relay(cmd, ctx, dict(cmd.ext_fields), b"", header.consumer_group, header.client_id)

    def consume_message_directly(self, cmd: RemotingCommand, ctx: RequestContext) -> ProcessorResult:
        header = ConsumeMessageDirectlyResultRequestHeader.from_command(cmd)
        fields = dict(cmd.ext_fields)
        fields["brokerName"] = self.broker.name
        body = message_record(self.broker, header.msg_id)
        return self._relay(cmd, ctx, fields, body, header.consumer_group, header.client_id)


def _broker_of_consumer(brokers: list[BrokerController], group: str, client_id: str) -> BrokerController:
    for broker in brokers:
        if find_consumer_channel(broker, group, client_id) is not None:
            return broker
    raise ConnectionClosedError(f"consumer {client_id!r} of group {group!r} is connected to no broker")


def _checked(answer: RemotingCommand) -> RemotingCommand:
    if answer.code != ResponseCode.SUCCESS:
        raise BrokerError.for_code(answer.code, answer.remark)
    return answer


async def ask_running_info(
    brokers: list[BrokerController], group: str, client_id: str, *, jstack: bool = False, timeout: float = CALL_CLIENT_TIMEOUT
) -> ConsumerRunningInfo:
    """What an admin's GET_CONSUMER_RUNNING_INFO gets back, through the
    first of ``brokers`` the consumer is connected to; a failure answer is
    raised as its :class:`~codec.errors.BrokerError`."""
    broker = _broker_of_consumer(brokers, group, client_id)
    fields = GetConsumerRunningInfoRequestHeader(consumer_group=group, client_id=client_id, jstack_enable=jstack).to_ext_fields()
    answer = await call_consumer(broker, RequestCode.GET_CONSUMER_RUNNING_INFO, fields, b"", group, client_id, timeout)
    return ConsumerRunningInfo.from_json(_checked(answer).body)


async def ask_consume_directly(
    brokers: list[BrokerController], group: str, client_id: str, msg_id: str, *, timeout: float = CALL_CLIENT_TIMEOUT
) -> ConsumeMessageDirectlyResult:
    """What an admin's CONSUME_MESSAGE_DIRECTLY gets back for the message
    ``msg_id`` (its broker message id, or its unique id) stored on the
    first of ``brokers`` that holds it and that the consumer is connected to."""
    for broker in brokers:
        if find_consumer_channel(broker, group, client_id) is None:
            continue
        offset_id = _offset_msg_id(broker, msg_id)
        if offset_id is None:
            continue
        fields = ConsumeMessageDirectlyResultRequestHeader(
            consumer_group=group, client_id=client_id, msg_id=offset_id, broker_name=broker.name
        ).to_ext_fields()
        body = message_record(broker, offset_id)
        answer = await call_consumer(broker, RequestCode.CONSUME_MESSAGE_DIRECTLY, fields, body, group, client_id, timeout)
        return ConsumeMessageDirectlyResult.from_json(_checked(answer).body)
    _broker_of_consumer(brokers, group, client_id)  # not connected: say so
    raise ClientError(f"no broker the consumer is connected to holds message {msg_id!r}")


def _offset_msg_id(broker: BrokerController, msg_id: str) -> str | None:
    if message_record(broker, msg_id):
        return msg_id
    for stored in broker.store.messages():
        if stored.uniq_key == msg_id:
            return stored.offset_msg_id
    return None
