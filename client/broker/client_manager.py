"""Who is connected: client ids, their connections, producer and consumer groups.

Mirrors the broker's ``ProducerManager`` and ``ConsumerManager`` (with
``ConsumerGroupInfo`` and ``ClientChannelInfo``) and the channel events of
``ClientHousekeepingService``: a heartbeat registers its connection under
the heartbeat's ``clientID`` and each of its groups; UNREGISTER_CLIENT takes
the connection out of a group; a closed connection leaves every table.  A
consumer group's membership *changes* when a connection joins or leaves it
or its subscribed topics change (``updateChannel`` / ``updateSubscription``
returning true); the methods that can change it return the groups that
changed, and the broker then pushes NOTIFY_CONSUMER_IDS_CHANGED to the
group's connections (``DefaultConsumerIdsChangeListener``).

Tables are per broker, as each Java broker has its own managers; one
:class:`ClientManager` holds them for every broker of the cluster, plus the
test-facing records (every heartbeat and unregistration, and
:class:`ClientInfo` per client id) that ``LocalBroker.clear`` forgets.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..codec.body import ConsumerData, HeartbeatData, SubscriptionData
from ..codec.enums import LanguageCode
from .processor import Channel

__all__ = ["ClientInfo", "ClientChannel", "ConsumerGroupInfo", "ClientManager", "HeartbeatRecord", "UnregisterRecord"]

#: ``(broker name, body, language, version)`` of one heartbeat.
HeartbeatRecord = tuple[str, HeartbeatData, LanguageCode, int]
#: ``(broker name, client id, producer group, consumer group)`` of one UNREGISTER_CLIENT.
UnregisterRecord = tuple[str, str, "str | None", "str | None"]


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What the brokers know of one client id from its latest heartbeat."""

    client_id: str
    language: LanguageCode
    version: int
    producer_groups: frozenset[str]
    consumer_groups: frozenset[str]
    brokers: frozenset[str]
    last_heartbeat: float


@dataclass(frozen=True, slots=True)
class ClientChannel:
    """``ClientChannelInfo``: one connection of a client, as of its latest heartbeat."""

    channel: Channel = field(compare=False)
    client_id: str
    language: LanguageCode
    version: int
    last_update: float


@dataclass(frozen=True, slots=True)
class ConsumerGroupInfo:
    """``ConsumerGroupInfo`` on one broker, as a snapshot: the group's
    connections (in joining order), its subscriptions by topic, and the
    consume type / message model / consume-from-where (Java enum names) of
    the latest heartbeat."""

    group: str
    consume_type: str
    message_model: str
    consume_from_where: str
    subscriptions: dict[str, SubscriptionData] = field(hash=False)
    channels: tuple[ClientChannel, ...]

    @property
    def client_ids(self) -> list[str]:
        """``getAllClientId``: the client ids of the connections, in joining order."""
        return [c.client_id for c in self.channels]


class _Group:
    __slots__ = ("consume_type", "message_model", "consume_from_where", "subscriptions", "channels")

    def __init__(self, data: ConsumerData) -> None:
        self.consume_type = data.consume_type
        self.message_model = data.message_model
        self.consume_from_where = data.consume_from_where
        self.subscriptions: dict[str, SubscriptionData] = {}
        self.channels: dict[int, ClientChannel] = {}

    def update_subscriptions(self, subs: tuple[SubscriptionData, ...]) -> bool:
        """``ConsumerGroupInfo.updateSubscription``: true when a topic came or went."""
        changed = False
        topics = {s.topic for s in subs}
        for sub in subs:
            old = self.subscriptions.get(sub.topic)
            if old is None:
                self.subscriptions[sub.topic] = sub
                changed = True
            elif sub.sub_version > old.sub_version:
                self.subscriptions[sub.topic] = sub
        for topic in [t for t in self.subscriptions if t not in topics]:
            del self.subscriptions[topic]
            changed = True
        return changed


class _BrokerTables:
    __slots__ = ("producers", "consumers")

    def __init__(self) -> None:
        self.producers: dict[str, dict[int, ClientChannel]] = {}
        self.consumers: dict[str, _Group] = {}


