"""The embedded broker answers the real Java consumer's session as the real
4.9.8 broker did.

``golden/java-broker-4.9.8.jsonl`` is a real 4.9.8 Java client talking to a
real 4.9.8 broker through a recording proxy (producer, push consumer with a
retry, pull consumer; see its README).  Every broker-bound request of it is
replayed, on as many connections and in the same order, against LocalBroker
(delays scaled down); for each one the real broker answered, ours has the
same code, the same ext-field keys (values are the broker's own: offsets,
message ids, timestamps) and a body of the same format: route-free here,
so the consumer list and pull bodies, whose records must decode to the
same messages.  Where the real broker held a pull (no answer before the
consumer left), ours holds it too.  The two send-backs name commit-log
offsets of the real broker's store; they are translated to ours through the
message's ``UNIQ_KEY``, read from the real pull bodies.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from broker_consumer_support import run
from golden_support import shared_golden_file

from rmqwire.codec import RemotingCommand, RequestCode, ResponseCode, decode, decode_messages, encode
from rmqwire.codec.body import GetConsumerListByGroupResponseBody, LockBatchResponseBody
from rmqwire.codec.stream import FrameDecoder
from rmqwire.testing import LocalBroker

GOLDEN = shared_golden_file("java-broker-4.9.8.jsonl")
# Java's send path stores CLUSTER and drops WAIT; LocalBroker keeps what was sent (documented).
_STORE_DIFFERENCES = {"CLUSTER", "WAIT"}


def golden() -> list[dict[str, Any]]:
    if not GOLDEN.is_file():
        pytest.skip(f"golden capture not available at {GOLDEN}")
    return [json.loads(line) for line in GOLDEN.read_text().splitlines() if line.strip()]


class Conn:
    """A raw connection replaying one recorded client connection's frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.responses: dict[int, RemotingCommand] = {}
        self.pushed: list[RemotingCommand] = []
        self.arrived = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while data := await self.reader.read(1 << 16):
            for cmd in self.decoder.feed(data):
                if cmd.is_response:
                    self.responses[cmd.opaque] = cmd
                else:
                    self.pushed.append(cmd)
            self.arrived.set()

    async def response(self, opaque: int, timeout: float = 5.0) -> RemotingCommand:
        async def wait() -> RemotingCommand:
            while opaque not in self.responses:
                self.arrived.clear()
                await self.arrived.wait()
            return self.responses[opaque]

        return await asyncio.wait_for(wait(), timeout)


def message_shape(m: Any) -> tuple[Any, ...]:
    props = {k: v for k, v in m.properties.items() if k not in _STORE_DIFFERENCES}
    if "ORIGIN_MESSAGE_ID" in props:  # an offset message id: the broker's own store host and offset
        assert len(props["ORIGIN_MESSAGE_ID"]) == 32
        props["ORIGIN_MESSAGE_ID"] = "<offset msg id>"
    return (m.topic, m.queue_id, m.queue_offset, m.body, m.reconsume_times, m.sys_flag & ~0x30, props)


@dataclass
class Replay:
    """What a replay left: our connections by recorded connection, the
    requests the real broker never answered (held), answers checked by code."""

    conns: dict[int, Conn] = field(default_factory=dict)
    held: list[tuple[Conn, int, str]] = field(default_factory=list)
    checked: dict[int, int] = field(default_factory=dict)
    raced: list[str] = field(default_factory=list)


