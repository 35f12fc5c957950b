"""One embedded broker: its store, its processors, its listener, and the
requests it sends to clients.

Mirrors ``BrokerController`` (which owns the message store, the topic config
manager, the producer / consumer managers, the consumer offsets, the
rebalance locks, the schedule service and the pull hold service, and
registers the processors with the remoting server) and ``Broker2Client`` (the requests a broker sends to
its clients: ``notifyConsumerIdsChanged``, ``checkProducerTransactionState``,
``callClient``).  The topic tables and the client manager are the cluster's,
shared with the other brokers (see :mod:`.topics`, :mod:`.client_manager`);
the store is this broker's own.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl as _ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

from ..codec.command import RemotingCommand
from ..codec.enums import LanguageCode, RequestCode
from ..codec.errors import ClientError, ConnectionClosedError
from ..codec.headers import NotifyConsumerIdsChangedRequestHeader
from .client_manager import ClientManager
from .config import SERVER_VERSION, ClusterConfig
from .dispatch import Dispatcher, RequestPipeline
from .locks import RebalanceLockTable
from .offsets import ConsumerOffsetTable
from .processor import Channel, ProcessorRegistry
from .processors import (
    AdminBrokerProcessor,
    ClientManageProcessor,
    ConsumerAdminProcessor,
    ConsumerManageProcessor,
    ConsumerSendMsgBackProcessor,
    EndTransactionProcessor,
    PullMessageProcessor,
    ReplyMessageProcessor,
    SendMessageProcessor,
)
from .processors.transaction import check_transaction_state_request
from .schedule import ScheduleMessageService
from .server import RemotingListener, ServerConnection, TaskSet
from .store import SCHEDULE_TOPIC, MessageStore, StoredMessage
from .timer import LoopTimer
from .topics import TopicTable
from .transaction import TransactionalMessageService, TransactionCheckService

__all__ = ["BrokerController", "notify_consumer_ids_changed_request", "as_broker"]

log = logging.getLogger(__name__)


def notify_consumer_ids_changed_request(group: str) -> RemotingCommand:
    """NOTIFY_CONSUMER_IDS_CHANGED (40) for ``group``: oneway, header
    ``consumerGroup``, as ``Broker2Client.notifyConsumerIdsChanged`` builds it."""
    return RemotingCommand.request(
        RequestCode.NOTIFY_CONSUMER_IDS_CHANGED,
        NotifyConsumerIdsChangedRequestHeader(consumer_group=group).to_ext_fields(),
        oneway=True,
        language=LanguageCode.JAVA,
        version=SERVER_VERSION,
    )


def as_broker(request: RemotingCommand) -> RemotingCommand:
    """``request`` as this broker sends it: language JAVA and the server's
    version (``RemotingCommand.createRequestCommand`` on a Java broker)."""
    if request.language == LanguageCode.JAVA and request.version == SERVER_VERSION:
        return request
    return replace(request, language=LanguageCode.JAVA, version=SERVER_VERSION)


class BrokerController:
    """One broker of the cluster.

    Its :attr:`registry` routes request codes to processors; a later feature
    registers its own (``broker.registry.register(RequestCode.X,
    processor)``).  :attr:`store` holds its messages, :attr:`offsets` the
    consumer groups' offsets, :attr:`locks` the orderly consumers' queue
    locks, :attr:`schedule` the delayed messages, :attr:`pull` the pull
    processor with its held pulls; :attr:`clients` and :attr:`topics` are
    the cluster's tables, keyed by this broker's name.
    """

    def __init__(
        self,
        name: str,
        config: ClusterConfig,
        *,
        port: int,
        topics: TopicTable,
        clients: ClientManager,
        pipeline: RequestPipeline,
        tasks: TaskSet,
        sequence: Iterator[int] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        #: Tracked tasks, cancelled when the cluster stops: a processor that
        #: must await something (push a reply to another client, wait for a
        #: check-back) returns ``ctx.defer()`` and spawns the work here.
        self.tasks = tasks
        self.topics = topics
        self.clients = clients
        self.store = MessageStore(
            name,
            max_queue_messages=config.max_queue_messages,
            max_queue_bytes=config.max_queue_bytes,
            sequence=sequence if sequence is not None else itertools.count(),
        )
        self.offsets = ConsumerOffsetTable()
        self.locks = RebalanceLockTable(config.lock_expiry)
        self.schedule = ScheduleMessageService(self.store, config.delay_levels, config.delay_scale)
        self._schedule_timer = LoopTimer(self._deliver_due, f"{name} schedule")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        #: Half messages and op marks (``TransactionalMessageServiceImpl``).
        self.transactions = TransactionalMessageService(self.store)
        #: The check-back rounds (``TransactionalMessageCheckService``), run
        #: by :meth:`start_services`; ``run_round()`` runs one now.
        self.transaction_checker = TransactionCheckService(
            self.transactions,
            interval=config.transaction_check_interval,
            timeout=config.transaction_timeout,
            check_max=config.transaction_check_max,
            on_check=self.check_producer_transaction_state,
        )
        self._producer_pick = itertools.count()
        self.registry = ProcessorRegistry()
        self.pull = PullMessageProcessor(self)
        SendMessageProcessor(self).register(self.registry)
        ClientManageProcessor(self).register(self.registry)
        AdminBrokerProcessor(self).register(self.registry)
        ConsumerManageProcessor(self).register(self.registry)
        ConsumerSendMsgBackProcessor(self).register(self.registry)
        ConsumerAdminProcessor(self).register(self.registry)
        self.pull.register(self.registry)
        self.store.add_arrival_listener(self._message_arrived)
        EndTransactionProcessor(self).register(self.registry)
        #: SEND_REPLY_MESSAGE(_V2); ``reply.store_reply_message`` is ``storeReplyMessageEnable``
        self.reply = ReplyMessageProcessor(self)
        self.reply.register(self.registry)
        self.dispatcher = Dispatcher("broker", name, self.registry, pipeline)
        self.dispatcher.close_hooks.append(self._channel_closed)
        self.dispatcher.client_of = clients.client_of
        self.listener = RemotingListener(
            name,
            port,
            self.dispatcher,
            tasks=tasks,
            max_frame_size=config.max_frame_size,
            max_buffered_bytes=config.max_buffered_bytes,
            idle_timeout=config.idle_timeout,
        )

    def __repr__(self) -> str:
        return f"<BrokerController {self.name} port {self.listener.port}>"

    # ------------------------------------------------------------------ lifecycle

    async def listen(self, host: str, ssl: _ssl.SSLContext | None) -> None:
        await self.listener.listen(host, ssl)
        self.store.store_host = f"{self.config.advertised_host}:{self.listener.port}"
        loop = asyncio.get_running_loop()
        self._loop, self._loop_thread = loop, threading.get_ident()
        for timer in (self._schedule_timer, self.pull.timer):
            timer.bind(loop)
        self._arm_schedule()  # messages may have come due while it was down

    def start_services(self) -> None:
        """Start the broker's background services (the transaction check-back
        rounds) as tracked tasks, once, when the cluster starts."""
        self.tasks.spawn(self.transaction_checker.run())

    async def close(self) -> None:
        await self.listener.close()

    def stop_services(self) -> None:
        """Stop delivering delayed messages and drop held pulls (the cluster stops)."""
        self._schedule_timer.stop()
        self.pull.stop()

    # ------------------------------------------------------------------ store events

    def _message_arrived(self, message: StoredMessage) -> None:
        # The store calls this on the appending thread; the services live on the loop.
        loop = self._loop
        if loop is None or loop.is_closed() or (message.topic != SCHEDULE_TOPIC and not self.pull.holds):
            return
        if threading.get_ident() == self._loop_thread:
            # at once, as Java's reput service notifies per message: a held pull
            # woken by the first of several messages stored together sees the first
            self._on_arrival(message)
        else:
            loop.call_soon_threadsafe(self._on_arrival, message)

    def _on_arrival(self, message: StoredMessage) -> None:
        if message.topic == SCHEDULE_TOPIC:
            self._arm_schedule()
        self.pull.message_arrived(message)

    def _deliver_due(self) -> None:
        self.schedule.deliver_due()
        self._arm_schedule()

    def _arm_schedule(self) -> None:
        due = self.schedule.next_due()
        if due is not None:
            self._schedule_timer.arm((due - int(time.time() * 1000)) / 1000.0)

    @property
    def connections(self) -> list[ServerConnection]:
        return [c for c in self.listener.conns if isinstance(c, ServerConnection)]

    def _channel_closed(self, conn: ServerConnection) -> None:
        for group in self.clients.channel_closed(self.name, conn):
            self.consumer_ids_changed(group)

    # ------------------------------------------------------------------ Broker2Client

    def consumer_ids_changed(self, group: str) -> int:
        """``DefaultConsumerIdsChangeListener`` on a CHANGE event: notify the
        group's connections unless notification is off; returns how many."""
        if not self.config.notify_consumer_ids_changed:
            return 0
        return self.notify_consumer_ids_changed(group)

    def notify_consumer_ids_changed(self, group: str) -> int:
        """Send NOTIFY_CONSUMER_IDS_CHANGED (oneway) to every open connection
        of ``group`` on this broker; returns how many got it."""
        sent = 0
        for channel in self.clients.consumer_channels(self.name, group):
            if not channel.is_open:
                continue
            try:
                channel.send_oneway(notify_consumer_ids_changed_request(group))
            except ConnectionClosedError:
                continue
            sent += 1
        log.debug("%s: notified %d connection(s) of group %s that its consumer ids changed", self.name, sent, group)
        return sent

    def check_producer_transaction_state(self, copy: StoredMessage) -> bool:
        """``sendCheckMessage`` + ``Broker2Client.checkProducerTransactionState``:
        push CHECK_TRANSACTION_STATE for the half-message copy ``copy`` to one
        open connection of its producer group (``PGROUP``) on this broker,
        taken in turn (``ProducerManager.getAvailableChannel``).  False (and
        a warning) when the group has none: the next round asks again."""
        group = self.transactions.producer_group(copy) or ""
        channels = self.clients.producer_channels(self.name, group)
        if not channels:
            log.warning("%s: check of transaction %s failed: producer group %r has no connection", self.name, copy.uniq_key, group)
            return False
        channel = channels[next(self._producer_pick) % len(channels)]
        try:
            channel.send_oneway(check_transaction_state_request(copy))
        except ConnectionClosedError:
            log.warning("%s: check of transaction %s failed: the connection closed", self.name, copy.uniq_key)
            return False
        log.debug("%s: asked %s about transaction %s", self.name, channel.peer, copy.uniq_key)
        return True

    def channel_of(self, client_id: str) -> Channel:
        """The connection of ``client_id`` with its latest heartbeat here;
        :class:`~codec.errors.ConnectionClosedError` when it has none open."""
        channels = self.clients.channels_of(client_id, self.name)
        if not channels:
            raise ConnectionClosedError(f"client {client_id!r} has no open connection to broker {self.name}")
        return channels[0]

    def send_oneway_to_client(self, client_id: str, request: RemotingCommand) -> int:
        """Send a oneway request (e.g. CHECK_TRANSACTION_STATE, which a Java
        broker sends oneway) to ``client_id``, as the broker (language JAVA,
        the server's version); returns its opaque."""
        request = as_broker(request)
        if not request.is_oneway:
            raise ClientError("send_oneway_to_client() needs a oneway request; use request_client() to await an answer")
        return self.channel_of(client_id).send_oneway(request)

    async def request_client(self, client_id: str, request: RemotingCommand, timeout: float) -> RemotingCommand:
        """``Broker2Client.callClient``: send a two-way request (e.g.
        GET_CONSUMER_RUNNING_INFO, CONSUME_MESSAGE_DIRECTLY) to ``client_id``
        as the broker (language JAVA, the server's version) and return its
        answer; :class:`~codec.errors.RequestTimeoutError` or
        :class:`~codec.errors.ConnectionClosedError` otherwise."""
        return await self.channel_of(client_id).request(as_broker(request), timeout)
