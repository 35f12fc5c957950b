"""The apache C++ client (librocketmq.so from PyPI ``rocketmq==0.4.4``)
produces through LocalBroker.

One session exercises every producer feature this client has: route lookup
(with the TBW102 fallback for a topic the name server does not know yet),
SEND_MESSAGE (code 10, V1 header with JSON-number extFields) with tags, keys
and UTF-8 user properties, a body over 4 KiB that the client zlib-compresses,
a delay level, ``SendMessageOrderly`` with the hashing queue selector,
oneway (which this client sends with flag 0), a batch (code 10 with
``batch=1`` and a batch-encoded body), a heartbeat, and UNREGISTER_CLIENT at
shutdown.  Then LocalBroker must hold exactly what the client was asked to
send.
"""

from __future__ import annotations

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
    frame_code,
    frame_ext,
    frame_flag,
    heartbeat_groups,
    run_driver,
    save_trace,
    stored_by_case,
    unregistered_groups,
    wait_for,
)

pytestmark = pytest.mark.interop

TOPIC = "InteropCppTopic"
GROUP = "interop-cpp-group"
HEARTBEAT_GROUP = "interop-cpp-hb-group"
CLIENT = "rocketmq-client-cpp 1.0.1 (librocketmq.so bundled in PyPI rocketmq==0.4.4)"

SEND_MESSAGE = 10
HEART_BEAT = 34
UNREGISTER_CLIENT = 35
GET_ROUTEINFO_BY_TOPIC = 105


def scenario(namesrv: str) -> dict[str, Any]:
    def msg(case: str, api: str, body: str, **extra: Any) -> dict[str, Any]:
        props = {"case": case, **extra.pop("properties", {})}
        return {"case": case, "api": api, "body": body, "properties": props, **extra}

    return {
        "namesrv": namesrv,
        "topic": TOPIC,
        "group": GROUP,
        "heartbeat_group": HEARTBEAT_GROUP,
        "timeout_ms": 5000,
        "messages": [
            msg("tiny", "send_sync", "a", tags="TagA", keys=["key-1"], properties={"color": "red"}),
            msg(
                "utf8",
                "send_sync",
                "你好，RocketMQ — ünïcödé ✓ 🚀",
                tags="标签B",
                keys=["key-2a", "ключ-2b"],
                properties={"city": "杭州", "emoji": "🚀", "quote": 'it\'s "quoted"'},
            ),
            msg("big", "send_sync", big_text(6000), tags="TagC", keys=["key-3"], properties={"size": "6000"}),
            msg("delay", "send_sync", "delayed hello", tags="TagD", keys=["key-4"], delay_level=3),
            msg("orderly-3", "send_orderly", "orderly hello, arg 3", tags="TagO", keys=["key-o3"], orderly_arg=3),
            msg("orderly-6", "send_orderly", "orderly hello, arg 6", tags="TagO", keys=["key-o6"], orderly_arg=6),
            msg("oneway", "send_oneway", "oneway hello", tags="TagE", keys=["key-5"]),
            {
                "case": "batch",
                "api": "send_batch",
                "batch": [
                    msg("batch-1", "send_batch", "batch message one", tags="TagF", keys=["key-6a"]),
                    msg(
                        "batch-2",
                        "send_batch",
                        "batch message two, ünïcödé",
                        tags="TagF",
                        keys=["key-6b"],
                        properties={"color": "blue"},
                    ),
                ],
            },
        ],
    }