async def replay(broker: LocalBroker, frames: list[dict[str, Any]]) -> Replay:
    """Replay the client frames of ``frames`` (one broker's, in seq order)
    against ``broker`` and check each answer where the real one came: same
    code, flag, serialize type, remark, ext-field keys, body presence; pull
    bodies decode to the same messages; consumer lists and offsets equal."""
    replies: dict[tuple[int, int], RemotingCommand] = {}
    for f in frames:
        cmd = decode(bytes.fromhex(f["frame_hex"]))
        if f["direction"] == "server->client" and cmd.is_response:
            replies[(f["conn"], cmd.opaque)] = cmd
    # the real store's commit-log offset -> UNIQ_KEY, from the real pull bodies
    uniq_at = {
        m.commit_log_offset: m.properties["UNIQ_KEY"]
        for reply in replies.values()
        if reply.body and reply.remark == "FOUND"
        for m in decode_messages(reply.body)
    }
    host, port = broker.broker_addrs["broker-a"].rsplit(":", 1)
    done = Replay()
    conns, held, checked = done.conns, done.held, done.checked
    sent: dict[tuple[int, int], tuple[RemotingCommand, str]] = {}
    for frame in frames:
        conn = conns.get(frame["conn"])
        if conn is None:
            conn = conns[frame["conn"]] = Conn(*await asyncio.open_connection(host, int(port)))
        cmd = decode(bytes.fromhex(frame["frame_hex"]))
        if frame["direction"] == "client->server":
            where = f"seq {frame['seq']} (code {cmd.code})"
            sent[(frame["conn"], cmd.opaque)] = (cmd, where)
            if cmd.code == RequestCode.CONSUMER_SEND_MSG_BACK:
                uniq = uniq_at[int(cmd.ext_fields["offset"])]
                (mine,) = [m for m in broker.messages() if m.uniq_key == uniq and not m.topic.startswith("%")]
                fields = {**cmd.ext_fields, "offset": str(mine.commitlog_offset)}
                conn.writer.write(encode(replace(cmd, ext_fields=fields)))
            else:
                conn.writer.write(bytes.fromhex(frame["frame_hex"]))
            if (frame["conn"], cmd.opaque) not in replies and not cmd.is_oneway:
                held.append((conn, cmd.opaque, where))
            continue
        if not cmd.is_response:
            continue  # the broker's own NOTIFY: the caller checks it
        request, where = sent[(frame["conn"], cmd.opaque)]
        theirs = cmd
        if theirs.code == ResponseCode.SUBSCRIPTION_NOT_LATEST:
            # A Java broker runs heartbeats and pulls on different threads: this pull
            # overtook the heartbeat that announced its subscription version.  Ours
            # handles a connection's requests in order: the same answer when the pull
            # came first on the wire too, else (the race) a pull after the heartbeat.
            try:
                ours = await conn.response(cmd.opaque, timeout=0.5)
            except asyncio.TimeoutError:
                ours = None
            if ours is None or ours.code != theirs.code:
                done.raced.append(where)
                continue
        else:
            ours = await conn.response(cmd.opaque, timeout=10.0)
        assert (ours.code, ours.flag, ours.serialize_type) == (theirs.code, theirs.flag, theirs.serialize_type), where
        assert set(ours.ext_fields) == set(theirs.ext_fields), where
        assert ours.remark == theirs.remark, where
        assert bool(ours.body) == bool(theirs.body), where
        if request.code == RequestCode.PULL_MESSAGE and theirs.body:
            mine_msgs, real = decode_messages(ours.body), decode_messages(theirs.body)
            assert [message_shape(m) for m in mine_msgs] == [message_shape(m) for m in real], where
            for key in ("nextBeginOffset", "minOffset", "maxOffset", "suggestWhichBrokerId"):
                assert ours.ext_fields[key] == theirs.ext_fields[key], (where, key)
        elif request.code == RequestCode.GET_CONSUMER_LIST_BY_GROUP:
            ids = GetConsumerListByGroupResponseBody.from_json(ours.body).consumer_id_list
            assert ids == GetConsumerListByGroupResponseBody.from_json(theirs.body).consumer_id_list, where
        elif request.code in (RequestCode.QUERY_CONSUMER_OFFSET, RequestCode.GET_MIN_OFFSET, RequestCode.GET_MAX_OFFSET):
            assert ours.ext_fields == theirs.ext_fields, where
        elif request.code == RequestCode.LOCK_BATCH_MQ:
            assert set(LockBatchResponseBody.from_json(ours.body).lock_ok_mq_set) == set(
                LockBatchResponseBody.from_json(theirs.body).lock_ok_mq_set
            ), where
        checked[request.code] = checked.get(request.code, 0) + 1
    return done


async def close_all(broker: LocalBroker, done: Replay) -> None:
    for conn in done.conns.values():
        conn.writer.close()
    await asyncio.wait_for(asyncio.gather(*(c.task for c in done.conns.values()), return_exceptions=True), 5)
    assert await _eventually(lambda: broker.held_pulls() == 0)


def test_every_consumer_request_of_the_real_session_gets_the_real_brokers_shape_of_answer() -> None:
    frames = sorted((f for f in golden() if f["port_role"] == "broker"), key=lambda f: f["seq"])

    async def main() -> None:
        async with LocalBroker(delay_scale=0.001) as broker:
            done = await replay(broker, frames)
            conns, held, checked = done.conns, done.held, done.checked
            # every pull the real broker held is held here too
            await asyncio.sleep(0.3)
            for conn, opaque, where in held:
                assert opaque not in conn.responses, f"{where} was answered; the real broker held it"
            assert len(held) == 5 and broker.held_pulls() == 5
            # the broker's own push: NOTIFY_CONSUMER_IDS_CHANGED to the push consumer, oneway
            [notify] = conns[8].pushed
            assert (notify.code, notify.flag, notify.ext_fields) == (40, 2, {"consumerGroup": "GOLDEN_JAVA_CG"})
            assert broker.consumer_offsets("GOLDEN_JAVA_CG", "GoldenJava6027") == {0: 3, 1: 3, 2: 1, 3: 2}
            assert broker.consumer_offset("GOLDEN_JAVA_CG", "%RETRY%GOLDEN_JAVA_CG", 0) == 2
            assert checked == {310: 9, 35: 10, 34: 3, 38: 4, 14: 5, 11: 10, 36: 2, 31: 4, 30: 4}
            await close_all(broker, done)

    run(main(), timeout=60)


