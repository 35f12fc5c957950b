"""PULL_MESSAGE (11), with long polling.

Mirrors ``PullMessageProcessor.processRequest`` on a master broker whose
messages are all in memory, in Java's order of checks: the topic exists
(TOPIC_NOT_EXIST) and is readable (NO_PERMISSION), the queue id is within
its read queues (SYSTEM_ERROR), the subscription: parsed from the request
with the SUBSCRIPTION flag (SUBSCRIPTION_PARSE_FAILED), else the group's as
its heartbeat registered it (SUBSCRIPTION_NOT_EXIST without one, for the
group or for the topic; SUBSCRIPTION_NOT_LATEST when the request's
``subVersion`` is newer).  Then ``getMessage`` (:meth:`~..store.MessageStore.get_message`)
through the tag-hash filter (``ExpressionMessageFilter.isMatchedByConsumeQueue``:
``*`` takes everything, else the message's tag hash code must be in the
subscription's ``codeSet``), and its status mapped to a code:

==========================================  =========================
FOUND                                       SUCCESS, the records as body
NO_MATCHED_MESSAGE, MESSAGE_WAS_REMOVING    PULL_RETRY_IMMEDIATELY (20)
NO_MESSAGE_IN_QUEUE, NO_MATCHED_LOGIC_QUEUE PULL_OFFSET_MOVED (21) unless the offset is 0, then PULL_NOT_FOUND (19)
OFFSET_TOO_SMALL, OFFSET_OVERFLOW_BADLY     PULL_OFFSET_MOVED (21)
OFFSET_OVERFLOW_ONE, OFFSET_FOUND_NULL      PULL_NOT_FOUND (19)
==========================================  =========================

every answer carrying ``suggestWhichBrokerId`` (0, the master),
``nextBeginOffset``, ``minOffset``, ``maxOffset`` and the status name as
remark.  A PULL_NOT_FOUND with the SUSPEND flag is held
(:mod:`..long_polling`) and answered when a message arrives or the
timeout passes, by running the pull again without suspending.  With the
COMMIT_OFFSET flag the request's ``commitOffset`` is committed for the
group, on the first pass only (the re-run does not).

Where it knowingly differs from Java: no ``OffsetMovedEvent`` message is
stored in ``OFFSET_MOVED_EVENT`` on a PULL_OFFSET_MOVED; a SQL92
subscription is refused as a broker with ``enablePropertyFilter=false``
refuses it, without the filter-data checks before that; held pulls time
out on their own timer instead of at the next 5 s check.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ...codec.body import PermName, SubscriptionData
from ...codec.command import RemotingCommand
from ...codec.enums import PullSysFlag, RequestCode, ResponseCode
from ...codec.filter import build_subscription, tag_hash_code
from ...codec.headers import PullMessageRequestHeader, PullMessageResponseHeader
from ...codec.store import encode_message
from ..config import FAQ_SUFFIX
from ..long_polling import HOLD_CHECK_INTERVAL, HeldPull, PullHoldTable
from ..processor import Channel, DeferredReply, ProcessorRegistry, ProcessorResult, RequestContext, reply
from ..store import GetMessageStatus, MessageFilter, StoredMessage
from ..timer import LoopTimer

if TYPE_CHECKING:
    from ..controller import BrokerController

__all__ = ["PullMessageProcessor", "RecordCache", "encode_record", "encode_pull_body", "tag_filter", "tags_code"]

log = logging.getLogger(__name__)

_SUB_ALL: Final = "*"
_MASTER_ID: Final = 0

_STATUS_CODES: Final = {
    GetMessageStatus.FOUND: ResponseCode.SUCCESS,
    GetMessageStatus.MESSAGE_WAS_REMOVING: ResponseCode.PULL_RETRY_IMMEDIATELY,
    GetMessageStatus.NO_MATCHED_MESSAGE: ResponseCode.PULL_RETRY_IMMEDIATELY,
    GetMessageStatus.OFFSET_FOUND_NULL: ResponseCode.PULL_NOT_FOUND,
    GetMessageStatus.OFFSET_OVERFLOW_BADLY: ResponseCode.PULL_OFFSET_MOVED,
    GetMessageStatus.OFFSET_OVERFLOW_ONE: ResponseCode.PULL_NOT_FOUND,
    GetMessageStatus.OFFSET_TOO_SMALL: ResponseCode.PULL_OFFSET_MOVED,
}
_EMPTY_QUEUE: Final = (GetMessageStatus.NO_MATCHED_LOGIC_QUEUE, GetMessageStatus.NO_MESSAGE_IN_QUEUE)

_tag_codes: dict[str, int] = {}


def tags_code(tags: str | None) -> int:
    """``MessageExtBrokerInner.tagsString2tagsCode``: the consume queue's
    tag code of a message: 0 without tags, else the Java hash code of its
    whole ``TAGS`` property."""
    if not tags:
        return 0
    code = _tag_codes.get(tags)
    if code is None:
        if len(_tag_codes) > 4096:  # a bounded memo: tag sets are small, but not all clients are kind
            _tag_codes.clear()
        code = _tag_codes[tags] = tag_hash_code(tags)
    return code


def _is_tag_type(expression_type: str | None) -> bool:
    return not expression_type or expression_type == "TAG"


def tag_filter(subscription: SubscriptionData) -> MessageFilter | None:
    """``ExpressionMessageFilter.isMatchedByConsumeQueue`` for a TAG
    subscription: None (everything passes) for ``*`` and class-filter
    mode, else a test of the message's tag code against ``codeSet``."""
    if subscription.class_filter_mode or subscription.sub_string == _SUB_ALL:
        return None
    codes = frozenset(subscription.code_set)
    return lambda message: tags_code(message.tags) in codes


