"""The embedded broker's consumer-side state, without sockets.

Each table mirrors a Java class and is checked against what that class
does (consumer-protocol.md sections 4.4, 4.5, 6, 7):

* ``MessageStore.get_message``: ``DefaultMessageStore.getMessage``'s status
  and next offset for every offset case, the filter scan, Java's in-memory
  transfer limits (32 messages, 256 KiB);
* the ``CommitLog`` delay rewrite into ``SCHEDULE_TOPIC_XXXX`` and
  ``ScheduleMessageService`` delivering it back (``messageTimeup``);
* ``PullHoldTable`` (``PullRequestHoldService``): wake on arrival past the
  offset and through the filter, on the periodic check, on timeout; leave
  when the answer is cancelled;
* ``ConsumerOffsetTable`` (``ConsumerOffsetManager``) and
  ``RebalanceLockTable`` (``RebalanceLockManager``): re-entrant locks,
  expiry, release by the holder only.
"""

from __future__ import annotations

import pytest

from rmqwire.broker.locks import LOCK_MAX_LIVE_TIME, RebalanceLockTable
from rmqwire.broker.long_polling import HeldPull, PullHoldTable
from rmqwire.broker.offsets import ConsumerOffsetTable
from rmqwire.broker.processor import DeferredReply
from rmqwire.broker.schedule import DEFAULT_DELAY_LEVELS, ScheduleMessageService, parse_delay_levels
from rmqwire.broker.store import SCHEDULE_TOPIC, GetMessageStatus, MessageDraft, MessageStore, StoredMessage
from rmqwire.codec import ConfigError, RemotingCommand, RequestCode

STORE_HOST = "127.0.0.1:10911"


def draft(topic: str = "T", queue_id: int = 0, body: bytes = b"hello", **props: str) -> MessageDraft:
    return MessageDraft(topic=topic, queue_id=queue_id, body=body, properties=dict(props), born_host="127.0.0.1:58308")


def filled(n: int, *, topic: str = "T", **kwargs: object) -> MessageStore:
    s = MessageStore("broker-a", store_host=STORE_HOST, **kwargs)  # type: ignore[arg-type]
    s.append([draft(topic, body=f"m{i}".encode(), TAGS="TagA" if i % 2 == 0 else "TagB") for i in range(n)])
    return s


# --------------------------------------------------------------------------- getMessage


@pytest.mark.parametrize(
    ("stored", "offset", "status", "next_begin"),
    [
        (0, 0, GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0),  # unknown queue: Java creates it empty
        (0, 5, GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0),
        (3, 3, GetMessageStatus.OFFSET_OVERFLOW_ONE, 3),
        (3, 9, GetMessageStatus.OFFSET_OVERFLOW_BADLY, 3),
        (3, 0, GetMessageStatus.FOUND, 3),
        (3, 2, GetMessageStatus.FOUND, 3),
    ],
)
def test_get_message_status_and_next_offset_follow_the_offset_checks(
    stored: int, offset: int, status: GetMessageStatus, next_begin: int
) -> None:
    result = filled(stored).get_message("T", 0, offset, 32)
    assert (result.status, result.next_begin_offset) == (status, next_begin)
    assert (result.min_offset, result.max_offset) == (0, stored)
    assert len(result.messages) == (stored - offset if status is GetMessageStatus.FOUND else 0)


def test_an_offset_below_the_retained_minimum_is_too_small_and_moves_to_it() -> None:
    s = filled(10, max_queue_messages=4)
    result = s.get_message("T", 0, 2, 32)
    assert (result.status, result.next_begin_offset, result.min_offset, result.max_offset) == (
        GetMessageStatus.OFFSET_TOO_SMALL, 6, 6, 10
    )
    cleared = filled(3)
    cleared.clear()  # every message gone, offsets stay: min == max == 3
    assert cleared.get_message("T", 0, 3, 32).status is GetMessageStatus.OFFSET_OVERFLOW_ONE
    assert cleared.get_message("T", 0, 0, 32).status is GetMessageStatus.OFFSET_TOO_SMALL


def test_the_filter_skips_messages_that_still_count_toward_the_next_offset() -> None:
    s = filled(6)  # tags A B A B A B

    def only_b(m: StoredMessage) -> bool:
        return m.tags == "TagB"

    result = s.get_message("T", 0, 0, 2, only_b)
    assert [m.payload for m in result.messages] == [b"m1", b"m3"]
    # scanned m0..m3, then the batch is full at m4: the next pull starts there
    assert (result.status, result.next_begin_offset) == (GetMessageStatus.FOUND, 4)
    none = s.get_message("T", 0, 0, 32, lambda m: False)
    assert (none.status, none.next_begin_offset, none.messages) == (GetMessageStatus.NO_MATCHED_MESSAGE, 6, ())