async def _eventually(predicate: Any, timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


GOLDEN_ORDER = shared_golden_file("java-broker-4.9.8-tx-order-ns.jsonl")


def test_the_orderly_consumers_locks_are_granted_as_the_real_broker_granted_them() -> None:
    """LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) of the real orderly consumer
    (``java-broker-4.9.8-tx-order-ns.jsonl`` seq 69-121), replayed alone:
    the same codes, empty headers, the same queues locked (Java's HashSet
    order aside), an empty unlock answer."""
    if not GOLDEN_ORDER.is_file():
        pytest.skip(f"golden capture not available at {GOLDEN_ORDER}")
    frames = [json.loads(line) for line in GOLDEN_ORDER.read_text().splitlines() if line.strip()]
    frames = [f for f in frames if f["port_role"] == "broker"]
    sent: dict[tuple[int, int], tuple[bytes, RemotingCommand]] = {}
    pairs: list[tuple[bytes, RemotingCommand, RemotingCommand]] = []
    for f in sorted(frames, key=lambda f: f["seq"]):
        raw = bytes.fromhex(f["frame_hex"])
        cmd = decode(raw)
        if f["direction"] == "client->server" and cmd.code in (RequestCode.LOCK_BATCH_MQ, RequestCode.UNLOCK_BATCH_MQ):
            sent[(f["conn"], cmd.opaque)] = (raw, cmd)
        elif f["direction"] == "server->client" and cmd.is_response and (f["conn"], cmd.opaque) in sent:
            pairs.append((*sent.pop((f["conn"], cmd.opaque)), cmd))
    assert [r.code for _, r, _ in pairs] == [41] * 6 + [42]

    async def main() -> None:
        async with LocalBroker() as broker:
            host, port = broker.broker_addrs["broker-a"].rsplit(":", 1)
            conn = Conn(*await asyncio.open_connection(host, int(port)))
            for raw, request, theirs in pairs:
                conn.writer.write(raw)
                ours = await conn.response(request.opaque)
                assert (ours.code, ours.ext_fields, ours.remark) == (theirs.code, theirs.ext_fields, theirs.remark)
                if request.code == RequestCode.LOCK_BATCH_MQ:
                    assert set(LockBatchResponseBody.from_json(ours.body).lock_ok_mq_set) == set(
                        LockBatchResponseBody.from_json(theirs.body).lock_ok_mq_set
                    )
                else:
                    assert ours.body == theirs.body == b""
            assert broker.lock_holder("GOLDEN_ORDER_CG", "GoldenOrder13498", 0) is None  # unlocked at the end
            conn.writer.close()

    run(main(), timeout=30)


def test_the_ordered_and_namespaced_sessions_get_the_real_brokers_shape_of_answer() -> None:
    """``java-broker-4.9.8-tx-order-ns.jsonl`` without its transactions
    (connections 2 and 12, the transactional producer and its consumer,
    belong to the transaction work): the orderly producer and consumer
    (sends to chosen queues, LOCK_BATCH_MQ before consuming, pulls in queue
    order, UNLOCK_BATCH_MQ at shutdown) and the namespaced producer and
    consumer (``goldenns%...`` groups and topics, ``%RETRY%goldenns%...``)."""
    if not GOLDEN_ORDER.is_file():
        pytest.skip(f"golden capture not available at {GOLDEN_ORDER}")
    frames = [json.loads(line) for line in GOLDEN_ORDER.read_text().splitlines() if line.strip()]
    frames = sorted((f for f in frames if f["port_role"] == "broker" and f["conn"] not in (2, 12)), key=lambda f: f["seq"])

    async def main() -> None:
        async with LocalBroker(delay_scale=0.001) as broker:
            done = await replay(broker, frames)
            await asyncio.sleep(0.3)
            for conn, opaque, where in done.held:
                assert opaque not in conn.responses, f"{where} was answered; the real broker held it"
            assert done.raced == ["seq 173 (code 11)", "seq 174 (code 11)"]  # found what they asked for here
            assert done.checked[RequestCode.PULL_MESSAGE] == 5  # four FOUND, one SUBSCRIPTION_NOT_LATEST
            assert done.held and broker.held_pulls() == len(done.held)
            assert done.checked[RequestCode.LOCK_BATCH_MQ] == 6 and done.checked[RequestCode.UNLOCK_BATCH_MQ] == 1
            assert broker.consumer_offsets("GOLDEN_ORDER_CG", "GoldenOrder13498") == {0: 3, 1: 3, 2: 0, 3: 0}
            assert broker.consumer_offsets("goldenns%GOLDEN_NS_CG", "goldenns%GoldenNs13498")
            assert broker.lock_holder("GOLDEN_ORDER_CG", "GoldenOrder13498", 0) is None
            await close_all(broker, done)

    run(main(), timeout=60)
