"""Drive the apache rocketmq-client-cpp push consumer (PyPI ``rocketmq==0.4.4``).

Run as a subprocess with the interpreter of ``tests/interop/.venv`` (see
``tests/interop/setup.sh``); it imports nothing from rmqwire.

    cpp_consumer_driver.py SCENARIO.json

The scenario file says where to connect and what to wait for::

    {"namesrv": "127.0.0.1:9876", "topic": "T", "group": "G",
     "expression": "*", "expect": 5, "timeout_ms": 30000,
     "properties": ["case", "color"], "fail_once": ["key-3"]}

It subscribes ``topic`` with ``expression`` and prints one JSON object per
line on stdout with an ``event`` key: ``started``; ``message`` per delivery
(topic, tags, keys, body, id, queue_id, queue_offset, reconsume_times,
delay_level and the named ``properties``), ``reconsume_later`` when a
message whose keys are in ``fail_once`` is refused the first time (the
callback answers RECONSUME_LATER: the client sends it back);
``done`` once ``expect`` distinct keys were consumed successfully, or
``timeout``; ``shutdown``.  Exit status 0 when ``expect`` was reached.
"""

import json
import os
import sys
import threading
import time


def emit(**fields):
    sys.stdout.write(json.dumps(fields, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()


def text(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        scenario = json.load(f)

    from rocketmq.client import PushConsumer, RecvMessage
    from rocketmq.ffi import _CConsumeStatus, dll
    from rocketmq.exceptions import ffi_check

    CONSUME_SUCCESS = _CConsumeStatus.CONSUME_SUCCESS.value
    RECONSUME_LATER = _CConsumeStatus.RECONSUME_LATER.value

    expect = int(scenario["expect"])
    names = list(scenario.get("properties", []))
    fail_once = set(scenario.get("fail_once", []))
    failed_already = set()
    consumed = set()  # distinct keys: a refused batch comes back whole
    lock = threading.Lock()
    done = threading.Event()

    def on_message(msg):
        keys = text(msg.keys) or ""
        record = {
            "event": "message",
            "topic": text(msg.topic),
            "tags": text(msg.tags),
            "keys": keys,
            "body": text(msg.body),
            "id": text(msg.id),
            "queue_id": int(msg.queue_id),
            "queue_offset": int(msg.queue_offset),
            "reconsume_times": int(msg.reconsume_times),
            "delay_level": int(msg.delay_time_level),
            "properties": {name: text(msg.get_property(name)) for name in names},
        }
        with lock:
            if keys in fail_once and keys not in failed_already:
                failed_already.add(keys)
                record["event"] = "reconsume_later"
                emit(**record)
                return RECONSUME_LATER
            emit(**record)
            consumed.add(keys)
            if len(consumed) >= expect:
                done.set()
            return CONSUME_SUCCESS

    def raw_callback(_consumer, handle):
        # The wrapper's subscribe() re-raises a listener's exception out of
        # the ctypes callback, which then returns 0 (CONSUME_SUCCESS): answer
        # the C status ourselves.
        try:
            return on_message(RecvMessage(handle))
        except Exception as exc:
            emit(event="error", error=f"{type(exc).__name__}: {exc}")
            return RECONSUME_LATER

    consumer = PushConsumer(scenario["group"])
    consumer.set_namesrv_addr(scenario["namesrv"])
    ffi_check(dll.Subscribe(consumer._handle, scenario["topic"].encode(), scenario.get("expression", "*").encode()))
    consumer._register_callback(raw_callback)
    consumer.start()
    emit(event="started", client="rocketmq-client-cpp", package="rocketmq==0.4.4", python=sys.version.split()[0])
    reached = done.wait(float(scenario.get("timeout_ms", 30000)) / 1000.0)
    emit(event="done" if reached else "timeout", consumed=len(consumed))
    time.sleep(float(scenario.get("linger_ms", 0)) / 1000.0)
    consumer.shutdown()
    emit(event="shutdown")
    sys.stdout.flush()
    # The native library's threads may linger after shutdown; leave at once.
    os._exit(0 if reached else 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
