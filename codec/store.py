"""The broker's stored-message record: the body of a PULL_MESSAGE answer.

Mirrors ``MessageDecoder.decode`` / ``decodes`` / ``encode`` and
``CommitLog.calMsgLength`` (``consumer-protocol.md`` section 5): a pull
body is records back to back, each the commit-log format::

    int32  TOTALSIZE (the whole record, these 4 bytes included)
    int32  MAGICCODE (0xDAA320A7; 5.x's V2 0xDAA320AB has a 2-byte topic length)
    int32  BODYCRC, QUEUEID, FLAG
    int64  QUEUEOFFSET, PHYSICALOFFSET
    int32  SYSFLAG
    int64  BORNTIMESTAMP
    ...    BORNHOST (4 + 4 bytes, or 16 + 4 with sysFlag BORNHOST_V6_FLAG)
    int64  STORETIMESTAMP
    ...    STOREHOST (4 + 4, or 16 + 4 with STOREHOSTADDRESS_V6_FLAG)
    int32  RECONSUMETIMES
    int64  PREPAREDTRANSACTIONOFFSET
    int32  BODYLEN, BODY
    int8   TOPICLEN, TOPIC (int16 with the V2 magic)
    int16  PROPERTIESLEN, PROPERTIES (``name\\x01value\\x02...``)

The record is declared once (:data:`STORED_MESSAGE`) and compiled by the
codec's generator.  Java reads the fields in sequence and stops at the first
record that fails; here every record must fill its TOTALSIZE exactly, and a
truncated or garbled one raises :class:`~codec.errors.MalformedBodyError`
naming the record and its byte offset.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from construct import GreedyBytes, Int8sb, Int16sb, Int32sb, Int64sb, Switch, this

from .command import _fast_constructor
from .constructs import HostPort, Leaf, Record, Records, Reject, Sized, Utf8Text
from .codecs import compile_bound, compile_buffer
from .errors import CodecError, EncodeError, MalformedBodyError
from .message import (
    MAX_PROPERTIES_SIZE,
    PROPERTY_DELAY_TIME_LEVEL,
    PROPERTY_KEYS,
    PROPERTY_TAGS,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    RESERVED_PROPERTY_NAMES,
    MessageSysFlag,
    create_offset_msg_id,
    decode_properties,
    decompress_body,
    encode_properties,
)

__all__ = [
    "MESSAGE_MAGIC_CODE",
    "MESSAGE_MAGIC_CODE_V2",
    "STORED_MESSAGE",
    "PULL_BODY",
    "MessageExt",
    "decode_messages",
    "decode_message",
    "encode_message",
    "message_record_length",
    "body_crc",
]

#: ``MessageDecoder.MESSAGE_MAGIC_CODE`` (0xDAA320A7), the only one 4.9.x writes.
MESSAGE_MAGIC_CODE: Final = -626843481
#: ``MESSAGE_MAGIC_CODE_V2`` (5.x, 0xDAA320AB): the topic length is an int16.
MESSAGE_MAGIC_CODE_V2: Final = -626843477

_BORN_V6: Final = int(MessageSysFlag.BORNHOST_V6_FLAG)
_STORE_V6: Final = int(MessageSysFlag.STOREHOSTADDRESS_V6_FLAG)
_COMPRESSED: Final = int(MessageSysFlag.COMPRESSED_FLAG)


def _unknown_magic(value: int) -> MalformedBodyError:
    return MalformedBodyError(f"unknown MAGICCODE {value & 0xFFFFFFFF:#010x}")


class Properties(Leaf):
    """The properties string (``messageProperties2String``) as a dict; builds
    from a dict (no trailing separator, as the 4.9.x store writes) or from
    the string itself."""

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[dict[str, str], int]:
        if pos == end:
            return {}, end
        try:
            text = data[pos:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBodyError(f"properties: invalid UTF-8 ({exc.reason})") from None
        return decode_properties(text), end

    def inline_parse(self, var: str, start: str, end: str) -> list[str]:
        # decode_properties, inline: the split is most of a record's time
        return [
            f"{var} = {{}}",
            f"if {start} < {end}:",
            f"    for c_ in data[{start}:{end}].decode().split('\\x02'):",
            "        if len(c_) >= 3:",
            "            k_, s_, w_ = c_.partition('\\x01')",
            f"            if s_ and k_ and w_: {var}[k_] = w_",
        ]

    def build_bytes(self, obj: str | Mapping[str, str], this: Any) -> bytes:
        text = obj if type(obj) is str else encode_properties(obj, trailing_separator=False)  # type: ignore[arg-type]
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EncodeError(f"properties: not encodable as UTF-8 ({exc.reason})") from None


class Inflated(Leaf):
    """A stored body with COMPRESSED_FLAG, read as the body it inflates to
    (``decompress_body`` by the record's ``sys_flag``); built as given (a
    stored body is already compressed)."""

    needs = ("sys_flag",)

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[bytes, int]:
        return decompress_body(data[pos:end], this["sys_flag"]), end

    def build_bytes(self, obj: bytes, this: Any) -> bytes:
        return _bytes_of(obj)

    @staticmethod
    def fast_parse(data: bytes, pos: int, end: int, *needed: Any) -> tuple[bytes, int]:
        return decompress_body(data[pos:end], needed[0]), end


def _bytes_of(data: Any) -> bytes:
    if type(data) is bytes:
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"a pull body must be bytes, not {type(data).__name__}")


def _text(what: str) -> Utf8Text:
    return Utf8Text(MalformedBodyError, what)


def _host(flag: int, what: str) -> Switch:
    # the family is a sysFlag bit: its value when set, 0 when not
    return Switch(
        this.sys_flag & flag,
        {0: HostPort(False, MalformedBodyError, what)},
        default=HostPort(True, MalformedBodyError, what),
    )


def _stored_message(inflate: bool) -> Sized:
    """``MessageDecoder.decode`` / ``encode``: one stored-message record;
    with ``inflate`` a compressed body reads as what it inflates to."""
    body = Sized(Int32sb, GreedyBytes, MalformedBodyError, "BODY")
    if inflate:
        body = Switch(
            this.sys_flag & _COMPRESSED, {0: body}, default=Sized(Int32sb, Inflated(), MalformedBodyError, "BODY")
        )
    return Sized(
        Int32sb,
        Record(
            "magic_code" / Int32sb,
            "body_crc" / Int32sb,
            "queue_id" / Int32sb,
            "flag" / Int32sb,
            "queue_offset" / Int64sb,
            "commit_log_offset" / Int64sb,
            "sys_flag" / Int32sb,
            "born_timestamp" / Int64sb,
            "born_host" / _host(_BORN_V6, "BORNHOST"),
            "store_timestamp" / Int64sb,
            "store_host" / _host(_STORE_V6, "STOREHOST"),
            "reconsume_times" / Int32sb,
            "prepared_transaction_offset" / Int64sb,
            "body" / body,
            "topic"
            / Switch(
                this.magic_code,
                {
                    MESSAGE_MAGIC_CODE: Sized(Int8sb, _text("TOPIC"), MalformedBodyError, "TOPIC"),
                    MESSAGE_MAGIC_CODE_V2: Sized(Int16sb, _text("TOPIC"), MalformedBodyError, "TOPIC"),
                },
                default=Reject(this.magic_code, _unknown_magic),
            ),
            "properties" / Sized(Int16sb, Properties(), MalformedBodyError, "PROPERTIES"),
            error=MalformedBodyError,
        ),
        MalformedBodyError,
        "TOTALSIZE",
        inclusive=True,
        length_name="store_size",
    )


#: One stored-message record, the body as stored.  TOTALSIZE counts the
#: whole record, its own four bytes included, and is also its ``store_size``.
STORED_MESSAGE = _stored_message(inflate=False)

# CommitLog.calMsgLength with IPv4 hosts, less body, topic and properties:
# 4 total + 4 magic + 4 body CRC + 4 queue id + 4 flag + 8 queue offset
# + 8 physical offset + 4 sysFlag + 8 born time + 8 born host + 8 store time
# + 8 store host + 4 reconsume times + 8 prepared offset + 4 body length
# + 1 topic length + 2 properties length.
_FIXED_IPV4: Final = 91
_V6_EXTRA: Final = 12  # a 16-byte address instead of 4


def message_record_length(sys_flag: int, body_size: int, topic_size: int, properties_size: int) -> int:
    """``CommitLog.calMsgLength``: the bytes of one stored-message record
    (TOTALSIZE) with a body, topic and properties of these sizes in bytes."""
    extra = (_V6_EXTRA if sys_flag & _BORN_V6 else 0) + (_V6_EXTRA if sys_flag & _STORE_V6 else 0)
    return _FIXED_IPV4 + extra + body_size + topic_size + properties_size


def body_crc(body: bytes) -> int:
    """``UtilAll.crc32``: the CRC-32 of the stored body, top bit cleared."""
    return zlib.crc32(body) & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class MessageExt:
    """One message as a pull delivers it (Java ``MessageExt`` /
    ``MessageClientExt``).

    ``body`` is decompressed when ``sys_flag`` has COMPRESSED_FLAG (unless
    :func:`decode_messages` was told not to); ``body_crc`` is the record's
    (the CRC of the body as stored).  Hosts are ``"ip:port"``
    (``"[ip6]:port"`` for IPv6).  ``broker_name`` is the broker the pull was
    sent to (the record does not carry it).
    """

    topic: str
    body: bytes
    queue_id: int
    queue_offset: int
    commit_log_offset: int
    sys_flag: int
    born_timestamp: int
    born_host: str
    store_timestamp: int
    store_host: str
    reconsume_times: int
    prepared_transaction_offset: int
    flag: int
    body_crc: int
    store_size: int
    properties: dict[str, str] = field(hash=False, compare=True)
    broker_name: str = ""

    @property
    def tags(self) -> str | None:
        """The ``TAGS`` property."""
        return self.properties.get(PROPERTY_TAGS)

    @property
    def keys(self) -> str | None:
        """The ``KEYS`` property (several keys joined by a space)."""
        return self.properties.get(PROPERTY_KEYS)

    @property
    def offset_msg_id(self) -> str:
        """``MessageDecoder.createMessageId``: store host and commit-log offset."""
        host, _, port = self.store_host.rpartition(":")
        return create_offset_msg_id(host.strip("[]"), int(port), self.commit_log_offset)

    @property
    def msg_id(self) -> str:
        """``MessageClientExt.getMsgId``: the ``UNIQ_KEY`` property when
        present, else :attr:`offset_msg_id`."""
        uniq = self.properties.get(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        return uniq if uniq else self.offset_msg_id

    @property
    def delay_level(self) -> int:
        """The ``DELAY`` property as a number (0 when absent or not a number)."""
        value = self.properties.get(PROPERTY_DELAY_TIME_LEVEL)
        try:
            return int(value) if value is not None else 0
        except ValueError:
            return 0

    @property
    def user_properties(self) -> dict[str, str]:
        """The properties whose names the system does not own."""
        return {k: v for k, v in self.properties.items() if k not in RESERVED_PROPERTY_NAMES}

    def get_property(self, name: str, default: str | None = None) -> str | None:
        """A property's value, or ``default``."""
        return self.properties.get(name, default)

    def replace(self, **changes: Any) -> MessageExt:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def with_topic(self, topic: str) -> MessageExt:
        """A copy on another topic (a retry message shown under its real topic)."""
        return dataclasses.replace(self, topic=topic)


