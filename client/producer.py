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
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl as _ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from .codec.acl import Credentials
from .codec.body import TopicRouteData
from .codec.command import RemotingCommand
from .codec.enums import LanguageCode, ResponseCode, SerializeType
from .codec.errors import (
    BrokerError,
    ConfigError,
    InvalidMessageError,
    NoRouteError,
    RemotingError,
    RequestTimeoutError,
    RocketMQError,
    ServiceStateError,
)
from .codec.headers import SendMessageRequestHeader, SendMessageResponseHeader
from .codec.message import (
    AUTO_CREATE_TOPIC_KEY_TOPIC,
    CLIENT_INNER_PRODUCER_GROUP,
    DEFAULT_PRODUCER_GROUP,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    PROPERTY_WAIT_STORE_MSG_OK,
    BatchEntry,
    compress_body,
    encode_batch,
    encode_properties,
    local_ipv4,
    new_message_id,
    validate_group,
    validate_topic,
)

from .instance import REGISTRY, ClientConfig, ClientInstance, ServiceState
from .route import FaultTracker, TopicPublishInfo, publish_info_from_route
from .transport import FrameObserver, parse_addr
from .types import Message, MessageQueue, SendResult, SendStatus

__all__ = ["AsyncProducer", "Message", "SendResult", "SendStatus", "MessageQueue", "ServiceState"]

log = logging.getLogger(__name__)

_MAX_MESSAGE_SIZE = 4 * 1024 * 1024


_STATUS_BY_CODE = {
    ResponseCode.SUCCESS: SendStatus.SEND_OK,
    ResponseCode.FLUSH_DISK_TIMEOUT: SendStatus.FLUSH_DISK_TIMEOUT,
    ResponseCode.FLUSH_SLAVE_TIMEOUT: SendStatus.FLUSH_SLAVE_TIMEOUT,
    ResponseCode.SLAVE_NOT_AVAILABLE: SendStatus.SLAVE_NOT_AVAILABLE,
}


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
    fault_tracker: FaultTracker = field(default_factory=FaultTracker)


