"""The embedded broker's transactions against the real Java client's frames.

Golden ``java-broker-4.9.8-tx-order-ns.jsonl`` (a 4.9.8 Java
``TransactionMQProducer`` and a 4.9.8 broker, part 1): three half messages
(SEND_MESSAGE_V2 with ``TRAN_MSG``/``PGROUP``, sysFlag PREPARED, seq 9, 12,
15), each followed by a oneway END_TRANSACTION (seq 11 commit, 14 rollback,
17 unknown); the broker's CHECK_TRANSACTION_STATE for the unknown one (seq
20) and the client's answer, END_TRANSACTION with ``fromTransactionCheck``
(seq 21).  The Java client's frames are replayed over a raw connection made
of the codec alone, with the commit-log offsets of our store put where the
Java broker's were; the broker's frames are compared with the Java
broker's, field by field.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from golden_support import golden_commands
from test_broker_push import RawClient, eventually, run

from rmqwire.broker import StoredMessage
from rmqwire.broker.processors.transaction import check_transaction_state_request
from rmqwire.broker.transaction import HALF_TOPIC, OP_TOPIC
from rmqwire.codec import LanguageCode, RemotingCommand, RequestCode, RequestTimeoutError, SerializeType
from rmqwire.codec.message import decode_properties, parse_offset_msg_id
from rmqwire.codec.store import MessageExt, decode_messages
from rmqwire.testing import LocalBroker

GOLDEN_TX = "java-broker-4.9.8-tx-order-ns.jsonl"
TOPIC = "GoldenTx13498"
GROUP = "GOLDEN_TX_PG"
#: bound of every wait for something that must happen (generous: a shared machine may be slow)
WAIT = 10.0


def golden_cmd(seq: int) -> RemotingCommand:
    """The frame ``seq`` of the golden tx session, decoded."""
    for record, cmd in golden_commands(GOLDEN_TX):
        if record["seq"] == seq:
            return cmd
    raise AssertionError(f"no seq {seq} in {GOLDEN_TX}")


def with_fields(cmd: RemotingCommand, **fields: str) -> RemotingCommand:
    return replace(cmd, ext_fields={**cmd.ext_fields, **fields})


def parse_record(data: bytes) -> MessageExt:
    [message] = decode_messages(data)
    return message


# --------------------------------------------------------------------------- the check request, byte for byte


def test_the_check_request_is_the_java_brokers_frame() -> None:
    """Golden seq 20: built from the half-message copy the Java broker wrote
    (its fields read back from the body, properties in the Java broker's
    order, WAIT=true as stored), the header says the same and the body is
    the same bytes."""
    java = golden_cmd(20)
    record = parse_record(java.body)
    stored_props = dict(record.properties)
    stored_props["WAIT"] = "true"
    copy = StoredMessage(
        topic=HALF_TOPIC, queue_id=0, queue_offset=record.queue_offset, commitlog_offset=record.commit_log_offset,
        offset_msg_id=record.offset_msg_id, body=record.body, payload=record.body, properties=stored_props,
        sys_flag=record.sys_flag, flag=record.flag, born_timestamp=record.born_timestamp, producer_group=GROUP,
        uniq_key=record.properties["UNIQ_KEY"], tags="TagT", keys="tx-unknown", delay_level=0, broker_name="broker-a",
        request_code=310, serialize_type=SerializeType.JSON, language=LanguageCode.JAVA, born_host=record.born_host,
        store_timestamp=record.store_timestamp, store_host=record.store_host,
    )
    ours = check_transaction_state_request(copy)
    # (the version is the embedded broker's own: SERVER_VERSION)
    assert (ours.code, ours.flag, ours.language, ours.remark) == (java.code, java.flag, java.language, java.remark)
    assert ours.ext_fields == java.ext_fields
    assert ours.body == java.body


# --------------------------------------------------------------------------- the session, replayed


async def replay_sends(broker: LocalBroker, client: RawClient) -> list[RemotingCommand]:
    """Heartbeat as GOLDEN_TX_PG (seq 18), then the three half messages, born now."""
    assert (await client.call(golden_cmd(18))).code == 0
    answers = []
    for seq in (9, 12, 15):
        send = with_fields(golden_cmd(seq), g=str(int(time.time() * 1000)))
        answers.append(await client.call(send))
    return answers


def oneway(client: RawClient, cmd: RemotingCommand) -> None:
    assert cmd.is_oneway
    client.writer.write(client.session.send_request(cmd, now=0, timeout=0)[1])


def end_like_java(client: RawClient, seq: int, send_answer: RemotingCommand) -> None:
    """The Java client's END_TRANSACTION of ``seq``, naming our half message."""
    _, _, offset = parse_offset_msg_id(send_answer.ext_fields["msgId"])
    oneway(client, with_fields(golden_cmd(seq), commitLogOffset=str(offset)))


