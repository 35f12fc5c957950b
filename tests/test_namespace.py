"""Namespaced names as Java's NamespaceUtil builds and strips them.

Provenance: the examples in NamespaceUtil's Javadoc (4.9.8), the system
names of TopicValidator / MixAll, and golden
``java-broker-4.9.8-tx-order-ns.jsonl`` (namespace ``goldenns``: group
``goldenns%GOLDEN_NS_CG``, topic ``goldenns%GoldenNs13498``, retry topic
``%RETRY%goldenns%GOLDEN_NS_CG``).
"""

from __future__ import annotations

import pytest

from rmqwire.codec import ConfigError, HeartbeatData
from rmqwire.codec import namespace as ns

from golden_support import golden_commands


def test_wrap_prefixes_the_namespace() -> None:
    assert ns.wrap("goldenns", "GoldenNs13498") == "goldenns%GoldenNs13498"
    assert ns.wrap("goldenns", "%RETRY%GOLDEN_NS_CG") == "%RETRY%goldenns%GOLDEN_NS_CG"
    assert ns.wrap("goldenns", "%DLQ%GOLDEN_NS_CG") == "%DLQ%goldenns%GOLDEN_NS_CG"


@pytest.mark.parametrize("namespace", [None, ""])
def test_wrap_without_a_namespace_is_the_identity(namespace: str | None) -> None:
    assert ns.wrap(namespace, "T") == "T"


def test_wrap_is_idempotent_and_leaves_system_names_bare() -> None:
    assert ns.wrap("goldenns", "goldenns%T") == "goldenns%T"
    assert ns.wrap("goldenns", "%RETRY%goldenns%G") == "%RETRY%goldenns%G"
    for name in ("TBW102", "SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC", "rmq_sys_anything", "CID_RMQ_SYS_TRANS"):
        assert ns.wrap("goldenns", name) == name
    assert ns.wrap("goldenns", "") == ""


def test_retry_and_dlq_topics() -> None:
    assert ns.retry_topic("G") == "%RETRY%G"
    assert ns.dlq_topic("G") == "%DLQ%G"
    assert ns.wrap_retry("goldenns", "GOLDEN_NS_CG") == "%RETRY%goldenns%GOLDEN_NS_CG"
    assert ns.wrap_retry(None, "G") == "%RETRY%G"
    with pytest.raises(ConfigError):
        ns.wrap_retry("goldenns", "")


def test_without_namespace_examples_of_the_javadoc() -> None:
    assert ns.without_namespace("MQ_INST_XX%Topic_XXX") == "Topic_XXX"
    assert ns.without_namespace("%RETRY%MQ_INST_XX%GID_XXX") == "%RETRY%GID_XXX"
    assert ns.without_namespace("%DLQ%MQ_INST_XX%GID_XXX") == "%DLQ%GID_XXX"
    assert ns.without_namespace("Topic") == "Topic"
    assert ns.without_namespace("%RETRY%GID") == "%RETRY%GID"
    assert ns.without_namespace("TBW102") == "TBW102"


def test_unwrap_strips_only_the_given_namespace() -> None:
    assert ns.unwrap("MQ_INST_XX1%Topic_XXX1", "MQ_INST_XX1") == "Topic_XXX1"
    assert ns.unwrap("MQ_INST_XX2%Topic_XXX2", None) == "MQ_INST_XX2%Topic_XXX2"
    assert ns.unwrap("%RETRY%MQ_INST_XX1%GID_XXX1", "MQ_INST_XX1") == "%RETRY%GID_XXX1"
    assert ns.unwrap("%RETRY%MQ_INST_XX2%GID_XXX2", "MQ_INST_XX3") == "%RETRY%MQ_INST_XX2%GID_XXX2"
    assert ns.unwrap("goldenns%GoldenNs13498", "goldenns") == "GoldenNs13498"


def test_namespace_of() -> None:
    assert ns.namespace_of("goldenns%T") == "goldenns"
    assert ns.namespace_of("%RETRY%goldenns%G") == "goldenns"
    assert ns.namespace_of("T") == ""
    assert ns.namespace_of("%T") == ""  # a leading % is not a namespace
    assert ns.namespace_of("rmq_sys_x%y") == ""


def test_system_resources() -> None:
    for topic in ns.SYSTEM_TOPICS:
        assert ns.is_system_topic(topic) and ns.is_system_resource(topic)
    assert {"TBW102", "BenchmarkTest", "OFFSET_MOVED_EVENT", "RMQ_SYS_TRACE_TOPIC"} <= ns.SYSTEM_TOPICS
    assert ns.is_sys_consumer_group("CID_RMQ_SYS_TRANS")
    assert not ns.is_system_resource("GoldenNs13498")
    assert not ns.is_system_resource("")


def test_golden_namespaced_consumer_heartbeat() -> None:
    groups = set()
    for _, cmd in golden_commands("java-broker-4.9.8-tx-order-ns.jsonl"):
        if cmd.code == 34 and not cmd.is_response:
            for consumer in HeartbeatData.from_json(cmd.body).consumer_data_set:
                if ns.namespace_of(consumer.group_name) == "goldenns":
                    groups.add(consumer.group_name)
                    topics = {s.topic for s in consumer.subscription_data_set}
                    assert topics == {ns.wrap("goldenns", "GoldenNs13498"), ns.wrap_retry("goldenns", "GOLDEN_NS_CG")}
                    assert ns.unwrap(consumer.group_name, "goldenns") == "GOLDEN_NS_CG"
    assert groups == {"goldenns%GOLDEN_NS_CG"}
