"""``ConsumeMessageOrderlyService``: each queue consumed strictly in order.

Mirrors Java's orderly consume service, its hooks in
``RebalancePushImpl.removeUnnecessaryMessageQueue`` (give a queue up only
between two batches, unlock it on the broker) and the orderly branch of
``DefaultMQPushConsumerImpl.pullMessage`` (:func:`orderly_pull_gate`).

Theory of operation: a queue's process queue is an
:class:`~.orderly_queue.OrderlyProcessQueue`, locked on the broker before
the rebalance took it (:class:`~.locks.QueueLocker`) and renewed every
:data:`~.orderly_queue.REBALANCE_LOCK_INTERVAL` seconds (clustering).  When
a pull brings messages to an idle queue, one consume run starts for it;
runs of one queue never overlap (a per-queue lock, Java's
``MessageQueueLock``).  A run takes ``consume_message_batch_max_size``
messages from the front, calls the listener (under the queue's
``consume_lock``), and goes on with the next batch until the queue is empty,
dropped or no longer locked; after 60 s it yields to the other queues.

The listener answers a :class:`~rmqwire.types.ConsumeOrderlyStatus`
(:class:`~rmqwire.types.ConsumeStatus` is accepted: CONSUME_SUCCESS is
SUCCESS, RECONSUME_LATER is SUSPEND_CURRENT_QUEUE_A_MOMENT; anything else,
or raising, is SUSPEND, logged).  SUCCESS (and the deprecated COMMIT and
ROLLBACK, with a warning, as Java's auto-commit mode treats them) commits
the batch: the offset after it goes to the offset store.  SUSPEND puts the
batch back at the front with ``reconsume_times`` + 1 and runs the queue
again after ``suspend_current_queue_time_millis`` (clamped to 10 ms..30 s);
a message already retried ``max_reconsume_times`` times (-1: no limit, as
Java's ``Integer.MAX_VALUE``) is instead sent to the group's retry topic
with its reconsume count and the limit in the header, which makes a broker
put it into ``%DLQ%<group>``; if that send fails it is retried locally too.

A run that finds its queue unlocked or its lock expired asks the broker
for the lock again and runs later (10 ms after a grant, 3 s after a
refusal).  At shutdown every owned queue is unlocked (a request, not
oneway, as Java's ``unlockAll(false)``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from ..aiotools import stop_tasks
from ..codec.enums import ResponseCode
from ..codec.errors import BrokerError, NoRouteError, RocketMQError
from ..codec.headers import SendMessageRequestHeader
from ..codec.message import CLIENT_INNER_PRODUCER_GROUP, encode_properties
from ..codec.store import MessageExt
from ..route import publish_info_from_route
from ..types import ConsumeOrderlyStatus, ConsumeStatus, MessageModel, MessageQueue
from .broker_api import SEND_BACK_TIMEOUT, ConsumerApi
from .consume import restore_retry_topic, retry_topic_of
from .locks import QueueLocker
from .offset_store import OffsetStore
from .orderly_queue import REBALANCE_LOCK_INTERVAL, OrderlyProcessQueue
from .rebalance import PullRequest

__all__ = [
    "ConsumeOrderlyService",
    "OrderlyListener",
    "orderly_status",
    "orderly_pull_gate",
    "ORDERLY_MAX_RECONSUME_TIMES",
    "MAX_TIME_CONSUME_CONTINUOUSLY",
]

log = logging.getLogger(__name__)

#: the async listener the service calls: messages in, a status out
OrderlyListener = Callable[[list[MessageExt]], Awaitable[object]]

#: ``getMaxReconsumeTimes`` of an orderly consumer when the option is -1 (``Integer.MAX_VALUE``)
ORDERLY_MAX_RECONSUME_TIMES = 2**31 - 1
#: seconds a run consumes one queue before letting the others go first
#: (``rocketmq.client.maxTimeConsumeContinuously``, 60000 ms)
MAX_TIME_CONSUME_CONTINUOUSLY = 60.0
#: seconds before a queue given up at rebalance with messages still cached is
#: unlocked (``rocketmq.client.unlockDelayTimeMills``, 20000 ms); read at use
UNLOCK_DELAY_TIME = 20.0
#: seconds a rebalance waits for the batch under way before keeping the queue for now
GIVE_UP_WAIT = 1.0
#: the delay before pulling a queue that is not locked (``pullTimeDelayMillsWhenException``)
PULL_DELAY_WHEN_NOT_LOCKED = 3.0

PROPERTY_ORIGIN_MESSAGE_ID = "ORIGIN_MESSAGE_ID"
PROPERTY_RETRY_TOPIC = "RETRY_TOPIC"
PROPERTY_DELAY = "DELAY"
PROPERTY_TRANSACTION_PREPARED = "TRAN_MSG"

#: how long shutdown waits for a task to take its cancel (twice, then leaves it, logged)
_STOP_TIMEOUT = 5.0
_SUCCESS_LIKE = (ConsumeOrderlyStatus.SUCCESS, ConsumeOrderlyStatus.COMMIT, ConsumeOrderlyStatus.ROLLBACK)


def orderly_status(answer: object) -> ConsumeOrderlyStatus:
    """What a listener's answer means to an orderly consumer."""
    if isinstance(answer, ConsumeOrderlyStatus):
        return answer
    if answer is ConsumeStatus.CONSUME_SUCCESS:
        return ConsumeOrderlyStatus.SUCCESS
    return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT


