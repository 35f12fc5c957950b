"""END_TRANSACTION (37), and the CHECK_TRANSACTION_STATE (39) a broker sends.

Mirrors ``EndTransactionProcessor``: a producer ends a transaction (oneway,
right after its local transaction, or in answer to a check-back with
``fromTransactionCheck=true``) by naming the half message's commit-log
offset and queue offset.  COMMIT (``0x8``) stores the message in its real
topic and queue, where consumers see it; ROLLBACK (``0xC``) drops it; both
leave an op mark so the half message is never checked again.  NOT_TYPE
(``0``, the producer does not know yet) is logged and left to the next
check-back.  The half message must be found at that offset with the same
producer group (``PGROUP``), queue offset and commit-log offset
(``checkPrepareMessage``), else the answer is SYSTEM_ERROR with Java's
remark (a oneway request gets no answer either way).

:func:`check_transaction_state_request` is ``Broker2Client.checkProducerTransactionState``
after ``AbstractTransactionalMessageCheckListener.sendCheckMessage``: a
oneway request whose header names the newest copy of the half message and
whose body is that message as a stored-message record, with its real topic
and queue id.
"""

from __future__ import annotations

import logging
import struct
import zlib
from dataclasses import dataclass
from ipaddress import ip_address
from typing import TYPE_CHECKING, Final

from ...codec.command import RemotingCommand
from ...codec.enums import LanguageCode, RequestCode, ResponseCode
from ...codec.errors import MissingHeaderFieldError
from ...codec.message import (
    PROPERTY_PRODUCER_GROUP,
    PROPERTY_REAL_QUEUE_ID,
    PROPERTY_REAL_TOPIC,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    PROPERTY_WAIT_STORE_MSG_OK,
    MessageSysFlag,
    encode_properties,
)
from ..config import SERVER_VERSION
from ..processor import ProcessorRegistry, ProcessorResult, RequestContext, reply
from ..store import StoredMessage

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["EndTransactionProcessor", "check_transaction_state_request", "encode_message_record"]

log = logging.getLogger(__name__)

_NOT: Final = int(MessageSysFlag.TRANSACTION_NOT_TYPE)
_COMMIT: Final = int(MessageSysFlag.TRANSACTION_COMMIT_TYPE)
_ROLLBACK: Final = int(MessageSysFlag.TRANSACTION_ROLLBACK_TYPE)
_KINDS: Final = {_NOT: "UNKNOW", _COMMIT: "COMMIT", _ROLLBACK: "ROLLBACK"}


# TODO: EndTransactionRequestHeader from codec.headers once it lands.
@dataclass(frozen=True, slots=True)
class _EndHeader:
    producer_group: str
    tran_state_table_offset: int
    commit_log_offset: int
    commit_or_rollback: int
    from_transaction_check: bool
    msg_id: str
    transaction_id: str | None

    @classmethod
    def from_command(cls, cmd: RemotingCommand) -> _EndHeader:
        fields = cmd.ext_fields

        def need(name: str) -> str:
            value = fields.get(name)
            if value is None:
                raise MissingHeaderFieldError("EndTransactionRequestHeader", name)
            return value

        def number(name: str) -> int:
            text = need(name)
            try:
                return int(text)
            except ValueError:
                raise MissingHeaderFieldError("EndTransactionRequestHeader", name, f"is not a number: {text!r}") from None

        return cls(
            producer_group=need("producerGroup"),
            tran_state_table_offset=number("tranStateTableOffset"),
            commit_log_offset=number("commitLogOffset"),
            commit_or_rollback=number("commitOrRollback"),
            from_transaction_check=fields.get("fromTransactionCheck", "false").lower() == "true",
            msg_id=need("msgId"),
            transaction_id=fields.get("transactionId"),
        )


