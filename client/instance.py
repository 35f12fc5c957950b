"""The client instance: connections, routes, heartbeats, shared by producers and consumers.

Mirrors ``MQClientInstance`` and ``MQClientManager``: one instance per client
id in the process (:data:`REGISTRY`), holding one connection per address, the
route and broker-address tables, the tables of producer and consumer groups
(:class:`~rmqwire.inner.ProducerInner`, :class:`~rmqwire.inner.ConsumerInner`),
the processors answering requests a broker starts, and the periodic tasks of
``startScheduledTask`` and ``RebalanceService``:

==========================  =========================================  ==================
task                        what                                       every (config)
==========================  =========================================  ==================
route refresh               every producer's and consumer's topics     ``poll_name_server_interval`` 30 s
heartbeat                   clean offline brokers, HEART_BEAT          ``heartbeat_interval`` 30 s
rebalance                   ``do_rebalance`` of every consumer         ``rebalance_interval`` 20 s, or at once
                                                                       on :meth:`ClientInstance.rebalance_immediately`
offsets                     ``persist_consumer_offset`` of each        ``persist_consumer_offset_interval`` 5 s
name-server lookup          HTTP address lookup (no ``namesrv_addr``)  ``namesrv_lookup_interval`` 120 s
==========================  =========================================  ==================

The instance registers ``CLIENT_INNER_PRODUCER`` as Java's does, so
heartbeats list it, and answers NOTIFY_CONSUMER_IDS_CHANGED (40) itself by
rebalancing at once.

Theory of operation: ``start`` moves CREATE_JUST -> START_FAILED -> RUNNING
(a failure leaves START_FAILED), launching the periodic tasks on the running
event loop.  A member calls ``shutdown`` when it leaves and the instance is
no longer :attr:`~ClientInstance.in_use`; ``shutdown`` persists the offsets
of any consumer still registered, unregisters every remaining group from
every broker, cancels the tasks, closes every connection and removes the
instance from the registry.

The heartbeats and unregistrations are in :mod:`client.heartbeat`, the
periodic services (scheduler loop, rebalance service, the rounds over
every consumer) in :mod:`client.services`; the methods here delegate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from .codec.body import MASTER_ID, HeartbeatData, TopicRouteData
from .codec.command import RemotingCommand
from .codec.enums import RequestCode, ResponseCode
from .codec.errors import (
    BrokerError,
    CodecError,
    ConfigError,
    ConnectError,
    ConnectionClosedError,
    NoRouteError,
    RemotingError,
    RequestTimeoutError,
    ServiceStateError,
)
from .codec.headers import GetRouteInfoRequestHeader
from .codec.message import CLIENT_INNER_PRODUCER_GROUP
from . import heartbeat, services
from .brokers import BrokerTable, FindBrokerResult
from .aiotools import stop_tasks, wait_for
from .config import ClientConfig, ServiceState
from .inner import ConsumerInner, Processor, ProducerInner
from .namesrv import NamesrvChooser, fetch_namesrv_addr, missing_namesrv_error
from .route import subscribe_queues_from_route
from .transport import Connection, open_connection
from .types import MessageQueue

__all__ = [
    "ServiceState",
    "ClientConfig",
    "ClientInstance",
    "FindBrokerResult",
    "REGISTRY",
    "fetch_namesrv_addr",
    "ConsumerInner",
    "ProducerInner",
    "Processor",
]

log = logging.getLogger(__name__)

class _InnerProducer:
    """``CLIENT_INNER_PRODUCER``: listed in heartbeats, publishes nothing."""

    def publish_topics(self) -> list[str]:
        return []

    def is_publish_topic_need_update(self, topic: str) -> bool:
        return False

    def update_topic_publish_info(self, topic: str, route: TopicRouteData) -> None:
        pass


class ClientInstance:
    """Connections, route tables, member tables and periodic tasks for one client id."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.client_id = config.client_id
        self.loop = asyncio.get_running_loop()
        self.state = ServiceState.CREATE_JUST
        self._namesrv = NamesrvChooser(config.namesrv_addrs)
        self.producers: dict[str, ProducerInner] = {}
        self.consumers: dict[str, ConsumerInner] = {}
        self.processors: dict[int, Processor] = {RequestCode.NOTIFY_CONSUMER_IDS_CHANGED: self._notify_consumer_ids_changed}
        self.topic_routes: dict[str, TopicRouteData] = {}
        self._brokers = BrokerTable()
        self._connections: dict[str, Connection] = {}
        self._connecting: dict[str, asyncio.Lock] = {}
        # False once shutdown closes the connections: no new one may open
        # (shutdown itself still connects to unregister before that)
        self._may_connect = True
        self._tasks: list[asyncio.Task[None]] = []
        #: how long shutdown waits for a cancelled task before cancelling it
        #: again, then leaving it behind (see :func:`.aiotools.stop_tasks`)
        self.task_stop_timeout = 5.0
        self._request_tasks: set[asyncio.Task[None]] = set()
        self._heartbeat_lock = asyncio.Lock()
        self._rebalance_wakeup = asyncio.Event()
        self._route_listeners: list[Callable[[str, TopicRouteData], None]] = []

    def __repr__(self) -> str:
        return (
            f"<ClientInstance {self.client_id} {self.state.value} producers={sorted(self.producers)} "
            f"consumers={sorted(self.consumers)}>"
        )

    @property
    def namesrv_addrs(self) -> tuple[str, ...]:
        """The name server addresses in use."""
        return self._namesrv.addrs

    @namesrv_addrs.setter
    def namesrv_addrs(self, addrs: tuple[str, ...]) -> None:
        self._namesrv.addrs = addrs

    # -- members
    def register_producer(self, group: str, producer: ProducerInner) -> bool:
        """``producerTable.putIfAbsent``: False if the group is taken."""
        if group in self.producers:
            return False
        self.producers[group] = producer
        return True

    async def unregister_producer(self, group: str) -> None:
        """Remove ``group`` and unregister it from every broker."""
        if self.producers.pop(group, None) is not None:
            await self.unregister_client(producer_group=group)

    def register_consumer(self, group: str, consumer: ConsumerInner) -> bool:
        """``consumerTable.putIfAbsent``: False if the group is taken."""
        if group in self.consumers:
            log.warning("the consumer group[%s] exist already.", group)
            return False
        self.consumers[group] = consumer
        return True

    async def unregister_consumer(self, group: str) -> None:
        """Remove ``group`` and send UNREGISTER_CLIENT with its
        ``consumerGroup`` to every broker address (``unregisterConsumer``)."""
        if self.consumers.pop(group, None) is not None:
            await self.unregister_client(consumer_group=group)

    @property
    def user_producer_count(self) -> int:
        """Producer groups other than ``CLIENT_INNER_PRODUCER``."""
        return sum(1 for g in self.producers if g != CLIENT_INNER_PRODUCER_GROUP)

    @property
    def in_use(self) -> bool:
        """True while a user producer or a consumer is registered: a member
        that leaves shuts the instance down only when this is False (the
        guard at the top of Java's ``MQClientInstance.shutdown``)."""
        return bool(self.consumers) or self.user_producer_count > 0

    def add_route_listener(self, listener: Callable[[str, TopicRouteData], None]) -> None:
        """Call ``listener(topic, route)`` after every route change."""
        self._route_listeners.append(listener)

    def remove_route_listener(self, listener: Callable[[str, TopicRouteData], None]) -> None:
        if listener in self._route_listeners:
            self._route_listeners.remove(listener)

    # -- processors
    def register_processor(self, code: int, processor: Processor) -> None:
        """Answer requests with ``code`` that a broker sends this client with
        ``await processor(request, broker_addr)``.

        The answer gets the request's opaque and the response flag; None
        sends nothing (and a oneway request never gets an answer).  A
        processor that raises is logged and answered SYSTEM_ERROR with the
        reason; a code without a processor gets REQUEST_CODE_NOT_SUPPORTED.
        One processor per code: registering again replaces it (a transaction
        producer's processor dispatches by producer group itself).
        """
        self.processors[int(code)] = processor

    def unregister_processor(self, code: int) -> None:
        """Stop answering ``code`` (it gets REQUEST_CODE_NOT_SUPPORTED again)."""
        self.processors.pop(int(code), None)

    def _on_request(self, conn: Connection, request: RemotingCommand) -> None:
        task = self.loop.create_task(self._process_request(conn, request))
        self._request_tasks.add(task)
        task.add_done_callback(self._request_tasks.discard)

    async def _process_request(self, conn: Connection, request: RemotingCommand) -> None:
        processor = self.processors.get(request.code)
        response: RemotingCommand | None
        if processor is None:
            log.debug("no processor for request code %d from %s", request.code, conn.addr)
            response = request.reply(
                ResponseCode.REQUEST_CODE_NOT_SUPPORTED,
                f" request type {request.code} not supported",
                language=self.config.language,
            )
        else:
            try:
                response = await processor(request, conn.addr)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a processor bug must not kill the connection
                log.exception("processor for request code %d from %s failed", request.code, conn.addr)
                response = request.reply(
                    ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}", language=self.config.language
                )
            else:
                if response is not None:
                    # as NettyRemotingAbstract: the answer carries the request's opaque
                    response = replace(response, opaque=request.opaque, flag=response.flag | 1)
        if response is not None and not request.is_oneway:
            conn.send_response(response)

    async def _notify_consumer_ids_changed(self, request: RemotingCommand, addr: str) -> RemotingCommand | None:
        log.info(
            "receive broker's notification[%s], the consumer group: %s changed, rebalance immediately",
            addr,
            request.ext_fields.get("consumerGroup"),
        )
        self.rebalance_immediately()
        return None

    # -- lifecycle
    async def start(self) -> None:
        """Start once: resolve the name server list, launch the periodic tasks."""
        if self.state is ServiceState.RUNNING:
            return
        if self.state is not ServiceState.CREATE_JUST:
            raise ServiceStateError(f"client instance {self.client_id} is {self.state.value}")
        self.state = ServiceState.START_FAILED
        if not self.namesrv_addrs:
            if not self.config.namesrv_domain:
                raise missing_namesrv_error()
            self.namesrv_addrs = await fetch_namesrv_addr(
                self.config.namesrv_domain, self.config.namesrv_domain_subgroup, self.config.request_timeout
            )
        self.producers.setdefault(CLIENT_INNER_PRODUCER_GROUP, _InnerProducer())
        config = self.config
        # Java polls routes 10 ms after start; our members fetch what they
        # need when they start, so the first poll waits a period.
        self._spawn(self._every(config.poll_name_server_interval, self._refresh_routes), "poll-routes")
        self._spawn(self._every(config.heartbeat_interval, self._heartbeat_round, first=1.0), "heartbeat")
        self._spawn(
            self._every(config.persist_consumer_offset_interval, self.persist_all_consumer_offsets), "persist-offsets"
        )
        self._spawn(self._rebalance_service(), "rebalance-service")
        if not config.namesrv_addrs and config.namesrv_domain:
            self._spawn(self._every(config.namesrv_lookup_interval, self._refresh_namesrv_addrs), "namesrv-lookup")
        self.state = ServiceState.RUNNING

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task: asyncio.Task[None] = self.loop.create_task(coro, name=f"{self.client_id} {name}")
        self._tasks.append(task)

    _every = staticmethod(services.every)

    async def _rebalance_service(self) -> None:
        """``RebalanceService``: rebalance every interval, or at once when woken."""
        await services.rebalance_service(self)

    def rebalance_immediately(self) -> None:
        """Wake the rebalance service now (``rebalanceImmediately``)."""
        self._rebalance_wakeup.set()

    async def do_rebalance(self) -> None:
        """``do_rebalance`` of every consumer; one that fails is logged."""
        await services.do_rebalance(self)

    async def persist_all_consumer_offsets(self) -> None:
        """``persist_consumer_offset`` of every consumer; one that fails is logged."""
        await services.persist_all_consumer_offsets(self)

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
        """Persist the remaining consumers' offsets, unregister every group,
        stop the tasks, close every connection.  Idempotent."""
        if self.state is ServiceState.SHUTDOWN_ALREADY:
            return
        was_running = self.state is ServiceState.RUNNING
        self.state = ServiceState.SHUTDOWN_ALREADY
        # bounded: a task that swallows its cancel must not hang shutdown
        await stop_tasks([*self._tasks, *self._request_tasks], self.task_stop_timeout, f"client {self.client_id}")
        self._tasks.clear()
        self._request_tasks.clear()
        if was_running:
            await self.persist_all_consumer_offsets()
            for group in list(self.consumers):
                await self.unregister_client(consumer_group=group)
            for group in list(self.producers):
                await self.unregister_client(producer_group=group)
        self.consumers.clear()
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
                await wait_for(conn.wait_closed(), self.config.connect_timeout)
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
                on_request=self._on_request,
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
            raise RequestTimeoutError(f"no time left to send request code {cmd.code} to {addr}")
        conn = self._connections.get(addr)
        if conn is not None and not conn.closed:
            remaining = timeout  # the usual case: no await, no clock
        else:
            loop = self.loop
            start = loop.time()
            conn = await self.connection(addr, timeout)
            remaining = timeout - (loop.time() - start)
            if remaining <= 0:
                raise RequestTimeoutError(f"connecting to {addr} used up the {timeout:g} s timeout of request code {cmd.code}")
        try:
            return await conn.request_future(self._prepare(cmd) if self.config.credentials is not None else cmd, remaining)
        except RequestTimeoutError:
            # Java closes the channel after a sync timeout (closeSocketIfTimeout)
            conn.abort()
            raise RequestTimeoutError(
                f"no response from {addr} to request code {cmd.code} within {timeout:.3g} s"
            ) from None

    def invoke_blocking(self, addr: str, cmd: RemotingCommand, timeout: float) -> RemotingCommand | None:
        """:meth:`invoke` from a thread other than the event loop's, on the
        open connection to ``addr``; ``None`` (nothing sent) when there is
        none yet, since connecting is the loop's work."""
        if timeout <= 0:
            raise RequestTimeoutError(f"no time left to send request code {cmd.code} to {addr}")
        conn = self._connections.get(addr)
        if conn is None or conn.closed:
            return None
        try:
            return conn.request_blocking(self._prepare(cmd) if self.config.credentials is not None else cmd, timeout)
        except RequestTimeoutError:
            stuck = conn.answer_unread()
            try:
                self.loop.call_soon_threadsafe(conn.abort)  # as invoke does (closeSocketIfTimeout)
            except RuntimeError:  # the loop is closed, and the connection with it
                pass
            raise RequestTimeoutError(
                f"no response from {addr} to request code {cmd.code} within {timeout:.3g} s"
                + ("; an answer is waiting unread: the event-loop thread is blocked or overloaded" if stuck else "")
            ) from None

    def invoke_oneway_blocking(self, addr: str, cmd: RemotingCommand) -> bool:
        """:meth:`invoke_oneway` from another thread; False (nothing sent)
        when there is no open connection to ``addr`` yet."""
        conn = self._connections.get(addr)
        if conn is None or conn.closed:
            return False
        conn.send_oneway_blocking(self._prepare(cmd) if self.config.credentials is not None else cmd)
        return True

    async def invoke_oneway(self, addr: str, cmd: RemotingCommand, timeout: float) -> None:
        """Send a oneway ``cmd`` to ``addr``."""
        conn = self._connections.get(addr)
        if conn is None or conn.closed:
            conn = await self.connection(addr, timeout)
        conn.send_oneway(self._prepare(cmd) if self.config.credentials is not None else cmd)

    async def invoke_namesrv(self, cmd: RemotingCommand, timeout: float) -> RemotingCommand:
        """Send ``cmd`` to a name server and return its answer.

        The one that answered last is asked first; one that cannot be
        reached, closes the connection or does not answer in time is left
        for the next.  The ``timeout`` is shared: each attempt gets what is
        left divided among the addresses not yet tried, so a name server that
        accepts connections but never answers cannot use it all.
        """
        order = self._namesrv.order()
        if not order:
            raise missing_namesrv_error()
        loop = self.loop
        deadline = loop.time() + timeout
        errors: list[RemotingError] = []
        for i, addr in enumerate(order):
            share = (deadline - loop.time()) / (len(order) - i)
            try:
                response = await self.invoke(addr, cmd, share)
            except (ConnectError, ConnectionClosedError, RequestTimeoutError) as exc:
                log.info("name server %s failed, trying the next: %s", addr, exc)
                errors.append(exc)
                self._namesrv.failed(addr)
                continue
            self._namesrv.answered(addr)
            return response
        reasons = "; ".join(str(e) for e in errors)
        if all(isinstance(e, RequestTimeoutError) for e in errors):
            raise RequestTimeoutError(f"no name server answered request code {cmd.code} within {timeout:g} s: {reasons}")
        raise ConnectError(";".join(order), "no name server reachable: " + reasons)

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
        """Fetch ``topic``'s route and update the tables; None if it has none
        (``updateTopicRouteInfoFromNameServer``).

        When the route changed, or a member still needs it, every producer
        gets it (``update_topic_publish_info``) and every consumer its
        readable queues (``update_topic_subscribe_info``).  A member that
        raises does not keep the others from the update; the first error is
        raised afterwards.
        """
        route = await self.fetch_route(topic, timeout)
        if route is None:
            return None
        old = self.topic_routes.get(topic)
        self.topic_routes[topic] = route
        self.learn_brokers(route)
        if route == old and not self._route_needed(topic):
            return route
        first_error: Exception | None = None
        for listener in list(self._route_listeners):
            try:
                listener(topic, route)
            except Exception as exc:
                first_error = first_error or exc
        for producer in list(self.producers.values()):
            try:
                producer.update_topic_publish_info(topic, route)
            except Exception as exc:
                first_error = first_error or exc
        if self.consumers:
            try:
                queues = subscribe_queues_from_route(topic, route)
            except CodecError as exc:
                first_error = first_error or exc
            else:
                for consumer in list(self.consumers.values()):
                    try:
                        consumer.update_topic_subscribe_info(topic, set(queues))
                    except Exception as exc:
                        first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return route

    def _route_needed(self, topic: str) -> bool:
        # isNeedUpdateTopicRouteInfo; route listeners always want a fresh route
        return (
            bool(self._route_listeners)
            or any(p.is_publish_topic_need_update(topic) for p in self.producers.values())
            or any(c.is_subscribe_topic_need_update(topic) for c in self.consumers.values())
        )

    def learn_brokers(self, route: TopicRouteData) -> None:
        """Take the broker addresses of ``route`` into the broker table."""
        self._brokers.learn(route)

    def _member_topics(self) -> set[str]:
        topics: set[str] = set()
        for producer in list(self.producers.values()):
            topics.update(producer.publish_topics())
        for consumer in list(self.consumers.values()):
            topics.update(s.topic for s in consumer.subscriptions())
        return topics

    async def _refresh_routes(self) -> None:
        for topic in sorted(self._member_topics()):
            try:
                await self.update_route(topic)
            except (RemotingError, BrokerError, CodecError) as exc:
                log.warning("route refresh of %s failed: %s", topic, exc)

    async def fetch_subscribe_queues(self, topic: str, timeout: float | None = None) -> set[MessageQueue]:
        """The readable queues of ``topic``, from a fresh route
        (``fetchSubscribeMessageQueues``); :class:`~codec.errors.NoRouteError`
        if it has none."""
        route = await self.update_route(topic, timeout)
        if route is None:
            raise NoRouteError(f"No route info of this topic: {topic}")
        queues = subscribe_queues_from_route(topic, route)
        if not queues:
            raise NoRouteError(f"Can not find Message Queue for this topic, {topic}")
        return queues

    @property
    def broker_addrs(self) -> dict[str, dict[int, str]]:
        """Broker name -> broker id -> address (``brokerAddrTable``)."""
        return self._brokers.addrs

    @broker_addrs.setter
    def broker_addrs(self, addrs: dict[str, dict[int, str]]) -> None:
        self._brokers.addrs = addrs

    @property
    def broker_names(self) -> list[str]:
        """The brokers this instance knows addresses of."""
        return list(self._brokers.addrs)

    def master_addr(self, broker_name: str) -> str | None:
        """The master (id 0) address of ``broker_name``."""
        return self._brokers.master(broker_name)

    def find_broker_address_in_publish(self, broker_name: str) -> str | None:
        """The master address of ``broker_name`` (``findBrokerAddressInPublish``)."""
        return self._brokers.master(broker_name)

    def find_broker_address_in_subscribe(
        self, broker_name: str, broker_id: int = MASTER_ID, only_this_broker: bool = False
    ) -> FindBrokerResult | None:
        """Where to pull or commit offsets (:meth:`BrokerTable.find_in_subscribe`)."""
        return self._brokers.find_in_subscribe(broker_name, broker_id, only_this_broker)

    def find_broker_addr_by_topic(self, topic: str) -> str | None:
        """An address of a random broker of ``topic``'s cached route, its
        master's if it has one (``findBrokerAddrByTopic``)."""
        return BrokerTable.any_of_route(self.topic_routes.get(topic))

    def find_broker_version(self, broker_name: str, addr: str) -> int:
        """The version ``addr`` answered the last heartbeat with (0 if unknown)."""
        return self._brokers.version(broker_name, addr)

    def clean_offline_brokers(self) -> None:
        """Drop broker addresses that no cached route mentions any more."""
        self._brokers.clean(self.topic_routes.values())

    # -- heartbeat / unregister
    def heartbeat_data(self) -> HeartbeatData:
        """This client's ``HeartbeatData``: one ConsumerData per consumer
        group, one ProducerData per producer group (``prepareHeartbeatData``)."""
        return heartbeat.heartbeat_data(self)

    async def send_heartbeat_to_all_brokers(self) -> int:
        """HEART_BEAT to every broker address: masters and slaves when there
        are consumers, masters only for producers (``sendHeartbeatToAllBroker``).
        Returns how many succeeded; failures are logged.

        Rounds do not overlap: one asked for while another runs waits for it
        and then sends (Java skips it instead; here a member that just
        registered must not have its first heartbeat dropped, or the broker
        would not know it until the next period)."""
        return await heartbeat.send_heartbeat_to_all_brokers(self)

    async def unregister_client(self, producer_group: str | None = None, consumer_group: str | None = None) -> None:
        """UNREGISTER_CLIENT for a producer and/or consumer group to every
        address of every broker, masters and slaves; errors are only logged,
        as in Java."""
        await heartbeat.unregister_client(self, producer_group, consumer_group)


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
