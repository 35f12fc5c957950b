"""The ``GET_ROUTEINFO_BY_TOPIC`` (105) response body: ``TopicRouteData``.

Mirrors ``org.apache.rocketmq.remoting.protocol.route`` (4.9.x:
``common.protocol.route``): ``TopicRouteData``, ``QueueData``, ``BrokerData``,
``PermName``, and the queue lists of
``MQClientInstance.topicRouteData2TopicPublishInfo`` / ``topicRouteData2TopicSubscribeInfo`` (``protocol.md`` 7).

The shape is forced by fastjson.  ``BrokerData.brokerAddrs`` is a
``HashMap<Long, String>``, and fastjson's default output writes such keys
bare, ``{0:"127.0.0.1:10911"}``, which is not JSON.  Name servers up to 4.9.3,
and newer ones answering a client that advertises a version below 401, send
exactly that.  :meth:`TopicRouteData.from_json` therefore tries standard JSON
first and, if that fails, quotes the bare integer keys with
:func:`quote_integer_keys` (a scanner that knows where strings are, so
digits inside a broker name or address are never touched) and tries again.
:meth:`TopicRouteData.to_json` writes either form, so a test name server can
answer like an old one or a new one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import EncodeError, MalformedBodyError
from ._json import (
    check_bool,
    check_int,
    check_items,
    check_str,
    INT64,
    dumps,
    expect_object,
    get_int,
    get_list,
    get_object,
    get_opt_bool,
    get_opt_str,
    get_str,
    loads_object,
    show,
    str_item,
    to_text,
)

__all__ = [
    "PermName",
    "QueueData",
    "BrokerData",
    "TopicRouteData",
    "MASTER_ID",
    "MAX_QUEUE_NUMS",
    "quote_integer_keys",
    "topic_route_to_queues",
    "topic_route_to_publish_queues",
]

#: ``MixAll.MASTER_ID``: the broker id of a master in ``brokerAddrs``.
MASTER_ID: Final = 0

#: The most queues :func:`topic_route_to_queues` makes for one
#: broker.  Java has no such limit, but a corrupt count must not make us
#: allocate billions of entries; real topics have a few dozen at most.
MAX_QUEUE_NUMS: Final = 65536


class PermName(enum.IntFlag):
    """``PermName``: the ``perm`` bits of a ``QueueData`` (6 = read + write)."""

    PERM_PRIORITY = 0x8
    PERM_READ = 0x4
    PERM_WRITE = 0x2
    PERM_INHERIT = 0x1


@dataclass(frozen=True, slots=True)
class QueueData:
    """``QueueData``: the queues of one topic on one broker (by name)."""

    broker_name: str
    read_queue_nums: int
    write_queue_nums: int
    perm: int
    topic_sys_flag: int = 0


@dataclass(frozen=True, slots=True)
class BrokerData:
    """``BrokerData``: the addresses of one broker (by name), keyed by broker
    id; id 0 is the master.  ``enable_acting_master`` and ``zone_name`` are
    5.x fields, ``None`` when absent."""

    cluster: str
    broker_name: str
    broker_addrs: dict[int, str] = field(hash=False)
    enable_acting_master: bool | None = None
    zone_name: str | None = None

    @property
    def master_addr(self) -> str | None:
        """The master's ``ip:port``, where a producer publishes; ``None`` without one."""
        return self.broker_addrs.get(MASTER_ID)