#: The record compiled to MessageExt values (decode) and from dicts (encode).
_FIELDS = [f.name for f in dataclasses.fields(MessageExt) if f.name != "broker_name"]
_NEW_MESSAGE = _fast_constructor(MessageExt, {"broker_name": ""})
#: A whole pull body: the records back to back, one generated loop.
PULL_BODY = Records(STORED_MESSAGE)
#: ... with compressed bodies inflated.
PULL_BODY_INFLATED = Records(_stored_message(inflate=True))
#: (whole body, one record) parsers, without and with inflating
_PARSERS = {
    inflate: (
        compile_bound(body, _NEW_MESSAGE, _FIELDS).parse_at,
        compile_bound(body.subcon, _NEW_MESSAGE, _FIELDS).parse_at,
    )
    for inflate, body in ((False, PULL_BODY), (True, PULL_BODY_INFLATED))
}
_build_record = compile_buffer(STORED_MESSAGE).build_bytes
_set_broker_name = vars(MessageExt)["broker_name"].__set__


def decode_message(data: bytes, pos: int = 0, *, decompress: bool = True, broker_name: str = "") -> tuple[MessageExt, int]:
    """The record at ``data[pos:]`` and where the next one starts.  Raises
    :class:`~codec.errors.MalformedBodyError` (see :func:`decode_messages`)."""
    data = _bytes_of(data)
    try:
        message, stop = _PARSERS[bool(decompress)][1](data, pos, len(data))
    except CodecError as exc:
        raise MalformedBodyError(f"stored message 0 at byte {pos}: {exc}") from None
    if broker_name:
        _set_broker_name(message, broker_name)
    return message, stop


