#!/usr/bin/env python3
"""Print the benchmark table: each case's µs/op and its ratio to the
hand-written reference measured in the same run, against the issue's targets.

Usage::

    benches/report.py bench-results/benchmarks.json [--markdown FILE] [--png FILE] [--strict]

Reads the pytest-benchmark JSON (only ``extra_info`` and ``stats``), prints
one table, writes a PNG chart of the ratios next to the JSON (or to
``--png``) when matplotlib is importable (the ``bench`` extra), and with
``--markdown`` writes the table with the machine it was taken on.  Ratios
use each benchmark's minimum (the least disturbed round on a shared
machine); the ``median`` column repeats the public ratio with medians.
``--strict`` exits 1 when a target is missed; by default the table only
says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benches.cases import CASES, JSON_TARGET, SPLIT_OVERHEAD_TARGET_US, TARGETS  # noqa: E402

IMPLS = ("public", "public-stdlib-json", "construct-compiled", "construct-interpreted")


@dataclass
class Row:
    label: str
    op: str
    baseline_us: float | None
    value_us: float | None
    ratio: float | None
    median_ratio: float | None
    target: str
    ok: bool | None
    others: dict[str, float | None]


def _index(data: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {}
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if {"case", "op", "impl"} <= info.keys():
            out[(info["case"], info["op"], info["impl"])] = bench
    return out


def _us(bench: dict[str, Any] | None, stat: str = "min", per: str | None = None) -> float | None:
    if bench is None:
        return None
    value = bench["stats"][stat] * 1e6
    if per:
        value /= bench["extra_info"][per]
    return float(value)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def rows(data: dict[str, Any]) -> list[Row]:
    index = _index(data)
    out: list[Row] = []
    for case in CASES:
        is_json = case.command.serialize_type == 0
        for op in ("encode", "decode"):
            ref = index.get((case.id, op, "reference"))
            pub = index.get((case.id, op, "public"))
            if ref is None or pub is None:
                continue
            limits = [TARGETS[(case.id, op)]] if (case.id, op) in TARGETS else []
            if is_json:
                limits.append(JSON_TARGET)
            limit = min(limits) if limits else None
            ratio = _ratio(_us(pub), _us(ref))
            out.append(Row(
                case.id, op, _us(ref), _us(pub), ratio, _ratio(_us(pub, "median"), _us(ref, "median")),
                f"≤ {limit:.1f}x" if limit is not None else "",
                None if limit is None or ratio is None else ratio <= limit,
                {impl: _ratio(_us(index.get((case.id, op, impl))), _us(ref)) for impl in IMPLS[1:]},
            ))
    for (case_id, op), limit in TARGETS.items():  # cases that are not frames (the pull body)
        if case_id in {c.id for c in CASES}:
            continue
        ref, pub = index.get((case_id, op, "reference")), index.get((case_id, op, "public"))
        if ref is None or pub is None:
            continue
        ratio = _ratio(_us(pub), _us(ref))
        out.append(Row(case_id, op, _us(ref), _us(pub), ratio, _ratio(_us(pub, "median"), _us(ref, "median")),
                       f"≤ {limit:.1f}x", None if ratio is None else ratio <= limit, {}))
    stream = {impl: index.get(("stream-1MiB", "stream", impl))
              for impl in ("framedecoder", "framedecoder-64KiB", "parse-only", "reference")}
    ref_frame = _us(stream["reference"], per="frames")
    for impl in ("framedecoder", "framedecoder-64KiB"):
        value = _us(stream[impl], per="frames")
        if value is None:
            continue
        median = _ratio(_us(stream[impl], "median", "frames"), _us(stream["reference"], "median", "frames"))
        out.append(Row(f"stream-1MiB {impl}", "per frame", ref_frame, value, _ratio(value, ref_frame), median, "", None, {}))
    whole, parse_only = _us(stream["framedecoder"], per="frames"), _us(stream["parse-only"], per="frames")
    if whole is not None and parse_only is not None:
        overhead = whole - parse_only
        out.append(Row("stream-1MiB split overhead (framedecoder - parse-only)", "per frame", parse_only, overhead,
                       None, None,
                       f"≤ {SPLIT_OVERHEAD_TARGET_US} µs", overhead <= SPLIT_OVERHEAD_TARGET_US, {}))
    return out


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


HEADER = ["case", "op", "reference µs", "public µs", "ratio", "(median)", "target", "",
          "stdlib-json", "construct compiled", "construct interpreted"]


def table(rows_: list[Row]) -> list[list[str]]:
    out = []
    for r in rows_:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        out.append([
            r.label, r.op, _fmt(r.baseline_us, ".2f"), _fmt(r.value_us, ".2f"), ratio,
            _fmt(r.median_ratio, ".2f") + ("x" if r.median_ratio is not None else ""), r.target,
            {True: "ok", False: "MISS", None: ""}[r.ok],
            *(f"{v:.2f}x" if v is not None else "" for v in (r.others.get(i) for i in IMPLS[1:])),
        ])
    return out


def render_text(cells: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *cells]) for i in range(len(HEADER))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


LEGEND = """\
- **reference**: `benches/reference.py`, a hand-written `struct`/stdlib-`json` codec with every trick we know
  (one pack for prelude + fixed header, the ASCII ext map as one latin-1 string, `object.__new__` for the
  dataclass); it makes and takes the same `RemotingCommand` values.
