"""The embedded broker's message store, without sockets: what the consumer
side reads (consumer-protocol.md sections 4.4, 5, 6.3, 7).

Offsets per queue start at 0 and never go back; the commit log advances by
Java's record length (``CommitLog.calMsgLength``); offset message ids are
``MessageDecoder.createMessageId`` of the store host and commit-log offset;
``getOffsetInQueueByTime`` follows ``ConsumeQueue``'s binary search;
retention moves the min offset as Java's file reservation does.
"""

from __future__ import annotations

import itertools
import zlib

import pytest

from rmqwire.broker.store import MessageDraft, MessageStore, StoredMessage, record_length
from rmqwire.codec.message import MessageSysFlag, create_offset_msg_id, encode_properties, parse_offset_msg_id

STORE_HOST = "127.0.0.1:10911"


def draft(topic: str = "T", queue_id: int = 0, body: bytes = b"hello", **props: str) -> MessageDraft:
    return MessageDraft(topic=topic, queue_id=queue_id, body=body, properties=dict(props), born_host="127.0.0.1:58308")


def store(**kwargs: object) -> MessageStore:
    return MessageStore("broker-a", store_host=STORE_HOST, **kwargs)  # type: ignore[arg-type]


def test_offsets_per_queue_and_the_commit_log_position() -> None:
    s = store()
    a, b = s.append([draft(queue_id=0), draft(queue_id=0)])
    (c,) = s.append([draft(queue_id=3)])
    (d,) = s.append([draft(topic="U", queue_id=0)])
    assert [(m.topic, m.queue_id, m.queue_offset) for m in (a, b, c, d)] == [("T", 0, 0), ("T", 0, 1), ("T", 3, 0), ("U", 0, 0)]
    # each record moves the commit log by calMsgLength: 91 fixed bytes for IPv4 hosts
    assert a.record_size == 91 + len(b"hello") + len(b"T") + 0
    assert [m.commitlog_offset for m in (a, b, c, d)] == [0, a.record_size, 2 * a.record_size, 3 * a.record_size]
    assert s.commitlog_offset == 4 * a.record_size
    assert (s.min_offset("T", 0), s.max_offset("T", 0), s.max_offset("T", 3)) == (0, 2, 1)
    assert (s.min_offset("T", 1), s.max_offset("T", 1), s.max_offset("Nope", 0)) == (0, 0, 0)
    assert s.queue_ids("T") == [0, 3]


def test_the_record_keeps_every_field_a_pull_serves() -> None:
    s = store()
    body = zlib.compress(b"x" * 6000)
    (m,) = s.append(
        [
            MessageDraft(
                topic="GoldenJava6027", queue_id=3, body=body,
                properties={"KEYS": "big-0", "UNIQ_KEY": "FD00", "TAGS": "TagA", "DELAY": "3"},
                flag=7, sys_flag=0x301, born_timestamp=1796297886177, born_host="127.0.0.1:58308",
                reconsume_times=2, prepared_transaction_offset=11,
            )
        ],
        now_ms=1796297886190,
    )
    assert (m.topic, m.queue_id, m.flag, m.sys_flag, m.reconsume_times, m.prepared_transaction_offset) == (
        "GoldenJava6027", 3, 7, 0x301, 2, 11
    )
    assert (m.born_timestamp, m.born_host, m.store_timestamp, m.store_host) == (
        1796297886177, "127.0.0.1:58308", 1796297886190, STORE_HOST
    )
    assert m.body == body and m.payload == b"x" * 6000  # stored as sent, inflated for inspection
    assert (m.keys, m.uniq_key, m.tags, m.delay_level) == ("big-0", "FD00", "TagA", 3)
    props_size = len(encode_properties(m.properties, trailing_separator=False).encode())
    assert m.record_size == record_length(0x301, len(body), len("GoldenJava6027"), props_size)
    assert m.offset_msg_id == create_offset_msg_id("127.0.0.1", 10911, 0) == "7F00000100002A9F0000000000000000"
    assert parse_offset_msg_id(m.offset_msg_id) == ("127.0.0.1", 10911, m.commitlog_offset)


def test_ipv6_hosts_set_their_sys_flag_bits_and_lengthen_the_record() -> None:
    s = MessageStore("b", store_host="[::1]:10911")
    (m,) = s.append([MessageDraft(topic="T", queue_id=0, body=b"x", properties={}, born_host="::1:40000")])
    assert m.sys_flag & MessageSysFlag.BORNHOST_V6_FLAG and m.sys_flag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG
    assert m.record_size == 91 + 24 + 1 + 1
    assert len(m.offset_msg_id) == 56


def test_read_by_queue_and_offset_range() -> None:
    s = store()
    s.append([draft(body=f"m{i}".encode()) for i in range(10)])
    assert [m.body for m in s.read("T", 0, 0, 3)] == [b"m0", b"m1", b"m2"]
    assert [m.queue_offset for m in s.read("T", 0, 7, 32)] == [7, 8, 9]  # fewer at the end
    assert s.read("T", 0, 10, 32) == []  # offset == max: nothing yet (a pull would be held)
    assert s.read("T", 0, 11, 32) == [] and s.read("T", 0, -1, 32) == [] and s.read("T", 0, 0, 0) == []
    assert s.read("T", 1, 0, 32) == [] and s.read("Nope", 0, 0, 32) == []