class EndTransactionProcessor:
    """Commits and rollbacks of one broker's half messages."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.END_TRANSACTION, self)

    def __call__(self, cmd: RemotingCommand, ctx: RequestContext) -> ProcessorResult:
        broker = self.broker
        header = _EndHeader.from_command(cmd)
        kind = header.commit_or_rollback
        if kind not in _KINDS:
            # EndTransactionRequestHeader.checkFields
            return reply(cmd, ResponseCode.SYSTEM_ERROR, "commitOrRollback field wrong")
        how = "check-back answer" if header.from_transaction_check else "end of local transaction"
        if kind == _NOT:
            log.info("%s: producer %s does not know transaction %s yet (%s)", broker.name, ctx.peer, header.msg_id, how)
            return None
        log.debug("%s: %s %s of %s (%s)", broker.name, _KINDS[kind], header.msg_id, ctx.peer, how)
        service = broker.transactions
        half = service.find_half(header.commit_log_offset)
        if half is None:
            return reply(cmd, ResponseCode.SYSTEM_ERROR, "Find prepared transaction message failed")
        problem = _check_prepare_message(half, header)
        if problem is not None:
            return reply(cmd, ResponseCode.SYSTEM_ERROR, problem)
        if kind == _COMMIT:
            broker.store.append([service.committed(half, header.commit_log_offset)])
        service.mark_done(half)
        return reply(cmd, ResponseCode.SUCCESS)


def _check_prepare_message(half: StoredMessage, header: _EndHeader) -> str | None:
    """``checkPrepareMessage``: the remark of what does not match, or None."""
    if half.properties.get(PROPERTY_PRODUCER_GROUP) != header.producer_group:
        return "The producer group wrong"
    if half.queue_offset != header.tran_state_table_offset:
        return "The transaction state table offset wrong"
    if half.commitlog_offset != header.commit_log_offset:
        return "The commit log offset wrong"
    return None


def check_transaction_state_request(copy: StoredMessage) -> RemotingCommand:
    """CHECK_TRANSACTION_STATE (39, oneway) for the checked copy ``copy`` of a
    half message: header ``tranStateTableOffset`` / ``commitLogOffset`` /
    ``offsetMsgId`` of the copy, ``msgId`` = ``transactionId`` = its
    ``UNIQ_KEY``; body the copy as a stored-message record, in its real
    topic and queue (golden tx session seq 20)."""
    uniq = copy.properties.get(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
    # TODO: CheckTransactionStateRequestHeader from codec.headers once it lands.
    fields = {
        "tranStateTableOffset": str(copy.queue_offset),
        "commitLogOffset": str(copy.commitlog_offset),
        "offsetMsgId": copy.offset_msg_id,
    }
    if uniq is not None:
        fields["msgId"] = uniq
        fields["transactionId"] = uniq
    real_queue = copy.properties.get(PROPERTY_REAL_QUEUE_ID, "0")
    props = dict(copy.properties)
    # renewHalfMessageInner shares its properties map with the message it
    # checks and then sets WAIT=false on it, so that is what the body says
    props[PROPERTY_WAIT_STORE_MSG_OK] = "false"
    body = encode_message_record(
        copy,
        topic=copy.properties.get(PROPERTY_REAL_TOPIC, copy.topic),
        queue_id=int(real_queue) if real_queue.lstrip("-").isdigit() else 0,
        properties=props,
    )
    return RemotingCommand.request(
        RequestCode.CHECK_TRANSACTION_STATE,
        fields,
        body,
        oneway=True,
        language=LanguageCode.JAVA,
        version=SERVER_VERSION,
    )


# TODO: the codec's stored-message record once it lands (pull bodies need it too).
_MAGIC: Final = 0xDAA320A7
_HEAD: Final = struct.Struct(">iIIiiqqiq")
_BORN_V6: Final = int(MessageSysFlag.BORNHOST_V6_FLAG)
_STORE_V6: Final = int(MessageSysFlag.STOREHOSTADDRESS_V6_FLAG)


def _host(host_port: str) -> bytes:
    host, _, port = host_port.rpartition(":")
    try:
        packed = ip_address(host.strip("[]")).packed
        number = int(port)
    except ValueError:
        packed, number = b"\0\0\0\0", 0
    return packed + struct.pack(">i", number)


def encode_message_record(
    message: StoredMessage, *, topic: str, queue_id: int, properties: dict[str, str]
) -> bytes:
    """``MessageDecoder.encode(messageExt, false)``: ``message`` as one
    stored-message record (magic V1), with the given topic, queue id and
    properties (``consumer-protocol.md`` section 5)."""
    sys_flag = message.sys_flag
    born = _host(message.born_host)
    store = _host(message.store_host)
    sys_flag = (sys_flag & ~(_BORN_V6 | _STORE_V6)) | (_BORN_V6 if len(born) > 8 else 0) | (_STORE_V6 if len(store) > 8 else 0)
    topic_bytes = topic.encode()
    props = encode_properties(properties, trailing_separator=False).encode() if properties else b""
    body = message.body
    tail = b"".join(
        (
            struct.pack(">q", message.store_timestamp),
            store,
            struct.pack(">iqi", message.reconsume_times, message.prepared_transaction_offset, len(body)),
            body,
            struct.pack(">b", len(topic_bytes)),
            topic_bytes,
            struct.pack(">h", len(props)),
            props,
        )
    )
    size = _HEAD.size + len(born) + len(tail)
    head = _HEAD.pack(
        size,
        _MAGIC,
        zlib.crc32(body) & 0x7FFFFFFF,
        queue_id,
        message.flag,
        message.queue_offset,
        message.commitlog_offset,
        sys_flag,
        message.born_timestamp,
    )
    return head + born + tail