- **public**: `codec.encode` / `codec.decode`, i.e. the frame schema compiled by `codec.gen.compile_bound`, with orjson
  for JSON headers when it is installed.  **stdlib-json**: the same with orjson switched off.
- **construct compiled** / **construct interpreted**: `FRAME.compile()` and `FRAME` itself on the nested dicts
  they take, converted from and to the same commands.
- **target**: the issues' limits (issue 10: every SEND_MESSAGE_V2 and send-response case at most 1.0x, and the
  pull body of 32 stored messages, `codec.decode_messages` against a hand-written struct decoder, at most 1.0x;
  heartbeat encode 1.3x; every JSON-header path at least as fast as the stdlib baseline: 1.0x); the split
  overhead is FrameDecoder's time per frame minus the bound parser's on the same frames at known offsets.
- **(median)**: the public ratio from medians.  On a shared 2-core VM other jobs disturb many rounds, so
  minimums are the figures to compare; the medians show the spread.
"""


def render_markdown(cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def machine(data: dict[str, Any]) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = data.get("machine_info", {}).get("cpu", {}).get("brand_raw", cpu)
    info = data.get("machine_info", {})
    cores = info.get("cpu", {}).get("count", "?")
    python = info.get("python_implementation", platform.python_implementation()) + " " + info.get(
        "python_version", platform.python_version())
    when = data.get("datetime", datetime.datetime.now(datetime.timezone.utc).isoformat())[:19].replace("T", " ")
    try:
        import orjson

        fast = f"orjson {orjson.__version__}"
    except ImportError:
        fast = "orjson not installed (public = stdlib JSON)"
    return f"{cpu}, {cores} cores, {python}, {info.get('system', platform.system())}; {fast}; taken {when} UTC"


def chart(rows_: list[Row], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    codec_rows = [r for r in rows_ if r.ratio is not None and r.op in ("encode", "decode")]
    labels = [f"{r.label} {r.op}" for r in codec_rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 0.38 * len(labels) + 2), sharey=True)
    ys = list(range(len(labels)))
    left.barh([y + 0.2 for y in ys], [r.ratio for r in codec_rows], height=0.4, label="public", color="tab:blue")
    stdlib = [r.others.get("public-stdlib-json") for r in codec_rows]
    left.barh([y - 0.2 for y in ys], [v or 0 for v in stdlib], height=0.4, label="public, stdlib json",
              color="tab:cyan")
    for y, r in zip(ys, codec_rows):
        if r.target:
            limit = float(r.target.split()[1].rstrip("x"))
            left.plot([limit, limit], [y - 0.45, y + 0.45], color="tab:red", linewidth=2)
    left.axvline(1.0, color="black", linewidth=0.8)
    left.set_xlabel("time / hand-written reference (red: target)")
    left.set_title("public API")
    left.legend(loc="lower right")
    for offset, impl, color in ((0.2, "construct-compiled", "tab:orange"), (-0.2, "construct-interpreted", "tab:gray")):
        right.barh([y + offset for y in ys], [r.others.get(impl) or 0 for r in codec_rows], height=0.4,
                   label=impl, color=color)
    right.set_xscale("log")
    right.axvline(1.0, color="black", linewidth=0.8)
    right.set_xlabel("time / hand-written reference (log)")
    right.set_title("construct's own compile() and interpreter")
    right.legend(loc="lower right")
    left.set_yticks(ys, labels)
    left.invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def end_to_end(data: dict[str, Any]) -> list[str]:
    """Lines for the end-to-end benchmarks (``op == "e2e"``), as a table."""
    found = [b["extra_info"] for b in data["benchmarks"] if b.get("extra_info", {}).get("op") == "e2e"]
    if not found:
        return []
    lines = ["| end to end on loopback (LocalBroker in-process) | messages | msgs/s | p50 µs | p99 µs |",
             "|---|---:|---:|---:|---:|"]
    for info in found:
        lines.append(f"| {info['case']} | {info['messages']} | {info['msgs_per_s']:,.0f} | "
                     f"{info['p50_us']:,.0f} | {info['p99_us']:,.0f} |")
    return lines


CLIENT_CASES = ("sync", "async-1", "async-16", "async-64", "async-256", "oneway", "batch-32")
CLIENT_LABELS = {"sync": "blocking sync send", "oneway": "oneway", "batch-32": "batch 32 x 128 B"}
CLIENT_IMPLS = (("rmqwire", "rmqwire"), ("cpp", "C++ 0.4.4"))


def _client_index(data: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(i["broker"], i["impl"], i["case"]): i for i in
            (b.get("extra_info", {}) for b in data["benchmarks"]) if i.get("op") == "client"}


def client_tables(data: dict[str, Any], brokers: tuple[str, ...] = ("minimal", "serve")) -> list[str]:
    """Markdown for the out-of-process client benchmarks (``op == "client"``):
    one table per broker, rmqwire and the C++ client side by side."""
    index = _client_index(data)
    if not index:
        return []
    titles = {"minimal": "minimal responder (`benches/minimal_broker.py`)", "serve": "`rmqwire serve`"}
    lines: list[str] = []
    for broker in brokers:
        if not any(k[0] == broker for k in index):
            continue
        head = ["case"]
        for _, name in CLIENT_IMPLS:
            head += [f"{name} msgs/s", "p50 µs", "p99 µs", "client CPU µs/msg", "broker CPU µs/msg"]
        lines += [f"Broker: {titles.get(broker, broker)}, its own process.", "",
                  "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for case in CLIENT_CASES:
            cells = [CLIENT_LABELS.get(case, case.replace("async-", "async, ") + (" in flight" if "-" in case else ""))]
            for impl, _ in CLIENT_IMPLS:
                info = index.get((broker, impl, case))
                if info is None:
                    cells += ["–"] * 5
                    continue
                cells += [f"{info['msgs_per_s']:,.0f}", f"{info['p50_us']:,.0f}", f"{info['p99_us']:,.0f}",
                          f"{info['client_cpu_us']:,.1f}",
                          "–" if info.get("broker_cpu_us") is None else f"{info['broker_cpu_us']:,.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    loads = [i["load_1m"] for i in index.values() if i.get("load_1m") is not None]
    if loads:
        lines += [f"Load average (1 min) over these runs: {min(loads):.1f}–{max(loads):.1f} on "
                  f"{os.cpu_count() or '?'} cores; msgs/s and latency move with it, CPU per message much less.", ""]
    goals = client_goals(index)
    if goals:
        lines += ["Issue 13 goals, on the minimal responder:", ""] + [f"- {g}" for g in goals] + [""]
    return lines


def client_goals(index: dict[tuple[str, str, str], dict[str, Any]], broker: str = "minimal") -> list[str]:
    """The issue's goals for the client, met or missed, where both sides were measured."""
    def get(impl: str, case: str, key: str) -> float | None:
        info = index.get((broker, impl, case))
        return None if info is None or info.get(key) is None else float(info[key])

    out = []
    mark = {True: "ok", False: "MISS"}
    cpu64 = get("rmqwire", "async-64", "client_cpu_us")
    if cpu64 is not None:
        out.append(f"client CPU per async send at 64 in flight ≤ 30 µs: {cpu64:.1f} µs, {mark[cpu64 <= 30]}")
    mine, theirs = get("rmqwire", "sync", "client_cpu_us"), get("cpp", "sync", "client_cpu_us")
    if mine is not None and theirs is not None:
        out.append(f"client CPU per blocking send ≤ the C++ client's: {mine:.0f} vs {theirs:.0f} µs, "
                   f"{mark[mine <= theirs]}")
    rate64, cpp_sync = get("rmqwire", "async-64", "msgs_per_s"), get("cpp", "sync", "msgs_per_s")
    if rate64 is not None and cpp_sync:
        out.append(f"async (64 in flight) ≥ 10x the C++ client's sync rate: {rate64 / cpp_sync:.1f}x, "
                   f"{mark[rate64 >= 10 * cpp_sync]}")
    for case in ("oneway", "batch-32"):
        mine, theirs = get("rmqwire", case, "msgs_per_s"), get("cpp", case, "msgs_per_s")
        if mine is not None and theirs:
            out.append(f"{CLIENT_LABELS[case]} ahead of the C++ client: {mine:,.0f} vs {theirs:,.0f} msgs/s, "
                       f"{mark[mine > theirs]}")
    return out