def test_one_pull_carries_at_most_32_messages_and_256_kib_and_at_least_one() -> None:
    s = filled(50)
    assert len(s.get_message("T", 0, 0, 100).messages) == 32
    assert s.get_message("T", 0, 0, 100).next_begin_offset == 32
    assert len(s.get_message("T", 0, 0, 0).messages) == 1
    big = MessageStore("b", store_host=STORE_HOST)
    big.append([draft(body=b"x" * 100_000) for _ in range(4)])
    result = big.get_message("T", 0, 0, 32)
    assert len(result.messages) == 2 and result.buffer_total_size == sum(m.record_size for m in result.messages)
    huge = MessageStore("b", store_host=STORE_HOST)
    huge.append([draft(body=b"x" * 300_000)])
    assert len(huge.get_message("T", 0, 0, 32).messages) == 1


def test_earliest_message_time_is_the_oldest_retained_store_time() -> None:
    s = MessageStore("b", store_host=STORE_HOST, max_queue_messages=2)
    assert s.earliest_message_time("T", 0) == -1
    for stamp in (100, 200, 300):
        s.append([draft()], now_ms=stamp)
    assert s.earliest_message_time("T", 0) == 200


# --------------------------------------------------------------------------- delays


def test_delay_levels_parse_like_java() -> None:
    assert parse_delay_levels(DEFAULT_DELAY_LEVELS)[:5] == (1000, 5000, 10_000, 30_000, 60_000)
    assert parse_delay_levels(DEFAULT_DELAY_LEVELS)[-1] == 7_200_000
    assert len(parse_delay_levels(DEFAULT_DELAY_LEVELS)) == 18
    assert parse_delay_levels("2d") == (172_800_000,)
    for bad in ("", "1x", "s", "1.5s"):
        with pytest.raises(ConfigError):
            parse_delay_levels(bad)


def scheduled_store() -> tuple[MessageStore, ScheduleMessageService]:
    s = MessageStore("broker-a", store_host=STORE_HOST)
    return s, ScheduleMessageService(s, scale=1.0)


def test_a_delayed_message_waits_in_the_schedule_topic_queue_of_its_level() -> None:
    s, _ = scheduled_store()
    (m,) = s.append([draft("T", 2, DELAY="3", TAGS="TagA", KEYS="k")], now_ms=1000)
    assert (m.topic, m.queue_id, m.queue_offset) == (SCHEDULE_TOPIC, 2, 0)
    assert m.properties == {"DELAY": "3", "TAGS": "TagA", "KEYS": "k", "REAL_TOPIC": "T", "REAL_QID": "2"}
    (capped,) = s.append([draft("T", 0, DELAY="99")], now_ms=1000)
    assert (capped.queue_id, capped.properties["DELAY"]) == (17, "18")
    assert s.messages("T") == []
    # not delayed: level 0 or less, a prepared transaction half, a batch member
    plain = s.append(
        [
            draft("T", DELAY="0"),
            draft("T", DELAY="-1"),
            MessageDraft("T", 0, b"half", {"DELAY": "3"}, sys_flag=0x4),
            MessageDraft("T", 0, b"batch", {"DELAY": "3"}, batch=True),
        ]
    )
    assert all(p.topic == "T" for p in plain)


def test_a_store_without_delay_levels_keeps_delayed_messages_in_their_topic() -> None:
    s = MessageStore("b", store_host=STORE_HOST)
    (m,) = s.append([draft("T", DELAY="3")])
    assert (m.topic, m.delay_level) == ("T", 3)


