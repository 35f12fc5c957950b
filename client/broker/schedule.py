"""Delayed delivery: messages with a delay level wait in
``SCHEDULE_TOPIC_XXXX`` and are put back into their real topic when due.

Mirrors ``ScheduleMessageService``.  The store does the first half
(``CommitLog``'s rewrite, see :mod:`.store`): a message whose ``DELAY``
property is a level ``1..max`` is stored in the schedule topic's queue
``level - 1`` with ``REAL_TOPIC`` / ``REAL_QID`` properties.  This service
keeps, per level, the offset of the next message to deliver
(``offsetTable``), and delivers a message once ``store timestamp + the
level's delay`` has passed (``DeliverDelayedMessageTimerTask``): a copy with
the same body, flag, sysFlag, born and reconsume data and the same
properties string (``messageTimeup``: Java writes the string before clearing
``DELAY``, so the delivered record still carries ``DELAY``, ``REAL_TOPIC``
and ``REAL_QID``), stored into the real topic and queue.  Within a level
messages are due in store order, so a cursor per level is all it takes.

The levels are Java's ``messageDelayLevel`` (``1s 5s 10s 30s 1m 2m 3m 4m 5m
6m 7m 8m 9m 10m 20m 30m 1h 2h``); ``scale`` multiplies every delay (tests
use 0.01 or 0) where Java has no such knob.

Theory of operation: :class:`ScheduleMessageService` is sans-I/O (time is
the ``now_ms`` argument): :meth:`~ScheduleMessageService.deliver_due`
delivers what is due and :meth:`~ScheduleMessageService.next_due` says when
to call it again.  The broker runs it on its event loop with a
:class:`~.timer.LoopTimer`, kicked when a message lands in the schedule
topic.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Final

from ..codec.errors import ConfigError
from ..codec.message import PROPERTY_REAL_QUEUE_ID, PROPERTY_REAL_TOPIC
from .store import SCHEDULE_TOPIC, MessageDraft, MessageStore, StoredMessage

__all__ = [
    "ScheduleMessageService",
    "parse_delay_levels",
    "DEFAULT_DELAY_LEVELS",
    "SCHEDULE_TOPIC",
]

log = logging.getLogger(__name__)

#: ``MessageStoreConfig.messageDelayLevel``.
DEFAULT_DELAY_LEVELS: Final = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

_UNIT_MS: Final = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_LEVEL = re.compile(r"(\d+)([smhd])")


def parse_delay_levels(text: str) -> tuple[int, ...]:
    """``ScheduleMessageService.parseDelayLevel``: milliseconds of each
    level (level 1 first) from ``"1s 5s ... 2h"``; a
    :class:`~codec.errors.ConfigError` for anything else."""
    if not isinstance(text, str):
        raise ConfigError(f"delay levels must be a string like {DEFAULT_DELAY_LEVELS!r}, not {text!r}")
    levels: list[int] = []
    for piece in text.split():
        match = _LEVEL.fullmatch(piece)
        if match is None:
            raise ConfigError(f"bad delay level {piece!r} in {text!r}: a number and one of s, m, h, d")
        levels.append(int(match.group(1)) * _UNIT_MS[match.group(2)])
    if not levels:
        raise ConfigError("delay levels must name at least one level")
    return tuple(levels)


def _now_ms() -> int:
    return int(time.time() * 1000)


class ScheduleMessageService:
    """Delivers one store's delayed messages (sans-I/O; call it on the
    thread that appends to the store, the broker's event loop)."""

    def __init__(self, store: MessageStore, levels: str | tuple[int, ...] = DEFAULT_DELAY_LEVELS, scale: float = 1.0) -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0:
            raise ConfigError(f"delay scale must be a number >= 0, not {scale!r}")
        self.store = store
        self.levels_ms: tuple[int, ...] = parse_delay_levels(levels) if isinstance(levels, str) else tuple(levels)
        self.scale = float(scale)
        #: Level -> schedule-queue offset of the next message to deliver (``offsetTable``).
        self.offsets: dict[int, int] = {}
        store.max_delay_level = self.max_delay_level

    @property
    def max_delay_level(self) -> int:
        return len(self.levels_ms)

    def delay_ms(self, level: int) -> int:
        """The delay of ``level`` (1-based) after scaling."""
        return int(self.levels_ms[level - 1] * self.scale)

    def deliver_timestamp(self, message: StoredMessage) -> int:
        """``computeDeliverTimestamp``: when a message of the schedule topic is due."""
        return message.store_timestamp + self.delay_ms(message.queue_id + 1)

    def deliver_due(self, now_ms: int | None = None) -> list[StoredMessage]:
        """Deliver every message due at ``now_ms`` (default: the wall
        clock), level by level in store order; returns the delivered copies."""
        store = self.store
        delivered: list[StoredMessage] = []
        for level in range(1, self.max_delay_level + 1):
            queue_id = level - 1
            high = store.max_offset(SCHEDULE_TOPIC, queue_id)
            offset = self.offsets.get(level, 0)
            while offset < high:
                now = _now_ms() if now_ms is None else now_ms
                offset = max(offset, store.min_offset(SCHEDULE_TOPIC, queue_id))
                waiting = store.read(SCHEDULE_TOPIC, queue_id, offset, 1)
                if not waiting:
                    break
                message = waiting[0]
                due = self._corrected(now, level, self.deliver_timestamp(message))
                if due > now:
                    break
                copy = _time_up(message)
                if copy is None:
                    log.error("%s: delayed message at %d has no real topic; dropped", store.broker_name, message.commitlog_offset)
                else:
                    delivered.extend(store.append([copy], now_ms=now_ms))
                offset += 1
            self.offsets[level] = offset
        return delivered

    def _corrected(self, now: int, level: int, due: int) -> int:
        # correctDeliverTimestamp: a due time beyond now + the level's delay (a clock jump) means now
        return now if due > now + self.delay_ms(level) else due

    def next_due(self, now_ms: int | None = None) -> int | None:
        """The wall-clock ms when the next waiting message is due (at most
        ``now_ms`` if one is due already), or None when none waits."""
        store = self.store
        now = _now_ms() if now_ms is None else now_ms
        soonest: int | None = None
        for level in range(1, self.max_delay_level + 1):
            queue_id = level - 1
            offset = max(self.offsets.get(level, 0), store.min_offset(SCHEDULE_TOPIC, queue_id))
            waiting = store.read(SCHEDULE_TOPIC, queue_id, offset, 1)
            if waiting:
                due = self._corrected(now, level, self.deliver_timestamp(waiting[0]))
                soonest = due if soonest is None else min(soonest, due)
        return soonest

    def pending(self) -> int:
        """How many delayed messages are still waiting."""
        store = self.store
        return sum(
            max(0, store.max_offset(SCHEDULE_TOPIC, level - 1) - max(offset, store.min_offset(SCHEDULE_TOPIC, level - 1)))
            for level, offset in ((lv, self.offsets.get(lv, 0)) for lv in range(1, self.max_delay_level + 1))
        )


def _time_up(message: StoredMessage) -> MessageDraft | None:
    """``messageTimeup``: the copy of a due message for its real topic."""
    props = message.properties
    real_topic = props.get(PROPERTY_REAL_TOPIC)
    try:
        real_queue = int(props.get(PROPERTY_REAL_QUEUE_ID, ""))
    except ValueError:
        return None
    if not real_topic:
        return None
    return MessageDraft(
        topic=real_topic,
        queue_id=real_queue,
        body=message.body,
        properties=dict(props),
        flag=message.flag,
        sys_flag=message.sys_flag,
        born_timestamp=message.born_timestamp,
        born_host=message.born_host,
        reconsume_times=message.reconsume_times,
        producer_group=message.producer_group,
        request_code=message.request_code,
        serialize_type=message.serialize_type,
        language=message.language,
        schedule=False,
    )
