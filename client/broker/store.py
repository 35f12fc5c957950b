"""One broker's message store: a commit log position, one log per
(topic, queue id), and the lookups consumers need.

Mirrors ``DefaultMessageStore`` with its ``CommitLog`` and ``ConsumeQueue``s,
kept in memory: :meth:`MessageStore.append` (``putMessage``) gives each
message its queue offset and commit-log offset (advancing by the length of
the record Java would write, ``CommitLog.calMsgLength``), the store host and
timestamp, and its offset message id (``MessageDecoder.createMessageId``);
the reads are ``getMessage`` (:meth:`~MessageStore.read`),
``getMinOffsetInQueue`` / ``getMaxOffsetInQueue``, ``lookMessageByOffset``
and ``getOffsetInQueueByTime``.  A :class:`StoredMessage` keeps every field
of the stored-message record a PULL_MESSAGE answer carries
(``MessageDecoder.decode``), so a pull can be served from it.

:meth:`~MessageStore.get_message` is ``getMessage`` with its status
mapping (:class:`GetMessageStatus`): the offset checks, the scan of the
consume queue through a filter, and Java's batch limits for messages in
memory.  With ``max_delay_level`` the store rewrites a message carrying a
``DELAY`` level into ``SCHEDULE_TOPIC_XXXX`` queue ``level - 1`` with
``REAL_TOPIC`` / ``REAL_QID`` properties, as ``CommitLog.asyncPutMessage``
does; :mod:`.schedule` delivers it when due.

Retention (``max_queue_messages`` / ``max_queue_bytes`` per queue) drops the
oldest messages of a queue and moves its min offset, as Java's file
reservation does; queue offsets and the commit-log position never go back.

Theory of operation.  A queue is a list of its live messages plus a head
index: dropping the oldest advances the head (O(1)) and the list is
compacted when the head passes half of it, so both appends and reads by
offset stay O(1).  ``_by_commitlog`` is insertion-ordered (commit-log order,
which is store order) and holds each message with a sequence number shared
by every broker of the cluster, so the cluster can list all messages in
arrival order.  One lock guards the store: tests inspect it from another
thread.  Arrival listeners (long polling) run after the lock is released.
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ..codec.command import _fast_constructor
from ..codec.enums import LanguageCode, SerializeType
from ..codec.errors import CodecError
from ..codec.message import (
    PROPERTY_DELAY_TIME_LEVEL,
    PROPERTY_KEYS,
    PROPERTY_REAL_QUEUE_ID,
    PROPERTY_REAL_TOPIC,
    PROPERTY_TAGS,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    MessageSysFlag,
    create_offset_msg_id,
    decompress_body,
)
from ..codec.store import message_record_length

__all__ = [
    "StoredMessage",
    "MessageDraft",
    "MessageStore",
    "ArrivalListener",
    "MessageFilter",
    "GetMessageStatus",
    "GetMessageResult",
    "record_length",
    "properties_length",
    "SCHEDULE_TOPIC",
]

log = logging.getLogger(__name__)

_COMPRESSED: Final = int(MessageSysFlag.COMPRESSED_FLAG)
_BORN_V6: Final = int(MessageSysFlag.BORNHOST_V6_FLAG)
_STORE_V6: Final = int(MessageSysFlag.STOREHOSTADDRESS_V6_FLAG)
#: ``CommitLog.calMsgLength``: the bytes of one stored-message record.
record_length = message_record_length


def _is_ipv6(host_port: str) -> bool:
    return host_port.count(":") > 1


_TRANSACTION_MASK: Final = 0xC
_TRANSACTION_COMMIT: Final = int(MessageSysFlag.TRANSACTION_COMMIT_TYPE)

#: ``TopicValidator.RMQ_SYS_SCHEDULE_TOPIC``: where delayed messages wait.
SCHEDULE_TOPIC: Final = "SCHEDULE_TOPIC_XXXX"
# ConsumeQueue: 20 bytes an entry, 300000 entries a file (mappedFileSizeConsumeQueue);
# getMessage scans at most max(16000 bytes, maxMsgNums entries) of one file.
_CQ_FILE_ENTRIES: Final = 300_000
_MIN_SCAN_ENTRIES: Final = 16_000 // 20
# MessageStoreConfig: what one pull of messages in memory may carry.
MAX_TRANSFER_BYTES_IN_MEMORY: Final = 256 * 1024
MAX_TRANSFER_COUNT_IN_MEMORY: Final = 32


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as the broker stored it.

    The stored-message record's fields (what a PULL_MESSAGE body carries):
    ``topic``, ``queue_id``, ``queue_offset``, ``commitlog_offset`` (the
    physical offset), ``sys_flag``, ``flag``, ``born_timestamp`` /
    ``born_host``, ``store_timestamp`` / ``store_host`` (``"ip:port"``),
    ``reconsume_times``, ``prepared_transaction_offset``, ``body`` as sent
    (compressed if the producer compressed it) and ``properties`` (for a
    batch member, its own).  The rest is for inspection: ``payload`` is the
    body decompressed when ``sys_flag`` has the COMPRESSED bit (else the same
    bytes); ``offset_msg_id`` is what the SEND response's ``msgId`` carried;
    ``uniq_key`` / ``tags`` / ``keys`` / ``delay_level`` are read from the
    properties; and who sent it how (``producer_group``, ``request_code``,
    ``serialize_type``, ``language``, ``batch``).
    """

    topic: str
    queue_id: int
    queue_offset: int
    commitlog_offset: int
    offset_msg_id: str
    body: bytes
    payload: bytes
    properties: dict[str, str] = field(hash=False)
    sys_flag: int
    flag: int
    born_timestamp: int
    producer_group: str
    uniq_key: str | None
    tags: str | None
    keys: str | None
    delay_level: int
    broker_name: str
    request_code: int
    serialize_type: SerializeType
    language: LanguageCode
    batch: bool = False
    born_host: str = ""
    reconsume_times: int = 0
    store_timestamp: int = 0
    store_host: str = ""
    prepared_transaction_offset: int = 0
    #: ``calMsgLength``: how far this record moved the commit log.
    record_size: int = 0

    @property
    def text(self) -> str:
        """``payload`` as UTF-8 (replacing undecodable bytes)."""
        return self.payload.decode("utf-8", "replace")


