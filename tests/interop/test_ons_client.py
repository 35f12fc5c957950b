"""The pure-JavaScript ``ali-ons`` producer produces through LocalBroker.

ali-ons is pointed at LocalBroker's name server with its ``nameSrv`` option
(no Alibaba cloud address-server lookup; the driver's stub HTTP client fails
the run if one is attempted).  It impersonates ``JAVA`` version 121, speaks
JSON headers whose extFields hold JSON numbers and booleans
(``"d":4,"k":false``), asks for routes with the old
``GET_ROUTEINTO_BY_TOPIC`` code 105 and, at version 121, gets fastjson's
legacy route JSON (unquoted integer keys) back.

Its producer has one API, ``send`` (SEND_MESSAGE_V2, code 310): no oneway, no
batch, no queue selector; a message with a sharding key goes to the queue
ali-ons derives from the key's MD5.  The session covers tags, keys, UTF-8
user properties, a zlib-compressed body over 4 KiB, a delay level, sharding
keys, a heartbeat and UNREGISTER_CLIENT at shutdown.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from interop_support import (
    DRIVERS_DIR,
    TappedBroker,
    big_text,
    build_trace,
    check_stored_message,
    expected_messages,
    frame_ext,
    heartbeat_groups,
    run_driver,
    save_trace,
    stored_by_case,
    unregistered_groups,
    wait_for,
)

pytestmark = pytest.mark.interop

TOPIC = "InteropOnsTopic"
GROUP = "interop-ons-group"
CLIENT = "ali-ons 3.12.0 (npm, pure JavaScript) on node"

SEND_MESSAGE_V2 = 310
HEART_BEAT = 34
UNREGISTER_CLIENT = 35
GET_ROUTEINFO_BY_TOPIC = 105
#: Keys whose MD5 picks queues 1, 3 and 2.  A key that picks queue 0 is not
#: sharded at all by ali-ons 3.12.0: ``queueIds[queueIndex] || ''`` takes
#: queue id 0 for "no sharding key" and falls back to round robin.
SHARDING_KEYS = ("order-1", "order-3", "order-7")


def sharding_queue(key: str, queues: int = 4) -> int:
    """ali-ons' ``TopicPublishInfo.selectOneMessageQueue`` for a sharding key."""
    queue = int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "big") % queues
    assert queue != 0, f"ali-ons does not shard {key!r} (queue 0, see SHARDING_KEYS)"
    return queue


def scenario(namesrv: str) -> dict[str, Any]:
    def msg(case: str, body: str, **extra: Any) -> dict[str, Any]:
        props = {"case": case, **extra.pop("properties", {})}
        return {"case": case, "api": "send", "body": body, "properties": props, **extra}

    return {
        "namesrv": namesrv,
        "topic": TOPIC,
        "group": GROUP,
        "timeout_ms": 5000,
        "messages": [
            msg("tiny", "a", tags="TagA", keys=["key-1"], properties={"color": "red"}),
            msg(
                "utf8",
                "你好，RocketMQ — ünïcödé ✓ 🚀",
                tags="标签B",
                keys=["key-2a", "ключ-2b"],
                properties={"city": "杭州", "emoji": "🚀", "quote": 'it\'s "quoted"'},
            ),
            msg("big", big_text(6000), tags="TagC", keys=["key-3"], properties={"size": "6000"}),
            msg("delay", "delayed hello", tags="TagD", keys=["key-4"], delay_level=3),
            *(
                msg(f"shard-{key}-{n}", f"sharded hello {n} for {key}", tags="TagS", sharding_key=key)
                for key in SHARDING_KEYS
                for n in (1, 2)
            ),
        ],
    }