def encode_record(m: StoredMessage) -> bytes:
    """One stored message as the commit log holds it (``MessageDecoder.encode``)."""
    return encode_message(
        topic=m.topic,
        body=m.body,
        properties=m.properties,
        queue_id=m.queue_id,
        queue_offset=m.queue_offset,
        commit_log_offset=m.commitlog_offset,
        sys_flag=m.sys_flag,
        born_timestamp=m.born_timestamp,
        born_host=m.born_host,
        store_timestamp=m.store_timestamp,
        store_host=m.store_host,
        reconsume_times=m.reconsume_times,
        prepared_transaction_offset=m.prepared_transaction_offset,
        flag=m.flag,
    )


def encode_pull_body(messages: tuple[StoredMessage, ...] | list[StoredMessage]) -> bytes:
    """The body of a FOUND answer: the stored-message records back to back,
    as the commit log holds them."""
    return b"".join(encode_record(m) for m in messages)


class RecordCache:
    """Encoded records by commit-log offset, the oldest dropped past
    ``max_bytes``: a message pulled again (another group, a broadcasting
    consumer, a redelivery) is not encoded again.  A commit-log offset names
    one message for the store's whole life, so entries never go stale."""

    __slots__ = ("max_bytes", "_records", "_bytes")

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._records: dict[int, bytes] = {}
        self._bytes = 0

    def body(self, messages: tuple[StoredMessage, ...]) -> bytes:
        records = self._records
        parts: list[bytes] = []
        for m in messages:
            record = records.get(m.commitlog_offset)
            if record is None:
                record = records[m.commitlog_offset] = encode_record(m)
                self._bytes += len(record)
            parts.append(record)
        while self._bytes > self.max_bytes and records:
            self._bytes -= len(records.pop(next(iter(records))))
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class _Suspend:
    """The pull found nothing and may wait: for how long, through which filter."""

    header: PullMessageRequestHeader
    timeout: float
    message_filter: MessageFilter | None


