"""The consumer's answers to operators: GET_CONSUMER_RUNNING_INFO (307) and
CONSUME_MESSAGE_DIRECTLY (309).

Mirrors Java's ``ClientRemotingProcessor.getConsumerRunningInfo`` /
``consumeMessageDirectly``, ``MQClientInstance.consumerRunningInfo`` /
``consumeMessageDirectly``, ``DefaultMQPushConsumerImpl.consumerRunningInfo``,
``ConsumeMessage{Concurrently,Orderly}Service.consumeMessageDirectly`` and
``ProcessQueue.fillProcessQueueInfo``.  An operator's tool (``mqadmin
consumerStatus`` / ``consumeMessage``) asks a broker, which relays the request
to the client over the client's own connection.

One processor per code serves every consumer group of a client instance:
:func:`install_admin_processors` registers them (once; every consumer calls
it at start) and each request is dispatched by its ``consumerGroup`` to the
instance's member of that name.  A group the instance does not host is
answered SYSTEM_ERROR with Java's remark.  A member answers 307 whatever
kind it is (push or lite pull: what it has is reported); only a push
consumer consumes directly.

Java's running info properties are ``MixAll.object2Properties`` of the
consumer (its own fields by Java name, values by ``toString``: times in
Java's units), then ``PROP_CONSUMEORDERLY``, ``PROP_THREADPOOL_CORE_SIZE``,
``PROP_CONSUMER_START_TIMESTAMP`` and, from the instance,
``PROP_NAMESERVER_ADDR`` (each address followed by ``;``),
``PROP_CONSUME_TYPE`` and ``PROP_CLIENT_VERSION``.  ``jstack`` is a dump of
every Python thread's stack and every asyncio task of the instance's loop,
laid out as ``UtilAll.jstack`` lays out Java threads.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from typing import Any

from ..codec.body import (
    CMResult,
    ConsumeMessageDirectlyResult,
    ConsumeStatus as TopicConsumeStatus,
    ConsumerRunningInfo,
    MessageQueueData,
    ProcessQueueInfo,
)
from ..codec.body.running_info import (
    PROP_CLIENT_VERSION,
    PROP_CONSUME_ORDERLY,
    PROP_CONSUME_TYPE,
    PROP_CONSUMER_START_TIMESTAMP,
    PROP_NAMESERVER_ADDR,
    PROP_THREADPOOL_CORE_SIZE,
)
from ..codec.command import DEFAULT_VERSION, MQVersion, RemotingCommand
from ..codec.enums import RequestCode, ResponseCode
from ..codec.errors import ServiceStateError
from ..codec.headers import ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader
from ..codec.store import MessageExt, decode_messages
from ..instance import ClientInstance
from ..types import MessageQueue
from .consume import restore_retry_topic
from .offset_store import ReadOffsetType

__all__ = [
    "install_admin_processors",
    "ConsumerAdminProcessor",
    "consumer_running_info",
    "consume_message_directly",
    "consumer_properties",
    "process_queue_info",
    "cm_result",
    "thread_dump",
    "version_desc",
]

log = logging.getLogger(__name__)

_MIB = 1024 * 1024


def version_desc(version: int = DEFAULT_VERSION) -> str:
    """``MQVersion.getVersionDesc``: the name of a version ordinal we know
    (``V5_3_3``), else the ordinal."""
    for name, value in vars(MQVersion).items():
        if name.startswith("V") and value == version:
            return name
    return str(version)


def _epoch_ms(monotonic: float, now_mono: float, now_ms: int) -> int:
    """A monotonic instant as epoch milliseconds (Java keeps wall-clock ms)."""
    return now_ms - int((now_mono - monotonic) * 1000)


def _java_text(value: object) -> str:
    """``toString`` of an option as Java prints its field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    name = getattr(value, "name", None)  # a Python enum: Java prints the name
    if isinstance(name, str) and hasattr(type(value), "__members__"):
        return name
    return str(value)