def test_half_messages_are_answered_as_the_java_broker_answers_them() -> None:
    """Seq 10/13/16: the queue the producer chose, the half queue's offset
    (0, 1, 2) and the half message's offset id; nothing in the real topic."""

    async def main() -> None:
        async with LocalBroker() as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            answers = await replay_sends(broker, client)
            for seq, answer, java_seq in zip((9, 12, 15), answers, (10, 13, 16)):
                java = golden_cmd(java_seq)
                assert answer.code == java.code == 0
                assert set(answer.ext_fields) == set(java.ext_fields)
                assert answer.ext_fields["queueId"] == golden_cmd(seq).ext_fields["e"] == java.ext_fields["queueId"]
                assert answer.ext_fields["queueOffset"] == java.ext_fields["queueOffset"]
            halves = broker.messages(HALF_TOPIC)
            assert [m.keys for m in halves] == ["tx-commit", "tx-rollback", "tx-unknown"]
            assert [m.offset_msg_id for m in halves] == [a.ext_fields["msgId"] for a in answers]
            for half, seq in zip(halves, (9, 12, 15)):
                sent = decode_properties(golden_cmd(seq).ext_fields["i"])
                assert half.properties == {
                    **sent, "CLUSTER": "DefaultCluster", "REAL_TOPIC": TOPIC, "REAL_QID": golden_cmd(seq).ext_fields["e"]
                }
                assert half.sys_flag == 0 and golden_cmd(seq).ext_fields["f"] == "4"
            assert broker.messages(TOPIC) == []
            await client.close()

    run(main(), 60)


def test_the_java_clients_transactions_end_as_on_the_java_broker() -> None:
    """Commit visible once, rollback never, unknown after the check-back
    says commit; the check and the committed records match the Java broker's."""

    async def main() -> None:
        async with LocalBroker(transaction_timeout=0) as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            answers = await replay_sends(broker, client)
            for seq, answer in zip((11, 14, 17), answers):
                end_like_java(client, seq, answer)
            assert await eventually(lambda: len(broker.messages(OP_TOPIC)) == 2, within=WAIT)
            [committed] = broker.messages(TOPIC)
            half = broker.messages(HALF_TOPIC)[0]
            java = parse_record(golden_cmd(253).body)  # what the Java consumer pulled
            assert committed.keys == "tx-commit" and committed.queue_id == java.queue_id == 2
            assert committed.sys_flag == java.sys_flag == 8
            assert committed.prepared_transaction_offset == half.commitlog_offset
            assert set(committed.properties) == set(java.properties)
            assert committed.properties["TRAN_MSG"] == "true" and committed.properties["REAL_TOPIC"] == TOPIC

            # the check-back round: only tx-unknown is asked about
            checked: list[StoredMessage] = []
            for _ in range(1000):
                checked = await broker.check_transactions()
                if checked:
                    break
                await asyncio.sleep(0.01)
            assert [c.keys for c in checked] == ["tx-unknown"]
            check = await client.next_push(WAIT)
            java_check = golden_cmd(20)
            assert (check.code, check.flag, check.language) == (39, java_check.flag, java_check.language) == (39, 2, LanguageCode.JAVA)
            assert check.is_oneway and not check.is_response
            assert set(check.ext_fields) == set(java_check.ext_fields)
            copy = checked[0]
            assert check.ext_fields["tranStateTableOffset"] == str(copy.queue_offset) == java_check.ext_fields["tranStateTableOffset"]
            assert check.ext_fields["commitLogOffset"] == str(copy.commitlog_offset)
            assert check.ext_fields["offsetMsgId"] == copy.offset_msg_id
            assert check.ext_fields["msgId"] == check.ext_fields["transactionId"] == java_check.ext_fields["msgId"]
            ours, theirs = parse_record(check.body), parse_record(java_check.body)
            for name in ("topic", "queue_id", "queue_offset", "sys_flag", "flag", "body", "reconsume_times", "prepared_transaction_offset", "body_crc"):
                assert getattr(ours, name) == getattr(theirs, name), name
            assert ours.commit_log_offset == copy.commitlog_offset
            assert ours.properties == theirs.properties

            # the Java client's answer (seq 21): commit
            answer = golden_cmd(21)
            assert answer.is_oneway and answer.ext_fields["fromTransactionCheck"] == "true"
            oneway(client, with_fields(answer, commitLogOffset=check.ext_fields["commitLogOffset"]))
            assert await eventually(lambda: len(broker.messages(TOPIC)) == 2, within=WAIT)
            later = broker.messages(TOPIC)[1]
            java_later = parse_record(golden_cmd(254).body)
            assert later.keys == "tx-unknown" and later.sys_flag == java_later.sys_flag == 8
            assert set(later.properties) == set(java_later.properties)
            assert later.properties["TRANSACTION_CHECK_TIMES"] == "1"
            assert later.prepared_transaction_offset == copy.commitlog_offset

            # nothing is left to check, ever
            assert await broker.check_transactions() == []
            assert await client.no_push(0.2)
            assert [m.keys for m in broker.messages(TOPIC)] == ["tx-commit", "tx-unknown"]
            await client.close()

    run(main(), 60)


