"""The transaction headers: the producer ending a half message
(END_TRANSACTION 37) and the broker asking about one (CHECK_TRANSACTION_STATE
39, broker to client, oneway, the half message in the body).

Mirrors ``EndTransactionRequestHeader`` and
``CheckTransactionStateRequestHeader`` of
``org.apache.rocketmq.common.protocol.header`` (4.9.x); both extend
``RpcRequestHeader`` (``bname``).  ``commitOrRollback`` holds a
:class:`~codec.message.MessageSysFlag` transaction type: COMMIT (0x8),
ROLLBACK (0xC) or NOT_TYPE (0, "unknown": the broker checks back later).
The response to 37 has an empty header and no class here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from ..enums import RequestCode
from .base import Boolean, CustomHeader, Integer, Long, String, WireTable

__all__ = ["EndTransactionRequestHeader", "CheckTransactionStateRequestHeader"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EndTransactionRequestHeader(CustomHeader):
    """Commit or roll back the half message at ``commit_log_offset``
    (sent oneway by the Java producer).

    ``msg_id`` is the half message's unique id (``SendResult.msgId``; the
    commit-log offset comes from its offset id); ``transaction_id`` is the
    SEND response's, often absent (golden ``java-broker-4.9.8-tx-order-ns.jsonl``
    seq 11).  ``from_transaction_check`` says the answer comes from the
    checker rather than the local transaction.
    """

    WIRE: ClassVar[WireTable] = WireTable(
        String("producerGroup", "producer_group", required=True),
        Long("tranStateTableOffset", "tran_state_table_offset", required=True),
        Long("commitLogOffset", "commit_log_offset", required=True),
        Integer("commitOrRollback", "commit_or_rollback", required=True),
        Boolean("fromTransactionCheck", "from_transaction_check"),
        String("msgId", "msg_id", required=True),
        String("transactionId", "transaction_id"),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.END_TRANSACTION
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.END_TRANSACTION: False}

    producer_group: str
    tran_state_table_offset: int
    commit_log_offset: int
    commit_or_rollback: int
    from_transaction_check: bool | None = False
    msg_id: str
    transaction_id: str | None = None
    broker_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckTransactionStateRequestHeader(CustomHeader):
    """Broker to producer: what became of this half message?  The producer
    answers with an END_TRANSACTION (``from_transaction_check`` set)."""

    WIRE: ClassVar[WireTable] = WireTable(
        Long("tranStateTableOffset", "tran_state_table_offset", required=True),
        Long("commitLogOffset", "commit_log_offset", required=True),
        String("msgId", "msg_id"),
        String("transactionId", "transaction_id"),
        String("offsetMsgId", "offset_msg_id"),
        String("bname", "broker_name"),
    )
    REQUEST_CODE: ClassVar[int] = RequestCode.CHECK_TRANSACTION_STATE
    DECODE_CODES: ClassVar[Mapping[int, bool]] = {RequestCode.CHECK_TRANSACTION_STATE: False}

    tran_state_table_offset: int
    commit_log_offset: int
    msg_id: str | None = None
    transaction_id: str | None = None
    offset_msg_id: str | None = None
    broker_name: str | None = None