def test_look_message_by_commit_log_offset() -> None:
    s = store()
    stored = s.append([draft(body=b"a"), draft(queue_id=1, body=b"b")])
    for m in stored:
        assert s.look_message_by_offset(m.commitlog_offset) is m
    assert s.look_message_by_offset(stored[0].commitlog_offset + 1) is None
    assert s.look_message_by_offset(10**9) is None


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (100, 0),  # before every message: the first
        (1000, 0),  # exact
        (2000, 1),
        (2400, 1),  # nearer to 2000 than to 3000
        (2500, 1),  # a tie goes to the earlier neighbour
        (2600, 2),
        (5000, 4),
        (9999, 4),  # after every message: the last one's offset (not max)
    ],
)
def test_offset_in_queue_by_time_is_javas_binary_search(timestamp: int, expected: int) -> None:
    s = store()
    for stamp in (1000, 2000, 3000, 4000, 5000):
        s.append([draft()], now_ms=stamp)
    assert s.offset_in_queue_by_time("T", 0, timestamp) == expected


def test_offset_by_time_of_an_empty_or_unknown_queue_is_zero() -> None:
    s = store()
    assert s.offset_in_queue_by_time("T", 0, 123) == 0
    s.append([draft()], now_ms=10)
    s.clear()
    assert s.offset_in_queue_by_time("T", 0, 123) == 0


def test_retention_by_count_drops_the_oldest_and_moves_the_min_offset() -> None:
    s = store(max_queue_messages=3)
    stored = s.append([draft(body=f"m{i}".encode()) for i in range(5)])
    assert (s.min_offset("T", 0), s.max_offset("T", 0)) == (2, 5)
    assert [m.body for m in s.read("T", 0, 0, 32)] == []  # offset 0 is gone (a pull would be moved)
    assert [m.body for m in s.read("T", 0, 2, 32)] == [b"m2", b"m3", b"m4"]
    assert s.look_message_by_offset(stored[0].commitlog_offset) is None
    assert [m.body for m in s.messages()] == [b"m2", b"m3", b"m4"]
    assert s.offset_in_queue_by_time("T", 0, 0) == 2


def test_retention_by_bytes_keeps_at_least_the_newest() -> None:
    one = record_length(0, 100, 1, 0)
    s = store(max_queue_bytes=2 * one)
    s.append([draft(body=bytes(100)) for _ in range(4)])
    assert (s.min_offset("T", 0), s.max_offset("T", 0)) == (2, 4)
    (big,) = s.append([draft(body=bytes(10 * one))])
    assert [m.queue_offset for m in s.read("T", 0, 0, 32)] == [] and s.read("T", 0, 4, 32) == [big]


def test_a_long_retained_queue_stays_readable_by_offset() -> None:
    # Dropping advances a head index and compacts now and then: offsets must stay right across compactions.
    s = store(max_queue_messages=10)
    for i in range(1000):
        s.append([draft(body=str(i).encode())])
    assert (s.min_offset("T", 0), s.max_offset("T", 0)) == (990, 1000)
    assert [int(m.body) for m in s.read("T", 0, 995, 32)] == [995, 996, 997, 998, 999]
    assert len(s.messages()) == 10


def test_clear_drops_messages_and_keeps_offsets() -> None:
    s = store()
    s.append([draft(), draft()])
    position = s.commitlog_offset
    s.clear()
    assert s.messages() == [] and (s.min_offset("T", 0), s.max_offset("T", 0)) == (2, 2)
    (m,) = s.append([draft()])
    assert (m.queue_offset, m.commitlog_offset) == (2, position)


def test_arrival_listeners_see_every_stored_message_after_the_store_has_it() -> None:
    s = store()
    seen: list[tuple[int, int]] = []

    def listener(message: StoredMessage) -> None:
        seen.append((message.queue_offset, s.max_offset(message.topic, message.queue_id)))

    def broken(message: StoredMessage) -> None:
        raise RuntimeError("a listener bug")

    s.add_arrival_listener(broken)
    s.add_arrival_listener(listener)
    s.append([draft(), draft()])
    assert seen == [(0, 2), (1, 2)]  # the batch is stored before anyone hears of it
    s.remove_arrival_listener(listener)
    s.append([draft()])
    assert len(seen) == 2


def test_stores_sharing_a_sequence_list_in_arrival_order() -> None:
    sequence = itertools.count()
    a, b = MessageStore("a", sequence=sequence), MessageStore("b", sequence=sequence)
    a.append([draft(body=b"1")])
    b.append([draft(body=b"2")])
    a.append([draft(body=b"3")])
    merged = sorted(a.sequenced() + b.sequenced(), key=lambda e: e[0])
    assert [m.body for _, m in merged] == [b"1", b"2", b"3"]
