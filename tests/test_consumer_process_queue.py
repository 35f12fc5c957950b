"""ProcessQueue: offsets committed only past what every listener finished."""

from __future__ import annotations

from dataclasses import dataclass

from rmqwire.consumer.process_queue import PULL_MAX_IDLE_TIME, ProcessQueue


@dataclass(frozen=True)
class Msg:
    queue_offset: int
    body: bytes = b"x"


def test_commit_offset_is_the_smallest_in_flight_or_one_past_the_last() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue(now=0.0)
    msgs = [Msg(o) for o in range(10, 15)]
    assert pq.put_messages(msgs) is True
    assert pq.msg_count == 5 and pq.msg_size == 5 and pq.max_span == 4
    # finishing out of order: 12 and 13 first, then 10: 11 is still in flight
    assert pq.remove_messages([msgs[2], msgs[3]]) == 10
    assert pq.remove_messages([msgs[0]]) == 11
    assert pq.remove_messages([msgs[1], msgs[4]]) == 15
    assert pq.msg_count == 0 and pq.msg_size == 0
    # nothing left to remove: -1, nothing to commit
    assert pq.remove_messages([msgs[0]]) == -1


def test_a_duplicate_offset_is_not_counted_twice() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    pq.put_messages([Msg(1, b"abc"), Msg(2, b"de")])
    pq.put_messages([Msg(2, b"de")])
    assert pq.msg_count == 2 and pq.msg_size == 5


def test_dispatch_only_when_idle_and_take_resets_consuming() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    assert pq.put_messages([Msg(0)]) is True
    assert pq.put_messages([Msg(1)]) is False  # already consuming
    assert [m.queue_offset for m in pq.take_messages(5)] == [0, 1]
    pq.remove_messages(pq.take_messages(5))
    assert pq.take_messages(5) == [] and pq.consuming is False
    assert pq.put_messages([Msg(2)]) is True


def test_out_of_order_puts_stay_sorted() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    pq.put_messages([Msg(5), Msg(3), Msg(9)])
    assert [m.queue_offset for m in pq.messages()] == [3, 5, 9]
    assert pq.min_offset == 3 and 9 in pq and 4 not in pq


def test_acc_count_from_the_brokers_max_offset() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    pq.put_messages([Msg(0), Msg(1)], max_offset=100)
    assert pq.msg_acc_cnt == 99  # MAX_OFFSET - last offset, as Java


def test_pull_expiry_uses_the_given_clock() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue(now=100.0)
    assert not pq.is_pull_expired(now=100.0 + PULL_MAX_IDLE_TIME)
    assert pq.is_pull_expired(now=100.1 + PULL_MAX_IDLE_TIME)


def test_clear_forgets_everything() -> None:
    pq: ProcessQueue[Msg] = ProcessQueue()
    pq.put_messages([Msg(0), Msg(1)])
    pq.clear()
    assert pq.msg_count == 0 and pq.msg_size == 0 and pq.remove_messages([Msg(0)]) == -1
