"""The shared value types (client/types.py): Java names, Java ordering."""

from __future__ import annotations

import pytest

import rmqwire
from rmqwire import (
    ConsumeFromWhere,
    ConsumeOrderlyStatus,
    ConsumeStatus,
    ConsumeType,
    LocalTransactionState,
    Message,
    MessageModel,
    MessageQueue,
    SendResult,
    SendStatus,
)


def test_old_import_paths_still_work() -> None:
    from rmqwire import producer, route, types

    assert producer.Message is types.Message is Message
    assert producer.SendResult is types.SendResult is SendResult
    assert producer.SendStatus is types.SendStatus is SendStatus
    assert producer.MessageQueue is route.MessageQueue is types.MessageQueue is MessageQueue


def test_package_exports_the_enums_lazily() -> None:
    for name in ("MessageModel", "ConsumeFromWhere", "ConsumeStatus", "ConsumeOrderlyStatus",
                 "ConsumeType", "LocalTransactionState", "MessageQueue"):
        assert name in rmqwire.__all__
        assert getattr(rmqwire, name).__module__ == "rmqwire.types"


@pytest.mark.parametrize(
    "enum_type",
    [MessageModel, ConsumeFromWhere, ConsumeStatus, ConsumeOrderlyStatus, ConsumeType, LocalTransactionState],
)
def test_enum_values_are_the_java_names(enum_type: type) -> None:
    for member in enum_type:  # type: ignore[attr-defined]
        assert member.value == member.name


def test_java_constant_names() -> None:
    assert {m.name for m in MessageModel} == {"BROADCASTING", "CLUSTERING"}
    assert {"CONSUME_FROM_LAST_OFFSET", "CONSUME_FROM_FIRST_OFFSET", "CONSUME_FROM_TIMESTAMP"} <= {
        m.name for m in ConsumeFromWhere
    }
    assert {m.name for m in ConsumeStatus} == {"CONSUME_SUCCESS", "RECONSUME_LATER"}
    assert {"SUCCESS", "SUSPEND_CURRENT_QUEUE_A_MOMENT"} <= {m.name for m in ConsumeOrderlyStatus}
    assert {m.name for m in ConsumeType} == {"CONSUME_ACTIVELY", "CONSUME_PASSIVELY"}
    assert {m.name for m in LocalTransactionState} == {"COMMIT_MESSAGE", "ROLLBACK_MESSAGE", "UNKNOW"}


def test_message_queue_is_frozen_and_hashable() -> None:
    mq = MessageQueue("T", "broker-a", 1)
    assert {mq, MessageQueue("T", "broker-a", 1)} == {mq}
    with pytest.raises(AttributeError):
        mq.queue_id = 2  # type: ignore[misc]


def test_message_queue_orders_as_java_compare_to() -> None:
    queues = [
        MessageQueue("B", "a", 0),
        MessageQueue("A", "b", 0),
        MessageQueue("A", "a", 10),
        MessageQueue("A", "a", 2),
    ]
    assert sorted(queues) == [
        MessageQueue("A", "a", 2),
        MessageQueue("A", "a", 10),
        MessageQueue("A", "b", 0),
        MessageQueue("B", "a", 0),
    ]


def test_message_queue_compares_strings_by_utf16_code_units() -> None:
    # U+FF61 is one code unit 0xFF61; U+1F600 is the surrogate pair D83D DE00.
    # Java puts the emoji first (0xD83D < 0xFF61); code points would not.
    halfwidth, emoji = MessageQueue("T", "\uff61", 0), MessageQueue("T", "\U0001f600", 0)
    assert emoji < halfwidth and halfwidth > emoji
    assert sorted([halfwidth, emoji]) == [emoji, halfwidth]
    assert MessageQueue("\U0001f600", "b", 0) < MessageQueue("\uff61", "a", 0)


def test_message_queue_ordering_with_other_types() -> None:
    with pytest.raises(TypeError):
        MessageQueue("T", "b", 0) < ("T", "b", 0)  # type: ignore[operator]