class ClientManager:
    """Client connections and groups of every broker of a cluster (thread-safe)."""

    def __init__(self, broker_names: list[str] | tuple[str, ...]) -> None:
        self._lock = threading.Lock()
        self._tables = {name: _BrokerTables() for name in broker_names}
        # client id -> connection id -> (broker, ClientChannel): the push table
        self._by_client: dict[str, dict[int, tuple[str, ClientChannel]]] = {}
        self._client_of: dict[int, str] = {}  # connection id -> the client id it heartbeats as
        self._clients: dict[str, ClientInfo] = {}
        self._heartbeats: list[HeartbeatRecord] = []
        self._unregistered: list[UnregisterRecord] = []

    # ------------------------------------------------------------------ events

    def heartbeat(
        self,
        broker: str,
        channel: Channel,
        data: HeartbeatData,
        language: LanguageCode,
        version: int,
        now: float | None = None,
    ) -> list[str]:
        """``ClientManageProcessor.heartBeat``: register ``channel`` under the
        heartbeat's client id and each of its groups on ``broker``.  Returns
        the consumer groups whose membership changed."""
        stamp = time.time() if now is None else now
        info = ClientChannel(channel, data.client_id, language, version, stamp)
        changed: list[str] = []
        with self._lock:
            tables = self._tables[broker]
            self._heartbeats.append((broker, data, language, version))
            before = self._client_of.get(channel.id)
            if before is not None and before != data.client_id:
                # Java logs "[BUG] consumer channel exist in broker, but clientId not equal" and takes the new one.
                self._forget_connection(before, channel.id)
            self._client_of[channel.id] = data.client_id
            self._by_client.setdefault(data.client_id, {})[channel.id] = (broker, info)
            for producer in data.producer_data_set:
                tables.producers.setdefault(producer.group_name, {})[channel.id] = info
            for consumer in data.consumer_data_set:
                group = tables.consumers.get(consumer.group_name)
                if group is None:
                    group = tables.consumers[consumer.group_name] = _Group(consumer)
                group.consume_type = consumer.consume_type
                group.message_model = consumer.message_model
                group.consume_from_where = consumer.consume_from_where
                joined = channel.id not in group.channels
                group.channels[channel.id] = info
                if group.update_subscriptions(consumer.subscription_data_set) or joined:
                    changed.append(consumer.group_name)
            previous = self._clients.get(data.client_id)
            self._clients[data.client_id] = ClientInfo(
                data.client_id,
                language,
                version,
                frozenset(p.group_name for p in data.producer_data_set),
                frozenset(c.group_name for c in data.consumer_data_set if c.group_name),
                (previous.brokers if previous else frozenset()) | {broker},
                stamp,
            )
        return changed

    def unregister(
        self,
        broker: str,
        channel: Channel,
        client_id: str,
        producer_group: str | None,
        consumer_group: str | None,
    ) -> list[str]:
        """``ClientManageProcessor.unregisterClient``: take ``channel`` out of
        the named groups on ``broker``; returns the consumer groups that changed
        (Java notifies whenever the group exists, even if the channel was not in it)."""
        changed: list[str] = []
        with self._lock:
            self._unregistered.append((broker, client_id, producer_group, consumer_group))
            tables = self._tables[broker]
            if producer_group:
                members = tables.producers.get(producer_group)
                if members is not None:
                    members.pop(channel.id, None)
                    if not members:
                        del tables.producers[producer_group]
            if consumer_group:
                group = tables.consumers.get(consumer_group)
                if group is not None:
                    group.channels.pop(channel.id, None)
                    if not group.channels:
                        del tables.consumers[consumer_group]
                    changed.append(consumer_group)
        return changed

    def channel_closed(self, broker: str, channel: Channel) -> list[str]:
        """``doChannelCloseEvent``: forget ``channel`` everywhere; returns the
        consumer groups it left (whose remaining members are to be notified)."""
        changed: list[str] = []
        with self._lock:
            tables = self._tables[broker]
            for name in [n for n, members in tables.producers.items() if channel.id in members]:
                members = tables.producers[name]
                del members[channel.id]
                if not members:
                    del tables.producers[name]
            for name in [n for n, g in tables.consumers.items() if channel.id in g.channels]:
                group = tables.consumers[name]
                del group.channels[channel.id]
                if not group.channels:
                    del tables.consumers[name]
                changed.append(name)
            client_id = self._client_of.pop(channel.id, None)
            if client_id is not None:
                self._forget_connection(client_id, channel.id)
        return changed

    def _forget_connection(self, client_id: str, channel_id: int) -> None:
        conns = self._by_client.get(client_id)
        if conns is not None:
            conns.pop(channel_id, None)
            if not conns:
                del self._by_client[client_id]

    # ------------------------------------------------------------------ lookups

    def client_of(self, channel_id: int) -> str | None:
        """The client id connection ``channel_id`` heartbeats as, if it did."""
        with self._lock:
            return self._client_of.get(channel_id)

    def channels_of(self, client_id: str, broker: str | None = None) -> list[Channel]:
        """Open connections of ``client_id`` (to ``broker``, or to any), the
        most recent heartbeat first."""
        with self._lock:
            entries = list(self._by_client.get(client_id, {}).values())
        entries.sort(key=lambda e: e[1].last_update, reverse=True)
        return [info.channel for name, info in entries if (broker is None or name == broker) and info.channel.is_open]

    def client_ids(self, broker: str | None = None) -> list[str]:
        """Client ids with an open, heartbeated connection (to ``broker``)."""
        with self._lock:
            return sorted(
                cid for cid, conns in self._by_client.items() if broker is None or any(b == broker for b, _ in conns.values())
            )

    def consumer_group(self, broker: str, group: str) -> ConsumerGroupInfo | None:
        """A snapshot of ``group`` on ``broker``, or None when it has no connection."""
        with self._lock:
            g = self._tables[broker].consumers.get(group)
            if g is None:
                return None
            return ConsumerGroupInfo(
                group, g.consume_type, g.message_model, g.consume_from_where, dict(g.subscriptions), tuple(g.channels.values())
            )

    def consumer_groups(self, broker: str) -> list[str]:
        with self._lock:
            return list(self._tables[broker].consumers)

    def consumer_ids(self, broker: str, group: str) -> list[str]:
        """``ConsumerGroupInfo.getAllClientId`` (GET_CONSUMER_LIST_BY_GROUP)."""
        info = self.consumer_group(broker, group)
        return [] if info is None else info.client_ids

    def consumer_channels(self, broker: str, group: str) -> list[Channel]:
        """``getAllChannel``: the group's connections on ``broker`` (NOTIFY targets)."""
        info = self.consumer_group(broker, group)
        return [] if info is None else [c.channel for c in info.channels]

    def find_subscription(self, broker: str, group: str, topic: str) -> SubscriptionData | None:
        """``findSubscriptionData``."""
        with self._lock:
            g = self._tables[broker].consumers.get(group)
            return None if g is None else g.subscriptions.get(topic)

    def producer_channels(self, broker: str, group: str) -> list[Channel]:
        """The producer group's connections on ``broker``, newest heartbeat
        first (``ProducerManager.getAvailableChannel`` picks among them)."""
        with self._lock:
            members = list(self._tables[broker].producers.get(group, {}).values())
        members.sort(key=lambda c: c.last_update, reverse=True)
        return [c.channel for c in members if c.channel.is_open]

    def producer_groups(self, broker: str) -> list[str]:
        with self._lock:
            return list(self._tables[broker].producers)

    # ------------------------------------------------------------------ records

    @property
    def clients(self) -> dict[str, ClientInfo]:
        """Client id -> what its latest heartbeat said."""
        with self._lock:
            return dict(self._clients)

    @property
    def heartbeats(self) -> list[HeartbeatRecord]:
        with self._lock:
            return list(self._heartbeats)

    @property
    def unregistered(self) -> list[UnregisterRecord]:
        with self._lock:
            return list(self._unregistered)

    def clear_records(self) -> None:
        """Forget the records (heartbeats, unregistrations, :class:`ClientInfo`);
        the connection tables stay, as they are what is connected."""
        with self._lock:
            self._heartbeats.clear()
            self._unregistered.clear()
            self._clients.clear()