def test_the_schedule_delivers_when_the_level_delay_passed_with_the_record_as_java_writes_it() -> None:
    s, service = scheduled_store()
    (waiting,) = s.append(
        [MessageDraft("%RETRY%G", 0, b"again", {"DELAY": "3", "RETRY_TOPIC": "T"}, flag=5, born_timestamp=7,
                      born_host="127.0.0.1:58308", reconsume_times=1)],
        now_ms=1000,
    )
    assert service.pending() == 1 and service.next_due(1000) == 11_000
    assert service.deliver_due(10_999) == []
    (delivered,) = service.deliver_due(11_000)
    assert (delivered.topic, delivered.queue_id, delivered.queue_offset) == ("%RETRY%G", 0, 0)
    assert delivered.properties == {"DELAY": "3", "RETRY_TOPIC": "T", "REAL_TOPIC": "%RETRY%G", "REAL_QID": "0"}
    assert (delivered.body, delivered.flag, delivered.born_timestamp, delivered.reconsume_times) == (b"again", 5, 7, 1)
    assert delivered.born_host == waiting.born_host and delivered.store_timestamp == 11_000
    assert delivered.commitlog_offset > waiting.commitlog_offset
    assert service.pending() == 0 and service.next_due(11_000) is None and service.deliver_due(99_999) == []


def test_each_level_delivers_in_store_order_and_levels_do_not_wait_for_each_other() -> None:
    s, service = scheduled_store()
    s.append([draft("T", body=b"10s", DELAY="3")], now_ms=0)
    s.append([draft("T", body=b"1s-a", DELAY="1")], now_ms=0)
    s.append([draft("T", body=b"1s-b", DELAY="1")], now_ms=500)
    assert [m.body for m in service.deliver_due(1000)] == [b"1s-a"]
    assert service.next_due(1000) == 1500
    assert [m.body for m in service.deliver_due(10_000)] == [b"1s-b", b"10s"]
    assert [m.body for m in s.messages("T")] == [b"1s-a", b"1s-b", b"10s"]


def test_the_scale_shrinks_every_delay_and_a_far_future_due_time_is_corrected_to_now() -> None:
    s = MessageStore("b", store_host=STORE_HOST)
    fast = ScheduleMessageService(s, scale=0.01)
    s.append([draft("T", DELAY="3")], now_ms=1000)
    assert fast.delay_ms(3) == 100 and fast.next_due(1000) == 1100
    s.append([draft("T", DELAY="1")], now_ms=5_000_000)  # stored "in the future": a clock jump
    assert fast.next_due(1000) == 1000
    with pytest.raises(ConfigError):
        ScheduleMessageService(s, scale=-1)


# --------------------------------------------------------------------------- held pulls


class FakeChannel:
    id = 1
    peer = "127.0.0.1:1"
    is_open = True

    def __init__(self) -> None:
        self.sent: list[RemotingCommand] = []

    def send_response(self, response: RemotingCommand, delay: float = 0.0) -> None:
        self.sent.append(response)

    def send_oneway(self, request: RemotingCommand) -> int:
        return 0

    async def request(self, request: RemotingCommand, timeout: float) -> RemotingCommand:
        raise NotImplementedError

    def track(self, deferred: DeferredReply) -> None:
        pass


def held(offset: int, *, timeout: float = 15.0, at: float = 0.0, tag: str | None = None) -> HeldPull:
    request = RemotingCommand.request(RequestCode.PULL_MESSAGE, {}, opaque=offset)
    return HeldPull(
        request, DeferredReply(request, FakeChannel()), "T", 0, offset,
        None if tag is None else (lambda m: m.tags == tag), at, timeout,
    )


def test_an_arrival_past_the_held_offset_wakes_the_pull_through_its_filter() -> None:
    table = PullHoldTable()
    s = MessageStore("b", store_host=STORE_HOST)
    any_pull, a_pull, later = held(0), held(0, tag="TagA"), held(5)
    for pull in (any_pull, a_pull, later):
        table.hold(pull, now=0.0)
    (b,) = s.append([draft(TAGS="TagB")])
    assert table.on_arrival(b, 1, now=1.0) == [any_pull]
    (a,) = s.append([draft(TAGS="TagA")])
    assert table.on_arrival(a, 2, now=1.0) == [a_pull]
    assert table.held() == [later] and len(table) == 1
    other_queue = s.append([draft(queue_id=1)])[0]
    assert table.on_arrival(other_queue, 1, now=1.0) == []


def test_the_periodic_check_wakes_past_the_filter_and_timeouts_wake_what_is_left() -> None:
    table = PullHoldTable(check_interval=5.0)
    filtered, waiting = held(0, tag="TagA", timeout=15.0), held(3, timeout=2.0, at=1.0)
    table.hold(filtered, now=0.0)
    table.hold(waiting, now=1.0)
    assert table.next_deadline() == 3.0  # waiting's timeout before the 5 s check
    max_offsets = {("T", 0): 1}
    assert table.on_check(lambda t, q: max_offsets[(t, q)], now=2.0) == [filtered]  # grew: filter not asked
    assert table.next_deadline() == 3.0
    assert table.on_check(lambda t, q: 1, now=3.0) == [waiting]
    assert table.next_deadline() is None and len(table) == 0


