"""Two rmqwire trees and the C++ client, alternating, against one broker process.

For before/after tables on a shared, noisy machine: every round runs each
case once per client, in turn, so load changes hit all of them alike; take
the least CPU of the rounds.  A tree is a checkout with its own ``.venv``
(``make .venv/.rmqwire-installed``)::

    .venv/bin/python -m benches.alternate --rounds 3 --cases sync,batch \\
        --tree before=/work/main --tree after=. --cpp

``--broker serve`` measures against ``rmqwire serve`` instead of the minimal
responder.  One line per run: msgs/s, p50/p99 µs per call, client and broker CPU µs per
message (the broker's from ``/proc``, 10 ms ticks: run enough messages).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benches.outofprocess import BrokerProcess, Driver, cpp_status, measure

CASES: dict[str, dict[str, Any]] = {
    "sync": {"case": "sync", "messages": 3000},
    "async1": {"case": "async", "in_flight": 1, "messages": 3000},
    "async16": {"case": "async", "in_flight": 16, "messages": 10000},
    "async64": {"case": "async", "in_flight": 64, "messages": 10000},
    "async256": {"case": "async", "in_flight": 256, "messages": 10000},
    "oneway": {"case": "oneway", "messages": 10000},
    "batch": {"case": "batch", "batch": 32, "messages": 16000},
}


def _tree_driver(name: str, tree: Path, namesrv: str) -> Driver:
    argv = [str(tree / ".venv" / "bin" / "python"), str(tree / "benches" / "drive_rmqwire.py"), namesrv]
    proc = subprocess.Popen(argv, cwd=tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None
    proc.stdout.readline()  # the "ready" line
    return Driver(name, proc)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="sync,batch", help="comma-separated: " + ",".join(CASES))
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--cpp", action="store_true", help="also the C++ client (tests/interop/setup.sh)")
    parser.add_argument("--broker", choices=("minimal", "serve"), default="minimal")
    args = parser.parse_args(argv)
    broker = BrokerProcess.start(args.broker)
    drivers: dict[str, Driver] = {}
    try:
        for spec in args.tree:
            name, _, path = spec.partition("=")
            drivers[name] = _tree_driver(name, Path(path).resolve(), broker.namesrv_addr)
        if args.cpp:
            ok, reason = cpp_status()
            if not ok:
                parser.error(reason)
            drivers["cpp"] = Driver.start("cpp", broker.namesrv_addr)
        for r in range(args.rounds):
            for case in args.cases.split(","):
                for name, driver in drivers.items():
                    if name == "cpp" and case == "batch" and args.broker == "serve":
                        continue  # see test_client_bench: serve refuses the C++ client's compressed batch
                    out = measure(driver, broker, dict(CASES[case], body=128))
                    n = out["messages"]
                    broker_us = "-" if out["broker_cpu_s"] is None else f"{out['broker_cpu_s'] * 1e6 / n:.1f}"
                    print(f"round {r} {case:8} {name:8} {n / out['seconds']:9,.0f} msgs/s  p50 {out['p50_us']:7.0f}"
                          f"  p99 {out['p99_us']:7.0f}  client CPU {out['cpu_s'] * 1e6 / n:6.1f}  broker CPU {broker_us}"
                          f"  load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for driver in drivers.values():
            driver.stop()
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
