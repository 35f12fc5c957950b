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
from typing import TYPE_CHECKING, Final

from ...codec.command import RemotingCommand
from ...codec.enums import LanguageCode, RequestCode, ResponseCode
from ...codec.headers import CheckTransactionStateRequestHeader, EndTransactionRequestHeader
from ...codec.message import (
    PROPERTY_PRODUCER_GROUP,
    PROPERTY_REAL_QUEUE_ID,
    PROPERTY_REAL_TOPIC,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    PROPERTY_WAIT_STORE_MSG_OK,
    MessageSysFlag,
)
from ...codec.store import encode_message
from ..config import SERVER_VERSION
from ..processor import ProcessorRegistry, ProcessorResult, RequestContext, reply
from ..store import StoredMessage

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["EndTransactionProcessor", "check_transaction_state_request"]

log = logging.getLogger(__name__)

_NOT: Final = int(MessageSysFlag.TRANSACTION_NOT_TYPE)
_COMMIT: Final = int(MessageSysFlag.TRANSACTION_COMMIT_TYPE)
_ROLLBACK: Final = int(MessageSysFlag.TRANSACTION_ROLLBACK_TYPE)
_KINDS: Final = {_NOT: "UNKNOW", _COMMIT: "COMMIT", _ROLLBACK: "ROLLBACK"}


class EndTransactionProcessor:
    """Commits and rollbacks of one broker's half messages."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.END_TRANSACTION, self)

    def __call__(self, cmd: RemotingCommand, ctx: RequestContext) -> ProcessorResult:
        broker = self.broker
        header = EndTransactionRequestHeader.from_command(cmd)
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


def _check_prepare_message(half: StoredMessage, header: EndTransactionRequestHeader) -> str | None:
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
    header = CheckTransactionStateRequestHeader(
        tran_state_table_offset=copy.queue_offset,
        commit_log_offset=copy.commitlog_offset,
        msg_id=uniq,
        transaction_id=uniq,
        offset_msg_id=copy.offset_msg_id,
    )
    real_queue = copy.properties.get(PROPERTY_REAL_QUEUE_ID, "0")
    props = dict(copy.properties)
    # renewHalfMessageInner shares its properties map with the message it
    # checks and then sets WAIT=false on it, so that is what the body says
    props[PROPERTY_WAIT_STORE_MSG_OK] = "false"
    body = encode_message(
        topic=copy.properties.get(PROPERTY_REAL_TOPIC, copy.topic),
        body=copy.body,
        properties=props,
        queue_id=int(real_queue) if real_queue.lstrip("-").isdigit() else 0,
        queue_offset=copy.queue_offset,
        commit_log_offset=copy.commitlog_offset,
        sys_flag=copy.sys_flag,
        born_timestamp=copy.born_timestamp,
        born_host=copy.born_host,
        store_timestamp=copy.store_timestamp,
        store_host=copy.store_host,
        reconsume_times=copy.reconsume_times,
        prepared_transaction_offset=copy.prepared_transaction_offset,
        flag=copy.flag,
    )
    return RemotingCommand.request(
        RequestCode.CHECK_TRANSACTION_STATE,
        header.to_ext_fields(),
        body,
        oneway=True,
        language=LanguageCode.JAVA,
        version=SERVER_VERSION,
    )
