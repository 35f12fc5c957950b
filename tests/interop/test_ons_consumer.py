"""ali-ons' push consumer (npm ali-ons, pure JavaScript) consumes what
rmqwire's Producer produced through LocalBroker.

ali-ons heartbeats with its subscriptions, rebalances on the consumer list,
queries offsets (CONSUME_FROM_FIRST_OFFSET), pulls with long polling and the
subscription flag, inflates the zlib body, and sends a message it answers
ACTION_RETRY back (CONSUMER_SEND_MSG_BACK, delay level 0): LocalBroker
redelivers it from ``%RETRY%group`` with reconsumeTimes 1 (delays scaled
down), which ali-ons shows under its real topic.  Every message must arrive
with the body, tags, keys and properties it was sent with.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from consumer_support import check_consumed, produce
from interop_support import DRIVERS_DIR, TappedBroker, run_driver, wait_for

pytestmark = pytest.mark.interop

TOPIC = "InteropOnsConsumeTopic"
GROUP = "interop-ons-consumer-group"
CONSUMER_SEND_MSG_BACK = 36


def test_ons_push_consumer_consumes_what_rmqwire_produced(node_binary: str, tapped_broker: TappedBroker, tmp_path: Path) -> None:
    broker = tapped_broker.broker
    specs = produce(broker, TOPIC)
    scen = {
        "namesrv": tapped_broker.namesrv_addr, "topic": TOPIC, "group": GROUP, "expression": "*",
        "expect": len(specs), "timeout_ms": 40_000, "fail_once": ["key-retry"], "linger_ms": 500,
    }
    run = run_driver([node_binary, str(DRIVERS_DIR / "ons_consumer_driver.js")], scen, tmp_path / "ons-consumer", timeout=60)
    assert run.returncode == 0, run.describe()
    events = [e["event"] for e in run.events]
    # (messages may come before "started": ali-ons consumes as soon as ready() rebalanced)
    assert "started" in events and "done" in events and events[-1] == "shutdown", run.describe()
    assert "HTTP name server lookup attempted" not in run.stderr

    by_case = check_consumed(run.events, specs, run.describe())
    for case, got in by_case.items():
        assert got["topic"] == TOPIC, case  # a retried one too: ali-ons restores RETRY_TOPIC

    [refused] = [e for e in run.events if e["event"] == "reconsume_later"]
    assert refused["keys"] == "key-retry" and refused["reconsume_times"] == 0
    again = by_case["retry"]
    assert again["reconsume_times"] == 1, again
    assert again["properties"]["RETRY_TOPIC"] == TOPIC and again["properties"]["DELAY"] == "3"
    sent_back = [cmd for role, _, cmd in broker.requests if role == "broker" and cmd.code == CONSUMER_SEND_MSG_BACK]
    assert [cmd.ext_fields["group"] for cmd in sent_back] == [GROUP], run.describe()
    [retried] = broker.messages(f"%RETRY%{GROUP}")
    assert (retried.keys, retried.reconsume_times) == ("key-retry", 1)

    def committed() -> bool:
        offsets = broker.consumer_offsets(GROUP, TOPIC)
        return all(offsets.get(q, 0) == broker.broker().store.max_offset(TOPIC, q) for q in range(4))

    assert wait_for(committed, timeout=5), broker.consumer_offsets(GROUP, TOPIC)