def test_a_cancelled_held_pull_leaves_the_table() -> None:
    table = PullHoldTable()
    pull = held(0)
    table.hold(pull, now=0.0)
    pull.deferred.cancel()  # its connection closed
    assert len(table) == 0 and table.held() == []
    again = held(0)
    table.hold(again, now=0.0)
    assert table.cancel_all() == 1 and again.deferred.cancelled


# --------------------------------------------------------------------------- offsets and locks


def test_consumer_offsets_are_per_group_topic_and_queue_and_minus_one_when_none() -> None:
    offsets = ConsumerOffsetTable()
    assert offsets.query("G", "T", 0) == -1
    offsets.commit("G", "T", 0, 3)
    offsets.commit("G", "T", 0, 5)
    offsets.commit("G", "T", 1, 0)
    offsets.commit("H", "T", 0, 9)
    assert (offsets.query("G", "T", 0), offsets.query("G", "T", 1), offsets.query("G", "T", 2)) == (5, 0, -1)
    assert offsets.offsets("G", "T") == {0: 5, 1: 0}
    assert offsets.groups_of("T") == ["G", "H"] and offsets.topics_of("G") == ["T"]
    assert offsets.snapshot() == {"T@G": {0: 5, 1: 0}, "T@H": {0: 9}}


Q0, Q1, Q2 = ("T", "broker-a", 0), ("T", "broker-a", 1), ("T", "broker-a", 2)


def test_a_queue_lock_is_reentrant_for_its_holder_and_refused_to_others() -> None:
    locks = RebalanceLockTable()
    assert locks.try_lock_batch("G", [Q0, Q1], "c1", now=0.0) == [Q0, Q1]
    assert locks.try_lock_batch("G", [Q0, Q1], "c1", now=30.0) == [Q0, Q1]  # renewed
    assert locks.try_lock_batch("G", [Q0, Q1, Q2], "c2", now=31.0) == [Q2]
    assert locks.try_lock_batch("OTHER", [Q0], "c2", now=31.0) == [Q0]  # per group
    assert locks.holder("G", Q0, now=31.0) == "c1" and locks.is_locked("G", Q2, "c2", now=31.0)


def test_a_lock_not_renewed_for_the_expiry_goes_to_the_next_asker() -> None:
    locks = RebalanceLockTable()
    assert locks.expiry == LOCK_MAX_LIVE_TIME == 60.0
    locks.try_lock("G", Q0, "c1", now=0.0)
    assert not locks.try_lock("G", Q0, "c2", now=60.0)  # exactly 60 s: not yet expired
    assert locks.try_lock("G", Q0, "c2", now=60.001)
    assert locks.holder("G", Q0, now=61.0) == "c2"
    short = RebalanceLockTable(expiry=1.0)
    short.try_lock("G", Q0, "c1", now=0.0)
    assert short.holder("G", Q0, now=2.0) is None and short.try_lock("G", Q0, "c2", now=2.0)
    with pytest.raises(ConfigError):
        RebalanceLockTable(expiry=-1)


def test_only_the_holder_unlocks() -> None:
    locks = RebalanceLockTable()
    locks.try_lock_batch("G", [Q0, Q1], "c1", now=0.0)
    locks.unlock_batch("G", [Q0, Q1], "c2")
    assert locks.holder("G", Q0, now=1.0) == "c1"
    locks.unlock_batch("G", [Q0], "c1")
    assert locks.holder("G", Q0, now=1.0) is None and locks.holder("G", Q1, now=1.0) == "c1"
    assert locks.try_lock("G", Q0, "c2", now=1.0)
    locks.unlock_batch("NOPE", [Q0], "c1")  # an unknown group is nothing to do


def test_the_record_cache_serves_the_codecs_records_and_stays_within_its_budget() -> None:
    from rmqwire.broker.processors.pull import RecordCache, encode_pull_body

    s = filled(6)
    messages = s.get_message("T", 0, 0, 32).messages
    cache = RecordCache(max_bytes=3 * messages[0].record_size)
    assert cache.body(messages) == encode_pull_body(messages)
    assert cache.body(messages[:2]) == encode_pull_body(messages[:2])
    assert cache._bytes <= cache.max_bytes and len(cache._records) <= 3
