"""The concurrent consume service over fakes: acknowledge after success or
send-back only, retry locally when the send-back fails, a raising listener is
RECONSUME_LATER, the concurrency limit holds."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest

from rmqwire import ConsumeStatus, MessageModel, MessageQueue
from rmqwire.codec.errors import RemotingError
from rmqwire.consumer.consume import ConsumeService, restore_retry_topic
from rmqwire.consumer.offset_store import RemoteBrokerOffsetStore
from rmqwire.consumer.process_queue import ProcessQueue

MQ = MessageQueue("T", "broker-a", 0)


@dataclasses.dataclass(frozen=True)
class Msg:
    queue_offset: int
    topic: str = "T"
    body: bytes = b"x"
    reconsume_times: int = 0
    properties: dict[str, str] = dataclasses.field(default_factory=dict)
    msg_id: str = ""


class Host:
    def __init__(self) -> None:
        self.sent_back: list[tuple[Any, int, str]] = []
        self.fail = False

    async def send_message_back(self, msg: Any, delay_level: int, broker_name: str) -> None:
        if self.fail:
            raise RemotingError("broker unreachable")
        self.sent_back.append((msg, delay_level, broker_name))


class NoBroker:
    async def query_consumer_offset(self, mq: MessageQueue, group: str) -> int:
        return 0

    async def update_consumer_offset(self, mq: MessageQueue, group: str, offset: int, *, oneway: bool) -> None:
        pass


async def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


def setup(listener: Any, **kwargs: Any) -> tuple[ConsumeService, Host, RemoteBrokerOffsetStore, ProcessQueue[Any]]:
    host = Host()
    store = RemoteBrokerOffsetStore(NoBroker(), "g")
    service = ConsumeService("g", host, listener, store, **kwargs)
    return service, host, store, ProcessQueue()


def feed(service: ConsumeService, pq: ProcessQueue[Any], msgs: list[Msg]) -> None:
    pq.put_messages(msgs)
    service.submit(msgs, pq, MQ)


def test_success_acknowledges_and_moves_the_offset() -> None:
    async def main() -> None:
        seen: list[int] = []

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            seen.extend(m.queue_offset for m in msgs)
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener)
        feed(service, pq, [Msg(o) for o in range(5)])
        await wait_for(lambda: pq.msg_count == 0)
        assert sorted(seen) == [0, 1, 2, 3, 4]
        assert store.clone_offset_table() == {MQ: 5}
        assert host.sent_back == [] and service.consumed_ok == 5

    asyncio.run(main())


def test_reconsume_later_sends_back_with_delay_level_zero_then_acknowledges() -> None:
    async def main() -> None:
        async def listener(msgs: list[Any]) -> ConsumeStatus:
            return ConsumeStatus.RECONSUME_LATER

        service, host, store, pq = setup(listener)
        feed(service, pq, [Msg(0)])
        await wait_for(lambda: pq.msg_count == 0)
        assert [(m.queue_offset, level, broker) for m, level, broker in host.sent_back] == [(0, 0, "broker-a")]
        assert store.clone_offset_table() == {MQ: 1}

    asyncio.run(main())


def test_a_raising_listener_is_reconsume_later_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        calls = 0

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            nonlocal calls
            calls += 1
            if msgs[0].queue_offset == 0:
                raise RuntimeError("boom")
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener)
        feed(service, pq, [Msg(0), Msg(1)])
        await wait_for(lambda: pq.msg_count == 0)
        assert [m.queue_offset for m, _, _ in host.sent_back] == [0]
        assert calls == 2 and store.clone_offset_table() == {MQ: 2}

    with caplog.at_level(logging.ERROR, logger="rmqwire.consumer.consume"):
        asyncio.run(main())
    assert any("boom" in (r.exc_text or "") or "raised" in r.getMessage() for r in caplog.records)


def test_a_failed_send_back_keeps_the_message_in_flight_and_retries_it_here() -> None:
    async def main() -> None:
        attempts: list[int] = []

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            attempts.append(msgs[0].reconsume_times)
            return ConsumeStatus.RECONSUME_LATER if len(attempts) == 1 else ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener, retry_later_delay=0.01)
        host.fail = True
        feed(service, pq, [Msg(0)])
        await wait_for(lambda: len(attempts) == 1)
        await asyncio.sleep(0)
        assert pq.msg_count == 1 and store.clone_offset_table() == {MQ: 0}  # not past it
        await wait_for(lambda: pq.msg_count == 0)
        assert attempts == [0, 1]  # consumed again with reconsume_times + 1
        assert store.clone_offset_table() == {MQ: 1}

    asyncio.run(main())


def test_broadcasting_drops_a_failed_message_without_sending_it_back() -> None:
    async def main() -> None:
        async def listener(msgs: list[Any]) -> ConsumeStatus:
            return ConsumeStatus.RECONSUME_LATER

        service, host, store, pq = setup(listener, message_model=MessageModel.BROADCASTING)
        feed(service, pq, [Msg(0)])
        await wait_for(lambda: pq.msg_count == 0)
        assert host.sent_back == [] and store.clone_offset_table() == {MQ: 1}

    asyncio.run(main())


def test_no_more_than_consume_thread_min_listeners_at_once() -> None:
    async def main() -> None:
        running = peak = 0
        release = asyncio.Event()

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener, consume_thread_min=3)
        feed(service, pq, [Msg(o) for o in range(10)])
        await wait_for(lambda: service.running == 3)
        for _ in range(5):
            await asyncio.sleep(0)
        assert peak == 3
        release.set()
        await wait_for(lambda: pq.msg_count == 0)
        assert peak == 3 and store.clone_offset_table() == {MQ: 10}

    asyncio.run(main())


def test_batches_of_the_configured_size() -> None:
    async def main() -> None:
        sizes: list[int] = []

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            sizes.append(len(msgs))
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener, consume_message_batch_max_size=4)
        feed(service, pq, [Msg(o) for o in range(10)])
        await wait_for(lambda: pq.msg_count == 0)
        assert sorted(sizes) == [2, 4, 4]

    asyncio.run(main())


def test_results_of_a_dropped_queue_are_discarded() -> None:
    async def main() -> None:
        gate = asyncio.Event()

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            await gate.wait()
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener)
        feed(service, pq, [Msg(0)])
        await wait_for(lambda: service.running == 1)
        pq.dropped = True
        gate.set()
        await wait_for(lambda: service.pending == 0)
        assert store.clone_offset_table() == {}

    asyncio.run(main())


def test_a_retried_message_shows_its_original_topic() -> None:
    m = Msg(0, topic="%RETRY%g", properties={"RETRY_TOPIC": "T"})
    assert restore_retry_topic(m, "g").topic == "T"
    assert restore_retry_topic(m, "other").topic == "%RETRY%g"
    assert restore_retry_topic(Msg(0), "g").topic == "T"


def test_messages_consumed_too_long_are_sent_back_with_level_three() -> None:
    async def main() -> None:
        gate = asyncio.Event()

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            await gate.wait()
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener, consume_timeout=60.0)
        feed(service, pq, [Msg(0), Msg(1)])
        await wait_for(lambda: service.running == 2)
        import time

        assert await service.clean_expired({MQ: pq}, now=time.monotonic() + 61) == 2
        assert [(m.queue_offset, level) for m, level, _ in host.sent_back] == [(0, 3), (1, 3)]
        assert pq.msg_count == 0 and store.clone_offset_table() == {MQ: 2}
        gate.set()
        await service.shutdown(1.0)

    asyncio.run(main())


def test_shutdown_cancels_what_is_left() -> None:
    async def main() -> None:
        async def listener(msgs: list[Any]) -> ConsumeStatus:
            await asyncio.sleep(10)
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener)
        feed(service, pq, [Msg(0)])
        await wait_for(lambda: service.running == 1)
        await asyncio.wait_for(service.shutdown(), 2)
        assert service.pending == 0
        service.submit([Msg(1)], pq, MQ)  # stopped: ignored
        assert service.pending == 0

    asyncio.run(main())


def test_other_coroutines_run_between_requests_of_a_backlog() -> None:
    # a listener that never suspends must not hold the loop for the whole
    # backlog: the pull loop's next request goes out while it is consumed
    async def main() -> None:
        consumed = 0

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            nonlocal consumed
            consumed += len(msgs)
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener, consume_thread_min=2)
        feed(service, pq, [Msg(o) for o in range(64)])
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert 0 < consumed < 64
        await wait_for(lambda: pq.msg_count == 0)
        assert consumed == 64 and store.clone_offset_table() == {MQ: 64} and service.pending == 0

    asyncio.run(main())


def test_requests_wait_in_order_for_a_free_worker() -> None:
    async def main() -> None:
        order: list[int] = []
        gate = asyncio.Event()

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            await gate.wait()
            order.append(msgs[0].queue_offset)
            return ConsumeStatus.CONSUME_SUCCESS

        service, host, store, pq = setup(listener, consume_thread_min=1)
        feed(service, pq, [Msg(o) for o in range(5)])
        await wait_for(lambda: service.running == 1)
        assert service.pending == 5
        gate.set()
        await wait_for(lambda: service.pending == 0)
        assert order == [0, 1, 2, 3, 4] and store.clone_offset_table() == {MQ: 5}

    asyncio.run(main())


def test_shutdown_forgets_a_retry_still_waiting_for_its_delay() -> None:
    async def main() -> None:
        attempts = 0

        async def listener(msgs: list[Any]) -> ConsumeStatus:
            nonlocal attempts
            attempts += 1
            return ConsumeStatus.RECONSUME_LATER

        service, host, store, pq = setup(listener, retry_later_delay=30.0)
        host.fail = True
        feed(service, pq, [Msg(0)])
        await wait_for(lambda: attempts == 1 and service.running == 0)
        assert service.pending == 1  # the retry, waiting for its delay
        await asyncio.wait_for(service.shutdown(), 2)
        assert service.pending == 0 and attempts == 1 and pq.msg_count == 1

    asyncio.run(main())


def test_an_empty_batch_is_no_request() -> None:
    async def main() -> None:
        async def listener(msgs: list[Any]) -> ConsumeStatus:
            raise AssertionError("called with nothing")

        service, host, store, pq = setup(listener)
        service.submit([], pq, MQ)
        assert service.pending == 0
        await service.shutdown()

    asyncio.run(main())
