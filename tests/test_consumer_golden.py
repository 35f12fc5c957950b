"""The push consumer's requests have the shape of the real Java 4.9.8 push
consumer's (golden ``java-broker-4.9.8.jsonl``, connection 8): the same
request codes, the same header keys, the same oneway flags, the same
heartbeat consumer data."""

from __future__ import annotations

import rmqwire.codec as codec
from consumer_helpers import Collector, consumer_for, eventually, produce, run
from golden_support import golden_commands
from rmqwire import ConsumeStatus, Message
from rmqwire.codec.body import HeartbeatData
from rmqwire.testing import LocalBroker

#: the consumer-path requests of the Java push consumer
CODES = (11, 14, 15, 34, 35, 36, 38)


def java_requests() -> dict[int, codec.RemotingCommand]:
    """The first request of each consumer-path code the Java push consumer sent."""
    first: dict[int, codec.RemotingCommand] = {}
    for record, cmd in golden_commands("java-broker-4.9.8.jsonl"):
        if record["direction"] != "client->server" or record["port_role"] != "broker" or record["conn"] != 8:
            continue
        if cmd.code in CODES:
            first.setdefault(cmd.code, cmd)
    return first


def test_the_push_consumers_requests_look_like_javas() -> None:
    java = java_requests()
    assert set(java) == set(CODES)

    async def main(broker: LocalBroker) -> dict[int, codec.RemotingCommand]:
        await produce(broker, [Message("T", b"once", tags="A")])
        got = Collector(lambda m: ConsumeStatus.RECONSUME_LATER if m.reconsume_times == 0 else ConsumeStatus.CONSUME_SUCCESS)
        consumer = consumer_for(broker, listener=got)
        async with consumer:
            await eventually(lambda: any(m.reconsume_times for m in got.msgs), timeout=15)
            await consumer.persist_consumer_offset()
            await eventually(lambda: any(cmd.code == 15 for _, _, cmd in broker.requests))
        ours: dict[int, codec.RemotingCommand] = {}
        for _, _, cmd in broker.requests:
            if cmd.code == 35 and "consumerGroup" not in (cmd.ext_fields or {}):
                continue  # the producer's unregistration
            if cmd.code == 34 and not HeartbeatData.from_json(cmd.body).consumer_data_set:
                continue  # the producer's heartbeat
            if cmd.code in CODES:
                ours.setdefault(cmd.code, cmd)
        return ours

    ours = run(main, topics=["T"])
    assert set(ours) == set(CODES)
    for code in CODES:
        assert sorted(ours[code].ext_fields or {}) == sorted(java[code].ext_fields or {}), code
        assert ours[code].flag == java[code].flag, code  # UPDATE_CONSUMER_OFFSET is oneway (2)
    pull_java, pull_ours = java[11].ext_fields, ours[11].ext_fields
    assert (pull_ours["maxMsgNums"], pull_ours["suspendTimeoutMillis"], pull_ours["expressionType"]) == (
        pull_java["maxMsgNums"], pull_java["suspendTimeoutMillis"], pull_java["expressionType"])
    assert pull_ours["sysFlag"] == pull_java["sysFlag"] == "2"  # first pull: suspend, nothing to commit yet
    back_java, back_ours = java[36].ext_fields, ours[36].ext_fields
    assert (back_ours["delayLevel"], back_ours["maxReconsumeTimes"], back_ours["unitMode"]) == (
        back_java["delayLevel"], back_java["maxReconsumeTimes"], back_java["unitMode"])

    hb_java = HeartbeatData.from_json(java[34].body)
    hb_ours = HeartbeatData.from_json(ours[34].body)
    [cd_java], [cd_ours] = hb_java.consumer_data_set, hb_ours.consumer_data_set
    assert (cd_ours.consume_type, cd_ours.message_model, cd_ours.unit_mode) == (
        cd_java.consume_type, cd_java.message_model, cd_java.unit_mode)
    retry_java = next(s for s in cd_java.subscription_data_set if s.topic.startswith("%RETRY%"))
    retry_ours = next(s for s in cd_ours.subscription_data_set if s.topic.startswith("%RETRY%"))
    assert (retry_ours.topic, retry_ours.sub_string, retry_ours.expression_type) == (
        "%RETRY%cg", retry_java.sub_string, retry_java.expression_type)
    assert {p.group_name for p in hb_ours.producer_data_set} >= {"CLIENT_INNER_PRODUCER"}