def consume_table(data: dict[str, Any]) -> list[str]:
    """Markdown for the consume benchmarks (``op == "consume"``,
    ``benches/test_consume_bench.py``): one row per client, and the issue's goals."""
    found = {i["impl"]: i for i in (b.get("extra_info", {}) for b in data["benchmarks"]) if i.get("op") == "consume"}
    if not found:
        return []
    from benches.consume_bench import markdown

    lines = [markdown(found), ""]
    mine, theirs = found.get("rmqwire"), found.get("cpp")
    if mine is not None:
        cpu = mine["client_cpu_us"]
        lines.append(f"- client CPU per consumed message ≤ 30 µs: {cpu:.1f} µs, {'ok' if cpu <= 30 else 'MISS'}")
    if mine is not None and theirs is not None and mine.get("msgs_per_s") and theirs.get("msgs_per_s"):
        ok = mine["msgs_per_s"] >= theirs["msgs_per_s"]
        lines.append(f"- consume throughput ≥ the C++ push consumer's: {mine['msgs_per_s']:,.0f} vs "
                     f"{theirs['msgs_per_s']:,.0f} msgs/s, {'ok' if ok else 'MISS'}")
    load = mine.get("load_1m") if mine is not None else None
    if load is not None:
        lines.append(f"- load average (1 min) at the end of the run: {load:.1f} on {os.cpu_count() or '?'} cores")
    return lines + [""]


