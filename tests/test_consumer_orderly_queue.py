"""The orderly process queue and the orderly listener's answers, without sockets."""

from __future__ import annotations

import dataclasses

from rmqwire import ConsumeOrderlyStatus, ConsumeStatus
from rmqwire.consumer.consume_orderly import orderly_status
from rmqwire.consumer.orderly_queue import REBALANCE_LOCK_MAX_LIVE_TIME, OrderlyProcessQueue


@dataclasses.dataclass(frozen=True)
class Msg:
    queue_offset: int
    body: bytes = b"xx"
    reconsume_times: int = 0


def queue_with(*offsets: int) -> OrderlyProcessQueue:
    pq = OrderlyProcessQueue(now=0.0)
    pq.put_messages([Msg(o) for o in offsets])
    return pq


def test_batches_are_taken_from_the_front_and_committed_past_their_last_offset() -> None:
    pq = queue_with(5, 3, 4, 6, 7)
    assert [m.queue_offset for m in pq.take_messages(2)] == [3, 4]
    # taken messages still count until committed (flow control sees them)
    assert pq.msg_count == 5 and pq.msg_size == 10 and pq.has_temp_message()
    assert pq.commit() == 5
    assert pq.msg_count == 3 and pq.msg_size == 6
    assert [m.queue_offset for m in pq.take_messages(10)] == [5, 6, 7]
    assert pq.commit() == 8 and pq.msg_count == 0 and pq.msg_size == 0
    assert pq.commit() == -1  # nothing taken
    assert pq.take_messages(1) == [] and not pq.consuming


def test_a_suspended_batch_goes_back_to_the_front_with_its_updated_copies() -> None:
    pq = queue_with(1, 2, 3)
    batch = pq.take_messages(2)
    pq.make_message_to_consume_again([dataclasses.replace(m, reconsume_times=1) for m in batch])
    again = pq.take_messages(3)
    assert [(m.queue_offset, m.reconsume_times) for m in again] == [(1, 1), (2, 1), (3, 0)]
    pq.rollback()
    assert [m.queue_offset for m in pq.messages()] == [1, 2, 3] and pq.taken == []


def test_a_message_pulled_again_while_taken_is_not_queued_twice() -> None:
    pq = queue_with(1, 2)
    pq.take_messages(1)
    pq.put_messages([Msg(1), Msg(3)])
    assert [m.queue_offset for m in pq.messages()] == [2, 3] and pq.msg_count == 3


def test_the_first_batch_dispatches_a_run_and_later_pulls_do_not() -> None:
    pq = OrderlyProcessQueue(now=0.0)
    assert pq.put_messages([Msg(0)]) is True
    assert pq.put_messages([Msg(1)]) is False
    pq.take_messages(5)
    pq.commit()
    assert pq.take_messages(5) == [] and pq.put_messages([Msg(2)]) is True


def test_a_lock_not_renewed_for_30_s_is_expired() -> None:
    pq = OrderlyProcessQueue(now=0.0)
    assert not pq.locked
    pq.mark_locked(now=100.0)
    assert pq.locked and not pq.is_lock_expired(now=100.0 + REBALANCE_LOCK_MAX_LIVE_TIME)
    assert pq.is_lock_expired(now=100.1 + REBALANCE_LOCK_MAX_LIVE_TIME)


def test_listener_answers_map_to_orderly_statuses() -> None:
    assert orderly_status(ConsumeOrderlyStatus.SUCCESS) is ConsumeOrderlyStatus.SUCCESS
    assert orderly_status(ConsumeOrderlyStatus.COMMIT) is ConsumeOrderlyStatus.COMMIT
    assert orderly_status(ConsumeStatus.CONSUME_SUCCESS) is ConsumeOrderlyStatus.SUCCESS
    suspend = ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
    assert orderly_status(ConsumeStatus.RECONSUME_LATER) is suspend
    assert orderly_status(None) is suspend and orderly_status("SUCCESS") is suspend