@dataclass(frozen=True, slots=True)
class TopicRouteData:
    """``TopicRouteData``: where a topic lives.

    5.x static-topic mappings (``topicQueueMappingByBroker``) are not kept:
    this client publishes by ``queueDatas`` / ``orderTopicConf`` only.
    """

    queue_datas: tuple[QueueData, ...]
    broker_datas: tuple[BrokerData, ...]
    filter_server_table: dict[str, list[str]] = field(default_factory=dict, hash=False)
    order_topic_conf: str | None = None

    @classmethod
    def from_json(cls, data: bytes) -> TopicRouteData:
        """Parse a route body, standard JSON or fastjson's bare integer keys;
        :class:`~codec.errors.MalformedBodyError` for anything that is not one."""
        text = to_text(data, "TopicRouteData")
        return _route(loads_object(text, "TopicRouteData", fallback=quote_integer_keys))

    def to_json(self, *, standard: bool = False) -> bytes:
        """The body as a Java name server writes it: keys sorted, nulls
        omitted, compact.  ``brokerAddrs`` keys are bare (``{0:"..."}``, the
        legacy form) unless ``standard``, when they are quoted and sorted, as
        a 4.9.4+ name server answers a client of version 401 or later."""
        return dumps(_route_obj(self), bare_int_keys=not standard)


# --------------------------------------------------------------------------- bare integer keys

# The body of a JSON string after its opening quote, closing quote included.
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# What may follow "{" or "," for a bare key: whitespace, -?digits, whitespace, ":".
_BARE_KEY = re.compile(r"[ \t\n\r]*(-?[0-9]+)[ \t\n\r]*:")
_STRUCTURAL = re.compile(r'["{,]')


def quote_integer_keys(text: str) -> str:
    """Quote fastjson's bare integer map keys: ``{0:"a",1:"b"}`` becomes
    ``{"0":"a","1":"b"}``.

    A scanner, not a blind substitution: it walks the text from one ``"``,
    ``{`` or ``,`` to the next, skips every string literal whole (escapes
    included), and quotes a ``-?digits`` token only where a key can stand:
    right after ``{`` or ``,`` (whitespace allowed) and right before ``:``.
    Anything else, including text that is not JSON at all, is left for the
    JSON parser to accept or reject.
    """
    out: list[str] = []
    copied = 0
    pos = 0
    while True:
        found = _STRUCTURAL.search(text, pos)
        if found is None:
            break
        at = found.start()
        if text[at] == '"':
            closing = _STRING_REST.match(text, at + 1)
            if closing is None:
                break  # an unterminated string: nothing after it can be a key
            pos = closing.end()
            continue
        key = _BARE_KEY.match(text, at + 1)
        if key is None:
            pos = at + 1
            continue
        out.append(text[copied : key.start(1)])
        out.append(f'"{key.group(1)}"')
        copied = pos = key.end(1)
    if not out:
        return text
    out.append(text[copied:])
    return "".join(out)


# --------------------------------------------------------------------------- reading

_BROKER_ID = re.compile(r"-?[0-9]{1,19}")


def _queue_data(value: Any, where: str) -> QueueData:
    obj = expect_object(value, where)
    # topicSynFlag is the spelling up to 4.8.0.
    flag_key = "topicSysFlag" if obj.get("topicSysFlag") is not None else "topicSynFlag"
    return QueueData(
        broker_name=get_str(obj, "brokerName", where),
        read_queue_nums=get_int(obj, "readQueueNums", where),
        write_queue_nums=get_int(obj, "writeQueueNums", where),
        perm=get_int(obj, "perm", where),
        topic_sys_flag=get_int(obj, flag_key, where, default=0),
    )


def _broker_addrs(obj: dict[str, Any], where: str) -> dict[int, str]:
    raw = obj.get("brokerAddrs")
    if raw is None:
        raise MalformedBodyError(f"{where}: 'brokerAddrs' is missing")
    table = expect_object(raw, f"{where}.brokerAddrs")
    addrs: dict[int, str] = {}
    for key, addr in table.items():
        if _BROKER_ID.fullmatch(key) is None or not INT64[0] <= int(key) <= INT64[1]:
            raise MalformedBodyError(f"{where}.brokerAddrs: broker id {show(key)} is not a 64-bit integer")
        if type(addr) is not str:
            raise MalformedBodyError(f"{where}.brokerAddrs[{key}] must be an address string, not {show(addr)}")
        addrs[int(key)] = addr
    return addrs


