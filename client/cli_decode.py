"""``rmqwire decode``: frames read record by record, for people.

An input is hex (an argument, or a text file of hex digits, whitespace and
newlines allowed), a raw capture (frames back to back, each with its 4-byte
length), or a msgpack trace (:mod:`rmqwire.codec.trace`: the golden corpus,
or what ``--record`` writes).  Records are numbered from 1 in input order.
One that does not decode is reported with its number, error class and
message, and decoding goes on with the next one wherever the framing still
says where that begins: a frame's length field, the trace's next map.  Only
a broken length field or a trace that no longer unpacks ends an input early,
and that is reported as a bad record too.

:func:`describe` is also what ``rmqwire demo`` prints for each frame.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

import msgpack

from .codec.command import RemotingCommand, decode
from .codec.enums import RequestCode, ResponseCode
from .codec.errors import CodecError, FrameError, MalformedBodyError, TruncatedFrameError
from .codec.message import decode_properties
from .codec.trace import TRACE_FORMAT, TRACE_VERSION, TraceRecord

__all__ = ["CliError", "DecodeTally", "describe", "decode_input"]


class CliError(Exception):
    """A failure the command line reports as one ``rmqwire: ...`` line."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------- rendering

_V2_NAMES = {
    "a": "producerGroup", "b": "topic", "c": "defaultTopic", "d": "defaultTopicQueueNums", "e": "queueId",
    "f": "sysFlag", "g": "bornTimestamp", "h": "flag", "i": "properties", "j": "reconsumeTimes",
    "k": "unitMode", "l": "maxReconsumeTimes", "m": "batch", "n": "brokerName",
}
_SEND_CODES = {RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE}


def _code_name(cmd: RemotingCommand) -> str:
    try:
        return ResponseCode(cmd.code).name if cmd.is_response else RequestCode(cmd.code).name
    except ValueError:
        return f"code {cmd.code}"


