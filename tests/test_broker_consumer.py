"""The embedded broker serving consumers, over raw codec connections.

PULL_MESSAGE (11) as ``PullMessageProcessor`` answers it (consumer-protocol.md
4.3-4.5): the store's records as body with ``suggestWhichBrokerId``,
``nextBeginOffset``, ``minOffset``, ``maxOffset`` and the store status as
remark; PULL_NOT_FOUND (19) / PULL_OFFSET_MOVED (21) / PULL_RETRY_IMMEDIATELY
(20) with the offsets Java computes; the subscription checks; tag-hash
filtering; long polling released by an arriving message and by the
timeout; the piggy-backed offset commit.  Then the offsets (14, 15, 29, 30,
31, 32, section 6) and GET_CONSUMER_LIST_BY_GROUP (38, section 3).
"""

from __future__ import annotations

import asyncio

from broker_consumer_support import COMMIT, SUBSCRIPTION, SUSPEND, RawConsumer, eventually, pull_request, with_broker

from rmqwire.codec import RemotingCommand, RequestCode, ResponseCode, decode_messages
from rmqwire.codec.body import GetConsumerListByGroupResponseBody
from rmqwire.testing import LocalBroker

PULL_KEYS = {"suggestWhichBrokerId", "nextBeginOffset", "minOffset", "maxOffset"}
FAQ = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."


def offsets_of(reply: RemotingCommand) -> tuple[int, int, int, int]:
    """(suggestWhichBrokerId, nextBeginOffset, minOffset, maxOffset)."""
    f = reply.ext_fields
    return int(f["suggestWhichBrokerId"]), int(f["nextBeginOffset"]), int(f["minOffset"]), int(f["maxOffset"])


async def producer_of(broker: LocalBroker, *bodies_and_tags: tuple[bytes, str], queue_id: int = 0) -> RawConsumer:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    for i, (body, tags) in enumerate(bodies_and_tags):
        await peer.send("T", body, queue_id=queue_id, TAGS=tags, KEYS=f"k{i}", UNIQ_KEY=f"U{i}", color="red")
    return peer


# --------------------------------------------------------------------------- found


@with_broker(topics=("T",))
async def test_a_pull_returns_the_stored_records_and_where_to_pull_next(broker: LocalBroker) -> None:
    peer = await producer_of(broker, (b"one", "TagA"), (b"two", "TagB"), (b"three", "TagA"))
    reply = await peer.call(pull_request("T", 0, 0))
    assert (reply.code, reply.remark, reply.flag) == (ResponseCode.SUCCESS, "FOUND", 1)
    assert set(reply.ext_fields) == PULL_KEYS and offsets_of(reply) == (0, 3, 0, 3)
    messages = decode_messages(reply.body, broker_name="broker-a")
    stored = broker.messages("T")
    assert [m.body for m in messages] == [b"one", b"two", b"three"]
    assert [(m.topic, m.queue_id, m.queue_offset) for m in messages] == [("T", 0, 0), ("T", 0, 1), ("T", 0, 2)]
    assert [m.commit_log_offset for m in messages] == [s.commitlog_offset for s in stored]
    assert [m.offset_msg_id for m in messages] == [s.offset_msg_id for s in stored]
    assert [m.store_size for m in messages] == [s.record_size for s in stored]
    assert messages[0].properties == {
        "WAIT": "true", "TAGS": "TagA", "KEYS": "k0", "UNIQ_KEY": "U0", "color": "red", "CLUSTER": "DefaultCluster"
    }
    assert (messages[1].tags, messages[1].keys, messages[1].msg_id) == ("TagB", "k1", "U1")
    assert messages[0].store_host == stored[0].store_host and messages[0].born_host == stored[0].born_host
    assert messages[0].store_timestamp == stored[0].store_timestamp

    later = await peer.call(pull_request("T", 0, 1, max_msg_nums=1))
    assert [m.body for m in decode_messages(later.body)] == [b"two"] and offsets_of(later) == (0, 2, 0, 3)
    await peer.close()


@with_broker(topics=("T",))
async def test_one_pull_carries_at_most_32_messages(broker: LocalBroker) -> None:
    peer = await producer_of(broker, *[(f"m{i}".encode(), "A") for i in range(40)])
    reply = await peer.call(pull_request("T", 0, 0, max_msg_nums=64))
    assert len(decode_messages(reply.body)) == 32 and offsets_of(reply) == (0, 32, 0, 40)
    await peer.close()


