"""An embedded cluster: one name server, its brokers, the optional HTTP
address server, on loopback by default.

No single Java class: it is what ``NamesrvStartup`` plus one
``BrokerStartup`` per broker (all in cluster ``DefaultCluster``) put up.  It
owns what the servers share (the topic tables, the client manager, the
request pipeline with its faults and records, the delayed-answer tasks) and
the lifecycle: start, stop, and taking single servers down and up again
with their state kept (a real broker keeps its store on disk).  It is also
where the broker's own requests to clients start
(:meth:`EmbeddedCluster.notify_consumer_ids_changed`,
:meth:`~EmbeddedCluster.request_client`).

``rmqwire.testing.LocalBroker`` is the facade tests and the CLI use.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import ssl as _ssl
from collections.abc import Mapping

from ..codec.command import RemotingCommand
from ..codec.errors import ConfigError, ConnectionClosedError, ServiceStateError
from ..codec.message import AUTO_CREATE_TOPIC_KEY_TOPIC
from ..request_reply import reply_topic
from .client_manager import ClientManager
from .config import CLUSTER_NAME, NAMESRV, ClusterConfig
from .controller import BrokerController
from .dispatch import RequestPipeline
from .faults import Fault
from .http import http_listener
from .namesrv import NamesrvController
from .server import Listener, TaskSet
from .store import StoredMessage
from .topics import PERM_RW, PERM_RWX, TopicTable

__all__ = ["EmbeddedCluster"]

log = logging.getLogger(__name__)


class EmbeddedCluster:
    """A name server and ``config.broker_names`` brokers.

    ``ssl`` puts TLS on every listener; ``acl`` (access key -> secret key)
    makes every server check ACL 1.0 signatures (see :mod:`.dispatch`).
    """

    def __init__(
        self,
        config: ClusterConfig,
        *,
        ssl: _ssl.SSLContext | None = None,
        acl: Mapping[str, str] | None = None,
        record_requests: bool = True,
    ) -> None:
        self.config = config
        self.ssl = ssl
        self.pipeline = RequestPipeline(acl=acl, record_requests=record_requests)
        self.tasks = TaskSet()
        self.topics = TopicTable(config.broker_names)
        self.clients = ClientManager(config.broker_names)
        sequence = itertools.count()
        self.brokers: dict[str, BrokerController] = {}
        for i, name in enumerate(config.broker_names):
            self.brokers[name] = BrokerController(
                name,
                config,
                port=config.broker_port if i == 0 else 0,
                topics=self.topics,
                clients=self.clients,
                pipeline=self.pipeline,
                tasks=self.tasks,
                sequence=sequence,
            )
        self.namesrv = NamesrvController(
            config, self.topics, lambda: self.broker_addrs, pipeline=self.pipeline, tasks=self.tasks
        )
        self.http: Listener | None = (
            http_listener(config.http_port, lambda: self.namesrv_addr) if config.http_port is not None else None
        )
        self.state = "new"  # -> "running" -> "stopped"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Create the configured topics and listen on every port.
        :class:`~codec.errors.ServiceStateError` unless it is new."""
        if self.state != "new":
            raise ServiceStateError(f"the embedded cluster cannot start: it is {self.state}")
        self.state = "running"
        config = self.config
        if config.auto_create_topics:
            self.topics.create(AUTO_CREATE_TOPIC_KEY_TOPIC, config.queues, perm=PERM_RWX)
        for topic in config.topics:
            self.topics.create(topic, config.queues)
        # TopicConfigManager: every broker has its cluster's reply topic, one queue
        self.topics.create(reply_topic(CLUSTER_NAME), 1)
        try:
            await self.namesrv.listener.listen(config.host, self.ssl)
            for broker in self.brokers.values():
                await broker.listen(config.host, self.ssl)
            if self.http is not None:
                await self.http.listen(config.host, self.ssl)
            for broker in self.brokers.values():
                broker.start_services()
        except BaseException:
            await self.stop()
            raise
        log.info("embedded name server %s, brokers %s", self.namesrv_addr, self.broker_addrs)

    async def stop(self) -> None:
        """Close every listener and connection and cancel every task; idempotent."""
        if self.state != "running":
            self.state = "stopped"
            return
        self.state = "stopped"
        for broker in self.brokers.values():
            broker.stop_services()
        for listener in self.listeners:
            await listener.close()
        await self.tasks.cancel_all()

    @property
    def listeners(self) -> list[Listener]:
        listeners: list[Listener] = [self.namesrv.listener, *(b.listener for b in self.brokers.values())]
        if self.http is not None:
            listeners.append(self.http)
        return listeners

    def listener(self, name: str) -> Listener:
        """The listener of a broker or of the name server (``"namesrv"``);
        :class:`~codec.errors.ConfigError` for an unknown name."""
        if name == NAMESRV:
            return self.namesrv.listener
        return self.broker(name).listener

    def broker(self, name: str | None = None) -> BrokerController:
        """A broker by name (default: the first); :class:`~codec.errors.ConfigError` if unknown."""
        if name is None:
            return next(iter(self.brokers.values()))
        broker = self.brokers.get(name)
        if broker is None:
            raise ConfigError(f"no broker named {name!r} (brokers: {', '.join(self.brokers)})")
        return broker

    async def stop_server(self, name: str) -> None:
        """Close one server's listener and connections (connecting is refused)."""
        await self.listener(name).close()

    async def start_server(self, name: str) -> None:
        """Listen again, on the same port, for a server :meth:`stop_server` took down."""
        listener = self.listener(name)
        if self.state != "running":
            raise ServiceStateError(f"the embedded cluster is {self.state}, not running")
        if not listener.listening:
            if name == NAMESRV:
                await listener.listen(self.config.host, self.ssl)
            else:
                await self.brokers[name].listen(self.config.host, self.ssl)

    def check_server(self, name: str | None) -> None:
        """:class:`~codec.errors.ConfigError` unless ``name`` is None, a broker or ``"namesrv"``."""
        if name is not None and name != NAMESRV and name not in self.brokers:
            raise ConfigError(f"no broker named {name!r} (brokers: {', '.join(self.brokers)})")

    # ------------------------------------------------------------------ addresses

    def _port(self, listener: Listener) -> int:
        if self.state == "new":
            raise ServiceStateError("the embedded cluster is not started: its ports are not bound yet")
        return listener.port

    @property
    def namesrv_addr(self) -> str:
        return f"{self.config.advertised_host}:{self._port(self.namesrv.listener)}"

    @property
    def broker_addrs(self) -> dict[str, str]:
        host = self.config.advertised_host
        return {name: f"{host}:{self._port(b.listener)}" for name, b in self.brokers.items()}

    @property
    def http_addr(self) -> str | None:
        if self.http is None:
            return None
        return f"{self.config.advertised_host}:{self._port(self.http)}"

    # ------------------------------------------------------------------ state

    def messages(self, topic: str | None = None, broker_name: str | None = None) -> list[StoredMessage]:
        """Stored messages in arrival order across brokers, optionally of one topic / one broker."""
        stores = [self.broker(broker_name).store] if broker_name is not None else [b.store for b in self.brokers.values()]
        if len(stores) == 1:
            return stores[0].messages(topic)
        merged = heapq.merge(*(s.sequenced() for s in stores), key=lambda entry: entry[0])
        return [m for _, m in merged if topic is None or m.topic == topic]

    def create_topic(self, topic: str, queues: int | None = None, broker_name: str | None = None) -> None:
        """Create (or resize) ``topic`` on one broker or, by default, on all."""
        nums = self.config.queues if queues is None else queues
        if isinstance(nums, bool) or not isinstance(nums, int) or nums < 1:
            raise ConfigError(f"queues must be an int of at least 1, not {nums!r}")
        if not isinstance(topic, str) or not topic:
            raise ConfigError(f"a topic must be a non-empty string, not {topic!r}")
        targets = [self.broker(broker_name).name] if broker_name is not None else None
        perm = PERM_RWX if topic == AUTO_CREATE_TOPIC_KEY_TOPIC else PERM_RW
        self.topics.create(topic, nums, targets, perm=perm)

    def clear(self) -> None:
        """Forget stored messages and every record; topics, queue offsets
        and live connection tables stay."""
        for broker in self.brokers.values():
            broker.store.clear()
        self.clients.clear_records()
        self.pipeline.requests.clear()

    def inject(self, fault: Fault) -> Fault:
        if not isinstance(fault, Fault):
            raise TypeError(f"inject() takes a Fault, not {type(fault).__name__}")
        self.check_server(fault.broker)
        return self.pipeline.faults.add(fault)

    @property
    def connections(self) -> int:
        """Open client connections to the name server and the brokers."""
        return len(self.namesrv.listener.conns) + sum(len(b.listener.conns) for b in self.brokers.values())

    # ------------------------------------------------------------------ the broker's own requests

    def _running(self) -> None:
        if self.state != "running":
            raise ServiceStateError(f"the embedded cluster is {self.state}, not running")

    async def notify_consumer_ids_changed(self, group: str, *, broker_name: str | None = None) -> int:
        """Send NOTIFY_CONSUMER_IDS_CHANGED (code 40, oneway, header
        ``consumerGroup``) to every connection of ``group``'s consumers on one
        broker or on all; returns how many connections got it."""
        self._running()
        brokers = [self.broker(broker_name)] if broker_name is not None else list(self.brokers.values())
        return sum(b.notify_consumer_ids_changed(group) for b in brokers)

    def _broker_of_client(self, client_id: str, broker_name: str | None) -> BrokerController:
        if broker_name is not None:
            return self.broker(broker_name)
        for name in self.brokers:
            if self.clients.channels_of(client_id, name):
                return self.brokers[name]
        raise ConnectionClosedError(f"client {client_id!r} has no open connection to any broker")

    async def request_client(
        self, client_id: str, request: RemotingCommand, timeout: float = 3.0, *, broker_name: str | None = None
    ) -> RemotingCommand:
        """Send a two-way request to ``client_id`` (over its connection with
        the latest heartbeat, to ``broker_name`` or to any broker) and return
        the answer.  Raises :class:`~codec.errors.RequestTimeoutError` after
        ``timeout`` seconds, :class:`~codec.errors.ConnectionClosedError` if
        the client has no open connection or it closes first."""
        self._running()
        return await self._broker_of_client(client_id, broker_name).request_client(client_id, request, timeout)

    async def send_oneway_to_client(
        self, client_id: str, request: RemotingCommand, *, broker_name: str | None = None
    ) -> int:
        """Send a oneway request (e.g. CHECK_TRANSACTION_STATE) to
        ``client_id``; returns the opaque it went out with."""
        self._running()
        return self._broker_of_client(client_id, broker_name).send_oneway_to_client(client_id, request)

    async def check_transactions(self, *, broker_name: str | None = None) -> list[StoredMessage]:
        """Run a transaction check-back round now on one broker or on all (as
        every ``transaction_check_interval`` does): CHECK_TRANSACTION_STATE
        goes to a producer of each half message old enough to be asked
        about.  Returns the half-message copies asked about."""
        self._running()
        brokers = [self.broker(broker_name)] if broker_name is not None else list(self.brokers.values())
        return [copy for b in brokers for copy in b.transaction_checker.run_round().checks]

    def __repr__(self) -> str:
        return f"<EmbeddedCluster {self.state} brokers={list(self.brokers)}>"