def describe(cmd: RemotingCommand, indent: str = "    ") -> str:
    """A readable multi-line rendering of one command."""
    kind = "response" if cmd.is_response else ("oneway request" if cmd.is_oneway else "request")
    lines = [
        f"{_code_name(cmd)} ({cmd.code}) {kind}, opaque {cmd.opaque}, flag {cmd.flag}, "
        f"{cmd.serialize_type.name} header, {cmd.language.name} v{cmd.version}"
    ]
    if cmd.remark:
        lines.append(f"{indent}remark: {cmd.remark}")
    for key, value in cmd.ext_fields.items():
        label = f"{key} ({_V2_NAMES[key]})" if cmd.code in _SEND_CODES and key in _V2_NAMES else key
        if key in ("i", "properties") and ("\x01" in value):
            try:
                value = ", ".join(f"{k}={v}" for k, v in decode_properties(value).items())
            except CodecError:
                pass  # shown as sent
        lines.append(f"{indent}{label}: {value}")
    if cmd.body:
        preview = cmd.body[:96]
        printable = all(b >= 0x20 or b in b"\t\n\r" for b in preview)
        text = preview.decode("utf-8", "replace") if printable else preview.hex()
        more = f" ... ({len(cmd.body)} bytes)" if len(cmd.body) > len(preview) else f" ({len(cmd.body)} bytes)"
        lines.append(f"{indent}body: {text}{more}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class _Record:
    """One numbered record of an input: its frame, or why there is none."""

    number: int
    label: str
    wire: bytes | None = None
    #: the error class a trace record declares decoding must raise
    declared_error: str | None = None
    #: (error class, message) when the record could not even be cut out
    problem: tuple[str, str] | None = None
    #: where a raw record starts in the input
    offset: int | None = None


@dataclass
class DecodeTally:
    """What one input gave: how many records, and the numbers of the bad ones."""

    name: str
    records: int = 0
    bad: list[int] = field(default_factory=list)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_WHITESPACE = frozenset(" \t\r\n")


def _unhex(text: str, where: str) -> bytes:
    digits = "".join(text.split())
    if len(digits) % 2:
        raise CliError(f"{where}: hex with an odd number of digits ({len(digits)})")
    return binascii.unhexlify(digits)


def _looks_hex(text: str) -> bool:
    return bool(text.strip()) and all(c in _HEX_DIGITS or c in _WHITESPACE for c in text)


def _read(arg: str, stdin: BinaryIO | None) -> tuple[bytes, str]:
    """The input's bytes, and how to name it in messages."""
    if arg == "-":
        if stdin is None:
            raise CliError("decode: no standard input to read")
        return stdin.read(), "standard input"
    if os.path.isdir(arg):
        raise CliError(f"decode: {arg} is a directory; give a capture file, a msgpack trace, or hex")
    if os.path.exists(arg):
        try:
            with open(arg, "rb") as fh:
                return fh.read(), arg
        except OSError as exc:
            raise CliError(f"decode: cannot read {arg}: {exc.strerror or exc}") from None
    if _looks_hex(arg):
        return _unhex(arg, "decode: the argument"), "the argument"
    shown = arg if len(arg) <= 200 else arg[:197] + "..."
    raise CliError(f"decode: {shown}: no such file or directory, and not hex either")


def _is_trace(data: bytes) -> bool:
    # A trace starts with its header map {"format": "rmqwire-trace", ...}.
    return bool(data) and 0x81 <= data[0] <= 0x8F and TRACE_FORMAT.encode() in data[:40]


def _raw_records(data: bytes) -> Iterator[_Record]:
    """Frames back to back: each one's 4-byte length says where the next begins."""
    pos, number, size = 0, 0, len(data)
    while pos < size:
        number += 1
        where = f"#{number} (at byte {pos})"
        if size - pos < 4:
            yield _Record(number, where, problem=(
                TruncatedFrameError.__name__, f"{size - pos} bytes left, too few for a frame's 4-byte length"))
            return
        length = int.from_bytes(data[pos:pos + 4], "big", signed=True)
        if length < 0:
            yield _Record(number, where, problem=(
                FrameError.__name__, f"negative frame length {length}; the rest of the input cannot be framed"))
            return
        end = pos + 4 + length
        if end > size:
            yield _Record(number, where, problem=(
                TruncatedFrameError.__name__,
                f"the length field says {length} bytes follow, only {size - pos - 4} do"))
            return
        yield _Record(number, f"#{number}", wire=data[pos:end], offset=pos)
        pos = end


def _trace_records(data: bytes, name: str) -> Iterator[_Record]:
    """The records of a msgpack trace; a record that does not validate is
    reported and the next map is read."""
    unpacker = msgpack.Unpacker(raw=False, use_list=True, strict_map_key=True, max_buffer_size=max(len(data), 1024))
    unpacker.feed(data)
    items: Iterator[Any] = iter(unpacker)
    try:
        header = next(items, None)
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        raise CliError(f"decode: {name}: the trace header does not unpack: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != TRACE_FORMAT:
        raise CliError(f"decode: {name}: not an {TRACE_FORMAT} stream")
    if header.get("version") != TRACE_VERSION:
        raise CliError(f"decode: {name}: unsupported trace version {header.get('version')!r} (this is {TRACE_VERSION})")
    end = unpacker.tell()  # exact only after a whole object
    number = 0
    while True:
        try:
            item = next(items, None)
        except (msgpack.UnpackException, ValueError, TypeError) as exc:
            yield _Record(number + 1, f"#{number + 1}", problem=(
                MalformedBodyError.__name__, f"the trace does not unpack from byte {end} on: {exc}"))
            return
        if item is None:
            break
        number += 1
        end = unpacker.tell()
        try:
            record = TraceRecord.from_map(item)
        except MalformedBodyError as exc:
            yield _Record(number, f"#{number}", problem=(type(exc).__name__, str(exc)))
            continue
        label = f"#{number} {record.direction} {record.role}"
        if record.seq != number:
            label += f" (seq {record.seq})"
        yield _Record(number, label, wire=record.wire, declared_error=record.error)
    if end != len(data):
        yield _Record(number + 1, f"#{number + 1}", problem=(
            MalformedBodyError.__name__, f"trace truncated: {len(data) - end} bytes after the last whole record"))


def decode_input(arg: str, out: TextIO, stdin: BinaryIO | None = None) -> DecodeTally:
    """Print every record of one input to ``out``; bad ones are reported
    there in turn.  Raises :class:`CliError` for an input that cannot be read
    at all (a missing file, a directory, text that is not hex, no records)."""
    data, name = _read(arg, stdin)
    if not data:
        raise CliError(f"decode: {name} is empty")
    if _is_trace(data):
        records = _trace_records(data, name)
    else:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if _looks_hex(text):
            data = _unhex(text, f"decode: {name}")
        records = _raw_records(data)
    tally = DecodeTally(name)
    for rec in records:
        tally.records += 1
        if rec.problem is not None:
            tally.bad.append(rec.number)
            print(f"{rec.label}: bad record: {rec.problem[0]}: {rec.problem[1]}", file=out)
            continue
        assert rec.wire is not None
        try:
            cmd = decode(rec.wire)
        except CodecError as exc:
            if type(exc).__name__ == rec.declared_error:
                print(f"{rec.label}: does not decode, as the record declares: {type(exc).__name__}: {exc}", file=out)
            else:
                tally.bad.append(rec.number)
                where = f" at byte {rec.offset}" if rec.offset is not None else ""
                print(f"{rec.label}: bad record ({len(rec.wire)} bytes{where}): {type(exc).__name__}: {exc}", file=out)
            continue
        if rec.declared_error is not None:
            tally.bad.append(rec.number)
            print(f"{rec.label}: bad record: decodes, but the record declares {rec.declared_error}: "
                  f"{describe(cmd)}", file=out)
            continue
        print(f"{rec.label}: {describe(cmd)}", file=out)
    return tally
