"""rmqwire's push consumer consumes what the apache C++ client
(librocketmq.so from PyPI ``rocketmq==0.4.4``) produced through LocalBroker:
every message arrives with the body (the 6000-byte one compressed by the C++
client, decompressed here), tags, keys and user properties it was sent with,
the delayed one after its delay."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from interop_support import DRIVERS_DIR, TappedBroker, big_text, expected_messages, run_driver, user_properties

from rmqwire import ConsumeFromWhere, ConsumeStatus, MessageExt, PushConsumer

pytestmark = pytest.mark.interop

TOPIC = "InteropCppToRmqwireTopic"
GROUP = "interop-cpp-producer-for-rmqwire"
CONSUMER_GROUP = "interop-rmqwire-consumer"


def scenario(namesrv: str) -> dict[str, Any]:
    def msg(case: str, api: str, body: str, **extra: Any) -> dict[str, Any]:
        props = {"case": case, **extra.pop("properties", {})}
        return {"case": case, "api": api, "body": body, "properties": props, **extra}

    return {
        "namesrv": namesrv,
        "topic": TOPIC,
        "group": GROUP,
        "heartbeat_group": GROUP + "-hb",
        "timeout_ms": 5000,
        "messages": [
            msg("tiny", "send_sync", "a", tags="TagA", keys=["key-1"], properties={"color": "red"}),
            msg("utf8", "send_sync", "你好，RocketMQ — ünïcödé ✓ 🚀", tags="标签B", keys=["key-2a", "ключ-2b"],
                properties={"city": "杭州", "emoji": "🚀"}),
            msg("big", "send_sync", big_text(6000), tags="TagC", keys=["key-3"], properties={"size": "6000"}),
            msg("delay", "send_sync", "delayed hello", tags="TagD", keys=["key-4"], delay_level=3),
            msg("orderly", "send_orderly", "orderly hello", tags="TagO", keys=["key-o"], orderly_arg=3),
            msg("oneway", "send_oneway", "oneway hello", tags="TagE", keys=["key-5"]),
        ],
    }


def test_rmqwire_consumes_what_the_cpp_client_produced(cpp_python: str, tapped_broker: TappedBroker, tmp_path: Path) -> None:
    broker = tapped_broker.broker
    scen = scenario(tapped_broker.namesrv_addr)
    run = run_driver([cpp_python, str(DRIVERS_DIR / "cpp_driver.py")], scen, tmp_path / "cpp")
    assert run.returncode == 0, run.describe()
    expected = {spec["case"]: spec for spec in expected_messages(scen)}

    got: dict[str, MessageExt] = {}
    all_in = threading.Event()
    consumer = PushConsumer(CONSUMER_GROUP, namesrv_addr=broker.namesrv_addr,
                            consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
    consumer.subscribe(TOPIC, "*")

    @consumer.register_listener
    def on_messages(msgs: list[MessageExt]) -> ConsumeStatus:
        for m in msgs:
            got[m.properties.get("case", "?")] = m
        if set(got) >= set(expected):
            all_in.set()
        return ConsumeStatus.CONSUME_SUCCESS

    with consumer:
        assert all_in.wait(20), f"arrived: {sorted(got)}, expected: {sorted(expected)}"
    assert set(got) == set(expected)
    for case, spec in expected.items():
        m = got[case]
        assert m.topic == TOPIC, case
        assert m.body == spec["body"].encode("utf-8"), case
        assert m.tags == spec.get("tags"), case
        assert m.keys == " ".join(spec["keys"]), case
        assert user_properties(m.user_properties) == spec["properties"], case
        assert m.msg_id == m.properties["UNIQ_KEY"], case
    assert got["big"].sys_flag & 0x1  # stored compressed, as the C++ client sent it
    assert got["delay"].delay_level == 3 and got["delay"].reconsume_times == 0
    assert got["orderly"].queue_id == 3 % 4
