"""``AsyncProducer``: start, send, send_oneway, send_batch, shutdown.

Mirrors ``DefaultMQProducer`` / ``DefaultMQProducerImpl`` (protocol.md 7.3,
7.4 and 8): the start sequence and its service states, ``sendDefaultImpl``'s
route lookup with the TBW102 fallback, queue selection avoiding the broker
that just failed, retries within one overall timeout on retriable failures
only, and ``sendKernelImpl``'s properties, compression and headers.

Theory of operation: a producer is CREATE_JUST until ``start``; ``start``
sets START_FAILED first, so any failure leaves it there (a duplicate group
puts it back to CREATE_JUST, as Java does), and RUNNING at the end.  Only a
RUNNING producer sends.  ``shutdown`` from RUNNING unregisters the group and,
when it was the instance's last producer, shuts the instance down; from any
other state it does nothing, so it is idempotent.

The pieces of a send that need no producer (the request record, its wire
properties, a selector's pick, the answer read as a ``SendResult``, the
message and batch checks) are in :mod:`client.send_request`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl as _ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from .codec.acl import Credentials
from .codec.body import TopicRouteData
from .codec.command import DEFAULT_VERSION, RemotingCommand, _fast_constructor
from .codec.enums import LanguageCode, RemotingFlag, RequestCode, SerializeType
from .codec.errors import (
    BrokerError,
    ConfigError,
    NoRouteError,
    RemotingError,
    ServiceStateError,
)
from .codec.headers import SendMessageRequestHeader
from .codec.message import (
    AUTO_CREATE_TOPIC_KEY_TOPIC,
    CLIENT_INNER_PRODUCER_GROUP,
    DEFAULT_PRODUCER_GROUP,
    compress_body,
    encode_properties,
    local_ipv4,
    new_message_id,
    validate_group,
)
from .codec.store import MessageExt
from . import request_reply
from .instance import REGISTRY, ClientConfig, ClientInstance, ServiceState
from .optioncheck import checked_options, enum_option
from .namespacing import Namespace, resolve_namespace
from .route import FaultTracker, TopicPublishInfo, publish_info_from_route
from .send_plan import Outcome, Plan, once_plan, retry_plan
from .send_request import (
    MessageQueueSelector,
    SendRequest,
    new_send_request,
    encoded_properties,
    check_target,
    select_queue,
    send_result,
    batch_request,
    check_message,
)
from .transport import FrameObserver, parse_addr
from .types import Message, MessageQueue, SendResult, SendStatus

__all__ = [
    "AsyncProducer",
    "MessageQueueSelector",
    "Message",
    "SendResult",
    "SendStatus",
    "MessageQueue",
    "ServiceState",
]

log = logging.getLogger(__name__)

_MAX_MESSAGE_SIZE = 4 * 1024 * 1024
#: the levels of a broker's default ``messageDelayLevel`` table (1s ... 2h)
DEFAULT_MAX_DELAY_LEVEL = 18


_new_command: Callable[..., RemotingCommand] = _fast_constructor(RemotingCommand)
#: SEND_MESSAGE_V2's extFields straight from the values, without the header
#: object (the header's wire table generates it; same dict as to_ext_fields)
_SEND_EXT_V2 = SendMessageRequestHeader.ext_fields_builder(v2=True)
_SEND_EXT_V1 = SendMessageRequestHeader.ext_fields_builder(v2=False)
_SEND_CODE_V2 = int(RequestCode.SEND_MESSAGE_V2)
_ONEWAY_FLAG = int(RemotingFlag.ONEWAY)


def _parse_namesrv(value: str) -> tuple[str, ...]:
    addrs = tuple(a.strip() for a in value.split(";") if a.strip())
    for addr in addrs:
        try:
            parse_addr(addr)
        except ValueError as exc:
            raise ConfigError(f"invalid name server address list {value!r}: {exc}") from None
    return addrs


@dataclass
class _Options:
    send_timeout: float
    retry_times_when_send_failed: int
    compress_over: int
    compress_level: int
    max_message_size: int
    create_topic_key: str
    default_topic_queue_nums: int
    use_v2: bool
    retry_another_broker_when_not_store_ok: bool
    latency_fault_tolerance: bool
    max_delay_level: int
    fault_tracker: FaultTracker = field(default_factory=FaultTracker)


@checked_options()
class AsyncProducer:
    """A RocketMQ producer on asyncio.

    ::

        async with AsyncProducer("my-group", namesrv_addr="127.0.0.1:9876") as producer:
            result = await producer.send(Message("TopicTest", b"hello", tags="TagA"))

    Times are seconds (floats); defaults are Java's.  ``namesrv_addr`` is
    ``host:port;host:port``; without it the ``NAMESRV_ADDR`` environment
    variable is used, then, when ``namesrv_domain`` (or the
    ``ROCKETMQ_NAMESRV_DOMAIN`` environment variable) is given, the HTTP
    address lookup at
    ``http://{namesrv_domain}:8080/rocketmq/{namesrv_domain_subgroup}``,
    refreshed every 2 minutes.  With none of these, ``start`` raises
    :class:`~codec.errors.ConfigError` saying so (Java would try its default
    domain ``jmenv.tbsite.net``, which only resolves inside Alibaba).

    ``max_delay_level`` is the highest ``Message.delay_level`` accepted: 18
    for the default ``messageDelayLevel`` table of a broker; set it to the
    length of your broker's table if it is longer.

    With ``latency_fault_tolerance`` a broker that failed (or answered
    slowly) is avoided for a while: a send that took at least
    ``latency_max[i]`` seconds makes its broker unavailable for
    ``not_available_duration[i]`` seconds, and a failure counts as 10 s of
    latency (Java 5.x ``setLatencyMax`` / ``setNotAvailableDuration``, there
    in milliseconds; defaults 0.05 0.1 0.55 1.8 3 5 15 -> 0 0 2 5 6 10 30,
    so a failed broker is avoided for 10 s, then tried again).

    With a ``namespace`` (default: the ``NAMESPACE`` environment variable;
    ``""``: none) the group and topics go on the wire as
    ``namespace%name`` and every send carries ``INSTANCE_ID``; results,
    queues and what a selector is shown keep the bare topic (Java's
    ``DefaultMQProducer(namespace, group)``).  ``group`` is the wire name.
    """

    def __init__(
        self,
        group: str,
        *,
        namesrv_addr: str | None = None,
        send_timeout: float = 3.0,
        retry_times_when_send_failed: int = 2,
        heartbeat_interval: float = 30.0,
        poll_name_server_interval: float = 30.0,
        compress_over: int = 4096,
        compress_level: int = 5,
        max_message_size: int = _MAX_MESSAGE_SIZE,
        instance_name: str | None = None,
        unit_name: str | None = None,
        client_ip: str | None = None,
        serialize_type: SerializeType = SerializeType.JSON,
        language: LanguageCode = LanguageCode.PYTHON,
        namesrv_domain: str | None = None,
        namesrv_domain_subgroup: str | None = None,
        request_timeout: float = 3.0,
        create_topic_key: str = AUTO_CREATE_TOPIC_KEY_TOPIC,
        default_topic_queue_nums: int = 4,
        use_v2: bool = True,
        retry_another_broker_when_not_store_ok: bool = False,
        latency_fault_tolerance: bool = True,
        max_delay_level: int = DEFAULT_MAX_DELAY_LEVEL,
        latency_max: Sequence[float] | None = None,
        not_available_duration: Sequence[float] | None = None,
        credentials: Credentials | None = None,
        ssl: _ssl.SSLContext | bool | None = None,
        trace: FrameObserver | str | os.PathLike[str] | None = None,
        namespace: str | None = None,
    ) -> None:
        if not isinstance(group, str):
            raise ConfigError(f"the producer group must be a str, not {type(group).__name__} ({group!r})")
        if not isinstance(max_delay_level, int) or isinstance(max_delay_level, bool) or max_delay_level < 0:
            raise ConfigError(f"max_delay_level must be an int >= 0, not {max_delay_level!r}")
        for name, value in (
            ("send_timeout", send_timeout),
            ("heartbeat_interval", heartbeat_interval),
            ("poll_name_server_interval", poll_name_server_interval),
            ("request_timeout", request_timeout),
        ):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}")
        if not isinstance(retry_times_when_send_failed, int) or retry_times_when_send_failed < 0:
            raise ConfigError("retry_times_when_send_failed must be an int >= 0")
        if not isinstance(max_message_size, int) or max_message_size <= 0:
            raise ConfigError("max_message_size must be a positive int")
        if not isinstance(compress_over, int) or compress_over <= 0:
            raise ConfigError("compress_over must be a positive int")
        tracker_tables: dict[str, tuple[float, ...]] = {}
        for name, table, key in (
            ("latency_max", latency_max, "latency_max"),
            ("not_available_duration", not_available_duration, "not_available"),
        ):
            if table is not None:
                try:
                    tracker_tables[key] = tuple(float(x) * 1000.0 for x in table)
                except (TypeError, ValueError):
                    raise ConfigError(f"{name} must be a sequence of seconds, not {table!r}") from None
        try:
            fault_tracker = FaultTracker(**tracker_tables)
        except ValueError as exc:
            raise ConfigError(f"latency_max / not_available_duration: {exc}") from None
        #: the namespace ("" for none: ``namespace``, else ``NAMESPACE``)
        self.namespace = resolve_namespace(namespace, namesrv_addr)
        self._ns = Namespace(self.namespace)
        #: the group as it goes on the wire (``namespace%group`` in a namespace)
        self.group = self._ns.wrap(group)
        self.state = ServiceState.CREATE_JUST
        self.instance_name = instance_name or os.environ.get("ROCKETMQ_CLIENT_NAME") or "DEFAULT"
        self.unit_name = unit_name
        self.client_ip = client_ip or local_ipv4()
        env_addr = os.environ.get("NAMESRV_ADDR")
        self._namesrv = _parse_namesrv(namesrv_addr) if namesrv_addr else (_parse_namesrv(env_addr) if env_addr else ())
        self._namesrv_domain = namesrv_domain or os.environ.get("ROCKETMQ_NAMESRV_DOMAIN") or None
        self._namesrv_subgroup = namesrv_domain_subgroup or os.environ.get("ROCKETMQ_NAMESRV_DOMAIN_SUBGROUP") or "nsaddr"
        self._heartbeat_interval = float(heartbeat_interval)
        self._poll_interval = float(poll_name_server_interval)
        self._request_timeout = float(request_timeout)
        self._serialize_type = enum_option(SerializeType, "serialize_type", serialize_type)
        self._language = language
        self._credentials = credentials
        if ssl is True:
            ssl = _ssl.create_default_context()
        self._ssl: _ssl.SSLContext | None = ssl or None
        self._trace = trace
        self._recorder: object | None = None
        self._opts = _Options(
            send_timeout=float(send_timeout),
            retry_times_when_send_failed=retry_times_when_send_failed,
            compress_over=compress_over,
            compress_level=compress_level,
            max_message_size=max_message_size,
            create_topic_key=create_topic_key,
            default_topic_queue_nums=default_topic_queue_nums,
            use_v2=use_v2,
            retry_another_broker_when_not_store_ok=retry_another_broker_when_not_store_ok,
            latency_fault_tolerance=latency_fault_tolerance,
            max_delay_level=max_delay_level,
            fault_tracker=fault_tracker,
        )
        self._publish: dict[str, TopicPublishInfo] = {}
        self._instance: ClientInstance | None = None

    def __repr__(self) -> str:
        return f"<AsyncProducer group={self.group!r} state={self.state.value} namesrv={';'.join(self._namesrv) or '-'}>"

    # -- identity
    @property
    def client_id(self) -> str:
        """``ip@instanceName[@unitName]`` (``ClientConfig.buildMQClientId``)."""
        cid = f"{self.client_ip}@{self.instance_name}"
        if self.unit_name:
            cid += f"@{self.unit_name}"
        return cid

    @property
    def instance(self) -> ClientInstance:
        """The client instance this producer is registered with (once started)."""
        if self._instance is None:
            raise ServiceStateError("the producer has not been started")
        return self._instance

    @property
    def fault_tracker(self) -> FaultTracker:
        """The brokers this producer currently avoids (latency fault tolerance)."""
        return self._opts.fault_tracker

    # -- lifecycle
    async def start(self) -> None:
        """Start the producer (``DefaultMQProducerImpl.start``).

        Raises :class:`~codec.errors.ServiceStateError` if not CREATE_JUST,
        :class:`~codec.errors.ConfigError` for a bad group or a group already
        registered on this client instance, and
        :class:`~codec.errors.ConnectError` naming the addresses when no name
        server can be reached.
        """
        if self.state is not ServiceState.CREATE_JUST:
            raise ServiceStateError(
                f"The producer service state not OK, maybe started once, {self.state.value}"
            )
        self.state = ServiceState.START_FAILED
        validate_group(self.group)
        if self.group == DEFAULT_PRODUCER_GROUP:
            raise ConfigError(f"producerGroup can not equal {DEFAULT_PRODUCER_GROUP}, please specify another one.")
        if self.group != CLIENT_INNER_PRODUCER_GROUP and self.instance_name == "DEFAULT":
            self.instance_name = f"{os.getpid()}#{time.monotonic_ns()}"
        observer = self._make_observer()
        config = ClientConfig(
            client_id=self.client_id,
            namesrv_addrs=self._namesrv,
            namesrv_domain=None if self._namesrv else self._namesrv_domain,
            namesrv_domain_subgroup=self._namesrv_subgroup,
            request_timeout=self._request_timeout,
            heartbeat_interval=self._heartbeat_interval,
            poll_name_server_interval=self._poll_interval,
            language=self._language,
            serialize_type=self._serialize_type,
            ssl=self._ssl,
            credentials=self._credentials,
            observer=observer,
        )
        instance = REGISTRY.get_or_create(config)
        if not instance.register_producer(self.group, self):
            self.state = ServiceState.CREATE_JUST
            raise ConfigError(
                f"The producer group[{self.group}] has been created before, specify another name please."
            )
        self._instance = instance
        key = self._opts.create_topic_key
        self._publish[key] = TopicPublishInfo(key, [])
        try:
            await instance.start()
            # learn the brokers (and prove a name server answers) before the first heartbeat
            await instance.update_route(key)
        except BaseException:
            instance.producers.pop(self.group, None)
            if not instance.in_use:
                await instance.shutdown()
            self._instance = None
            raise
        self.state = ServiceState.RUNNING
        await instance.send_heartbeat_to_all_brokers()

    def _make_observer(self) -> FrameObserver | None:
        if self._trace is None:
            return None
        if callable(self._trace):
            return self._trace
        from .trace import FrameRecorder

        recorder = FrameRecorder(self._trace)
        self._recorder = recorder
        return recorder.observe

    # -- ProducerInner: what the client instance calls
    def publish_topics(self) -> Iterable[str]:
        """The topics this producer has sent to (and TBW102)."""
        return list(self._publish)

    def is_publish_topic_need_update(self, topic: str) -> bool:
        """True while this producer has no queues for ``topic``."""
        info = self._publish.get(topic)
        return info is not None and not info.ok and topic != self._opts.create_topic_key

    def update_topic_publish_info(self, topic: str, route: TopicRouteData) -> None:
        """Take a new route of ``topic`` if this producer sends to it."""
        if topic in self._publish and topic != self._opts.create_topic_key:
            info = publish_info_from_route(topic, route)
            if info.ok:
                old = self._publish.get(topic)
                if old is not None:
                    info._index = old._index
                self._publish[topic] = info

    async def shutdown(self) -> None:
        """Unregister from every broker and release connections and tasks.

        Idempotent: from any state but RUNNING it does nothing.
        """
        if self.state is not ServiceState.RUNNING:
            return
        self.state = ServiceState.SHUTDOWN_ALREADY
        instance = self.instance
        try:
            await instance.unregister_producer(self.group)
        finally:
            if not instance.in_use:
                await instance.shutdown()
            close = getattr(self._recorder, "close", None)
            if close is not None:
                close()

    async def __aenter__(self) -> AsyncProducer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()

    # -- routes
    async def fetch_publish_queues(self, topic: str) -> list[MessageQueue]:
        """The queues ``send(..., queue=...)`` can target for ``topic``."""
        self._check_running()
        info = await self._find_publish_info(self._ns.wrap_topic(topic), self._opts.send_timeout)
        return self._ns.unwrap_queues(info.queues)

    async def _find_publish_info(self, topic: str, timeout: float) -> TopicPublishInfo:
        info = self._publish.get(topic)
        if info is not None and info.ok:
            return info
        instance = self.instance
        self._publish.setdefault(topic, TopicPublishInfo(topic, []))
        route = await instance.update_route(topic, timeout)
        info = self._publish.get(topic)
        if route is not None and info is not None and info.ok:
            return info
        # the name server does not know the topic: publish through TBW102 and
        # let the broker auto-create it (tryToFindTopicPublishInfo)
        default = await instance.fetch_route(self._opts.create_topic_key, timeout)
        if default is not None:
            instance.learn_brokers(default)
            info = publish_info_from_route(topic, default, clamp_queue_nums=self._opts.default_topic_queue_nums)
            if info.ok:
                self._publish[topic] = info
                return info
        raise NoRouteError(f"No route info of this topic: {topic}")

    # -- sending
    def _check_running(self) -> None:
        if self.state is not ServiceState.RUNNING:
            raise ServiceStateError(f"The producer service state not OK, {self.state.value}")

    def _check_message(self, msg: Message) -> None:
        check_message(msg, self._opts.max_message_size, self._opts.max_delay_level)

    def _single(
        self,
        msg: Message,
        *,
        oneway: bool,
        queue: MessageQueue | None,
        selector: MessageQueueSelector | None,
        arg: Any,
    ) -> SendRequest:
        """Checks, wire properties with a new UNIQ_KEY and the (maybe
        compressed) body with its sysFlag bits, for one message."""
        self._check_running()
        self._check_message(msg)
        if queue is not None or selector is not None:
            self._check_target(msg.topic, queue, selector)
        uniq = new_message_id()
        opts = self._opts
        body, sys_flag = compress_body(msg.body, compress_over=opts.compress_over, level=opts.compress_level)
        properties = encoded_properties(msg, uniq)
        topic = msg.topic
        ns = self._ns
        if ns:
            properties += encode_properties(ns.instance_id_property())
            topic = ns.wrap_topic(topic)
            queue = None if queue is None else ns.wrap_queue(queue)
            selector = None if selector is None else ns.selector(selector)
        return new_send_request(
            topic,
            body,
            properties,
            sys_flag,
            msg.flag,
            uniq,
            False,
            oneway,
            queue,
            selector,
            msg if selector is not None else None,
            arg,
            isinstance(msg, request_reply.ReplyMessage),
        )

    _check_target = staticmethod(check_target)

    def _batch(self, messages: Sequence[Message], queue: MessageQueue | None) -> SendRequest:
        """Checks and the one request of a batch (see :meth:`send_batch`)."""
        self._check_running()
        return batch_request(messages, queue, self._check_message, self._opts.max_message_size, self._ns)

    async def send(
        self,
        msg: Message,
        *,
        queue: MessageQueue | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
        timeout: float | None = None,
    ) -> SendResult:
        """Send ``msg`` and wait for the broker's answer.

        Retries on retriable failures (connection problems, timeouts,
        SYSTEM_BUSY, SERVICE_NOT_AVAILABLE ...) on another broker where there
        is one, all within ``timeout`` (default ``send_timeout``).

        With ``queue`` the message goes to that queue, and with ``selector``
        to the queue ``selector(queues, msg, arg)`` picks from the topic's
        writable queues (Java's ``MessageQueueSelector``; see
        :func:`~rmqwire.selector.select_message_queue_by_hash`): both are
        orderly sends, tried once, as Java's ``send(msg, mq)`` and
        ``send(msg, selector, arg)`` are, since another queue would break the
        order and the same one would fail the same way.  Returns a
        :class:`SendResult` or raises: a message is never dropped silently.
        """
        result = await self._send(self._single(msg, oneway=False, queue=queue, selector=selector, arg=arg), timeout)
        assert result is not None
        return result

    async def request(
        self,
        msg: Message,
        timeout: float = 3.0,
        *,
        queue: MessageQueue | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
    ) -> MessageExt:
        """Send ``msg`` as a request and return the reply (Java's
        ``request(msg, timeout)``; request-reply messaging).

        The message goes out as :meth:`send` sends it, with the properties
        ``CORRELATION_ID`` (a new UUID), ``REPLY_TO_CLIENT`` (this client's
        id) and ``TTL`` (``timeout`` in ms); a replier answers with
        :func:`~rmqwire.create_reply_message`, and the broker pushes the reply
        back here.  ``timeout`` (seconds) bounds the send and the wait
        together; ``queue`` / ``selector`` / ``arg`` as for :meth:`send`.

        Returns the reply as a :class:`~rmqwire.codec.MessageExt` (``body``,
        ``properties``).  Raises what :meth:`send` raises when the request
        cannot be sent, and :class:`~codec.errors.ReplyTimeoutError` (naming
        the correlation id and the timeout) when no reply comes in time.
        """
        return await request_reply.request(self, msg, timeout, queue=queue, selector=selector, arg=arg)

    async def send_oneway(
        self,
        msg: Message,
        *,
        queue: MessageQueue | None = None,
        selector: MessageQueueSelector | None = None,
        arg: Any = None,
    ) -> None:
        """Send ``msg`` with the oneway flag: no answer, one attempt.

        ``queue`` and ``selector`` as for :meth:`send`.  Raises if it could
        not be written (no route, no connection); whether the broker stored
        it cannot be known.
        """
        await self._send(self._single(msg, oneway=True, queue=queue, selector=selector, arg=arg), None)

    async def send_batch(self, messages: Sequence[Message], *, queue: MessageQueue | None = None, timeout: float | None = None) -> SendResult:
        """Send several messages of one topic as one SEND_BATCH_MESSAGE.

        As Java's ``MessageBatch``: same topic and same ``wait_store_msg_ok``
        for all, no delay level, no retry topic, never compressed; every
        message gets its own UNIQ_KEY and ``SendResult.msg_id`` joins them.
        With ``queue``, tried once on that queue, as :meth:`send`.
        """
        result = await self._send(self._batch(messages, queue), timeout)
        assert result is not None
        return result

    async def _send(self, request: SendRequest, timeout: float | None) -> SendResult | None:
        loop = asyncio.get_running_loop()
        total = self._opts.send_timeout if timeout is None else timeout
        start = loop.time()
        deadline = start + total
        now: float | None = start
        info = None
        if request.queue is None:
            info = self._publish.get(request.topic)
            if info is None or not info.ok:
                info = await self._find_publish_info(request.topic, total)
                now = None  # the lookup took time: the plan reads the clock again
        plan = self._plan(request, info, deadline, total, loop.time, now)
        mq, remaining = next(plan)
        while True:
            try:
                outcome: Outcome = await self._send_kernel(mq, request, remaining)
            except (RemotingError, BrokerError) as exc:
                outcome = exc
            try:
                mq, remaining = plan.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def _plan(
        self,
        request: SendRequest,
        info: TopicPublishInfo | None,
        deadline: float,
        total: float,
        clock: Callable[[], float],
        now: float | None = None,
    ) -> Plan:
        """How ``request`` is tried (see :mod:`client.send_plan`): once to an
        explicit or selected queue (the selector runs here), or with
        retries; ``info`` is the topic's publish info unless a queue is given."""
        if request.queue is not None:
            return once_plan(request.queue, deadline, total, clock)
        assert info is not None
        if request.selector is not None:
            return once_plan(self._select(request, info), deadline, total, clock)
        opts = self._opts
        return retry_plan(
            request,
            info,
            deadline,
            total,
            clock,
            now=now,
            retries=opts.retry_times_when_send_failed,
            tracker=opts.fault_tracker,
            avoid_faulty=opts.latency_fault_tolerance,
            retry_when_not_stored=opts.retry_another_broker_when_not_store_ok,
        )

    _select = staticmethod(select_queue)

    async def _send_kernel(self, mq: MessageQueue, request: SendRequest, timeout: float) -> SendResult | None:
        instance = self.instance
        addr = instance.find_broker_address_in_publish(mq.broker_name)
        if addr is None:
            await self._find_publish_info(request.topic, timeout)
            addr = instance.find_broker_address_in_publish(mq.broker_name)
            if addr is None:
                raise NoRouteError(f"The broker[{mq.broker_name}] not exist")
        cmd = self._send_command(mq, request)
        if request.oneway:
            await instance.invoke_oneway(addr, cmd, timeout)
            return None
        response = await instance.invoke(addr, cmd, timeout)
        return self._send_result(mq, request, response, addr)

    def _send_command(self, mq: MessageQueue, request: SendRequest) -> RemotingCommand:
        """``sendKernelImpl``'s request for ``request`` to ``mq``."""
        opts = self._opts
        v2 = opts.use_v2 or request.batch
        # the header's extFields made straight from the values, in the wire
        # table's row order (SendMessageRequestHeader: same dict, no object)
        ext = (_SEND_EXT_V2 if v2 else _SEND_EXT_V1)(
            self.group,
            request.topic,
            opts.create_topic_key,
            opts.default_topic_queue_nums,
            mq.queue_id,
            request.sys_flag,
            time.time_ns() // 1_000_000,
            request.flag,
            request.properties,
            0,
            False,
            request.batch,
            None,
            mq.broker_name,
        )
        if request.reply:  # MQClientAPIImpl.sendMessage: by the message's MSG_TYPE
            code: int = RequestCode.SEND_REPLY_MESSAGE_V2 if v2 else RequestCode.SEND_REPLY_MESSAGE
        elif v2 and not request.batch:
            code = _SEND_CODE_V2
        else:
            code = SendMessageRequestHeader.request_code_for(v2, request.batch)
        config = self.instance.config
        body = request.body
        return _new_command(
            code, config.language, DEFAULT_VERSION, 0, _ONEWAY_FLAG if request.oneway else 0, None, ext,
            body if type(body) is bytes else bytes(body), config.serialize_type,
        )

    def _send_result(self, mq: MessageQueue, request: SendRequest, response: RemotingCommand, addr: str) -> SendResult:
        """``processSendResponse``: the broker's answer as the caller's result."""
        if type(mq) is not MessageQueue or mq.topic != request.topic:
            mq = MessageQueue(request.topic, mq.broker_name, mq.queue_id)
        return send_result(mq, response, addr, request.uniq, self._ns)
