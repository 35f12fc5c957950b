"""The ``SEND_BATCH_MESSAGE`` body: records back to back, one per message.

Mirrors ``MessageDecoder.encodeMessages`` / ``encodeMessage`` (``protocol.md``
6.4).  The record is declared once, in ``construct`` (:data:`BATCH_RECORD`);
:func:`encode_batch` and :func:`decode_batch` run its compiled form.
Part of :mod:`codec.message`, which re-exports every public name here.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from construct import Default, GreedyBytes, Int16sb, Int32sb

from .constructs import Record, Sized
from .errors import EncodeError, MalformedBodyError
from .codecs import compile_buffer
from .properties import MAX_PROPERTIES_SIZE, _bytes_like, decode_properties, encode_properties

__all__ = [
    "BATCH_RECORD",
    "BATCH_RECORD_FIXED_SIZE",
    "BatchEntry",
    "encode_batch",
    "encode_batch_record",
    "decode_batch",
]


#: ``MessageDecoder.encodeMessage``: one message of a ``SEND_BATCH_MESSAGE``
#: body (``protocol.md`` 6.4).  TOTALSIZE counts the whole record, its own
#: four bytes included, and is also the record's ``total_size``.
#: ``properties`` is the raw UTF-8 properties string.  Every length must
#: fill its range exactly.
BATCH_RECORD = Sized(
    Int32sb,
    Record(
        "magic_code" / Default(Int32sb, 0),
        "body_crc" / Default(Int32sb, 0),
        "flag" / Int32sb,
        "body" / Sized(Int32sb, GreedyBytes, MalformedBodyError, "BODYLEN"),
        "properties" / Sized(Int16sb, GreedyBytes, MalformedBodyError, "PROPLEN"),
        error=MalformedBodyError,
    ),
    MalformedBodyError,
    "TOTALSIZE",
    inclusive=True,
    length_name="total_size",
)

#: TOTALSIZE of a record with an empty body and no properties.
BATCH_RECORD_FIXED_SIZE: Final = 22

_BATCH_CODEC = compile_buffer(BATCH_RECORD)
_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One message of a batch: its body, its own properties, its ``Message.flag``."""

    body: bytes
    properties: dict[str, str] = field(hash=False)
    flag: int = 0


def encode_batch(entries: Sequence[BatchEntry]) -> bytes:
    """``MessageDecoder.encodeMessages``: the body of a ``SEND_BATCH_MESSAGE``.

    Each entry's properties are written with the trailing ``\\x02``.  Raises
    :class:`EncodeError` for a flag outside int32, a body over 2 GiB or
    properties over 32767 UTF-8 bytes.
    """
    parts: list[bytes] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, BatchEntry):
            raise TypeError(f"batch entry {index} must be a BatchEntry, not {type(entry).__name__}")
        body = _bytes_like(entry.body, f"batch entry {index} body")
        parts.append(encode_batch_record(body, encode_properties(entry.properties), entry.flag, index=index))
    return b"".join(parts)


def encode_batch_record(body: bytes, properties: str, flag: int = 0, *, index: int = 0) -> bytes:
    """One record of :func:`encode_batch`, its properties already encoded
    (as :func:`encode_properties` makes them).

    For a producer that builds the properties text itself (a cached prefix
    plus the UNIQ_KEY): the same bytes and errors as ``encode_batch`` for
    entry number ``index``, without a :class:`BatchEntry` and a properties
    dict per message.
    """
    body = _bytes_like(body, f"batch entry {index} body")
    try:
        props = properties.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"properties are not encodable as UTF-8 ({exc.reason})") from None
    if len(props) > MAX_PROPERTIES_SIZE:
        raise EncodeError(f"batch entry {index}: properties are {len(props)} bytes, over {MAX_PROPERTIES_SIZE}")
    if not isinstance(flag, int) or not -(2**31) <= flag < 2**31:
        raise EncodeError(f"batch entry {index}: flag must be a 32-bit integer, not {flag!r}")
    if BATCH_RECORD_FIXED_SIZE + len(body) + len(props) > 2**31 - 1:
        raise EncodeError(f"batch entry {index}: record of {len(body)} body bytes does not fit TOTALSIZE")
    return _BATCH_CODEC.build_bytes({"flag": flag, "body": body, "properties": props})


def _explain_record(data: bytes, start: int, total: int) -> str:
    body_length = _I32.unpack_from(data, start + 16)[0]
    if body_length < 0 or body_length > total - BATCH_RECORD_FIXED_SIZE:
        return f"BODYLEN {body_length} does not fit TOTALSIZE {total}"
    props_length = _I16.unpack_from(data, start + 20 + body_length)[0]
    return f"TOTALSIZE {total} != 22 + BODYLEN {body_length} + PROPLEN {props_length}"


def decode_batch(body: bytes) -> list[BatchEntry]:
    """The messages of a ``SEND_BATCH_MESSAGE`` body, walked by TOTALSIZE as the
    broker does.  Raises :class:`MalformedBodyError` on a truncated record,
    a TOTALSIZE under 22 or past the end, lengths that do not add up to
    TOTALSIZE, or properties that are not UTF-8.  MAGICCODE and BODYCRC are
    read and ignored, as the broker ignores them.
    """
    data = _bytes_like(body, "batch body")
    end = len(data)
    parse = _BATCH_CODEC.parse_at
    entries: list[BatchEntry] = []
    pos = 0
    while pos < end:
        index = len(entries)
        if end - pos < 4:
            raise MalformedBodyError(f"batch record {index} at byte {pos}: {end - pos} bytes left, TOTALSIZE needs 4")
        total = _I32.unpack_from(data, pos)[0]
        if total < BATCH_RECORD_FIXED_SIZE:
            raise MalformedBodyError(f"batch record {index} at byte {pos}: TOTALSIZE {total} is under 22")
        if total > end - pos:
            raise MalformedBodyError(
                f"batch record {index} at byte {pos}: TOTALSIZE {total} exceeds the {end - pos} bytes left"
            )
        try:
            record, _ = parse(data, pos, pos + total)
        except MalformedBodyError:
            raise MalformedBodyError(
                f"batch record {index} at byte {pos}: {_explain_record(data, pos, total)}"
            ) from None
        try:
            text = record["properties"].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBodyError(f"batch record {index} at byte {pos}: properties are not UTF-8 ({exc.reason})") from None
        entries.append(BatchEntry(record["body"], decode_properties(text), record["flag"]))
        pos += total
    return entries
