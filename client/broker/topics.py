"""Topic configurations of every broker of the cluster, and auto-creation.

Mirrors ``TopicConfigManager`` (one table per broker: topic -> read/write
queue numbers and perm; the auto-create key topic ``TBW102``;
``createTopicInSendMessageMethod`` and ``createTopicInSendMessageBackMethod``)
and the name server's ``RouteInfoManager.topicQueueTable`` that brokers fill
by registering: the embedded name server reads these tables directly, so a
topic is routable the moment a broker has it.  One lock guards all tables,
because cluster-wide auto-creation writes several at once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Final

from ..codec.body import PermName
from ..codec.message import AUTO_CREATE_TOPIC_KEY_TOPIC
from .config import AutoCreateScope

__all__ = ["TopicConfig", "TopicTable", "perm_to_string", "PERM_RW", "PERM_RWX"]

log = logging.getLogger(__name__)

#: Read + write: ``TopicConfig``'s default perm.
PERM_RW: Final = int(PermName.PERM_READ | PermName.PERM_WRITE)
#: Read + write + inherit: the auto-create key topic's perm.
PERM_RWX: Final = PERM_RW | int(PermName.PERM_INHERIT)


def perm_to_string(perm: int) -> str:
    """``PermName.perm2String``: ``RW-``, ``RWX`` ..."""
    return (
        ("R" if perm & PermName.PERM_READ else "-")
        + ("W" if perm & PermName.PERM_WRITE else "-")
        + ("X" if perm & PermName.PERM_INHERIT else "-")
    )


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """``TopicConfig``: one topic on one broker."""

    topic_name: str
    read_queue_nums: int
    write_queue_nums: int
    perm: int = PERM_RW
    topic_sys_flag: int = 0
    order: bool = False

    def describe(self) -> str:
        """``TopicConfig.toString``, as Java quotes it in remarks."""
        return (
            f"TopicConfig [topicName={self.topic_name}, readQueueNums={self.read_queue_nums}, "
            f"writeQueueNums={self.write_queue_nums}, perm={perm_to_string(self.perm)}, "
            f"topicFilterType=SINGLE_TAG, topicSysFlag={self.topic_sys_flag}, order={str(self.order).lower()}]"
        )


class TopicTable:
    """Broker name -> topic -> :class:`TopicConfig`, for every broker of the
    cluster, in the order brokers were added (thread-safe)."""

    __slots__ = ("_lock", "_tables")

    def __init__(self, broker_names: tuple[str, ...] | list[str]) -> None:
        self._lock = threading.Lock()
        self._tables: dict[str, dict[str, TopicConfig]] = {name: {} for name in broker_names}

    @property
    def broker_names(self) -> list[str]:
        return list(self._tables)

    def get(self, broker: str, topic: str) -> TopicConfig | None:
        # A dict read is atomic under the GIL; the hot path of every send skips the lock.
        return self._tables[broker].get(topic)

    def topics(self, broker: str) -> dict[str, TopicConfig]:
        """A copy of one broker's table."""
        with self._lock:
            return dict(self._tables[broker])

    def put(self, config: TopicConfig, brokers: list[str] | None = None) -> None:
        """Create or replace ``config`` on ``brokers`` (default: every broker)."""
        with self._lock:
            for name in self._tables if brokers is None else brokers:
                self._tables[name][config.topic_name] = config

    def create(self, topic: str, queues: int, brokers: list[str] | None = None, *, perm: int = PERM_RW) -> None:
        """Create (or resize) ``topic`` with ``queues`` read and write queues."""
        self.put(TopicConfig(topic, queues, queues, perm), brokers)

    def with_topic(self, topic: str) -> list[tuple[str, TopicConfig]]:
        """``(broker name, config)`` of every broker that has ``topic``, in broker order."""
        with self._lock:
            return [(name, table[topic]) for name, table in self._tables.items() if topic in table]

    def create_in_send(
        self,
        broker: str,
        topic: str,
        default_topic: str,
        client_queue_nums: int,
        *,
        enabled: bool,
        scope: AutoCreateScope,
    ) -> TopicConfig | None:
        """``TopicConfigManager.createTopicInSendMessageMethod``: ``topic``
        from the send's default topic, or None when it may not be created.

        Only the auto-create key topic lends its config, and only with
        auto-creation on; the topic gets ``min(client's defaultTopicQueueNums,
        key topic's queues)`` queues and perm RW.  Java creates it on the
        receiving broker; ``scope="cluster"`` creates it on every broker."""
        with self._lock:
            existing = self._tables[broker].get(topic)
            if existing is not None:
                return existing
            if not enabled or default_topic != AUTO_CREATE_TOPIC_KEY_TOPIC:
                return None
            key = self._tables[broker].get(AUTO_CREATE_TOPIC_KEY_TOPIC)
            if key is None:
                return None
            nums = max(0, min(client_queue_nums, key.write_queue_nums))
            config = TopicConfig(topic, nums, nums, key.perm & ~int(PermName.PERM_INHERIT))
            targets = self._tables.values() if scope == "cluster" else (self._tables[broker],)
            for table in targets:
                table.setdefault(topic, config)
            created = self._tables[broker][topic]
        log.info("%s: auto-created topic %s with %d queues", broker, topic, nums)
        return created

    def create_in_send_back(self, broker: str, topic: str, queues: int, perm: int = PERM_RW) -> TopicConfig:
        """``createTopicInSendMessageBackMethod``: the retry (or DLQ) topic of
        a consumer group on one broker, created if missing."""
        with self._lock:
            table = self._tables[broker]
            config = table.get(topic)
            if config is None:
                config = table[topic] = TopicConfig(topic, queues, queues, perm)
                log.info("%s: created topic %s with %d queues", broker, topic, queues)
            return config
