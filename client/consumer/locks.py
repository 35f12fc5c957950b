"""An orderly consumer's queue locks on the brokers.

Mirrors ``RebalanceImpl.lock`` / ``lockAll`` / ``unlock`` / ``unlockAll``
with ``MQClientAPIImpl.lockBatchMQ`` / ``unlockBatchMQ``: LOCK_BATCH_MQ
(41) and UNLOCK_BATCH_MQ (42), no header fields, a JSON body naming the
group, the client id and the queues (``{"clientId", "consumerGroup",
"mqSet": [{"brokerName", "queueId", "topic"}]}``), sent to each broker's
master with a 1 s timeout.  The broker answers the queues it granted
(``lockOKMQSet``); a granted queue's :class:`~.orderly_queue.OrderlyProcessQueue`
is marked locked (and its lock time renewed), a refused one unlocked.

Failures are logged and count as "not locked": a queue that cannot be
locked is not consumed, which is the safe side for ordering.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..codec.body import LockBatchRequestBody, LockBatchResponseBody, MessageQueueData, UnlockBatchRequestBody
from ..codec.enums import RequestCode, ResponseCode
from ..codec.errors import BrokerError, RocketMQError
from ..types import MessageQueue
from .broker_api import MASTER_ID
from .orderly_queue import OrderlyProcessQueue

if TYPE_CHECKING:
    from ..instance import ClientInstance

__all__ = ["QueueLocker", "LOCK_TIMEOUT", "to_queue_data", "from_queue_data"]

log = logging.getLogger(__name__)

#: Java's timeout of LOCK_BATCH_MQ / UNLOCK_BATCH_MQ (1000 ms)
LOCK_TIMEOUT = 1.0


def to_queue_data(mq: MessageQueue) -> MessageQueueData:
    """The codec's view of a client ``MessageQueue``."""
    return MessageQueueData(mq.topic, mq.broker_name, mq.queue_id)


def from_queue_data(data: MessageQueueData) -> MessageQueue:
    return MessageQueue(data.topic, data.broker_name, data.queue_id)