def consumer_properties(consumer: Any) -> dict[str, str]:
    """``MixAll.object2Properties(defaultMQPushConsumer)``: the options by
    Java field name, in Java's units (ms; ``consumeTimeout`` in minutes), and
    the three ``PROP_*`` a push consumer adds.  Reads what ``consumer`` has:
    an option it lacks is left out."""
    props: dict[str, str] = {"consumerGroup": str(consumer.group_name)}
    # a push consumer keeps its options apart; a lite pull consumer as attributes
    opts = getattr(consumer, "options", consumer)
    if opts is not None:
        strategy = getattr(opts, "allocate_strategy", None)
        fields: list[tuple[str, object]] = [
            ("messageModel", getattr(opts, "message_model", None)),
            ("consumeFromWhere", getattr(opts, "consume_from_where", None)),
            ("consumeTimestamp", getattr(opts, "consume_timestamp", None) or None),
            ("allocateMessageQueueStrategy", None if strategy is None else type(strategy).__name__),
            ("consumeThreadMin", getattr(opts, "consume_thread_min", None)),
            ("consumeThreadMax", getattr(opts, "consume_thread_max", None)),
            ("consumeConcurrentlyMaxSpan", getattr(opts, "consume_concurrently_max_span", None)),
            ("pullThresholdForQueue", getattr(opts, "pull_threshold_for_queue", None)),
            ("pullThresholdSizeForQueue", getattr(opts, "pull_threshold_size_for_queue", None)),
            ("pullThresholdForTopic", getattr(opts, "pull_threshold_for_topic", None)),
            ("pullThresholdSizeForTopic", getattr(opts, "pull_threshold_size_for_topic", None)),
            ("consumeMessageBatchMaxSize", getattr(opts, "consume_message_batch_max_size", None)),
            ("pullBatchSize", getattr(opts, "pull_batch_size", None)),
            ("postSubscriptionWhenPull", getattr(opts, "post_subscription_when_pull", None)),
            ("unitMode", getattr(consumer, "unit_mode", None)),
            ("maxReconsumeTimes", getattr(opts, "max_reconsume_times", None)),
            ("suspendCurrentQueueTimeMillis", getattr(opts, "suspend_current_queue_time_millis", None)),
        ]
        seconds = [
            ("pullInterval", getattr(opts, "pull_interval", None), 1000),
            ("consumeTimeout", getattr(opts, "consume_timeout", None), 1 / 60),
            ("awaitTerminationMillisWhenShutdown", getattr(opts, "await_termination_when_shutdown", None), 1000),
        ]
        fields.extend((key, None if value is None else int(round(float(value) * scale))) for key, value, scale in seconds)
        for key, value in fields:
            if value is not None:
                props[key] = _java_text(value)
    if hasattr(consumer, "consume_service"):  # what only DefaultMQPushConsumerImpl adds
        props[PROP_CONSUME_ORDERLY] = _java_text(bool(getattr(consumer, "orderly", False)))
        props[PROP_THREADPOOL_CORE_SIZE] = str(getattr(opts, "consume_thread_min", 0))
    started = getattr(consumer, "start_timestamp", None)
    if started is not None:
        props[PROP_CONSUMER_START_TIMESTAMP] = str(started)
    return props


def process_queue_info(pq: Any, commit_offset: int, *, now_mono: float | None = None, now_ms: int | None = None) -> ProcessQueueInfo:
    """``ProcessQueue.fillProcessQueueInfo`` plus the commit offset; the
    monotonic timestamps of a process queue as epoch milliseconds."""
    mono = time.monotonic() if now_mono is None else now_mono
    wall = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    msgs = pq.messages() if hasattr(pq, "messages") else []
    taken = list(getattr(pq, "taken", ()) or ())
    taken_offsets = sorted(m.queue_offset for m in taken)
    last_lock = getattr(pq, "last_lock_timestamp", None)
    return ProcessQueueInfo(
        commit_offset=commit_offset,
        cached_msg_min_offset=msgs[0].queue_offset if msgs else 0,
        cached_msg_max_offset=msgs[-1].queue_offset if msgs else 0,
        cached_msg_count=len(msgs),
        cached_msg_size_in_mib=int(getattr(pq, "msg_size", 0)) // _MIB,
        transaction_msg_min_offset=taken_offsets[0] if taken_offsets else 0,
        transaction_msg_max_offset=taken_offsets[-1] if taken_offsets else 0,
        transaction_msg_count=len(taken_offsets),
        locked=bool(getattr(pq, "locked", False)),
        try_unlock_times=int(getattr(pq, "try_unlock_times", 0)),
        last_lock_timestamp=0 if last_lock is None else _epoch_ms(last_lock, mono, wall),
        droped=bool(pq.dropped),
        last_pull_timestamp=_epoch_ms(pq.last_pull_timestamp, mono, wall),
        last_consume_timestamp=_epoch_ms(pq.last_consume_timestamp, mono, wall),
    )