@dataclass(slots=True)
class MessageDraft:
    """A message to store (``MessageExtBrokerInner`` before ``putMessage``):
    everything but what the store assigns (offsets, store host and time,
    message id).  ``properties_size`` is the length in bytes of the
    properties as the record will hold them (:func:`properties_length`;
    None: the store measures).
    Not frozen: like Java's ``MessageExtBrokerInner`` it is a message being
    built (a send-back copies a stored message and changes its topic), and
    the store never keeps it."""

    topic: str
    queue_id: int
    body: bytes
    properties: dict[str, str] = field(hash=False)
    flag: int = 0
    sys_flag: int = 0
    born_timestamp: int = 0
    born_host: str = ""
    reconsume_times: int = 0
    prepared_transaction_offset: int = 0
    properties_size: int | None = None
    producer_group: str = ""
    request_code: int = 0
    serialize_type: SerializeType = SerializeType.JSON
    language: LanguageCode = LanguageCode.JAVA
    batch: bool = False
    #: Whether a ``DELAY`` property sends it to the schedule topic (on a
    #: store with delay levels).  False for what the schedule service
    #: delivers: Java clears ``DELAY`` from the message after writing its
    #: properties string, so the stored record keeps it but it no longer counts.
    schedule: bool = True


# StoredMessage(...) positionally without the generated __init__'s
# object.__setattr__ per field: half the cost, the same instance.
_new_stored = _fast_constructor(StoredMessage)

#: ``listener(message)``, after ``message`` was stored (``MessageArrivingListener``).
ArrivalListener = Callable[[StoredMessage], None]
#: ``filter(message) -> bool``: ``MessageFilter.isMatchedByConsumeQueue``.
MessageFilter = Callable[[StoredMessage], bool]


