"""Offset stores: the broker's (clustering) and the local file (broadcasting)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rmqwire.codec.errors import BrokerError, ConnectError, OffsetStoreError
from rmqwire.consumer.offset_store import (
    LocalFileOffsetStore,
    ReadOffsetType,
    RemoteBrokerOffsetStore,
    decode_offset_table,
    encode_offset_table,
)
from rmqwire import MessageQueue

Q0 = MessageQueue("T", "broker-a", 0)
Q1 = MessageQueue("T", "broker-a", 1)
R0 = MessageQueue("%RETRY%g", "broker-a", 0)


class FakeBroker:
    def __init__(self) -> None:
        self.committed: dict[MessageQueue, int] = {}
        self.updates: list[tuple[MessageQueue, int, bool]] = []
        self.fail: Exception | None = None

    async def query_consumer_offset(self, mq: MessageQueue, group: str) -> int:
        if self.fail is not None:
            raise self.fail
        if mq not in self.committed:
            raise BrokerError(22, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
        return self.committed[mq]

    async def update_consumer_offset(self, mq: MessageQueue, group: str, offset: int, *, oneway: bool) -> None:
        self.updates.append((mq, offset, oneway))
        self.committed[mq] = offset


def test_remote_read_answers_offset_or_minus_one_or_minus_two() -> None:
    async def main() -> None:
        broker = FakeBroker()
        store = RemoteBrokerOffsetStore(broker, "g")
        broker.committed[Q0] = 7
        assert await store.read_offset(Q0, ReadOffsetType.READ_FROM_STORE) == 7
        assert await store.read_offset(Q0, ReadOffsetType.READ_FROM_MEMORY) == 7  # taken into memory
        assert await store.read_offset(Q1, ReadOffsetType.READ_FROM_STORE) == -1  # code 22: no offset
        assert await store.read_offset(Q1, ReadOffsetType.READ_FROM_MEMORY) == -1
        broker.fail = ConnectError("127.0.0.1:1")
        assert await store.read_offset(Q1, ReadOffsetType.READ_FROM_STORE) == -2  # could not ask
        assert await store.read_offset(Q0, ReadOffsetType.MEMORY_FIRST_THEN_STORE) == 7

    asyncio.run(main())


def test_remote_increase_only_never_lowers() -> None:
    store = RemoteBrokerOffsetStore(FakeBroker(), "g")
    store.update_offset(Q0, 10, True)
    store.update_offset(Q0, 5, True)
    assert store.clone_offset_table() == {Q0: 10}
    store.update_offset(Q0, 5, False)
    assert store.clone_offset_table("T") == {Q0: 5}
    assert store.clone_offset_table("other") == {}


def test_remote_persist_all_is_oneway_and_drops_queues_no_longer_owned() -> None:
    async def main() -> None:
        broker = FakeBroker()
        store = RemoteBrokerOffsetStore(broker, "g")
        store.update_offset(Q0, 3, False)
        store.update_offset(Q1, 4, False)
        await store.persist_all({Q0})
        assert broker.updates == [(Q0, 3, True)]
        assert store.clone_offset_table() == {Q0: 3}
        await store.persist(Q0)
        store.remove_offset(Q0)
        await store.persist(Q0)  # nothing in memory: nothing sent
        assert broker.updates == [(Q0, 3, True), (Q0, 3, True)]

    asyncio.run(main())


def test_offset_file_format_is_fastjsons() -> None:
    text = encode_offset_table({Q1: 4, Q0: 3})
    assert text == (
        '{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:3,'
        '{"brokerName":"broker-a","queueId":1,"topic":"T"}:4}}'
    )
    # what Java's pretty printer writes reads back too
    java = '{\n\t"offsetTable":{{\n\t\t\t"brokerName":"broker-a",\n\t\t\t"queueId":0,\n\t\t\t"topic":"T"\n\t\t}:3\n\t}\n}'
    assert decode_offset_table(java) == {Q0: 3}
    assert decode_offset_table('{"offsetTable":{}}') == {}
    assert decode_offset_table(encode_offset_table({MessageQueue('中"文', "b", 2): 9})) == {MessageQueue('中"文', "b", 2): 9}


@pytest.mark.parametrize("bad", ["", "[]", '{"offsetTable":{{"topic":1}:2}}', '{"offsetTable":{', '{"x":{}}', "{"])
def test_a_bad_offset_file_is_an_offset_store_error(bad: str) -> None:
    with pytest.raises(OffsetStoreError):
        decode_offset_table(bad)


def test_local_store_persists_under_client_id_and_group_with_a_backup(tmp_path: Path) -> None:
    async def main() -> None:
        store = LocalFileOffsetStore("10.0.0.1@pid", "g", tmp_path)
        assert store.path == tmp_path / "10.0.0.1@pid" / "g" / "offsets.json"
        store.load()  # nothing yet
        store.update_offset(Q0, 3, False)
        store.update_offset(R0, 1, False)
        await store.persist_all({Q0, R0})
        assert decode_offset_table(store.path.read_text()) == {Q0: 3, R0: 1}
        store.update_offset(Q0, 8, True)
        await store.persist(Q0)
        bak = store.path.with_name("offsets.json.bak")
        assert decode_offset_table(bak.read_text()) == {Q0: 3, R0: 1}
        assert decode_offset_table(store.path.read_text()) == {Q0: 8, R0: 1}

        again = LocalFileOffsetStore("10.0.0.1@pid", "g", tmp_path)
        again.load()
        assert again.clone_offset_table() == {Q0: 8, R0: 1}
        assert await again.read_offset(Q1, ReadOffsetType.READ_FROM_STORE) == -1

        # a torn main file: the backup answers
        store.path.write_text('{"offsetTable":{{"bro')
        third = LocalFileOffsetStore("10.0.0.1@pid", "g", tmp_path)
        assert await third.read_offset(Q0, ReadOffsetType.READ_FROM_STORE) == 3

    asyncio.run(main())


def test_local_store_load_raises_when_file_and_backup_are_bad(tmp_path: Path) -> None:
    store = LocalFileOffsetStore("c", "g", tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("garbage")
    store.path.with_name("offsets.json.bak").write_text("garbage")
    with pytest.raises(OffsetStoreError):
        store.load()
