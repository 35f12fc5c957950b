"""Transactional messages on one broker: half messages, op marks, check-back.

Mirrors ``TransactionalMessageBridge`` (how a prepared message is parked in
``RMQ_SYS_TRANS_HALF_TOPIC`` queue 0 with its real topic and queue kept in
``REAL_TOPIC`` / ``REAL_QID``, how a commit or rollback is marked by an "op"
message in ``RMQ_SYS_TRANS_OP_HALF_TOPIC`` whose body is the half message's
queue offset), ``TransactionalMessageServiceImpl.check`` (which half
messages to check back with their producer, and when to give up),
``EndTransactionProcessor.endMessageTransaction`` (the committed message)
and ``TransactionalMessageCheckService`` (the check rounds, every
``transactionCheckInterval``).

:class:`TransactionalMessageService` is pure logic over a
:class:`~.store.MessageStore`: time is an argument (``now_ms``), so tests
drive a round without sleeping.  :class:`TransactionCheckService` is the
asyncio loop that runs a round every interval on a live broker and hands
the half messages to check to the broker, which pushes
CHECK_TRANSACTION_STATE to a producer of the group.

Theory of operation (one round over a half queue, as Java's ``check``):

* Progress is two offsets per half queue, the next half message to look at
  and the next op mark to read (Java keeps them as the consumer offsets of
  group ``CID_RMQ_SYS_TRANS``; here the service holds them).
* The op marks from the op offset on say which half offsets are done
  (committed or rolled back).  A done half message is skipped.
* Otherwise the half message is *discarded* (moved to
  ``TRANS_CHECK_MAX_TIME_TOPIC``) when it was checked ``check_max`` times
  already (its ``TRANSACTION_CHECK_TIMES`` property) or is older than the
  store keeps files; the round *stops* at a message stored since the round
  began, or one younger than its immunity (``transaction_timeout``, or its
  ``CHECK_IMMUNITY_TIME_IN_SECONDS`` property): everything after it is
  younger still.  A message old enough is *checked*: a copy with its check
  count raised is appended to the half queue (so the next check finds it
  again if the producer does not answer) and the copy is what the producer
  is asked about.
* The half offset moves past everything looked at; the op offset moves over
  the marks whose half messages were passed, while they are contiguous.

So a half message is checked at most ``check_max`` times, then dropped,
and each check refers to the newest copy (its commit-log and queue offset),
as a Java broker's CHECK_TRANSACTION_STATE does.

Where it knowingly differs from Java: a commit or rollback naming a
commit-log offset that holds no half message is refused ("Find prepared
transaction message failed"; Java would read whatever message is there);
a checked copy keeps the message's ``flag`` and reconsume times (Java's
``renewHalfMessageInner`` drops them); a message with its own immunity time
(``CHECK_IMMUNITY_TIME_IN_SECONDS``) that is ended while immune is done
(a 4.9 broker misses that end and checks it once its immunity passed, see
:meth:`TransactionalMessageService._immune`); the half, op and check-max topics
are not added to the topic table (so routes and :meth:`LocalBroker.topics`
are unchanged).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from ..codec.message import (
    PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS,
    PROPERTY_DELAY_TIME_LEVEL,
    PROPERTY_PRODUCER_GROUP,
    PROPERTY_REAL_QUEUE_ID,
    PROPERTY_REAL_TOPIC,
    PROPERTY_TAGS,
    PROPERTY_TRANSACTION_CHECK_TIMES,
    PROPERTY_TRANSACTION_PREPARED,
    PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET,
    PROPERTY_WAIT_STORE_MSG_OK,
    MessageSysFlag,
)
from .store import MessageDraft, MessageStore, StoredMessage

__all__ = [
    "HALF_TOPIC",
    "OP_TOPIC",
    "CHECK_MAX_TIME_TOPIC",
    "REMOVE_TAG",
    "TRANSACTION_TYPE_MASK",
    "transaction_type",
    "with_transaction_type",
    "half_message",
    "TransactionalMessageService",
    "CheckRound",
    "TransactionCheckService",
]

log = logging.getLogger(__name__)

#: ``TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC``: where prepared messages wait.
HALF_TOPIC: Final = "RMQ_SYS_TRANS_HALF_TOPIC"
#: ``TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC``: one mark per ended transaction.
OP_TOPIC: Final = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
#: ``TopicValidator.RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC``: half messages given up on.
CHECK_MAX_TIME_TOPIC: Final = "TRANS_CHECK_MAX_TIME_TOPIC"
#: ``TransactionalMessageUtil.REMOVETAG``: the tag of an op mark.
REMOVE_TAG: Final = "d"
#: The 2-bit transaction type field of ``sysFlag`` (bits 2-3).
TRANSACTION_TYPE_MASK: Final = int(MessageSysFlag.TRANSACTION_ROLLBACK_TYPE)
#: ``MessageStoreConfig.fileReservedTime`` (72 h): a half message older than
#: the store keeps its files is given up on (``needSkip``).
FILE_RESERVED_MS: Final = 72 * 3600 * 1000


def transaction_type(sys_flag: int) -> int:
    """``MessageSysFlag.getTransactionValue``."""
    return sys_flag & TRANSACTION_TYPE_MASK


def with_transaction_type(sys_flag: int, kind: int) -> int:
    """``MessageSysFlag.resetTransactionValue``."""
    return (sys_flag & ~TRANSACTION_TYPE_MASK) | kind


def _now_ms() -> int:
    return int(time.time() * 1000)


def _long_or(value: str | None, default: int) -> int:
    """Java's ``getLong``/``getInt`` here: -1 (or ``default``) for what does not parse."""
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return -1


