"""Transactions seen by a consumer that is running all along (issue 12's
evidence; golden ``java-broker-4.9.8-tx-order-ns`` part 4: a plain push
consumer on the topic gets ``tx-commit`` and ``tx-unknown``, never
``tx-rollback``).

Needs the push consumer (``rmqwire.consumer``); skips without it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("rmqwire.consumer.push", reason="the push consumer (rmqwire.consumer) is not in this tree")

from rmqwire import (  # noqa: E402
    AsyncPushConsumer,
    AsyncTransactionProducer,
    ConsumeFromWhere,
    ConsumeStatus,
    LocalTransactionState,
    Message,
    MessageExt,
)
from rmqwire.testing import LocalBroker  # noqa: E402

TOPIC = "GoldenTx13498"
WAIT = 15.0


async def until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)


def test_a_running_consumer_gets_committed_once_rolled_back_never_unknown_after_the_check() -> None:
    events: list[str] = []
    consumed: list[MessageExt] = []

    async def listener(msgs: list[MessageExt]) -> ConsumeStatus:
        for msg in msgs:
            consumed.append(msg)
            events.append(f"consumed {msg.keys}")
        return ConsumeStatus.CONSUME_SUCCESS

    decisions = {
        "tx-commit": LocalTransactionState.COMMIT_MESSAGE,
        "tx-rollback": LocalTransactionState.ROLLBACK_MESSAGE,
        "tx-unknown": LocalTransactionState.UNKNOW,
    }

    def execute(msg: Message, arg: Any) -> LocalTransactionState:
        return decisions[str(msg.keys)]

    def check(msg_ext: MessageExt) -> LocalTransactionState:
        events.append(f"checked {msg_ext.keys}")
        return LocalTransactionState.COMMIT_MESSAGE

    async def main() -> None:
        async with LocalBroker(topics=[TOPIC], transaction_check_interval=0.2, transaction_timeout=0.1) as broker:
            consumer = AsyncPushConsumer(
                "GOLDEN_TX_CG",
                namesrv_addr=broker.namesrv_addr,
                consume_from_where=ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
            )
            consumer.subscribe(TOPIC, "*")
            consumer.register_listener(listener)
            async with consumer:
                async with AsyncTransactionProducer(
                    "GOLDEN_TX_PG",
                    namesrv_addr=broker.namesrv_addr,
                    execute_local_transaction=execute,
                    check_local_transaction=check,
                ) as producer:
                    for key in decisions:
                        await producer.send_in_transaction(Message(TOPIC, f"tx body {key}", tags="TagT", keys=key))
                    await until(lambda: len(consumed) >= 2)
                    # several more check rounds: nothing else arrives
                    await asyncio.sleep(1.0)
            assert sorted(str(m.keys) for m in consumed) == ["tx-commit", "tx-unknown"]
            assert events.index("checked tx-unknown") < events.index("consumed tx-unknown")
            assert events.count("checked tx-unknown") == 1
            assert "checked tx-commit" not in events and "checked tx-rollback" not in events
            for msg in consumed:
                assert msg.topic == TOPIC and msg.body == f"tx body {msg.keys}".encode() and msg.tags == "TagT"
                assert msg.sys_flag & 0xC == 0x8  # TRANSACTION_COMMIT_TYPE, as the Java broker stores it

    asyncio.run(asyncio.wait_for(main(), 60))
