"""The GET_CONSUMER_RUNNING_INFO (307) answer body: what a consumer client
reports about one of its groups to an operator's tools.

Mirrors ``ConsumerRunningInfo``, ``ProcessQueueInfo`` and ``ConsumeStatus`` of
``org.apache.rocketmq.common.protocol.body`` (4.9.x) as fastjson writes them
from their getters (keys sorted, nulls omitted).  Two things make this body
unlike the others:

* ``mqTable`` is a ``TreeMap<MessageQueue, ProcessQueueInfo>``, and fastjson
  writes a map's non-String keys as they serialise, so its keys are JSON
  *objects*: ``{"mqTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{...}}}``.
  That is not JSON (apache/rocketmq issues #1506, #3389 show the same for
  other ``MessageQueue``-keyed tables); :func:`_parse` reads it (any object key that is an object
  of scalars), and :meth:`ConsumerRunningInfo.to_json` writes it, keys in
  ``MessageQueue.compareTo`` order as the TreeMap iterates.
* ``ConsumeStatus`` holds ``double`` s, written as Java's ``Double.toString``
  writes them (``0.0``, ``1.5E-4``, ``1.0E7``; NaN and infinities as null).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import EncodeError, MalformedBodyError
from ._json import (
    INT32,
    INT64,
    check_bool,
    check_int,
    check_items,
    check_str,
    dumps,
    expect_object,
    get_bool,
    get_int,
    get_list,
    get_opt_str,
    show,
    to_text,
)
from .heartbeat import SubscriptionData, _subscription, _subscription_obj
from .lock import MessageQueueData, message_queue, message_queue_obj

__all__ = [
    "ProcessQueueInfo",
    "ConsumeStatus",
    "ConsumerRunningInfo",
    "PROP_NAMESERVER_ADDR",
    "PROP_THREADPOOL_CORE_SIZE",
    "PROP_CONSUME_ORDERLY",
    "PROP_CONSUME_TYPE",
    "PROP_CLIENT_VERSION",
    "PROP_CONSUMER_START_TIMESTAMP",
    "java_double",
]

# ConsumerRunningInfo's property names (note PROP_CONSUME_ORDERLY's value).
PROP_NAMESERVER_ADDR = "PROP_NAMESERVER_ADDR"
PROP_THREADPOOL_CORE_SIZE = "PROP_THREADPOOL_CORE_SIZE"
PROP_CONSUME_ORDERLY = "PROP_CONSUMEORDERLY"
PROP_CONSUME_TYPE = "PROP_CONSUME_TYPE"
PROP_CLIENT_VERSION = "PROP_CLIENT_VERSION"
PROP_CONSUMER_START_TIMESTAMP = "PROP_CONSUMER_START_TIMESTAMP"

# (JSON key, attribute) of ProcessQueueInfo, sorted by key; the int ones are
# Java int, the rest long, except the two booleans.
_PQ_INTS = {"cachedMsgCount", "cachedMsgSizeInMiB", "transactionMsgCount"}
_PQ_BOOLS = {"droped", "locked"}
_PQ_FIELDS = (
    ("cachedMsgCount", "cached_msg_count"),
    ("cachedMsgMaxOffset", "cached_msg_max_offset"),
    ("cachedMsgMinOffset", "cached_msg_min_offset"),
    ("cachedMsgSizeInMiB", "cached_msg_size_in_mib"),
    ("commitOffset", "commit_offset"),
    ("droped", "droped"),
    ("lastConsumeTimestamp", "last_consume_timestamp"),
    ("lastLockTimestamp", "last_lock_timestamp"),
    ("lastPullTimestamp", "last_pull_timestamp"),
    ("locked", "locked"),
    ("transactionMsgCount", "transaction_msg_count"),
    ("transactionMsgMaxOffset", "transaction_msg_max_offset"),
    ("transactionMsgMinOffset", "transaction_msg_min_offset"),
    ("tryUnlockTimes", "try_unlock_times"),
)
_CS_DOUBLES = (
    ("consumeFailedTPS", "consume_failed_tps"),
    ("consumeOKTPS", "consume_ok_tps"),
    ("consumeRT", "consume_rt"),
    ("pullRT", "pull_rt"),
    ("pullTPS", "pull_tps"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessQueueInfo:
    """``ProcessQueueInfo``: the state of one queue's local cache.
    ``droped`` keeps Java's spelling."""

    commit_offset: int = 0
    cached_msg_min_offset: int = 0
    cached_msg_max_offset: int = 0
    cached_msg_count: int = 0
    cached_msg_size_in_mib: int = 0
    transaction_msg_min_offset: int = 0
    transaction_msg_max_offset: int = 0
    transaction_msg_count: int = 0
    locked: bool = False
    try_unlock_times: int = 0
    last_lock_timestamp: int = 0
    droped: bool = False
    last_pull_timestamp: int = 0
    last_consume_timestamp: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsumeStatus:
    """``ConsumeStatus``: one topic's pull and consume rates (RT in ms, TPS per
    second) and the count of failed messages."""

    pull_rt: float = 0.0
    pull_tps: float = 0.0
    consume_rt: float = 0.0
    consume_ok_tps: float = 0.0
    consume_failed_tps: float = 0.0
    consume_failed_msgs: int = 0