def test_ons_client_produces_through_local_broker(
    node_binary: str, tapped_broker: TappedBroker, tmp_path: Path
) -> None:
    broker = tapped_broker.broker
    # ali-ons throws on the name server's TOPIC_NOT_EXIST before it would fall
    # back to TBW102 (its tryToFindTopicPublishInfo never gets that far), so
    # the topic must exist, as it would on a managed ONS instance.
    broker.create_topic(TOPIC)
    scen = scenario(tapped_broker.namesrv_addr)
    run = run_driver([node_binary, str(DRIVERS_DIR / "ons_driver.js")], scen, tmp_path / "ons")
    assert run.returncode == 0, run.describe()
    events = [e["event"] for e in run.events]
    assert events[0] == "started" and events[-2:] == ["heartbeat", "shutdown"], run.describe()
    assert "HTTP name server lookup attempted" not in run.stderr

    # every send acknowledged
    results = {e["case"]: e for e in run.sends()}
    assert set(results) == {spec["case"] for spec in scen["messages"]}, run.describe()
    for case, res in results.items():
        assert res["status"] == "SEND_OK", f"{case}: {res}\n{run.describe()}"

    expected = expected_messages(scen)
    wait_for(lambda: len(broker.messages(TOPIC)) >= len(expected), timeout=5)  # the delayed one comes later
    stored = broker.messages(TOPIC)
    assert len(stored) == len(expected), [m.properties.get("case") for m in stored]
    by_case = stored_by_case(stored)
    for spec in expected:
        check_stored_message(by_case[spec["case"]], spec, TOPIC, GROUP)

    for msg in stored:
        assert msg.request_code == SEND_MESSAGE_V2
        assert msg.language.name == "JAVA"  # ali-ons impersonates Java
        assert msg.producer_group == GROUP
        assert msg.uniq_key is None  # ali-ons sets no UNIQ_KEY (nor WAIT)
        assert not msg.batch

    # results match what was stored: ali-ons returns the broker's offset msg id
    # (a delayed send's answer names its record in SCHEDULE_TOPIC_XXXX, as a Java broker's does)
    waited = {m.properties.get("case"): m for m in broker.messages("SCHEDULE_TOPIC_XXXX")}
    for case, res in results.items():
        msg = by_case[case]
        answered = waited.get(case, msg)
        assert res["msg_id"] == answered.offset_msg_id, case
        assert res["offset"] == answered.queue_offset, case
        assert res["queue_id"] == msg.queue_id, case
    big = by_case["big"]
    assert big.sys_flag & 0x1 and len(big.body) < len(big.payload) == 6000
    assert all(not (m.sys_flag & 0x1) for m in stored if m is not big)
    for key in SHARDING_KEYS:
        for n in (1, 2):
            msg = by_case[f"shard-{key}-{n}"]
            assert msg.properties.get("__SHARDING_KEY") == key
            assert msg.queue_id == sharding_queue(key), (key, n)

    # heartbeat and unregistration
    assert wait_for(lambda: GROUP in heartbeat_groups(broker)), broker.heartbeats
    info = [c for c in broker.clients.values() if GROUP in c.producer_groups]
    assert info and info[0].language.name == "JAVA" and info[0].version == 121
    assert wait_for(lambda: GROUP in unregistered_groups(broker)), broker.unregistered
    assert {cid for _, cid, group, _ in broker.unregistered if group == GROUP} == {info[0].client_id}

    # on the wire: JSON numbers and booleans in extFields, as documented
    sends = tapped_broker.client_frames(SEND_MESSAGE_V2)
    assert len(sends) == len(scen["messages"])
    ext = frame_ext(sends[0].wire)
    assert isinstance(ext.get("d"), int) and isinstance(ext.get("e"), int) and ext.get("k") is False
    assert tapped_broker.client_frames(GET_ROUTEINFO_BY_TOPIC)
    assert tapped_broker.client_frames(HEART_BEAT)
    assert tapped_broker.client_frames(UNREGISTER_CLIENT)

    trace = build_trace(
        tapped_broker.frames,
        client_source=CLIENT,
        context={
            "label": "interop-ons",
            "topic": TOPIC,
            "group": GROUP,
            "driver": "tests/interop/drivers/ons_driver.js",
            "server": "rmqwire LocalBroker (client/testing.py) behind the tests/interop FrameTap relay",
        },
        scenario=scen,
        run=run,
    )
    path = save_trace(trace, "interop-ons.msgpack", tmp_path)
    from rmqwire.codec.trace import unpack_records

    records = list(unpack_records(path.read_bytes()))
    bad = [(r.seq, r.direction, r.error) for r in records if r.error is not None]
    assert records and not bad, f"codec rejects frames of a real client session: {bad}"
