"""The broker-address table of a client instance, and the lookups consumers need.

Mirrors ``MQClientInstance``'s ``brokerAddrTable`` / ``brokerVersionTable``
and its lookups ``findBrokerAddressInPublish``,
``findBrokerAddressInSubscribe``, ``findBrokerAddrByTopic`` and
``cleanOfflineBroker``.  No I/O: the instance fills it from routes and
heartbeat answers.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import NamedTuple

from .codec.body import MASTER_ID, TopicRouteData

__all__ = ["FindBrokerResult", "BrokerTable"]


class FindBrokerResult(NamedTuple):
    """Java ``FindBrokerResult``: an address and whether it is a slave's."""

    addr: str
    slave: bool


class BrokerTable:
    """Broker name -> broker id -> address, and the versions brokers answered with."""

    def __init__(self) -> None:
        self.addrs: dict[str, dict[int, str]] = {}
        #: broker name -> address -> the version its heartbeat answer carried
        self.versions: dict[str, dict[str, int]] = {}

    def learn(self, route: TopicRouteData) -> None:
        """Take the broker addresses of ``route``."""
        for bd in route.broker_datas:
            self.addrs[bd.broker_name] = dict(bd.broker_addrs)

    def master(self, broker_name: str) -> str | None:
        """The master (id 0) address of ``broker_name`` (``findBrokerAddressInPublish``)."""
        return self.addrs.get(broker_name, {}).get(MASTER_ID)

    def find_in_subscribe(
        self, broker_name: str, broker_id: int = MASTER_ID, only_this_broker: bool = False
    ) -> FindBrokerResult | None:
        """``findBrokerAddressInSubscribe``: ``broker_id``'s address; for a
        slave id that is missing, the next id's; then, unless
        ``only_this_broker``, any address the broker has (lowest id first,
        as a Java ``HashMap`` of small ids iterates)."""
        addrs = self.addrs.get(broker_name)
        if not addrs:
            return None
        slave = broker_id != MASTER_ID
        addr = addrs.get(broker_id)
        if addr is None and slave:
            addr = addrs.get(broker_id + 1)
        if addr is not None:
            return FindBrokerResult(addr, slave)
        if only_this_broker:
            return None
        first = min(addrs)
        return FindBrokerResult(addrs[first], first != MASTER_ID)

    @staticmethod
    def any_of_route(route: TopicRouteData | None) -> str | None:
        """``findBrokerAddrByTopic``: an address of a random broker of
        ``route``, its master's if it has one (``BrokerData.selectBrokerAddr``)."""
        if route is None or not route.broker_datas:
            return None
        bd = random.choice(route.broker_datas)
        master = bd.broker_addrs.get(MASTER_ID)
        if master is not None:
            return master
        return random.choice(list(bd.broker_addrs.values())) if bd.broker_addrs else None

    def version(self, broker_name: str, addr: str) -> int:
        """The version ``addr`` answered the last heartbeat with (0 if unknown)."""
        return self.versions.get(broker_name, {}).get(addr, 0)

    def record_version(self, broker_name: str, addr: str, version: int) -> None:
        self.versions.setdefault(broker_name, {})[addr] = version

    def clean(self, routes: Iterable[TopicRouteData]) -> None:
        """``cleanOfflineBroker``: drop addresses no route mentions any more."""
        live: dict[str, set[str]] = {}
        for route in routes:
            for bd in route.broker_datas:
                live.setdefault(bd.broker_name, set()).update(bd.broker_addrs.values())
        for name in list(self.addrs):
            addrs = {i: a for i, a in self.addrs[name].items() if a in live.get(name, ())}
            if addrs:
                self.addrs[name] = addrs
            else:
                del self.addrs[name]
                self.versions.pop(name, None)
