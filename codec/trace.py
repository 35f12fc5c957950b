"""The record layout of golden vectors and recorded traces (msgpack).

A *trace* is a msgpack stream: one header map ``{"format": "rmqwire-trace",
"version": 1}`` followed by one map per frame.  The same layout serves the
committed golden corpus (``specs/golden/*.msgpack``, written by
``specs/build_corpus.py``) and the client's frame recorder, so that a
recorded conversation can be replayed by the golden tests unchanged.

Every record carries the whole frame as sent (``wire``), where it came from
(``provenance``: captured from which real client, or derived from which Java
source) and what decoding it must give: either ``expect``, the decoded
fields as plain msgpack values (see :func:`expect_from_command`), or
``error``, the name of the :class:`~codec.errors.CodecError` subclass that
:func:`codec.decode` raises for it.  This mirrors the language-neutral http2jp
vectors hyperframe tests against: wire bytes, decoded fields, expected error.

Pure, like the rest of :mod:`codec`: bytes in, bytes out, no file I/O.
Malformed trace data raises :class:`~codec.errors.MalformedBodyError`, never
a msgpack exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack

from .command import RemotingCommand
from .enums import LanguageCode, SerializeType
from .errors import EncodeError, MalformedBodyError

__all__ = [
    "TRACE_FORMAT",
    "TRACE_VERSION",
    "DIRECTIONS",
    "ROLES",
    "EXPECT_KEYS",
    "TraceRecord",
    "pack_records",
    "unpack_records",
    "expect_from_command",
    "command_from_expect",
]

#: The ``format`` value of a trace's header map.
TRACE_FORMAT: Final = "rmqwire-trace"
#: The layout version this module writes and reads.
TRACE_VERSION: Final = 1

#: Allowed ``direction`` values.
DIRECTIONS: Final = ("client->server", "server->client")
#: Allowed ``role`` values: which kind of server the connection goes to.
ROLES: Final = ("namesrv", "broker")

#: The keys of an ``expect`` map, in the order they are written.
EXPECT_KEYS: Final = (
    "code",
    "language",
    "version",
    "opaque",
    "flag",
    "remark",
    "ext_fields",
    "body",
    "serialize_type",
)

_INT_KEYS = ("code", "version", "opaque", "flag")
_UNKNOWN_LANGUAGE = re.compile(r"UNKNOWN_(\d{1,3})")


def _check_expect(expect: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``expect`` is a complete decoded-fields map."""
    if set(expect) != set(EXPECT_KEYS):
        missing = sorted(set(EXPECT_KEYS) - set(expect))
        extra = sorted(map(str, set(expect) - set(EXPECT_KEYS)))
        raise ValueError(f"expect: missing keys {missing}, unknown keys {extra}")
    for key in _INT_KEYS:
        if type(expect[key]) is not int:
            raise ValueError(f"expect: {key} must be an int, not {expect[key]!r}")
    if type(expect["language"]) is not str or not expect["language"]:
        raise ValueError(f"expect: language must be a name, not {expect['language']!r}")
    if expect["remark"] is not None and type(expect["remark"]) is not str:
        raise ValueError(f"expect: remark must be a str or None, not {expect['remark']!r}")
    ext = expect["ext_fields"]
    if type(ext) is not dict or any(type(k) is not str or type(v) is not str for k, v in ext.items()):
        raise ValueError("expect: ext_fields must map str to str")
    if type(expect["body"]) is not bytes:
        raise ValueError("expect: body must be bytes")
    if expect["serialize_type"] not in SerializeType.__members__:
        raise ValueError(f"expect: unknown serialize_type {expect['serialize_type']!r}")


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One frame of a golden corpus or a recorded conversation.

    ``seq``
        Position in the conversation (or in the corpus file), from 1.
    ``direction``
        ``"client->server"`` or ``"server->client"``.
    ``role``
        ``"namesrv"`` or ``"broker"``: the kind of server on the connection.
    ``wire``
        The whole frame, 4-byte total length included, exactly as sent.
    ``provenance``
        Where the frame comes from; ``provenance["source"]`` starts with
        ``"captured: "`` (a real client or server sent it), ``"derived: "``
        (written from the Java sources, no real peer sent it) or
        ``"recorded: "`` (rmqwire's own frame recorder).
    ``expect``
        The decoded fields (:func:`expect_from_command`), or ``None`` for an
        error case.
    ``error``
        For an error case, the name of the :class:`~codec.errors.CodecError`
        subclass :func:`codec.decode` raises for ``wire``; else ``None``.
    ``stream_error``
        For an error case, the class name :meth:`codec.FrameDecoder.feed`
        (default limits) raises when given ``wire`` whole, or ``None`` when it
        raises nothing (it waits for the rest of a truncated frame, or takes
        bytes after a frame for the start of the next one).
    ``canonical``
        ``True`` when ``wire`` is byte for byte what :func:`codec.encode`
        writes for ``expect`` (vectors in rmqwire's own output form); real
        clients' frames are usually not.
    ``name``, ``in_reply_to``, ``driver_input``, ``note``
        A short case id; the ``seq`` of the request a reply answers; what the
        program driving a real client asked it to send; free text.
    """

    seq: int
    direction: str
    role: str
    wire: bytes
    provenance: dict[str, Any]
    expect: dict[str, Any] | None = None
    error: str | None = None
    stream_error: str | None = None
    canonical: bool = False
    name: str = ""
    in_reply_to: int | None = None
    driver_input: dict[str, Any] | None = None
    note: str | None = None
    _extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.seq) is not int:
            raise ValueError(f"seq must be an int, not {self.seq!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {self.direction!r}")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {self.role!r}")
        if type(self.wire) is not bytes:
            # bytes(int) would allocate that many zero bytes: bytes-like only
            if not isinstance(self.wire, (bytearray, memoryview)):
                raise ValueError(f"wire must be bytes, not {type(self.wire).__name__}")
            object.__setattr__(self, "wire", bytes(self.wire))
        if type(self.provenance) is not dict or type(self.provenance.get("source")) is not str:
            raise ValueError("provenance must be a dict with a str 'source'")
        if (self.expect is None) == (self.error is None):
            raise ValueError("a record has exactly one of expect and error")
        if self.expect is not None:
            if type(self.expect) is not dict:
                raise ValueError("expect must be a dict")
            _check_expect(self.expect)
            if self.stream_error is not None:
                raise ValueError("stream_error belongs to error cases only")
        if self.error is not None and (type(self.error) is not str or not self.error):
            raise ValueError(f"error must be a class name, not {self.error!r}")
        if self.stream_error is not None and type(self.stream_error) is not str:
            raise ValueError(f"stream_error must be a class name or None, not {self.stream_error!r}")
        if type(self.canonical) is not bool:
            raise ValueError("canonical must be a bool")
        if type(self.name) is not str:
            raise ValueError("name must be a str")
        if self.in_reply_to is not None and type(self.in_reply_to) is not int:
            raise ValueError("in_reply_to must be an int or None")
        if self.driver_input is not None and type(self.driver_input) is not dict:
            raise ValueError("driver_input must be a dict or None")
        if self.note is not None and type(self.note) is not str:
            raise ValueError("note must be a str or None")

    @property
    def is_error(self) -> bool:
        """Whether decoding ``wire`` must fail."""
        return self.error is not None

    @property
    def captured(self) -> bool:
        """Whether a real peer sent ``wire`` (as opposed to a derived vector)."""
        return str(self.provenance["source"]).startswith("captured")

    def to_map(self) -> dict[str, Any]:
        """The msgpack map for this record (optional keys only when set)."""
        out: dict[str, Any] = {
            "seq": self.seq,
            "name": self.name,
            "direction": self.direction,
            "role": self.role,
            "wire": self.wire,
            "provenance": self.provenance,
        }
        if self.expect is not None:
            out["expect"] = {key: self.expect[key] for key in EXPECT_KEYS}
        else:
            out["error"] = self.error
            out["stream_error"] = self.stream_error
        if self.canonical:
            out["canonical"] = True
        if self.in_reply_to is not None:
            out["in_reply_to"] = self.in_reply_to
        if self.driver_input is not None:
            out["driver_input"] = self.driver_input
        if self.note is not None:
            out["note"] = self.note
        out.update(self._extra)
        return out

    @classmethod
    def from_map(cls, value: Mapping[str, Any]) -> TraceRecord:
        """The record for one unpacked map; unknown keys are kept for
        re-packing. Raises :class:`~codec.errors.MalformedBodyError`."""
        if not isinstance(value, Mapping):
            raise MalformedBodyError(f"trace record must be a map, not {type(value).__name__}")
        known = {name for name in cls.__dataclass_fields__ if not name.startswith("_")}
        for required in ("seq", "direction", "role", "wire", "provenance"):
            if required not in value:
                raise MalformedBodyError(f"trace record lacks {required!r}")
        kwargs = {key: value[key] for key in known if key in value}
        extra = {key: item for key, item in value.items() if key not in known}
        try:
            return cls(**kwargs, _extra=extra)
        except (ValueError, TypeError) as exc:
            raise MalformedBodyError(f"bad trace record {value.get('seq')!r}: {exc}") from None


def pack_records(records: Iterable[TraceRecord]) -> bytes:
    """The trace bytes for ``records``: the header map, then one map each.

    Deterministic: the same records always give the same bytes (maps keep
    insertion order; ``bytes`` stay msgpack ``bin``).  Raises
    :class:`~codec.errors.EncodeError` for text that is not UTF-8 encodable (a
    lone surrogate, which a JSON ``\\ud800`` escape can decode to).
    """
    packer = msgpack.Packer(use_bin_type=True)
    parts = [packer.pack({"format": TRACE_FORMAT, "version": TRACE_VERSION})]
    for record in records:
        if not isinstance(record, TraceRecord):
            raise TypeError(f"pack_records() takes TraceRecords, not {type(record).__name__}")
        try:
            parts.append(packer.pack(record.to_map()))
        except UnicodeEncodeError as exc:
            raise EncodeError(f"trace record {record.seq}: text is not UTF-8 encodable ({exc.reason})") from None
    return b"".join(parts)


def unpack_records(data: bytes | bytearray | memoryview) -> Iterator[TraceRecord]:
    """The records of a trace, streaming.

    Raises :class:`~codec.errors.MalformedBodyError` (possibly after yielding
    some records) if ``data`` is not a whole trace of this format and version.
    """
    raw = bytes(data)
    unpacker = msgpack.Unpacker(
        raw=False,
        use_list=True,
        strict_map_key=True,
        max_buffer_size=max(len(raw), 1024),
    )
    unpacker.feed(raw)
    items = iter(unpacker)
    try:
        header = next(items, None)
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        raise MalformedBodyError(f"trace header does not unpack: {exc!r}") from None
    if header is None:
        raise MalformedBodyError("not a trace: no whole header map" + (" (truncated)" if raw else ""))
    if not isinstance(header, dict) or header.get("format") != TRACE_FORMAT:
        raise MalformedBodyError(f"not an {TRACE_FORMAT} stream: header {header!r:.80}")
    if header.get("version") != TRACE_VERSION:
        raise MalformedBodyError(f"unsupported trace version {header.get('version')!r}")
    # tell() is exact only after a whole object: remember where the last ended
    end = unpacker.tell()
    while True:
        try:
            item = next(items, None)
        except (msgpack.UnpackException, ValueError, TypeError) as exc:
            raise MalformedBodyError(f"trace record does not unpack: {exc!r}") from None
        if item is None:
            break
        end = unpacker.tell()
        yield TraceRecord.from_map(item)
    if end != len(raw):
        raise MalformedBodyError(f"trace truncated: {len(raw) - end} bytes after the last whole record")


def expect_from_command(cmd: RemotingCommand) -> dict[str, Any]:
    """The ``expect`` map of a decoded command: plain msgpack values, the
    language and serialize type by name, ``ext_fields`` in wire order."""
    return {
        "code": int(cmd.code),
        "language": cmd.language.name,
        "version": int(cmd.version),
        "opaque": int(cmd.opaque),
        "flag": int(cmd.flag),
        "remark": cmd.remark,
        "ext_fields": dict(cmd.ext_fields),
        "body": bytes(cmd.body),
        "serialize_type": cmd.serialize_type.name,
    }


def command_from_expect(expect: Mapping[str, Any]) -> RemotingCommand:
    """The :class:`RemotingCommand` an ``expect`` map describes (the inverse
    of :func:`expect_from_command`).  ``UNKNOWN_<n>`` language names come back
    as the unknown byte ``n``; other unknown names as JSON keeps them."""
    try:
        _check_expect(expect)
    except ValueError as exc:
        raise MalformedBodyError(str(exc)) from None
    name = expect["language"]
    match = _UNKNOWN_LANGUAGE.fullmatch(name)
    if name in LanguageCode.__members__:
        language = LanguageCode[name]
    elif match is not None and int(match[1]) <= 255:
        language = LanguageCode(int(match[1]))
    else:
        language = LanguageCode.from_name(name)
    return RemotingCommand(
        code=expect["code"],
        language=language,
        version=expect["version"],
        opaque=expect["opaque"],
        flag=expect["flag"],
        remark=expect["remark"],
        ext_fields=dict(expect["ext_fields"]),
        body=expect["body"],
        serialize_type=SerializeType[expect["serialize_type"]],
    )
