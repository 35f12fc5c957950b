"""Where a consumer keeps the next offset to consume of each queue.

Mirrors Java's ``OffsetStore`` family (consumer-protocol.md section 6):

* :class:`RemoteBrokerOffsetStore` (clustering): a memory table, read from
  the broker with QUERY_CONSUMER_OFFSET when a queue is taken, written back
  with oneway UPDATE_CONSUMER_OFFSET every 5 s, when a queue is given up
  and at shutdown.  The broker is reached through a small injected
  interface (:class:`OffsetBrokerApi`), so the store is tested without one.
* :class:`LocalFileOffsetStore` (broadcasting): every client keeps its own
  offsets in ``<dir>/<clientId>/<group>/offsets.json``, ``dir`` defaulting to
  Java's ``~/.rocketmq_offsets``, in the same (fastjson) format Java writes,
  replaced atomically with the previous content kept as ``offsets.json.bak``.

``read_offset`` answers -1 for "no offset" and -2 for "could not ask", as
Java does; the rebalance tells the two apart (a -2 queue is skipped).
"""

from __future__ import annotations

import enum
import json
import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import Protocol

from ..codec.errors import BrokerError, OffsetStoreError, RocketMQError
from ..types import MessageQueue

__all__ = [
    "ReadOffsetType",
    "OffsetStore",
    "OffsetBrokerApi",
    "RemoteBrokerOffsetStore",
    "LocalFileOffsetStore",
    "default_offset_dir",
    "encode_offset_table",
    "decode_offset_table",
]

log = logging.getLogger(__name__)


class ReadOffsetType(enum.Enum):
    """Java ``ReadOffsetType``."""

    READ_FROM_MEMORY = "READ_FROM_MEMORY"
    READ_FROM_STORE = "READ_FROM_STORE"
    MEMORY_FIRST_THEN_STORE = "MEMORY_FIRST_THEN_STORE"


class OffsetStore(Protocol):
    """What the consumers need of an offset store (Java ``OffsetStore``)."""

    def load(self) -> None:
        """Read what was persisted (a no-op for the broker store)."""
        ...

    def update_offset(self, mq: MessageQueue, offset: int, increase_only: bool) -> None:
        """Set the in-memory offset of ``mq``; with ``increase_only`` never lower it."""
        ...

    async def read_offset(self, mq: MessageQueue, read_type: ReadOffsetType) -> int:
        """The offset of ``mq``: >= 0, -1 when there is none, -2 on a failure to ask."""
        ...

    async def persist_all(self, mqs: Collection[MessageQueue]) -> None:
        """Write the offsets of ``mqs`` to where they are kept."""
        ...

    async def persist(self, mq: MessageQueue) -> None:
        """Write the offset of ``mq`` to where it is kept."""
        ...

    def remove_offset(self, mq: MessageQueue) -> None:
        """Forget ``mq``'s in-memory offset."""
        ...

    def clone_offset_table(self, topic: str | None = None) -> dict[MessageQueue, int]:
        """A copy of the memory table (of one topic, or all)."""
        ...


def _update(table: dict[MessageQueue, int], mq: MessageQueue, offset: int, increase_only: bool) -> None:
    old = table.get(mq)
    if old is None or not increase_only or offset > old:
        table[mq] = offset


def _clone(table: dict[MessageQueue, int], topic: str | None) -> dict[MessageQueue, int]:
    return {mq: off for mq, off in table.items() if topic is None or mq.topic == topic}


class OffsetBrokerApi(Protocol):
    """The two broker calls :class:`RemoteBrokerOffsetStore` makes."""

    async def query_consumer_offset(self, mq: MessageQueue, group: str) -> int:
        """QUERY_CONSUMER_OFFSET; raises :class:`BrokerError` for an error code."""
        ...

    async def update_consumer_offset(self, mq: MessageQueue, group: str, offset: int, *, oneway: bool) -> None:
        """UPDATE_CONSUMER_OFFSET (oneway, or waiting for the answer)."""
        ...


