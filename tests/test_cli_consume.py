"""``rmqwire consume``: messages printed as they arrive, a summary at the end."""

from __future__ import annotations

import io
import re
import threading
import time

from rmqwire import Message, Producer
from rmqwire.cli import main
from rmqwire.cli_consume import ConsumeStats, format_body
from rmqwire.testing import LocalBroker


def consume(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["consume", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def send(broker: LocalBroker, messages: list[Message]) -> None:
    with Producer("pg", namesrv_addr=broker.namesrv_addr) as producer:
        for m in messages:
            producer.send(m)


def test_from_the_beginning_with_a_count_prints_each_message_and_a_summary() -> None:
    with LocalBroker.in_thread(topics=["T"]) as broker:
        send(broker, [Message("T", f"hello {i}".encode(), tags="A", keys=f"k{i}", properties={"n": str(i)})
                      for i in range(5)])
        code, out, err = consume("--namesrv", broker.namesrv_addr, "--topic", "T", "--group", "cli-g",
                                 "--from-beginning", "--count", "5")
        assert code == 0, err
        lines = out.splitlines()
        assert len(lines) == 6
        for n, line in enumerate(lines[:5], 1):
            assert line.startswith(f"#{n} T queue=broker-a:")
            assert "tags=A" in line and re.search(r"keys=k\d", line) and re.search(r"n=\d", line)
        assert sorted(re.search(r"body='(.*)'$", line).group(1) for line in lines[:5]) == [  # type: ignore[union-attr]
            f"hello {i}" for i in range(5)
        ]
        assert re.fullmatch(r"5 messages consumed in [\d.]+ s: \d+ msgs/s, from \d queues?", lines[5])
        # the group committed what it printed: a second run has nothing left
        code, out, _ = consume("--namesrv", broker.namesrv_addr, "--topic", "T", "--group", "cli-g",
                               "--from-beginning", "--idle-timeout", "0.5")
        assert code == 0 and out.splitlines() == [out.splitlines()[-1]] and out.startswith("0 messages consumed")


def test_the_expression_filters_by_tag_and_the_idle_timeout_ends_it() -> None:
    with LocalBroker.in_thread(topics=["T"]) as broker:
        send(broker, [Message("T", b"a", tags="A"), Message("T", b"b", tags="B"), Message("T", b"\xff\x00", tags="A")])
        code, out, err = consume("--namesrv", broker.namesrv_addr, "--topic", "T", "--expression", "A",
                                 "--from-beginning", "--idle-timeout", "1")
        assert code == 0, err
        bodies = sorted(line.rsplit("body=", 1)[1] for line in out.splitlines()[:-1])
        assert bodies == ["'a'", "hex:ff00"]
        assert out.splitlines()[-1].startswith("2 messages consumed")


def test_messages_sent_while_it_runs_are_printed() -> None:
    with LocalBroker.in_thread(topics=["T"]) as broker:
        result: list[tuple[int, str, str]] = []
        runner = threading.Thread(target=lambda: result.append(
            consume("--namesrv", broker.namesrv_addr, "--topic", "T", "--count", "3")))
        runner.start()
        deadline = time.monotonic() + 10
        while not broker.consumer_ids("rmqwire-cli") and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the rebalance has handed out the queues
        send(broker, [Message("T", f"live {i}".encode()) for i in range(3)])
        runner.join(20)
        assert not runner.is_alive()
        code, out, err = result[0]
        assert code == 0, err
        assert out.count("body='live") == 3


def test_usage_errors() -> None:
    code, _, err = consume("--topic", "T", "--namesrv", "")
    assert code == 2 and "no name server" in err
    code, _, err = consume("--namesrv", "127.0.0.1:1")
    assert code == 2 and "--topic" in err
    code, out, _ = consume("--help")
    assert code == 0 and "--from-beginning" in out and "--count" in out


def test_summary_and_body_formatting() -> None:
    stats = ConsumeStats(started=0.0)
    assert stats.summary(now=1.5) == "0 messages consumed in 1.50 s"
    assert format_body(b"plain") == "'plain'" and format_body(b"tab\there") == "hex:" + b"tab\there".hex()
    assert format_body("中文".encode()) == "'中文'"


def test_summary_rate_counts_the_intervals_between_arrivals() -> None:
    from types import SimpleNamespace
    from typing import Any

    msg: Any = SimpleNamespace(topic="T", broker_name="b", queue_id=0)  # all the stats read
    one = ConsumeStats(started=0.0)
    one.add(msg, now=0.2)
    assert one.summary(now=0.4) == "1 message consumed in 0.40 s: from 1 queue"  # no rate from one message
    three = ConsumeStats(started=0.0)
    for t in (0.0, 0.12, 0.24):  # 3 arrivals, 2 intervals of 0.12 s
        three.add(msg, now=t)
    assert three.summary(now=0.24) == "3 messages consumed in 0.24 s: 8 msgs/s, from 1 queue"
    same_instant = ConsumeStats(started=0.0)
    same_instant.add(msg, now=0.1)
    same_instant.add(msg, now=0.1)
    assert same_instant.summary(now=0.1) == "2 messages consumed in 0.10 s: from 1 queue"
