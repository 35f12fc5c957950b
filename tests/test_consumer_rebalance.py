"""Rebalance over fakes: shares, dropped queues and where new queues start
(RebalanceImpl / RebalancePushImpl.computePullFromWhereWithException)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rmqwire import ConsumeFromWhere, ConsumeType, MessageModel, MessageQueue
from rmqwire.codec.errors import BrokerError, ConfigError, ConnectError
from rmqwire.consumer.allocate import AllocateMessageQueueAveragely
from rmqwire.consumer.offset_store import ReadOffsetType, RemoteBrokerOffsetStore
from rmqwire.consumer.process_queue import ProcessQueue
from rmqwire.consumer.rebalance import (
    PullRequest,
    RebalanceImpl,
    compute_pull_from_where,
    parse_consume_timestamp,
)

T = [MessageQueue("T", "broker-a", i) for i in range(4)]
RETRY = MessageQueue("%RETRY%g", "broker-a", 0)


class FakeBroker:
    """Consumer ids, offsets and max offsets as a broker would answer them."""

    def __init__(self) -> None:
        self.cids: list[str] | None = ["B", "A", "C"]
        self.committed: dict[MessageQueue, int] = {}
        self.max: dict[MessageQueue, int] = {}
        self.searched: list[tuple[MessageQueue, int]] = []
        self.updates: list[tuple[MessageQueue, int]] = []
        self.query_error: Exception | None = None

    async def find_consumer_id_list(self, topic: str, group: str) -> list[str] | None:
        return None if self.cids is None else list(self.cids)

    async def max_offset(self, mq: MessageQueue) -> int:
        return self.max.get(mq, 100)

    async def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        self.searched.append((mq, timestamp_ms))
        return 42

    async def query_consumer_offset(self, mq: MessageQueue, group: str) -> int:
        if self.query_error is not None:
            raise self.query_error
        if mq not in self.committed:
            raise BrokerError(22, "not found")
        return self.committed[mq]

    async def update_consumer_offset(self, mq: MessageQueue, group: str, offset: int, *, oneway: bool) -> None:
        self.updates.append((mq, offset))
        self.committed[mq] = offset


class Listener:
    def __init__(self, store: RemoteBrokerOffsetStore) -> None:
        self.store = store
        self.dispatched: list[PullRequest] = []
        self.changes: list[tuple[str, set[MessageQueue]]] = []

    def dispatch_pull_requests(self, requests: list[PullRequest]) -> None:
        self.dispatched.extend(requests)

    async def message_queue_changed(self, topic: str, mq_all: set[MessageQueue], mq_divided: set[MessageQueue]) -> None:
        self.changes.append((topic, set(mq_divided)))

    async def remove_unnecessary_message_queue(self, mq: MessageQueue, pq: ProcessQueue[Any]) -> bool:
        await self.store.persist(mq)
        self.store.remove_offset(mq)
        return True


def make(cid: str, broker: FakeBroker, model: MessageModel = MessageModel.CLUSTERING,
         cfw: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
         topics: tuple[str, ...] = ("T",)) -> tuple[RebalanceImpl, Listener]:
    store = RemoteBrokerOffsetStore(broker, "g")
    listener = Listener(store)
    subscribed = list(topics)

    async def compute(mq: MessageQueue) -> int:
        return await compute_pull_from_where(mq, cfw, store, broker, "20260101000000")

    rb = RebalanceImpl(
        "g", cid, message_model=model, consume_type=ConsumeType.CONSUME_PASSIVELY,
        strategy=AllocateMessageQueueAveragely(), offset_store=store, api=broker, listener=listener,
        subscribed_topics=lambda: subscribed, compute_offset=compute,
    )
    rb.set_topic_queues("T", T)
    return rb, listener


def test_clustering_takes_the_sorted_share_and_starts_pulls() -> None:
    async def main() -> None:
        broker = FakeBroker()
        broker.committed[T[0]] = 5
        rb, listener = make("A", broker)
        assert await rb.do_rebalance() is True
        assert set(rb.process_queue_table) == {T[0], T[1]}  # A of [A, B, C]: q0 q1
        starts = {r.message_queue: r.next_offset for r in listener.dispatched}
        assert starts == {T[0]: 5, T[1]: 100}  # committed, else the max offset (LAST_OFFSET)
        assert listener.changes == [("T", {T[0], T[1]})]
        assert await rb.do_rebalance() is False  # same share: nothing changes
        assert len(listener.dispatched) == 2

    asyncio.run(main())


def test_a_member_leaving_moves_queues_and_persists_the_given_up_offsets() -> None:
    async def main() -> None:
        broker = FakeBroker()
        broker.cids = ["A"]
        rb, listener = make("A", broker)
        await rb.do_rebalance()
        old = dict(rb.process_queue_table)
        assert set(old) == set(T)
        rb.offset_store.update_offset(T[3], 9, True)
        broker.cids = ["A", "B"]  # B joined: A keeps q0 q1
        assert await rb.do_rebalance() is True
        assert set(rb.process_queue_table) == {T[0], T[1]}
        assert old[T[2]].dropped and old[T[3]].dropped and not old[T[0]].dropped
        assert (T[3], 9) in broker.updates
        assert T[3] not in rb.offset_store.clone_offset_table()

    asyncio.run(main())


def test_no_consumer_ids_or_no_route_changes_nothing() -> None:
    async def main() -> None:
        broker = FakeBroker()
        broker.cids = None
        rb, listener = make("A", broker)
        assert await rb.do_rebalance() is False
        broker.cids = ["A"]
        rb.topic_subscribe_info_table.clear()
        assert await rb.do_rebalance() is False
        assert not rb.process_queue_table

    asyncio.run(main())


def test_broadcasting_takes_every_queue() -> None:
    async def main() -> None:
        rb, _ = make("A", FakeBroker(), model=MessageModel.BROADCASTING)
        await rb.do_rebalance()
        assert set(rb.process_queue_table) == set(T)

    asyncio.run(main())


def test_a_queue_whose_offset_cannot_be_read_is_skipped_this_round() -> None:
    async def main() -> None:
        broker = FakeBroker()
        broker.cids = ["A"]
        broker.query_error = ConnectError("127.0.0.1:1")
        rb, listener = make("A", broker)
        assert await rb.do_rebalance() is False and not listener.dispatched
        broker.query_error = None
        assert await rb.do_rebalance() is True and len(listener.dispatched) == 4

    asyncio.run(main())


def test_unsubscribed_topics_are_dropped() -> None:
    async def main() -> None:
        broker = FakeBroker()
        broker.cids = ["A"]
        rb, _ = make("A", broker)
        await rb.do_rebalance()
        pqs = list(rb.process_queue_table.values())
        rb._subscribed_topics = lambda: []
        await rb.do_rebalance()
        assert not rb.process_queue_table and all(pq.dropped for pq in pqs)

    asyncio.run(main())


@pytest.mark.parametrize(
    "cfw, mq, expected",
    [
        (ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET, T[0], 100),        # max offset
        (ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET, RETRY, 0),         # retry topic: 0
        (ConsumeFromWhere.CONSUME_FROM_MAX_OFFSET, T[0], 100),         # deprecated = LAST
        (ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET, T[0], 0),
        (ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET, RETRY, 0),
        (ConsumeFromWhere.CONSUME_FROM_TIMESTAMP, T[0], 42),           # searched
        (ConsumeFromWhere.CONSUME_FROM_TIMESTAMP, RETRY, 100),         # retry topic: max offset
    ],
)
def test_where_a_group_with_no_offset_starts(cfw: ConsumeFromWhere, mq: MessageQueue, expected: int) -> None:
    async def main() -> None:
        broker = FakeBroker()
        store = RemoteBrokerOffsetStore(broker, "g")
        got = await compute_pull_from_where(mq, cfw, store, broker, "20260101000000")
        assert got == expected
        if expected == 42:
            assert broker.searched == [(mq, parse_consume_timestamp("20260101000000"))]
        broker.committed[mq] = 7  # a committed offset always wins
        assert await compute_pull_from_where(mq, cfw, store, broker, "20260101000000") == 7

    asyncio.run(main())


def test_a_failed_offset_read_gives_minus_one_and_lite_pull_ignores_deprecated_values() -> None:
    async def main() -> None:
        broker = FakeBroker()
        broker.query_error = ConnectError("x:1")
        store = RemoteBrokerOffsetStore(broker, "g")
        for cfw in (ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET, ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
                    ConsumeFromWhere.CONSUME_FROM_TIMESTAMP):
            assert await compute_pull_from_where(T[0], cfw, store, broker, "20260101000000") == -1
        broker.query_error = None
        got = await compute_pull_from_where(T[0], ConsumeFromWhere.CONSUME_FROM_MIN_OFFSET, store, broker,
                                            "20260101000000", read_type=ReadOffsetType.MEMORY_FIRST_THEN_STORE,
                                            deprecated_as_last=False)
        assert got == -1

    asyncio.run(main())


def test_consume_timestamp_is_javas_format() -> None:
    with pytest.raises(ConfigError):
        parse_consume_timestamp("2026-01-01")
