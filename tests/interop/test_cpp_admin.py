"""The apache C++ client's push consumer (PyPI ``rocketmq==0.4.4``) answers
GET_CONSUMER_RUNNING_INFO (307) asked through LocalBroker, and rmqwire's
``ConsumerRunningInfo`` reads what it wrote: a real peer's body for the
parser (jsoncpp's pretty-printed object keys in ``mqTable``, longs as
strings, its ``"flase"``), beside the Java-derived vectors of
``tests/test_admin_bodies.py``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from interop_support import DRIVERS_DIR, wait_for

from rmqwire.codec import MessageQueueData
from rmqwire.codec.body.running_info import PROP_CONSUME_TYPE, PROP_NAMESERVER_ADDR
from rmqwire.testing import LocalBroker

pytestmark = pytest.mark.interop

TOPIC = "InteropCppAdminTopic"
GROUP = "interop-cpp-admin-group"


def test_cpp_consumer_running_info_reads_as_ours(cpp_python: str, tmp_path: Path) -> None:
    with LocalBroker.in_thread(topics=[TOPIC]) as broker:
        scenario = tmp_path / "scenario.json"
        # never reached: the consumer stays up until it is killed
        scenario.write_text(json.dumps({"namesrv": broker.namesrv_addr, "topic": TOPIC, "group": GROUP,
                                        "expect": 10**9, "timeout_ms": 30_000}))
        driver = subprocess.Popen([cpp_python, str(DRIVERS_DIR / "cpp_consumer_driver.py"), str(scenario)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert driver.stdout is not None and '"started"' in driver.stdout.readline()
            assert wait_for(lambda: len(broker.consumer_ids(GROUP)) == 1, timeout=15)
            [client_id] = broker.consumer_ids(GROUP)

            def owns_every_queue() -> bool:
                info = broker.submit(broker.consumer_running_info(GROUP, client_id))
                return {mq for mq in info.mq_table if mq.topic == TOPIC} == {
                    MessageQueueData(TOPIC, "broker-a", q) for q in range(4)
                }

            assert wait_for(owns_every_queue, timeout=15)
            info = broker.submit(broker.consumer_running_info(GROUP, client_id))
        finally:
            driver.kill()
            driver.wait()
    assert info.properties[PROP_CONSUME_TYPE] == "CONSUME_PASSIVELY"
    assert info.properties[PROP_NAMESERVER_ADDR].startswith(broker.namesrv_addr)
    assert {s.topic for s in info.subscription_set} == {TOPIC, f"%RETRY%{GROUP}"}
    assert all(not pq.droped and pq.cached_msg_count == 0 for pq in info.mq_table.values())