def test_cpp_client_produces_through_local_broker(cpp_python: str, tapped_broker: TappedBroker, tmp_path: Path) -> None:
    broker = tapped_broker.broker
    scen = scenario(tapped_broker.namesrv_addr)
    run = run_driver([cpp_python, str(DRIVERS_DIR / "cpp_driver.py")], scen, tmp_path / "cpp")
    assert run.returncode == 0, run.describe()
    assert [e["event"] for e in run.events][0] == "started", run.describe()
    assert run.events[-1]["event"] == "shutdown", run.describe()

    # every send acknowledged
    results = {e["case"]: e for e in run.sends()}
    assert set(results) == {spec["case"] for spec in scen["messages"]}, run.describe()
    for case, res in results.items():
        expected = "ONEWAY" if case == "oneway" else "OK"
        assert res["status"] == expected, f"{case}: {res}\n{run.describe()}"

    # the oneway send is not acknowledged to the caller: wait for it to be stored
    expected = expected_messages(scen)
    wait_for(lambda: len(broker.messages(TOPIC)) >= len(expected), timeout=5)
    stored = broker.messages(TOPIC)
    assert len(stored) == len(expected), [m.properties.get("case") for m in stored]
    by_case = stored_by_case(stored)
    assert set(by_case) == {spec["case"] for spec in expected}
    for spec in expected:
        check_stored_message(by_case[spec["case"]], spec, TOPIC, GROUP)

    for msg in stored:
        assert msg.request_code == SEND_MESSAGE  # this client only speaks V1 SEND_MESSAGE
        assert msg.language.name == "CPP"
        assert msg.producer_group == GROUP
        assert msg.uniq_key, msg.properties  # the client sets UNIQ_KEY on every message
        assert msg.properties.get("WAIT") == "true"

    # results match what was stored
    # (a delayed send's answer names its record in SCHEDULE_TOPIC_XXXX, as a Java broker's does)
    waited = {m.properties.get("case"): m for m in broker.messages("SCHEDULE_TOPIC_XXXX")}
    for case in ("tiny", "utf8", "big", "delay", "orderly-3", "orderly-6"):
        msg, res = by_case[case], results[case]
        assert res["msg_id"] == msg.uniq_key, case  # SendResult.msgId is the client's UNIQ_KEY
        assert res["offset"] == waited.get(case, msg).queue_offset, case
    big = by_case["big"]
    assert big.sys_flag & 0x1 and len(big.body) < len(big.payload) == 6000
    assert all(not (m.sys_flag & 0x1) for m in stored if m is not big)
    assert by_case["orderly-3"].queue_id == 3 % 4  # hashing_queue_selector: arg % queue count
    assert by_case["orderly-6"].queue_id == 6 % 4
    batch = [by_case["batch-1"], by_case["batch-2"]]
    assert all(m.batch for m in batch) and not any(m.batch for m in stored if m not in batch)
    assert batch[0].queue_id == batch[1].queue_id
    assert batch[1].queue_offset == batch[0].queue_offset + 1
    assert results["batch"]["offset"] == batch[0].queue_offset

    # heartbeat (triggered by the second group's start) and unregistration
    assert wait_for(lambda: GROUP in heartbeat_groups(broker)), broker.heartbeats
    info = [c for c in broker.clients.values() if GROUP in c.producer_groups]
    assert info and info[0].language.name == "CPP" and info[0].version == 63
    assert wait_for(lambda: GROUP in unregistered_groups(broker)), broker.unregistered
    client_ids = {cid for _, cid, group, _ in broker.unregistered if group == GROUP}
    assert client_ids == {info[0].client_id}

    # on the wire, as the relay saw it
    sends = tapped_broker.client_frames(SEND_MESSAGE)
    assert len(sends) == len(scen["messages"])
    assert all(frame_flag(f.wire) == 0 for f in sends)  # oneway included: this client's known bug
    assert [str(frame_ext(f.wire).get("batch")) for f in sends].count("1") == 1
    assert tapped_broker.client_frames(GET_ROUTEINFO_BY_TOPIC)
    assert tapped_broker.client_frames(HEART_BEAT)
    assert tapped_broker.client_frames(UNREGISTER_CLIENT)
    assert all(frame_code(f.wire) is not None for f in tapped_broker.frames)

    trace = build_trace(
        tapped_broker.frames,
        client_source=CLIENT,
        context={
            "label": "interop-cpp",
            "topic": TOPIC,
            "group": GROUP,
            "driver": "tests/interop/drivers/cpp_driver.py",
            "server": "rmqwire LocalBroker (client/testing.py) behind the tests/interop FrameTap relay",
        },
        scenario=scen,
        run=run,
    )
    path = save_trace(trace, "interop-cpp.msgpack", tmp_path)
    _check_trace(path)


def _check_trace(path: Path) -> None:
    """The recorded session reads back, and every frame decodes with codec."""
    from rmqwire.codec.trace import unpack_records

    records = list(unpack_records(path.read_bytes()))
    assert records
    bad = [(r.seq, r.direction, r.error) for r in records if r.error is not None]
    assert not bad, f"codec rejects frames of a real client session: {bad}"
