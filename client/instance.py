"""The client instance: connections, routes, heartbeats, shared by producers.

Mirrors ``MQClientInstance`` and ``MQClientManager``: one instance per client
id in the process (:data:`REGISTRY`), holding one connection per address, the
route and broker-address tables and the periodic tasks (route refresh,
heartbeat to every master broker with offline-broker cleaning, name-server
address lookup).  Producers register their group with it; the instance also
registers ``CLIENT_INNER_PRODUCER`` as Java's does, so heartbeats list both.

Theory of operation: ``start`` moves CREATE_JUST -> START_FAILED -> RUNNING
(a failure leaves START_FAILED), launching the periodic tasks on the running
event loop.  ``shutdown`` runs when the last user producer leaves: it
unregisters the inner group, cancels the tasks, closes every connection and
removes the instance from the registry.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import ssl as _ssl
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .codec.body import HeartbeatData, ProducerData, TopicRouteData
from .codec.command import RemotingCommand
from .codec.enums import LanguageCode, RequestCode, ResponseCode, SerializeType
from .codec.errors import (
    BrokerError,
    CodecError,
    ConfigError,
    ConnectError,
    ConnectionClosedError,
    RemotingError,
    RequestTimeoutError,
    ServiceStateError,
)
from .codec.headers import GetRouteInfoRequestHeader, UnregisterClientRequestHeader
from .codec.message import CLIENT_INNER_PRODUCER_GROUP

from .transport import Connection, FrameObserver, open_connection, parse_addr

if TYPE_CHECKING:
    from .codec.acl import Credentials

__all__ = ["ServiceState", "ClientConfig", "ClientInstance", "REGISTRY", "fetch_namesrv_addr"]

log = logging.getLogger(__name__)


class ServiceState(enum.Enum):
    """Java ``ServiceState``."""

    CREATE_JUST = "CREATE_JUST"
    RUNNING = "RUNNING"
    SHUTDOWN_ALREADY = "SHUTDOWN_ALREADY"
    START_FAILED = "START_FAILED"


@dataclass(frozen=True)
class ClientConfig:
    """What the client instance needs from the first producer's options."""

    client_id: str
    namesrv_addrs: tuple[str, ...]
    namesrv_domain: str | None
    namesrv_domain_subgroup: str
    request_timeout: float = 3.0
    heartbeat_interval: float = 30.0
    poll_name_server_interval: float = 30.0
    namesrv_lookup_interval: float = 120.0
    connect_timeout: float = 3.0
    language: LanguageCode = LanguageCode.PYTHON
    serialize_type: SerializeType = SerializeType.JSON
    ssl: _ssl.SSLContext | None = None
    credentials: Credentials | None = None
    observer: FrameObserver | None = field(default=None, compare=False)


async def fetch_namesrv_addr(domain: str, subgroup: str, timeout: float = 3.0) -> tuple[str, ...]:
    """Java's ``TopAddressing``: GET ``http://{domain}:8080/rocketmq/{subgroup}``
    and split the answer on ``;``.  A domain with a port is used as given."""
    host_port = domain if ":" in domain else f"{domain}:8080"
    host, port = parse_addr(host_port)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        raise ConnectError(host_port, f"name server address lookup failed: {exc or 'timeout'}") from None
    try:
        writer.write(f"GET /rocketmq/{subgroup} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii"))
        raw = await asyncio.wait_for(reader.read(65536), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        raise ConnectError(host_port, f"name server address lookup failed: {exc or 'timeout'}") from None
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)
    if len(status) < 2 or status[1] != b"200":
        raise ConnectError(host_port, f"name server address lookup answered {head[:60]!r}")
    addrs = tuple(a.strip() for a in body.decode("utf-8", "replace").strip().split(";") if a.strip())
    if not addrs:
        raise ConnectError(host_port, "name server address lookup returned no address")
    return addrs


