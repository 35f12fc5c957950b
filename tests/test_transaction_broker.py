"""The embedded broker's transactional messages, as pure logic with a clock
given as an argument: half messages, op marks and Java's check-back
schedule (``TransactionalMessageServiceImpl.check``: immunity time,
``TRANSACTION_CHECK_TIMES``, at most ``transactionCheckMax`` checks, then
moved to ``TRANS_CHECK_MAX_TIME_TOPIC``).
"""

from __future__ import annotations

import pytest

from rmqwire.broker import MessageDraft, MessageStore, StoredMessage
from rmqwire.broker.transaction import (
    CHECK_MAX_TIME_TOPIC,
    HALF_TOPIC,
    OP_TOPIC,
    TransactionalMessageService,
    half_message,
    transaction_type,
    with_transaction_type,
)
from rmqwire.codec import ConfigError
from rmqwire.codec.message import MessageSysFlag
from rmqwire.testing import LocalBroker

T0 = 1_800_000_000_000  # a born timestamp, ms
TIMEOUT = 6_000  # transactionTimeOut, ms
MAX = 15


def new_service() -> TransactionalMessageService:
    store = MessageStore("broker-a", store_host="127.0.0.1:10911")
    return TransactionalMessageService(store)


def prepare(
    service: TransactionalMessageService,
    key: str,
    *,
    born: int = T0,
    queue_id: int = 2,
    group: str = "PG",
    extra: dict[str, str] | None = None,
) -> StoredMessage:
    """What the send processor does with a prepared message, stored at ``born``."""
    props = {"KEYS": key, "TRAN_MSG": "true", "PGROUP": group, "UNIQ_KEY": f"U-{key}", "WAIT": "true", **(extra or {})}
    draft = MessageDraft(
        topic="TxTopic",
        queue_id=queue_id,
        body=f"body {key}".encode(),
        properties=props,
        sys_flag=int(MessageSysFlag.TRANSACTION_PREPARED_TYPE),
        born_timestamp=born,
        born_host="127.0.0.1:50000",
        producer_group=group,
    )
    return service.store.append([half_message(draft)], now_ms=born)[0]


def round_at(service: TransactionalMessageService, now: int) -> tuple[list[StoredMessage], list[StoredMessage]]:
    result = service.check(timeout_ms=TIMEOUT, check_max=MAX, now_ms=now)
    return result.checks, result.discarded


# --------------------------------------------------------------------------- the half message


def test_a_prepared_message_waits_in_queue_0_of_the_half_topic_with_its_real_topic_and_queue() -> None:
    service = new_service()
    half = prepare(service, "k", queue_id=3)
    assert (half.topic, half.queue_id, half.queue_offset) == (HALF_TOPIC, 0, 0)
    assert half.properties["REAL_TOPIC"] == "TxTopic"
    assert half.properties["REAL_QID"] == "3"
    assert transaction_type(half.sys_flag) == MessageSysFlag.TRANSACTION_NOT_TYPE
    assert service.store.messages("TxTopic") == []
    assert service.find_half(half.commitlog_offset) == half


def test_the_transaction_type_is_a_two_bit_field_of_the_sys_flag() -> None:
    assert with_transaction_type(0x4 | 0x1, 0x8) == 0x9
    assert with_transaction_type(0xC | 0x301, 0) == 0x301
    assert transaction_type(0x30D) == 0xC


def test_only_a_half_message_is_found_by_its_commitlog_offset() -> None:
    service = new_service()
    plain = service.store.append([MessageDraft(topic="TxTopic", queue_id=0, body=b"x", properties={})])[0]
    assert service.find_half(plain.commitlog_offset) is None
    assert service.find_half(123456) is None


def test_a_commit_is_stored_in_the_real_topic_as_a_java_broker_stores_it() -> None:
    """Golden tx session, PULL answer seq 253: sysFlag COMMIT (8), the
    prepared-transaction offset is the half message's commit-log offset, and
    the properties are the half message's (REAL_TOPIC, REAL_QID, TRAN_MSG too)."""
    service = new_service()
    half = prepare(service, "c", queue_id=1)
    draft = service.committed(half, half.commitlog_offset)
    assert (draft.topic, draft.queue_id, draft.body) == ("TxTopic", 1, b"body c")
    assert draft.sys_flag == MessageSysFlag.TRANSACTION_COMMIT_TYPE
    assert draft.prepared_transaction_offset == half.commitlog_offset
    assert draft.properties == half.properties
    assert (draft.born_timestamp, draft.born_host) == (half.born_timestamp, half.born_host)


def test_an_op_mark_names_the_half_offset_in_the_op_queue_of_its_half_queue() -> None:
    service = new_service()
    prepare(service, "a")
    half = prepare(service, "b")
    mark = service.mark_done(half, now_ms=T0 + 1)
    assert (mark.topic, mark.queue_id, mark.body, mark.tags) == (OP_TOPIC, 0, b"1", "d")