def test_a_pull_reads_what_the_java_consumer_pulled() -> None:
    """The Java consumer's PULL_MESSAGE (seq 252 / 249 for queues 0 / 2, here
    without the suspend flag and with the subscription, as no consumer
    heartbeated) after the three transactions ended as in the session: queue
    2 has tx-commit and queue 0 tx-unknown, each once, as the Java broker
    answered them (seq 253, 254); queue 3 (tx-rollback's) has nothing."""

    async def main() -> None:
        async with LocalBroker(transaction_timeout=0) as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            answers = await replay_sends(broker, client)
            for seq, answer in zip((11, 14, 17), answers):
                end_like_java(client, seq, answer)
            assert await eventually(lambda: len(broker.messages(OP_TOPIC)) == 2, within=WAIT)
            for _ in range(1000):
                if await broker.check_transactions():
                    break
                await asyncio.sleep(0.01)
            check = await client.next_push(WAIT)
            oneway(client, with_fields(golden_cmd(21), commitLogOffset=check.ext_fields["commitLogOffset"]))
            assert await eventually(lambda: len(broker.messages(TOPIC)) == 2, within=WAIT)

            def pull(queue_id: int) -> RemotingCommand:
                return with_fields(golden_cmd(252), queueId=str(queue_id), sysFlag="4", subscription="*")

            found = {}
            for queue_id in range(4):
                answer = await client.call(pull(queue_id))
                if queue_id in (0, 2):
                    assert answer.code == 0, (queue_id, answer.remark)
                    [found[queue_id]] = decode_messages(answer.body)
                else:
                    assert answer.code != 0 and not answer.body, queue_id
            for queue_id, java_seq in ((2, 253), (0, 254)):
                ours, java = found[queue_id], parse_record(golden_cmd(java_seq).body)
                for name in ("topic", "queue_id", "queue_offset", "sys_flag", "flag", "body", "reconsume_times", "body_crc"):
                    assert getattr(ours, name) == getattr(java, name), (queue_id, name)
                assert set(ours.properties) == set(java.properties)
                [stored] = [m for m in broker.messages(TOPIC) if m.keys == ours.keys]
                assert ours.prepared_transaction_offset == stored.prepared_transaction_offset
                assert ours.commit_log_offset == stored.commitlog_offset
            assert [found[2].keys, found[0].keys] == ["tx-commit", "tx-unknown"]
            await client.close()

    run(main(), 60)


def test_the_check_back_runs_by_itself_on_its_schedule() -> None:
    """Scaled down: every 50 ms, immunity 100 ms; an unended transaction is
    checked again and again (TRANSACTION_CHECK_TIMES counting), at most
    ``transaction_check_max`` times."""

    async def main() -> None:
        async with LocalBroker(transaction_check_interval=0.05, transaction_timeout=0.1, transaction_check_max=3) as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            assert (await client.call(golden_cmd(18))).code == 0
            await client.call(with_fields(golden_cmd(15), g=str(int(time.time() * 1000))))
            counts = []
            for _ in range(3):
                check = await client.next_push(WAIT)
                counts.append(parse_record(check.body).properties["TRANSACTION_CHECK_TIMES"])
            assert counts == ["1", "2", "3"]
            assert await client.no_push(0.4)
            assert broker.messages(TOPIC) == []
            assert [m.keys for m in broker.messages("TRANS_CHECK_MAX_TIME_TOPIC")] == ["tx-unknown"]
            await client.close()

    run(main(), 60)


