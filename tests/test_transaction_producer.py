"""Transactional messages from ``AsyncTransactionProducer`` (and the blocking
``TransactionProducer``) through the embedded broker.

What a consumer would see is read from the broker's store: a committed
message is in its topic once, a rolled-back one never, an unknown one only
after the check-back says commit.  The frames are compared with the real
Java ``TransactionMQProducer``'s (golden ``java-broker-4.9.8-tx-order-ns``
seq 9, 11, 21): codes, header keys, properties, sysFlag, oneway flag.
The broker's check-back is scaled down (every 0.1-0.2 s, immunity 0.1 s).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from golden_support import golden_commands
from producer_support import eventually

from rmqwire import (
    AsyncTransactionProducer,
    LocalTransactionState,
    Message,
    TransactionProducer,
    TransactionSendResult,
)
from rmqwire.broker.processors.transaction import check_transaction_state_request
from rmqwire.codec import ConfigError, InvalidMessageError, RemotingCommand, RequestCode
from rmqwire.codec.message import decode_properties
from rmqwire.codec.store import MessageExt
from rmqwire.testing import LocalBroker

GOLDEN_TX = "java-broker-4.9.8-tx-order-ns.jsonl"
TOPIC = "TxTopic"
GROUP = "tx-group"
COMMIT, ROLLBACK, UNKNOW = (
    LocalTransactionState.COMMIT_MESSAGE,
    LocalTransactionState.ROLLBACK_MESSAGE,
    LocalTransactionState.UNKNOW,
)
FAST = {"transaction_check_interval": 0.1, "transaction_timeout": 0.1}
#: bound of every wait for something that must happen (generous: a shared machine may be slow)
WAIT = 10.0


def golden_cmd(seq: int) -> RemotingCommand:
    """The frame ``seq`` of the golden tx session, decoded."""
    for record, cmd in golden_commands(GOLDEN_TX):
        if record["seq"] == seq:
            return cmd
    raise AssertionError(f"no seq {seq} in {GOLDEN_TX}")


def run(body: Callable[[LocalBroker], Any], timeout: float = 60.0, **broker_kwargs: Any) -> None:
    async def main() -> None:
        async with LocalBroker(**broker_kwargs) as broker:
            await body(broker)

    asyncio.run(asyncio.wait_for(main(), timeout))


def states(*answers: LocalTransactionState) -> Callable[..., LocalTransactionState]:
    """A callback answering ``answers`` in turn (the last one from then on), recording its calls."""
    calls: list[Any] = []

    def answer(*args: Any) -> LocalTransactionState:
        calls.append(args)
        return answers[min(len(calls), len(answers)) - 1]

    answer.calls = calls  # type: ignore[attr-defined]
    return answer


def producer_for(broker: LocalBroker, execute: Any, check: Any, **kwargs: Any) -> AsyncTransactionProducer:
    return AsyncTransactionProducer(
        GROUP,
        namesrv_addr=broker.namesrv_addr,
        execute_local_transaction=execute,
        check_local_transaction=check,
        **kwargs,
    )


def requests(broker: LocalBroker, code: int) -> list[RemotingCommand]:
    return [cmd for role, _, cmd in broker.requests if role == "broker" and cmd.code == code]


async def ends(broker: LocalBroker, count: int) -> list[RemotingCommand]:
    """The END_TRANSACTION requests once ``count`` arrived (they are oneway)."""
    assert await eventually(lambda: len(requests(broker, RequestCode.END_TRANSACTION)) >= count, timeout=WAIT)
    return requests(broker, RequestCode.END_TRANSACTION)


def visible(broker: LocalBroker) -> list[str | None]:
    return [m.keys for m in broker.messages(TOPIC)]


# --------------------------------------------------------------------------- the local transaction decides


def test_a_committed_transaction_is_visible_once_and_its_frames_are_javas() -> None:
    async def body(broker: LocalBroker) -> None:
        execute = states(COMMIT)
        async with producer_for(broker, execute, states(COMMIT)) as producer:
            result = await producer.send_in_transaction(Message(TOPIC, b"tx body", tags="TagT", keys="tx-commit"), arg=42)
            assert isinstance(result, TransactionSendResult)
            assert result.local_transaction_state is COMMIT
            assert await eventually(lambda: visible(broker) == ["tx-commit"], timeout=WAIT)
            # the local transaction saw the message as sent, and the arg
            [(msg, arg)] = execute.calls  # type: ignore[attr-defined]
            assert arg == 42 and msg.keys == "tx-commit" and msg.body == b"tx body"
            assert msg.properties["TRAN_MSG"] == "true" and msg.properties["PGROUP"] == GROUP
            assert msg.properties["UNIQ_KEY"] == result.msg_id
            # the half message: SEND_MESSAGE_V2 like golden seq 9
            [send] = requests(broker, RequestCode.SEND_MESSAGE_V2)
            java_send = golden_cmd(9)
            assert set(send.ext_fields) == set(java_send.ext_fields)
            assert send.ext_fields["f"] == java_send.ext_fields["f"] == "4"  # sysFlag TRANSACTION_PREPARED
            props = decode_properties(send.ext_fields["i"])
            assert set(props) == set(decode_properties(java_send.ext_fields["i"]))
            assert (props["TRAN_MSG"], props["PGROUP"]) == ("true", GROUP)
            # END_TRANSACTION like golden seq 11: oneway, commit, the half message's offsets
            [end] = await ends(broker, 1)
            java_end = golden_cmd(11)
            assert end.is_oneway and end.flag == java_end.flag == 2
            assert set(end.ext_fields) == set(java_end.ext_fields)
            assert end.ext_fields["commitOrRollback"] == java_end.ext_fields["commitOrRollback"] == "8"
            assert end.ext_fields["fromTransactionCheck"] == "false"
            assert end.ext_fields["bname"] == result.message_queue.broker_name
            assert end.ext_fields["msgId"] == result.msg_id
            assert end.ext_fields["tranStateTableOffset"] == str(result.queue_offset)
            [half] = broker.messages("RMQ_SYS_TRANS_HALF_TOPIC")
            assert end.ext_fields["commitLogOffset"] == str(half.commitlog_offset)
            assert half.offset_msg_id == result.offset_msg_id
            # the broker never asks about it
            assert await broker.check_transactions() == []
        assert visible(broker) == ["tx-commit"]

    run(body, **FAST)


def test_a_rolled_back_transaction_is_never_visible() -> None:
    async def body(broker: LocalBroker) -> None:
        check = states(COMMIT)
        async with producer_for(broker, states(ROLLBACK), check) as producer:
            result = await producer.send_in_transaction(Message(TOPIC, b"x", keys="tx-rollback"))
            assert result.local_transaction_state is ROLLBACK
            assert await eventually(lambda: len(broker.messages("RMQ_SYS_TRANS_OP_HALF_TOPIC")) == 1, timeout=WAIT)
            [end] = await ends(broker, 1)
            assert end.ext_fields["commitOrRollback"] == golden_cmd(14).ext_fields["commitOrRollback"] == "12"
            await asyncio.sleep(0.5)  # several check rounds pass
            assert check.calls == []  # type: ignore[attr-defined]
        assert visible(broker) == []

    run(body, **FAST)


def test_unknown_then_the_check_back_says_commit_makes_it_visible() -> None:
    async def body(broker: LocalBroker) -> None:
        check = states(COMMIT)
        async with producer_for(broker, states(UNKNOW), check) as producer:
            result = await producer.send_in_transaction(Message(TOPIC, b"later", keys="tx-unknown"))
            assert result.local_transaction_state is UNKNOW
            [end] = await ends(broker, 1)
            assert end.ext_fields["commitOrRollback"] == golden_cmd(17).ext_fields["commitOrRollback"] == "0"
            assert visible(broker) == []
            assert await eventually(lambda: visible(broker) == ["tx-unknown"], timeout=WAIT)
            [(msg_ext,)] = check.calls  # type: ignore[attr-defined]
            assert isinstance(msg_ext, MessageExt)
            assert (msg_ext.topic, msg_ext.msg_id, msg_ext.keys, msg_ext.body) == (TOPIC, result.msg_id, "tx-unknown", b"later")
            assert msg_ext.properties["TRANSACTION_CHECK_TIMES"] == "1"
            assert msg_ext.queue_id == result.message_queue.queue_id
            # the answer: END_TRANSACTION from the check, like golden seq 21
            answer = (await ends(broker, 2))[1]
            java_answer = golden_cmd(21)
            assert answer.is_oneway and set(answer.ext_fields) == set(java_answer.ext_fields)
            assert (answer.ext_fields["fromTransactionCheck"], answer.ext_fields["commitOrRollback"]) == ("true", "8")
            assert answer.ext_fields["msgId"] == answer.ext_fields["transactionId"] == result.msg_id
            await asyncio.sleep(0.4)
            assert len(check.calls) == 1  # type: ignore[attr-defined]
        assert visible(broker) == ["tx-unknown"]

    run(body, **FAST)


def test_unknown_then_the_check_back_says_rollback_is_never_visible() -> None:
    async def body(broker: LocalBroker) -> None:
        check = states(ROLLBACK)
        async with producer_for(broker, states(UNKNOW), check) as producer:
            await producer.send_in_transaction(Message(TOPIC, b"no", keys="tx-no"))
            assert await eventually(lambda: len(check.calls) == 1, timeout=WAIT)  # type: ignore[attr-defined]
            assert await eventually(lambda: len(broker.messages("RMQ_SYS_TRANS_OP_HALF_TOPIC")) == 1, timeout=WAIT)
            await asyncio.sleep(0.4)
            assert len(check.calls) == 1  # type: ignore[attr-defined]
        assert visible(broker) == []

    run(body, **FAST)


@pytest.mark.parametrize("answer", ["unknown", "raises", "garbage"])
def test_a_checker_that_cannot_tell_is_asked_again_up_to_the_maximum(answer: str, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[MessageExt] = []

    def check(msg_ext: MessageExt) -> Any:
        calls.append(msg_ext)
        if answer == "raises":
            raise RuntimeError("database down")
        return UNKNOW if answer == "unknown" else "maybe"

    async def body(broker: LocalBroker) -> None:
        async with producer_for(broker, states(UNKNOW), check) as producer:
            await producer.send_in_transaction(Message(TOPIC, b"?", keys="tx-never"))
            assert await eventually(lambda: len(broker.messages("TRANS_CHECK_MAX_TIME_TOPIC")) == 1, timeout=WAIT)
            await asyncio.sleep(0.4)
        assert [c.properties["TRANSACTION_CHECK_TIMES"] for c in calls] == ["1", "2", "3"]
        answers = requests(broker, RequestCode.END_TRANSACTION)[1:]
        assert [a.ext_fields["commitOrRollback"] for a in answers] == ["0", "0", "0"]
        if answer == "raises":
            assert all((a.remark or "").startswith("checkLocalTransactionState Exception: RuntimeError") for a in answers)
            assert "database down" in caplog.text
        assert visible(broker) == []

    with caplog.at_level(logging.INFO, logger="rmqwire"):
        run(body, transaction_check_max=3, **FAST)


def test_a_local_transaction_that_raises_is_unknown_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    def execute(msg: Message, arg: Any) -> LocalTransactionState:
        raise ValueError("no stock")

    async def body(broker: LocalBroker) -> None:
        check = states(COMMIT)
        async with producer_for(broker, execute, check) as producer:
            result = await producer.send_in_transaction(Message(TOPIC, b"x", keys="tx-raise"))
            assert result.local_transaction_state is UNKNOW
            [end] = await ends(broker, 1)
            assert end.ext_fields["commitOrRollback"] == "0"
            assert end.remark == "executeLocalTransactionBranch exception: ValueError: no stock"
            # the broker asks; the checker commits
            assert await eventually(lambda: visible(broker) == ["tx-raise"], timeout=WAIT)
        assert "no stock" in caplog.text

    with caplog.at_level(logging.INFO, logger="rmqwire"):
        run(body, **FAST)


def test_async_callbacks_are_awaited() -> None:
    async def execute(msg: Message, arg: Any) -> LocalTransactionState:
        await asyncio.sleep(0)
        return UNKNOW

    checked = asyncio.Event()

    async def check(msg_ext: MessageExt) -> LocalTransactionState:
        await asyncio.sleep(0)
        checked.set()
        return COMMIT

    async def body(broker: LocalBroker) -> None:
        async with producer_for(broker, execute, check) as producer:
            result = await producer.send_in_transaction(Message(TOPIC, b"x", keys="tx-async"))
            assert result.local_transaction_state is UNKNOW
            await asyncio.wait_for(checked.wait(), WAIT)
            assert await eventually(lambda: visible(broker) == ["tx-async"], timeout=WAIT)

    run(body, **FAST)


def test_a_blocking_checker_does_not_block_the_event_loop() -> None:
    """The checker blocks its thread until the event loop has sent another
    message; were it run on the loop, that send could not happen and its
    bounded wait would give up."""
    entered, released = threading.Event(), threading.Event()
    outcome: list[bool] = []

    def check(msg_ext: MessageExt) -> LocalTransactionState:
        entered.set()
        outcome.append(released.wait(WAIT))
        return COMMIT

    async def body(broker: LocalBroker) -> None:
        async with producer_for(broker, states(UNKNOW), check) as producer:
            await producer.send_in_transaction(Message(TOPIC, b"x", keys="tx-blocking"))
            assert await eventually(entered.is_set, timeout=WAIT)
            await producer.send(Message(TOPIC, b"meanwhile", keys="plain"))
            released.set()
            assert await eventually(lambda: visible(broker) == ["plain", "tx-blocking"], timeout=WAIT)
        assert outcome == [True]

    run(body, **FAST)


# --------------------------------------------------------------------------- misuse


def test_a_transactional_message_cannot_have_a_delay_level() -> None:
    async def body(broker: LocalBroker) -> None:
        execute = states(COMMIT)
        async with producer_for(broker, execute, states(COMMIT)) as producer:
            with pytest.raises(InvalidMessageError, match="delay level"):
                await producer.send_in_transaction(Message(TOPIC, b"x", delay_level=3))
        assert execute.calls == [] and broker.messages() == []  # type: ignore[attr-defined]

    run(body)


def test_callbacks_must_be_callable() -> None:
    with pytest.raises(ConfigError, match="execute_local_transaction"):
        AsyncTransactionProducer(GROUP, namesrv_addr="127.0.0.1:9876", execute_local_transaction=None, check_local_transaction=states(COMMIT))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="check_local_transaction"):
        AsyncTransactionProducer(GROUP, namesrv_addr="127.0.0.1:9876", execute_local_transaction=states(COMMIT), check_local_transaction=42)  # type: ignore[arg-type]


def test_a_failed_half_send_raises_and_runs_no_local_transaction() -> None:
    async def body(broker: LocalBroker) -> None:
        execute = states(COMMIT)
        async with producer_for(broker, execute, states(COMMIT)) as producer:
            with pytest.raises(Exception) as caught:
                await producer.send_in_transaction(Message(TOPIC, b"x"))
            assert getattr(caught.value, "code", None) == 16
        assert execute.calls == []  # type: ignore[attr-defined]
        assert requests(broker, RequestCode.END_TRANSACTION) == []

    run(body, reject_transaction_message=True)


# --------------------------------------------------------------------------- the blocking facade


def test_the_blocking_transaction_producer() -> None:
    check = states(COMMIT)
    with LocalBroker.in_thread(**FAST) as broker:
        with TransactionProducer(
            GROUP,
            namesrv_addr=broker.namesrv_addr,
            execute_local_transaction=states(UNKNOW),
            check_local_transaction=check,
        ) as producer:
            result = producer.send_in_transaction(Message(TOPIC, b"sync", keys="tx-sync"), "arg")
            assert result.local_transaction_state is UNKNOW
            deadline = threading.Event()
            for _ in range(500):
                if visible(broker) == ["tx-sync"]:
                    break
                deadline.wait(0.01)
            assert visible(broker) == ["tx-sync"]
            assert len(check.calls) == 1  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- where the frames go


def test_each_transaction_is_ended_on_the_broker_that_stored_its_half_message() -> None:
    async def body(broker: LocalBroker) -> None:
        async with producer_for(broker, states(COMMIT), states(COMMIT)) as producer:
            results = [await producer.send_in_transaction(Message(TOPIC, b"x", keys=f"k{i}")) for i in range(6)]
            assert {r.message_queue.broker_name for r in results} == {"broker-a", "broker-b"}
            assert await eventually(lambda: len(broker.messages(TOPIC)) == 6, timeout=WAIT)
        ends = [(name, cmd) for role, name, cmd in broker.requests if cmd.code == RequestCode.END_TRANSACTION]
        by_id = {cmd.ext_fields["msgId"]: name for name, cmd in ends}
        assert by_id == {r.msg_id: r.message_queue.broker_name for r in results}
        for result in results:
            [stored] = [m for m in broker.messages(TOPIC) if m.uniq_key == result.msg_id]
            assert (stored.broker_name, stored.queue_id) == (result.message_queue.broker_name, result.message_queue.queue_id)

    run(body, broker_names=("broker-a", "broker-b"))


def test_a_check_back_is_answered_to_the_broker_that_asked() -> None:
    async def body(broker: LocalBroker) -> None:
        check = states(COMMIT)
        async with producer_for(broker, states(UNKNOW), check) as producer:
            results = [await producer.send_in_transaction(Message(TOPIC, b"x", keys=f"k{i}")) for i in range(8)]
            assert {r.message_queue.broker_name for r in results} == {"broker-a", "broker-b"}
            assert await eventually(lambda: len(broker.messages(TOPIC)) == 8, timeout=WAIT)
        answers = [
            (name, cmd) for role, name, cmd in broker.requests
            if cmd.code == RequestCode.END_TRANSACTION and cmd.ext_fields["fromTransactionCheck"] == "true"
        ]
        assert {cmd.ext_fields["msgId"]: name for name, cmd in answers} == {r.msg_id: r.message_queue.broker_name for r in results}

    run(body, broker_names=("broker-a", "broker-b"), **FAST)


@pytest.mark.parametrize("case", ["garbage body", "another group", "no header"])
def test_a_check_the_client_cannot_use_is_ignored(case: str) -> None:
    async def body(broker: LocalBroker) -> None:
        check = states(COMMIT)
        async with producer_for(broker, states(COMMIT), check) as producer:
            await producer.send_in_transaction(Message(TOPIC, b"x", keys="k"))
            await ends(broker, 1)
            [half] = broker.messages("RMQ_SYS_TRANS_HALF_TOPIC")
            request = check_transaction_state_request(half)
            if case == "garbage body":
                request = replace(request, body=b"\x00\x01garbage")
            elif case == "no header":
                request = replace(request, ext_fields={})
            else:
                props = dict(half.properties, PGROUP="someone-else")
                request = check_transaction_state_request(replace(half, properties=props))
            await broker.send_oneway_to_client(producer.client_id, request)
            # the producer goes on working, and answers nothing
            await producer.send(Message(TOPIC, b"after", keys="after"))
            await asyncio.sleep(0.2)
            assert check.calls == []  # type: ignore[attr-defined]
            assert len(requests(broker, RequestCode.END_TRANSACTION)) == 1

    run(body)


def test_shutdown_does_not_wait_for_a_checker_that_never_answers() -> None:
    entered = asyncio.Event()

    async def check(msg_ext: MessageExt) -> LocalTransactionState:
        entered.set()
        await asyncio.Event().wait()  # never
        return COMMIT

    async def body(broker: LocalBroker) -> None:
        producer = producer_for(broker, states(UNKNOW), check)
        await producer.start()
        await producer.send_in_transaction(Message(TOPIC, b"x", keys="tx-stuck"))
        await asyncio.wait_for(entered.wait(), WAIT)
        await asyncio.wait_for(producer.shutdown(), WAIT)
        assert visible(broker) == []

    run(body, **FAST)