async def orderly_pull_gate(
    request: PullRequest, compute_offset: Callable[[MessageQueue], Awaitable[int]]
) -> float | None:
    """The orderly branch of ``pullMessage``: None when ``request`` may be
    pulled now, else the delay before trying again.

    Only a locked queue is pulled.  The first pull after the lock was
    granted starts where the offset store says (the previous owner may have
    committed more since the rebalance computed ``next_offset``).
    """
    pq = request.process_queue
    if not isinstance(pq, OrderlyProcessQueue) or not pq.locked:
        log.info("pull of %s later: not locked on the broker", request.message_queue)
        return PULL_DELAY_WHEN_NOT_LOCKED
    if not request.previously_locked:
        try:
            offset = await compute_offset(request.message_queue)
        except RocketMQError as exc:
            log.error("cannot compute where %s starts: %s", request.message_queue, exc)
            return PULL_DELAY_WHEN_NOT_LOCKED
        if offset < 0:
            return PULL_DELAY_WHEN_NOT_LOCKED
        if offset < request.next_offset:
            log.info("first pull of %s: the broker's offset %d is before %d", request.message_queue, offset, request.next_offset)
        request.previously_locked = True
        request.next_offset = offset
    return None


async def send_to_retry_topic(api: ConsumerApi, msg: MessageExt, max_reconsume_times: int) -> None:
    """Java's orderly ``sendMessageBack``: the message, as the client's inner
    producer, to ``%RETRY%<group>`` with delay level 3 + reconsume times and
    ``reconsumeTimes`` / ``maxReconsumeTimes`` in the header, so that a broker
    that sees the limit reached dead-letters it.  Raises on failure."""
    instance = api.instance
    retry = retry_topic_of(api.group)
    props = dict(msg.properties)
    if not props.get(PROPERTY_ORIGIN_MESSAGE_ID, "").strip():
        props[PROPERTY_ORIGIN_MESSAGE_ID] = msg.msg_id
    props[PROPERTY_RETRY_TOPIC] = msg.topic
    props[PROPERTY_DELAY] = str(3 + msg.reconsume_times)
    props.pop(PROPERTY_TRANSACTION_PREPARED, None)
    route = instance.topic_routes.get(retry) or await instance.update_route(retry)
    info = publish_info_from_route(retry, route) if route is not None else None
    if info is None or not info.ok:
        raise NoRouteError(f"No route info of this topic: {retry}")
    mq = info.select_queue()
    addr = instance.master_addr(mq.broker_name)
    if addr is None:
        raise NoRouteError(f"The broker[{mq.broker_name}] not exist")
    header = SendMessageRequestHeader(
        producer_group=CLIENT_INNER_PRODUCER_GROUP,
        topic=retry,
        default_topic="TBW102",
        default_topic_queue_nums=4,
        queue_id=mq.queue_id,
        sys_flag=0,
        born_timestamp=int(time.time() * 1000),
        flag=msg.flag,
        properties=encode_properties(props),
        reconsume_times=msg.reconsume_times,
        unit_mode=False,
        max_reconsume_times=max_reconsume_times,
        broker_name=mq.broker_name,
    )
    cmd = instance.make_request(header.request_code(True), header.to_ext_fields(True), msg.body)
    response = await instance.invoke(addr, cmd, SEND_BACK_TIMEOUT)
    if response.code != ResponseCode.SUCCESS:
        raise BrokerError.for_code(response.code, response.remark, addr)