# --------------------------------------------------------------------------- the check-back schedule


def test_nothing_is_checked_within_the_transaction_timeout() -> None:
    service = new_service()
    prepare(service, "u")
    assert round_at(service, T0 + TIMEOUT - 1) == ([], [])
    assert service.offset(HALF_TOPIC, 0) == 0


def test_an_unended_half_message_is_checked_after_the_timeout_through_a_copy() -> None:
    """Golden seq 20: the check names the copy (queue offset 3 after three
    half messages) and the copy carries TRANSACTION_CHECK_TIMES=1."""
    service = new_service()
    half = prepare(service, "u")
    checks, discarded = round_at(service, T0 + TIMEOUT + 1)
    assert discarded == []
    [copy] = checks
    assert (copy.topic, copy.queue_id, copy.queue_offset) == (HALF_TOPIC, 0, 1)
    assert copy.commitlog_offset > half.commitlog_offset
    assert copy.properties["TRANSACTION_CHECK_TIMES"] == "1"
    assert {k: v for k, v in copy.properties.items() if k != "TRANSACTION_CHECK_TIMES"} == half.properties
    assert copy.born_timestamp == half.born_timestamp  # immunity counts from birth
    assert service.offset(HALF_TOPIC, 0) == 1  # the original is behind us


def test_ended_transactions_are_never_checked_and_the_op_offset_follows() -> None:
    service = new_service()
    committed = prepare(service, "c")
    rolled_back = prepare(service, "r")
    prepare(service, "u")
    service.mark_done(committed, now_ms=T0 + 1)
    service.mark_done(rolled_back, now_ms=T0 + 1)
    checks, _ = round_at(service, T0 + TIMEOUT + 1)
    assert [c.keys for c in checks] == ["u"]
    assert service.offset(HALF_TOPIC, 0) == 3
    assert service.offset(OP_TOPIC, 0) == 2
    # the next round starts after them and finds only the copy
    checks, _ = round_at(service, T0 + 2 * TIMEOUT)
    assert [(c.keys, c.properties["TRANSACTION_CHECK_TIMES"]) for c in checks] == [("u", "2")]


def test_a_copy_answered_by_the_check_is_not_checked_again() -> None:
    service = new_service()
    prepare(service, "u")
    [copy] = round_at(service, T0 + TIMEOUT + 1)[0]
    service.mark_done(copy, now_ms=T0 + TIMEOUT + 2)
    assert round_at(service, T0 + 10 * TIMEOUT) == ([], [])
    assert round_at(service, T0 + 20 * TIMEOUT) == ([], [])


def test_a_round_stops_at_the_first_half_message_still_immune() -> None:
    service = new_service()
    prepare(service, "old", born=T0)
    prepare(service, "young", born=T0 + 5_000)
    prepare(service, "old-too", born=T0)  # out of order: waits behind the young one, as in Java
    checks, _ = round_at(service, T0 + TIMEOUT + 1)
    assert [c.keys for c in checks] == ["old"]
    assert service.offset(HALF_TOPIC, 0) == 1


def test_a_round_stops_at_a_message_stored_since_it_began() -> None:
    service = new_service()
    prepare(service, "u", born=T0)
    store = service.store
    # a half message born long ago but stored at the round's own instant
    late = MessageDraft(
        topic="TxTopic", queue_id=0, body=b"x", properties={"PGROUP": "PG", "TRAN_MSG": "true"}, born_timestamp=T0
    )
    now = T0 + TIMEOUT + 1
    store.append([half_message(late)], now_ms=now)
    checks, _ = round_at(service, now)
    assert [c.keys for c in checks] == ["u"]
    assert service.offset(HALF_TOPIC, 0) == 1


def test_at_most_check_max_checks_then_the_message_is_given_up() -> None:
    """``needDiscard``: checks number 1..15.  As in Java, the 15th copy is
    given up in the very round that asks about it (the discard test comes
    before the stored-this-round test), moved to TRANS_CHECK_MAX_TIME_TOPIC;
    the producer's answer to that last check still counts."""
    service = new_service()
    prepare(service, "u")
    now = T0 + TIMEOUT + 1
    numbers = []
    for _ in range(MAX - 1):
        checks, discarded = round_at(service, now)
        assert discarded == []
        numbers.extend(int(c.properties["TRANSACTION_CHECK_TIMES"]) for c in checks)
        now += 1
    [last], [given_up] = round_at(service, now)
    numbers.append(int(last.properties["TRANSACTION_CHECK_TIMES"]))
    assert numbers == list(range(1, MAX + 1))
    assert given_up == last
    [moved] = service.store.messages(CHECK_MAX_TIME_TOPIC)
    assert (moved.body, moved.properties) == (last.body, last.properties)
    assert round_at(service, now + 1) == ([], [])
    assert round_at(service, now + 10 * TIMEOUT) == ([], [])
    assert service.store.messages("TxTopic") == []
    assert service.find_half(last.commitlog_offset) == last