class PullMessageProcessor:
    """Pulls from one broker's store; holds the ones that may wait."""

    def __init__(self, broker: BrokerController) -> None:
        self.broker = broker
        config = broker.config
        self.holds = PullHoldTable(HOLD_CHECK_INTERVAL if config.long_polling else config.short_polling_time)
        self.timer = LoopTimer(self._on_timer, f"{broker.name} held pulls")
        self.records = RecordCache()

    def register(self, registry: ProcessorRegistry) -> None:
        registry.register(RequestCode.PULL_MESSAGE, self)

    # ------------------------------------------------------------------ requests

    def __call__(self, cmd: RemotingCommand, ctx: RequestContext) -> ProcessorResult:
        outcome = self.process(cmd, ctx.channel, allow_suspend=True)
        if not isinstance(outcome, _Suspend):
            return outcome
        deferred = ctx.defer()
        header = outcome.header
        now = time.monotonic()
        pull = HeldPull(cmd, deferred, header.topic, header.queue_id, header.queue_offset, outcome.message_filter, now, outcome.timeout)
        self.holds.hold(pull, now)
        self._arm()
        return deferred

    def process(self, cmd: RemotingCommand, channel: Channel, *, allow_suspend: bool) -> RemotingCommand | _Suspend:
        """``processRequest(channel, request, brokerAllowSuspend)``: the
        answer, or (only when ``allow_suspend``) the decision to hold it."""
        broker = self.broker
        header = PullMessageRequestHeader.from_command(cmd)
        topic, queue_id, group = header.topic, header.queue_id, header.consumer_group
        sys_flag = header.sys_flag

        def fail(code: int, remark: str) -> RemotingCommand:
            log.debug("%s: pull of %s:%d by %s refused (%d): %s", broker.name, topic, queue_id, group, code, remark)
            return reply(cmd, code, remark)

        topic_config = broker.topics.get(broker.name, topic)
        if topic_config is None:
            return fail(ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist, apply first please! {FAQ_SUFFIX}")
        if not topic_config.perm & PermName.PERM_READ:
            return fail(ResponseCode.NO_PERMISSION, f"the topic[{topic}] pulling message is forbidden")
        if not 0 <= queue_id < topic_config.read_queue_nums:
            return fail(
                ResponseCode.SYSTEM_ERROR,
                f"queueId[{queue_id}] is illegal, topic:[{topic}] topicConfig.readQueueNums:"
                f"[{topic_config.read_queue_nums}] consumer:[/{channel.peer}]",
            )

        subscription: SubscriptionData
        if sys_flag & PullSysFlag.SUBSCRIPTION:
            try:
                subscription = build_subscription(
                    topic, header.subscription, expression_type=header.expression_type, sub_version=header.sub_version
                )
            except Exception as exc:  # FilterAPI.build throws: any failure is a parse failure
                log.debug("%s: subscription %r of %s does not parse: %s", broker.name, header.subscription, group, exc)
                return fail(ResponseCode.SUBSCRIPTION_PARSE_FAILED, "parse the consumer's subscription failed")
        else:
            info = broker.clients.consumer_group(broker.name, group)
            if info is None:
                return fail(ResponseCode.SUBSCRIPTION_NOT_EXIST, f"the consumer's group info not exist{FAQ_SUFFIX}")
            registered = info.subscriptions.get(topic)
            if registered is None:
                return fail(ResponseCode.SUBSCRIPTION_NOT_EXIST, f"the consumer's subscription not exist{FAQ_SUFFIX}")
            if registered.sub_version < header.sub_version:
                return fail(ResponseCode.SUBSCRIPTION_NOT_LATEST, "the consumer's subscription not latest")
            subscription = registered
        if not _is_tag_type(subscription.expression_type):
            return fail(
                ResponseCode.SYSTEM_ERROR,
                f"The broker does not support consumer to filter message by {subscription.expression_type}",
            )

        message_filter = tag_filter(subscription)
        result = broker.store.get_message(topic, queue_id, header.queue_offset, header.max_msg_nums, message_filter)
        if result.status in _EMPTY_QUEUE:
            code = ResponseCode.PULL_OFFSET_MOVED if header.queue_offset != 0 else ResponseCode.PULL_NOT_FOUND
        else:
            code = _STATUS_CODES[result.status]
        if code == ResponseCode.PULL_OFFSET_MOVED:
            log.info(
                "%s: PULL_OFFSET_MOVED: correction offset. topic=%s, groupId=%s, requestOffset=%d, newOffset=%d",
                broker.name, topic, group, header.queue_offset, result.next_begin_offset,
            )

        outcome: RemotingCommand | _Suspend
        if code == ResponseCode.PULL_NOT_FOUND and allow_suspend and sys_flag & PullSysFlag.SUSPEND:
            config = broker.config
            timeout = header.suspend_timeout_millis / 1000.0 if config.long_polling else config.short_polling_time
            if config.max_suspend is not None:
                timeout = min(timeout, config.max_suspend)
            outcome = _Suspend(header, max(0.0, timeout), message_filter)
        else:
            response_header = PullMessageResponseHeader(
                suggest_which_broker_id=_MASTER_ID,
                next_begin_offset=result.next_begin_offset,
                min_offset=result.min_offset,
                max_offset=result.max_offset,
            )
            body = self.records.body(result.messages) if code == ResponseCode.SUCCESS else b""
            outcome = reply(cmd, code, result.status.value, response_header.to_ext_fields(), body)

        # storeOffsetEnable: the first pass only, on a master
        if allow_suspend and sys_flag & PullSysFlag.COMMIT_OFFSET:
            broker.offsets.commit(group, topic, queue_id, header.commit_offset)
        return outcome

    # ------------------------------------------------------------------ held pulls

    def message_arrived(self, message: StoredMessage) -> None:
        """``NotifyMessageArrivingListener``: wake the pulls held on the
        message's queue that it satisfies (call on the broker's loop)."""
        if not self.holds:
            return
        max_offset = self.broker.store.max_offset(message.topic, message.queue_id)
        for pull in self.holds.on_arrival(message, max_offset, time.monotonic()):
            self._wake(pull)
        self._arm()

    def _on_timer(self) -> None:
        for pull in self.holds.on_check(self.broker.store.max_offset, time.monotonic()):
            self._wake(pull)
        self._arm()

    def _arm(self) -> None:
        deadline = self.holds.next_deadline()
        if deadline is not None:
            self.timer.arm(deadline - time.monotonic())

    def _wake(self, pull: HeldPull) -> None:
        """``executeRequestWhenWakeup``: run it again, never suspending, and
        answer with the original opaque."""
        deferred: DeferredReply = pull.deferred
        if deferred.done:
            return
        try:
            response = self.process(pull.request, deferred.channel, allow_suspend=False)
        except Exception as exc:  # the header decoded once; anything now is a bug, answered as Java would
            log.exception("%s: held pull failed on wake-up", self.broker.name)
            response = reply(pull.request, ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}")
        assert isinstance(response, RemotingCommand)
        deferred.resolve(response)

    def stop(self) -> None:
        """Stop the timer and drop every held pull unanswered (the broker stops)."""
        self.timer.stop()
        self.holds.cancel_all()
