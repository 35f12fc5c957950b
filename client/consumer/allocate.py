"""Queue allocation strategies: which of a topic's queues this consumer takes.

Mirrors Java's ``AllocateMessageQueueStrategy`` and its implementations in
``client/consumer/rebalance`` (consumer-protocol.md section 8).  Every
strategy is a pure function of the group, this client's id, all queues and
all consumer ids, so every member of a group computes the same split from
the same two lists without talking to the others.  The rebalance sorts both
lists first (:func:`sort_queues`, :func:`sort_client_ids`, Java order).

A strategy is anything with a ``name`` and an ``allocate`` method
(:class:`AllocateStrategy`); :class:`AllocateMessageQueueAveragely` is the
default, as in Java.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Protocol, runtime_checkable

from ..codec.errors import ConfigError
from ..types import MessageQueue, java_string_order

__all__ = [
    "AllocateStrategy",
    "AllocateMessageQueueAveragely",
    "AllocateMessageQueueAveragelyByCircle",
    "AllocateMessageQueueConsistentHash",
    "AllocateMessageQueueByConfig",
    "AllocateMessageQueueByMachineRoom",
    "sort_queues",
    "sort_client_ids",
]

log = logging.getLogger(__name__)


def sort_queues(queues: Iterable[MessageQueue]) -> list[MessageQueue]:
    """``Collections.sort(mqAll)``: topic, then broker name, then queue id."""
    return sorted(queues)


def sort_client_ids(cids: Iterable[str]) -> list[str]:
    """``Collections.sort(cidAll)``: plain Java string order."""
    return sorted(cids, key=java_string_order)


@runtime_checkable
class AllocateStrategy(Protocol):
    """Java ``AllocateMessageQueueStrategy``.

    ``allocate`` receives the sorted queues and sorted consumer ids of one
    topic and returns the queues ``current_cid`` takes.
    """

    @property
    def name(self) -> str:
        """The strategy's Java name (``AVG``, ``AVG_BY_CIRCLE``, ...)."""
        ...

    def allocate(
        self, group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
    ) -> list[MessageQueue]:
        """The queues of ``mq_all`` that ``current_cid`` consumes."""
        ...


def _check(group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]) -> bool:
    """``AbstractAllocateMessageQueueStrategy.check``: bad arguments raise, an
    id missing from the list (a stale consumer list) allocates nothing."""
    if not current_cid:
        raise ConfigError("currentCID is empty")
    if not mq_all:
        raise ConfigError("mqAll is null or mqAll empty")
    if not cid_all:
        raise ConfigError("cidAll is null or cidAll empty")
    if current_cid not in cid_all:
        log.info("consumer group %s: consumer id %s not in %s", group, current_cid, list(cid_all))
        return False
    return True


class AllocateMessageQueueAveragely:
    """Contiguous ranges, the first ``n % c`` consumers one queue more (Java's default)."""

    name = "AVG"

    def allocate(
        self, group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
    ) -> list[MessageQueue]:
        if not _check(group, current_cid, mq_all, cid_all):
            return []
        index = list(cid_all).index(current_cid)
        n, c = len(mq_all), len(cid_all)
        mod = n % c
        if n <= c:
            average = 1
        elif mod > 0 and index < mod:
            average = n // c + 1
        else:
            average = n // c
        start = index * average if mod > 0 and index < mod else index * average + mod
        count = min(average, n - start)
        return [mq_all[(start + i) % n] for i in range(count)]


class AllocateMessageQueueAveragelyByCircle:
    """Round robin: queue ``i`` goes to consumer ``i % c``."""

    name = "AVG_BY_CIRCLE"

    def allocate(
        self, group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
    ) -> list[MessageQueue]:
        if not _check(group, current_cid, mq_all, cid_all):
            return []
        index = list(cid_all).index(current_cid)
        return [mq_all[i] for i in range(index, len(mq_all)) if i % len(cid_all) == index]


def md5_hash(key: str) -> int:
    """Java ``ConsistentHashRouter.MD5Hash``: the first 4 digest bytes, big-endian, unsigned."""
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:4], "big")


def _queue_string(mq: MessageQueue) -> str:
    # MessageQueue.toString(): the key Java hashes onto the ring
    return f"MessageQueue [topic={mq.topic}, brokerName={mq.broker_name}, queueId={mq.queue_id}]"


class AllocateMessageQueueConsistentHash:
    """A hash ring of ``virtual_node_count`` points per consumer (``cid-0``,
    ``cid-1``, ...); a queue goes to the first point at or after its hash.
    Adding or removing a consumer moves only the queues next to its points."""

    name = "CONSISTENT_HASH"

    def __init__(self, virtual_node_count: int = 10, hash_function: Callable[[str], int] | None = None) -> None:
        if not isinstance(virtual_node_count, int) or virtual_node_count < 0:
            raise ConfigError(f"illegal virtualNodeCnt :{virtual_node_count}")
        self.virtual_node_count = virtual_node_count
        self.hash_function = hash_function or md5_hash

    def allocate(
        self, group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
    ) -> list[MessageQueue]:
        if not _check(group, current_cid, mq_all, cid_all):
            return []
        ring: dict[int, str] = {}
        for cid in cid_all:
            for i in range(self.virtual_node_count):
                ring[self.hash_function(f"{cid}-{i}")] = cid  # a collision: the later node wins, as TreeMap.put
        if not ring:
            return []
        points = sorted(ring)
        result = []
        for mq in mq_all:
            at = bisect.bisect_left(points, self.hash_function(_queue_string(mq)))
            if ring[points[at % len(points)]] == current_cid:
                result.append(mq)
        return result


class AllocateMessageQueueByConfig:
    """Always the configured queues, whoever asks."""

    name = "CONFIG"

    def __init__(self, queues: Iterable[MessageQueue]) -> None:
        self.queues = list(queues)

    def allocate(
        self, group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
    ) -> list[MessageQueue]:
        return list(self.queues)


class AllocateMessageQueueByMachineRoom:
    """Only queues of brokers named ``<room>@<name>`` with ``room`` in
    ``consumer_idcs``, split in equal blocks, the remainder one each."""

    name = "MACHINE_ROOM"

    def __init__(self, consumer_idcs: Collection[str]) -> None:
        self.consumer_idcs = frozenset(consumer_idcs)

    def allocate(
        self, group: str, current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]
    ) -> list[MessageQueue]:
        if not _check(group, current_cid, mq_all, cid_all):
            return []
        index = list(cid_all).index(current_cid)
        chosen = []
        for mq in mq_all:
            parts = mq.broker_name.split("@")
            while parts and not parts[-1]:  # Java's split drops trailing empty strings
                parts.pop()
            if len(parts) == 2 and parts[0] in self.consumer_idcs:
                chosen.append(mq)
        block, rem = divmod(len(chosen), len(cid_all))
        result = chosen[block * index : block * index + block]
        if rem > index:
            result.append(chosen[index + block * len(cid_all)])
        return result
