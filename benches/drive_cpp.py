"""Drive the apache rocketmq-client-cpp producer (PyPI ``rocketmq==0.4.4``)
for the out-of-process bench; the same protocol as ``drive_rmqwire.py``.

    tests/interop/.venv/bin/python benches/drive_cpp.py NAMESRV_ADDR

Run with the interpreter of ``tests/interop/.venv`` (``tests/interop/setup.sh``
installs it); it imports nothing from rmqwire.  One producer serves every
case (the native client shares one instance per process anyway); each case
is warmed up with a few sends outside the measured span.  ``async`` keeps
``in_flight`` sends outstanding with ``send_async`` and a semaphore released
by the callbacks (which run on the library's threads); ``cpu_s`` is
``time.process_time``, so it includes those threads.
"""

import json
import os
import statistics
import sys
import tempfile
import threading
import time

TOPIC = "BenchTopic"
WARMUP = 20


def summary(latencies, messages, seconds, cpu_s):
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {"messages": messages, "seconds": seconds, "cpu_s": cpu_s,
            "p50_us": cuts[49] * 1e6, "p99_us": cuts[98] * 1e6}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    # The native log goes to $HOME/logs/rocketmq-cpp: keep it out of the user's home.
    os.environ["HOME"] = tempfile.mkdtemp(prefix="rmqwire-bench-cpp-")
    from rocketmq.client import Message, Producer, SendStatus
    from rocketmq.ffi import dll

    producer = Producer("bench-cpp", timeout=5000)
    producer.set_namesrv_addr(argv[1])
    producer.start()

    def message(body):
        msg = Message(TOPIC)
        if int(dll.SetByteMessageBody(msg._handle, body, len(body))) != 0:
            raise RuntimeError("SetByteMessageBody failed")
        return msg

    def check(res):
        if res.status != SendStatus.OK:
            raise RuntimeError(f"send returned {res.status!r}")

    clock, cpu = time.perf_counter, time.process_time

    def run(case):
        kind, messages = case["case"], int(case["messages"])
        body = b"x" * int(case.get("body", 128))
        for _ in range(WARMUP):
            check(producer.send_sync(message(body)))
        latencies = []
        if kind == "sync":
            cpu0, start = cpu(), clock()
            for _ in range(messages):
                t0 = clock()
                check(producer.send_sync(message(body)))
                latencies.append(clock() - t0)
        elif kind == "oneway":
            cpu0, start = cpu(), clock()
            for _ in range(messages):
                t0 = clock()
                producer.send_oneway(message(body))
                latencies.append(clock() - t0)
            check(producer.send_sync(message(body)))
        elif kind == "batch":
            batch = int(case.get("batch", 32))
            calls = max(1, messages // batch)
            messages = calls * batch
            cpu0, start = cpu(), clock()
            for _ in range(calls):
                t0 = clock()
                check(producer.send_batch([message(body) for _ in range(batch)]))
                latencies.append(clock() - t0)
        elif kind == "async":
            window = threading.BoundedSemaphore(int(case.get("in_flight", 1)))
            done = threading.Event()
            lock = threading.Lock()
            errors = []
            remaining = [messages]

            def finished(t0):
                latencies.append(clock() - t0)
                window.release()
                with lock:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        done.set()

            cpu0, start = cpu(), clock()
            for _ in range(messages):
                window.acquire()
                t0 = clock()
                producer.send_async(
                    message(body),
                    lambda res, t0=t0: (check(res), finished(t0)),
                    lambda exc, t0=t0: (errors.append(repr(exc)), finished(t0)),
                )
            if not done.wait(60):
                raise RuntimeError(f"{remaining[0]} async sends never completed")
            if errors:
                raise RuntimeError(f"{len(errors)} async sends failed, first: {errors[0]}")
        else:
            raise ValueError(f"unknown case {kind!r}")
        return summary(latencies, messages, clock() - start, cpu() - cpu0)

    print(json.dumps({"event": "ready", "client": "rocketmq-client-cpp", "package": "rocketmq==0.4.4"}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = run(json.loads(line))
        except Exception as exc:  # report it: the bench decides what a failure means
            out = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(out), flush=True)
    producer.shutdown()
    sys.stdout.flush()
    # The native library's threads may linger after shutdown; leave at once.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
