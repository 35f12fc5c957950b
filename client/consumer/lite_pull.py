"""``AsyncLitePullConsumer``: the application polls; the consumer pulls ahead.

Mirrors Java's ``DefaultLitePullConsumer`` / ``DefaultLitePullConsumerImpl``.

Theory of operation: queues come either from ``subscribe`` (the group's
rebalance hands this member its share, as for the push consumer) or from
``assign`` (exactly these queues, no rebalance).  Each owned queue has a
pull loop that long-polls the broker (sysFlag SUSPEND | SUBSCRIPTION |
LITE_PULL, held up to 20 s, client timeout 30 s) and appends what it got to
one buffer, as long as the buffer holds at most ``pull_threshold_for_all``
messages and the queue's in-flight messages stay under
``pull_threshold_for_queue`` / ``pull_threshold_size_for_queue`` MiB /
``consume_max_span``.  :meth:`poll` takes the oldest batch off the buffer,
marks it consumed (the queue's consume offset moves past it) and returns it.
:meth:`commit` turns the consume offsets into committed offsets (with
``auto_commit``, ``poll`` does so every ``auto_commit_interval`` seconds,
before taking the next batch, so a batch counts as done once the
application asks for the next).  :meth:`seek` moves a queue: what was
buffered or in flight for it is discarded (a generation counter tells stale
pull answers apart).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from ..aiotools import stop_tasks
from ..optioncheck import checked_options, enum_option
from ..codec.body import SubscriptionData
from ..codec.enums import ResponseCode
from ..codec.errors import BrokerError, ConfigError, ConsumerError, RocketMQError, ServiceStateError
from ..codec.filter import build_subscription
from ..codec.message import validate_group, validate_topic
from ..codec.store import MessageExt
from ..instance import REGISTRY, ClientInstance, ServiceState
from ..sync import BlockingFacade, blocking, blocking_call
from ..types import ConsumeFromWhere, ConsumeType, MessageModel, MessageQueue
from .admin import install_admin_processors
from .allocate import AllocateMessageQueueAveragely, AllocateStrategy
from .broker_api import ConsumerApi
from .client_options import ClientOptions
from .member import ConsumerMember
from .offset_store import LocalFileOffsetStore, OffsetStore, ReadOffsetType, RemoteBrokerOffsetStore
from .process_queue import ProcessQueue
from .pull import PullApi, PullStatus, build_pull_sys_flag
from .push_options import default_consume_timestamp
from .rebalance import PullRequest, RebalanceImpl, compute_pull_from_where, parse_consume_timestamp

__all__ = ["AsyncLitePullConsumer", "LitePullConsumer", "MessageQueueListener"]

log = logging.getLogger(__name__)

#: ``listener(topic, all_queues, my_queues)`` after a rebalance changed the share
MessageQueueListener = Callable[[str, set[MessageQueue], set[MessageQueue]], None]

_MIB = 1024 * 1024
PULL_DELAY_WHEN_PAUSED = 1.0
PULL_DELAY_WHEN_FLOW_CONTROL = 0.05
PULL_DELAY_WHEN_BROKER_FLOW_CONTROL = 0.02
PULL_DELAY_ON_EXCEPTION = 3.0
MIN_AUTO_COMMIT_INTERVAL = 1.0


@dataclasses.dataclass(eq=False)
class _Assigned:
    """One owned queue (Java ``AssignedMessageQueue.MessageQueueState``)."""

    mq: MessageQueue
    pq: ProcessQueue[Any]
    pull_offset: int = -1
    consume_offset: int = -1
    seek_offset: int = -1
    paused: bool = False
    generation: int = 0
    task: asyncio.Task[None] | None = None


@dataclasses.dataclass(eq=False)
class _Batch:
    msgs: list[MessageExt]
    state: _Assigned
    generation: int


@checked_options(ClientOptions)
class AsyncLitePullConsumer(ConsumerMember):
    """A RocketMQ lite pull consumer on asyncio.

    ::

        async with AsyncLitePullConsumer("my-group", namesrv_addr="127.0.0.1:9876") as consumer:
            ...

    ``subscribe`` before ``start`` (or ``assign`` any time); then ``await
    poll(timeout)`` returns the next batch (``[]`` when none came in time).

    With a ``namespace`` (default: the ``NAMESPACE`` environment variable;
    ``""``: none) the group and topics go on the wire as ``namespace%name``;
    the queues and messages this consumer takes and returns carry the bare
    topic.
    """

    consume_type = ConsumeType.CONSUME_ACTIVELY
    unit_mode = False

    def __init__(
        self,
        group: str,
        *,
        namesrv_addr: str | None = None,
        message_model: MessageModel = MessageModel.CLUSTERING,
        consume_from_where: ConsumeFromWhere = ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET,
        consume_timestamp: str | None = None,
        allocate_strategy: AllocateStrategy | None = None,
        auto_commit: bool = True,
        auto_commit_interval: float = 5.0,
        pull_batch_size: int = 10,
        pull_threshold_for_all: int = 10000,
        pull_threshold_for_queue: int = 1000,
        pull_threshold_size_for_queue: int = 100,
        consume_max_span: int = 2000,
        poll_timeout: float = 5.0,
        broker_suspend_max_time_millis: int = 20000,
        consumer_timeout_when_suspend: float = 30.0,
        message_queue_listener: MessageQueueListener | None = None,
        offset_store_dir: str | None = None,
        **client_options: Any,
    ) -> None:
        if auto_commit_interval < MIN_AUTO_COMMIT_INTERVAL:
            raise ConfigError(f"auto_commit_interval must be at least {MIN_AUTO_COMMIT_INTERVAL} s")
        for name, value in (("pull_batch_size", pull_batch_size), ("pull_threshold_for_all", pull_threshold_for_all),
                            ("pull_threshold_for_queue", pull_threshold_for_queue),
                            ("pull_threshold_size_for_queue", pull_threshold_size_for_queue),
                            ("consume_max_span", consume_max_span)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive int, not {value!r}")
        self.state = ServiceState.CREATE_JUST
        self._client = ClientOptions(namesrv_addr=namesrv_addr, **client_options)
        self._ns = self._client.ns
        #: the group as it goes on the wire (``namespace%group`` in a namespace)
        self.group_name = self._ns.wrap(group)
        self.message_model = enum_option(MessageModel, "message_model", message_model)
        self.consume_from_where = enum_option(ConsumeFromWhere, "consume_from_where", consume_from_where)
        self.consume_timestamp = consume_timestamp or default_consume_timestamp()
        parse_consume_timestamp(self.consume_timestamp)
        self.allocate_strategy = allocate_strategy or AllocateMessageQueueAveragely()
        self.auto_commit = auto_commit
        self.auto_commit_interval = float(auto_commit_interval)
        self.pull_batch_size = pull_batch_size
        self.pull_threshold_for_all = pull_threshold_for_all
        self.pull_threshold_for_queue = pull_threshold_for_queue
        self.pull_threshold_size_for_queue = pull_threshold_size_for_queue
        self.consume_max_span = consume_max_span
        self.poll_timeout = float(poll_timeout)
        self.broker_suspend_max_time_millis = broker_suspend_max_time_millis
        self.consumer_timeout_when_suspend = float(consumer_timeout_when_suspend)
        self.message_queue_listener = message_queue_listener
        self.offset_store_dir = offset_store_dir
        self._mode: str | None = None  # "subscribe" or "assign"
        self._subscriptions: dict[str, SubscriptionData] = {}
        self._assigned: dict[MessageQueue, _Assigned] = {}
        self._buffer: collections.deque[_Batch] = collections.deque()
        self._buffered_msgs = 0
        self._arrived = asyncio.Event()
        self._instance: ClientInstance | None = None
        self._api: ConsumerApi | None = None
        self._pull_api: PullApi | None = None
        self._offset_store: OffsetStore | None = None
        self._rebalance: RebalanceImpl | None = None
        self._next_auto_commit = 0.0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} group={self.group_name!r} state={self.state.value}>"

    # -- ConsumerInner (message_model and consume_from_where are attributes)
    def subscriptions(self) -> list[SubscriptionData]:
        return list(self._subscriptions.values())

    async def do_rebalance(self) -> None:
        if self._rebalance is not None and self._mode == "subscribe" and self.state is ServiceState.RUNNING:
            await self._rebalance.do_rebalance()

    async def persist_consumer_offset(self) -> None:
        if self._offset_store is not None and self.state is ServiceState.RUNNING:
            await self._offset_store.persist_all(set(self._assigned))

    # -- identity and inspection (client_id, namespace, instance, offset_store: ConsumerMember)
    @property
    def request_timeout_hint(self) -> float:
        """How long a blocking call may take at most: a poll, or a request."""
        return max(self.poll_timeout, self._client.request_timeout * 3)

    def assignment(self) -> set[MessageQueue]:
        """The queues this consumer pulls now."""
        return set(self._ns.unwrap_queues(self._assigned))

    @property
    def buffered(self) -> int:
        """Messages pulled and not yet polled."""
        return self._buffered_msgs

    # -- configuration
    def subscribe(self, topic: str, expression: str | None = "*") -> None:
        """Consume ``topic`` as a member of the group (queues from the rebalance)."""
        if self._mode == "assign":
            raise ConsumerError("Subscribe and assign are mutually exclusive.")
        validate_topic(topic)
        topic = self._ns.wrap_topic(topic)
        self._mode = "subscribe"
        self._subscriptions[topic] = build_subscription(topic, expression)
        if self.state is ServiceState.RUNNING:
            asyncio.get_running_loop().create_task(self._after_subscription_change(topic))

    def unsubscribe(self, topic: str) -> None:
        """Stop consuming ``topic``."""
        topic = self._ns.wrap(topic)
        self._subscriptions.pop(topic, None)
        for mq in [mq for mq in self._assigned if mq.topic == topic]:
            self._drop(mq)

    async def assign(self, queues: Iterable[MessageQueue]) -> None:
        """Consume exactly ``queues`` (no rebalance); replaces an earlier assignment."""
        if self._mode == "subscribe":
            raise ConsumerError("Subscribe and assign are mutually exclusive.")
        wanted = set(self._ns.wrap_queues(queues))
        if not wanted:
            raise ConsumerError("Message queues can not be null or empty.")
        self._mode = "assign"
        for mq in list(self._assigned):
            if mq not in wanted:
                await self._give_up(mq)
        for mq in sorted(wanted):
            if mq not in self._assigned:
                self._assigned[mq] = _Assigned(mq, ProcessQueue())
        if self.state is ServiceState.RUNNING:
            self._start_pulls()

    # -- lifecycle
    async def start(self) -> None:
        """Join the instance; in subscribe mode rebalance at once."""
        if self.state is not ServiceState.CREATE_JUST:
            raise ServiceStateError(f"The LitePullConsumer service state not OK, maybe started once, {self.state.value}")
        self.state = ServiceState.START_FAILED
        validate_group(self.group_name)
        if self.message_model is MessageModel.CLUSTERING:
            self._client.change_instance_name_to_pid()
        instance = REGISTRY.get_or_create(self._client.config())
        api = ConsumerApi(instance, self.group_name)
        store: OffsetStore
        if self.message_model is MessageModel.BROADCASTING:
            store = LocalFileOffsetStore(self.client_id, self.group_name, self.offset_store_dir)
        else:
            store = RemoteBrokerOffsetStore(api, self.group_name)
        store.load()
        self._api, self._pull_api, self._offset_store = api, PullApi(api), store
        self._rebalance = RebalanceImpl(
            self.group_name, self.client_id, message_model=self.message_model, consume_type=self.consume_type,
            strategy=self.allocate_strategy, offset_store=store, api=api, listener=self,
            subscribed_topics=lambda: list(self._subscriptions), compute_offset=self._compute_offset,
        )
        if not instance.register_consumer(self.group_name, self):
            self.state = ServiceState.CREATE_JUST
            raise ConfigError(f"The consumer group[{self.group_name}] has been created before, specify another name please.")
        self._instance = instance
        install_admin_processors(instance)
        try:
            await instance.start()
            for topic in list(self._subscriptions):
                await self._update_subscribe_info(topic)
        except BaseException:
            await instance.unregister_consumer(self.group_name)
            if not instance.in_use:
                await instance.shutdown()
            self._instance = None
            raise
        self.state = ServiceState.RUNNING
        self._next_auto_commit = time.monotonic() + self.auto_commit_interval
        await instance.send_heartbeat_to_all_brokers()
        if self._mode == "subscribe":
            instance.rebalance_immediately()
        else:
            self._start_pulls()

    async def _update_subscribe_info(self, topic: str) -> None:
        try:
            queues = await self.instance.fetch_subscribe_queues(topic)
        except RocketMQError as exc:
            log.warning("no route for subscribed topic %s yet: %s", topic, exc)
            return
        self.update_topic_subscribe_info(topic, queues)

    async def _after_subscription_change(self, topic: str) -> None:
        try:
            await self._update_subscribe_info(topic)
            await self.instance.send_heartbeat_to_all_brokers()
            self.instance.rebalance_immediately()
        except RocketMQError as exc:
            log.warning("subscribing %s: %s", topic, exc)

    async def shutdown(self) -> None:
        """Commit (with ``auto_commit``), persist, unregister; idempotent."""
        if self.state is not ServiceState.RUNNING:
            return
        instance = self.instance
        try:
            if self.auto_commit:
                await self.commit()
        finally:
            self.state = ServiceState.SHUTDOWN_ALREADY
            tasks = [s.task for s in self._assigned.values() if s.task is not None]
            for task in tasks:
                task.cancel()
            await stop_tasks(tasks, instance.task_stop_timeout, f"consumer {self.group_name}")
            try:
                if self._offset_store is not None:
                    await self._offset_store.persist_all(set(self._assigned))
                await instance.unregister_consumer(self.group_name)
            finally:
                for s in self._assigned.values():
                    s.pq.dropped = True
                if self._rebalance is not None:
                    self._rebalance.destroy()
                if not instance.in_use:
                    await instance.shutdown()

    async def __aenter__(self) -> AsyncLitePullConsumer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()

    # -- polling
    async def poll(self, timeout: float | None = None) -> list[MessageExt]:
        """The next pulled batch, or ``[]`` if none arrives within ``timeout``
        seconds (default ``poll_timeout``)."""
        if self.state is not ServiceState.RUNNING:
            raise ServiceStateError(f"The consumer not running, {self.state.value}")
        if self.auto_commit and time.monotonic() >= self._next_auto_commit:
            self._next_auto_commit = time.monotonic() + self.auto_commit_interval
            await self.commit()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.poll_timeout if timeout is None else timeout)
        while True:
            while self._buffer:
                batch = self._buffer.popleft()
                self._buffered_msgs -= len(batch.msgs)
                state = batch.state
                if state.pq.dropped or batch.generation != state.generation or self._assigned.get(state.mq) is not state:
                    continue
                offset = state.pq.remove_messages(batch.msgs)
                if offset >= 0:
                    state.consume_offset = offset
                return self._ns.unwrap_messages(batch.msgs)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._arrived.clear()
            # asyncio.wait, not wait_for: a cancel that comes as a batch
            # arrives must not be lost (wait_for before 3.12 can swallow it)
            arrived = asyncio.ensure_future(self._arrived.wait())
            try:
                await asyncio.wait([arrived], timeout=remaining)
            finally:
                arrived.cancel()

    async def commit(self, offsets: dict[MessageQueue, int] | None = None) -> None:
        """Commit the consume offsets (or the given ``offsets``) and persist
        them now (Java 4.9 persists clustering offsets only in its 5 s task)."""
        store = self.offset_store
        if offsets is not None:
            offsets = {self._ns.wrap_queue(mq): offset for mq, offset in offsets.items()}
        else:
            offsets = {mq: s.consume_offset for mq, s in self._assigned.items() if s.consume_offset != -1 and not s.pq.dropped}
        for mq, offset in offsets.items():
            store.update_offset(mq, offset, False)
        if offsets:
            await store.persist_all(set(self._assigned) | set(offsets))

    async def committed(self, mq: MessageQueue) -> int:
        """The offset the broker (or the local file) holds for ``mq``; -1 if none."""
        return await self.offset_store.read_offset(self._ns.wrap_queue(mq), ReadOffsetType.READ_FROM_STORE)

    async def seek(self, mq: MessageQueue, offset: int) -> None:
        """Pull ``mq`` from ``offset`` next; between its min and max offset."""
        mq = self._ns.wrap_queue(mq)
        state = self._assigned.get(mq)
        if state is None:
            raise ConsumerError(f"The message queue is not in assigned list, message queue: {mq}")
        assert self._api is not None
        low, high = await self._api.min_offset(mq), await self._api.max_offset(mq)
        if not low <= offset <= high:
            raise ConsumerError(f"Seek offset illegal, seek offset = {offset}, min offset = {low}, max offset = {high}")
        self._reset(state)
        state.seek_offset = offset
        # a pull may be held by the broker for 20 s: restart the queue's loop now
        if state.task is not None:
            state.task.cancel()
            state.task = None
        if self.state is ServiceState.RUNNING:
            self._start_pulls()

    async def seek_to_begin(self, mq: MessageQueue) -> None:
        """Seek ``mq`` to its min offset."""
        assert self._api is not None
        await self.seek(mq, await self._api.min_offset(self._ns.wrap_queue(mq)))

    async def seek_to_end(self, mq: MessageQueue) -> None:
        """Seek ``mq`` to its max offset (only new messages)."""
        assert self._api is not None
        await self.seek(mq, await self._api.max_offset(self._ns.wrap_queue(mq)))

    def pause(self, queues: Iterable[MessageQueue]) -> None:
        """Stop pulling these queues (what is buffered can still be polled)."""
        for mq in self._ns.wrap_queues(queues):
            if mq in self._assigned:
                self._assigned[mq].paused = True

    def resume(self, queues: Iterable[MessageQueue]) -> None:
        """Pull these queues again."""
        for mq in self._ns.wrap_queues(queues):
            if mq in self._assigned:
                self._assigned[mq].paused = False

    def _reset(self, state: _Assigned) -> None:
        state.generation += 1
        state.pq.clear()
        kept = collections.deque(b for b in self._buffer if b.state is not state)
        self._buffered_msgs = sum(len(b.msgs) for b in kept)
        self._buffer = kept

    # -- RebalanceListener
    async def _compute_offset(self, mq: MessageQueue) -> int:
        assert self._offset_store is not None and self._api is not None
        return await compute_pull_from_where(
            mq, self.consume_from_where, self._offset_store, self._api, self.consume_timestamp,
            read_type=ReadOffsetType.MEMORY_FIRST_THEN_STORE, deprecated_as_last=False,
        )

    def dispatch_pull_requests(self, requests: list[PullRequest]) -> None:
        for request in requests:
            state = _Assigned(request.message_queue, request.process_queue, pull_offset=request.next_offset)
            old = self._assigned.get(request.message_queue)
            if old is not None:
                self._drop(old.mq)
            self._assigned[request.message_queue] = state
        self._start_pulls()

    async def message_queue_changed(self, topic: str, mq_all: set[MessageQueue], mq_divided: set[MessageQueue]) -> None:
        if self.message_queue_listener is not None:
            try:
                ns = self._ns
                self.message_queue_listener(ns.unwrap(topic), set(ns.unwrap_queues(mq_all)), set(ns.unwrap_queues(mq_divided)))
            except Exception:
                log.exception("message queue listener of %s raised", self.group_name)

    async def remove_unnecessary_message_queue(self, mq: MessageQueue, pq: ProcessQueue[Any]) -> bool:
        await self._give_up(mq)
        return True

    async def _give_up(self, mq: MessageQueue) -> None:
        state = self._assigned.get(mq)
        if state is not None and state.consume_offset != -1 and self._offset_store is not None and self.auto_commit:
            self._offset_store.update_offset(mq, state.consume_offset, False)
        self._drop(mq)
        if self._offset_store is not None:
            await self._offset_store.persist(mq)
            self._offset_store.remove_offset(mq)

    def _drop(self, mq: MessageQueue) -> None:
        state = self._assigned.pop(mq, None)
        if state is None:
            return
        state.pq.dropped = True
        if state.task is not None:
            state.task.cancel()
        self._reset(state)

    # -- pulling
    def _start_pulls(self) -> None:
        loop = asyncio.get_running_loop()
        for state in self._assigned.values():
            if state.task is None or state.task.done():
                state.task = loop.create_task(self._pull_loop(state))

    def _flow_controlled(self, pq: ProcessQueue[Any]) -> bool:
        return (
            self._buffered_msgs > self.pull_threshold_for_all
            or pq.msg_count > self.pull_threshold_for_queue
            or pq.msg_size // _MIB > self.pull_threshold_size_for_queue
            or pq.max_span > self.consume_max_span
        )

    async def _next_pull_offset(self, state: _Assigned) -> int:
        if state.seek_offset != -1:
            offset, state.seek_offset = state.seek_offset, -1
            state.consume_offset = offset
            state.pull_offset = offset
            return offset
        if state.pull_offset == -1:
            state.pull_offset = await self._compute_offset(state.mq)
        return state.pull_offset

    def _subscription_for(self, topic: str) -> SubscriptionData:
        sub = self._subscriptions.get(topic)
        return sub if sub is not None else build_subscription(topic, "*", sub_version=0)

    async def _pull_loop(self, state: _Assigned) -> None:
        """``PullTaskImpl.run``, as one loop per owned queue."""
        assert self._pull_api is not None
        mq, pq = state.mq, state.pq
        while not pq.dropped and self.state is ServiceState.RUNNING:
            if state.paused:
                await asyncio.sleep(PULL_DELAY_WHEN_PAUSED)
                continue
            if self._flow_controlled(pq):
                await asyncio.sleep(PULL_DELAY_WHEN_FLOW_CONTROL)
                continue
            delay = 0.0
            try:
                offset = await self._next_pull_offset(state)
                if offset < 0:
                    raise ConsumerError(f"no start offset for {mq}")
                generation = state.generation
                sub = self._subscription_for(mq.topic)
                flag = build_pull_sys_flag(False, True, True, False, lite_pull=True)
                result = await self._pull_api.pull(
                    mq, sub, offset, self.pull_batch_size, flag, 0, self.broker_suspend_max_time_millis,
                    self.consumer_timeout_when_suspend, sub_version=0 if sub.expression_type == "TAG" else None,
                )
                if pq.dropped or generation != state.generation:
                    continue
                result = self._pull_api.process_pull_result(mq, result, sub)
                if result.status is PullStatus.FOUND and result.msgs:
                    pq.put_messages(result.msgs, result.max_offset)
                    self._buffer.append(_Batch(result.msgs, state, generation))
                    self._buffered_msgs += len(result.msgs)
                    self._arrived.set()
                elif result.status is PullStatus.OFFSET_ILLEGAL:
                    log.warning("offset %d of %s is illegal; going on from %d", offset, mq, result.next_begin_offset)
                state.pull_offset = result.next_begin_offset
            except asyncio.CancelledError:
                raise
            except BrokerError as exc:
                delay = PULL_DELAY_WHEN_BROKER_FLOW_CONTROL if exc.code == ResponseCode.FLOW_CONTROL else PULL_DELAY_ON_EXCEPTION
                log.warning("pull of %s failed: %s", mq, exc)
            except RocketMQError as exc:
                delay = PULL_DELAY_ON_EXCEPTION
                log.warning("pull of %s failed: %s", mq, exc)
            if delay:
                await asyncio.sleep(delay)


@checked_options(ClientOptions, like=AsyncLitePullConsumer.__init__)
class LitePullConsumer(BlockingFacade[AsyncLitePullConsumer]):
    """A blocking lite pull consumer; same options as :class:`AsyncLitePullConsumer`.

    ::

        consumer = LitePullConsumer("my-group", namesrv_addr="127.0.0.1:9876")
        consumer.subscribe("TopicTest", "*")
        with consumer:
            while True:
                for msg in consumer.poll(timeout=1.0):
                    ...
    """

    _kind = "consumer"

    def __init__(self, group: str, **options: Any) -> None:
        super().__init__(AsyncLitePullConsumer(group, **options))

    def _default_timeout(self) -> float | None:
        return self.core.request_timeout_hint

    subscribe = blocking_call(AsyncLitePullConsumer.subscribe)
    unsubscribe = blocking_call(AsyncLitePullConsumer.unsubscribe)
    pause = blocking_call(AsyncLitePullConsumer.pause)
    resume = blocking_call(AsyncLitePullConsumer.resume)
    assignment = blocking_call(AsyncLitePullConsumer.assignment)
    assign = blocking(AsyncLitePullConsumer.assign)
    poll = blocking(AsyncLitePullConsumer.poll)
    commit = blocking(AsyncLitePullConsumer.commit)
    committed = blocking(AsyncLitePullConsumer.committed)
    seek = blocking(AsyncLitePullConsumer.seek)
    seek_to_begin = blocking(AsyncLitePullConsumer.seek_to_begin)
    seek_to_end = blocking(AsyncLitePullConsumer.seek_to_end)

    @property
    def group(self) -> str:
        return self.core.group_name

    @property
    def client_id(self) -> str:
        return self.core.client_id