@dataclass(frozen=True, slots=True)
class ConsumerRunningInfo:
    """``ConsumerRunningInfo``: the group's properties (``PROP_*`` and the
    consumer's options, all strings), its subscriptions, each assigned queue's
    cache state, per-topic rates and, when asked for, a thread dump."""

    properties: dict[str, str] = field(default_factory=dict, hash=False)
    subscription_set: tuple[SubscriptionData, ...] = ()
    mq_table: dict[MessageQueueData, ProcessQueueInfo] = field(default_factory=dict, hash=False)
    status_table: dict[str, ConsumeStatus] = field(default_factory=dict, hash=False)
    jstack: str | None = None

    def to_json(self) -> bytes:
        """fastjson's text, ``mqTable`` with object keys (see the module
        docstring).  :class:`~codec.errors.EncodeError` for values of the wrong type."""
        what = "ConsumerRunningInfo"
        if not isinstance(self.properties, Mapping) or not isinstance(self.mq_table, Mapping):
            raise EncodeError(f"{what}.properties and .mq_table must be mappings")
        if not isinstance(self.status_table, Mapping):
            raise EncodeError(f"{what}.status_table must be a mapping")
        parts = []
        if self.jstack is not None:
            parts.append('"jstack":' + dumps(check_str(self.jstack, f"{what}.jstack")).decode())
        rows = []
        for mq in sorted(self.mq_table, key=_mq_order):
            if not isinstance(mq, MessageQueueData):
                raise EncodeError(f"{what}.mq_table keys must be MessageQueueData, not {type(mq).__name__}")
            key = dumps(message_queue_obj(mq, f"{what}.mq_table key")).decode()
            rows.append(key + ":" + dumps(_pq_obj(self.mq_table[mq], f"{what}.mq_table value")).decode())
        parts.append('"mqTable":{' + ",".join(rows) + "}")
        props = {check_str(k, f"{what}.properties key"): check_str(v, f"{what}.properties value") for k, v in self.properties.items()}
        parts.append('"properties":' + dumps(props).decode())
        statuses = []
        for topic in sorted(self.status_table):
            status = self.status_table[topic]
            statuses.append(dumps(check_str(topic, f"{what}.status_table key")).decode() + ":" + _cs_text(status, what))
        parts.append('"statusTable":{' + ",".join(statuses) + "}")
        subs = [_subscription_obj(s) for s in check_items(self.subscription_set, SubscriptionData, f"{what}.subscription_set")]
        parts.append('"subscriptionSet":' + dumps(subs).decode())
        return ("{" + ",".join(parts) + "}").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ConsumerRunningInfo:
        """Parse the body (fastjson's object keys included);
        :class:`~codec.errors.MalformedBodyError` if it is not one."""
        what = "ConsumerRunningInfo"
        obj = _parse(to_text(data, what), what)
        props = obj.get("properties")
        properties: dict[str, str] = {}
        if props is not None:
            for k, v in expect_object(props, f"{what}.properties").items():
                if not isinstance(k, str) or v is None:
                    continue
                properties[k] = _java_text(v, f"{what}.properties[{show(k)}]")
        mq_table: dict[MessageQueueData, ProcessQueueInfo] = {}
        table = obj.get("mqTable")
        if table is not None:
            for key, value in expect_object(table, f"{what}.mqTable").items():
                if not isinstance(key, _ObjectKey):
                    raise MalformedBodyError(f"{what}.mqTable: key {show(key)} is not a MessageQueue")
                mq_table[message_queue(dict(key), f"{what}.mqTable key")] = _pq(value, f"{what}.mqTable value")
        status_table: dict[str, ConsumeStatus] = {}
        statuses = obj.get("statusTable")
        if statuses is not None:
            for topic, value in expect_object(statuses, f"{what}.statusTable").items():
                if not isinstance(topic, str):
                    raise MalformedBodyError(f"{what}.statusTable: key {show(topic)} is not a topic")
                status_table[topic] = _cs(value, f"{what}.statusTable[{show(topic)}]")
        return cls(
            properties=properties,
            subscription_set=get_list(obj, "subscriptionSet", what, _subscription),
            mq_table=mq_table,
            status_table=status_table,
            jstack=get_opt_str(obj, "jstack", what),
        )