def half_message(draft: MessageDraft) -> MessageDraft:
    """``parseHalfMessageInner``: ``draft`` parked in the half queue, its real
    topic and queue id kept in ``REAL_TOPIC`` / ``REAL_QID`` and its
    transaction type cleared (a new draft; ``draft`` is not changed)."""
    props = dict(draft.properties)
    props[PROPERTY_REAL_TOPIC] = draft.topic
    props[PROPERTY_REAL_QUEUE_ID] = str(draft.queue_id)
    return replace(
        draft,
        topic=HALF_TOPIC,
        queue_id=0,
        properties=props,
        properties_size=None,
        sys_flag=with_transaction_type(draft.sys_flag, int(MessageSysFlag.TRANSACTION_NOT_TYPE)),
    )


def _draft_of(message: StoredMessage, **changes: object) -> MessageDraft:
    """A new draft with ``message``'s content (``MessageExtBrokerInner`` built from a ``MessageExt``)."""
    draft = MessageDraft(
        topic=message.topic,
        queue_id=message.queue_id,
        body=message.body,
        properties=dict(message.properties),
        flag=message.flag,
        sys_flag=message.sys_flag,
        born_timestamp=message.born_timestamp,
        born_host=message.born_host,
        reconsume_times=message.reconsume_times,
        producer_group=message.producer_group,
        request_code=message.request_code,
        serialize_type=message.serialize_type,
        language=message.language,
    )
    return replace(draft, **changes)  # type: ignore[arg-type]


@dataclass(slots=True)
class CheckRound:
    """What one round decided: the copies to check back with their producers
    (``checks``, in half-queue order) and the half messages given up on
    (``discarded``, as they were before being moved)."""

    checks: list[StoredMessage] = field(default_factory=list)
    discarded: list[StoredMessage] = field(default_factory=list)