class GetMessageStatus(enum.Enum):
    """``GetMessageStatus``: what ``getMessage`` found (the PULL answer's remark)."""

    FOUND = "FOUND"
    NO_MATCHED_MESSAGE = "NO_MATCHED_MESSAGE"
    MESSAGE_WAS_REMOVING = "MESSAGE_WAS_REMOVING"
    OFFSET_FOUND_NULL = "OFFSET_FOUND_NULL"
    OFFSET_OVERFLOW_BADLY = "OFFSET_OVERFLOW_BADLY"
    OFFSET_OVERFLOW_ONE = "OFFSET_OVERFLOW_ONE"
    OFFSET_TOO_SMALL = "OFFSET_TOO_SMALL"
    NO_MATCHED_LOGIC_QUEUE = "NO_MATCHED_LOGIC_QUEUE"
    NO_MESSAGE_IN_QUEUE = "NO_MESSAGE_IN_QUEUE"


@dataclass(frozen=True, slots=True)
class GetMessageResult:
    """``GetMessageResult``: the status, where the consumer reads next, the
    queue's bounds, and the messages (in queue order) with their record bytes."""

    status: GetMessageStatus
    next_begin_offset: int
    min_offset: int
    max_offset: int
    messages: tuple[StoredMessage, ...] = ()
    buffer_total_size: int = 0


class _Queue:
    """One consume queue: live messages ``items[head:]`` with offsets
    ``min_offset .. max_offset - 1``."""

    __slots__ = ("items", "head", "min_offset", "max_offset", "bytes")

    def __init__(self) -> None:
        self.items: list[StoredMessage | None] = []
        self.head = 0
        self.min_offset = 0
        self.max_offset = 0
        self.bytes = 0

    def __len__(self) -> int:
        return self.max_offset - self.min_offset

    def at(self, offset: int) -> StoredMessage:
        item = self.items[self.head + offset - self.min_offset]
        assert item is not None
        return item

    def pop_oldest(self) -> StoredMessage:
        item = self.items[self.head]
        assert item is not None
        self.items[self.head] = None
        self.head += 1
        self.min_offset += 1
        self.bytes -= item.record_size
        if self.head > 64 and self.head * 2 > len(self.items):
            del self.items[: self.head]
            self.head = 0
        return item


def _payload(body: bytes, sys_flag: int) -> bytes:
    try:
        return decompress_body(body, sys_flag)
    except CodecError as exc:
        log.debug("compressed body does not decompress (%s); keeping it as sent", exc)
        return body


def properties_length(props: Mapping[str, str]) -> int:
    """The UTF-8 length of ``props`` as the record holds them
    (``messageProperties2String`` of 4.9.1+: no trailing separator), which
    is what a pull body carries; the same as encoding them, faster."""
    total = -1 if props else 0
    for key, value in props.items():
        total += len(key) + len(value) + 2
        if not (key.isascii() and value.isascii()):
            total += len(key.encode("utf-8", "surrogatepass")) - len(key)
            total += len(value.encode("utf-8", "surrogatepass")) - len(value)
    return total


def _to_schedule(
    topic: str, queue_id: int, props: dict[str, str], sys_flag: int, max_delay: int
) -> tuple[str, int, dict[str, str]] | None:
    """``CommitLog.asyncPutMessage``'s delay rewrite: a plain or committed
    message with a delay level goes to the schedule topic's queue for its
    level (capped at the highest), its real topic and queue kept in
    properties.  None when it is not delayed."""
    level = _int_or_zero(props[PROPERTY_DELAY_TIME_LEVEL])
    if level <= 0 or (sys_flag & _TRANSACTION_MASK) not in (0, _TRANSACTION_COMMIT):
        return None
    props = dict(props)
    if level > max_delay:
        level = max_delay
        props[PROPERTY_DELAY_TIME_LEVEL] = str(level)
    props[PROPERTY_REAL_TOPIC] = topic
    props[PROPERTY_REAL_QUEUE_ID] = str(queue_id)
    return SCHEDULE_TOPIC, level - 1, props