def decode_messages(body: bytes, *, decompress: bool = True, broker_name: str = "") -> list[MessageExt]:
    """``MessageDecoder.decodes``: every record of a PULL_MESSAGE body, in order.

    Strict where Java gives up quietly: a record that is cut short, has a
    TOTALSIZE its fields do not fill exactly, a negative or overlong length,
    an unknown magic code, text that is not UTF-8 or a compressed body that
    does not inflate raises :class:`~codec.errors.MalformedBodyError` naming
    the record's index and byte offset.  No length is trusted before it is
    checked against the bytes at hand.
    """
    data = _bytes_of(body)
    parse_body, parse_one = _PARSERS[bool(decompress)]
    try:
        messages: list[MessageExt] = parse_body(data, 0, len(data))[0]
    except CodecError:
        return _locate_error(data, parse_one)
    if broker_name:
        for message in messages:
            _set_broker_name(message, broker_name)
    return messages


def _locate_error(data: bytes, parse_one: Any) -> list[MessageExt]:
    """Walk a body that does not parse record by record, and raise the
    first bad record's error with its index and byte offset."""
    pos, index, end = 0, 0, len(data)
    while pos < end:
        try:
            _, pos = parse_one(data, pos, end)
        except CodecError as exc:
            raise MalformedBodyError(f"stored message {index} at byte {pos}: {exc}") from None
        index += 1
    raise MalformedBodyError("pull body does not parse")  # pragma: no cover - a record above fails