class RemoteBrokerOffsetStore:
    """Clustering offsets, kept by the broker (Java ``RemoteBrokerOffsetStore``)."""

    def __init__(self, api: OffsetBrokerApi, group: str) -> None:
        self.api = api
        self.group = group
        self._table: dict[MessageQueue, int] = {}

    def load(self) -> None:
        """Nothing to load: the broker has the offsets."""

    def update_offset(self, mq: MessageQueue, offset: int, increase_only: bool) -> None:
        _update(self._table, mq, offset, increase_only)

    async def read_offset(self, mq: MessageQueue, read_type: ReadOffsetType) -> int:
        if read_type is not ReadOffsetType.READ_FROM_STORE:
            offset = self._table.get(mq)
            if offset is not None:
                return offset
            if read_type is ReadOffsetType.READ_FROM_MEMORY:
                return -1
        try:
            offset = await self.api.query_consumer_offset(mq, self.group)
        except BrokerError as exc:
            log.debug("no committed offset of %s for %s: %s", mq, self.group, exc)
            return -1
        except RocketMQError as exc:
            log.warning("cannot read the offset of %s for %s: %s", mq, self.group, exc)
            return -2
        self.update_offset(mq, offset, False)
        return offset

    async def persist_all(self, mqs: Collection[MessageQueue]) -> None:
        """Oneway UPDATE_CONSUMER_OFFSET for each of ``mqs`` in the table;
        queues in the table but not in ``mqs`` are dropped from it."""
        if not mqs:
            return
        wanted = set(mqs)
        unused = []
        for mq, offset in list(self._table.items()):
            if mq in wanted:
                try:
                    await self.api.update_consumer_offset(mq, self.group, offset, oneway=True)
                except RocketMQError as exc:
                    log.warning("persisting the offset %d of %s failed: %s", offset, mq, exc)
            else:
                unused.append(mq)
        for mq in unused:
            self._table.pop(mq, None)

    async def persist(self, mq: MessageQueue) -> None:
        offset = self._table.get(mq)
        if offset is None:
            return
        try:
            await self.api.update_consumer_offset(mq, self.group, offset, oneway=True)
        except RocketMQError as exc:
            log.warning("persisting the offset %d of %s failed: %s", offset, mq, exc)

    async def update_consume_offset_to_broker(self, mq: MessageQueue, offset: int, oneway: bool = True) -> None:
        """Send ``offset`` of ``mq`` now (the lite pull consumer's commit)."""
        await self.api.update_consumer_offset(mq, self.group, offset, oneway=oneway)

    def remove_offset(self, mq: MessageQueue) -> None:
        self._table.pop(mq, None)

    def clone_offset_table(self, topic: str | None = None) -> dict[MessageQueue, int]:
        return _clone(self._table, topic)


# --------------------------------------------------------------------------- local file


def default_offset_dir() -> Path:
    """``rocketmq.client.localOffsetStoreDir``'s default: ``~/.rocketmq_offsets``
    (the environment variable ``ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR`` overrides it)."""
    configured = os.environ.get("ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR")
    return Path(configured) if configured else Path.home() / ".rocketmq_offsets"


def encode_offset_table(table: dict[MessageQueue, int]) -> str:
    """The ``OffsetSerializeWrapper`` JSON fastjson writes: the map keys are
    MessageQueue objects (not strings), so the text is not standard JSON."""
    entries = []
    for mq, offset in sorted(table.items()):
        key = (
            f'{{"brokerName":{json.dumps(mq.broker_name, ensure_ascii=False)},'
            f'"queueId":{int(mq.queue_id)},"topic":{json.dumps(mq.topic, ensure_ascii=False)}}}'
        )
        entries.append(f"{key}:{int(offset)}")
    return '{"offsetTable":{' + ",".join(entries) + "}}"


def decode_offset_table(text: str) -> dict[MessageQueue, int]:
    """Read what :func:`encode_offset_table` (or Java's pretty printer) wrote."""
    decoder = json.JSONDecoder()
    pos = 0

    def skip(at: int) -> int:
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        return at

    def expect(at: int, char: str) -> int:
        at = skip(at)
        if at >= len(text) or text[at] != char:
            raise OffsetStoreError(f"offset file: expected {char!r} at position {at}")
        return at + 1

    try:
        pos = expect(pos, "{")
        pos = skip(pos)
        table: dict[MessageQueue, int] = {}
        if pos < len(text) and text[pos] == "}":
            return table
        name, pos = decoder.raw_decode(text, pos)
        if name != "offsetTable":
            raise OffsetStoreError(f"offset file: expected the key 'offsetTable', found {name!r}")
        pos = expect(pos, ":")
        pos = expect(pos, "{")
        pos = skip(pos)
        if text[pos] == "}":
            return table
        while True:
            key, pos = decoder.raw_decode(text, skip(pos))
            pos = expect(pos, ":")
            offset, pos = decoder.raw_decode(text, skip(pos))
            if not isinstance(key, dict) or not isinstance(offset, int) or isinstance(offset, bool):
                raise OffsetStoreError("offset file: an entry is not {queue}:offset")
            topic, broker, qid = key.get("topic"), key.get("brokerName"), key.get("queueId")
            if not isinstance(topic, str) or not isinstance(broker, str) or not isinstance(qid, int):
                raise OffsetStoreError(f"offset file: bad message queue {key!r}")
            table[MessageQueue(topic, broker, qid)] = offset
            pos = skip(pos)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            pos = expect(pos, "}")
            break
    except (ValueError, IndexError) as exc:  # json.JSONDecodeError is a ValueError
        raise OffsetStoreError(f"offset file does not parse: {exc}") from None
    return table


