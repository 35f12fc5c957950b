"""rmqwire push consumers of several trees and the C++ one, alternating, on one ``rmqwire serve``.

For before/after tables of the consume path on a shared, noisy machine:
the broker (this tree's ``rmqwire serve``) is filled once and warmed by a
throwaway group, then every round lets each tree's consumer and the C++
consumer drain all messages as new groups, in turn, so load changes hit
them alike; take the least client CPU (and the best rate) of the rounds::

    .venv/bin/python -m benches.alternate_consume --messages 50000 --rounds 3 \\
        --tree before=/path/to/old/checkout --tree after=. --cpp

A tree is a checkout (its ``client/`` and ``codec/``): its package is staged
as ``rmqwire`` in a temporary directory put first on the driver's
``PYTHONPATH``, so it needs no venv of its own; the driver is this tree's
``benches/drive_consume_rmqwire.py`` run by this interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benches.consume_bench import DRIVER_TIMEOUT, TOPIC, figures, fill, run_driver
from benches.outofprocess import BENCHES, REPO, BrokerProcess, cpp_status


def stage(tree: Path, into: Path) -> Path:
    """A directory holding ``tree``'s package as ``rmqwire``, for ``PYTHONPATH``."""
    package = into / "rmqwire"
    shutil.copytree(tree / "client", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(tree / "codec", package / "codec", ignore=shutil.ignore_patterns("__pycache__"))
    return into


def run_tree(path: Path, broker: BrokerProcess, group: str, count: int) -> dict[str, Any]:
    """One drain by the consumer of the staged tree at ``path``."""
    before = broker.cpu()
    done = subprocess.run(
        [sys.executable, str(BENCHES / "drive_consume_rmqwire.py"), broker.namesrv_addr, TOPIC, group, str(count)],
        cwd=REPO, capture_output=True, text=True, timeout=DRIVER_TIMEOUT,
        env=dict(os.environ, PYTHONPATH=str(path), PYTHONUNBUFFERED="1"),
    )
    after = broker.cpu()
    lines = done.stdout.strip().splitlines()
    out: dict[str, Any] = json.loads(lines[-1]) if lines else {"error": done.stderr[-2000:]}
    if "error" in out:
        raise RuntimeError(f"consume driver of {path}: {out['error']}")
    out["broker_cpu_s"] = None if before is None or after is None else after - before
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR", help="a checkout to measure")
    parser.add_argument("--cpp", action="store_true", help="the C++ push consumer too, each round")
    args = parser.parse_args(argv)
    trees = dict(spec.split("=", 1) for spec in args.tree) or {"this": str(REPO)}
    if args.cpp and not cpp_status()[0]:
        parser.error(f"C++ client: {cpp_status()[1]}")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in [*trees, *(["cpp"] if args.cpp else [])]}
    with tempfile.TemporaryDirectory(prefix="rmqwire-alt-consume-") as tmp:
        staged = {name: stage(Path(d).resolve(), Path(tmp) / name) for name, d in trees.items()}
        broker = BrokerProcess.start("serve")
        try:
            fill(broker.namesrv_addr, TOPIC, args.messages)
            run_driver("rmqwire", broker, TOPIC, "alt-consume-warmup", args.messages)
            for round_ in range(args.rounds):
                for name in results:
                    group = f"alt-consume-{name}-{round_}"
                    out = (run_driver("cpp", broker, TOPIC, group, args.messages) if name == "cpp"
                           else run_tree(staged[name], broker, group, args.messages))
                    row = figures(out)
                    results[name].append(row)
                    print(f"{name:>8} round {round_}: {row['msgs_per_s']:,.0f} msgs/s, client CPU "
                          f"{row['client_cpu_us']:.1f} µs/msg, broker CPU {row['broker_cpu_us']:.1f} µs/msg", flush=True)
        finally:
            broker.stop()
    for name, rows in results.items():
        rates = sorted(r["msgs_per_s"] for r in rows)
        cpus = sorted(r["client_cpu_us"] for r in rows)
        print(f"{name:>8}: msgs/s {rates[0]:,.0f}-{rates[-1]:,.0f} (median {rates[len(rates) // 2]:,.0f}); "
              f"client CPU µs/msg min {cpus[0]:.1f}, median {cpus[len(cpus) // 2]:.1f}")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
