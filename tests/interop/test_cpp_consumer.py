"""The apache C++ client's push consumer (librocketmq.so from PyPI
``rocketmq==0.4.4``) consumes what rmqwire's Producer produced through
LocalBroker.

The consumer heartbeats, asks for its group's members and offsets, pulls
every queue with long polling (PULL_MESSAGE, the stored-message records as
body), decompresses the zlib body, answers RECONSUME_LATER once (the client
sends the message, with the rest of its batch, back with CONSUMER_SEND_MSG_BACK; LocalBroker redelivers
it from ``%RETRY%group`` after delay level 3, scaled down) and commits its
offsets.  Every message must arrive with the body, tags, keys and
properties it was sent with.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from consumer_support import PROPERTIES, check_consumed, produce
from interop_support import DRIVERS_DIR, TappedBroker, frame_code, run_driver, wait_for

pytestmark = pytest.mark.interop

TOPIC = "InteropCppConsumeTopic"
GROUP = "interop-cpp-consumer-group"
PULL_MESSAGE = 11
CONSUMER_SEND_MSG_BACK = 36


def test_cpp_push_consumer_consumes_what_rmqwire_produced(cpp_python: str, tapped_broker: TappedBroker, tmp_path: Path) -> None:
    broker = tapped_broker.broker
    specs = produce(broker, TOPIC)

    scen = {
        "namesrv": tapped_broker.namesrv_addr, "topic": TOPIC, "group": GROUP, "expression": "*",
        "expect": len(specs), "timeout_ms": 40_000, "properties": PROPERTIES, "fail_once": ["key-retry"],
        "linger_ms": 500,
    }
    run = run_driver([cpp_python, str(DRIVERS_DIR / "cpp_consumer_driver.py")], scen, tmp_path / "cpp-consumer", timeout=60)
    assert run.returncode == 0, run.describe()
    events = [e["event"] for e in run.events]
    # the client's callback threads may deliver before start() has returned,
    # so "started" can follow the first messages
    assert "started" in events and "done" in events and events[-1] == "shutdown", run.describe()

    by_case = check_consumed(run.events, specs, run.describe())

    # the refused one came back from the retry topic, reconsumed once
    [refused] = [e for e in run.events if e["event"] == "reconsume_later"]
    assert refused["keys"] == "key-retry" and refused["reconsume_times"] == 0
    again = by_case["retry"]
    assert again["reconsume_times"] >= 1, again
    # (the client sends it back to the message's store host: past the tap, straight to the broker)
    sent_back = [cmd for role, _, cmd in broker.requests if role == "broker" and cmd.code == CONSUMER_SEND_MSG_BACK]
    assert sent_back and sent_back[0].ext_fields["group"] == GROUP, [cmd.code for _, _, cmd in broker.requests]
    # this client refuses the whole batch the listener was called for: the refused
    # message and the batch's others went to the retry topic, each reconsumed once
    retried = broker.messages(f"%RETRY%{GROUP}")
    assert "key-retry" in {m.keys for m in retried}
    assert all(m.reconsume_times == 1 and m.properties["RETRY_TOPIC"] == TOPIC for m in retried)
    assert tapped_broker.client_frames(PULL_MESSAGE)

    # offsets were committed: every queue of the topic up to its end
    def committed() -> bool:
        offsets = broker.consumer_offsets(GROUP, TOPIC)
        return all(offsets.get(q, 0) == broker.broker().store.max_offset(TOPIC, q) for q in range(4))

    assert wait_for(committed, timeout=5), (broker.consumer_offsets(GROUP, TOPIC), [frame_code(f.wire) for f in tapped_broker.frames])
