"""A client instance's periodic services: the scheduler loop, the rebalance
service, and the rounds over every consumer.

Mirrors ``MQClientInstance.startScheduledTask`` (each job every period; a
job that fails is logged and the schedule goes on), ``RebalanceService``
(every ``rebalance_interval``, or at once when woken) and
``doRebalance`` / ``persistAllConsumerOffset``.  The functions are the
bodies of :class:`~client.instance.ClientInstance` methods, which start them
and hold the state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .instance import ClientInstance

__all__ = ["every", "rebalance_service", "do_rebalance", "persist_all_consumer_offsets"]

log = logging.getLogger(__name__)


async def every(period: float, job: Callable[[], Awaitable[Any]], first: float | None = None) -> None:
    """The body of ``ClientInstance._every``."""
    await asyncio.sleep(period if first is None else first)
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a periodic task logs and goes on, as Java's scheduler does
            log.warning("periodic task %s failed: %s", getattr(job, "__name__", job), exc)
        await asyncio.sleep(period)


async def rebalance_service(instance: ClientInstance) -> None:
    """``RebalanceService``: rebalance every interval, or at once when woken."""
    wakeup = instance._rebalance_wakeup
    while True:
        # not wait_for(): before 3.12 it can swallow a cancel that comes as
        # the event is set, and shutdown would then wait for ever
        woken = asyncio.ensure_future(wakeup.wait())
        try:
            await asyncio.wait([woken], timeout=instance.config.rebalance_interval)
        finally:
            woken.cancel()
        wakeup.clear()
        await instance.do_rebalance()


async def do_rebalance(instance: ClientInstance) -> None:
    """``do_rebalance`` of every consumer; one that fails is logged."""
    for group, consumer in list(instance.consumers.items()):
        try:
            await consumer.do_rebalance()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("rebalance of consumer group %s failed", group)


async def persist_all_consumer_offsets(instance: ClientInstance) -> None:
    """``persist_consumer_offset`` of every consumer; one that fails is logged."""
    for group, consumer in list(instance.consumers.items()):
        try:
            await consumer.persist_consumer_offset()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("persisting the offsets of consumer group %s failed", group)
