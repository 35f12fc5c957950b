"""The ``HEART_BEAT`` (34) body: ``HeartbeatData`` and its parts.

Mirrors ``org.apache.rocketmq.remoting.protocol.heartbeat`` (4.9.x:
``common.protocol.heartbeat``): ``HeartbeatData``, ``ProducerData``,
``ConsumerData``, ``SubscriptionData`` (``protocol.md`` 4.7).  The body is
fastjson text, so each class maps Java field names to ours in exactly two
places, its writer (``_*_obj``) and its reader (``_producer``, ``_consumer``
...), and leaves the bytes to :mod:`._json`.

Java's sets are ``HashSet``s written in hash order, which changes between
encodes; here they are tuples that keep the order given, and readers should
compare them as sets.  :meth:`HeartbeatData.to_json` writes the 4.9 shape
unless ``heartbeat_fingerprint`` / ``without_sub`` are set (5.1.3+ keys),
which every broker accepts.  :meth:`HeartbeatData.from_json` reads what real
clients send: the C++ client omits ``consumerDataSet`` and ends the body
with a newline; unknown keys are ignored, as fastjson ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._json import (
    check_bool,
    check_int,
    check_items,
    check_str,
    INT32,
    INT64,
    dumps,
    expect_object,
    get_bool,
    get_int,
    get_list,
    get_opt_bool,
    get_opt_int,
    get_opt_str,
    get_str,
    int32_item,
    loads_object,
    str_item,
    to_text,
)

__all__ = ["ProducerData", "SubscriptionData", "ConsumerData", "HeartbeatData"]


@dataclass(frozen=True, slots=True)
class ProducerData:
    """``ProducerData``: one producer group of the client."""

    group_name: str


@dataclass(frozen=True, slots=True)
class SubscriptionData:
    """``SubscriptionData``: one topic a consumer group subscribes to."""

    topic: str
    sub_string: str
    tags_set: tuple[str, ...] = ()
    code_set: tuple[int, ...] = ()
    sub_version: int = 0
    expression_type: str = "TAG"
    class_filter_mode: bool = False


@dataclass(frozen=True, slots=True)
class ConsumerData:
    """``ConsumerData``: one consumer group of the client.  The enum fields
    hold Java enum *names* (``CONSUME_PASSIVELY``, ``CLUSTERING``,
    ``CONSUME_FROM_LAST_OFFSET``), never their descriptions."""

    group_name: str
    consume_type: str
    message_model: str
    consume_from_where: str
    subscription_data_set: tuple[SubscriptionData, ...] = ()
    unit_mode: bool = False


@dataclass(frozen=True, slots=True)
class HeartbeatData:
    """``HeartbeatData``: who this client is and which groups it runs.

    ``heartbeat_fingerprint`` and ``without_sub`` are the 5.1.3+ fields;
    ``None`` leaves them out of the JSON, which is what 4.9.x sends and what
    every broker version accepts.
    """

    client_id: str
    producer_data_set: tuple[ProducerData, ...] = ()
    consumer_data_set: tuple[ConsumerData, ...] = ()
    heartbeat_fingerprint: int | None = None
    without_sub: bool | None = None

    def to_json(self) -> bytes:
        """The body as the Java client writes it (fastjson: keys sorted,
        nulls omitted, compact).  :class:`~codec.errors.EncodeError` for
        values of the wrong type."""
        return dumps(_heartbeat_obj(self))

    @classmethod
    def from_json(cls, data: bytes) -> HeartbeatData:
        """Parse a heartbeat body; :class:`~codec.errors.MalformedBodyError`
        for anything that is not one."""
        obj = loads_object(to_text(data, "HeartbeatData"), "HeartbeatData")
        return _heartbeat(obj)


# --------------------------------------------------------------------------- writing


def _subscription_obj(s: SubscriptionData) -> dict[str, Any]:
    return {
        "classFilterMode": check_bool(s.class_filter_mode, "SubscriptionData.class_filter_mode"),
        "codeSet": [
            check_int(c, "SubscriptionData.code_set item", INT32)
            for c in check_items(s.code_set, int, "SubscriptionData.code_set")
        ],
        "expressionType": check_str(s.expression_type, "SubscriptionData.expression_type"),
        "subString": check_str(s.sub_string, "SubscriptionData.sub_string"),
        "subVersion": check_int(s.sub_version, "SubscriptionData.sub_version", INT64),
        "tagsSet": [
            check_str(t, "SubscriptionData.tags_set item")
            for t in check_items(s.tags_set, str, "SubscriptionData.tags_set")
        ],
        "topic": check_str(s.topic, "SubscriptionData.topic"),
    }


def _consumer_obj(c: ConsumerData) -> dict[str, Any]:
    return {
        "consumeFromWhere": check_str(c.consume_from_where, "ConsumerData.consume_from_where"),
        "consumeType": check_str(c.consume_type, "ConsumerData.consume_type"),
        "groupName": check_str(c.group_name, "ConsumerData.group_name"),
        "messageModel": check_str(c.message_model, "ConsumerData.message_model"),
        "subscriptionDataSet": [
            _subscription_obj(s)
            for s in check_items(c.subscription_data_set, SubscriptionData, "ConsumerData.subscription_data_set")
        ],
        "unitMode": check_bool(c.unit_mode, "ConsumerData.unit_mode"),
    }


def _heartbeat_obj(h: HeartbeatData) -> dict[str, Any]:
    return {
        "clientID": check_str(h.client_id, "HeartbeatData.client_id"),
        "consumerDataSet": [
            _consumer_obj(c) for c in check_items(h.consumer_data_set, ConsumerData, "HeartbeatData.consumer_data_set")
        ],
        "heartbeatFingerprint": (
            None if h.heartbeat_fingerprint is None
            else check_int(h.heartbeat_fingerprint, "HeartbeatData.heartbeat_fingerprint", INT32)
        ),
        "producerDataSet": [
            {"groupName": check_str(p.group_name, "ProducerData.group_name")}
            for p in check_items(h.producer_data_set, ProducerData, "HeartbeatData.producer_data_set")
        ],
        "withoutSub": None if h.without_sub is None else check_bool(h.without_sub, "HeartbeatData.without_sub"),
    }


# --------------------------------------------------------------------------- reading


def _producer(value: Any, where: str) -> ProducerData:
    obj = expect_object(value, where)
    return ProducerData(get_str(obj, "groupName", where))


def _subscription(value: Any, where: str) -> SubscriptionData:
    obj = expect_object(value, where)
    expression_type = get_opt_str(obj, "expressionType", where)
    return SubscriptionData(
        topic=get_str(obj, "topic", where),
        sub_string=get_str(obj, "subString", where),
        tags_set=get_list(obj, "tagsSet", where, str_item),
        code_set=get_list(obj, "codeSet", where, int32_item),
        sub_version=get_int(obj, "subVersion", where, INT64, default=0),
        expression_type="TAG" if expression_type is None else expression_type,
        class_filter_mode=get_bool(obj, "classFilterMode", where),
    )


# Java enum constants in declaration order: fastjson reads an enum from its
# ordinal too, and rocketmq-client-cpp writes them as numbers ("consumeType":1).
_CONSUME_TYPES = ("CONSUME_ACTIVELY", "CONSUME_PASSIVELY")
_MESSAGE_MODELS = ("BROADCASTING", "CLUSTERING")
_CONSUME_FROM_WHERE = (
    "CONSUME_FROM_LAST_OFFSET",
    "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
    "CONSUME_FROM_MIN_OFFSET",
    "CONSUME_FROM_MAX_OFFSET",
    "CONSUME_FROM_FIRST_OFFSET",
    "CONSUME_FROM_TIMESTAMP",
)


def _enum_name(obj: dict[str, Any], key: str, where: str, names: tuple[str, ...]) -> str:
    value = obj.get(key)
    if type(value) is int and 0 <= value < len(names):
        return names[value]
    return get_str(obj, key, where)


def _consumer(value: Any, where: str) -> ConsumerData:
    obj = expect_object(value, where)
    return ConsumerData(
        group_name=get_str(obj, "groupName", where),
        consume_type=_enum_name(obj, "consumeType", where, _CONSUME_TYPES),
        message_model=_enum_name(obj, "messageModel", where, _MESSAGE_MODELS),
        consume_from_where=_enum_name(obj, "consumeFromWhere", where, _CONSUME_FROM_WHERE),
        subscription_data_set=get_list(obj, "subscriptionDataSet", where, _subscription),
        unit_mode=get_bool(obj, "unitMode", where),
    )


def _heartbeat(obj: dict[str, Any]) -> HeartbeatData:
    what = "HeartbeatData"
    return HeartbeatData(
        client_id=get_str(obj, "clientID", what),
        producer_data_set=get_list(obj, "producerDataSet", what, _producer),
        consumer_data_set=get_list(obj, "consumerDataSet", what, _consumer),
        heartbeat_fingerprint=get_opt_int(obj, "heartbeatFingerprint", what, INT32),
        without_sub=get_opt_bool(obj, "withoutSub", what),
    )
