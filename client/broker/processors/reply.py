"""SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2 (325): a replier's answer
to a request, pushed to the requesting client.

Mirrors ``ReplyMessageProcessor``: the reply is checked as a send is
(``msgCheck``: topic name, forbidden topics, the topic's existence, the
queue id), then pushed to the connection of the client named by its
``REPLY_TO_CLIENT`` property as PUSH_REPLY_MESSAGE_TO_CLIENT (326, a
:class:`~codec.headers.ReplyMessageRequestHeader` with the reply's
properties plus ``PUSH_REPLY_TIME``, its body as the body), and stored in
the reply topic when :attr:`ReplyMessageProcessor.store_reply_message` is
on (``storeReplyMessageEnable``, on by default).  The replier is told
SUCCESS when the push was answered SUCCESS, else SYSTEM_ERROR with Java's
remark (no ``REPLY_TO_CLIENT``, no connection of that client, the push
failed); a stored reply's answer carries its offset message id and queue
offset either way, as Java's does.

The push awaits the requester's answer (Java waits up to 10 s), so the
processor defers its own answer and does the work in a broker task.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final

from ...codec.command import RemotingCommand
from ...codec.enums import LanguageCode, RequestCode, ResponseCode
from ...codec.errors import CodecError, RemotingError
from ...codec.headers import ReplyMessageRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader
from ...codec.message import (
    MAX_PROPERTIES_SIZE,
    PROPERTY_MESSAGE_REPLY_TO_CLIENT,
    PROPERTY_MSG_REGION,
    PROPERTY_PUSH_REPLY_TIME,
    PROPERTY_TRACE_SWITCH,
    decode_properties,
    encode_properties,
)
from ..config import REGION_ID, SERVER_VERSION
from ..faults import ILLEGAL_REMARK
from ..processor import DeferredReply, ProcessorRegistry, RequestContext, reply
from ..store import MessageDraft, StoredMessage, properties_length, record_length
from .send import Refusal, msg_check

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["ReplyMessageProcessor", "REPLY_CODES", "PUSH_TIMEOUT"]

log = logging.getLogger(__name__)

REPLY_CODES: Final = (RequestCode.SEND_REPLY_MESSAGE, RequestCode.SEND_REPLY_MESSAGE_V2)
#: ``Broker2Client.callClient``'s timeout, seconds.
PUSH_TIMEOUT: Final = 10.0
_EXTRAS: Final = {PROPERTY_MSG_REGION: REGION_ID, PROPERTY_TRACE_SWITCH: "true"}


class ReplyMessageProcessor:
    """Pushes replies to their requesters (and stores them)."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker
        #: ``BrokerConfig.storeReplyMessageEnable``: keep a copy of every
        #: reply in the reply topic.
        self.store_reply_message = True
        #: seconds to wait for the requester's answer to a push
        self.push_timeout = PUSH_TIMEOUT

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(REPLY_CODES, self)

    def __call__(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand | DeferredReply:
        broker = self.broker
        header = SendMessageRequestHeader.from_command(cmd)
        topic = header.topic

        def fail(code: int, remark: str) -> RemotingCommand:
            log.debug("%s: reply to %s refused (%d): %s", broker.name, topic, code, remark)
            return reply(cmd, code, remark, dict(_EXTRAS))

        checked = msg_check(broker, header, ctx.peer)
        if isinstance(checked, Refusal):
            return fail(*checked)
        _, queue_id = checked
        props = decode_properties(header.properties or "")
        # the record holds them re-encoded, as a pull body carries them
        props_size = properties_length(props)
        max_size = broker.config.max_message_size
        if props_size > MAX_PROPERTIES_SIZE or record_length(
            header.sys_flag, len(cmd.body), len(topic.encode()), props_size
        ) > max_size:
            return fail(ResponseCode.MESSAGE_ILLEGAL, ILLEGAL_REMARK.format(max_size))
        draft = MessageDraft(
            topic=topic,
            queue_id=queue_id,
            body=cmd.body,
            properties=props,
            flag=header.flag,
            sys_flag=header.sys_flag,
            born_timestamp=header.born_timestamp,
            born_host=ctx.peer,
            reconsume_times=header.reconsume_times or 0,
            properties_size=props_size,
            producer_group=header.producer_group,
            request_code=cmd.code,
            serialize_type=cmd.serialize_type,
            language=cmd.language,
        )
        deferred = ctx.defer()
        broker.tasks.spawn(self._push_and_store(cmd, header, draft, deferred))
        return deferred

    async def _push_and_store(
        self,
        cmd: RemotingCommand,
        header: SendMessageRequestHeader,
        draft: MessageDraft,
        deferred: DeferredReply,
    ) -> None:
        push_ok, remark = await self._push(header, draft)
        stored: StoredMessage | None = None
        if self.store_reply_message:
            stored = self.broker.store.append([draft])[0]
        answer = SendMessageResponseHeader(
            # Java answers msgId "0" / offset 0 for a reply it did not store
            msg_id=stored.offset_msg_id if stored is not None else "0",
            queue_id=draft.queue_id,
            queue_offset=stored.queue_offset if stored is not None else 0,
        ).to_ext_fields()
        ext = {**_EXTRAS, **answer}
        if push_ok:
            deferred.resolve(reply(cmd, ResponseCode.SUCCESS, None, ext))
        elif stored is not None:
            deferred.resolve(reply(cmd, ResponseCode.SYSTEM_ERROR, remark, ext))
        else:
            deferred.resolve(reply(cmd, ResponseCode.SYSTEM_ERROR, remark, dict(_EXTRAS)))

    async def _push(self, header: SendMessageRequestHeader, draft: MessageDraft) -> tuple[bool, str]:
        """``pushReplyMessage``: (whether the requester took it, remark)."""
        broker = self.broker
        sender = draft.properties.get(PROPERTY_MESSAGE_REPLY_TO_CLIENT)
        if sender is None:
            remark = f"reply message properties[{PROPERTY_MESSAGE_REPLY_TO_CLIENT}] is null"
            log.warning("%s: %s is null, can not reply message", broker.name, PROPERTY_MESSAGE_REPLY_TO_CLIENT)
            return False, remark
        channels = broker.clients.channels_of(sender, broker.name)
        if not channels:
            remark = f"push reply message fail, channel of <{sender}> not found."
            log.warning("%s: %s", broker.name, remark)
            return False, remark
        props = {**draft.properties, PROPERTY_PUSH_REPLY_TIME: str(int(time.time() * 1000))}
        push_header = ReplyMessageRequestHeader(
            producer_group=header.producer_group,
            topic=header.topic,
            default_topic=header.default_topic,
            default_topic_queue_nums=header.default_topic_queue_nums,
            queue_id=header.queue_id,
            sys_flag=header.sys_flag,
            born_timestamp=header.born_timestamp,
            flag=header.flag,
            properties=encode_properties(props),
            reconsume_times=header.reconsume_times,
            unit_mode=header.unit_mode,
            born_host=draft.born_host,
            store_host=broker.store.store_host,
            store_timestamp=int(time.time() * 1000),
        )
        push = RemotingCommand.request(
            RequestCode.PUSH_REPLY_MESSAGE_TO_CLIENT,
            push_header.to_ext_fields(),
            draft.body,
            language=LanguageCode.JAVA,
            version=SERVER_VERSION,
        )
        failed = f"push reply message to {sender}fail."  # sic: Java's remark has no space
        try:
            answer = await channels[0].request(push, self.push_timeout)
        except (RemotingError, CodecError) as exc:
            log.warning("%s: push reply message to <%s> fail: %s", broker.name, sender, exc)
            return False, failed
        if answer.code != ResponseCode.SUCCESS:
            log.warning("%s: push reply message to <%s> return fail, response remark: %s", broker.name, sender, answer.remark)
            return False, failed
        return True, ""