# --------------------------------------------------------------------------- EndTransactionProcessor's checks


async def half_and_offsets(client: RawClient, seq: int = 9) -> tuple[RemotingCommand, int]:
    assert (await client.call(golden_cmd(18))).code == 0
    answer = await client.call(with_fields(golden_cmd(seq), g=str(int(time.time() * 1000))))
    return answer, parse_offset_msg_id(answer.ext_fields["msgId"])[2]


def two_way(cmd: RemotingCommand) -> RemotingCommand:
    """The same request, expecting an answer (Java's processor answers
    every END_TRANSACTION; the oneway flag only makes the remoting layer drop it)."""
    return replace(cmd, flag=0)


@pytest.mark.parametrize(
    ("fields", "remark"),
    [
        ({"producerGroup": "OTHER_PG"}, "The producer group wrong"),
        ({"tranStateTableOffset": "7"}, "The transaction state table offset wrong"),
        ({"commitLogOffset": "999999"}, "Find prepared transaction message failed"),
        ({"commitOrRollback": "3"}, "commitOrRollback field wrong"),
    ],
)
def test_an_end_that_does_not_match_its_half_message_is_refused(fields: dict[str, str], remark: str) -> None:
    async def main() -> None:
        async with LocalBroker() as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            _, offset = await half_and_offsets(client)
            end = with_fields(golden_cmd(11), commitLogOffset=str(offset))
            answer = await client.call(two_way(with_fields(end, **fields)))
            assert (answer.code, answer.remark) == (1, remark)
            assert broker.messages(TOPIC) == [] and broker.messages(OP_TOPIC) == []
            # the right one still commits
            assert (await client.call(two_way(end))).code == 0
            assert [m.keys for m in broker.messages(TOPIC)] == ["tx-commit"]
            await client.close()

    run(main(), 60)


def test_an_end_without_a_required_field_is_a_system_error() -> None:
    async def main() -> None:
        async with LocalBroker() as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            end = golden_cmd(11)
            fields = {k: v for k, v in end.ext_fields.items() if k != "commitLogOffset"}
            answer = await client.call(two_way(replace(end, ext_fields=fields)))
            assert answer.code == 1 and "commitLogOffset" in (answer.remark or "")
            await client.close()

    run(main(), 60)


def test_an_unknown_state_is_not_answered_and_changes_nothing() -> None:
    """EndTransactionProcessor returns null for TRANSACTION_NOT_TYPE."""

    async def main() -> None:
        async with LocalBroker() as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            _, offset = await half_and_offsets(client, 15)
            end = with_fields(golden_cmd(17), commitLogOffset=str(offset))
            with pytest.raises((asyncio.TimeoutError, RequestTimeoutError)):
                await client.call(two_way(end), timeout=0.3)
            assert broker.messages(TOPIC) == [] and broker.messages(OP_TOPIC) == []
            await client.close()

    run(main(), 60)


def test_a_broker_rejecting_transaction_messages_refuses_half_messages() -> None:
    async def main() -> None:
        async with LocalBroker(reject_transaction_message=True) as broker:
            client = await RawClient.connect(broker.broker_addrs["broker-a"])
            answer = await client.call(golden_cmd(9))
            assert answer.code == 16
            assert answer.remark == "the broker[127.0.0.1] sending transaction message is forbidden"
            assert broker.messages() == []
            await client.close()

    run(main(), 60)


def test_without_a_producer_connection_the_check_waits_for_one() -> None:
    """No connection of the group: nothing is sent (Java logs it); a later
    round asks the producer that connected since."""

    async def main() -> None:
        async with LocalBroker(transaction_timeout=0) as broker:
            sender = await RawClient.connect(broker.broker_addrs["broker-a"])
            await sender.call(with_fields(golden_cmd(15), g=str(int(time.time() * 1000))))
            await sender.close()
            for _ in range(1000):
                if await broker.check_transactions():
                    break
                await asyncio.sleep(0.01)
            producer = await RawClient.connect(broker.broker_addrs["broker-a"])
            assert (await producer.call(golden_cmd(18))).code == 0
            for _ in range(1000):
                if await broker.check_transactions():
                    break
                await asyncio.sleep(0.01)
            check = await producer.next_push(WAIT)
            assert check.code == RequestCode.CHECK_TRANSACTION_STATE
            assert parse_record(check.body).properties["TRANSACTION_CHECK_TIMES"] == "2"
            await producer.close()

    run(main(), 60)
