"""``ConsumeMessageConcurrentlyService``: run the listener, then acknowledge.

Mirrors Java's concurrent consume service (consumer-protocol.md section 7).

Theory of operation: the pull loop hands each batch of pulled messages to
:meth:`ConsumeService.submit`, which cuts it into requests of
``consume_message_batch_max_size`` (1 by default) and queues them; up to
``consume_thread_min`` long-lived worker coroutines take them in order, so at
most that many listeners run at once (Java's pool: that many core threads
and an unbounded queue).  A worker lets the event loop poll its sockets
between two requests: a pull response is then handled (and the next pull
sent) after at most one request per worker, not after the whole backlog,
as Java's pull thread does not wait for the consume threads.  Before the
listener sees a message from the retry topic its topic is restored from
``RETRY_TOPIC``.  A listener that raises, returns something else than a
:class:`ConsumeStatus`, or answers RECONSUME_LATER fails the whole batch.  In clustering a failed
message is sent back to the broker (CONSUMER_SEND_MSG_BACK, delay level 0:
the broker picks 3 + reconsume times), which puts it into the group's retry
topic; if that fails too (the host falls back to re-sending it itself), the
message stays in flight and is consumed again here 5 s later with
``reconsume_times + 1``.  Only then are the batch's messages removed from
the process queue, and the offset it returns (the smallest still in flight)
becomes the queue's offset to commit, never lowered.  In broadcasting a
failed message is only logged.  A dropped queue's results are discarded.

Every ``consume_timeout`` seconds, messages whose listener has run longer
than that are sent back with delay level 3 and removed (``cleanExpiredMsg``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..aiotools import stop_tasks
from ..codec.errors import RocketMQError
from ..codec.store import MessageExt
from ..types import ConsumeStatus, MessageModel, MessageQueue
from .offset_store import OffsetStore
from .process_queue import ProcessQueue
from .stats import ConsumerStats

__all__ = ["ConsumeService", "ConsumeHost", "Listener", "retry_topic_of", "restore_retry_topic"]

log = logging.getLogger(__name__)

PROPERTY_RETRY_TOPIC = "RETRY_TOPIC"

#: the async listener the service calls: messages in, a status out
Listener = Callable[[list[MessageExt]], Awaitable[ConsumeStatus]]


def retry_topic_of(group: str) -> str:
    """``MixAll.getRetryTopic``: ``%RETRY%<group>``."""
    return "%RETRY%" + group


def restore_retry_topic(msg: MessageExt, group: str) -> MessageExt:
    """``resetRetryAndNamespace``: a message redelivered from the group's retry
    topic shows the topic it was first sent to (its ``RETRY_TOPIC`` property)."""
    original = msg.properties.get(PROPERTY_RETRY_TOPIC)
    if original and msg.topic == retry_topic_of(group):
        return dataclasses.replace(msg, topic=original)
    return msg


class ConsumeHost(Protocol):
    """What the service needs of its consumer."""

    async def send_message_back(self, msg: MessageExt, delay_level: int, broker_name: str) -> None:
        """Return ``msg`` to the broker for a later retry; raise if it could not."""
        ...


@dataclasses.dataclass(eq=False)
class _Request:
    msgs: list[MessageExt]
    pq: ProcessQueue[Any]
    mq: MessageQueue


class ConsumeService:
    """Concurrent consumption for one push consumer."""

    def __init__(
        self,
        group: str,
        host: ConsumeHost,
        listener: Listener,
        offset_store: OffsetStore,
        *,
        message_model: MessageModel = MessageModel.CLUSTERING,
        consume_thread_min: int = 20,
        consume_message_batch_max_size: int = 1,
        consume_timeout: float = 15 * 60.0,
        retry_later_delay: float = 5.0,
        stats: ConsumerStats | None = None,
    ) -> None:
        self.group = group
        self.host = host
        self.listener = listener
        self.offset_store = offset_store
        self.message_model = message_model
        self.batch_size = consume_message_batch_max_size
        self.consume_timeout = consume_timeout
        self.retry_later_delay = retry_later_delay
        self.threads = max(1, consume_thread_min)
        self._queue: deque[_Request] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._pending = 0
        self._running = 0
        self.stopped = False
        self._warned_none = False
        #: counters, for tests and the CLI summary
        self.consumed_ok = 0
        self.consumed_failed = 0
        self.stats = stats

    @property
    def pending(self) -> int:
        """Requests submitted and not finished (queued, running or waiting to be retried)."""
        return self._pending

    @property
    def running(self) -> int:
        """Listener calls under way."""
        return self._running

    def submit(self, msgs: Sequence[MessageExt], pq: ProcessQueue[Any], mq: MessageQueue) -> None:
        """Consume ``msgs`` (already put into ``pq``) in batches of the configured size."""
        if self.stopped:
            return
        size = self.batch_size
        if 0 < len(msgs) <= size:
            self._enqueue(_Request(list(msgs), pq, mq))
            return
        for start in range(0, len(msgs), size):
            self._enqueue(_Request(list(msgs[start : start + size]), pq, mq))

    def _enqueue(self, request: _Request) -> None:
        self._pending += 1
        self._queue.append(request)
        idle = self._idle
        while idle:
            waiter = idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if len(self._workers) < self.threads:
            task = asyncio.get_running_loop().create_task(self._work())
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        """One worker: take requests until stopped; park while there are none."""
        queue, loop = self._queue, asyncio.get_running_loop()
        while not self.stopped:
            if not queue:
                waiter: asyncio.Future[None] = loop.create_future()
                self._idle.append(waiter)
                await waiter
                continue
            request = queue.popleft()
            try:
                await self._consume(request)
            except RocketMQError as exc:  # the offset store or a send-back: keep the worker
                log.warning("consuming %d message(s) of %s: %s", len(request.msgs), request.mq, exc)
            finally:
                self._pending -= 1
            # let the loop poll its sockets (a pull response) before the next request
            await asyncio.sleep(0)

    def _later(self, request: _Request) -> None:
        """``submitConsumeRequestLater``: queue ``request`` again after the retry delay."""
        self._pending += 1

        def due() -> None:
            self._timers.discard(handle)
            self._pending -= 1
            if not self.stopped:
                self._enqueue(request)

        handle = asyncio.get_running_loop().call_later(self.retry_later_delay, due)
        self._timers.add(handle)

    async def _consume(self, request: _Request) -> None:
        pq = request.pq
        if pq.dropped or self.stopped:
            return
        msgs = [restore_retry_topic(m, self.group) for m in request.msgs]
        began = time.monotonic()
        pq.mark_consume_start(request.msgs, now=began)
        self._running += 1
        status: object = None
        try:
            status = await self.listener(list(msgs))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "consume listener of %s raised on %d message(s) of %s: counted as RECONSUME_LATER",
                self.group, len(msgs), request.mq,
            )
        finally:
            self._running -= 1
        now = time.monotonic()
        if not isinstance(status, ConsumeStatus):
            if status is not None:
                log.warning("consume listener of %s returned %r, not a ConsumeStatus: RECONSUME_LATER", self.group, status)
            elif not self._warned_none:  # Java warns on a null status; once is enough to be seen
                self._warned_none = True
                log.warning(
                    "consume listener of %s returned None (forgot to return a ConsumeStatus?): counted as "
                    "RECONSUME_LATER; this warning is not repeated", self.group,
                )
            status = ConsumeStatus.RECONSUME_LATER
        if pq.dropped:
            log.info("%s was dropped while consuming: result discarded", request.mq)
            return
        if self.stats is not None:
            ok = len(msgs) if status is ConsumeStatus.CONSUME_SUCCESS else 0
            self.stats.consumed(request.mq.topic, (now - began) * 1000, ok, len(msgs) - ok, now)
        await self._process_result(status, request, msgs, now)

    async def _process_result(
        self, status: ConsumeStatus, request: _Request, msgs: list[MessageExt], now: float | None = None
    ) -> None:
        if status is ConsumeStatus.CONSUME_SUCCESS:
            self.consumed_ok += len(msgs)
            done = list(request.msgs)
        else:
            self.consumed_failed += len(msgs)
            done = []
            if self.message_model is MessageModel.BROADCASTING:
                for msg in msgs:
                    log.warning("BROADCASTING: consume of %s failed; the message is dropped", getattr(msg, "msg_id", msg))
                done = list(request.msgs)
            else:
                retry_here = []
                for stored, shown in zip(request.msgs, msgs):
                    if await self._send_back(shown, request.mq):
                        done.append(stored)
                    else:
                        retry_here.append(dataclasses.replace(stored, reconsume_times=stored.reconsume_times + 1))
                if retry_here:
                    self._later(_Request(retry_here, request.pq, request.mq))
                    now = None  # the send-backs took time
        offset = request.pq.remove_messages(done, now=now)
        if offset >= 0 and not request.pq.dropped:
            self.offset_store.update_offset(request.mq, offset, True)

    async def _send_back(self, msg: MessageExt, mq: MessageQueue, delay_level: int = 0) -> bool:
        try:
            await self.host.send_message_back(msg, delay_level, mq.broker_name)
        except RocketMQError as exc:
            log.warning("sending %s back failed: %s; consuming it here again later", getattr(msg, "msg_id", msg), exc)
            return False
        return True

    async def clean_expired(self, process_queues: dict[MessageQueue, ProcessQueue[Any]], now: float | None = None) -> int:
        """Send back (delay level 3) and remove messages consumed for longer
        than ``consume_timeout``; how many were."""
        count = 0
        for mq, pq in list(process_queues.items()):
            for msg in pq.expired_front(self.consume_timeout, now=now):
                if not await self._send_back(restore_retry_topic(msg, self.group), mq, 3):
                    break
                log.info("consume of %s timed out: sent back", getattr(msg, "msg_id", msg))
                if pq.min_offset == msg.queue_offset:
                    offset = pq.remove_messages([msg])
                    if offset >= 0 and not pq.dropped:
                        self.offset_store.update_offset(mq, offset, True)
                count += 1
        return count

    async def shutdown(self, await_termination: float = 0.0, stop_timeout: float = 5.0) -> None:
        """Stop taking requests; give running listeners ``await_termination``
        seconds to finish (Java ``awaitTerminationMillisWhenShutdown``, 0),
        then cancel what is left (waiting at most about ``2 * stop_timeout``
        for listeners that ignore the cancel)."""
        self.stopped = True
        for handle in self._timers:
            handle.cancel()
        self._pending -= len(self._timers) + len(self._queue)
        self._timers.clear()
        self._queue.clear()
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
        workers = list(self._workers)
        if await_termination > 0 and workers:
            await asyncio.wait(workers, timeout=await_termination)
        await stop_tasks(workers, stop_timeout, f"consume service of {self.group}")
