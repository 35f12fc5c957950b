"""``LocalBroker``: an embedded name server and broker(s) for tests, benchmarks,
the CLI demo and interop runs with real third-party clients.

A thin facade over :mod:`rmqwire.broker` (the name server, brokers, store,
processors, faults, TLS material, HTTP address server and thread runner
live there, each in its own module): it keeps the constructor options and
the inspection methods tests use, and re-exports the records and the fault
DSL (:class:`StoredMessage`, :class:`ClientInfo`, :class:`Fault`, ...).  The
pytest fixtures are in :mod:`rmqwire.pytest_plugin`.

On the wire it answers what a Java 4.9 name server and broker answer on the
producer path (route lookups in fastjson's legacy or standard JSON,
heartbeats, unregistration, SEND_MESSAGE / SEND_MESSAGE_V2 /
SEND_BATCH_MESSAGE with Java's checks, response codes and remarks), and it
can send requests of its own to connected clients
(:meth:`LocalBroker.notify_consumer_ids_changed`,
:meth:`LocalBroker.request_client`).
"""

from __future__ import annotations

import contextlib
import ssl as _ssl
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

from .broker.client_manager import ClientInfo
from .broker.cluster import EmbeddedCluster
from .broker.config import CLUSTER_NAME, IDLE_TIMEOUT, MAX_MESSAGE_SIZE, NAMESRV, SERVER_VERSION, ClusterConfig, RouteJson
from .broker.controller import BrokerController
from .broker.faults import Fault, FaultKind
from .broker.runner import ThreadRunner
from .broker.schedule import DEFAULT_DELAY_LEVELS
from .broker.store import StoredMessage
from .broker.tls import self_signed_tls
from .broker.processors.consumer_admin import ask_consume_directly, ask_running_info
from .codec.body import ConsumeMessageDirectlyResult, ConsumerRunningInfo, HeartbeatData, MessageQueueData
from .codec.command import RemotingCommand
from .codec.enums import LanguageCode
from .codec.stream import DEFAULT_MAX_FRAME_SIZE

__all__ = [
    "LocalBroker",
    "StoredMessage",
    "ClientInfo",
    "Fault",
    "FaultKind",
    "RouteJson",
    "NAMESRV",
    "CLUSTER_NAME",
    "SERVER_VERSION",
    "MAX_MESSAGE_SIZE",
    "self_signed_tls",
]

_T = TypeVar("_T")


