"""rmqwire in a namespace names things on the wire as the real Java client does.

The golden session ``java-broker-4.9.8-tx-order-ns.jsonl`` (part 3 of its
README) holds a 4.9.8 Java ``DefaultMQProducer`` and ``DefaultMQPushConsumer``
with namespace ``goldenns``: producer group ``GOLDEN_NS_PG`` sends ``ns-0``,
``ns-1`` (tag ``TagN``) to ``GoldenNs13498``, consumer group ``GOLDEN_NS_CG``
consumes them from the first offset.  Here rmqwire does the same on
LocalBroker, and every frame of either side that names a group or a topic
is read with the codec's typed headers and bodies into what it names; the
two sets must be equal (queue ids, offsets, timestamps and client ids aside).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from consumer_helpers import Collector, eventually
from golden_support import golden_commands
from rmqwire import AsyncProducer, AsyncPushConsumer, ConsumeFromWhere, Message
from rmqwire.codec import RemotingCommand
from rmqwire.codec.body import HeartbeatData
from rmqwire.codec.headers import (
    GetConsumerListByGroupRequestHeader,
    GetRouteInfoRequestHeader,
    PullMessageRequestHeader,
    QueryConsumerOffsetRequestHeader,
    SendMessageRequestHeader,
    UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
)
from rmqwire.codec.message import decode_properties
from rmqwire.codec.store import decode_messages
from rmqwire.namespacing import Namespace
from rmqwire.testing import LocalBroker

SESSION = "java-broker-4.9.8-tx-order-ns.jsonl"
NS, PG, CG, TOPIC = "goldenns", "GOLDEN_NS_PG", "GOLDEN_NS_CG", "GoldenNs13498"
#: names a namespaced Java client still sends bare
BARE_ALLOWED = {"TBW102", "CLIENT_INNER_PRODUCER"}

#: (kind, the group and topic names, the other fields compared)
Named = tuple[str, tuple[str | None, ...], tuple[object, ...]]


def named(cmd: RemotingCommand) -> list[Named]:
    """What one client request names, read through the typed header or body;
    [] for a frame that names no group or topic."""
    code = cmd.code
    if code == 105:
        return [("route", (GetRouteInfoRequestHeader.from_command(cmd).topic,), ())]
    if code in (10, 310):
        send = SendMessageRequestHeader.from_command(cmd)
        props = decode_properties(send.properties or "")
        return [("send", (send.producer_group, send.topic, send.default_topic), (props.get("INSTANCE_ID"), tuple(sorted(props))))]
    if code == 34 and cmd.body:
        beat = HeartbeatData.from_json(cmd.body)
        rows: list[Named] = [
            ("heartbeat", (c.group_name, *sorted(s.topic for s in c.subscription_data_set)),
             (c.message_model, c.consume_type, c.consume_from_where))
            for c in beat.consumer_data_set
        ]
        return rows + [("heartbeat-producer", (p.group_name,), ()) for p in beat.producer_data_set]
    if code == 35:
        gone = UnregisterClientRequestHeader.from_command(cmd)
        return [("unregister", (gone.producer_group, gone.consumer_group), ())]
    if code == 38:
        return [("consumer-list", (GetConsumerListByGroupRequestHeader.from_command(cmd).consumer_group,), ())]
    if code == 14:
        query = QueryConsumerOffsetRequestHeader.from_command(cmd)
        return [("query-offset", (query.consumer_group, query.topic), ())]
    if code == 15:
        update = UpdateConsumerOffsetRequestHeader.from_command(cmd)
        return [("update-offset", (update.consumer_group, update.topic), ())]
    if code == 11:
        pull = PullMessageRequestHeader.from_command(cmd)
        return [("pull", (pull.consumer_group, pull.topic), ())]
    return []


def names_in(row: Named) -> list[str]:
    return [name for name in row[1] if name is not None]


def about_namespace(rows: Iterable[Named]) -> set[Named]:
    """The rows that name something in the namespace (the rest of the session
    is about other groups)."""
    return {row for row in rows if any(NS in name for name in names_in(row))}


def java_rows() -> set[Named]:
    rows = [
        row
        for record, cmd in golden_commands(SESSION)
        if record["direction"] == "client->server" and not cmd.is_response
        for row in named(cmd)
    ]
    return about_namespace(rows)


async def rmqwire_session(broker: LocalBroker) -> None:
    """Part 3 of the golden session, by rmqwire."""
    async with AsyncProducer(PG, namesrv_addr=broker.namesrv_addr, namespace=NS) as producer:
        for i in range(2):
            result = await producer.send(Message(TOPIC, f"ns body {i}".encode(), tags="TagN", keys=f"ns-{i}"))
            assert result.message_queue.topic == TOPIC
    got = Collector()
    consumer = AsyncPushConsumer(
        CG, namesrv_addr=broker.namesrv_addr, namespace=NS, consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET
    )
    consumer.subscribe(TOPIC, "*")
    consumer.register_listener(got)
    async with consumer:
        await got.wait_for(2)
        # the retry queue's empty pull comes back (max_suspend) so its offset is committed too
        await eventually(lambda: len(consumer.process_queues) == 5 and broker.held_pulls() == 5)
    assert {m.topic for m in got.msgs} == {TOPIC}


@pytest.fixture(scope="module")
def ours() -> set[Named]:
    async def main() -> list[RemotingCommand]:
        async with LocalBroker(record_requests=True, max_suspend=0.2) as broker:
            await asyncio.wait_for(rmqwire_session(broker), 60)
            return [cmd for _, _, cmd in broker.requests]

    commands = asyncio.run(main())
    return {row for cmd in commands for row in named(cmd)}


def test_the_golden_session_names_the_namespace() -> None:
    rows = java_rows()
    kinds = {row[0] for row in rows}
    assert kinds == {"route", "send", "heartbeat", "unregister", "consumer-list", "query-offset", "update-offset", "pull"}
    send = ("send", (f"{NS}%{PG}", f"{NS}%{TOPIC}", "TBW102"), (NS, ("INSTANCE_ID", "KEYS", "TAGS", "UNIQ_KEY", "WAIT")))
    assert send in rows


@pytest.mark.parametrize("kind", ["route", "send", "heartbeat", "unregister", "consumer-list", "query-offset", "update-offset", "pull"])
def test_rmqwire_names_what_java_names_in_the_same_fields(kind: str, ours: set[Named]) -> None:
    java = {row for row in java_rows() if row[0] == kind}
    assert {row for row in about_namespace(ours) if row[0] == kind} == java


def test_no_name_of_ours_goes_out_bare(ours: set[Named]) -> None:
    assert ("heartbeat-producer", (f"{NS}%{PG}",), ()) in ours
    for row in ours:
        for name in names_in(row):
            assert name in BARE_ALLOWED or f"{NS}%" in name, row


def test_what_the_java_broker_delivered_comes_back_bare() -> None:
    """The real broker's pull answers carry ``goldenns%GoldenNs13498``; the
    listener's view of them carries the topic the user subscribed to."""
    pulls = set()
    delivered = []
    for record, cmd in golden_commands(SESSION):
        key = (record["conn"], cmd.opaque)
        if not cmd.is_response and cmd.code == 11:
            pulls.add(key)
        elif cmd.is_response and key in pulls and cmd.code == 0 and cmd.body:
            delivered += [m for m in decode_messages(cmd.body) if m.topic.startswith(f"{NS}%")]
    assert sorted(m.keys for m in delivered) == ["ns-0", "ns-1"]
    shown = Namespace(NS).unwrap_messages(delivered)
    assert {m.topic for m in shown} == {TOPIC}
    assert [m.body for m in shown] == [m.body for m in delivered]