CLIENT_LEGEND = """\
Each row is one run of a few thousand 128 B messages (`benches/test_client_bench.py`): the broker, the rmqwire
driver (`benches/drive_rmqwire.py`) and the C++ driver (`benches/drive_cpp.py`, PyPI `rocketmq==0.4.4` in
`tests/interop/.venv`) are separate processes. *client CPU* is the driver's own `time.process_time` over the
measured span (every thread, so the C++ library's too), *broker CPU* the broker process's user + system time
from `/proc` over the same case (its 20 warm-up sends included); p50/p99 are per call (one send, one oneway,
one batch of 32). *async, N in flight* keeps N sends outstanding (rmqwire: N coroutines; C++: `send_async`
with a semaphore). *oneway* ends with one acknowledged send. The C++ client compresses the 9 KiB batch body,
which `rmqwire serve` rejects (see the skip reason), so that cell is empty there.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", type=Path)
    parser.add_argument("--markdown", type=Path, help="also write the table and the machine as Markdown")
    parser.add_argument("--png", type=Path, help="chart path (default: ratios.png next to the JSON)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    data = json.loads(args.json.read_text())
    rows_ = rows(data)
    cells = table(rows_)
    print(f"machine: {machine(data)}")
    print(render_text(cells))
    missed = [f"{r.label} {r.op}" for r in rows_ if r.ok is False]
    met = sum(r.ok is True for r in rows_)
    print(f"\ntargets: {met} met, {len(missed)} missed" + (f": {', '.join(missed)}" if missed else ""))
    e2e = end_to_end(data)
    if e2e:
        print("\n" + "\n".join(e2e))
    clients = client_tables(data)
    if clients:
        print("\n" + "\n".join(clients))
    consume = consume_table(data)
    if consume:
        print("\n" + "\n".join(consume))
    png = args.png or args.json.with_name("ratios.png")
    if chart(rows_, png):
        print(f"chart: {png}")
    else:
        print("chart: skipped (matplotlib is not installed; pip install -e '.[bench]')")
    if args.markdown:
        args.markdown.write_text(
            "# Benchmark results\n\n"
            f"Machine: {machine(data)}.\n\n"
            "Times are pytest-benchmark minimums in µs per operation (per frame for the stream rows); "
            "every ratio divides by the hand-written reference (`benches/reference.py`) measured in the same run.\n\n"
            + render_markdown(cells) + "\n\n"
            + ("\n".join(e2e) + "\n\n" if e2e else "")
            + ("## The client, broker in its own process\n\n" + "\n".join(clients) + "\n" + CLIENT_LEGEND + "\n"
               if clients else "")
            + ("## The push consumer, broker in its own process\n\n" + "\n".join(consume) + "\n" if consume else "")
            + f"Targets: {met} met, {len(missed)} missed{': ' + ', '.join(missed) if missed else ''}.\n\n"
            + LEGEND
        )
        print(f"markdown: {args.markdown}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