# --------------------------------------------------------------------------- writing


def _mq_order(mq: MessageQueueData) -> tuple[bytes, bytes, int]:
    # MessageQueue.compareTo compares Java strings (UTF-16 units), then the id
    if not isinstance(mq, MessageQueueData):
        raise EncodeError(f"ConsumerRunningInfo.mq_table keys must be MessageQueueData, not {type(mq).__name__}")
    return _java_order(mq.topic), _java_order(mq.broker_name), mq.queue_id if isinstance(mq.queue_id, int) else 0


def _java_order(value: object) -> bytes:
    # big-endian UTF-16 bytes compare as Java compares strings (by code unit)
    return str(value).encode("utf-16-be", "surrogatepass")


def _pq_obj(info: ProcessQueueInfo, what: str) -> dict[str, Any]:
    if not isinstance(info, ProcessQueueInfo):
        raise EncodeError(f"{what} must be a ProcessQueueInfo, not {type(info).__name__}")
    out: dict[str, Any] = {}
    for key, attr in _PQ_FIELDS:
        value = getattr(info, attr)
        if key in _PQ_BOOLS:
            out[key] = check_bool(value, f"ProcessQueueInfo.{attr}")
        else:
            out[key] = check_int(value, f"ProcessQueueInfo.{attr}", INT32 if key in _PQ_INTS else INT64)
    return out


def java_double(value: float) -> str:
    """``Double.toString(value)`` as fastjson writes a ``double``: plain
    decimal for 1e-3 <= |v| < 1e7, else ``d.dddE<exp>``; NaN and the
    infinities as ``null``."""
    if math.isnan(value) or math.isinf(value):
        return "null"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(abs(float(value)))).normalize().as_tuple()
    digits = "".join(map(str, digits_tuple.digits))
    exponent = int(digits_tuple.exponent) + len(digits) - 1  # value = d.ddd x 10^exponent
    if -3 <= exponent < 7:
        if exponent >= 0:
            whole = digits[: exponent + 1].ljust(exponent + 1, "0")
            frac = digits[exponent + 1 :] or "0"
        else:
            whole, frac = "0", "0" * (-exponent - 1) + digits
        return f"{sign}{whole}.{frac}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _cs_text(status: ConsumeStatus, what: str) -> str:
    if not isinstance(status, ConsumeStatus):
        raise EncodeError(f"{what}.status_table values must be ConsumeStatus, not {type(status).__name__}")
    items = {"consumeFailedMsgs": str(check_int(status.consume_failed_msgs, "ConsumeStatus.consume_failed_msgs", INT64))}
    for key, attr in _CS_DOUBLES:
        value = getattr(status, attr)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EncodeError(f"ConsumeStatus.{attr} must be a float, not {type(value).__name__}")
        items[key] = java_double(float(value))
    return "{" + ",".join(f'"{k}":{v}' for k, v in sorted(items.items()) if v != "null") + "}"