# --------------------------------------------------------------------------- not found, moved, retry


@with_broker(topics=("T",), max_queue_messages=2)
async def test_offsets_outside_the_queue_are_answered_as_java_maps_the_store_status(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])

    async def pull(queue_id: int, offset: int) -> tuple[int, str | None, tuple[int, int, int, int]]:
        reply = await peer.call(pull_request("T", queue_id, offset))
        assert set(reply.ext_fields) == PULL_KEYS and reply.body == b""
        return reply.code, reply.remark, offsets_of(reply)

    # an empty queue: offset 0 is "not found", any other offset moved to 0
    assert await pull(1, 0) == (ResponseCode.PULL_NOT_FOUND, "NO_MESSAGE_IN_QUEUE", (0, 0, 0, 0))
    assert await pull(1, 7) == (ResponseCode.PULL_OFFSET_MOVED, "NO_MESSAGE_IN_QUEUE", (0, 0, 0, 0))
    for i in range(5):
        await peer.send("T", f"m{i}".encode())
    # retention kept offsets 3 and 4
    assert await pull(0, 5) == (ResponseCode.PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE", (0, 5, 3, 5))
    assert await pull(0, 9) == (ResponseCode.PULL_OFFSET_MOVED, "OFFSET_OVERFLOW_BADLY", (0, 5, 3, 5))
    assert await pull(0, 1) == (ResponseCode.PULL_OFFSET_MOVED, "OFFSET_TOO_SMALL", (0, 3, 3, 5))
    await peer.close()


@with_broker(topics=("T",))
async def test_the_tag_hash_filter_skips_messages_and_nothing_matched_means_retry_immediately(broker: LocalBroker) -> None:
    peer = await producer_of(broker, (b"a0", "TagA"), (b"b1", "TagB"), (b"c2", "TagC"), (b"a3", "TagA"), (b"n4", ""))
    reply = await peer.call(pull_request("T", 0, 0, subscription="TagA || TagC"))
    assert [m.body for m in decode_messages(reply.body)] == [b"a0", b"c2", b"a3"]
    assert offsets_of(reply) == (0, 5, 0, 5)
    # maxMsgNums counts matches; what was scanned past counts toward the next offset
    two = await peer.call(pull_request("T", 0, 0, subscription="TagA || TagC", max_msg_nums=2))
    assert [m.body for m in decode_messages(two.body)] == [b"a0", b"c2"] and offsets_of(two)[1] == 3
    none = await peer.call(pull_request("T", 0, 1, subscription="TagZ"))
    assert (none.code, none.remark, none.body) == (ResponseCode.PULL_RETRY_IMMEDIATELY, "NO_MATCHED_MESSAGE", b"")
    assert offsets_of(none) == (0, 5, 0, 5)
    await peer.close()


# --------------------------------------------------------------------------- checks before the store


@with_broker(topics=("T",))
async def test_a_pull_without_the_subscription_flag_needs_the_groups_heartbeat(broker: LocalBroker) -> None:
    peer = await producer_of(broker, (b"one", "TagA"), (b"two", "TagB"))
    no_flag = pull_request("T", 0, 0, sys_flag=0, group="CG")
    no_group = await peer.call(no_flag)
    assert (no_group.code, no_group.remark) == (ResponseCode.SUBSCRIPTION_NOT_EXIST, f"the consumer's group info not exist{FAQ}")
    assert no_group.ext_fields == {}
    assert (await peer.heartbeat("c1", "CG", {"Other": "*"}, sub_version=5)).code == 0
    no_topic = await peer.call(no_flag)
    assert (no_topic.code, no_topic.remark) == (ResponseCode.SUBSCRIPTION_NOT_EXIST, f"the consumer's subscription not exist{FAQ}")
    assert (await peer.heartbeat("c1", "CG", {"T": "TagB"}, sub_version=5)).code == 0
    newer = await peer.call(pull_request("T", 0, 0, sys_flag=0, sub_version=6))
    assert (newer.code, newer.remark) == (ResponseCode.SUBSCRIPTION_NOT_LATEST, "the consumer's subscription not latest")
    ok = await peer.call(pull_request("T", 0, 0, sys_flag=0, sub_version=5))
    # the registered subscription (TagB) filters, not the request's
    assert ok.code == ResponseCode.SUCCESS and [m.body for m in decode_messages(ok.body)] == [b"two"]
    await peer.close()


@with_broker(topics=("T",))
async def test_unknown_topics_bad_queues_and_sql_filters_are_refused(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    unknown = await peer.call(pull_request("Nope", 0, 0))
    assert (unknown.code, unknown.remark) == (ResponseCode.TOPIC_NOT_EXIST, f"topic[Nope] not exist, apply first please! {FAQ}")
    bad_queue = await peer.call(pull_request("T", 4, 0))
    assert bad_queue.code == ResponseCode.SYSTEM_ERROR
    assert bad_queue.remark is not None and bad_queue.remark.startswith(
        "queueId[4] is illegal, topic:[T] topicConfig.readQueueNums:[4] consumer:[/127.0.0.1:"
    )
    sql = await peer.call(pull_request("T", 0, 0, subscription="a > 1", expression_type="SQL92"))
    assert (sql.code, sql.remark) == (ResponseCode.SYSTEM_ERROR, "The broker does not support consumer to filter message by SQL92")
    empty_sql = await peer.call(pull_request("T", 0, 0, subscription=None, expression_type="SQL92"))
    assert (empty_sql.code, empty_sql.remark) == (ResponseCode.SUBSCRIPTION_PARSE_FAILED, "parse the consumer's subscription failed")
    missing = await peer.call(RemotingCommand.request(RequestCode.PULL_MESSAGE, {"topic": "T"}))
    assert missing.code == ResponseCode.SYSTEM_ERROR  # a header that does not decode, as Java's RemotingCommandException
    await peer.close()


# --------------------------------------------------------------------------- long polling


@with_broker(topics=("T",))
async def test_a_suspended_pull_is_held_until_a_message_arrives(broker: LocalBroker) -> None:
    consumer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    held = consumer.start(pull_request("T", 0, 0, sys_flag=SUSPEND | SUBSCRIPTION))
    other = await consumer.call(pull_request("T", 1, 0))  # answered while the first waits
    assert other.code == ResponseCode.PULL_NOT_FOUND and not held.done()
    assert await eventually(lambda: broker.held_pulls() == 1)
    producer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await producer.send("T", b"wake up", TAGS="TagA")
    reply = await asyncio.wait_for(held, 3.0)
    assert (reply.code, reply.remark) == (ResponseCode.SUCCESS, "FOUND") and offsets_of(reply) == (0, 1, 0, 1)
    assert [m.body for m in decode_messages(reply.body)] == [b"wake up"]
    assert broker.held_pulls() == 0
    await producer.close()
    await consumer.close()


@with_broker(topics=("T",))
async def test_a_held_pull_times_out_into_pull_not_found_with_offsets(broker: LocalBroker) -> None:
    peer = await producer_of(broker, (b"one", "TagA"))
    held = peer.start(pull_request("T", 0, 1, sys_flag=SUSPEND | SUBSCRIPTION, suspend_ms=200))
    reply = await asyncio.wait_for(held, 3.0)
    assert (reply.code, reply.remark) == (ResponseCode.PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE")
    assert offsets_of(reply) == (0, 1, 0, 1) and reply.body == b""
    assert broker.held_pulls() == 0
    await peer.close()


@with_broker(topics=("T",))
async def test_a_held_pull_wakes_for_a_message_of_its_tags_only(broker: LocalBroker) -> None:
    consumer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    held = consumer.start(pull_request("T", 0, 0, sys_flag=SUSPEND | SUBSCRIPTION, subscription="TagA"))
    assert await eventually(lambda: broker.held_pulls() == 1)
    producer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await producer.send("T", b"not for me", TAGS="TagB")
    await producer.send("T", b"elsewhere", queue_id=1, TAGS="TagA")
    await producer.call(pull_request("T", 0, 0))  # a round trip: the arrivals were seen
    assert not held.done() and broker.held_pulls() == 1
    await producer.send("T", b"for me", TAGS="TagA")
    reply = await asyncio.wait_for(held, 3.0)
    assert [m.body for m in decode_messages(reply.body)] == [b"for me"] and offsets_of(reply)[1] == 2
    await producer.close()
    await consumer.close()


@with_broker(topics=("T",), long_polling=False, short_polling_time=0.1)
async def test_with_short_polling_a_pull_is_held_for_the_short_polling_time(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    reply = await peer.call(pull_request("T", 0, 0, sys_flag=SUSPEND | SUBSCRIPTION, suspend_ms=60_000), timeout=5)
    assert (reply.code, reply.remark) == (ResponseCode.PULL_NOT_FOUND, "NO_MESSAGE_IN_QUEUE")
    await peer.close()


@with_broker(topics=("T",), max_suspend=0.1)
async def test_max_suspend_caps_the_hold(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    reply = await peer.call(pull_request("T", 0, 0, sys_flag=SUSPEND | SUBSCRIPTION, suspend_ms=60_000), timeout=5)
    assert reply.code == ResponseCode.PULL_NOT_FOUND
    await peer.close()


@with_broker(topics=("T",))
async def test_a_held_pull_leaves_when_its_connection_closes(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    peer.start(pull_request("T", 0, 0, sys_flag=SUSPEND | SUBSCRIPTION))
    peer.start(pull_request("T", 1, 0, sys_flag=SUSPEND | SUBSCRIPTION))
    assert await eventually(lambda: broker.held_pulls() == 2)
    await peer.close()
    assert await eventually(lambda: broker.held_pulls() == 0)
    producer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await producer.send("T", b"nobody waits")  # waking nothing breaks nothing
    assert (await producer.call(pull_request("T", 0, 0))).code == ResponseCode.SUCCESS
    await producer.close()


# --------------------------------------------------------------------------- offsets


@with_broker(topics=("T",))
async def test_the_commit_offset_flag_commits_the_requests_offset(broker: LocalBroker) -> None:
    peer = await producer_of(broker, (b"one", "A"), (b"two", "A"))
    assert broker.consumer_offset("CG", "T", 0) == -1
    await peer.call(pull_request("T", 0, 0, commit_offset=9))  # no flag: nothing committed
    assert broker.consumer_offset("CG", "T", 0) == -1
    await peer.call(pull_request("T", 0, 2, sys_flag=COMMIT | SUBSCRIPTION, commit_offset=2))
    assert broker.consumer_offset("CG", "T", 0) == 2
    # committed on the first pass of a pull that is then held
    held = peer.start(pull_request("T", 0, 2, sys_flag=COMMIT | SUSPEND | SUBSCRIPTION, commit_offset=1, suspend_ms=100))
    assert (await asyncio.wait_for(held, 3.0)).code == ResponseCode.PULL_NOT_FOUND
    assert broker.consumer_offsets("CG", "T") == {0: 1}
    await peer.close()


@with_broker(topics=("T",), max_queue_messages=1)
async def test_query_and_update_consumer_offsets(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])

    def query(queue_id: int, group: str = "CG") -> RemotingCommand:
        fields = {"consumerGroup": group, "topic": "T", "queueId": str(queue_id), "bname": "broker-a"}
        return RemotingCommand.request(RequestCode.QUERY_CONSUMER_OFFSET, fields)

    def update(queue_id: int, offset: int) -> RemotingCommand:
        fields = {"consumerGroup": "CG", "topic": "T", "queueId": str(queue_id), "commitOffset": str(offset)}
        return RemotingCommand.request(RequestCode.UPDATE_CONSUMER_OFFSET, fields)

    # nothing committed on a young queue (min offset 0): offset 0
    fresh = await peer.call(query(0))
    assert (fresh.code, fresh.ext_fields, fresh.remark) == (ResponseCode.SUCCESS, {"offset": "0"}, None)
    updated = await peer.call(update(0, 7))
    assert (updated.code, updated.ext_fields) == (ResponseCode.SUCCESS, {})
    assert (await peer.call(query(0))).ext_fields == {"offset": "7"}
    peer.oneway(update(1, 3))  # RemoteBrokerOffsetStore.persistAll: oneway, never answered
    assert await eventually(lambda: broker.consumer_offset("CG", "T", 1) == 3)
    # nothing committed and the queue's min offset moved past 0: QUERY_NOT_FOUND
    await peer.send("T", b"a", queue_id=2)
    await peer.send("T", b"b", queue_id=2)
    lost = await peer.call(query(2))
    assert (lost.code, lost.remark) == (ResponseCode.QUERY_NOT_FOUND, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
    assert lost.ext_fields == {}
    await peer.close()


@with_broker(topics=("T",), max_queue_messages=3)
async def test_min_max_search_and_earliest_offsets(broker: LocalBroker) -> None:
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    for i in range(5):
        await peer.send("T", f"m{i}".encode())
    stored = broker.messages("T")

    async def ask(code: int, **extra: str) -> dict[str, str]:
        reply = await peer.call(RemotingCommand.request(code, {"topic": "T", "queueId": "0", "bname": "broker-a", **extra}))
        assert reply.code == ResponseCode.SUCCESS
        return reply.ext_fields

    assert await ask(RequestCode.GET_MAX_OFFSET) == {"offset": "5"}
    assert await ask(RequestCode.GET_MIN_OFFSET) == {"offset": "2"}
    stamp = str(stored[1].store_timestamp)
    assert await ask(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, timestamp=stamp) == {"offset": str(stored[1].queue_offset)}
    assert await ask(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, timestamp="0") == {"offset": "2"}
    assert await ask(RequestCode.GET_EARLIEST_MSG_STORETIME) == {"timestamp": str(stored[0].store_timestamp)}
    for code in (RequestCode.GET_MAX_OFFSET, RequestCode.GET_MIN_OFFSET):
        empty = await peer.call(RemotingCommand.request(code, {"topic": "T", "queueId": "3"}))
        assert empty.ext_fields == {"offset": "0"}
    none = await peer.call(RemotingCommand.request(RequestCode.GET_EARLIEST_MSG_STORETIME, {"topic": "T", "queueId": "3"}))
    assert none.ext_fields == {"timestamp": "-1"}
    await peer.close()


# --------------------------------------------------------------------------- consumer list


@with_broker(topics=("T",))
async def test_the_consumer_list_is_the_groups_client_ids_in_joining_order(broker: LocalBroker) -> None:
    ask = RemotingCommand.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, {"consumerGroup": "CG"})
    first = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    none = await first.call(ask)
    assert (none.code, none.remark, none.body) == (ResponseCode.SYSTEM_ERROR, "no consumer for this group, CG", b"")
    await first.heartbeat("c-b")
    second = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    await second.heartbeat("c-a")
    reply = await first.call(ask)
    assert (reply.code, reply.ext_fields, reply.remark) == (ResponseCode.SUCCESS, {}, None)
    assert GetConsumerListByGroupResponseBody.from_json(reply.body).consumer_id_list == ("c-b", "c-a")
    assert reply.body == b'{"consumerIdList":["c-b","c-a"]}'
    assert broker.consumer_ids("CG") == ["c-b", "c-a"]
    await first.close()
    await second.close()


@with_broker(topics=("T",))
async def test_a_heartbeat_with_enum_ordinals_registers_its_group_as_fastjson_reads_it(broker: LocalBroker) -> None:
    """rocketmq-client-cpp writes ``consumeType``, ``messageModel`` and
    ``consumeFromWhere`` as numbers and ``subVersion`` as a string; fastjson
    reads an enum from its ordinal, so a Java broker registers the group."""
    body = (
        b'{"clientID":"1467-127.0.0.1@DEFAULT","consumerDataSet":[{"consumeFromWhere":0,"consumeType":1,'
        b'"groupName":"CG","messageModel":1,"subscriptionDataSet":[{"subString":"*","subVersion":"1796347676592",'
        b'"topic":"%RETRY%CG"},{"subString":"TagA || TagB","subVersion":"1796347676592","topic":"T"}]}]}\n'
    )
    peer = await RawConsumer.connect(broker.broker_addrs["broker-a"])
    reply = await peer.call(RemotingCommand.request(RequestCode.HEART_BEAT, body=body))
    assert reply.code == ResponseCode.SUCCESS
    info = broker.broker().clients.consumer_group("broker-a", "CG")
    assert info is not None and info.client_ids == ["1467-127.0.0.1@DEFAULT"]
    assert (info.consume_type, info.message_model, info.consume_from_where) == (
        "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_LAST_OFFSET"
    )
    assert info.subscriptions["T"].sub_version == 1796347676592
    await peer.close()