def encode_message(
    *,
    topic: str,
    body: bytes,
    properties: str | Mapping[str, str],
    queue_id: int,
    queue_offset: int,
    commit_log_offset: int,
    sys_flag: int,
    born_timestamp: int,
    born_host: str,
    store_timestamp: int,
    store_host: str,
    reconsume_times: int = 0,
    prepared_transaction_offset: int = 0,
    flag: int = 0,
) -> bytes:
    """``MessageDecoder.encode``: one stored-message record (V1 magic).

    ``body`` is the body as stored: already compressed if ``sys_flag`` says
    so.  BODYCRC is computed (``UtilAll.crc32``).  Hosts are ``"ip:port"``
    (``"[ip6]:port"``), and their family must match the sysFlag bits.
    Raises :class:`~codec.errors.EncodeError` for values that do not fit.
    """
    body = _bytes_of(body)
    if type(topic) is not str:
        raise EncodeError(f"topic must be a str, not {type(topic).__name__}")
    topic_size = len(topic.encode("utf-8", "surrogatepass"))
    if topic_size > 127:
        raise EncodeError(f"topic is {topic_size} bytes, over 127")
    props = Properties().build_bytes(properties, None)
    if len(props) > MAX_PROPERTIES_SIZE:
        raise EncodeError(f"properties are {len(props)} bytes, over {MAX_PROPERTIES_SIZE}")
    if type(sys_flag) is not int:
        raise EncodeError(f"sys_flag must be an int, not {sys_flag!r}")
    total = message_record_length(sys_flag, len(body), topic_size, len(props))
    if total > 2**31 - 1:
        raise EncodeError(f"a record of {total} bytes does not fit TOTALSIZE")
    record = {
        "magic_code": MESSAGE_MAGIC_CODE,
        "body_crc": body_crc(body),
        "queue_id": queue_id,
        "flag": flag,
        "queue_offset": queue_offset,
        "commit_log_offset": commit_log_offset,
        "sys_flag": sys_flag,
        "born_timestamp": born_timestamp,
        "born_host": born_host,
        "store_timestamp": store_timestamp,
        "store_host": store_host,
        "reconsume_times": reconsume_times,
        "prepared_transaction_offset": prepared_transaction_offset,
        "body": body,
        "topic": topic,
        "properties": props.decode("utf-8"),
    }
    try:
        return _build_record(record, None)
    except struct.error as exc:
        raise EncodeError(f"stored message: {exc}") from None