class AsyncProducer:
    """A RocketMQ producer on asyncio.

    ::

        async with AsyncProducer("my-group", namesrv_addr="127.0.0.1:9876") as producer:
            result = await producer.send(Message("TopicTest", b"hello", tags="TagA"))

    Times are seconds (floats); defaults are Java's.  ``namesrv_addr`` is
    ``host:port;host:port``; without it the ``NAMESRV_ADDR`` environment
    variable is used, then the HTTP address lookup at
    ``http://{namesrv_domain}:8080/rocketmq/{namesrv_domain_subgroup}``,
    refreshed every 2 minutes.

    With ``latency_fault_tolerance`` a broker that failed (or answered
    slowly) is avoided for a while: a send that took at least
    ``latency_max[i]`` seconds makes its broker unavailable for
    ``not_available_duration[i]`` seconds, and a failure counts as 10 s of
    latency (Java 5.x ``setLatencyMax`` / ``setNotAvailableDuration``, there
    in milliseconds; defaults 0.05 0.1 0.55 1.8 3 5 15 -> 0 0 2 5 6 10 30,
    so a failed broker is avoided for 10 s, then tried again).
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
        latency_max: Sequence[float] | None = None,
        not_available_duration: Sequence[float] | None = None,
        credentials: Credentials | None = None,
        ssl: _ssl.SSLContext | bool | None = None,
        trace: FrameObserver | str | os.PathLike[str] | None = None,
    ) -> None:
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
        self.group = group
        self.state = ServiceState.CREATE_JUST
        self.instance_name = instance_name or os.environ.get("ROCKETMQ_CLIENT_NAME") or "DEFAULT"
        self.unit_name = unit_name
        self.client_ip = client_ip or local_ipv4()
        env_addr = os.environ.get("NAMESRV_ADDR")
        self._namesrv = _parse_namesrv(namesrv_addr) if namesrv_addr else (_parse_namesrv(env_addr) if env_addr else ())
        self._namesrv_domain = namesrv_domain or os.environ.get("ROCKETMQ_NAMESRV_DOMAIN") or "jmenv.tbsite.net"
        self._namesrv_subgroup = namesrv_domain_subgroup or os.environ.get("ROCKETMQ_NAMESRV_DOMAIN_SUBGROUP") or "nsaddr"
        self._heartbeat_interval = float(heartbeat_interval)
        self._poll_interval = float(poll_name_server_interval)
        self._request_timeout = float(request_timeout)
        self._serialize_type = SerializeType(serialize_type)
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
        instance.add_route_listener(self._on_route)
        key = self._opts.create_topic_key
        self._publish[key] = TopicPublishInfo(key, [])
        try:
            await instance.start(self._publish_topics)
            # learn the brokers (and prove a name server answers) before the first heartbeat
            await instance.update_route(key)
        except BaseException:
            instance.producers.pop(self.group, None)
            instance.remove_route_listener(self._on_route)
            if instance.user_producer_count == 0:
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

    def _publish_topics(self) -> Iterable[str]:
        return list(self._publish)

    def _on_route(self, topic: str, route: TopicRouteData) -> None:
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
        instance.remove_route_listener(self._on_route)
        try:
            await instance.unregister_producer(self.group)
        finally:
            if instance.user_producer_count == 0:
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
        info = await self._find_publish_info(topic, self._opts.send_timeout)
        return list(info.queues)

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
        if not isinstance(msg, Message):
            raise TypeError(f"expected a Message, not {type(msg).__name__}")
        validate_topic(msg.topic)
        if not msg.body:
            raise InvalidMessageError("the message body length is zero")
        if len(msg.body) > self._opts.max_message_size:
            raise InvalidMessageError(
                f"the message body size over max value, MAX: {self._opts.max_message_size}"
            )
        if msg.delay_level is not None and (not isinstance(msg.delay_level, int) or msg.delay_level < 0):
            raise InvalidMessageError(f"delay_level must be an int >= 0, not {msg.delay_level!r}")

    def _prepare_single(self, msg: Message) -> tuple[dict[str, str], bytes, int]:
        """Checks, wire properties with a new UNIQ_KEY, and the (maybe
        compressed) body with its sysFlag bits, for one message."""
        self._check_running()
        self._check_message(msg)
        props = msg.wire_properties()
        props[PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = new_message_id()
        body, sys_flag = compress_body(msg.body, compress_over=self._opts.compress_over, level=self._opts.compress_level)
        return props, body, sys_flag

    async def send(self, msg: Message, *, queue: MessageQueue | None = None, timeout: float | None = None) -> SendResult:
        """Send ``msg`` and wait for the broker's answer.

        Retries on retriable failures (connection problems, timeouts,
        SYSTEM_BUSY, SERVICE_NOT_AVAILABLE ...) on another broker where there
        is one, all within ``timeout`` (default ``send_timeout``).  With
        ``queue`` the message goes to that queue only (orderly sends), still
        retried there.  Returns a :class:`SendResult` or raises: a message is
        never dropped silently.
        """
        props, body, sys_flag = self._prepare_single(msg)
        result = await self._send_with_retries(
            msg.topic, body, props, sys_flag, msg.flag, batch=False, queue=queue, timeout=timeout, oneway=False
        )
        assert result is not None
        return result

    async def send_oneway(self, msg: Message, *, queue: MessageQueue | None = None) -> None:
        """Send ``msg`` with the oneway flag: no answer, one attempt.

        Raises if it could not be written (no route, no connection); whether
        the broker stored it cannot be known.
        """
        props, body, sys_flag = self._prepare_single(msg)
        await self._send_with_retries(
            msg.topic, body, props, sys_flag, msg.flag, batch=False, queue=queue, timeout=None, oneway=True
        )

    async def send_batch(self, messages: Sequence[Message], *, queue: MessageQueue | None = None, timeout: float | None = None) -> SendResult:
        """Send several messages of one topic as one SEND_BATCH_MESSAGE.

        As Java's ``MessageBatch``: same topic and same ``wait_store_msg_ok``
        for all, no delay level, no retry topic, never compressed; every
        message gets its own UNIQ_KEY and ``SendResult.msg_id`` joins them.
        """
        self._check_running()
        if not messages:
            raise InvalidMessageError("a batch needs at least one message")
        first = messages[0]
        entries: list[BatchEntry] = []
        ids: list[str] = []
        for msg in messages:
            self._check_message(msg)
            if msg.topic != first.topic:
                raise InvalidMessageError("the topic of the messages in one batch should be the same")
            if msg.wait_store_msg_ok != first.wait_store_msg_ok:
                raise InvalidMessageError("the waitStoreMsgOK of the messages in one batch should the same")
            if msg.delay_level:
                raise InvalidMessageError("TimeDelayLevel is not supported for batching")
            if msg.topic.startswith("%RETRY%"):
                raise InvalidMessageError("Retry Group is not supported for batching")
            props = msg.wire_properties()
            uniq = new_message_id()
            props[PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = uniq
            ids.append(uniq)
            entries.append(BatchEntry(body=msg.body, properties=props, flag=msg.flag))
        body = encode_batch(entries)
        if len(body) > self._opts.max_message_size:
            raise InvalidMessageError(f"the batch body size over max value, MAX: {self._opts.max_message_size}")
        batch_props = {PROPERTY_WAIT_STORE_MSG_OK: "true" if first.wait_store_msg_ok else "false"}
        result = await self._send_with_retries(
            first.topic, body, batch_props, 0, 0, batch=True, queue=queue, timeout=timeout, oneway=False, msg_ids=ids
        )
        assert result is not None
        return result

    async def _send_with_retries(
        self,
        topic: str,
        body: bytes,
        props: dict[str, str],
        sys_flag: int,
        flag: int,
        *,
        batch: bool,
        queue: MessageQueue | None,
        timeout: float | None,
        oneway: bool,
        msg_ids: list[str] | None = None,
    ) -> SendResult | None:
        loop = asyncio.get_running_loop()
        total = self._opts.send_timeout if timeout is None else timeout
        deadline = loop.time() + total
        info = await self._find_publish_info(topic, total)
        attempts = 1 if oneway else 1 + self._opts.retry_times_when_send_failed
        properties = encode_properties(props)
        uniq = ",".join(msg_ids) if msg_ids else props.get(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "")
        last_broker: str | None = None
        last_error: RocketMQError | None = None
        tracker = self._opts.fault_tracker
        for attempt in range(attempts):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            if queue is not None:
                mq = queue
            else:
                avoid = tracker.avoided(loop.time()) if self._opts.latency_fault_tolerance else frozenset()
                mq = info.select_queue(last_broker, avoid)
            started = loop.time()
            try:
                result = await self._send_kernel(mq, body, properties, sys_flag, flag, batch, oneway, remaining, uniq)
            except RemotingError as exc:
                tracker.update(mq.broker_name, (loop.time() - started) * 1000, isolated=True, now=loop.time())
                log.warning("send to %s failed (attempt %d/%d): %s", mq.broker_name, attempt + 1, attempts, exc)
                last_error, last_broker = exc, mq.broker_name
                continue
            except BrokerError as exc:
                tracker.update(mq.broker_name, (loop.time() - started) * 1000, isolated=True, now=loop.time())
                if not exc.retriable:
                    raise
                log.warning("send to %s failed (attempt %d/%d): %s", mq.broker_name, attempt + 1, attempts, exc)
                last_error, last_broker = exc, mq.broker_name
                continue
            tracker.update(mq.broker_name, (loop.time() - started) * 1000, isolated=False, now=loop.time())
            if result is None or result.status is SendStatus.SEND_OK:
                return result
            if not self._opts.retry_another_broker_when_not_store_ok or attempt == attempts - 1:
                return result
            last_broker = mq.broker_name
        if last_error is not None:
            raise last_error
        raise RequestTimeoutError(f"send to topic {topic} timed out after {total:g} s")

    async def _send_kernel(
        self,
        mq: MessageQueue,
        body: bytes,
        properties: str,
        sys_flag: int,
        flag: int,
        batch: bool,
        oneway: bool,
        timeout: float,
        uniq: str,
    ) -> SendResult | None:
        instance = self.instance
        addr = instance.master_addr(mq.broker_name)
        if addr is None:
            await self._find_publish_info(mq.topic, timeout)
            addr = instance.master_addr(mq.broker_name)
            if addr is None:
                raise NoRouteError(f"The broker[{mq.broker_name}] not exist")
        header = SendMessageRequestHeader(
            producer_group=self.group,
            topic=mq.topic,
            default_topic=self._opts.create_topic_key,
            default_topic_queue_nums=self._opts.default_topic_queue_nums,
            queue_id=mq.queue_id,
            sys_flag=sys_flag,
            born_timestamp=int(time.time() * 1000),
            flag=flag,
            properties=properties,
            reconsume_times=0,
            unit_mode=False,
            batch=batch,
            broker_name=mq.broker_name,
        )
        v2 = self._opts.use_v2 or batch
        cmd = instance.make_request(header.request_code(v2), header.to_ext_fields(v2), body, oneway=oneway)
        if oneway:
            await instance.invoke_oneway(addr, cmd, timeout)
            return None
        response = await instance.invoke(addr, cmd, timeout)
        return self._process_response(mq, response, addr, uniq)

    def _process_response(self, mq: MessageQueue, response: RemotingCommand, addr: str, uniq: str) -> SendResult:
        status = _STATUS_BY_CODE.get(response.code)  # type: ignore[call-overload]
        if status is None:
            raise BrokerError.for_code(response.code, response.remark, addr)
        header = SendMessageResponseHeader.from_command(response)
        return SendResult(
            status=status,
            msg_id=header.batch_uniq_id or uniq,
            offset_msg_id=header.msg_id,
            message_queue=MessageQueue(mq.topic, mq.broker_name, header.queue_id),
            queue_offset=header.queue_offset,
            transaction_id=header.transaction_id,
            region_id=header.msg_region,
            trace_on=header.trace_on if header.trace_on is not None else True,
        )