def test_a_smaller_check_max_gives_up_sooner() -> None:
    service = new_service()
    prepare(service, "u")
    first = service.check(timeout_ms=TIMEOUT, check_max=2, now_ms=T0 + TIMEOUT + 1)
    assert (len(first.checks), first.discarded) == (1, [])
    second = service.check(timeout_ms=TIMEOUT, check_max=2, now_ms=T0 + TIMEOUT + 2)
    assert (len(second.checks), second.discarded) == (1, second.checks)
    third = service.check(timeout_ms=TIMEOUT, check_max=2, now_ms=T0 + TIMEOUT + 3)
    assert (third.checks, third.discarded) == ([], [])


def test_a_half_message_older_than_the_store_keeps_files_is_given_up() -> None:
    service = new_service()
    prepare(service, "ancient")
    checks, discarded = round_at(service, T0 + 72 * 3600 * 1000 + 1)
    assert (checks, [d.keys for d in discarded]) == ([], ["ancient"])


def test_a_message_born_in_the_future_is_checked_at_once() -> None:
    """Java: ``valueOfCurrentMinusBorn <= -1`` is a producer clock ahead of
    the broker's; such a message is not immune."""
    service = new_service()
    draft = MessageDraft(
        topic="TxTopic", queue_id=0, body=b"x", properties={"PGROUP": "PG", "KEYS": "skewed"}, born_timestamp=T0 + 60_000
    )
    service.store.append([half_message(draft)], now_ms=T0)
    checks, _ = round_at(service, T0 + 1)
    assert [c.keys for c in checks] == ["skewed"]


def test_its_own_immunity_time_parks_a_message_until_it_passes() -> None:
    """CHECK_IMMUNITY_TIME_IN_SECONDS: while immune, the message is put back
    at the end of the queue with TRAN_PREPARED_QUEUE_OFFSET naming the first
    copy; once its immunity passed it is checked."""
    service = new_service()
    prepare(service, "slow", extra={"CHECK_IMMUNITY_TIME_IN_SECONDS": "60"})
    assert round_at(service, T0 + TIMEOUT + 1) == ([], [])
    [_, parked] = service.store.messages(HALF_TOPIC)
    assert parked.properties["TRAN_PREPARED_QUEUE_OFFSET"] == "0"
    assert round_at(service, T0 + 30_000) == ([], [])
    [copy] = round_at(service, T0 + 60_001)[0]
    assert copy.properties["TRAN_PREPARED_QUEUE_OFFSET"] == "0"


def test_an_immune_message_ended_while_parked_is_done() -> None:
    """Ending the first copy ends the parked ones: never checked (a 4.9
    broker misses this end and checks the message once immunity passed)."""
    service = new_service()
    half = prepare(service, "slow", extra={"CHECK_IMMUNITY_TIME_IN_SECONDS": "60"})
    assert round_at(service, T0 + TIMEOUT + 1) == ([], [])
    service.mark_done(half, now_ms=T0 + TIMEOUT + 2)
    assert round_at(service, T0 + TIMEOUT + 3) == ([], [])
    assert round_at(service, T0 + 120_000) == ([], [])
    assert round_at(service, T0 + 240_000) == ([], [])
    assert service.offset(HALF_TOPIC, 0) == len(service.store.messages(HALF_TOPIC))


def test_an_immune_message_ended_before_any_round_is_never_parked() -> None:
    """Its op mark is read ahead of the half offset: skipped, as in Java."""
    service = new_service()
    first = prepare(service, "first", born=T0)
    slow = prepare(service, "slow", born=T0, extra={"CHECK_IMMUNITY_TIME_IN_SECONDS": "60"})
    service.mark_done(first, now_ms=T0 + 1)
    service.mark_done(slow, now_ms=T0 + 1)
    assert round_at(service, T0 + TIMEOUT + 1) == ([], [])
    assert round_at(service, T0 + 120_000) == ([], [])


def test_retention_dropping_half_messages_does_not_stall_the_rounds() -> None:
    store = MessageStore("broker-a", store_host="127.0.0.1:10911", max_queue_messages=2)
    service = TransactionalMessageService(store)
    for key in ("a", "b", "c"):
        prepare(service, key)
    checks, _ = round_at(service, T0 + TIMEOUT + 1)
    assert [c.keys for c in checks] == ["b", "c"]


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "option",
    [
        {"transaction_check_interval": 0},
        {"transaction_check_interval": -1},
        {"transaction_timeout": -0.5},
        {"transaction_timeout": "6"},
        {"transaction_check_max": 0},
        {"transaction_check_max": 1.5},
    ],
)
def test_bad_transaction_options_are_config_errors(option: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LocalBroker(**option)  # type: ignore[arg-type]


def test_the_defaults_are_javas() -> None:
    config = LocalBroker().config
    assert (config.transaction_check_interval, config.transaction_timeout, config.transaction_check_max) == (60.0, 6.0, 15)
    assert config.reject_transaction_message is False