def _int_or_zero(value: str | None) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


class MessageStore:
    """One broker's messages (thread-safe).

    ``store_host`` (``"ip:port"``, set when the broker listens) goes into
    every record and offset message id.  ``sequence`` is shared by the
    stores of one cluster to order messages across brokers.
    """

    def __init__(
        self,
        broker_name: str,
        *,
        store_host: str = "",
        max_queue_messages: int | None = None,
        max_queue_bytes: int | None = None,
        sequence: Iterator[int] | None = None,
        max_delay_level: int = 0,
    ) -> None:
        self.broker_name = broker_name
        #: The highest delay level (``ScheduleMessageService.maxDelayLevel``);
        #: 0 stores a ``DELAY`` message in its own topic at once.
        self.max_delay_level = max_delay_level
        self.max_queue_messages = max_queue_messages
        self.max_queue_bytes = max_queue_bytes
        self._lock = threading.Lock()
        self._queues: dict[tuple[str, int], _Queue] = {}
        self._by_commitlog: dict[int, tuple[int, StoredMessage]] = {}
        self._commitlog = 0
        self._sequence = sequence if sequence is not None else itertools.count()
        self._listeners: list[ArrivalListener] = []
        self._store_host = ""
        self._store_v6 = 0
        self._id_prefix = ""
        self.store_host = store_host

    # ------------------------------------------------------------------ configuration

    @property
    def store_host(self) -> str:
        return self._store_host

    @store_host.setter
    def store_host(self, host_port: str) -> None:
        self._store_host = host_port
        self._store_v6 = _STORE_V6 if _is_ipv6(host_port) else 0
        if host_port:
            host, _, port = host_port.rpartition(":")
            # every offset message id but its last 16 hex digits (the commit log offset)
            self._id_prefix = create_offset_msg_id(host.strip("[]"), int(port), 0)[:-16]

    def add_arrival_listener(self, listener: ArrivalListener) -> None:
        """Call ``listener(message)`` for every message stored from now on."""
        self._listeners.append(listener)

    def remove_arrival_listener(self, listener: ArrivalListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ------------------------------------------------------------------ writing

    def append(self, drafts: Sequence[MessageDraft], *, now_ms: int | None = None) -> list[StoredMessage]:
        """Store ``drafts`` in order (``putMessage`` / ``putMessages``): each
        gets the next offset of its queue and the commit log's position; a
        batch's members get contiguous offsets.  Returns the stored messages."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        store_host = self._store_host
        store_v6 = self._store_v6
        prefix = self._id_prefix
        broker_name = self.broker_name
        retain = self.max_queue_messages is not None or self.max_queue_bytes is not None
        max_delay = self.max_delay_level
        stored: list[StoredMessage] = []
        with self._lock:
            for draft in drafts:
                topic, queue_id, body, props = draft.topic, draft.queue_id, draft.body, draft.properties
                sys_flag = draft.sys_flag | store_v6 | (_BORN_V6 if _is_ipv6(draft.born_host) else 0)
                props_size = draft.properties_size
                if max_delay and draft.schedule and not draft.batch and PROPERTY_DELAY_TIME_LEVEL in props:
                    delayed = _to_schedule(topic, queue_id, props, sys_flag, max_delay)
                    if delayed is not None:
                        topic, queue_id, props = delayed
                        props_size = None
                if props_size is None:
                    props_size = properties_length(props)
                size = record_length(sys_flag, len(body), len(topic.encode()), props_size)
                key = (topic, queue_id)
                queue = self._queues.get(key)
                if queue is None:
                    queue = self._queues[key] = _Queue()
                commitlog = self._commitlog
                self._commitlog += size
                message = _new_stored(
                    topic,
                    queue_id,
                    queue.max_offset,
                    commitlog,
                    f"{prefix}{commitlog:016X}",
                    body,
                    _payload(body, sys_flag) if sys_flag & _COMPRESSED else body,
                    props,
                    sys_flag,
                    draft.flag,
                    draft.born_timestamp,
                    draft.producer_group,
                    props.get(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX),
                    props.get(PROPERTY_TAGS),
                    props.get(PROPERTY_KEYS),
                    _int_or_zero(props.get(PROPERTY_DELAY_TIME_LEVEL)),
                    broker_name,
                    draft.request_code,
                    draft.serialize_type,
                    draft.language,
                    draft.batch,
                    draft.born_host,
                    draft.reconsume_times,
                    now,
                    store_host,
                    draft.prepared_transaction_offset,
                    size,
                )
                queue.items.append(message)
                queue.max_offset += 1
                queue.bytes += size
                self._by_commitlog[commitlog] = (next(self._sequence), message)
                stored.append(message)
                if retain:
                    self._retain(queue)
        for listener in self._listeners:
            for message in stored:
                try:
                    listener(message)
                except Exception:  # a listener's bug must not fail the send
                    log.exception("%s: arrival listener failed", self.broker_name)
        return stored

    def _retain(self, queue: _Queue) -> None:
        most, most_bytes = self.max_queue_messages, self.max_queue_bytes
        while len(queue) > 1 and (
            (most is not None and len(queue) > most) or (most_bytes is not None and queue.bytes > most_bytes)
        ):
            del self._by_commitlog[queue.pop_oldest().commitlog_offset]

    def clear(self) -> None:
        """Drop every message; each queue's min offset moves up to its max,
        and offsets continue where they were (as after Java deletes files)."""
        with self._lock:
            for queue in self._queues.values():
                while len(queue):
                    queue.pop_oldest()
            self._by_commitlog.clear()

    # ------------------------------------------------------------------ reading

    def read(self, topic: str, queue_id: int, offset: int, max_count: int = 32) -> list[StoredMessage]:
        """``getMessage``: up to ``max_count`` messages of one queue from
        queue offset ``offset`` on (fewer at the end; none outside
        ``min_offset .. max_offset - 1``)."""
        with self._lock:
            queue = self._queues.get((topic, queue_id))
            if queue is None or max_count <= 0 or not queue.min_offset <= offset < queue.max_offset:
                return []
            start = queue.head + offset - queue.min_offset
            return [m for m in queue.items[start : start + max_count] if m is not None]

    def get_message(
        self,
        topic: str,
        queue_id: int,
        offset: int,
        max_count: int,
        message_filter: MessageFilter | None = None,
    ) -> GetMessageResult:
        """``DefaultMessageStore.getMessage`` on a master, every message in
        memory: the status and next offset for ``offset`` against the queue's
        bounds, else up to ``max_count`` messages from ``offset`` that pass
        ``message_filter`` (at most 32 and 256 KiB, Java's in-memory transfer
        limits; always at least one).  Messages the filter rejects are
        scanned past and count toward the next offset."""
        with self._lock:
            queue = self._queues.get((topic, queue_id))
            if queue is None:
                # Java's findConsumeQueue creates the queue: an empty one, not NO_MATCHED_LOGIC_QUEUE.
                return GetMessageResult(GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, 0, 0)
            low, high = queue.min_offset, queue.max_offset
            if high == 0:
                return GetMessageResult(GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, low, high)
            if offset < low:
                return GetMessageResult(GetMessageStatus.OFFSET_TOO_SMALL, low, low, high)
            if offset == high:
                return GetMessageResult(GetMessageStatus.OFFSET_OVERFLOW_ONE, offset, low, high)
            if offset > high:
                return GetMessageResult(GetMessageStatus.OFFSET_OVERFLOW_BADLY, high, low, high)
            # getIndexBuffer reads to the end of the consume-queue file holding offset
            scan = min(high - offset, _CQ_FILE_ENTRIES - offset % _CQ_FILE_ENTRIES, max(_MIN_SCAN_ENTRIES, max_count))
            start = queue.head + offset - low
            entries = queue.items[start : start + scan]
        status = GetMessageStatus.NO_MATCHED_MESSAGE
        found: list[StoredMessage] = []
        total = 0
        scanned = 0
        for message in entries:
            assert message is not None
            size = message.record_size
            if found and (
                len(found) >= max_count
                or total + size > MAX_TRANSFER_BYTES_IN_MEMORY
                or len(found) >= MAX_TRANSFER_COUNT_IN_MEMORY
            ):
                break  # isTheBatchFull
            scanned += 1
            if message_filter is not None and not message_filter(message):
                continue
            found.append(message)
            total += size
            status = GetMessageStatus.FOUND
        return GetMessageResult(status, offset + scanned, low, high, tuple(found), total)

    def min_offset(self, topic: str, queue_id: int) -> int:
        """``getMinOffsetInQueue``: the oldest offset still stored (0 for an unknown queue)."""
        queue = self._queues.get((topic, queue_id))
        return 0 if queue is None else queue.min_offset

    def max_offset(self, topic: str, queue_id: int) -> int:
        """``getMaxOffsetInQueue``: one past the newest offset (0 for an unknown queue)."""
        queue = self._queues.get((topic, queue_id))
        return 0 if queue is None else queue.max_offset

    def earliest_message_time(self, topic: str, queue_id: int) -> int:
        """``getEarliestMessageTime``: the store timestamp of the oldest
        message still stored, -1 for an empty queue."""
        with self._lock:
            queue = self._queues.get((topic, queue_id))
            if queue is None or not len(queue):
                return -1
            return queue.at(queue.min_offset).store_timestamp

    def queue_ids(self, topic: str) -> list[int]:
        """Queue ids of ``topic`` that ever stored a message, ascending."""
        with self._lock:
            return sorted(qid for t, qid in self._queues if t == topic)

    def look_message_by_offset(self, commitlog_offset: int) -> StoredMessage | None:
        """``lookMessageByOffset``: the message at a commit-log (physical)
        offset, or None if there is none (or it was dropped)."""
        entry = self._by_commitlog.get(commitlog_offset)
        return None if entry is None else entry[1]

    def offset_in_queue_by_time(self, topic: str, queue_id: int, timestamp: int) -> int:
        """``ConsumeQueue.getOffsetInQueueByTime``: the queue offset of a
        message stored at ``timestamp`` (ms), else of the nearer of its two
        neighbours in store time (the earlier one on a tie); the first
        message's offset when all are later, the last one's when all are
        earlier; 0 for an empty queue.  The same binary search as Java's, so
        equal store timestamps resolve to the same message."""
        with self._lock:
            queue = self._queues.get((topic, queue_id))
            if queue is None or not len(queue):
                return 0
            low, high = 0, len(queue) - 1
            left = right = target = -1
            left_time = right_time = -1
            while high >= low:
                mid = (low + high) // 2
                stored_at = queue.at(queue.min_offset + mid).store_timestamp
                if stored_at == timestamp:
                    target = mid
                    break
                if stored_at > timestamp:
                    high, right, right_time = mid - 1, mid, stored_at
                else:
                    low, left, left_time = mid + 1, mid, stored_at
            if target < 0:
                if left_time == -1:
                    target = right
                elif right_time == -1:
                    target = left
                else:
                    target = right if abs(timestamp - left_time) > abs(timestamp - right_time) else left
            return queue.min_offset + target

    @property
    def commitlog_offset(self) -> int:
        """Where the next record will start (``getMaxPhyOffset``)."""
        return self._commitlog

    def messages(self, topic: str | None = None) -> list[StoredMessage]:
        """Stored messages in store order, optionally of one topic."""
        with self._lock:
            return [m for _, m in self._by_commitlog.values() if topic is None or m.topic == topic]

    def sequenced(self) -> list[tuple[int, StoredMessage]]:
        """``(cluster-wide sequence, message)`` in store order, for merging
        the stores of several brokers in arrival order."""
        with self._lock:
            return list(self._by_commitlog.values())