async def consumer_running_info(instance: ClientInstance, consumer: Any, *, jstack: bool = False) -> ConsumerRunningInfo:
    """``MQClientInstance.consumerRunningInfo`` of one member: its
    properties, subscriptions, each owned queue's cache (with the offset to
    commit, memory first then the store) and each subscribed topic's rates."""
    props = consumer_properties(consumer)
    props[PROP_NAMESERVER_ADDR] = "".join(addr + ";" for addr in instance.namesrv_addrs)
    consume_type = getattr(consumer, "consume_type", None)
    props[PROP_CONSUME_TYPE] = _java_text(consume_type) if consume_type is not None else "CONSUME_ACTIVELY"
    props[PROP_CLIENT_VERSION] = version_desc(DEFAULT_VERSION)
    subs = tuple(consumer.subscriptions())
    queues: dict[MessageQueue, Any] = dict(getattr(consumer, "process_queues", None) or {})
    try:
        store = consumer.offset_store
    except (AttributeError, ServiceStateError):  # not started (or stopping)
        store = None
    mq_table: dict[MessageQueueData, ProcessQueueInfo] = {}
    for mq, pq in queues.items():
        commit = -1
        if store is not None:
            try:
                commit = await store.read_offset(mq, ReadOffsetType.MEMORY_FIRST_THEN_STORE)
            except Exception as exc:  # an offline broker must not spoil the whole answer
                log.warning("reading the offset of %s for running info failed: %s", mq, exc)
                commit = -2
        mq_table[MessageQueueData(mq.topic, mq.broker_name, mq.queue_id)] = process_queue_info(pq, commit)
    stats = getattr(consumer, "stats", None)
    status_table: dict[str, TopicConsumeStatus] = {}
    for sub in subs:
        status_table[sub.topic] = stats.consume_status(sub.topic) if stats is not None else TopicConsumeStatus()
    return ConsumerRunningInfo(
        properties=props,
        subscription_set=subs,
        mq_table=mq_table,
        status_table=status_table,
        jstack=thread_dump(instance.loop) if jstack else None,
    )


def cm_result(status: object) -> CMResult | None:
    """A listener's answer as ``CMResult``: concurrent CONSUME_SUCCESS /
    RECONSUME_LATER, orderly SUCCESS / COMMIT / ROLLBACK /
    SUSPEND_CURRENT_QUEUE_A_MOMENT; None: CR_RETURN_NULL; anything else
    (Java's ``default: break``) no result."""
    if status is None:
        return CMResult.CR_RETURN_NULL
    name = getattr(status, "name", None)
    return {
        "CONSUME_SUCCESS": CMResult.CR_SUCCESS,
        "SUCCESS": CMResult.CR_SUCCESS,
        "RECONSUME_LATER": CMResult.CR_LATER,
        "SUSPEND_CURRENT_QUEUE_A_MOMENT": CMResult.CR_LATER,
        "COMMIT": CMResult.CR_COMMIT,
        "ROLLBACK": CMResult.CR_ROLLBACK,
    }.get(name) if isinstance(name, str) else None