class ConsumeOrderlyService:
    """Orderly consumption for one push consumer."""

    def __init__(
        self,
        group: str,
        api: ConsumerApi,
        listener: OrderlyListener,
        offset_store: OffsetStore,
        locker: QueueLocker,
        *,
        message_model: MessageModel = MessageModel.CLUSTERING,
        consume_thread_min: int = 20,
        consume_message_batch_max_size: int = 1,
        suspend_current_queue_time_millis: int = 1000,
        max_reconsume_times: int = -1,
    ) -> None:
        self.group = group
        self.api = api
        self.listener = listener
        self.offset_store = offset_store
        self.locker = locker
        self.message_model = message_model
        self.batch_size = consume_message_batch_max_size
        self.suspend_time = suspend_current_queue_time_millis / 1000.0
        self.max_reconsume_times = ORDERLY_MAX_RECONSUME_TIMES if max_reconsume_times == -1 else max_reconsume_times
        self._slots = asyncio.Semaphore(consume_thread_min)
        # a run (or a scheduled one) exists for these process queues
        self._active: set[OrderlyProcessQueue] = set()
        # one run at a time per queue, even across process queues of one mq
        self._queue_locks: dict[MessageQueue, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._delayed_unlocks: dict[MessageQueue, asyncio.Task[None]] = {}
        self._lock_task: asyncio.Task[None] | None = None
        self._running = 0
        self.stopped = False
        #: counters, for tests and the CLI summary
        self.consumed_ok = 0
        self.consumed_failed = 0
        self.sent_back = 0

    @property
    def clustering(self) -> bool:
        return self.message_model is MessageModel.CLUSTERING

    @property
    def pending(self) -> int:
        """Runs under way or scheduled."""
        return len(self._tasks)

    @property
    def running(self) -> int:
        """Listener calls under way."""
        return self._running

    # -- lifecycle
    def start(self) -> None:
        """Renew the locks every :data:`REBALANCE_LOCK_INTERVAL` seconds (clustering)."""
        if self.clustering and self._lock_task is None:
            self._lock_task = asyncio.get_running_loop().create_task(self._lock_periodically())

    async def _lock_periodically(self) -> None:
        await asyncio.sleep(1.0)
        while not self.stopped:
            try:
                await self.locker.lock_all()
            except RocketMQError as exc:  # lock_all logs per broker; this is a guard
                log.error("lockAll of %s failed: %s", self.group, exc)
            await asyncio.sleep(REBALANCE_LOCK_INTERVAL)

    async def shutdown(self, await_termination: float = 0.0) -> None:
        """Stop consuming (running listeners get ``await_termination`` seconds),
        then release every lock this member holds (clustering)."""
        self.stopped = True
        if self._lock_task is not None:
            self._lock_task.cancel()
        tasks = list(self._tasks)
        if await_termination > 0 and tasks:
            await asyncio.wait(tasks, timeout=await_termination)
        delayed = list(self._delayed_unlocks)
        # bounded even if a task swallows its cancel (stop_tasks logs it)
        await stop_tasks(tasks + list(self._delayed_unlocks.values()) + ([self._lock_task] if self._lock_task else []),
                         _STOP_TIMEOUT, "orderly consume service")
        self._delayed_unlocks.clear()
        if self.clustering:
            await self.locker.unlock_all(oneway=False)
            for mq in delayed:
                await self.locker.unlock(mq, oneway=False)

    async def clean_expired(self, process_queues: dict[MessageQueue, Any], now: float | None = None) -> int:
        """Orderly consumption has no consume timeout (Java cleans only concurrently consumed queues)."""
        return 0

    # -- runs
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def submit(self, msgs: Sequence[MessageExt], pq: Any, mq: MessageQueue) -> None:
        """Pulled ``msgs`` are in ``pq``: start a run unless one exists."""
        if self.stopped or not isinstance(pq, OrderlyProcessQueue) or pq in self._active:
            return
        self._active.add(pq)
        self._spawn(self._run(pq, mq))

    def _later(self, pq: OrderlyProcessQueue, mq: MessageQueue, delay: float) -> None:
        """``submitConsumeRequestLater`` (the run keeps its place in ``_active``)."""
        delay = min(max(delay, 0.01), 30.0)

        async def again() -> None:
            await asyncio.sleep(delay)
            await self._run(pq, mq)

        self._spawn(again())

    def _lock_later(self, pq: OrderlyProcessQueue, mq: MessageQueue, delay: float) -> None:
        """``tryLockLaterAndReconsume``."""

        async def relock() -> None:
            await asyncio.sleep(delay)
            if pq.dropped or self.stopped:
                # never lock a queue given up meanwhile: nobody would release it
                self._active.discard(pq)
                return
            ok = await self.locker.lock(mq, pq)
            self._later(pq, mq, 0.01 if ok else 3.0)

        self._spawn(relock())

    async def _run(self, pq: OrderlyProcessQueue, mq: MessageQueue) -> None:
        """One ``ConsumeRequest.run``; ends by scheduling the next or leaving ``_active``."""
        if pq.dropped or self.stopped:
            self._active.discard(pq)
            return
        queue_lock = self._queue_locks.setdefault(mq, asyncio.Lock())
        async with queue_lock:
            if not self.clustering or (pq.locked and not pq.is_lock_expired()):
                await self._consume_loop(pq, mq)
            elif pq.dropped:
                self._active.discard(pq)
            else:
                self._lock_later(pq, mq, 0.1)

    async def _consume_loop(self, pq: OrderlyProcessQueue, mq: MessageQueue) -> None:
        begin = time.monotonic()
        while True:
            if pq.dropped or self.stopped:
                self._active.discard(pq)
                return
            if self.clustering and (not pq.locked or pq.is_lock_expired()):
                log.warning("%s is not locked (or its lock expired): consuming later", mq)
                self._lock_later(pq, mq, 0.01)
                return
            if time.monotonic() - begin > MAX_TIME_CONSUME_CONTINUOUSLY:
                self._later(pq, mq, 0.01)
                return
            msgs = pq.take_messages(self.batch_size)
            if not msgs:
                self._active.discard(pq)
                return
            shown = [restore_retry_topic(m, self.group) for m in msgs]
            answer: object = None
            async with self._slots:
                async with pq.consume_lock:
                    if pq.dropped:
                        self._active.discard(pq)
                        return
                    self._running += 1
                    try:
                        answer = await self.listener(list(shown))
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception(
                            "orderly listener of %s raised on %d message(s) of %s: SUSPEND_CURRENT_QUEUE_A_MOMENT",
                            self.group, len(msgs), mq,
                        )
                    finally:
                        self._running -= 1
            if answer is not None and not isinstance(answer, (ConsumeOrderlyStatus, ConsumeStatus)):
                log.warning("orderly listener of %s returned %r: SUSPEND_CURRENT_QUEUE_A_MOMENT", self.group, answer)
            status = orderly_status(answer)
            try:
                go_on = await self._process_result(status, pq, mq, msgs, shown)
            except Exception:  # a bug here must not leave the batch taken and the queue stuck
                log.exception("processing the orderly result of %s failed: the batch is consumed again", mq)
                pq.rollback()
                self._later(pq, mq, self.suspend_time)
                return
            if not go_on:
                return

    async def _process_result(
        self,
        status: ConsumeOrderlyStatus,
        pq: OrderlyProcessQueue,
        mq: MessageQueue,
        msgs: list[MessageExt],
        shown: list[MessageExt],
    ) -> bool:
        """``processConsumeResult`` (auto-commit): whether the run goes on."""
        commit_offset = -1
        if status in _SUCCESS_LIKE:
            if status is not ConsumeOrderlyStatus.SUCCESS:
                log.warning("orderly listener of %s answered %s: taken as SUCCESS for %s", self.group, status.value, mq)
            self.consumed_ok += len(msgs)
            commit_offset = pq.commit()
        else:
            self.consumed_failed += len(msgs)
            log.warning("orderly consume of %d message(s) of %s suspended", len(msgs), mq)
            again = await self._check_reconsume_times(msgs, shown, mq)
            if again:
                pq.make_message_to_consume_again(again)
                self._later(pq, mq, self.suspend_time)
                return False
            commit_offset = pq.commit()
        if commit_offset >= 0 and not pq.dropped:
            self.offset_store.update_offset(mq, commit_offset, False)
        return True

    async def _check_reconsume_times(
        self, msgs: list[MessageExt], shown: list[MessageExt], mq: MessageQueue
    ) -> list[MessageExt]:
        """``checkReconsumeTimes``: the messages to consume here again (with
        ``reconsume_times`` + 1); those past the limit go to the retry topic
        unless that fails.  (Java puts the whole batch back when any message
        stays; here the ones sent away stay taken and are committed with it.)"""
        again = []
        for stored, visible in zip(msgs, shown):
            if stored.reconsume_times >= self.max_reconsume_times:
                try:
                    await send_to_retry_topic(self.api, visible, self.max_reconsume_times)
                except RocketMQError as exc:
                    log.error("sending %s of %s back failed: %s; retrying it here", stored.msg_id, mq, exc)
                else:
                    self.sent_back += 1
                    log.info("%s of %s reached %d reconsume times: sent back", stored.msg_id, mq, self.max_reconsume_times)
                    continue
            again.append(dataclasses.replace(stored, reconsume_times=stored.reconsume_times + 1))
        return again

    # -- rebalance hooks
    async def lock_new_queue(self, mq: MessageQueue) -> OrderlyProcessQueue | None:
        """The process queue for a newly assigned ``mq``, locked on its broker
        first (clustering); None when the broker refused (skipped this round)."""
        delayed = self._delayed_unlocks.pop(mq, None)
        if delayed is not None:  # taken back before its delayed unlock: keep the lock
            delayed.cancel()
        pq = OrderlyProcessQueue()
        if not self.clustering:
            pq.mark_locked()
            return pq
        if self.stopped:
            return None
        if not await self.locker.lock(mq, pq):
            log.warning("rebalance of %s: %s not taken, its lock was refused", self.group, mq)
            return None
        if self.stopped:  # shut down while asking: the unlock at shutdown has been sent
            await self.locker.unlock(mq, oneway=False)
            return None
        return pq

    async def give_up(self, mq: MessageQueue, pq: Any) -> bool:
        """``removeUnnecessaryMessageQueue``'s orderly part: wait (up to
        :data:`GIVE_UP_WAIT`) for the batch being consumed, then unlock the
        queue: at once, or :data:`UNLOCK_DELAY_TIME` seconds later if it still
        caches messages.  False (kept for now) when the batch did not finish."""
        if not self.clustering or not isinstance(pq, OrderlyProcessQueue):
            return True
        deadline = time.monotonic() + GIVE_UP_WAIT
        while pq.consume_lock.locked():
            if time.monotonic() > deadline:
                pq.try_unlock_times += 1
                log.warning("%s is being consumed, so it cannot be unlocked yet (%d)", mq, pq.try_unlock_times)
                return False
            await asyncio.sleep(0.01)
        async with pq.consume_lock:
            if pq.has_temp_message():
                self._unlock_later(mq)
            else:
                await self.locker.unlock(mq, oneway=True)
        return True

    def _unlock_later(self, mq: MessageQueue) -> None:
        async def unlock() -> None:
            await asyncio.sleep(UNLOCK_DELAY_TIME)
            self._delayed_unlocks.pop(mq, None)
            await self.locker.unlock(mq, oneway=True)

        old = self._delayed_unlocks.pop(mq, None)
        if old is not None:
            old.cancel()
        self._delayed_unlocks[mq] = asyncio.get_running_loop().create_task(unlock())
