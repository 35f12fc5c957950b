"""Drive the apache rocketmq-client-cpp producer (PyPI ``rocketmq==0.4.4``).

Run as a subprocess with the interpreter of ``tests/interop/.venv`` (see
``tests/interop/setup.sh``); it imports nothing from rmqwire.

    cpp_driver.py SCENARIO.json

The scenario file says where to connect and what to send::

    {"namesrv": "127.0.0.1:9876", "topic": "T", "group": "G",
     "timeout_ms": 5000, "heartbeat_group": "G-hb", "linger_ms": 0,
     "messages": [
        {"case": "c1", "api": "send_sync", "body": "text", "tags": "TagA",
         "keys": ["k1", "k2"], "properties": {"p": "v"}, "delay_level": 3},
        {"case": "c2", "api": "send_orderly", "orderly_arg": 3, ...},
        {"case": "c3", "api": "send_oneway", ...},
        {"case": "c4", "api": "send_batch", "batch": [{...}, {...}]}
     ]}

Every step prints one JSON object on its own line on stdout, with an
``event`` key: ``started``, ``send`` (``case``, ``api``, ``status``,
``msg_id``, ``offset`` or ``error``), ``heartbeat_trigger``, ``shutdown``.
``heartbeat_group`` (optional) starts a second producer group after the sends
to make the client heartbeat at once (see below); ``linger_ms`` (optional)
waits before shutting down. Anything else the native
library prints is not JSON with an ``event`` key and is ignored by the test.
The exit status is 0 when every step ran, 1 when any send raised.
"""

import json
import os
import sys
import time


def emit(**fields):
    sys.stdout.write(json.dumps(fields, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.flush()


def _library_version(dll):
    """The ``VERSION: x, BUILD DATE: y`` string compiled into librocketmq.so."""
    try:
        with open(dll._name, "rb") as f:
            data = f.read()
    except (OSError, AttributeError):
        return None
    start = data.find(b"VERSION: ")
    if start < 0:
        return None
    end = data.find(b"\0", start)
    return data[start:end].decode("ascii", "replace").strip()


def build_message(Message, dll, topic, spec):
    msg = Message(topic)
    body = spec["body"].encode("utf-8")
    # SetByteMessageBody takes an explicit length; Message.set_body would go
    # through a NUL-terminated char*.
    status = dll.SetByteMessageBody(msg._handle, body, len(body))
    if int(status) != 0:
        raise RuntimeError(f"SetByteMessageBody failed: {status!r}")
    if spec.get("tags"):
        msg.set_tags(spec["tags"])
    if spec.get("keys"):
        msg.set_keys(" ".join(spec["keys"]))
    for key, value in sorted(spec.get("properties", {}).items()):
        msg.set_property(key, value)
    if spec.get("delay_level"):
        msg.set_delay_time_level(int(spec["delay_level"]))
    return msg


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        scenario = json.load(f)

    from rocketmq.client import Message, Producer, SendStatus
    from rocketmq.ffi import _CLogLevel, dll

    topic = scenario["topic"]
    producer = Producer(scenario["group"], timeout=int(scenario.get("timeout_ms", 5000)))
    # The log goes to $HOME/logs/rocketmq-cpp whatever SetProducerLogPath
    # says in this build: the test points HOME at a temporary directory.
    dll.SetProducerLogLevel(producer._handle, _CLogLevel.INFO)
    producer.set_namesrv_addr(scenario["namesrv"])
    producer.start()
    emit(
        event="started",
        client="rocketmq-client-cpp",
        package="rocketmq==0.4.4",
        library=_library_version(dll),
        python=sys.version.split()[0],
    )

    failed = False
    for spec in scenario["messages"]:
        api = spec["api"]
        record = {"event": "send", "case": spec["case"], "api": api}
        try:
            if api == "send_sync":
                res = producer.send_sync(build_message(Message, dll, topic, spec))
            elif api == "send_orderly":
                res = producer.send_orderly(build_message(Message, dll, topic, spec), int(spec["orderly_arg"]))
            elif api == "send_oneway":
                producer.send_oneway(build_message(Message, dll, topic, spec))
                res = None
            elif api == "send_batch":
                msgs = [build_message(Message, dll, topic, m) for m in spec["batch"]]
                res = producer.send_batch(msgs)
            else:
                raise ValueError(f"unknown api {api!r}")
        except Exception as exc:  # report and go on: the test decides
            failed = True
            record.update(status="ERROR", error=f"{type(exc).__name__}: {exc}")
        else:
            if res is None:
                record.update(status="ONEWAY")
            else:
                record.update(status=SendStatus(res.status).name, msg_id=res.msg_id, offset=res.offset)
        emit(**record)

    # This client heartbeats from a timer: 10 ms after start, racing the first
    # route lookup (with no broker known yet it sends nothing), then every
    # 30 s. A second producer group started in the same process shares the
    # client instance, and its start() heartbeats every known broker at once.
    second = None
    if scenario.get("heartbeat_group"):
        second = Producer(scenario["heartbeat_group"], timeout=int(scenario.get("timeout_ms", 5000)))
        second.set_namesrv_addr(scenario["namesrv"])
        second.start()
        emit(event="heartbeat_trigger", group=scenario["heartbeat_group"])
    linger = float(scenario.get("linger_ms", 0)) / 1000.0
    if linger > 0:
        time.sleep(linger)
    if second is not None:
        second.shutdown()
    producer.shutdown()
    emit(event="shutdown")
    sys.stdout.flush()
    # The native library's threads may linger after shutdown; leave at once.
    os._exit(1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