def _exception_simple_desc(exc: BaseException) -> str:
    """``RemotingHelper.exceptionSimpleDesc``: the exception and where it was raised."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f", {last.name}({last.filename.rsplit('/', 1)[-1]}:{last.lineno})"
    return text


async def consume_message_directly(consumer: Any, msg: MessageExt, broker_name: str) -> ConsumeMessageDirectlyResult:
    """``consumeMessageDirectly``: give ``msg`` to the consumer's listener
    now, outside its queues (no offset moves, nothing is sent back), and
    report what the listener answered and how long it took."""
    service = consumer.consume_service
    listener = getattr(service, "listener", None) if service is not None else None
    if listener is None:
        raise RuntimeError(f"consumer group {consumer.group_name} has no listener to consume with")
    orderly = bool(getattr(consumer, "orderly", False))
    shown = restore_retry_topic(msg, consumer.group_name)
    log.info("consumeMessageDirectly receive new message: %s (queue %s:%d)", shown.msg_id, broker_name, shown.queue_id)
    begin = time.monotonic()
    remark: str | None = None
    try:
        result = cm_result(await listener([shown]))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        result, remark = CMResult.CR_THROW_EXCEPTION, _exception_simple_desc(exc)
        log.warning("consumeMessageDirectly exception: %s Group: %s", remark, consumer.group_name, exc_info=True)
    spent = int((time.monotonic() - begin) * 1000)
    return ConsumeMessageDirectlyResult(result, order=orderly, auto_commit=True, remark=remark, spent_time_mills=spent)


def thread_dump(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """``UtilAll.jstack`` for Python: every thread's stack, then every
    pending asyncio task of ``loop``, one ``name  location`` line per frame."""
    out: list[str] = []
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        if frame is None:
            continue
        name = thread.name
        state = "RUNNABLE" if thread.is_alive() else "TERMINATED"
        out.append(f"{name:<40}TID: {thread.ident} STATE: {state}{' DAEMON' if thread.daemon else ''}")
        for entry in reversed(traceback.extract_stack(frame)):
            out.append(f"{name:<40}{entry.name}({entry.filename}:{entry.lineno})")
        out.append("")
    if loop is not None:
        for task in sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name()):
            name = task.get_name()
            out.append(f"{name:<40}TASK STATE: {'DONE' if task.done() else 'PENDING'}")
            for stack_frame in task.get_stack():
                code = stack_frame.f_code
                out.append(f"{name:<40}{code.co_name}({code.co_filename}:{stack_frame.f_lineno})")
            out.append("")
    return "\n".join(out) + "\n"


class ConsumerAdminProcessor:
    """The 307 / 309 processor of one client instance, dispatching by group."""

    def __init__(self, instance: ClientInstance, code: int) -> None:
        self.instance = instance
        self.code = int(code)

    def _not_here(self, request: RemotingCommand, group: str) -> RemotingCommand:
        return request.reply(
            ResponseCode.SYSTEM_ERROR,
            f"The Consumer Group <{group}> not exist in this consumer",
            language=self.instance.config.language,
        )

    async def __call__(self, request: RemotingCommand, addr: str) -> RemotingCommand:
        language = self.instance.config.language
        if self.code == RequestCode.GET_CONSUMER_RUNNING_INFO:
            header = GetConsumerRunningInfoRequestHeader.from_command(request)
            consumer = self.instance.consumers.get(header.consumer_group)
            if consumer is None:
                return self._not_here(request, header.consumer_group)
            info = await consumer_running_info(self.instance, consumer, jstack=bool(header.jstack_enable))
            return request.reply(ResponseCode.SUCCESS, body=info.to_json(), language=language)
        directly = ConsumeMessageDirectlyResultRequestHeader.from_command(request)
        consumer = self.instance.consumers.get(directly.consumer_group)
        if consumer is None:
            return self._not_here(request, directly.consumer_group)
        if getattr(consumer, "consume_service", None) is None:
            return request.reply(
                ResponseCode.SYSTEM_ERROR,
                f"The Consumer Group <{directly.consumer_group}> is not a running push consumer",
                language=language,
            )
        msgs = decode_messages(request.body, broker_name=directly.broker_name or "")
        if len(msgs) != 1:
            return request.reply(
                ResponseCode.SYSTEM_ERROR, f"CONSUME_MESSAGE_DIRECTLY carries {len(msgs)} messages, not 1", language=language
            )
        result = await consume_message_directly(consumer, msgs[0], directly.broker_name or "")
        log.info("consumeMessageDirectly Result: %s", result)
        return request.reply(ResponseCode.SUCCESS, body=result.to_json(), language=language)


def install_admin_processors(instance: ClientInstance) -> None:
    """Register the 307 and 309 processors on ``instance`` unless they are."""
    for code in (RequestCode.GET_CONSUMER_RUNNING_INFO, RequestCode.CONSUME_MESSAGE_DIRECTLY):
        if not isinstance(instance.processors.get(code), ConsumerAdminProcessor):
            instance.register_processor(code, ConsumerAdminProcessor(instance, code))
