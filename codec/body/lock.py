"""The LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) bodies: an orderly
consumer locking the queues it consumes on a broker.

Mirrors ``LockBatchRequestBody``, ``LockBatchResponseBody`` and
``UnlockBatchRequestBody`` of ``org.apache.rocketmq.common.protocol.body``,
and ``MessageQueue`` as they write it (``{"brokerName","queueId","topic"}``).
4.9.8 has no ``onlyThisBroker``; 5.x adds it to the request, so it is kept
as an optional field, left out when ``None``.  Java's sets are ``HashSet``s;
here they are tuples in the order given (compare them as sets).  The
client's own ``MessageQueue`` lives in :mod:`rmqwire`; this module keeps
the codec free of it with :class:`MessageQueueData`, the same three fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._json import (
    check_bool,
    check_int,
    check_items,
    check_str,
    dumps,
    expect_object,
    get_int,
    get_list,
    get_opt_bool,
    get_opt_str,
    get_str,
    loads_object,
    to_text,
)

__all__ = ["MessageQueueData", "LockBatchRequestBody", "LockBatchResponseBody", "UnlockBatchRequestBody"]


@dataclass(frozen=True, slots=True, order=True)
class MessageQueueData:
    """One queue of a topic on one broker, as Java's ``MessageQueue`` is
    written in bodies."""

    topic: str
    broker_name: str
    queue_id: int


@dataclass(frozen=True, slots=True)
class LockBatchRequestBody:
    """Lock ``mq_set`` for ``client_id`` of ``consumer_group``."""

    consumer_group: str
    client_id: str
    mq_set: tuple[MessageQueueData, ...] = ()
    only_this_broker: bool | None = None

    def to_json(self) -> bytes:
        """fastjson's shape: keys sorted, nulls omitted.
        :class:`~codec.errors.EncodeError` for values of the wrong type."""
        return dumps(_lock_obj(self, "LockBatchRequestBody"))

    @classmethod
    def from_json(cls, data: bytes) -> LockBatchRequestBody:
        """Parse the body; :class:`~codec.errors.MalformedBodyError` if it is not one."""
        what = "LockBatchRequestBody"
        obj = loads_object(to_text(data, what), what)
        group, client_id, mqs = _lock_fields(obj, what)
        return cls(group, client_id, mqs, get_opt_bool(obj, "onlyThisBroker", what))


@dataclass(frozen=True, slots=True)
class UnlockBatchRequestBody:
    """Unlock ``mq_set`` held by ``client_id`` of ``consumer_group``."""

    consumer_group: str
    client_id: str
    mq_set: tuple[MessageQueueData, ...] = ()

    def to_json(self) -> bytes:
        """fastjson's shape: keys sorted, nulls omitted."""
        return dumps(_lock_obj(self, "UnlockBatchRequestBody"))

    @classmethod
    def from_json(cls, data: bytes) -> UnlockBatchRequestBody:
        """Parse the body; :class:`~codec.errors.MalformedBodyError` if it is not one."""
        what = "UnlockBatchRequestBody"
        return cls(*_lock_fields(loads_object(to_text(data, what), what), what))


@dataclass(frozen=True, slots=True)
class LockBatchResponseBody:
    """The queues of the request the broker locked for the client (those
    another live client holds are left out)."""

    lock_ok_mq_set: tuple[MessageQueueData, ...] = ()

    def to_json(self) -> bytes:
        """fastjson's shape."""
        return dumps({"lockOKMQSet": _mq_list(self.lock_ok_mq_set, "LockBatchResponseBody.lock_ok_mq_set")})

    @classmethod
    def from_json(cls, data: bytes) -> LockBatchResponseBody:
        """Parse the body; :class:`~codec.errors.MalformedBodyError` if it is not one."""
        what = "LockBatchResponseBody"
        obj = loads_object(to_text(data, what), what)
        return cls(get_list(obj, "lockOKMQSet", what, message_queue))


def message_queue(value: Any, where: str) -> MessageQueueData:
    """Read one ``MessageQueue`` object (a ``get_list`` item reader)."""
    obj = expect_object(value, where)
    return MessageQueueData(
        topic=get_str(obj, "topic", where),
        broker_name=get_str(obj, "brokerName", where),
        queue_id=get_int(obj, "queueId", where),
    )


def message_queue_obj(mq: MessageQueueData, what: str) -> dict[str, Any]:
    """One ``MessageQueue`` as fastjson writes it."""
    return {
        "brokerName": check_str(mq.broker_name, f"{what}.broker_name"),
        "queueId": check_int(mq.queue_id, f"{what}.queue_id"),
        "topic": check_str(mq.topic, f"{what}.topic"),
    }


def _mq_list(mqs: object, what: str) -> list[dict[str, Any]]:
    return [message_queue_obj(mq, f"{what} item") for mq in check_items(mqs, MessageQueueData, what)]


def _lock_obj(body: LockBatchRequestBody | UnlockBatchRequestBody, what: str) -> dict[str, Any]:
    only = getattr(body, "only_this_broker", None)
    return {
        "clientId": check_str(body.client_id, f"{what}.client_id"),
        "consumerGroup": check_str(body.consumer_group, f"{what}.consumer_group"),
        "mqSet": _mq_list(body.mq_set, f"{what}.mq_set"),
        "onlyThisBroker": None if only is None else check_bool(only, f"{what}.only_this_broker"),
    }


def _lock_fields(obj: dict[str, Any], what: str) -> tuple[str, str, tuple[MessageQueueData, ...]]:
    # Java leaves unset strings null; a body without them is still a body.
    group = get_opt_str(obj, "consumerGroup", what)
    client_id = get_opt_str(obj, "clientId", what)
    return group or "", client_id or "", get_list(obj, "mqSet", what, message_queue)
