"""Rebalance: which queues of each subscribed topic this member consumes.

Mirrors Java's ``RebalanceImpl`` with the push and lite-pull variants'
hooks (``RebalancePushImpl``, ``RebalanceLitePullImpl``), consumer-protocol.md
sections 6.4 and 8.

Theory of operation: :meth:`RebalanceImpl.do_rebalance` runs every 20 s,
at once when the broker pushes NOTIFY_CONSUMER_IDS_CHANGED, and when a
member starts or stops.  For each subscribed topic, clustering asks one
broker for the group's consumer ids, sorts them and the topic's read queues
and lets the strategy pick this member's share; broadcasting takes every
queue.  The process-queue table is then brought to that set: a queue no
longer owned (or a push queue not pulled for 2 minutes) is marked dropped,
its offset persisted and forgotten (``remove_unnecessary_message_queue``);
a new queue gets a fresh :class:`ProcessQueue` and its first offset from
:func:`compute_pull_from_where`, and a :class:`PullRequest` goes to the
consumer's pull loop.  Queues of topics no longer subscribed are dropped.

The broker calls and the consumer's reactions come in through two small
interfaces (:class:`RebalanceApi`, :class:`RebalanceListener`), so the
algorithm is tested without sockets.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..codec.errors import RocketMQError
from ..types import ConsumeFromWhere, ConsumeType, MessageModel, MessageQueue
from .allocate import AllocateStrategy, sort_client_ids, sort_queues
from .offset_store import OffsetStore, ReadOffsetType
from .process_queue import ProcessQueue

__all__ = [
    "PullRequest",
    "RebalanceApi",
    "RebalanceListener",
    "RebalanceImpl",
    "compute_pull_from_where",
    "parse_consume_timestamp",
    "RETRY_GROUP_TOPIC_PREFIX",
]

log = logging.getLogger(__name__)

RETRY_GROUP_TOPIC_PREFIX = "%RETRY%"

_LAST_OFFSET_LIKE = (
    ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
    ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST,
    ConsumeFromWhere.CONSUME_FROM_MIN_OFFSET,
    ConsumeFromWhere.CONSUME_FROM_MAX_OFFSET,
)


@dataclass(eq=False)
class PullRequest:
    """One queue to pull: where from next, and its in-flight messages."""

    consumer_group: str
    message_queue: MessageQueue
    process_queue: ProcessQueue[Any]
    next_offset: int
    previously_locked: bool = False


class RebalanceApi(Protocol):
    """The broker questions a rebalance asks."""

    async def find_consumer_id_list(self, topic: str, group: str) -> list[str] | None:
        """GET_CONSUMER_LIST_BY_GROUP from a broker of ``topic``; None if none answered."""
        ...

    async def max_offset(self, mq: MessageQueue) -> int:
        """GET_MAX_OFFSET (one past the last message)."""
        ...

    async def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        """SEARCH_OFFSET_BY_TIMESTAMP."""
        ...


class RebalanceListener(Protocol):
    """What the consumer does when its share changes."""

    def dispatch_pull_requests(self, requests: list[PullRequest]) -> None:
        """Start pulling these new queues."""
        ...

    async def message_queue_changed(self, topic: str, mq_all: set[MessageQueue], mq_divided: set[MessageQueue]) -> None:
        """The share of ``topic`` changed (``mq_divided`` is the new share)."""
        ...

    async def remove_unnecessary_message_queue(self, mq: MessageQueue, pq: ProcessQueue[Any]) -> bool:
        """A queue is given up: persist and forget its offset; True if it may go."""
        ...


def parse_consume_timestamp(value: str) -> int:
    """``yyyyMMddHHmmss`` in local time (Java ``UtilAll.parseDate``) to ms since the epoch."""
    try:
        moment = datetime.datetime.strptime(value, "%Y%m%d%H%M%S")
    except (TypeError, ValueError):
        from ..codec.errors import ConfigError

        raise ConfigError(f"consume_timestamp must be yyyyMMddHHmmss, not {value!r}") from None
    return int(moment.timestamp() * 1000)


async def compute_pull_from_where(
    mq: MessageQueue,
    consume_from_where: ConsumeFromWhere,
    offset_store: OffsetStore,
    api: RebalanceApi,
    consume_timestamp: str,
    *,
    read_type: ReadOffsetType = ReadOffsetType.READ_FROM_STORE,
    deprecated_as_last: bool = True,
) -> int:
    """Where a queue taken by this member starts (``computePullFromWhereWithException``).

    The stored offset if there is one (>= 0); -1 (skip the queue this round)
    if it could not be read (-2).  With no offset (-1): LAST_OFFSET asks the
    broker's max offset, except for a retry topic, which starts at 0;
    FIRST_OFFSET starts at 0; TIMESTAMP searches ``consume_timestamp``,
    except for a retry topic, which starts at the max offset.  Broker
    failures raise (the queue is skipped).  The push consumer reads the
    store, the lite pull consumer memory first (``read_type``) and does not
    know the deprecated values (``deprecated_as_last=False``: -1).
    """
    retry = mq.topic.startswith(RETRY_GROUP_TOPIC_PREFIX)
    if consume_from_where in _LAST_OFFSET_LIKE:
        if consume_from_where is not ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET and not deprecated_as_last:
            return -1
        last = await offset_store.read_offset(mq, read_type)
        if last >= 0:
            return last
        if last == -1:
            return 0 if retry else await api.max_offset(mq)
        return -1
    if consume_from_where is ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET:
        last = await offset_store.read_offset(mq, read_type)
        if last >= 0:
            return last
        return 0 if last == -1 else -1
    if consume_from_where is ConsumeFromWhere.CONSUME_FROM_TIMESTAMP:
        last = await offset_store.read_offset(mq, read_type)
        if last >= 0:
            return last
        if last == -1:
            if retry:
                return await api.max_offset(mq)
            return await api.search_offset(mq, parse_consume_timestamp(consume_timestamp))
        return -1
    return -1


class RebalanceImpl:
    """The process-queue table of one consumer, brought to its share of each topic."""

    def __init__(
        self,
        group: str,
        client_id: str,
        *,
        message_model: MessageModel,
        consume_type: ConsumeType,
        strategy: AllocateStrategy,
        offset_store: OffsetStore,
        api: RebalanceApi,
        listener: RebalanceListener,
        subscribed_topics: Callable[[], Collection[str]],
        compute_offset: Callable[[MessageQueue], Any],
        new_process_queue: Callable[[MessageQueue], Awaitable[ProcessQueue[Any] | None]] | None = None,
    ) -> None:
        self.group = group
        self.client_id = client_id
        self.message_model = message_model
        self.consume_type = consume_type
        self.strategy = strategy
        self.offset_store = offset_store
        self.api = api
        self.listener = listener
        self._subscribed_topics = subscribed_topics
        #: ``mq -> awaitable of the first offset`` (see compute_pull_from_where)
        self._compute_offset = compute_offset
        #: ``mq -> awaitable of its new process queue, or None to skip it this
        #: round`` (an orderly consumer locks the queue on the broker first)
        self._new_process_queue = new_process_queue
        self.process_queue_table: dict[MessageQueue, ProcessQueue[Any]] = {}
        #: the read queues of each subscribed topic, from the routes
        self.topic_subscribe_info_table: dict[str, set[MessageQueue]] = {}
        # the periodic round, a broker's notification and a member's start may
        # overlap: one rebalance at a time keeps the table consistent
        self._lock = asyncio.Lock()

    def set_topic_queues(self, topic: str, queues: Iterable[MessageQueue]) -> None:
        """``updateTopicSubscribeInfo``: the read queues of ``topic``."""
        self.topic_subscribe_info_table[topic] = set(queues)

    async def do_rebalance(self) -> bool:
        """Rebalance every subscribed topic; True if any share changed."""
        async with self._lock:
            return await self._do_rebalance()

    async def _do_rebalance(self) -> bool:
        changed = False
        for topic in list(self._subscribed_topics()):
            try:
                changed |= await self.rebalance_by_topic(topic)
            except RocketMQError as exc:
                if not topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
                    log.warning("rebalance of %s for %s failed: %s", topic, self.group, exc)
        self._truncate_queues_not_my_topic()
        return changed

    async def rebalance_by_topic(self, topic: str) -> bool:
        mq_set = self.topic_subscribe_info_table.get(topic)
        if self.message_model is MessageModel.BROADCASTING:
            if mq_set is None:
                log.warning("rebalance of %s for %s: no route yet", topic, self.group)
                return False
            changed = await self._update_process_queue_table(topic, mq_set)
            if changed:
                await self.listener.message_queue_changed(topic, mq_set, mq_set)
            return changed
        cid_all = await self.api.find_consumer_id_list(topic, self.group)
        if mq_set is None:
            if not topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
                log.warning("rebalance of %s for %s: no route yet", topic, self.group)
            return False
        if not cid_all:
            log.warning("rebalance of %s for %s: no consumer id from the brokers", topic, self.group)
            return False
        mq_all = sort_queues(mq_set)
        cids = sort_client_ids(cid_all)
        try:
            allocated = set(self.strategy.allocate(self.group, self.client_id, mq_all, cids))
        except Exception as exc:  # a user strategy may raise anything: skip this round, as Java
            log.error("allocation strategy %s failed for %s: %s", getattr(self.strategy, "name", self.strategy), topic, exc)
            return False
        changed = await self._update_process_queue_table(topic, allocated)
        if changed:
            log.info(
                "rebalance %s %s: %d queues, %d consumers, this one takes %s",
                self.group, topic, len(mq_set), len(cids), sorted(allocated),
            )
            await self.listener.message_queue_changed(topic, mq_set, allocated)
        return changed

    async def _update_process_queue_table(self, topic: str, mq_set: set[MessageQueue]) -> bool:
        changed = False
        for mq, pq in list(self.process_queue_table.items()):
            if mq.topic != topic:
                continue
            if mq not in mq_set:
                pq.dropped = True
                if await self.listener.remove_unnecessary_message_queue(mq, pq):
                    self.process_queue_table.pop(mq, None)
                    changed = True
            elif self.consume_type is ConsumeType.CONSUME_PASSIVELY and pq.is_pull_expired():
                log.warning("%s has not been pulled for a long time: recreating it", mq)
                pq.dropped = True
                if await self.listener.remove_unnecessary_message_queue(mq, pq):
                    self.process_queue_table.pop(mq, None)
                    changed = True
        requests = []
        for mq in sort_queues(mq_set):
            if mq in self.process_queue_table:
                continue
            fresh: ProcessQueue[Any] | None = ProcessQueue()
            if self._new_process_queue is not None:
                fresh = await self._new_process_queue(mq)
                if fresh is None:
                    continue
            self.offset_store.remove_offset(mq)  # removeDirtyOffset
            try:
                next_offset = await self._compute_offset(mq)
            except RocketMQError as exc:
                log.warning("cannot compute where %s starts: %s", mq, exc)
                continue
            if next_offset < 0:
                log.warning("no start offset for %s this round", mq)
                continue
            if mq in self.process_queue_table or fresh is None:  # taken meanwhile by a concurrent rebalance
                continue
            self.process_queue_table[mq] = fresh
            requests.append(PullRequest(self.group, mq, fresh, next_offset))
            changed = True
        if requests:
            self.listener.dispatch_pull_requests(requests)
        return changed

    def _truncate_queues_not_my_topic(self) -> None:
        topics = set(self._subscribed_topics())
        for mq in list(self.process_queue_table):
            if mq.topic not in topics:
                pq = self.process_queue_table.pop(mq)
                pq.dropped = True

    async def remove_process_queue(self, mq: MessageQueue) -> None:
        """Drop one queue now (after OFFSET_MOVED); the next rebalance may take it again."""
        pq = self.process_queue_table.pop(mq, None)
        if pq is not None:
            pq.dropped = True
            await self.listener.remove_unnecessary_message_queue(mq, pq)

    def destroy(self) -> None:
        """Drop every queue (shutdown)."""
        for pq in self.process_queue_table.values():
            pq.dropped = True
        self.process_queue_table.clear()
