"""Drive the apache rocketmq-client-cpp push consumer (PyPI ``rocketmq==0.4.4``)
for the consume bench; the same arguments and answer as ``drive_consume_rmqwire.py``.

    tests/interop/.venv/bin/python benches/drive_consume_cpp.py NAMESRV_ADDR TOPIC GROUP COUNT

Run with the interpreter of ``tests/interop/.venv``; it imports nothing from
rmqwire.  The callback (on the library's consume threads, one message per
call as the C++ client's default batch size is 1) only counts; ``cpu_s`` is
``time.process_time``, so it includes the library's threads.
"""

import json
import os
import sys
import tempfile
import threading
import time


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    namesrv, topic, group, count = argv[1], argv[2], argv[3], int(argv[4])
    # The native log goes to $HOME/logs/rocketmq-cpp: keep it out of the user's home.
    os.environ["HOME"] = tempfile.mkdtemp(prefix="rmqwire-bench-cpp-")
    from rocketmq.client import PushConsumer
    from rocketmq.ffi import _CConsumeStatus, dll
    from rocketmq.exceptions import ffi_check

    success = _CConsumeStatus.CONSUME_SUCCESS.value
    clock, cpu = time.perf_counter, time.process_time
    lock = threading.Lock()
    done = threading.Event()
    marks = {}
    seen = [0]

    def raw_callback(_consumer, _handle):
        with lock:
            if seen[0] == 0:
                marks["first"], marks["first_cpu"] = clock(), cpu()
            seen[0] += 1
            if seen[0] == count:
                marks["last"], marks["last_cpu"] = clock(), cpu()
                done.set()
        return success

    consumer = PushConsumer(group)
    consumer.set_namesrv_addr(namesrv)
    ffi_check(dll.Subscribe(consumer._handle, topic.encode(), b"*"))
    consumer._register_callback(raw_callback)
    start = clock()
    consumer.start()
    if done.wait(300):
        out = {"messages": count, "seconds": marks["last"] - marks["first"], "cpu_s": marks["last_cpu"] - marks["first_cpu"],
               "startup_s": marks["first"] - start, "client": "rocketmq-client-cpp"}
    else:
        out = {"error": f"only {seen[0]} of {count} messages arrived within 300 s"}
    print(json.dumps(out), flush=True)
    consumer.shutdown()
    sys.stdout.flush()
    # The native library's threads may linger after shutdown; leave at once.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
