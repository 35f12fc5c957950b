"""``AsyncPushConsumer``: subscribe, register a listener, start; messages arrive.

Mirrors Java's ``DefaultMQPushConsumer`` / ``DefaultMQPushConsumerImpl``
(consumer-protocol.md sections 2, 4, 6 and 7).

Theory of operation: ``start`` (CREATE_JUST -> START_FAILED -> RUNNING)
checks the options, adds the group's retry topic ``%RETRY%<group>`` to the
subscriptions (clustering), joins the client instance of its client id
(which heartbeats the subscriptions, rebalances every 20 s and when a broker
says the group changed, and persists offsets every 5 s), fetches the
subscribed topics' queues, heartbeats, and rebalances at once.  The
rebalance hands each newly owned queue to :meth:`_pull_loop`, one task per
queue, which long-polls the broker (held up to 15 s, client timeout 30 s),
pauses while the queue holds more than ``pull_threshold_for_queue``
messages or ``pull_threshold_size_for_queue`` MiB or spans more than
``consume_concurrently_max_span`` offsets, and gives what it pulled to the
:class:`~.consume.ConsumeService`.  A dropped queue's loop ends.
``shutdown`` stops consuming, persists the offsets, unregisters the group
and, if it was the instance's last member, shuts the instance down.

Options: :class:`~.push_options.PushOptions` (times in seconds).
``register_listener(fn, orderly=True)`` consumes orderly
(:mod:`.consume_orderly`): queues are locked on the broker before they are
pulled, and a queue given up at rebalance is unlocked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from ..aiotools import stop_tasks
from ..optioncheck import checked_options, enum_option
from ..codec.body import SubscriptionData
from ..codec.enums import ResponseCode
from ..codec.errors import BrokerError, ConfigError, ConsumerError, RocketMQError, ServiceStateError
from ..codec.filter import build_subscription
from ..codec.message import validate_group
from ..codec.store import MessageExt
from ..instance import REGISTRY, ClientInstance, ServiceState
from ..types import ConsumeFromWhere, ConsumeType, MessageModel, MessageQueue
from .admin import install_admin_processors
from .allocate import AllocateMessageQueueAveragely, AllocateStrategy
from .broker_api import ConsumerApi
from .client_options import ClientOptions
from .consume import ConsumeService, Listener, retry_topic_of
from .consume_orderly import ConsumeOrderlyService, orderly_pull_gate
from .locks import QueueLocker
from .member import ConsumerMember
from .offset_store import LocalFileOffsetStore, OffsetStore, ReadOffsetType, RemoteBrokerOffsetStore
from .orderly_queue import OrderlyProcessQueue
from .process_queue import ProcessQueue
from .push_options import PushOptions, default_consume_timestamp
from .pull import BROKER_SUSPEND_MAX_TIME_MILLIS, CONSUMER_TIMEOUT_WHEN_SUSPEND, PullApi, PullStatus, build_pull_sys_flag
from .rebalance import PullRequest, RebalanceImpl, compute_pull_from_where
from .stats import ConsumerStats

__all__ = ["AsyncPushConsumer", "PushOptions", "default_consume_timestamp"]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_MIB = 1024 * 1024
#: Java's pull delays, seconds
PULL_DELAY_WHEN_FLOW_CONTROL = 0.05
PULL_DELAY_WHEN_BROKER_FLOW_CONTROL = 0.02
PULL_DELAY_WHEN_SUSPENDED = 1.0
PULL_DELAY_WHEN_EXCEPTION = 3.0
#: after SUBSCRIPTION_NOT_EXIST / NOT_LATEST, once a heartbeat is on its way
PULL_DELAY_WHEN_SUBSCRIPTION_STALE = 0.2
_STALE_SUBSCRIPTION = (ResponseCode.SUBSCRIPTION_NOT_EXIST, ResponseCode.SUBSCRIPTION_NOT_LATEST)
#: Java waits this long before dropping a queue whose offset moved
OFFSET_MOVED_DROP_DELAY = 10.0


def _is_async_callable(fn: object) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(type(fn), "__call__", None))


@checked_options(ClientOptions)
class AsyncPushConsumer(ConsumerMember):
    """A RocketMQ push consumer on asyncio.

    ::

        consumer = AsyncPushConsumer("my-group", namesrv_addr="127.0.0.1:9876")
        consumer.subscribe("TopicTest", "TagA || TagB")

        @consumer.register_listener
        async def on_messages(msgs: list[MessageExt]) -> ConsumeStatus:
            ...
            return ConsumeStatus.CONSUME_SUCCESS

        async with consumer:
            ...

    The listener gets ``consume_message_batch_max_size`` messages (1) at a
    time, at most ``consume_thread_min`` calls at once.  It returns
    CONSUME_SUCCESS or RECONSUME_LATER; raising counts as RECONSUME_LATER
    (and is logged).  A RECONSUME_LATER message comes back later from the
    group's retry topic with ``reconsume_times`` + 1, until
    ``max_reconsume_times`` (16), then goes to ``%DLQ%<group>``.

    With a ``namespace`` (default: the ``NAMESPACE`` environment variable;
    ``""``: none) the group, the subscribed topics and the retry topic go
    on the wire as ``namespace%name`` (``%RETRY%namespace%group``), and the
    listener sees the bare topics (Java's ``resetRetryAndNamespace``).
    ``group`` is the wire name.
    """

    consume_type = ConsumeType.CONSUME_PASSIVELY
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
        consume_thread_min: int = 20,
        consume_thread_max: int = 20,
        consume_concurrently_max_span: int = 2000,
        pull_threshold_for_queue: int = 1000,
        pull_threshold_size_for_queue: int = 100,
        pull_threshold_for_topic: int = -1,
        pull_threshold_size_for_topic: int = -1,
        pull_interval: float = 0.0,
        pull_batch_size: int = 32,
        consume_message_batch_max_size: int = 1,
        post_subscription_when_pull: bool = False,
        max_reconsume_times: int = -1,
        suspend_current_queue_time_millis: int = 1000,
        consume_timeout: float = 15 * 60.0,
        await_termination_when_shutdown: float = 0.0,
        offset_store_dir: str | None = None,
        **client_options: Any,
    ) -> None:
        self.state = ServiceState.CREATE_JUST
        self._client = ClientOptions(namesrv_addr=namesrv_addr, **client_options)
        self._ns = self._client.ns
        #: the group as it goes on the wire (``namespace%group`` in a namespace)
        self.group_name = self._ns.wrap(group)
        self.options = PushOptions(
            message_model=message_model,
            consume_from_where=consume_from_where,
            consume_timestamp=consume_timestamp or "",
            allocate_strategy=allocate_strategy or AllocateMessageQueueAveragely(),
            consume_thread_min=consume_thread_min,
            consume_thread_max=consume_thread_max,
            consume_concurrently_max_span=consume_concurrently_max_span,
            pull_threshold_for_queue=pull_threshold_for_queue,
            pull_threshold_size_for_queue=pull_threshold_size_for_queue,
            pull_threshold_for_topic=pull_threshold_for_topic,
            pull_threshold_size_for_topic=pull_threshold_size_for_topic,
            pull_interval=pull_interval,
            pull_batch_size=pull_batch_size,
            consume_message_batch_max_size=consume_message_batch_max_size,
            post_subscription_when_pull=post_subscription_when_pull,
            max_reconsume_times=max_reconsume_times,
            suspend_current_queue_time_millis=suspend_current_queue_time_millis,
            consume_timeout=consume_timeout,
            await_termination_when_shutdown=await_termination_when_shutdown,
            offset_store_dir=offset_store_dir,
        )
        self.message_model = enum_option(MessageModel, "message_model", message_model)
        self.consume_from_where = enum_option(ConsumeFromWhere, "consume_from_where", consume_from_where)
        self._subscriptions: dict[str, SubscriptionData] = {}
        self._listener: Listener | None = None
        self._instance: ClientInstance | None = None
        self._api: ConsumerApi | None = None
        self._pull_api: PullApi | None = None
        self._offset_store: OffsetStore | None = None
        self._rebalance: RebalanceImpl | None = None
        self._consume: ConsumeService | ConsumeOrderlyService | None = None
        self._orderly = False
        self._pull_tasks: dict[MessageQueue, asyncio.Task[None]] = {}
        self._other_tasks: set[asyncio.Task[None]] = set()
        self._expiry_task: asyncio.Task[None] | None = None
        self.paused = False
        self._heartbeat_wanted = False
        #: pull and consume rates for GET_CONSUMER_RUNNING_INFO (:mod:`.admin`)
        self.stats = ConsumerStats()
        self.start_timestamp = time.time_ns() // 1_000_000

    def __repr__(self) -> str:
        return f"<{type(self).__name__} group={self.group_name!r} state={self.state.value}>"

    # -- ConsumerInner: what the instance reads (message_model and
    # consume_from_where are attributes, set from the options)
    def subscriptions(self) -> list[SubscriptionData]:
        """The subscriptions the heartbeat announces (the retry topic included once started)."""
        return list(self._subscriptions.values())

    async def do_rebalance(self) -> None:
        if self._rebalance is not None and self.state is ServiceState.RUNNING and not self.paused:
            await self._rebalance.do_rebalance()

    async def persist_consumer_offset(self) -> None:
        if self._offset_store is None or self._rebalance is None or self.state is not ServiceState.RUNNING:
            return
        await self._offset_store.persist_all(set(self._rebalance.process_queue_table))

    # -- identity (client_id, namespace, instance, offset_store: ConsumerMember)
    @property
    def group(self) -> str:
        return self.group_name

    @property
    def process_queues(self) -> dict[MessageQueue, ProcessQueue[Any]]:
        """The queues this member owns now (bare topics) and their in-flight messages (a copy)."""
        table = self._rebalance.process_queue_table if self._rebalance is not None else {}
        return {self._ns.unwrap_queue(mq): pq for mq, pq in table.items()}

    @property
    def consume_service(self) -> ConsumeService | ConsumeOrderlyService | None:
        return self._consume

    # -- configuration
    def subscribe(self, topic: str, expression: str | None = "*") -> None:
        """Consume ``topic``'s messages whose tag matches ``expression``
        (``"TagA || TagB"``; ``"*"`` or None for all).  May be called while
        running: the next heartbeat and rebalance take it."""
        from ..codec.message import validate_topic

        validate_topic(topic)
        topic = self._ns.wrap_topic(topic)
        self._subscriptions[topic] = build_subscription(topic, expression)
        if self.state is ServiceState.RUNNING and self._instance is not None:
            self._spawn(self._after_subscription_change(topic))

    def unsubscribe(self, topic: str) -> None:
        """Stop consuming ``topic`` (its queues are dropped at the next rebalance)."""
        self._subscriptions.pop(self._ns.wrap(topic), None)

    def register_listener(self, listener: F, *, orderly: bool = False) -> F:
        """Set the listener: ``async def listener(msgs) -> ConsumeStatus``.
        Returns it unchanged, so it can be used as a decorator.

        ``orderly=True`` consumes each queue in order, one batch at a time,
        under a lock on the broker (Java's ``MessageListenerOrderly``, see
        :mod:`.consume_orderly`); the listener then answers a
        ``ConsumeOrderlyStatus`` (SUCCESS, SUSPEND_CURRENT_QUEUE_A_MOMENT)."""
        if not callable(listener):
            raise ConfigError("the listener must be callable")
        if not _is_async_callable(listener):
            raise ConfigError("AsyncPushConsumer needs an async listener (use PushConsumer for a plain function)")
        self._listener = listener
        self._orderly = bool(orderly)
        return listener

    @property
    def orderly(self) -> bool:
        """Whether the listener consumes orderly."""
        return self._orderly

    # -- lifecycle
    async def start(self) -> None:
        """Start consuming (``DefaultMQPushConsumerImpl.start``)."""
        if self.state is not ServiceState.CREATE_JUST:
            raise ServiceStateError(f"The PushConsumer service state not OK, maybe started once, {self.state.value}")
        self.state = ServiceState.START_FAILED
        validate_group(self.group_name)
        if self.group_name == "DEFAULT_CONSUMER":
            raise ConfigError("consumerGroup can not equal DEFAULT_CONSUMER, please specify another one.")
        self.options.check()
        self.message_model, self.consume_from_where = self.options.message_model, self.options.consume_from_where
        if self._listener is None:
            raise ConsumerError("messageListener is null: register a listener before start")
        if not self._subscriptions:
            raise ConsumerError("nothing subscribed: call subscribe(topic, expression) before start")
        opts = self.options
        if opts.message_model is MessageModel.CLUSTERING:
            retry = retry_topic_of(self.group_name)
            self._subscriptions.setdefault(retry, build_subscription(retry, "*"))
            self._client.change_instance_name_to_pid()
        instance = REGISTRY.get_or_create(self._client.config())
        api = ConsumerApi(instance, self.group_name)
        store: OffsetStore
        if opts.message_model is MessageModel.BROADCASTING:
            store = LocalFileOffsetStore(self.client_id, self.group_name, opts.offset_store_dir)
        else:
            store = RemoteBrokerOffsetStore(api, self.group_name)
        store.load()
        self._api, self._pull_api, self._offset_store = api, PullApi(api), store
        orderly: ConsumeOrderlyService | None = None
        if self._orderly:
            locker = QueueLocker(instance, self.group_name, self.client_id, lambda: self.process_queues)
            orderly = ConsumeOrderlyService(
                self.group_name, api, self._ns.listener(self._listener), store, locker,
                message_model=opts.message_model,
                consume_thread_min=opts.consume_thread_min,
                consume_message_batch_max_size=opts.consume_message_batch_max_size,
                suspend_current_queue_time_millis=opts.suspend_current_queue_time_millis,
                max_reconsume_times=opts.max_reconsume_times,
            )
        self._rebalance = RebalanceImpl(
            self.group_name,
            self.client_id,
            message_model=opts.message_model,
            consume_type=self.consume_type,
            strategy=opts.allocate_strategy,
            offset_store=store,
            api=api,
            listener=self,
            subscribed_topics=lambda: list(self._subscriptions),
            compute_offset=self._compute_pull_from_where,
            new_process_queue=orderly.lock_new_queue if orderly is not None else None,
        )
        self._consume = orderly or ConsumeService(
            self.group_name,
            self,
            self._ns.listener(self._listener),
            store,
            message_model=opts.message_model,
            consume_thread_min=opts.consume_thread_min,
            consume_message_batch_max_size=opts.consume_message_batch_max_size,
            consume_timeout=opts.consume_timeout,
            stats=self.stats,
        )
        if not instance.register_consumer(self.group_name, self):
            self._reset_after_failed_start()
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
            self._reset_after_failed_start()
            raise
        self.state = ServiceState.RUNNING
        if isinstance(self._consume, ConsumeOrderlyService):
            self._consume.start()
        self._expiry_task = asyncio.get_running_loop().create_task(self._clean_expired_every())
        await instance.send_heartbeat_to_all_brokers()
        # the first heartbeat makes the broker create the group's retry topic:
        # learn its queues now rather than at the next route poll
        for topic in list(self._subscriptions):
            if self.is_subscribe_topic_need_update(topic):
                await self._update_subscribe_info(topic)
        instance.rebalance_immediately()

    def _reset_after_failed_start(self) -> None:
        self._instance = self._api = self._pull_api = self._offset_store = None
        self._rebalance = self._consume = None

    async def _update_subscribe_info(self, topic: str) -> None:
        try:
            queues = await self.instance.fetch_subscribe_queues(topic)
        except RocketMQError as exc:
            # a retry topic appears with the first heartbeat; a user topic may appear later
            if not topic.startswith("%RETRY%"):
                log.warning("no route for subscribed topic %s yet: %s", topic, exc)
            return
        self.update_topic_subscribe_info(topic, queues)

    async def _after_subscription_change(self, topic: str) -> None:
        await self._update_subscribe_info(topic)
        await self.instance.send_heartbeat_to_all_brokers()
        self.instance.rebalance_immediately()

    async def shutdown(self) -> None:
        """Stop consuming, persist offsets, unregister; idempotent."""
        if self.state is not ServiceState.RUNNING:
            return
        self.state = ServiceState.SHUTDOWN_ALREADY
        instance = self.instance
        tasks = list(self._pull_tasks.values()) + list(self._other_tasks)
        if self._expiry_task is not None:
            tasks.append(self._expiry_task)
        for task in tasks:
            task.cancel()
        try:
            if self._consume is not None:
                await self._consume.shutdown(self.options.await_termination_when_shutdown)
            await stop_tasks(tasks, instance.task_stop_timeout, f"consumer {self.group_name}")
            if self._offset_store is not None and self._rebalance is not None:
                await self._offset_store.persist_all(set(self._rebalance.process_queue_table))
            await instance.unregister_consumer(self.group_name)
        finally:
            if self._rebalance is not None:
                self._rebalance.destroy()
            self._pull_tasks.clear()
            if not instance.in_use:
                await instance.shutdown()

    async def __aenter__(self) -> AsyncPushConsumer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()

    def suspend(self) -> None:
        """Stop pulling (Java ``suspend``); :meth:`resume` goes on."""
        self.paused = True

    def resume(self) -> None:
        """Pull again after :meth:`suspend`, and rebalance."""
        self.paused = False
        if self._instance is not None and self.state is ServiceState.RUNNING:
            self._instance.rebalance_immediately()

    # -- RebalanceListener
    async def _compute_pull_from_where(self, mq: MessageQueue) -> int:
        assert self._offset_store is not None and self._api is not None
        return await compute_pull_from_where(
            mq, self.options.consume_from_where, self._offset_store, self._api, self.options.consume_timestamp
        )

    def dispatch_pull_requests(self, requests: list[PullRequest]) -> None:
        for request in requests:
            old = self._pull_tasks.get(request.message_queue)
            if old is not None and not old.done():
                old.cancel()
            task = asyncio.get_running_loop().create_task(self._pull_loop(request))
            self._pull_tasks[request.message_queue] = task
            task.add_done_callback(functools.partial(self._forget_pull_task, request.message_queue))

    def _forget_pull_task(self, mq: MessageQueue, task: asyncio.Task[None]) -> None:
        if self._pull_tasks.get(mq) is task:
            del self._pull_tasks[mq]

    async def message_queue_changed(self, topic: str, mq_all: set[MessageQueue], mq_divided: set[MessageQueue]) -> None:
        """New share: a new subscription version, per-queue thresholds from the
        per-topic ones, and a heartbeat so the broker learns it."""
        sub = self._subscriptions.get(topic)
        if sub is not None:
            self._subscriptions[topic] = dataclasses.replace(sub, sub_version=time.time_ns() // 1_000_000)
        assert self._rebalance is not None
        count = len(self._rebalance.process_queue_table)
        opts = self.options
        if count:
            if opts.pull_threshold_for_topic != -1:
                opts.pull_threshold_for_queue = max(1, opts.pull_threshold_for_topic // count)
            if opts.pull_threshold_size_for_topic != -1:
                opts.pull_threshold_size_for_queue = max(1, opts.pull_threshold_size_for_topic // count)
        if self._instance is not None:
            await self._instance.send_heartbeat_to_all_brokers()

    async def remove_unnecessary_message_queue(self, mq: MessageQueue, pq: ProcessQueue[Any]) -> bool:
        assert self._offset_store is not None
        await self._offset_store.persist(mq)
        self._offset_store.remove_offset(mq)
        if isinstance(self._consume, ConsumeOrderlyService):
            return await self._consume.give_up(mq, pq)
        return True

    # -- ConsumeHost
    async def send_message_back(self, msg: MessageExt, delay_level: int, broker_name: str) -> None:
        """CONSUMER_SEND_MSG_BACK; when that fails, re-send the message to the
        retry topic through the instance's inner producer (Java's fallback)."""
        assert self._api is not None
        max_times = self.options.effective_max_reconsume_times
        try:
            await self._api.send_message_back(msg, broker_name, delay_level, max_times)
        except RocketMQError as exc:
            log.warning("CONSUMER_SEND_MSG_BACK of %s failed (%s): re-sending it to the retry topic", msg.msg_id, exc)
            await self._api.resend_to_retry_topic(msg, max_times)

    # -- pulling
    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except RocketMQError as exc:
                log.warning("%s: %s", self, exc)

        task = asyncio.get_running_loop().create_task(run())
        self._other_tasks.add(task)
        task.add_done_callback(self._other_tasks.discard)

    async def _clean_expired_every(self) -> None:
        while True:
            await asyncio.sleep(self.options.consume_timeout)
            if self._consume is not None and self._rebalance is not None:
                try:
                    await self._consume.clean_expired(self._rebalance.process_queue_table)
                except RocketMQError as exc:
                    log.warning("cleaning expired messages failed: %s", exc)

    def _flow_controlled(self, pq: ProcessQueue[Any]) -> str | None:
        opts = self.options
        if pq.msg_count > opts.pull_threshold_for_queue:
            return f"{pq.msg_count} cached messages > {opts.pull_threshold_for_queue}"
        if pq.msg_size // _MIB > opts.pull_threshold_size_for_queue:
            return f"{pq.msg_size // _MIB} MiB cached > {opts.pull_threshold_size_for_queue} MiB"
        if not isinstance(pq, OrderlyProcessQueue) and pq.max_span > opts.consume_concurrently_max_span:
            return f"offset span {pq.max_span} > {opts.consume_concurrently_max_span}"
        return None

    async def _pull_loop(self, request: PullRequest) -> None:
        """``pullMessage`` and its callback, as one loop per owned queue."""
        pq, mq = request.process_queue, request.message_queue
        flow_controlled = 0
        while not pq.dropped and self.state is ServiceState.RUNNING:
            pq.last_pull_timestamp = time.monotonic()
            if self.paused:
                await asyncio.sleep(PULL_DELAY_WHEN_SUSPENDED)
                continue
            reason = self._flow_controlled(pq)
            if reason is not None:
                if flow_controlled % 1000 == 0:
                    log.warning("flow control on %s: %s", mq, reason)
                flow_controlled += 1
                await asyncio.sleep(PULL_DELAY_WHEN_FLOW_CONTROL)
                continue
            if self._orderly:
                not_yet = await orderly_pull_gate(request, self._compute_pull_from_where)
                if not_yet is not None:
                    await asyncio.sleep(not_yet)
                    continue
            sub = self._subscriptions.get(mq.topic)
            if sub is None:
                await asyncio.sleep(PULL_DELAY_WHEN_EXCEPTION)
                continue
            try:
                delay = await self._pull_once(request, sub)
            except asyncio.CancelledError:
                raise
            except BrokerError as exc:
                if exc.code in _STALE_SUBSCRIPTION:
                    # the broker has not (yet) seen the heartbeat carrying this
                    # subscription version (a heartbeat round was already under
                    # way when the share changed): send one and try again soon
                    log.info("pull of %s: %s; heartbeating", mq, exc)
                    self._request_heartbeat()
                    delay = PULL_DELAY_WHEN_SUBSCRIPTION_STALE
                else:
                    delay = PULL_DELAY_WHEN_BROKER_FLOW_CONTROL if exc.code == ResponseCode.FLOW_CONTROL else PULL_DELAY_WHEN_EXCEPTION
                    log.warning("pull of %s failed: %s", mq, exc)
            except RocketMQError as exc:
                delay = PULL_DELAY_WHEN_EXCEPTION
                if not mq.topic.startswith("%RETRY%"):
                    log.warning("pull of %s failed: %s", mq, exc)
            if delay is None:
                return
            if delay > 0:
                await asyncio.sleep(delay)

    def _request_heartbeat(self) -> None:
        if self._heartbeat_wanted or self._instance is None:
            return
        self._heartbeat_wanted = True
        instance = self._instance

        async def beat() -> None:
            try:
                # 0 when another round held the heartbeat lock: try again shortly
                for _ in range(10):
                    if await instance.send_heartbeat_to_all_brokers() or self.state is not ServiceState.RUNNING:
                        return
                    await asyncio.sleep(0.1)
            finally:
                self._heartbeat_wanted = False

        self._spawn(beat())

    async def _pull_once(self, request: PullRequest, sub: SubscriptionData) -> float | None:
        """One pull and its result; the delay before the next (None: stop)."""
        assert self._pull_api is not None and self._offset_store is not None and self._consume is not None
        pq, mq, opts = request.process_queue, request.message_queue, self.options
        commit_offset = 0
        if opts.message_model is MessageModel.CLUSTERING:
            commit_offset = await self._offset_store.read_offset(mq, ReadOffsetType.READ_FROM_MEMORY)
        post_sub = opts.post_subscription_when_pull and not sub.class_filter_mode
        sys_flag = build_pull_sys_flag(commit_offset > 0, True, post_sub, sub.class_filter_mode)
        began = time.monotonic()
        result = await self._pull_api.pull(
            mq, sub, request.next_offset, opts.pull_batch_size, sys_flag, max(commit_offset, 0),
            BROKER_SUSPEND_MAX_TIME_MILLIS, CONSUMER_TIMEOUT_WHEN_SUSPEND,
        )
        if pq.dropped:
            return None
        result = self._pull_api.process_pull_result(mq, result, sub)
        self.stats.pulled(mq.topic, (time.monotonic() - began) * 1000, len(result.msgs) if result.status is PullStatus.FOUND else 0)
        if result.status is PullStatus.FOUND:
            previous = request.next_offset
            request.next_offset = result.next_begin_offset
            if result.next_begin_offset < previous:
                log.warning("[BUG] pull of %s went back: %d < %d", mq, result.next_begin_offset, previous)
            if result.msgs:
                pq.put_messages(result.msgs, result.max_offset)
                self._consume.submit(result.msgs, pq, mq)
                return opts.pull_interval
            return 0.0
        if result.status in (PullStatus.NO_NEW_MSG, PullStatus.NO_MATCHED_MSG):
            request.next_offset = result.next_begin_offset
            if pq.msg_count == 0:  # correctTagsOffset
                self._offset_store.update_offset(mq, result.next_begin_offset, True)
            return 0.0
        # OFFSET_ILLEGAL: the queue restarts from where the broker says
        log.warning("offset of %s is illegal (%d); moving to %d", mq, request.next_offset, result.next_begin_offset)
        request.next_offset = result.next_begin_offset
        pq.dropped = True
        self._spawn(self._drop_moved_queue(mq, result.next_begin_offset))
        return None

    async def _drop_moved_queue(self, mq: MessageQueue, offset: int) -> None:
        await asyncio.sleep(OFFSET_MOVED_DROP_DELAY)
        if self._offset_store is None or self._rebalance is None:
            return
        self._offset_store.update_offset(mq, offset, False)
        await self._offset_store.persist(mq)
        await self._rebalance.remove_process_queue(mq)
        log.info("%s dropped after its offset moved; the next rebalance takes it from %d", mq, offset)