# --------------------------------------------------------------------------- reading


class _ObjectKey(tuple):  # type: ignore[type-arg]
    """A map key that fastjson wrote as an object: its (key, value) pairs."""

    __slots__ = ()


_decoder = json.JSONDecoder()
_WS = " \t\n\r"


def _parse(text: str, what: str) -> dict[Any, Any]:
    try:
        value, end = _value(text, _skip(text, 0), 0)
    except (ValueError, IndexError, RecursionError) as exc:
        raise MalformedBodyError(f"{what}: not fastjson text ({exc})"[:200]) from None
    if _skip(text, end) != len(text):
        raise MalformedBodyError(f"{what}: text after the object")
    if type(value) is not dict:
        raise MalformedBodyError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _value(text: str, pos: int, depth: int) -> tuple[Any, int]:
    if depth > 64:
        raise ValueError("nested too deeply")
    if text[pos] != "{":
        # strings, numbers, literals and arrays (of plain JSON) as the json module reads them
        return _decoder.raw_decode(text, pos)
    out: dict[Any, Any] = {}
    pos = _skip(text, pos + 1)
    if text[pos] == "}":
        return out, pos + 1
    while True:
        if text[pos] == "{":
            raw, pos = _value(text, pos, depth + 1)
            if any(isinstance(v, (dict, list)) for v in raw.values()):
                raise ValueError("an object key holding containers")
            key: Any = _ObjectKey(sorted((k, v) for k, v in raw.items() if isinstance(k, str)))
        else:
            key, pos = _decoder.raw_decode(text, pos)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise ValueError(f"bad key at {pos}")
        pos = _skip(text, pos)
        if text[pos] != ":":
            raise ValueError(f"expected ':' at {pos}")
        item, pos = _value(text, _skip(text, pos + 1), depth + 1)
        out[key] = item
        pos = _skip(text, pos)
        if text[pos] == "}":
            return out, pos + 1
        if text[pos] != ",":
            raise ValueError(f"expected ',' or '}}' at {pos}")
        pos = _skip(text, pos + 1)


def _java_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    raise MalformedBodyError(f"{where} must be a string, not {show(value)}")


def _pq(value: Any, where: str) -> ProcessQueueInfo:
    obj = expect_object(value, where)
    values: dict[str, Any] = {}
    for key, attr in _PQ_FIELDS:
        if key in _PQ_BOOLS:
            values[attr] = get_bool(obj, key, where)
        else:
            values[attr] = get_int(obj, key, where, INT32 if key in _PQ_INTS else INT64, default=0)
    return ProcessQueueInfo(**values)


def _cs(value: Any, where: str) -> ConsumeStatus:
    obj = expect_object(value, where)
    values: dict[str, Any] = {"consume_failed_msgs": get_int(obj, "consumeFailedMsgs", where, INT64, default=0)}
    for key, attr in _CS_DOUBLES:
        raw = obj.get(key)
        if raw is None:
            values[attr] = 0.0
        elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise MalformedBodyError(f"{where}: {key!r} must be a number, not {show(raw)}")
        else:
            values[attr] = float(raw)
    return ConsumeStatus(**values)
