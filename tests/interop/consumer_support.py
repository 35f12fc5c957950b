"""What the interop consumer tests send with rmqwire's Producer through
LocalBroker, and how they check what a real consumer got."""

from __future__ import annotations

from typing import Any

from interop_support import big_text, wait_for

from rmqwire import Message, Producer

#: The user properties the messages carry (a driver that cannot list
#: properties asks for these by name).
PROPERTIES = ["case", "color", "city", "emoji"]


def messages() -> list[dict[str, Any]]:
    """Small, UTF-8, compressed (over 4 KiB), delayed, to be refused once, and a bulk."""
    return [
        {"case": "tiny", "body": "a", "tags": "TagA", "keys": "key-1", "properties": {"color": "red"}},
        {"case": "utf8", "body": "你好，RocketMQ — ünïcödé ✓ 🚀", "tags": "标签B", "keys": "key-2",
         "properties": {"city": "杭州", "emoji": "🚀"}},
        {"case": "big", "body": big_text(6000), "tags": "TagC", "keys": "key-3", "properties": {}},
        {"case": "delay", "body": "delayed hello", "tags": "TagD", "keys": "key-4", "properties": {}, "delay_level": 1},
        {"case": "retry", "body": "try me twice", "tags": "TagR", "keys": "key-retry", "properties": {}},
    ] + [
        {"case": f"bulk-{i}", "body": f"bulk message {i}", "tags": "TagE", "keys": f"key-bulk-{i}", "properties": {}}
        for i in range(12)
    ]


def produce(broker: Any, topic: str) -> list[dict[str, Any]]:
    """Send :func:`messages` to ``topic`` (4 queues) with rmqwire's Producer;
    returns them once all are stored (the delayed one delivered)."""
    broker.create_topic(topic, 4)
    specs = messages()
    with Producer("interop-rmqwire-producer", namesrv_addr=broker.namesrv_addr) as producer:
        for spec in specs:
            props = {"case": spec["case"], **spec["properties"]}
            producer.send(
                Message(topic, spec["body"].encode(), tags=spec["tags"], keys=spec["keys"], properties=props,
                        delay_level=spec.get("delay_level", 0))
            )
    assert wait_for(lambda: len(broker.messages(topic)) == len(specs), timeout=5)
    return specs


def check_consumed(events: list[dict[str, Any]], specs: list[dict[str, Any]], describe: str) -> dict[str, dict[str, Any]]:
    """Every spec was consumed with its body, tags, keys and user
    properties; returns the last delivery of each case."""
    consumed = [e for e in events if e["event"] == "message"]
    by_case = {e["properties"]["case"]: e for e in consumed}
    assert sorted(by_case) == sorted(s["case"] for s in specs), describe
    for spec in specs:
        got = by_case[spec["case"]]
        assert got["body"] == spec["body"], spec["case"]
        assert (got["tags"], got["keys"]) == (spec["tags"], spec["keys"]), spec["case"]
        expected = {name: None for name in PROPERTIES} | {"case": spec["case"], **spec["properties"]}
        got_props = {name: (got["properties"].get(name) or None) for name in PROPERTIES}
        assert got_props == expected, spec["case"]
    return by_case