class QueueLocker:
    """Locks the queues of ``process_queues()`` for ``client_id`` of ``group``."""

    def __init__(
        self,
        instance: ClientInstance,
        group: str,
        client_id: str,
        process_queues: Callable[[], Mapping[MessageQueue, Any]],
        *,
        timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.instance = instance
        self.group = group
        self.client_id = client_id
        self._process_queues = process_queues
        self.timeout = timeout

    def _master(self, broker_name: str) -> str | None:
        found = self.instance.find_broker_address_in_subscribe(broker_name, MASTER_ID, True)
        return None if found is None else found.addr

    def _by_broker(self, mqs: Iterable[MessageQueue]) -> dict[str, list[MessageQueue]]:
        table: dict[str, list[MessageQueue]] = {}
        for mq in mqs:
            table.setdefault(mq.broker_name, []).append(mq)
        return table

    async def lock_batch(self, addr: str, mqs: Iterable[MessageQueue]) -> set[MessageQueue]:
        """LOCK_BATCH_MQ to ``addr``: the queues it granted.  Raises on failure."""
        body = LockBatchRequestBody(self.group, self.client_id, tuple(to_queue_data(mq) for mq in mqs))
        cmd = self.instance.make_request(RequestCode.LOCK_BATCH_MQ, None, body.to_json())
        response = await self.instance.invoke(addr, cmd, self.timeout)
        if response.code != ResponseCode.SUCCESS:
            raise BrokerError.for_code(response.code, response.remark, addr)
        granted = LockBatchResponseBody.from_json(response.body or b"{}").lock_ok_mq_set
        return {from_queue_data(d) for d in granted}

    async def unlock_batch(self, addr: str, mqs: Iterable[MessageQueue], *, oneway: bool) -> None:
        """UNLOCK_BATCH_MQ to ``addr``.  Raises on failure."""
        body = UnlockBatchRequestBody(self.group, self.client_id, tuple(to_queue_data(mq) for mq in mqs))
        cmd = self.instance.make_request(RequestCode.UNLOCK_BATCH_MQ, None, body.to_json(), oneway=oneway)
        if oneway:
            await self.instance.invoke_oneway(addr, cmd, self.timeout)
            return
        response = await self.instance.invoke(addr, cmd, self.timeout)
        if response.code != ResponseCode.SUCCESS:
            raise BrokerError.for_code(response.code, response.remark, addr)

    async def lock(self, mq: MessageQueue, pq: OrderlyProcessQueue | None = None) -> bool:
        """Lock one queue (``RebalanceImpl.lock``); ``pq`` is marked locked when
        granted (as is the table's process queue of ``mq``, if any)."""
        addr = self._master(mq.broker_name)
        if addr is None:
            log.warning("lock of %s: broker %s unknown", mq, mq.broker_name)
            return False
        try:
            granted = await self.lock_batch(addr, [mq])
        except RocketMQError as exc:
            log.error("LOCK_BATCH_MQ of %s failed: %s", mq, exc)
            return False
        table = self._process_queues()
        for locked in granted:
            target = table.get(locked)
            if isinstance(target, OrderlyProcessQueue):
                target.mark_locked()
        ok = mq in granted
        if ok and pq is not None:
            pq.mark_locked()
        log.info("the message queue lock %s, %s %s", "OK" if ok else "Failed", self.group, mq)
        return ok

    async def lock_all(self) -> None:
        """Renew the lock of every owned queue, broker by broker (``lockAll``)."""
        table = self._process_queues()
        for broker_name, mqs in self._by_broker(list(table)).items():
            addr = self._master(broker_name)
            if addr is None:
                continue
            try:
                granted = await self.lock_batch(addr, mqs)
            except RocketMQError as exc:
                log.error("LOCK_BATCH_MQ of %s failed: %s", mqs, exc)
                continue
            table = self._process_queues()
            stale = [mq for mq in granted if mq not in table]
            if stale:  # given up while the request was under way: release again
                try:
                    await self.unlock_batch(addr, stale, oneway=True)
                except RocketMQError as exc:
                    log.error("UNLOCK_BATCH_MQ of %s failed: %s", stale, exc)
            for mq in mqs:
                pq = table.get(mq)
                if not isinstance(pq, OrderlyProcessQueue):
                    continue
                if mq in granted:
                    if not pq.locked:
                        log.info("the message queue locked OK, Group: %s %s", self.group, mq)
                    pq.mark_locked()
                else:
                    pq.locked = False
                    log.warning("the message queue locked Failed, Group: %s %s", self.group, mq)

    async def unlock(self, mq: MessageQueue, *, oneway: bool) -> None:
        """Release one queue (``RebalanceImpl.unlock``); failures are logged."""
        addr = self._master(mq.broker_name)
        if addr is None:
            return
        try:
            await self.unlock_batch(addr, [mq], oneway=oneway)
            log.info("unlock messageQueue. group:%s, clientId:%s, mq:%s", self.group, self.client_id, mq)
        except RocketMQError as exc:
            log.error("UNLOCK_BATCH_MQ of %s failed: %s", mq, exc)

    async def unlock_all(self, *, oneway: bool) -> None:
        """Release every owned queue (``unlockAll``, at shutdown)."""
        table = self._process_queues()
        for broker_name, mqs in self._by_broker(list(table)).items():
            addr = self._master(broker_name)
            if addr is None:
                continue
            try:
                await self.unlock_batch(addr, mqs, oneway=oneway)
            except RocketMQError as exc:
                log.error("UNLOCK_BATCH_MQ of %s failed: %s", mqs, exc)
                continue
            for mq in mqs:
                pq = table.get(mq)
                if isinstance(pq, OrderlyProcessQueue):
                    pq.locked = False