class LocalFileOffsetStore:
    """Broadcasting offsets in a local file (Java ``LocalFileOffsetStore``)."""

    def __init__(self, client_id: str, group: str, directory: str | os.PathLike[str] | None = None) -> None:
        base = Path(directory) if directory is not None else default_offset_dir()
        self.group = group
        self.path = base / client_id / group / "offsets.json"
        self._table: dict[MessageQueue, int] = {}

    def _read_file(self) -> dict[MessageQueue, int] | None:
        """The file's table, falling back to ``.bak`` when the file is missing,
        empty or unreadable (``readLocalOffset``); None when neither exists."""
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            text = ""
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("cannot read %s: %s; trying the backup", self.path, exc)
            text = ""
        if text.strip():
            try:
                return decode_offset_table(text)
            except OffsetStoreError as exc:
                log.warning("%s: %s; trying the backup", self.path, exc)
        bak = self.path.with_name(self.path.name + ".bak")
        try:
            text = bak.read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise OffsetStoreError(f"cannot read {bak}: {exc}") from None
        if not text.strip():
            return None
        return decode_offset_table(text)

    def _write_file(self, table: dict[MessageQueue, int]) -> None:
        """``MixAll.string2File``: write a temporary file, keep the old content
        as ``.bak``, then rename the temporary file over the old one."""
        text = encode_offset_table(table)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            try:
                previous = self.path.read_bytes()
            except FileNotFoundError:
                previous = None
            if previous:
                bak = self.path.with_name(self.path.name + ".bak")
                bak_tmp = bak.with_name(bak.name + ".tmp")
                bak_tmp.write_bytes(previous)
                os.replace(bak_tmp, bak)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise OffsetStoreError(f"cannot write {self.path}: {exc}") from None

    def load(self) -> None:
        """Take the persisted offsets into memory; raises
        :class:`OffsetStoreError` when neither the file nor its backup parses."""
        table = self._read_file()
        if table:
            self._table.update(table)

    def update_offset(self, mq: MessageQueue, offset: int, increase_only: bool) -> None:
        _update(self._table, mq, offset, increase_only)

    async def read_offset(self, mq: MessageQueue, read_type: ReadOffsetType) -> int:
        if read_type is not ReadOffsetType.READ_FROM_STORE:
            offset = self._table.get(mq)
            if offset is not None:
                return offset
            if read_type is ReadOffsetType.READ_FROM_MEMORY:
                return -1
        try:
            table = self._read_file()
        except OffsetStoreError as exc:
            log.warning("%s", exc)
            return -1
        if table is not None and mq in table:
            self._table[mq] = table[mq]
            return table[mq]
        return -1

    def _persist(self, mqs: Collection[MessageQueue]) -> None:
        try:
            table = self._read_file() or {}
        except OffsetStoreError as exc:
            log.warning("not persisting offsets: %s", exc)
            return
        for mq in mqs:
            if mq in self._table:
                table[mq] = self._table[mq]
        try:
            self._write_file(table)
        except OffsetStoreError as exc:
            log.warning("%s", exc)

    async def persist_all(self, mqs: Collection[MessageQueue]) -> None:
        if mqs:
            self._persist(mqs)

    async def persist(self, mq: MessageQueue) -> None:
        if mq in self._table:
            self._persist((mq,))

    async def update_consume_offset_to_broker(self, mq: MessageQueue, offset: int, oneway: bool = True) -> None:
        """Broadcasting offsets never go to a broker."""

    def remove_offset(self, mq: MessageQueue) -> None:
        self._table.pop(mq, None)

    def clone_offset_table(self, topic: str | None = None) -> dict[MessageQueue, int]:
        return _clone(self._table, topic)