class LocalBroker:
    """An asyncio name server plus one or more brokers, on loopback by default.

    ``broker_names`` gives one broker (with its own port) per name, all in
    cluster ``DefaultCluster``; ``broker_port`` is the first broker's port
    (0 = ephemeral, as for every port).  Each topic has ``queues`` read and
    write queues on each broker that has it.  ``topics`` are created at start
    on every broker; with ``auto_create_topics`` the auto-create key topic
    ``TBW102`` exists (perm 7) and a send naming it as default topic creates
    an unknown topic with ``min(defaultTopicQueueNums, queues)`` queues, as
    Java's ``TopicConfigManager.createTopicInSendMessageMethod`` does.  Java
    creates it on the broker that received the send only; here
    ``auto_create_scope="cluster"`` (the default) creates it on every broker
    so that routes span the cluster, and ``"broker"`` is Java's way.

    ``route_json`` picks the route body encoding: ``"auto"`` answers standard
    JSON when the request's version is at least 401 or it carries
    ``acceptStandardJsonOnly=true`` and fastjson's legacy form (unquoted
    integer keys) otherwise, as a 4.9.4+ name server does; ``"legacy"`` is a
    name server up to 4.9.3; ``"standard"`` always answers standard JSON
    (``standard_json=True`` is the same).

    ``http_port`` (when not None) also serves ``GET /rocketmq/{subgroup}``,
    answering the name server address as ``text/plain``.  ``ssl`` puts TLS on
    every listener: an ``ssl.SSLContext`` with the server's certificate, or
    ``True`` for a throwaway self-signed certificate for the host (made now,
    see :func:`self_signed_tls`), which :attr:`client_ssl` trusts.

    ``acl`` (access key -> secret key) makes the name server and every broker
    check each request's ACL 1.0 signature (``AccessKey``, ``Signature``, as
    Java's ``AclClientRPCHook`` makes them; :func:`codec.acl.verify_command`)
    before anything else, as a broker with ``aclEnable=true`` does: a request
    without an access key, with an unknown one or with a bad signature is not
    handled and is answered NO_PERMISSION (16) with the remark of Java's
    ``PlainPermissionManager`` (``Check signature failed for accessKey=AK``);
    a oneway one gets nothing.  Secrets never reach the logs.

    ``record_requests=False`` keeps :attr:`requests` empty (for benchmarks).
    ``max_message_size`` is the store's limit on one message record (Java's
    ``maxMessageSize``, 4 MiB).  ``max_queue_messages`` / ``max_queue_bytes``
    bound what each queue keeps (the oldest go, the min offset moves);
    ``max_buffered_bytes`` caps the unfinished-frame bytes each server holds
    across its connections (the connection that would exceed it is closed).
    ``idle_timeout`` (Java's ``serverChannelMaxIdleTimeSeconds``, 120 s;
    ``None``: never) closes a connection that sends no complete frame for
    that many seconds, unless an answer to it is still held.
    ``notify_consumer_ids_changed`` (Java's default: on) pushes
    NOTIFY_CONSUMER_IDS_CHANGED to a consumer group's connections when its
    membership changes.

    The consumer side answers PULL_MESSAGE with long polling (a pull with
    the SUSPEND flag that finds nothing is held until a message arrives or
    its ``suspendTimeoutMillis`` passes; ``long_polling=False`` holds it
    ``short_polling_time`` seconds instead, as Java's short polling;
    ``max_suspend`` caps the hold, a test's knob), consumer offsets,
    consumer lists, send-back into ``%RETRY%group`` / ``%DLQ%group``, queue
    locks that expire after ``lock_expiry`` seconds (Java: 60), and delayed
    delivery on ``delay_levels`` (Java's ``messageDelayLevel``) with every
    delay multiplied by ``delay_scale`` (``0.01`` makes level 3 take 0.1 s):
    a message with a ``DELAY`` level waits in ``SCHEDULE_TOPIC_XXXX`` and
    shows in :meth:`messages` of its topic once delivered.

    Transactional messages (see :mod:`rmqwire.broker.transaction`): a
    prepared message waits in ``RMQ_SYS_TRANS_HALF_TOPIC`` until its producer
    ends the transaction (END_TRANSACTION: commit stores it in its real topic,
    rollback drops it).  Every ``transaction_check_interval`` seconds (Java's
    60) the broker checks back (CHECK_TRANSACTION_STATE to a producer of the
    group) the half messages older than ``transaction_timeout`` (Java's 6 s,
    or their ``CHECK_IMMUNITY_TIME_IN_SECONDS``), each at most
    ``transaction_check_max`` times (15), then gives up on it;
    :meth:`check_transactions` runs a round at once.
    ``reject_transaction_message`` refuses prepared messages (NO_PERMISSION).
    A bad option raises :class:`~codec.errors.ConfigError`.

    Where this differs from Java 4.9, knowingly:

    * the name server answers REQUEST_CODE_NOT_SUPPORTED to codes it does not
      know (a Java name server answers nothing at all);
    * ``"batch":"1"`` (the C++ client's way) counts as a batch, as
      :mod:`codec.headers` reads it (Java's ``Boolean.parseBoolean`` would not);
    * stored properties are the ones sent (Java drops ``WAIT`` and adds
      ``CLUSTER``), and commit log offsets advance by Java's record length
      computed from the sent sizes;
    * brokers never leave routes: a stopped broker stays in them, as it does
      for the 120 s a Java name server takes to notice;
    * with ``acl`` the name server checks signatures too (a Java name server
      does not), and the answer is always NO_PERMISSION (a Java broker's
      remoting layer turns the ``AclException`` into a code that depends on
      its version).
    * on the consumer side: every message counts as in memory (Java's
      in-memory transfer limits, 32 messages / 256 KiB a pull, and
      ``checkInDisk`` false for QUERY_CONSUMER_OFFSET); a held pull times out
      on its own timer, not at the next 5 s check; no ``OffsetMovedEvent`` is
      stored; SQL92 subscriptions are refused as with
      ``enablePropertyFilter=false``; every group has the default
      ``SubscriptionGroupConfig`` (16 retries, one retry queue).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        namesrv_port: int = 0,
        broker_port: int = 0,
        broker_names: Sequence[str] = ("broker-a",),
        queues: int = 4,
        auto_create_topics: bool = True,
        auto_create_scope: Literal["cluster", "broker"] = "cluster",
        topics: Sequence[str] = (),
        standard_json: bool = False,
        route_json: RouteJson = "auto",
        http_port: int | None = None,
        ssl: _ssl.SSLContext | bool | None = None,
        acl: Mapping[str, str] | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_message_size: int = MAX_MESSAGE_SIZE,
        record_requests: bool = True,
        max_queue_messages: int | None = None,
        max_queue_bytes: int | None = None,
        max_buffered_bytes: int | None = None,
        notify_consumer_ids_changed: bool = True,
        long_polling: bool = True,
        short_polling_time: float = 1.0,
        max_suspend: float | None = None,
        delay_levels: str = DEFAULT_DELAY_LEVELS,
        delay_scale: float = 1.0,
        lock_expiry: float = 60.0,
        idle_timeout: float | None = IDLE_TIMEOUT,
        transaction_check_interval: float = 60.0,
        transaction_timeout: float = 6.0,
        transaction_check_max: int = 15,
        reject_transaction_message: bool = False,
    ) -> None:
        config = ClusterConfig.build(
            host=host,
            namesrv_port=namesrv_port,
            broker_port=broker_port,
            broker_names=broker_names,
            queues=queues,
            auto_create_topics=auto_create_topics,
            auto_create_scope=auto_create_scope,
            topics=topics,
            standard_json=standard_json,
            route_json=route_json,
            http_port=http_port,
            max_frame_size=max_frame_size,
            max_message_size=max_message_size,
            max_queue_messages=max_queue_messages,
            max_queue_bytes=max_queue_bytes,
            max_buffered_bytes=max_buffered_bytes,
            notify_consumer_ids_changed=notify_consumer_ids_changed,
            long_polling=long_polling,
            short_polling_time=short_polling_time,
            max_suspend=max_suspend,
            delay_levels=delay_levels,
            delay_scale=delay_scale,
            lock_expiry=lock_expiry,
            idle_timeout=idle_timeout,
            transaction_check_interval=transaction_check_interval,
            transaction_timeout=transaction_timeout,
            transaction_check_max=transaction_check_max,
            reject_transaction_message=reject_transaction_message,
        )
        #: With ``ssl=True``: a client context trusting the self-signed certificate.
        self.client_ssl: _ssl.SSLContext | None = None
        server_ssl: _ssl.SSLContext | None
        if ssl is True:
            server_ssl, self.client_ssl = self_signed_tls(config.advertised_host)
        else:
            server_ssl = ssl or None
        #: The cluster this facade drives (its brokers, store, tables, registries).
        self.cluster = EmbeddedCluster(config, ssl=server_ssl, acl=acl, record_requests=record_requests)
        self._runner = ThreadRunner("rmqwire-local-broker")

    # ------------------------------------------------------------------ settings

    @property
    def config(self) -> ClusterConfig:
        return self.cluster.config

    @property
    def host(self) -> str:
        """The address the servers bind."""
        return self.cluster.config.host

    @property
    def advertised_host(self) -> str:
        """The address put in routes and message ids."""
        return self.cluster.config.advertised_host

    @property
    def queues(self) -> int:
        return self.cluster.config.queues

    @property
    def auto_create_topics(self) -> bool:
        return self.cluster.config.auto_create_topics

    @property
    def auto_create_scope(self) -> Literal["cluster", "broker"]:
        return self.cluster.config.auto_create_scope

    @property
    def route_json(self) -> RouteJson:
        return self.cluster.config.route_json

    @property
    def max_frame_size(self) -> int:
        return self.cluster.config.max_frame_size

    @property
    def max_message_size(self) -> int:
        return self.cluster.config.max_message_size

    @property
    def ssl(self) -> _ssl.SSLContext | None:
        return self.cluster.ssl

    @property
    def acl(self) -> dict[str, str] | None:
        """Access key -> secret key when requests must be signed; None: no
        ACL.  May be replaced while running (e.g. to rotate a secret)."""
        return self.cluster.pipeline.acl

    @acl.setter
    def acl(self, value: Mapping[str, str] | None) -> None:
        self.cluster.pipeline.acl = None if value is None else dict(value)

    @property
    def record_requests(self) -> bool:
        """Whether :attr:`requests` records what arrives (may be changed while running)."""
        return self.cluster.pipeline.record_requests

    @record_requests.setter
    def record_requests(self, value: bool) -> None:
        self.cluster.pipeline.record_requests = bool(value)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> LocalBroker:
        """Listen on every port (name server, brokers, HTTP); returns self.
        :class:`~codec.errors.ServiceStateError` unless it is new."""
        await self.cluster.start()
        return self

    async def stop(self) -> None:
        """Close every listener and connection and cancel every task; idempotent."""
        await self.cluster.stop()

    async def __aenter__(self) -> LocalBroker:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop_broker(self, name: str) -> None:
        """Take one server down: close its listener and its connections, so that
        connecting to it is refused.  ``name`` is a broker name or ``"namesrv"``."""
        await self.cluster.stop_server(name)

    async def start_broker(self, name: str) -> None:
        """Listen again, on the same port, for a server :meth:`stop_broker` took down."""
        await self.cluster.start_server(name)

    async def restart_broker(self, name: str) -> None:
        """:meth:`stop_broker` then :meth:`start_broker`: every client connection
        to it is closed; its topics and stored messages are kept (a real broker
        keeps them on disk)."""
        await self.stop_broker(name)
        await self.start_broker(name)

    # ------------------------------------------------------------------ running in a thread

    def start_in_thread(self, timeout: float = 10.0) -> LocalBroker:
        """Start on a new event loop in a daemon thread (for blocking code); returns self."""
        self._runner.start(self.start, timeout)
        return self

    def stop_in_thread(self, timeout: float = 10.0) -> None:
        """Stop the broker started by :meth:`start_in_thread` and join its thread; idempotent."""
        self._runner.stop(self.stop, timeout)

    def submit(self, coro: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        """Run ``coro`` (e.g. ``broker.restart_broker("broker-a")``) on the loop
        of a broker started with :meth:`start_in_thread`, and wait for it."""
        return self._runner.submit(coro, timeout)

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **kwargs: Any) -> Iterator[LocalBroker]:
        """``with LocalBroker.in_thread(**kwargs) as broker:`` a broker running on its
        own loop in a daemon thread, stopped (thread joined) on exit."""
        broker = cls(**kwargs)
        broker.start_in_thread()
        try:
            yield broker
        finally:
            broker.stop_in_thread()

    # ------------------------------------------------------------------ addresses

    @property
    def namesrv_addr(self) -> str:
        """``"host:port"`` of the name server."""
        return self.cluster.namesrv_addr

    @property
    def broker_addrs(self) -> dict[str, str]:
        """Broker name -> ``"host:port"``."""
        return self.cluster.broker_addrs

    @property
    def http_addr(self) -> str | None:
        """``"host:port"`` of the HTTP address server, or None without ``http_port``."""
        return self.cluster.http_addr

    @property
    def broker_names(self) -> list[str]:
        return list(self.cluster.brokers)

    def broker(self, name: str | None = None) -> BrokerController:
        """One broker (default: the first): its ``registry``, ``store`` ..."""
        return self.cluster.broker(name)

    # ------------------------------------------------------------------ inspection

    def messages(self, topic: str | None = None, *, broker_name: str | None = None) -> list[StoredMessage]:
        """Stored messages in store order, optionally of one topic / one broker."""
        return self.cluster.messages(topic, broker_name)

    @property
    def heartbeats(self) -> list[tuple[str, HeartbeatData, LanguageCode, int]]:
        """Every heartbeat received: (broker name, body, language, version)."""
        return self.cluster.clients.heartbeats

    @property
    def clients(self) -> dict[str, ClientInfo]:
        """Client id -> what its latest heartbeat said."""
        return self.cluster.clients.clients

    @property
    def unregistered(self) -> list[tuple[str, str, str | None, str | None]]:
        """Every UNREGISTER_CLIENT: (broker name, client id, producer group, consumer group)."""
        return self.cluster.clients.unregistered

    @property
    def requests(self) -> list[tuple[str, str | None, RemotingCommand]]:
        """Every command received, in order: (``"namesrv"`` or ``"broker"``,
        broker name or None, command)."""
        return self.cluster.pipeline.requests.entries

    @property
    def connections(self) -> int:
        """Open client connections to the name server and the brokers."""
        return self.cluster.connections

    def connections_to(self, name: str) -> int:
        """Open client connections to one broker (or ``"namesrv"``)."""
        return len(self.cluster.listener(name).conns)

    def consumer_offset(self, group: str, topic: str, queue_id: int, *, broker_name: str | None = None) -> int:
        """The offset ``group`` committed for one queue (``-1``: none), on
        one broker (default: the first)."""
        return self.cluster.broker(broker_name).offsets.query(group, topic, queue_id)

    def consumer_offsets(self, group: str, topic: str, *, broker_name: str | None = None) -> dict[int, int]:
        """Queue id -> offset ``group`` committed on ``topic`` (one broker, default the first)."""
        return self.cluster.broker(broker_name).offsets.offsets(group, topic)

    def consumer_ids(self, group: str, *, broker_name: str | None = None) -> list[str]:
        """The client ids of ``group``'s connections to one broker (default:
        the first), in joining order (GET_CONSUMER_LIST_BY_GROUP's answer)."""
        broker = self.cluster.broker(broker_name)
        return self.cluster.clients.consumer_ids(broker.name, group)

    def lock_holder(self, group: str, topic: str, queue_id: int, *, broker_name: str | None = None) -> str | None:
        """The client id holding an unexpired lock on a queue, or None."""
        broker = self.cluster.broker(broker_name)
        return broker.locks.holder(group, MessageQueueData(topic, broker.name, queue_id))

    def held_pulls(self, *, broker_name: str | None = None) -> int:
        """Pulls held (long polling) on one broker (default: the first)."""
        return len(self.cluster.broker(broker_name).pull.holds)

    def scheduled(self, *, broker_name: str | None = None) -> int:
        """Delayed messages (sends with a delay level, retries) not delivered yet."""
        return self.cluster.broker(broker_name).schedule.pending()

    def topics(self, broker_name: str | None = None) -> dict[str, int]:
        """Topic -> queue count, of one broker (default: the first)."""
        broker = self.cluster.broker(broker_name)
        return {name: config.read_queue_nums for name, config in self.cluster.topics.topics(broker.name).items()}

    def create_topic(self, topic: str, queues: int | None = None, *, broker_name: str | None = None) -> None:
        """Create (or resize) ``topic`` on one broker or, by default, on all."""
        self.cluster.create_topic(topic, queues, broker_name)

    def clear(self) -> None:
        """Forget stored messages and every record (requests, heartbeats,
        unregistrations, clients).  Topics, queue offsets, consumer offsets
        and queue locks stay, as on a real broker."""
        self.cluster.clear()

    # ------------------------------------------------------------------ faults

    def inject(self, fault: Fault) -> Fault:
        """Add ``fault``; faults are consumed in the order they were injected.
        :class:`~codec.errors.ConfigError` when it names an unknown broker."""
        return self.cluster.inject(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.cluster.pipeline.faults.clear()

    @property
    def faults(self) -> list[tuple[Fault, int | None]]:
        """Active faults with what is left of their ``times``."""
        return self.cluster.pipeline.faults.snapshot()

    # ------------------------------------------------------------------ requests to clients

    async def notify_consumer_ids_changed(self, group: str, *, broker_name: str | None = None) -> int:
        """Push NOTIFY_CONSUMER_IDS_CHANGED (40, oneway, ``consumerGroup``) to
        every connection of ``group`` (on one broker or all); returns how many."""
        return await self.cluster.notify_consumer_ids_changed(group, broker_name=broker_name)

    async def request_client(
        self, client_id: str, cmd: RemotingCommand, timeout: float = 3.0, *, broker_name: str | None = None
    ) -> RemotingCommand:
        """Send a two-way request (e.g. GET_CONSUMER_RUNNING_INFO) to the
        client that heartbeated as ``client_id`` and return its answer;
        :class:`~codec.errors.RequestTimeoutError` /
        :class:`~codec.errors.ConnectionClosedError` otherwise."""
        return await self.cluster.request_client(client_id, cmd, timeout, broker_name=broker_name)

    async def check_transactions(self, *, broker_name: str | None = None) -> list[StoredMessage]:
        """Run a transaction check-back round now (on one broker or all), as
        every ``transaction_check_interval`` does; returns the half-message
        copies whose producers were asked about them."""
        return await self.cluster.check_transactions(broker_name=broker_name)

    async def send_oneway_to_client(
        self, client_id: str, cmd: RemotingCommand, *, broker_name: str | None = None
    ) -> int:
        """Send a oneway request (e.g. CHECK_TRANSACTION_STATE) to ``client_id``;
        returns its opaque."""
        return await self.cluster.send_oneway_to_client(client_id, cmd, broker_name=broker_name)

    # ------------------------------------------------------------------ an operator's questions to consumers

    def _brokers_to_ask(self, broker_name: str | None) -> list[BrokerController]:
        self.cluster._running()
        return [self.broker(broker_name)] if broker_name is not None else [self.broker(n) for n in self.broker_names]

    async def consumer_running_info(
        self, group: str, client_id: str, *, jstack: bool = False, broker_name: str | None = None, timeout: float = 10.0
    ) -> ConsumerRunningInfo:
        """Ask consumer ``client_id`` of ``group`` for its running info
        (GET_CONSUMER_RUNNING_INFO 307, as ``mqadmin consumerStatus`` does
        through a broker it is connected to); a failure answer raises its
        :class:`~codec.errors.BrokerError`."""
        return await ask_running_info(self._brokers_to_ask(broker_name), group, client_id, jstack=jstack, timeout=timeout)

    async def consume_message_directly(
        self, group: str, client_id: str, msg_id: str, *, broker_name: str | None = None, timeout: float = 10.0
    ) -> ConsumeMessageDirectlyResult:
        """Have consumer ``client_id`` of ``group`` consume the stored message
        ``msg_id`` (its broker message id or its unique id) now
        (CONSUME_MESSAGE_DIRECTLY 309, ``mqadmin consumeMessage``)."""
        return await ask_consume_directly(self._brokers_to_ask(broker_name), group, client_id, msg_id, timeout=timeout)