def _broker_data(value: Any, where: str) -> BrokerData:
    obj = expect_object(value, where)
    return BrokerData(
        cluster=get_str(obj, "cluster", where),
        broker_name=get_str(obj, "brokerName", where),
        broker_addrs=_broker_addrs(obj, where),
        enable_acting_master=get_opt_bool(obj, "enableActingMaster", where),
        zone_name=get_opt_str(obj, "zoneName", where),
    )


def _filter_servers(obj: dict[str, Any], where: str) -> dict[str, list[str]]:
    table = get_object(obj, "filterServerTable", where) or {}
    return {addr: list(get_list(table, addr, f"{where}.filterServerTable", str_item)) for addr in table}


def _route(obj: dict[str, Any]) -> TopicRouteData:
    what = "TopicRouteData"
    return TopicRouteData(
        queue_datas=get_list(obj, "queueDatas", what, _queue_data, required=True),
        broker_datas=get_list(obj, "brokerDatas", what, _broker_data, required=True),
        filter_server_table=_filter_servers(obj, what),
        order_topic_conf=get_opt_str(obj, "orderTopicConf", what),
    )


# --------------------------------------------------------------------------- writing


def _opt(value: object, check: Any, what: str) -> Any:
    return None if value is None else check(value, what)


def _mapping(value: object, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise EncodeError(f"{what} must be a dict, not {type(value).__name__}")
    return value


def _broker_obj(b: BrokerData) -> dict[str, Any]:
    addrs = _mapping(b.broker_addrs, "BrokerData.broker_addrs")
    return {
        "brokerAddrs": {
            check_int(broker_id, "BrokerData.broker_addrs key", INT64): check_str(addr, "BrokerData.broker_addrs value")
            for broker_id, addr in addrs.items()
        },
        "brokerName": check_str(b.broker_name, "BrokerData.broker_name"),
        "cluster": check_str(b.cluster, "BrokerData.cluster"),
        "enableActingMaster": _opt(b.enable_acting_master, check_bool, "BrokerData.enable_acting_master"),
        "zoneName": _opt(b.zone_name, check_str, "BrokerData.zone_name"),
    }


def _queue_obj(q: QueueData) -> dict[str, Any]:
    return {
        "brokerName": check_str(q.broker_name, "QueueData.broker_name"),
        "perm": check_int(q.perm, "QueueData.perm"),
        "readQueueNums": check_int(q.read_queue_nums, "QueueData.read_queue_nums"),
        "topicSysFlag": check_int(q.topic_sys_flag, "QueueData.topic_sys_flag"),
        "writeQueueNums": check_int(q.write_queue_nums, "QueueData.write_queue_nums"),
    }


def _route_obj(route: TopicRouteData) -> dict[str, Any]:
    servers = _mapping(route.filter_server_table, "TopicRouteData.filter_server_table")
    return {
        "brokerDatas": [_broker_obj(b) for b in check_items(route.broker_datas, BrokerData, "TopicRouteData.broker_datas")],
        "filterServerTable": {
            check_str(addr, "filter server table key"): [
                check_str(s, "filter server address") for s in check_items(names, str, "filter server list")
            ]
            for addr, names in servers.items()
        },
        "orderTopicConf": _opt(route.order_topic_conf, check_str, "TopicRouteData.order_topic_conf"),
        "queueDatas": [_queue_obj(q) for q in check_items(route.queue_datas, QueueData, "TopicRouteData.queue_datas")],
    }


# --------------------------------------------------------------------------- publish queues

_QUEUE_COUNT = re.compile(r"[+-]?[0-9]{1,10}")


def _java_order(name: str) -> bytes:
    # String.compareTo compares UTF-16 code units; big-endian UTF-16 bytes
    # compare the same way (code points would not, above U+FFFF).
    return name.encode("utf-16-be", "surrogatepass")


def _queue_count(count: int, topic: str, broker: str) -> int:
    if count > MAX_QUEUE_NUMS:
        raise MalformedBodyError(f"route of {topic!r}: {count} queues on {broker!r} is over {MAX_QUEUE_NUMS}")
    return max(count, 0)


def _order_topic_queues(topic: str, conf: str) -> list[tuple[str, int]]:
    queues: list[tuple[str, int]] = []
    for entry in conf.split(";"):
        if not entry:
            continue
        broker, sep, count = entry.partition(":")
        count = count.split(":", 1)[0]  # String.split(":")[1]
        if not sep or _QUEUE_COUNT.fullmatch(count) is None:
            raise MalformedBodyError(f"route of {topic!r}: orderTopicConf entry {entry!r} is not brokerName:queueNums")
        queues.extend((broker, i) for i in range(_queue_count(int(count), topic, broker)))
    return queues


def topic_route_to_queues(
    topic: str, route: TopicRouteData, perm: PermName = PermName.PERM_WRITE
) -> list[tuple[str, int]]:
    """The ``(broker name, queue id)`` pairs of ``topic`` a client may use
    with ``perm``, in Java's order (``protocol.md`` 7.3).

    ``PERM_WRITE``, a producer's queues (``topicRouteData2TopicPublishInfo``):
    with a non-empty ``orderTopicConf`` (``"brokerA:4;brokerB:4"``) the queues
    are those, in that order.  Otherwise: queue datas sorted by broker name
    (as Java's ``String.compareTo``); only those with ``PERM_WRITE`` whose
    broker has a master (id 0); queue ids ``0 .. writeQueueNums-1``.

    ``PERM_READ``, a consumer's queues (``topicRouteData2TopicSubscribeInfo``):
    every queue data with ``PERM_READ``, master or not (a consumer may pull
    from a slave), queue ids ``0 .. readQueueNums-1``; ``orderTopicConf``
    plays no part.  Java returns a ``HashSet``; here the list is in the same
    sorted order, without duplicates.

    :class:`~codec.errors.MalformedBodyError` for an unreadable
    ``orderTopicConf`` or more than :data:`MAX_QUEUE_NUMS` queues on one
    broker; ``ValueError`` for a ``perm`` that is not exactly one of the two.
    """
    if perm == PermName.PERM_WRITE:
        if route.order_topic_conf:
            return _order_topic_queues(topic, route.order_topic_conf)
        brokers: dict[str, BrokerData] = {}
        for broker in route.broker_datas:
            brokers.setdefault(broker.broker_name, broker)  # Java takes the first match
        queues: list[tuple[str, int]] = []
        for qd in sorted(route.queue_datas, key=lambda q: _java_order(q.broker_name)):
            if not qd.perm & PermName.PERM_WRITE:
                continue
            broker_data = brokers.get(qd.broker_name)
            if broker_data is None or MASTER_ID not in broker_data.broker_addrs:
                continue
            count = _queue_count(qd.write_queue_nums, topic, qd.broker_name)
            queues.extend((qd.broker_name, i) for i in range(count))
        return queues
    if perm == PermName.PERM_READ:
        seen: dict[tuple[str, int], None] = {}
        for qd in sorted(route.queue_datas, key=lambda q: _java_order(q.broker_name)):
            if not qd.perm & PermName.PERM_READ:
                continue
            count = _queue_count(qd.read_queue_nums, topic, qd.broker_name)
            seen.update(((qd.broker_name, i), None) for i in range(count))
        return list(seen)
    raise ValueError(f"perm must be PermName.PERM_WRITE or PermName.PERM_READ, not {perm!r}")


def topic_route_to_publish_queues(topic: str, route: TopicRouteData) -> list[tuple[str, int]]:
    """A producer's queues: ``topic_route_to_queues(topic, route, PermName.PERM_WRITE)``
    (kept for the callers that predate the ``perm`` parameter)."""
    return topic_route_to_queues(topic, route, PermName.PERM_WRITE)

