"""Ready queue selectors for orderly sends (``send(msg, selector=..., arg=...)``).

Mirrors ``org.apache.rocketmq.client.producer.selector``:
``SelectMessageQueueByHash`` and ``SelectMessageQueueByRandom``.  A selector
is ``selector(queues, msg, arg) -> MessageQueue`` (Java's
``MessageQueueSelector.select``); messages whose ``arg`` (a shard key, an
order id) is the same go to the same queue while the topic's queues stay
the same, which is what keeps them in order.

The hash selector hashes ``arg`` as Java's ``hashCode`` does for ``str``
(``String.hashCode`` over UTF-16 code units) and ``int`` (``Integer`` or,
beyond 32 bits, ``Long``), so a Python producer and a Java producer with
the same keys pick the same queues.  Other values use Python's ``hash``,
which for ``bytes`` or tuples of strings differs from one process to the
next unless ``PYTHONHASHSEED`` is set: prefer ``str`` or ``int`` keys.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .codec.errors import ClientError
from .types import Message, MessageQueue

__all__ = ["java_hash_code", "select_message_queue_by_hash", "select_message_queue_by_random"]

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value > _INT32_MAX else value


def java_hash_code(value: Any) -> int:
    """``value.hashCode()`` as Java computes it for a ``String``, an
    ``Integer`` / ``Long`` and a ``Boolean``; Python's ``hash`` otherwise."""
    if isinstance(value, str):
        h = 0
        units = value.encode("utf-16-be", "surrogatepass")
        for i in range(0, len(units), 2):
            h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
        return _int32(h)
    if isinstance(value, bool):
        return 1231 if value else 1237
    if isinstance(value, int):
        if _INT32_MIN <= value <= _INT32_MAX:
            return value
        if _INT64_MIN <= value <= _INT64_MAX:
            unsigned = value & 0xFFFFFFFFFFFFFFFF
            return _int32(unsigned ^ (unsigned >> 32))
    return _int32(hash(value))


def _check(queues: Sequence[MessageQueue]) -> None:
    if not queues:
        raise ClientError("no queue to select from")


def select_message_queue_by_hash(queues: Sequence[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
    """``SelectMessageQueueByHash``: ``queues[abs(hashCode(arg) % len)]``."""
    _check(queues)
    h = java_hash_code(arg)
    return queues[abs(h) % len(queues)]  # Java: abs(h % n), the same for a truncating %


def select_message_queue_by_random(queues: Sequence[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
    """``SelectMessageQueueByRandom``: any queue, uniformly."""
    _check(queues)
    return queues[random.randrange(len(queues))]