class ClientInstance:
    """Connections, route tables and periodic tasks for one client id."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.client_id = config.client_id
        self.loop = asyncio.get_running_loop()
        self.state = ServiceState.CREATE_JUST
        self.namesrv_addrs: tuple[str, ...] = config.namesrv_addrs
        self._namesrv_index = random.randrange(999)
        self.producers: dict[str, object] = {}
        self.topic_routes: dict[str, TopicRouteData] = {}
        self.broker_addrs: dict[str, dict[int, str]] = {}
        self._connections: dict[str, Connection] = {}
        self._connecting: dict[str, asyncio.Lock] = {}
        # False once shutdown closes the connections: no new one may open
        # (shutdown itself still connects to unregister before that)
        self._may_connect = True
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat_lock = asyncio.Lock()
        self._route_listeners: list[Callable[[str, TopicRouteData], None]] = []

    # -- producers
    def register_producer(self, group: str, producer: object) -> bool:
        """``producerTable.putIfAbsent``: False if the group is taken."""
        if group in self.producers:
            return False
        self.producers[group] = producer
        return True

    def add_route_listener(self, listener: Callable[[str, TopicRouteData], None]) -> None:
        """Call ``listener(topic, route)`` after every route refresh."""
        self._route_listeners.append(listener)

    def remove_route_listener(self, listener: Callable[[str, TopicRouteData], None]) -> None:
        if listener in self._route_listeners:
            self._route_listeners.remove(listener)

    @property
    def user_producer_count(self) -> int:
        return sum(1 for g in self.producers if g != CLIENT_INNER_PRODUCER_GROUP)

    # -- lifecycle
    async def start(self, publish_topics: Callable[[], Iterable[str]]) -> None:
        """Start once: resolve the name server list, launch the periodic tasks."""
        if self.state is ServiceState.RUNNING:
            return
        if self.state is not ServiceState.CREATE_JUST:
            raise ServiceStateError(f"client instance {self.client_id} is {self.state.value}")
        self.state = ServiceState.START_FAILED
        if not self.namesrv_addrs:
            if not self.config.namesrv_domain:
                raise ConfigError("no name server address: set namesrv_addr or NAMESRV_ADDR")
            self.namesrv_addrs = await fetch_namesrv_addr(
                self.config.namesrv_domain, self.config.namesrv_domain_subgroup, self.config.request_timeout
            )
        self.producers.setdefault(CLIENT_INNER_PRODUCER_GROUP, self)
        self._publish_topics = publish_topics
        # Java polls routes 10 ms after start; our start has just fetched TBW102
        # and send() fetches what it needs, so the first poll waits a period.
        self._spawn(self._every(self.config.poll_name_server_interval, self._refresh_routes))
        self._spawn(self._every(self.config.heartbeat_interval, self._heartbeat_round, first=1.0))
        if not self.config.namesrv_addrs and self.config.namesrv_domain:
            self._spawn(self._every(self.config.namesrv_lookup_interval, self._refresh_namesrv_addrs))
        self.state = ServiceState.RUNNING

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = self.loop.create_task(coro)
        self._tasks.append(task)

    async def _every(self, period: float, job: Callable[[], Awaitable[None]], first: float | None = None) -> None:
        await asyncio.sleep(period if first is None else first)
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a periodic task logs and goes on, as Java's scheduler does
                log.warning("periodic task %s failed: %s", getattr(job, "__name__", job), exc)
            await asyncio.sleep(period)

    async def _refresh_namesrv_addrs(self) -> None:
        assert self.config.namesrv_domain
        addrs = await fetch_namesrv_addr(self.config.namesrv_domain, self.config.namesrv_domain_subgroup)
        if addrs != self.namesrv_addrs:
            log.info("name server list changed: %s -> %s", ";".join(self.namesrv_addrs), ";".join(addrs))
            self.namesrv_addrs = addrs

    async def _heartbeat_round(self) -> None:
        self.clean_offline_brokers()
        await self.send_heartbeat_to_all_brokers()

    async def shutdown(self) -> None:
        """Unregister the inner group, stop the tasks, close every connection."""
        if self.state is ServiceState.SHUTDOWN_ALREADY:
            return
        was_running = self.state is ServiceState.RUNNING
        self.state = ServiceState.SHUTDOWN_ALREADY
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if was_running and CLIENT_INNER_PRODUCER_GROUP in self.producers:
            await self.unregister_client(CLIENT_INNER_PRODUCER_GROUP)
        self.producers.clear()
        self._may_connect = False
        conns = list(self._connections.values())
        self._connections.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            # close() waits for the write buffer to drain (and for TLS, for the
            # peer's close_notify): a peer that stops reading must not hold
            # shutdown up forever, so abort after the connect timeout.
            try:
                await asyncio.wait_for(conn.wait_closed(), self.config.connect_timeout)
            except asyncio.TimeoutError:
                conn.abort()
                await conn.wait_closed()
        REGISTRY.remove(self)

    # -- requests
    def make_request(
        self, code: int, ext_fields: dict[str, str] | None = None, body: bytes = b"", *, oneway: bool = False
    ) -> RemotingCommand:
        """A request in this client's language and serialize type."""
        return RemotingCommand.request(
            code,
            ext_fields,
            body,
            oneway=oneway,
            language=self.config.language,
            serialize_type=self.config.serialize_type,
        )

    def _prepare(self, cmd: RemotingCommand) -> RemotingCommand:
        if self.config.credentials is not None:
            from .codec.acl import sign_command

            return sign_command(cmd, self.config.credentials)
        return cmd

    async def connection(self, addr: str, timeout: float | None = None) -> Connection:
        """The open connection to ``addr``, connecting if needed."""
        conn = self._connections.get(addr)
        if conn is not None and not conn.closed:
            return conn
        lock = self._connecting.setdefault(addr, asyncio.Lock())
        async with lock:
            conn = self._connections.get(addr)
            if conn is not None and not conn.closed:
                return conn
            if not self._may_connect:
                raise ConnectionClosedError(f"client {self.client_id} is shut down")
            conn = await open_connection(
                addr,
                ssl=self.config.ssl,
                connect_timeout=min(self.config.connect_timeout, timeout) if timeout else self.config.connect_timeout,
                observer=self.config.observer,
                role="namesrv" if addr in self.namesrv_addrs else "broker",
            )
            if not self._may_connect:
                # Shutdown closed every connection while this one was being
                # opened: storing it would leak its socket past shutdown.
                conn.close()
                await conn.wait_closed()
                raise ConnectionClosedError(f"client {self.client_id} is shut down")
            self._connections[addr] = conn
            return conn

    async def invoke(self, addr: str, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` to ``addr`` and wait for the response."""
        if timeout <= 0:
            raise RequestTimeoutError(f"no time left to send code {cmd.code} to {addr}")
        loop = self.loop
        start = loop.time()
        conn = await self.connection(addr, timeout)
        remaining = timeout - (loop.time() - start)
        if remaining <= 0:
            raise RequestTimeoutError(f"connecting to {addr} used up the {timeout:g} s timeout")
        try:
            return await conn.request(self._prepare(cmd), remaining)
        except RequestTimeoutError:
            # Java closes the channel after a sync timeout (closeSocketIfTimeout)
            conn.abort()
            raise RequestTimeoutError(
                f"no response from {addr} to request code {cmd.code} within {timeout:g} s"
            ) from None

    async def invoke_oneway(self, addr: str, cmd: RemotingCommand, timeout: float) -> None:
        """Send a oneway ``cmd`` to ``addr``."""
        conn = await self.connection(addr, timeout)
        conn.send_oneway(self._prepare(cmd))

    async def invoke_namesrv(self, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` to the current name server, moving on to the next
        address when one cannot be reached (``++index % size``)."""
        addrs = self.namesrv_addrs
        if not addrs:
            raise ConfigError("no name server address configured")
        errors: list[str] = []
        for _ in range(len(addrs)):
            addr = addrs[self._namesrv_index % len(addrs)]
            try:
                return await self.invoke(addr, cmd, timeout)
            except (ConnectError, ConnectionClosedError) as exc:
                errors.append(str(exc))
                self._namesrv_index += 1
        raise ConnectError(";".join(addrs), "no name server reachable: " + "; ".join(errors))

    # -- routes
    async def fetch_route(self, topic: str, timeout: float | None = None) -> TopicRouteData | None:
        """GET_ROUTEINFO_BY_TOPIC: the route, or None if the name server has none."""
        header = GetRouteInfoRequestHeader(topic=topic)
        cmd = self.make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, header.to_ext_fields())
        response = await self.invoke_namesrv(cmd, timeout or self.config.request_timeout)
        if response.code == ResponseCode.TOPIC_NOT_EXIST:
            return None
        if response.code != ResponseCode.SUCCESS:
            raise BrokerError.for_code(response.code, response.remark, "namesrv")
        if not response.body:
            return None
        return TopicRouteData.from_json(response.body)

    async def update_route(self, topic: str, timeout: float | None = None) -> TopicRouteData | None:
        """Fetch ``topic``'s route and update the tables; None if it has none."""
        route = await self.fetch_route(topic, timeout)
        if route is None:
            return None
        self.topic_routes[topic] = route
        self.learn_brokers(route)
        for listener in list(self._route_listeners):
            listener(topic, route)
        return route

    def learn_brokers(self, route: TopicRouteData) -> None:
        """Take the broker addresses of ``route`` into the broker table."""
        for bd in route.broker_datas:
            self.broker_addrs[bd.broker_name] = dict(bd.broker_addrs)

    async def _refresh_routes(self) -> None:
        for topic in sorted(set(self._publish_topics())):
            try:
                await self.update_route(topic)
            except (RemotingError, BrokerError, CodecError) as exc:
                log.warning("route refresh of %s failed: %s", topic, exc)

    def master_addr(self, broker_name: str) -> str | None:
        """The master (id 0) address of ``broker_name``."""
        return self.broker_addrs.get(broker_name, {}).get(0)

    def clean_offline_brokers(self) -> None:
        """Drop broker addresses that no cached route mentions any more."""
        live: dict[str, set[str]] = {}
        for route in self.topic_routes.values():
            for bd in route.broker_datas:
                live.setdefault(bd.broker_name, set()).update(bd.broker_addrs.values())
        for name in list(self.broker_addrs):
            addrs = {i: a for i, a in self.broker_addrs[name].items() if a in live.get(name, ())}
            if addrs:
                self.broker_addrs[name] = addrs
            else:
                del self.broker_addrs[name]

    # -- heartbeat / unregister
    def heartbeat_data(self) -> HeartbeatData:
        """This client's ``HeartbeatData``: one ProducerData per group."""
        return HeartbeatData(
            client_id=self.client_id,
            producer_data_set=tuple(ProducerData(group) for group in self.producers),
        )

    async def send_heartbeat_to_all_brokers(self) -> int:
        """HEART_BEAT to every master broker (a producer-only client skips
        slaves); returns how many succeeded.  Failures are logged."""
        if self._heartbeat_lock.locked():
            log.warning("heartbeat round still running; skipping this one")
            return 0
        async with self._heartbeat_lock:
            if not self.producers or not self.broker_addrs:
                return 0
            body = self.heartbeat_data().to_json()
            ok = 0
            for name, addrs in list(self.broker_addrs.items()):
                addr = addrs.get(0)
                if addr is None:
                    continue
                cmd = self.make_request(RequestCode.HEART_BEAT, None, body)
                try:
                    response = await self.invoke(addr, cmd, self.config.request_timeout)
                except (RemotingError, CodecError) as exc:
                    log.warning("heartbeat to %s (%s) failed: %s", name, addr, exc)
                    continue
                if response.code == ResponseCode.SUCCESS:
                    ok += 1
                else:
                    log.warning("heartbeat to %s (%s) answered %d %s", name, addr, response.code, response.remark)
            return ok

    async def unregister_client(self, producer_group: str) -> None:
        """UNREGISTER_CLIENT for ``producer_group`` to every address of every
        broker, masters and slaves; errors are only logged, as in Java."""
        header = UnregisterClientRequestHeader(client_id=self.client_id, producer_group=producer_group)
        ext = header.to_ext_fields()
        for name, addrs in list(self.broker_addrs.items()):
            for addr in addrs.values():
                try:
                    response = await self.invoke(
                        addr, self.make_request(RequestCode.UNREGISTER_CLIENT, ext), self.config.request_timeout
                    )
                except (RemotingError, CodecError) as exc:
                    log.warning("unregister %s from %s (%s) failed: %s", producer_group, name, addr, exc)
                    continue
                if response.code != ResponseCode.SUCCESS:
                    log.warning("unregister %s from %s answered %d %s", producer_group, addr, response.code, response.remark)

    async def unregister_producer(self, group: str) -> None:
        """Remove ``group`` and unregister it from every broker."""
        if self.producers.pop(group, None) is not None:
            await self.unregister_client(group)


class _Registry:
    """``MQClientManager``: the process-wide table of client instances."""

    def __init__(self) -> None:
        self._instances: dict[str, ClientInstance] = {}

    def get_or_create(self, config: ClientConfig) -> ClientInstance:
        """The instance for ``config.client_id``, created on first use.

        An instance belongs to the event loop it was created on; the same
        client id from another loop is refused (set another instance name).
        """
        instance = self._instances.get(config.client_id)
        if instance is not None and instance.state is not ServiceState.SHUTDOWN_ALREADY:
            if instance.loop is not asyncio.get_running_loop():
                raise ConfigError(
                    f"client id {config.client_id} is in use on another event loop; set another instance_name"
                )
            return instance
        instance = ClientInstance(config)
        self._instances[config.client_id] = instance
        return instance

    def get(self, client_id: str) -> ClientInstance | None:
        return self._instances.get(client_id)

    def remove(self, instance: ClientInstance) -> None:
        if self._instances.get(instance.client_id) is instance:
            del self._instances[instance.client_id]

    def __len__(self) -> int:
        return len(self._instances)


#: The process-wide client-instance registry.
REGISTRY = _Registry()