class TransactionalMessageService:
    """Half messages and op marks of one broker's store (not thread-safe:
    run it on the broker's event loop, as the processors are)."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        # (topic, queue id) -> consume offset of CID_RMQ_SYS_TRANS
        self._offsets: dict[tuple[str, int], int] = {}
        # (half queue id, first copy's offset) of messages parked while immune
        # -> whether that first copy was ended since
        self._parked: dict[tuple[int, int], bool] = {}

    # ------------------------------------------------------------------ preparing

    @staticmethod
    def is_prepared(properties: Mapping[str, str], reconsume_times: int) -> bool:
        """Whether a send is a half message: ``TRAN_MSG`` is true
        (``Boolean.parseBoolean``), unless it is a pre-4.6.1 client's
        send-back (reconsumed, with a delay level)."""
        if properties.get(PROPERTY_TRANSACTION_PREPARED, "").lower() != "true":
            return False
        return not (reconsume_times > 0 and properties.get(PROPERTY_DELAY_TIME_LEVEL, "0") not in ("", "0"))

    def prepare(self, drafts: Sequence[MessageDraft]) -> list[StoredMessage]:
        """``prepareMessage``: store ``drafts`` as half messages (:func:`half_message`)."""
        return self.store.append([half_message(draft) for draft in drafts])

    # ------------------------------------------------------------------ ending a transaction

    def find_half(self, commitlog_offset: int) -> StoredMessage | None:
        """``getHalfMessageByOffset``: the half message at ``commitlog_offset``, or None."""
        message = self.store.look_message_by_offset(commitlog_offset)
        if message is None or message.topic != HALF_TOPIC:
            return None
        return message

    def committed(self, half: StoredMessage, commitlog_offset: int) -> MessageDraft:
        """``endMessageTransaction``: the message to store in the real topic
        and queue for a committed ``half``.  Its stored properties are the
        half message's, ``REAL_TOPIC`` / ``REAL_QID`` / ``TRAN_MSG`` included:
        Java clears them from the map after writing the properties string, so
        a consumer of a 4.9 broker sees them (golden tx session, the PULL
        answers on ``GoldenTx13498``)."""
        real_topic = half.properties.get(PROPERTY_REAL_TOPIC, "")
        real_queue = _long_or(half.properties.get(PROPERTY_REAL_QUEUE_ID), 0)
        return _draft_of(
            half,
            topic=real_topic,
            queue_id=max(real_queue, 0),
            sys_flag=with_transaction_type(half.sys_flag, int(MessageSysFlag.TRANSACTION_COMMIT_TYPE)),
            prepared_transaction_offset=commitlog_offset,
        )

    def mark_done(self, half: StoredMessage, *, now_ms: int | None = None) -> StoredMessage:
        """``deletePrepareMessage``: append the op mark of ``half`` (tag ``d``,
        body its queue offset) to the op queue of its half queue."""
        now = _now_ms() if now_ms is None else now_ms
        parked = (half.queue_id, half.queue_offset)
        if parked in self._parked:
            self._parked[parked] = True
        host = self.store.store_host
        draft = MessageDraft(
            topic=OP_TOPIC,
            queue_id=half.queue_id,
            body=str(half.queue_offset).encode(),
            # makeOpMessageInner writes the properties string before setting WAIT=false and UNIQ_KEY
            properties={PROPERTY_WAIT_STORE_MSG_OK: "true", PROPERTY_TAGS: REMOVE_TAG},
            born_timestamp=now,
            born_host=host,
        )
        return self.store.append([draft], now_ms=now)[0]

    # ------------------------------------------------------------------ checking back

    def offset(self, topic: str, queue_id: int) -> int:
        """``fetchConsumeOffset``: where the next round starts in a half or
        op queue (the queue's min offset before any round moved it)."""
        offset = self._offsets.get((topic, queue_id))
        return self.store.min_offset(topic, queue_id) if offset is None else offset

    def check(self, *, timeout_ms: int, check_max: int, now_ms: int | None = None) -> CheckRound:
        """One round over every half queue (``TransactionalMessageServiceImpl.check``):
        copies of the half messages to check back are appended to the half
        queue and returned, with what was given up on."""
        now = _now_ms() if now_ms is None else now_ms
        result = CheckRound()
        for queue_id in self.store.queue_ids(HALF_TOPIC):
            self._check_queue(queue_id, timeout_ms, check_max, now, result)
        return result

    def _check_queue(self, queue_id: int, timeout_ms: int, check_max: int, now: int, result: CheckRound) -> None:
        store = self.store
        half_offset = self.offset(HALF_TOPIC, queue_id)
        op_offset = self.offset(OP_TOPIC, queue_id)
        # fillOpRemoveMap, reading every mark at once (Java reads 32 at a time
        # as long as an undecided message needs more; the outcome is the same)
        removed: dict[int, int] = {}  # half offset -> op offset
        done_ops: list[int] = []
        offset = op_offset
        while True:
            marks = store.read(OP_TOPIC, queue_id, offset, 32)
            if not marks:
                break
            for mark in marks:
                offset = mark.queue_offset + 1
                if mark.tags != REMOVE_TAG:
                    log.error("op message with an illegal tag %r at %s:%d", mark.tags, OP_TOPIC, mark.queue_offset)
                    continue
                target = _long_or(mark.body.decode("ascii", "replace"), -1)
                if target < half_offset:
                    done_ops.append(mark.queue_offset)
                else:
                    removed[target] = mark.queue_offset
        i = new_offset = half_offset
        while True:
            if i in removed:
                done_ops.append(removed.pop(i))
                i = new_offset = i + 1
                continue
            found = store.read(HALF_TOPIC, queue_id, i, 1)
            if not found:
                low = store.min_offset(HALF_TOPIC, queue_id)
                if i < low:  # retention dropped it: go on from the oldest kept
                    i = new_offset = low
                    continue
                break
            message = found[0]
            # needDiscard (the first check is number 1) or needSkip
            times = message.properties.get(PROPERTY_TRANSACTION_CHECK_TIMES)
            count = 1 if times is None else _long_or(times, -1)
            if (times is not None and count >= check_max) or now - message.born_timestamp > FILE_RESERVED_MS:
                self._forget_parked(message)
                self._discard(message, now)
                result.discarded.append(message)
                i = new_offset = i + 1
                continue
            if times is not None:
                count += 1
            if message.store_timestamp >= now:
                break  # stored during this round: it and the rest wait for the next
            age = now - message.born_timestamp
            immunity = timeout_ms
            custom = message.properties.get(PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS)
            if custom is not None:
                seconds = _long_or(custom, -1)
                immunity = timeout_ms if seconds == -1 else seconds * 1000
                if age < immunity:
                    if not self._immune(message, removed, done_ops, now):
                        break
                    i = new_offset = i + 1
                    continue
            elif 0 <= age < immunity:
                break  # too young, and the rest younger still
            self._forget_parked(message)
            props = dict(message.properties)
            props[PROPERTY_TRANSACTION_CHECK_TIMES] = str(count)
            copy = store.append([_draft_of(message, properties=props)], now_ms=now)[0]
            result.checks.append(copy)
            i = new_offset = i + 1
        if new_offset != half_offset:
            self._offsets[(HALF_TOPIC, queue_id)] = new_offset
        # calculateOpOffset: over the contiguous run of marks now behind us
        new_op = op_offset
        for done in sorted(done_ops):
            if done != new_op:
                break
            new_op += 1
        if new_op != op_offset:
            self._offsets[(OP_TOPIC, queue_id)] = new_op

    def _immune(self, message: StoredMessage, removed: dict[int, int], done_ops: list[int], now: int) -> bool:
        """``checkPrepareQueueOffset`` for a message with its own immunity
        time that is still immune: done if its first copy was ended, else
        parked again at the end of the queue (remembering the first copy's
        offset).  False when that offset property does not parse.

        Java only sees an end of the first copy among the op marks read this
        round past the half offset, which the first copy is always behind
        once parked; so a 4.9 broker checks a message ended while immune
        anyway, once its immunity passes.  Here the service remembers which
        parked first copies were ended (:meth:`mark_done`), and such a
        message is done."""
        first = message.properties.get(PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET)
        if first is None:
            first_offset = message.queue_offset
        else:
            first_offset = _long_or(first, -1)
            if first_offset == -1:
                return False
            if first_offset in removed:
                done_ops.append(removed.pop(first_offset))
                self._parked.pop((message.queue_id, first_offset), None)
                return True
            if self._parked.get((message.queue_id, first_offset)):
                del self._parked[(message.queue_id, first_offset)]
                return True
        self._parked.setdefault((message.queue_id, first_offset), False)
        props = dict(message.properties)
        props[PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET] = str(first_offset)
        self.store.append([_draft_of(message, properties=props)], now_ms=now)
        return True

    def _forget_parked(self, message: StoredMessage) -> None:
        first = message.properties.get(PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET)
        if first is not None and self._parked:
            self._parked.pop((message.queue_id, _long_or(first, -1)), None)

    def _discard(self, message: StoredMessage, now: int) -> None:
        """``DefaultTransactionalMessageCheckListener.resolveDiscardMsg``."""
        log.warning(
            "%s: half message %s (real topic %s) checked %s times: given up, moved to %s",
            self.store.broker_name,
            message.uniq_key,
            message.properties.get(PROPERTY_REAL_TOPIC),
            message.properties.get(PROPERTY_TRANSACTION_CHECK_TIMES, "0"),
            CHECK_MAX_TIME_TOPIC,
        )
        self.store.append([_draft_of(message, topic=CHECK_MAX_TIME_TOPIC, queue_id=0)], now_ms=now)

    @staticmethod
    def producer_group(message: StoredMessage) -> str | None:
        """The producer group a half message belongs to (``PGROUP``)."""
        return message.properties.get(PROPERTY_PRODUCER_GROUP)


class TransactionCheckService:
    """``TransactionalMessageCheckService``: a check round every
    ``interval`` seconds (the first one interval after start), each check
    handed to ``on_check`` (the broker pushes CHECK_TRANSACTION_STATE)."""

    def __init__(
        self,
        service: TransactionalMessageService,
        *,
        interval: float,
        timeout: float,
        check_max: int,
        on_check: Callable[[StoredMessage], object],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.interval = interval
        self.timeout = timeout
        self.check_max = check_max
        self.on_check = on_check
        self.clock = clock
        #: How many rounds ran (for tests and inspection).
        self.rounds = 0

    def run_round(self) -> CheckRound:
        """One round now; every check goes to ``on_check``."""
        result = self.service.check(
            timeout_ms=int(self.timeout * 1000), check_max=self.check_max, now_ms=int(self.clock() * 1000)
        )
        self.rounds += 1
        for copy in result.checks:
            try:
                self.on_check(copy)
            except Exception:  # one failed push must not end the service
                log.exception("%s: check-back of %s failed", self.service.store.broker_name, copy.uniq_key)
        return result

    async def run(self) -> None:
        """Rounds forever, until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.run_round()
            except Exception:  # Java's check() catches everything too
                log.exception("%s: transaction check round failed", self.service.store.broker_name)
